"""The integration's clients from its settings: ConnectWise as the integrator login or API member, the Datto portal."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import requests

from .connectwise import USER_AGENT, ApiKey, ConnectWiseClient, IntegratorLogin, lookup_codebase
from .connectwise_errors import transport_error
from .datto import DattoPortalClient, RateLimiter
from .settings import Settings
from .transport import RetryPolicy, new_session, retry_policy

__all__ = ["api_url", "company_info", "integrator_client", "member_client", "portal_client", "site_url"]


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
    """`connectwise.api_url`, else the site's API root with the codebase its companyinfo advertises."""
    cw = settings.connectwise
    if cw.api_url:
        return cw.api_url.rstrip("/")
    codebase = lookup_codebase(site_url(settings), cw.company_id, timeout=cw.timeout_seconds)
    return f"{site_url(settings)}/{codebase}apis/3.0"


def integrator_client(settings: Settings, url: str | None = None) -> ConnectWiseClient:
    """ConnectWise as the integrator login (what the Partner Portal holds): what the integration acts as."""
    cw = settings.connectwise
    login = IntegratorLogin(cw.company_id, cw.integrator_username, cw.integrator_password.reveal())
    return ConnectWiseClient(url or api_url(settings), login, cw.client_id, timeout=cw.timeout_seconds)


def member_client(settings: Settings, url: str | None = None) -> ConnectWiseClient | None:
    """ConnectWise as the API member whose keys are set, or None when none are (they are optional)."""
    cw = settings.connectwise
    if not cw.public_key:
        return None
    key = ApiKey(cw.company_id, cw.public_key, cw.private_key.reveal())
    return ConnectWiseClient(url or api_url(settings), key, cw.client_id, timeout=cw.timeout_seconds)


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
