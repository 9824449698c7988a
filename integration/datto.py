"""A Datto partner-portal client (`/v1/bcdr`): devices, assets and alerts, its quirks smoothed, under its rate limit.

    portal = DattoPortalClient("https://api.datto.com/v1", public_key, secret_key)
    for device in portal.devices():
        device.serial_number, device.service_plan, device.offsite_used_bytes

Every HTTP attempt, retries included, first takes a token from the client's RateLimiter (the
portal allows about 120 requests per 60 s per key; share one limiter between clients that use
the same key). Only GETs are sent, so every call is repeatable: lost answers and 5xx are retried,
and a 429 waits for its Retry-After.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
import requests.auth

from .transport import DEFAULT_TIMEOUT, RetryPolicy, SessionPerThread, new_session, retry_policy, throttled

__all__ = ["DattoError", "DattoPortalClient", "Device", "RateLimiter", "storage_bytes"]

log = logging.getLogger("cwsim.integration.datto")

DEFAULT_BASE_URL = "https://api.datto.com/v1"
DEFAULT_PER_PAGE = 100
USER_AGENT = "cwsim-integration"
_POWERS = {"b": 0, "byte": 0, "bytes": 0, "kb": 1, "mb": 2, "gb": 3, "tb": 4, "pb": 5}
_BINARY_POWERS = {"kib": 1, "mib": 2, "gib": 3, "tib": 4, "pib": 5}


class RateLimiter:
    """A token bucket shared by threads: never more than `requests` grants in any `per_seconds` window.

    It holds at most `burst` tokens and refills at (requests - burst) / per_seconds, so a full
    bucket plus a window's refill is exactly `requests`. A caller that finds it empty reserves the
    next token and sleeps until it is due, outside the lock.
    """

    def __init__(
        self,
        requests: int = 120,
        per_seconds: float = 60.0,
        burst: int = 10,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if not 0 < burst < requests or per_seconds <= 0:
            raise ValueError("need 0 < burst < requests and per_seconds > 0")
        self.capacity = float(burst)
        self.rate = (requests - burst) / per_seconds
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting if none is left; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait > 0:
            log.debug("rate limit: waiting %.2f s", wait)
            self._sleep(wait)
        return wait


class DattoError(Exception):
    """A portal call failed: `status` (None when no answer came), the portal's `code` and `message`."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str = "", method: str = "GET", url: str = ""
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.method = method
        self.url = url
        answer = f"{status} {code}".strip() if status is not None else "no answer"
        super().__init__(f"{method} {url} -> {answer}: {message}")


def storage_bytes(value: Any, *, binary: bool = False) -> int | None:
    """A portal size (`{"size": 1.5, "units": "TB"}`) in bytes; None when the portal gives none.

    Tolerates what the portal really sends: null, `[]` or `{}` for no data, a one-element array
    around the object, a bare number of bytes, sizes as strings. Units are decimal (1 KB = 1000 B)
    unless `binary`; KiB/MiB/GiB/TiB are always binary.
    """
    if value is None or value == [] or value == {}:
        return None
    if isinstance(value, list) and len(value) == 1:
        return storage_bytes(value[0], binary=binary)
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return round(_number(value))
    if not isinstance(value, Mapping):
        raise ValueError(f"not a storage size: {value!r}")
    size, units = value.get("size"), value.get("units")
    if size is None or size == "":
        return None
    unit = str(units or "").strip().lower()
    if unit in _BINARY_POWERS:
        factor = 1024 ** _BINARY_POWERS[unit]
    elif unit in _POWERS:
        factor = (1024 if binary else 1000) ** _POWERS[unit]
    else:
        raise ValueError(f"unknown storage units {units!r} (expected B, KB, MB, GB, TB)")
    return round(_number(size) * factor)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"not a number: {value!r}") from error


@dataclass(frozen=True)
class Device:
    """A SIRIS/ALTO appliance as the portal lists it, sizes in bytes; `raw` keeps the portal's object."""

    serial_number: str
    name: str
    model: str
    service_plan: str | None
    organization_id: int | None
    organization_name: str | None
    client_company_name: str | None
    hidden: bool
    last_seen: str | None
    offsite_used_bytes: int | None
    local_used_bytes: int | None
    local_available_bytes: int | None
    agent_count: int | None
    share_count: int | None
    alert_count: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_portal(cls, item: Mapping[str, Any], *, binary: bool = False) -> Device:
        serial = str(item.get("serialNumber") or "")

        def size(name: str) -> int | None:
            try:
                return storage_bytes(item.get(name), binary=binary)
            except ValueError as error:
                raise ValueError(f"device {serial}: {name}: {error}") from error

        return cls(
            serial_number=serial,
            name=str(item.get("name") or ""),
            model=str(item.get("model") or ""),
            service_plan=_text(item.get("servicePlan")),
            organization_id=_whole(item.get("organizationId")),
            organization_name=_text(item.get("organizationName")),
            client_company_name=_text(item.get("clientCompanyName")),
            hidden=bool(item.get("hidden")),
            last_seen=_text(item.get("lastSeenDate")),
            offsite_used_bytes=size("offsiteStorageUsed"),
            local_used_bytes=size("localStorageUsed"),
            local_available_bytes=size("localStorageAvailable"),
            agent_count=_whole(item.get("agentCount")),
            share_count=_whole(item.get("shareCount")),
            alert_count=_whole(item.get("alertCount")),
            raw=dict(item),
        )


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _whole(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


class DattoPortalClient:
    """The Datto partner portal's BCDR API over HTTP: Basic auth with the key pair, one session per thread."""

    def __init__(
        self,
        base_url: str,
        public_key: str,
        secret_key: str,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        per_page: int = DEFAULT_PER_PAGE,
        binary_units: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.public_key = public_key
        self._auth = requests.auth.HTTPBasicAuth(public_key, secret_key)  # its repr shows no secret
        self.timeout = timeout
        self.rate_limiter = rate_limiter or RateLimiter()
        self.retry = throttled(retry or retry_policy(methods={"GET"}), self.rate_limiter.acquire)
        self.per_page = per_page
        self.binary_units = binary_units
        self._sessions = SessionPerThread(self._new_session)

    def __repr__(self) -> str:
        return f"<DattoPortalClient {self.base_url}>"

    def __enter__(self) -> DattoPortalClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._sessions.close()

    def _new_session(self) -> requests.Session:
        session = new_session(self.retry, base_url=self.base_url)
        session.auth = self._auth
        session.headers["User-Agent"] = USER_AGENT
        return session

    # -- the API --------------------------------------------------------------------------

    def devices(
        self,
        *,
        show_hidden: bool | None = None,
        show_child_reseller: bool | None = None,
        per_page: int | None = None,
    ) -> Iterator[Device]:
        """Every device of the key's partner, page by page (the portal includes hidden and child-reseller devices)."""
        params: dict[str, Any] = {}
        if show_hidden is not None:
            params["showHiddenDevices"] = int(show_hidden)
        if show_child_reseller is not None:
            params["showChildResellerDevices"] = int(show_child_reseller)
        for item in self._pages("bcdr/device", params, per_page or self.per_page):
            yield Device.from_portal(item, binary=self.binary_units)

    def device(self, serial_number: str) -> Device:
        """One device (the portal answers it bare, not in a page envelope)."""
        return Device.from_portal(self.get(f"bcdr/device/{_segment(serial_number)}"), binary=self.binary_units)

    def assets(self, serial_number: str) -> list[dict[str, Any]]:
        """A device's agents and shares; the portal sends a list or an index-keyed object `{"0": {...}}`."""
        return _items(self.get(f"bcdr/device/{_segment(serial_number)}/asset"))

    def alerts(self, serial_number: str) -> list[dict[str, Any]]:
        """A device's active alerts: `{type, threshold, unit, dateTriggered, dateSent}` each, every page."""
        return list(self._pages(f"bcdr/device/{_segment(serial_number)}/alert", {}, self.per_page))

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """One GET under the base URL, rate-limited and retried; raises DattoError unless 2xx."""
        url = self.base_url + path.lstrip("/")
        self.rate_limiter.acquire()
        try:
            response = self._sessions.get().get(url, params=params, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
            raise DattoError(f"{type(error).__name__}: {error}", url=url) from error
        if not response.ok:
            raise _error(response)
        try:
            return response.json()
        except ValueError as error:
            raise DattoError("the answer is not JSON", status=response.status_code, url=response.url) from error

    def _pages(self, path: str, params: Mapping[str, Any], per_page: int) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = self.get(path, {**params, "_page": page, "_perPage": per_page})
            items = _items(body)
            yield from items
            pagination = body.get("pagination") if isinstance(body, dict) else None
            total_pages = _whole((pagination or {}).get("totalPages"))
            if not items or (total_pages is not None and page >= total_pages):
                return
            if total_pages is None and len(items) < per_page:
                return
            page += 1


def _items(body: Any) -> list[dict[str, Any]]:
    """A list of objects from a page envelope `{items: [...]}`, a plain list, or an object keyed "0", "1", ..."""
    if isinstance(body, dict) and "items" in body:
        body = body["items"]
    if isinstance(body, dict) and all(str(key).isdigit() for key in body):
        body = [body[key] for key in sorted(body, key=int)]
    if body is None:
        return []
    if not isinstance(body, list):
        raise DattoError(f"expected a list of items, got {type(body).__name__}")
    return [item for item in body if isinstance(item, dict)]


def _segment(value: str) -> str:
    return quote(value, safe="")


def _error(response: requests.Response) -> DattoError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("message") or response.text.strip()[:300] or response.reason or "")
    return DattoError(message, status=response.status_code, code=str(body.get("code") or ""), url=response.url)
