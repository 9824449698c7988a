"""The ConnectWise and Datto portal clients the settings describe."""

from __future__ import annotations

import logging

from .connectwise import DEFAULT_CODEBASE, ApiKey, ConnectWiseClient, IntegratorLogin, TransportError, lookup_codebase
from .datto import DattoPortalClient, RateLimiter
from .settings import Settings, SettingsError
from .transport import retry_policy

__all__ = ["connectwise_client", "portal_client"]

log = logging.getLogger("cwsim.integration.clients")
CONNECT_TIMEOUT = 5.0


def connectwise_client(settings: Settings) -> ConnectWiseClient:
    """As the integrator login (dattoCW) when its password is set, else as the API member keys.

    With `connectwise.api_url` unset, the codebase is looked up from `connectwise.site`; if the
    site does not answer, the codebase every ConnectWise serves (`v4_6_release/`) is used.
    """
    cw = settings.connectwise
    if cw.integrator_password.reveal():
        credentials: ApiKey | IntegratorLogin = IntegratorLogin(
            cw.company_id, cw.integrator_username, cw.integrator_password.reveal()
        )
    elif cw.public_key and cw.private_key.reveal():
        credentials = ApiKey(cw.company_id, cw.public_key, cw.private_key.reveal())
    else:
        raise SettingsError(
            "connectwise: set integrator_password (the dattoCW integrator login) or public_key and private_key"
        )
    timeout = (min(CONNECT_TIMEOUT, cw.timeout_seconds), cw.timeout_seconds)
    retry = retry_policy(attempts=cw.retry_attempts, backoff=cw.retry_backoff_seconds, jitter=cw.retry_backoff_seconds)
    if cw.api_url:
        return ConnectWiseClient(cw.api_url, credentials, cw.client_id, timeout=timeout, retry=retry)
    site = cw.site.rstrip("/")
    try:
        codebase = lookup_codebase(site, cw.company_id, timeout=timeout)
    except TransportError as error:
        log.warning("could not look the codebase up at %s (%s); using %s", site, error, DEFAULT_CODEBASE)
        codebase = DEFAULT_CODEBASE
    site = site if "://" in site else f"https://{site}"
    return ConnectWiseClient(f"{site}/{codebase}apis/3.0", credentials, cw.client_id, timeout=timeout, retry=retry)


def portal_client(settings: Settings) -> DattoPortalClient:
    datto = settings.datto
    burst = max(1, min(10, datto.requests_per_minute // 4))
    return DattoPortalClient(
        datto.url,
        datto.public_key,
        datto.secret_key.reveal(),
        rate_limiter=RateLimiter(datto.requests_per_minute, 60.0, burst),
        per_page=datto.per_page,
    )
