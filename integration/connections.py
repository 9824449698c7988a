"""The integration's clients from its settings: ConnectWise as the integrator login or API member, the Datto portal."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from .connectwise import (
    DEFAULT_CODEBASE,
    USER_AGENT,
    ApiKey,
    ConnectWiseClient,
    IntegratorLogin,
    TransportError,
    lookup_codebase,
)
from .connectwise_errors import transport_error
from .datto import DattoPortalClient, RateLimiter
from .settings import Settings, SettingsError
from .transport import RetryPolicy, new_session, retry_policy

__all__ = [
    "api_url",
    "company_info",
    "connectwise_client",
    "integrator_client",
    "member_client",
    "portal_client",
    "site_url",
]

log = logging.getLogger("cwsim.integration.connections")
CONNECT_TIMEOUT = 5.0


def site_url(settings: Settings) -> str:
    """Scheme and host of the ConnectWise site (taken from `api_url` when that is set)."""
    cw = settings.connectwise
    if cw.api_url:
        parts = urlsplit(cw.api_url)
        return f"{parts.scheme}://{parts.netloc}"
    site = cw.site.strip().rstrip("/")
    return site if "://" in site else f"https://{site}"


def company_info(settings: Settings, retry: RetryPolicy | None = None) -> dict[str, Any] | None:
    """The anonymous `/login/companyinfo/{company}` answer (codebase, version), or None if the site has none.

    Raises a TransportError when the site does not answer at all (after `retry`'s attempts).
    """
    cw = settings.connectwise
    url = f"{site_url(settings)}/login/companyinfo/{quote(cw.company_id, safe='')}"
    with new_session(retry or retry_policy()) as session:
        try:
            response = session.get(url, timeout=cw.timeout_seconds, headers={"User-Agent": USER_AGENT})
        except (requests.ConnectionError, requests.Timeout) as error:
            raise transport_error(error, "GET", url) from error
    try:
        info = response.json() if response.ok else None
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


def api_url(settings: Settings) -> str:
    """`connectwise.api_url`, else the site's API root with the codebase its companyinfo advertises
    (or `v4_6_release/`, which every ConnectWise serves, when the site does not answer)."""
    cw = settings.connectwise
    if cw.api_url:
        return cw.api_url.rstrip("/")
    try:
        codebase = lookup_codebase(site_url(settings), cw.company_id, timeout=_timeout(settings))
    except TransportError as error:
        log.warning("could not look the codebase up at %s (%s); using %s", site_url(settings), error, DEFAULT_CODEBASE)
        codebase = DEFAULT_CODEBASE
    return f"{site_url(settings)}/{codebase}apis/3.0"


def _timeout(settings: Settings) -> tuple[float, float]:
    seconds = settings.connectwise.timeout_seconds
    return (min(CONNECT_TIMEOUT, seconds), seconds)


def _client(settings: Settings, credentials: ApiKey | IntegratorLogin, url: str | None) -> ConnectWiseClient:
    cw = settings.connectwise
    retry = retry_policy(attempts=cw.retry_attempts, backoff=cw.retry_backoff_seconds, jitter=cw.retry_backoff_seconds)
    return ConnectWiseClient(
        url or api_url(settings), credentials, cw.client_id, timeout=_timeout(settings), retry=retry
    )


def integrator_client(settings: Settings, url: str | None = None) -> ConnectWiseClient:
    """ConnectWise as the integrator login (what the Partner Portal holds): what the integration acts as."""
    cw = settings.connectwise
    return _client(
        settings, IntegratorLogin(cw.company_id, cw.integrator_username, cw.integrator_password.reveal()), url
    )


def member_client(settings: Settings, url: str | None = None) -> ConnectWiseClient | None:
    """ConnectWise as the API member whose keys are set, or None when none are (they are optional)."""
    cw = settings.connectwise
    if not cw.public_key:
        return None
    return _client(settings, ApiKey(cw.company_id, cw.public_key, cw.private_key.reveal()), url)


def connectwise_client(settings: Settings) -> ConnectWiseClient:
    """What the alert workers act as: the integrator login when its password is set, else the API member keys."""
    cw = settings.connectwise
    if cw.integrator_password.reveal():
        return integrator_client(settings)
    member = member_client(settings) if cw.private_key.reveal() else None
    if member is None:
        raise SettingsError(
            "connectwise: set integrator_password (the dattoCW integrator login) or public_key and private_key"
        )
    return member


def portal_client(settings: Settings) -> DattoPortalClient:
    """The Datto portal under its rate limit; sizes read in binary units when billing says so."""
    datto = settings.datto
    per_minute = max(2, datto.requests_per_minute)
    return DattoPortalClient(
        datto.url,
        datto.public_key,
        datto.secret_key.reveal(),
        rate_limiter=RateLimiter(per_minute, 60.0, burst=min(10, per_minute - 1)),
        per_page=datto.per_page,
        binary_units=settings.billing.binary_units,
    )
