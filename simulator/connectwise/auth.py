"""Who is calling: API member keys or integrator logins, from ConnectWise's Basic auth and headers."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import unauthorized

if TYPE_CHECKING:
    from .backend import Backend

INTEGRATOR_LOGINS = "system/integratorlogins"
AUTH_CACHE_SIZE = 1024


@dataclass(frozen=True)
class ApiKey:
    """An API member's key pair; requests made with it are entered by `member_identifier`."""

    public_key: str
    private_key: str
    member_identifier: str


@dataclass(frozen=True)
class Principal:
    """The caller of a request, as permissions and `_info.enteredBy` see it."""

    kind: str  # "member" | "integrator" | "system"
    identifier: str
    login_id: int | None = None


SYSTEM = Principal("system", "cwsim")


def _credentials(authorization: str) -> tuple[str, str, str]:
    """`Basic base64(company+user:secret)` -> (company, user, secret)."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise unauthorized("Authorization must be HTTP Basic: base64 of 'companyId+publicKey:privateKey'.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise unauthorized("The Authorization header is not valid base64.") from error
    user_part, colon, secret = decoded.partition(":")
    company, plus, user = user_part.partition("+")
    if not colon or not plus or not company or not user:
        raise unauthorized("Basic credentials must look like 'companyId+publicKey:privateKey'.")
    return company, user, secret


def _same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def authenticate(headers: Mapping[str, str], backend: Backend) -> Principal:
    """The principal behind a request's headers, or a 401 CwError saying what is wrong.

    `headers` must look names up case-insensitively (werkzeug's and requests' do).
    """
    if not (headers.get("clientId") or "").strip():
        raise unauthorized("The clientId header is required (any non-empty value).")
    authorization = headers.get("Authorization")
    if not authorization:
        raise unauthorized("No Authorization header: use Basic 'companyId+publicKey:privateKey'.")
    integrator = (headers.get("x-cw-usertype") or "").strip().lower() == "integrator"
    # Credentials are checked once per distinct header and state of the login table.
    cache_key = (authorization, integrator, backend.store.table(INTEGRATOR_LOGINS).version)
    principal = backend.auth_cache.get(cache_key)
    if principal is None:
        principal = _check(authorization, integrator, backend)
        if len(backend.auth_cache) > AUTH_CACHE_SIZE:
            backend.auth_cache.clear()
        backend.auth_cache[cache_key] = principal
    return principal


def _check(authorization: str, integrator: bool, backend: Backend) -> Principal:
    company, user, secret = _credentials(authorization)
    settings = backend.settings
    if company.casefold() != settings.company_id.casefold():
        raise unauthorized(f'Unknown company "{company}".')
    if integrator:
        return _integrator(backend, user, secret)
    for key in settings.api_keys:
        if key.public_key == user and _same_secret(secret, key.private_key):
            return Principal("member", key.member_identifier)
    raise unauthorized("Unknown API key pair.")


def _integrator(backend: Backend, username: str, password: str) -> Principal:
    """Integrator logins authenticate case-insensitively on the username, as ConnectWise does."""
    table = backend.store.table(INTEGRATOR_LOGINS)
    for login_id in table.lookup("username", username):
        login = table.get(login_id)
        if login is not None and _same_secret(password, login.get("password") or ""):
            if login.get("inactiveFlag"):
                raise unauthorized(f'Integrator login "{login["username"]}" is inactive.')
            return Principal("integrator", login["username"], login_id)
    raise unauthorized("Unknown integrator username or wrong password.")
