"""A ConnectWise Manage REST client on requests: auth, codebase lookup, paging, retries and typed errors.

    cw = ConnectWiseClient.for_site("https://api-na.myconnectwise.net", ApiKey("acme", pub, priv), client_id)
    for company in cw.iterate("company/companies", conditions=where("name", "like", starts_with("Acm"))):
        ...
    ticket = cw.post("service/tickets", {"summary": "Backup failed", "company": {"id": 2}})
    cw.patch(f"service/tickets/{ticket['id']}", {"status": {"id": 5}})

Retries happen in the transport (see transport.py): GET, PUT, DELETE and a PATCH made only of
`replace` operations are re-sent after a lost answer or a 5xx, because repeating them leaves
ConnectWise as one call would. A 429 is retried for every method: ConnectWise did not process
it. A POST is never re-sent after a 5xx or a broken connection: it may have created the record,
and only the caller can find out (the outbox looks the ticket up by the alert's key before
posting again). Such a POST raises `ServerError` or `ResponseLost`; `ConnectionFailed` means the
request never left, so sending it again is safe.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import requests
import requests.auth

from . import transport
from .conditions import Condition
from .connectwise_errors import (
    TRANSPORT_FAILURES,
    AuthenticationError,
    BadRequest,
    ConnectionFailed,
    ConnectWiseError,
    FieldError,
    InvalidObject,
    NotFound,
    ObjectExists,
    PermissionDenied,
    RateLimited,
    ResponseLost,
    ServerError,
    TransportError,
    error_from_response,
    transport_error,
)
from .transport import DEFAULT_TIMEOUT, RetryPolicy, SessionPerThread, new_session, retry_policy

__all__ = [
    "ApiKey",
    "AuthenticationError",
    "BadRequest",
    "ConnectWiseClient",
    "ConnectWiseError",
    "ConnectionFailed",
    "FieldError",
    "IntegratorLogin",
    "InvalidObject",
    "NotFound",
    "ObjectExists",
    "PermissionDenied",
    "RateLimited",
    "ResponseLost",
    "ServerError",
    "TransportError",
    "lookup_codebase",
]

log = logging.getLogger("cwsim.integration.connectwise")

DEFAULT_CODEBASE = "v4_6_release/"
MAX_PAGE_SIZE = 1000
USER_AGENT = "cwsim-integration"
Timeout = float | tuple[float, float]
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([A-Za-z]+)"?')


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class ApiKey(requests.auth.AuthBase):
    """An API member's key pair: `Basic base64(company+public:private)`. Never shows the keys."""

    company_id: str
    public_key: str = field(repr=False)
    private_key: str = field(repr=False)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = _basic(f"{self.company_id}+{self.public_key}", self.private_key)
        return request


@dataclass(frozen=True)
class IntegratorLogin(requests.auth.AuthBase):
    """An integrator login: `Basic base64(company+username:password)` plus `x-cw-usertype: integrator`."""

    company_id: str
    username: str
    password: str = field(repr=False)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = _basic(f"{self.company_id}+{self.username}", self.password)
        request.headers["x-cw-usertype"] = "integrator"
        return request


Credentials = ApiKey | IntegratorLogin


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")


# --------------------------------------------------------------------------- the client


def lookup_codebase(site_url: str, company_id: str, *, timeout: Timeout = DEFAULT_TIMEOUT) -> str:
    """The codebase a site advertises (`v2025_1/`) from the anonymous companyinfo call, else `v4_6_release/`.

    An unknown company (ConnectWise answers `null`), a site without the lookup (404) or an odd body
    fall back to the default; an unreachable site raises a TransportError.
    """
    codebase = company_info(site_url, company_id, timeout=timeout).get("Codebase")
    if not isinstance(codebase, str) or not codebase.strip("/ "):
        log.info("no codebase from %s's companyinfo; using %s", site_root(site_url), DEFAULT_CODEBASE)
        return DEFAULT_CODEBASE
    return codebase.strip("/ ") + "/"


def company_info(site_url: str, company_id: str, *, timeout: Timeout = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """The anonymous `/login/companyinfo/{company}` answer ({} when the site has none or answers oddly).

    Raises TransportError when the site cannot be reached.
    """
    url = f"{site_root(site_url)}/login/companyinfo/{quote(company_id, safe='')}"
    with new_session(retry_policy()) as session:
        try:
            response = session.get(url, timeout=timeout, headers={"User-Agent": USER_AGENT})
        except TRANSPORT_FAILURES as error:
            raise transport_error(error, "GET", url) from error
    try:
        info = response.json() if response.ok else None
    except ValueError:
        info = None
    return info if isinstance(info, dict) else {}


def site_root(site_url: str) -> str:
    """`https://host[:port]` of a site given with or without its scheme."""
    site = site_url.strip().rstrip("/")
    return site if "://" in site else f"https://{site}"


class ConnectWiseClient:
    """ConnectWise Manage over HTTP: one requests session per thread, a timeout on every call.

    Methods take paths relative to the API root (`service/tickets/5`) and return parsed JSON; a
    non-2xx answer raises the matching ConnectWiseError subclass.
    """

    def __init__(
        self,
        api_url: str,
        credentials: Credentials,
        client_id: str,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        page_size: int = MAX_PAGE_SIZE,
        api_version: str | None = None,
    ) -> None:
        if not client_id:
            raise ValueError("ConnectWise requires a clientId on every call (developer.connectwise.com/ClientID)")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
        self.api_url = api_url.rstrip("/") + "/"
        self.credentials = credentials
        self.client_id = client_id
        self.timeout = timeout
        self.retry = retry if retry is not None else retry_policy()
        self.page_size = page_size
        self.api_version = api_version
        self._sessions = SessionPerThread(self._new_session)

    @classmethod
    def for_site(cls, site_url: str, credentials: Credentials, client_id: str, **options: Any) -> ConnectWiseClient:
        """A client for `https://{site}/{codebase}apis/3.0`, the codebase looked up from the site."""
        codebase = lookup_codebase(site_url, credentials.company_id, timeout=options.get("timeout", DEFAULT_TIMEOUT))
        return cls(f"{site_root(site_url)}/{codebase}apis/3.0", credentials, client_id, **options)

    def __repr__(self) -> str:
        kind = "integrator login" if isinstance(self.credentials, IntegratorLogin) else "API key"
        return f"<ConnectWiseClient {self.api_url} company={self.credentials.company_id!r} auth={kind}>"

    def __enter__(self) -> ConnectWiseClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every thread's connections."""
        self._sessions.close()

    @property
    def session(self) -> requests.Session:
        """This thread's session, with auth, clientId and retries set."""
        return self._sessions.get()

    def _new_session(self) -> requests.Session:
        session = new_session(self.retry, base_url=self.api_url)
        session.auth = self.credentials
        session.headers.update({"clientId": self.client_id, "User-Agent": USER_AGENT})
        if self.api_version:
            session.headers["Accept"] = f"application/vnd.connectwise.com+json; version={self.api_version}"
        return session

    # -- calls ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
        repeatable: bool | None = None,
    ) -> requests.Response:
        """Send one call (retried as the module docstring says); raise a ConnectWiseError unless 2xx.

        `repeatable` overrides whether the transport may re-send this call after a lost answer
        or a 5xx: True for a POST that only reads (`.../search`), False to forbid it.
        """
        method = method.upper()
        url = self.url(path)
        try:
            with transport.repeatable(repeatable):
                response = transport.send(
                    self.session,
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=timeout or self.timeout,
                )
        except TRANSPORT_FAILURES as error:
            raise transport_error(error, method, url) from error
        log.debug("%s %s -> %s", method, response.url, response.status_code)
        if not response.ok:
            raise error_from_response(response, method)
        return response

    def url(self, path: str) -> str:
        """The absolute URL of an API path; absolute URLs must point under this client's API root."""
        if "://" in path:
            if not path.startswith(self.api_url):
                raise ValueError(f"{path} is not under {self.api_url}; credentials go to that API only")
            return path
        return self.api_url + path.lstrip("/")

    def get(self, path: str, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """One record or one page: `get("service/tickets/5")`."""
        return _json(self.request("GET", path, params=params, **options))

    def post(self, path: str, body: Any, **options: Any) -> Any:
        """Create: `post("service/tickets", {...})` returns the created record. Never re-sent after a lost answer."""
        return _json(self.request("POST", path, json=body, **options))

    def put(self, path: str, body: Any, **options: Any) -> Any:
        """Replace a whole record."""
        return _json(self.request("PUT", path, json=body, **options))

    def patch(self, path: str, changes: Mapping[str, Any] | Sequence[Mapping[str, Any]], **options: Any) -> Any:
        """Change fields: a mapping becomes `replace` operations; a list is sent as JSON Patch as given.

        A patch made only of `replace` operations is repeatable (it sets absolute values); one
        with `add` or `remove` is not, because those may append to or remove from arrays.
        """
        if isinstance(changes, Mapping):
            operations = [{"op": "replace", "path": name, "value": value} for name, value in changes.items()]
        else:
            operations = [dict(operation) for operation in changes]
        options.setdefault("repeatable", all(operation.get("op") == "replace" for operation in operations))
        return _json(self.request("PATCH", path, json=operations, **options))

    def delete(self, path: str, *, missing_ok: bool = False, **options: Any) -> None:
        """Delete a record; with `missing_ok`, a 404 (already gone, e.g. after a retried DELETE) is fine."""
        try:
            self.request("DELETE", path, **options)
        except NotFound:
            if not missing_ok:
                raise

    def count(self, path: str, conditions: Condition | str | None = None, **params: Any) -> int:
        """How many records match: `count("service/tickets", where("company/id", "=", 5))`."""
        query = {**params, **({"conditions": str(conditions)} if conditions else {})}
        return int(self.get(f"{path.rstrip('/')}/count", query)["count"])

    def iterate(
        self,
        path: str,
        *,
        conditions: Condition | str | None = None,
        order_by: str | None = None,
        fields: Sequence[str] | None = None,
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        forward_only: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Every matching record, page after page.

        Navigable paging follows the page number in the `Link` header's rel="next" (with no Link
        header at all it counts pages itself); forward-only paging (`pagination-type:
        forward-only`, ordered by id, faster on big tables) follows `pageId`. Either stops at a
        short page or when the Link has no next. Only the page number is taken from the Link,
        never its host: credentials go nowhere but this client's API root.
        """
        size = page_size or self.page_size
        if forward_only and order_by:
            raise ValueError("forward-only pages come in id order; drop order_by or forward_only")
        query: dict[str, Any] = {**(params or {}), "pageSize": size}
        if conditions:
            query["conditions"] = str(conditions)
        if order_by:
            query["orderBy"] = order_by
        if fields:
            query["fields"] = ",".join(fields)
        headers = {"pagination-type": "forward-only"} if forward_only else None
        cursor: dict[str, int] = {} if forward_only else {"page": 1}
        while True:
            response = self.request("GET", path, params={**query, **cursor}, headers=headers)
            items = _json(response)
            if not isinstance(items, list):
                raise ConnectWiseError(
                    "expected a JSON list", status=response.status_code, method="GET", url=response.url
                )
            yield from items
            if len(items) < size:
                return
            cursor = self._next_cursor(response, cursor, forward_only)
            if not cursor:
                return

    def _next_cursor(self, response: requests.Response, cursor: dict[str, int], forward_only: bool) -> dict[str, int]:
        link = response.headers.get("Link")
        name = "pageId" if forward_only else "page"
        if link is None:
            if forward_only:
                raise ConnectWiseError(
                    "no Link header: this endpoint does not page forward-only; iterate without forward_only",
                    status=response.status_code,
                    method="GET",
                    url=response.url,
                )
            return {"page": cursor["page"] + 1}
        value = next_page_parameter(link, name)
        if value is None:
            return {}
        if value <= cursor.get(name, 0):
            raise ConnectWiseError(
                f"the Link header's next {name}={value} does not move forward", method="GET", url=response.url
            )
        return {name: value}


def next_page_parameter(link: str, name: str) -> int | None:
    """The `page` or `pageId` of a Link header's rel="next" URL, or None when there is no next."""
    for match in _LINK.finditer(link):
        if match.group(2).lower() != "next":
            continue
        for key, value in parse_qsl(urlsplit(match.group(1)).query):
            if key.lower() == name.lower() and value.isdigit():
                return int(value)
    return None


def _json(response: requests.Response) -> Any:
    """The answer's JSON. A success whose body is cut or garbled is a lost answer (ResponseLost): the
    request may have been applied, so a write goes through the look-up before it is sent again."""
    if response.status_code == 204:
        return None
    try:
        if not response.content:
            raise ValueError("an empty body")
        return response.json()
    except ValueError as error:
        raise ResponseLost(
            f"the answer is not JSON: {response.text[:200]!r}",
            status=response.status_code,
            method=response.request.method or "",
            url=response.url,
        ) from error
