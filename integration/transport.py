"""HTTP plumbing the integration's clients share: retry policy, a session per thread, a direct route to urllib3."""

from __future__ import annotations

import email.utils
import re
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urlsplit

import requests
from requests import compat
from requests.adapters import HTTPAdapter
from requests.exceptions import InvalidJSONError
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers, requote_uri, select_proxy
from urllib3 import exceptions as urllib3_exceptions
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout as Urllib3Timeout

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds, as requests takes them
# Methods whose repetition leaves the server as one call would: the transport may re-send them.
REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TOO_MANY_REQUESTS = 429


# The same parser stands in simulator/datto/sinks.py (the fleet's HTTP sink):
# the layering rule lets the two parts share no code, so tests/test_retry_after.py runs both over
# one table of cases to keep them alike.
# delta-seconds (RFC 9110 says whole seconds; a decimal is read too, as it is unambiguous)
_DELTA_SECONDS = re.compile(r"[ \t]*([0-9]+(?:\.[0-9]+)?)[ \t]*")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A `Retry-After` header's wait in seconds, as delta-seconds or an HTTP-date; None when absent or unreadable.

    A date in the past waits 0 s; `now` (default: the wall clock) is what the date is measured from.
    """
    if value is None:
        return None
    match = _DELTA_SECONDS.fullmatch(value)
    if match:
        return float(match[1])
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # `-0000`: UTC by RFC 5322
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


# Per call, a caller may say its request is (or is not) safe to repeat, overriding the method's
# default: a JSON Patch of plain `replace` operations is, a POST that only searches is. A context
# variable rather than adapter state, because urllib3 asks the Retry object, which sees only the
# method name, and each thread (and context) has its own value.
_repeatable: ContextVar[bool | None] = ContextVar("repeatable", default=None)


@contextmanager
def repeatable(value: bool | None) -> Iterator[None]:
    """Within the block, requests are (True) or are not (False) re-sent after a lost answer or a 5xx."""
    token = _repeatable.set(value)
    try:
        yield
    finally:
        _repeatable.reset(token)


class RetryPolicy(Retry):
    """urllib3's Retry, with the two rules a client of someone else's API needs.

    - A request that might already have been applied is re-sent only when repeating it is harmless
      (the method, or the caller through `repeatable()`). A connection that was never established
      is always retried: nothing was sent.
    - A 429 is retried for every method, POST included: the server says it did not process it.

    `Retry-After` is honoured (429, 503) up to `retry_after_cap` seconds; otherwise the backoff is
    exponential with jitter, capped at `backoff_max`.
    """

    retry_after_cap = 120.0
    throttle: Callable[[], object] | None = None  # called before every re-send, e.g. a rate limiter

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.throttle = self.throttle
        return retry

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        super().sleep(response)
        if self.throttle is not None:
            self.throttle()

    def _is_method_retryable(self, method: str) -> bool:
        override = _repeatable.get()
        return super()._is_method_retryable(method) if override is None else override

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == TOO_MANY_REQUESTS and status_code in self.status_forcelist:
            return True
        return super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        """The answer's `Retry-After` (`retry_after_seconds`), capped; None (so: the backoff) when unreadable."""
        seconds = retry_after_seconds(response.headers.get("Retry-After"))
        return None if seconds is None else min(seconds, self.retry_after_cap)


def retry_policy(
    attempts: int = 4,
    backoff: float = 0.5,
    backoff_max: float = 30.0,
    jitter: float = 0.5,
    statuses: Collection[int] = RETRY_STATUSES,
    methods: Collection[str] = REPEATABLE_METHODS,
) -> RetryPolicy:
    """At most `attempts` retries after the first try: backoff·2ⁿ + U(0, jitter) seconds between them.

    Read errors (the request went out, the answer did not come back) are retried only for
    repeatable requests; anything urllib3 cannot classify is not retried at all.
    """
    return RetryPolicy(
        total=attempts,
        connect=attempts,
        read=attempts,
        status=attempts,
        other=0,
        redirect=0,
        allowed_methods=frozenset(m.upper() for m in methods),
        status_forcelist=frozenset(statuses),
        backoff_factor=backoff,
        backoff_max=backoff_max,
        backoff_jitter=jitter,
        respect_retry_after_header=True,
        raise_on_status=False,  # hand the last answer back, so the caller raises its own typed error
        raise_on_redirect=False,
    )


def throttled(retry: RetryPolicy, throttle: Callable[[], object]) -> RetryPolicy:
    """A copy of `retry` that calls `throttle` before each re-send, so retries count against a rate limit."""
    copy = retry.new()
    copy.throttle = throttle
    return copy


def new_session(retry: Retry, pool_size: int = 10, base_url: str | None = None) -> requests.Session:
    """A session whose every connection pool retries by `retry`.

    Given the one `base_url` it talks to, it reads the proxy and CA-bundle variables once, now
    (requests would otherwise scan the environment and stat the CA path on every call), and it
    is a `OneHostSession`, which `send()` sends through urllib3 directly.
    """
    session = requests.Session() if base_url is None else OneHostSession(base_url)
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if base_url is not None:
        environment = session.merge_environment_settings(base_url, {}, None, None, None)
        session.proxies.update(environment["proxies"])
        if base_url.lower().startswith("https:"):
            session.verify = environment["verify"]
        session.trust_env = False
    return session


class OneHostSession(requests.Session):
    """A session for one API root, set up (headers, auth, TLS, proxies) before its first call and not after.

    Its calls go through `send()`, which skips what `Session.request` redoes on every call: merging
    settings, preparing the URL, headers and auth, hooks, cookies and redirects. Without a proxy
    they go straight to the urllib3 pool of the root's host, with the same retry policy; that is
    half the client's CPU per call, and the client is what limits alert delivery. ConnectWise
    sets no cookies and sends no redirects that a client must follow: neither is kept here.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self._direct: _DirectRoute | None = None

    def direct_route(self) -> _DirectRoute | None:
        """The urllib3 route, made at the first call from the session as it is then; None through a proxy."""
        if self._direct is None and not select_proxy(self.base_url, self.proxies):
            self._direct = _DirectRoute(self)
        return self._direct


class _DirectRoute:
    """One session's fixed part of every call: the pool, the retry policy, the headers with auth applied."""

    def __init__(self, session: OneHostSession) -> None:
        probe = requests.PreparedRequest()
        probe.prepare(method="GET", url=session.base_url, headers=session.headers, auth=session.auth)
        adapter = session.get_adapter(session.base_url)
        assert isinstance(adapter, HTTPAdapter)
        self.pool = adapter.get_connection_with_tls_context(probe, session.verify, None, session.cert)
        # The CA bundle (certifi's, or the one `verify` names), which HTTPAdapter.send sets on every call.
        adapter.cert_verify(self.pool, session.base_url, session.verify, session.cert)
        self.retries = adapter.max_retries
        self.headers = dict(probe.headers)
        scheme, netloc, *_ = urlsplit(session.base_url)
        self.origin = f"{scheme}://{netloc}"

    def send(
        self,
        method: str,
        url: str,
        params: Any,
        json: Any,
        headers: Mapping[str, str | None] | None,
        timeout: Any,
    ) -> requests.Response:
        request = requests.PreparedRequest()
        request.method = method
        request.url = _with_query(url, params)
        request.headers = CaseInsensitiveDict(self.headers)
        if headers:
            request.headers.update(headers)
            for name in [name for name, value in request.headers.items() if value is None]:
                del request.headers[name]  # as Session.request does: None removes a session header
        request.body = None
        if json is not None:
            try:
                request.body = compat.json.dumps(json, allow_nan=False).encode("utf-8")
            except ValueError as error:
                raise InvalidJSONError(error, request=request) from error
            request.headers.setdefault("Content-Type", "application/json")
            request.headers["Content-Length"] = str(len(request.body))
        elif method not in ("GET", "HEAD"):
            request.headers["Content-Length"] = "0"
        target = request.url[len(self.origin) :] or "/"
        try:
            answer = self.pool.urlopen(
                method,
                target,
                body=request.body,
                headers=request.headers,
                retries=self.retries,
                timeout=_timeout(timeout),
                redirect=False,
                assert_same_host=False,
                preload_content=True,
                decode_content=True,
            )
        except urllib3_exceptions.HTTPError as error:
            raise _requests_error(error, request) from error
        except OSError as error:
            raise requests.ConnectionError(error, request=request) from error
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.reason = answer.reason or ""
        response.url = request.url
        response.request = request
        response._content = answer.data
        response._content_consumed = True
        return response


def _with_query(url: str, params: Any) -> str:
    if params:
        url = f"{url}{'&' if '?' in url else '?'}{requests.PreparedRequest._encode_params(params)}"
    return requote_uri(url)


def _timeout(timeout: Any) -> Urllib3Timeout:
    if isinstance(timeout, tuple):
        connect, read = timeout
        return Urllib3Timeout(connect=connect, read=read)
    return Urllib3Timeout(connect=timeout, read=timeout)


def _requests_error(error: Exception, request: requests.PreparedRequest) -> requests.RequestException:
    """The exception requests' HTTPAdapter raises for this urllib3 one, so callers see one family of errors."""
    exceptions = requests.exceptions
    if isinstance(error, urllib3_exceptions.MaxRetryError):
        reason = error.reason
        if isinstance(reason, urllib3_exceptions.ConnectTimeoutError) and not isinstance(
            reason, urllib3_exceptions.NewConnectionError
        ):
            return exceptions.ConnectTimeout(error, request=request)
        if isinstance(reason, urllib3_exceptions.ResponseError):
            return exceptions.RetryError(error, request=request)
        if isinstance(reason, urllib3_exceptions.ProxyError):
            return exceptions.ProxyError(error, request=request)
        if isinstance(reason, urllib3_exceptions.SSLError):
            return exceptions.SSLError(error, request=request)
        return exceptions.ConnectionError(error, request=request)
    if isinstance(error, urllib3_exceptions.SSLError):
        return exceptions.SSLError(error, request=request)
    if isinstance(error, urllib3_exceptions.ReadTimeoutError):
        return exceptions.ReadTimeout(error, request=request)
    if isinstance(error, urllib3_exceptions.DecodeError | urllib3_exceptions.IncompleteRead):
        return exceptions.ChunkedEncodingError(error, request=request)
    # ProtocolError (the connection broke), ClosedPoolError and the rest: the answer did not arrive.
    return exceptions.ConnectionError(error, request=request)


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    params: Any = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: Any = DEFAULT_TIMEOUT,
) -> requests.Response:
    """`session.request(...)`, sent directly through urllib3 when the session is a `OneHostSession`
    with no proxy and the URL is on its host."""
    if isinstance(session, OneHostSession) and not session.trust_env:
        route = session.direct_route()
        if route is not None and url.startswith(route.origin + "/"):
            return route.send(method, url, params, json, headers, timeout)
    return session.request(method, url, params=params, json=json, headers=headers, timeout=timeout)


class SessionPerThread:
    """Hands each thread its own session (requests does not promise a Session is thread-safe)."""

    def __init__(self, factory: Callable[[], requests.Session]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[requests.Session] = []

    def get(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._factory()
            self._local.session = session
            with self._lock:
                self._all.append(session)
        return session

    def close(self) -> None:
        """Close every thread's session; a thread that calls again later gets a fresh one."""
        with self._lock:
            sessions, self._all = self._all, []
        for session in sessions:
            session.close()
        self._local = threading.local()
