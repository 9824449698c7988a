"""The ConnectWise client against a scripted stub: what is re-sent and what never is, paging edge cases, secrets."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
import urllib3.util.retry

from cwsim.integration.connectwise import (
    ApiKey,
    AuthenticationError,
    BadRequest,
    ConnectionFailed,
    ConnectWiseClient,
    ConnectWiseError,
    IntegratorLogin,
    NotFound,
    PermissionDenied,
    RateLimited,
    ResponseLost,
    ServerError,
)
from cwsim.integration.transport import retry_policy

PRIVATE_KEY = "very-private-key"
PASSWORD = "integrator-secret"
DROP = "drop"  # close the connection after reading the request, without answering
HANG = "hang"  # never answer (until the test ends)
CUT = "cut"  # answer 201 with a Content-Length, then close before the body is all sent


@dataclass
class Stub:
    """A loopback HTTP server that answers each request with the next step of a script."""

    script: list[tuple[int, dict[str, str], object] | str] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        handler.rfile.read(length)
        self.requests.append((handler.command, handler.path, dict(handler.headers)))
        step = self.script.pop(0) if self.script else (200, {}, {"ok": True})
        if step == DROP:
            handler.close_connection = True
            return
        if step == HANG:
            self.release.wait(10)
            handler.close_connection = True
            return
        if step == CUT:
            handler.send_response(201)
            handler.send_header("Content-Length", "100")
            handler.end_headers()
            handler.wfile.write(b'{"id": 9, "summ')
            handler.close_connection = True
            return
        status, headers, body = step  # type: ignore[misc]
        payload = b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    @property
    def methods(self) -> list[str]:
        return [method for method, _, _ in self.requests]


@pytest.fixture
def stub() -> Iterator[Stub]:
    scripted = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            scripted.answer(self)

        do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # bound and listening once constructed
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    scripted.url = f"http://127.0.0.1:{server.server_address[1]}/v4_6_release/apis/3.0"
    yield scripted
    scripted.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """urllib3's waits between retries, recorded instead of slept: no test here waits on the clock."""
    slept: list[float] = []
    fake_time = SimpleNamespace(sleep=slept.append, time=__import__("time").time)
    monkeypatch.setattr(urllib3.util.retry, "time", fake_time)
    return slept


def client_for(stub: Stub, **options: object) -> ConnectWiseClient:
    options.setdefault("retry", retry_policy(attempts=3, backoff=0.0, jitter=0.0))
    return ConnectWiseClient(stub.url, ApiKey("acme", "public", PRIVATE_KEY), "client-id", **options)  # type: ignore[arg-type]


def unavailable(status: int = 503, **headers: str) -> tuple[int, dict[str, str], object]:
    return status, headers, {"code": "ConnectWiseApi", "message": "Service unavailable", "errors": None}


def test_a_get_is_retried_after_a_503(stub: Stub) -> None:
    stub.script = [unavailable(503), (200, {}, [{"id": 1}])]
    assert client_for(stub).get("service/tickets") == [{"id": 1}]
    assert stub.methods == ["GET", "GET"]


def test_a_get_waits_as_long_as_retry_after_says(stub: Stub, sleeps: list[float]) -> None:
    stub.script = [unavailable(429, **{"Retry-After": "7"}), (200, {}, {"id": 1})]
    assert client_for(stub).get("service/tickets/1") == {"id": 1}
    assert stub.methods == ["GET", "GET"]
    assert sleeps == [7]


def test_retry_after_is_capped(stub: Stub, sleeps: list[float]) -> None:
    stub.script = [unavailable(429, **{"Retry-After": "86400"}), (200, {}, {"id": 1})]
    client_for(stub).get("service/tickets/1")
    assert sleeps == [120.0]


def test_a_post_is_retried_after_a_429_because_it_was_not_processed(stub: Stub) -> None:
    stub.script = [unavailable(429, **{"Retry-After": "0"}), (201, {}, {"id": 9})]
    assert client_for(stub).post("service/tickets", {"summary": "x"}) == {"id": 9}
    assert stub.methods == ["POST", "POST"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_post_is_never_re_sent_after_a_5xx(stub: Stub, status: int) -> None:
    stub.script = [unavailable(status), (201, {}, {"id": 9})]
    with pytest.raises(ServerError) as raised:
        client_for(stub).post("service/tickets", {"summary": "x"})
    assert raised.value.status == status and raised.value.code == "ConnectWiseApi"
    assert stub.methods == ["POST"]


def test_a_post_is_never_re_sent_after_a_dropped_connection(stub: Stub) -> None:
    stub.script = [DROP, (201, {}, {"id": 9})]
    with pytest.raises(ResponseLost) as raised:
        client_for(stub).post("service/tickets", {"summary": "x"})
    assert raised.value.status is None and raised.value.method == "POST"
    assert stub.methods == ["POST"]


def test_a_post_whose_answer_is_cut_short_is_a_lost_answer(stub: Stub) -> None:
    stub.script = [CUT, (201, {}, {"id": 9})]
    with pytest.raises(ResponseLost) as raised:
        client_for(stub).post("service/tickets", {"summary": "x"})
    assert raised.value.method == "POST" and stub.methods == ["POST"]


def test_a_post_that_times_out_is_not_re_sent(stub: Stub) -> None:
    stub.script = [HANG]
    with pytest.raises(ResponseLost):
        client_for(stub, timeout=(5.0, 0.2)).post("service/tickets", {"summary": "x"})
    assert stub.methods == ["POST"]


def test_a_get_is_retried_after_a_dropped_connection(stub: Stub) -> None:
    stub.script = [DROP, (200, {}, {"id": 1})]
    assert client_for(stub).get("service/tickets/1") == {"id": 1}
    assert stub.methods == ["GET", "GET"]


def test_a_post_that_never_connected_raises_connection_failed() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ConnectWiseClient(
        f"http://127.0.0.1:{port}/v4_6_release/apis/3.0",
        ApiKey("acme", "public", PRIVATE_KEY),
        "client-id",
        retry=retry_policy(attempts=1, backoff=0.0, jitter=0.0),
    )
    with pytest.raises(ConnectionFailed):
        client.post("service/tickets", {"summary": "x"})


def test_a_patch_of_replaces_is_retried_but_one_with_add_is_not(stub: Stub) -> None:
    stub.script = [unavailable(503), (200, {}, {"id": 1})]
    client_for(stub).patch("service/tickets/1", {"summary": "new"})
    assert stub.methods == ["PATCH", "PATCH"]

    stub.requests.clear()
    stub.script = [unavailable(503), (200, {}, {"id": 1})]
    with pytest.raises(ServerError):
        client_for(stub).patch("service/tickets/1", [{"op": "add", "path": "customFields/-", "value": {"id": 3}}])
    assert stub.methods == ["PATCH"]


def test_a_caller_may_mark_a_post_repeatable(stub: Stub) -> None:
    stub.script = [unavailable(503), (200, {}, [])]
    client_for(stub).post("service/tickets/search", {"conditions": "id > 1"}, repeatable=True)
    assert stub.methods == ["POST", "POST"]


def test_retries_are_capped_with_jittered_exponential_backoff(stub: Stub, sleeps: list[float]) -> None:
    stub.script = [unavailable(503)] * 10
    client = client_for(stub, retry=retry_policy(attempts=4, backoff=1.0, backoff_max=5.0, jitter=0.5))
    with pytest.raises(ServerError):
        client.get("service/tickets")
    assert len(stub.requests) == 5  # the first try and four retries
    # urllib3 waits nothing before the first retry, then backoff·2^(n-1) + U(0, jitter), never over backoff_max.
    assert len(sleeps) == 3
    for n, slept in enumerate(sleeps, start=2):
        low = min(5.0, 2 ** (n - 1))
        assert low <= slept <= min(5.0, low + 0.5)


def test_a_429_that_outlasts_the_retries_raises_rate_limited_with_the_hint(stub: Stub) -> None:
    stub.script = [unavailable(429, **{"Retry-After": "2"})] * 5
    with pytest.raises(RateLimited) as raised:
        client_for(stub, retry=retry_policy(attempts=2, backoff=0.0, jitter=0.0)).post("service/tickets", {})
    assert raised.value.retry_after == 2 and raised.value.status == 429
    assert stub.methods == ["POST"] * 3


def test_every_call_sends_auth_and_client_id(stub: Stub) -> None:
    stub.script = [(200, {}, {})] * 2
    client_for(stub).get("system/info")
    integrator = ConnectWiseClient(stub.url, IntegratorLogin("acme", "dattoCW", PASSWORD), "client-id")
    integrator.get("system/info")
    (_, _, key_headers), (_, _, login_headers) = stub.requests
    assert key_headers["Authorization"].startswith("Basic ") and key_headers["clientId"] == "client-id"
    assert "x-cw-usertype" not in {name.lower() for name in key_headers}
    assert login_headers["x-cw-usertype"] == "integrator"


def test_secrets_stay_out_of_logs_reprs_and_errors(stub: Stub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    stub.script = [unavailable(503), unavailable(500), DROP, unavailable(401)]
    key_client = client_for(stub, retry=retry_policy(attempts=1, backoff=0.0, jitter=0.0))
    login_client = ConnectWiseClient(
        stub.url, IntegratorLogin("acme", "dattoCW", PASSWORD), "client-id", retry=retry_policy(attempts=0)
    )
    shown = [repr(key_client), repr(key_client.credentials), repr(login_client), repr(login_client.credentials)]
    for call in (
        lambda: key_client.get("service/tickets"),
        lambda: key_client.post("service/tickets", {}),
        lambda: login_client.get("service/tickets"),
    ):
        with pytest.raises(Exception) as raised:
            call()
        shown += [str(raised.value), repr(raised.value)]
    authorizations = {headers["Authorization"] for _, _, headers in stub.requests}
    secrets = {PRIVATE_KEY, PASSWORD, *authorizations, *(value.split()[1] for value in authorizations)}
    text = "\n".join(shown) + "\n" + caplog.text
    assert caplog.text  # urllib3 and the client did log at DEBUG
    assert not [secret for secret in secrets if secret in text]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequest),
        (401, AuthenticationError),
        (403, PermissionDenied),
        (404, NotFound),
        (409, ConnectWiseError),
        (429, RateLimited),
        (500, ServerError),
    ],
)
def test_each_status_raises_its_own_error(stub: Stub, status: int, kind: type[ConnectWiseError]) -> None:
    body = {"code": "Forbidden", "message": "serviceTicketApiFlag is off", "errors": None}
    stub.script = [(status, {}, body)]
    with pytest.raises(kind) as raised:
        client_for(stub, retry=retry_policy(attempts=0)).get("service/tickets")
    assert type(raised.value) is kind
    assert (raised.value.status, raised.value.message, raised.value.errors) == (status, body["message"], [])


def test_a_non_json_error_body_still_makes_a_typed_error(stub: Stub) -> None:
    stub.script = [(502, {"Content-Type": "text/html"}, "<html>Bad gateway</html>")]
    with pytest.raises(ServerError, match="Bad gateway"):
        client_for(stub, retry=retry_policy(attempts=0)).get("service/tickets")


# --------------------------------------------------------------------------- paging edge cases


def test_without_any_link_header_pages_are_counted_until_a_short_one(stub: Stub) -> None:
    stub.script = [(200, {}, [{"id": 1}, {"id": 2}]), (200, {}, [{"id": 3}, {"id": 4}]), (200, {}, [{"id": 5}])]
    assert [row["id"] for row in client_for(stub).iterate("company/companies", page_size=2)] == [1, 2, 3, 4, 5]
    assert [path.rsplit("page=", 1)[1] for _, path, _ in stub.requests] == ["1", "2", "3"]


def test_only_the_page_number_is_taken_from_a_link_never_its_host(stub: Stub) -> None:
    elsewhere = '<https://elsewhere.example/v4_6_release/apis/3.0/company/companies?pageSize=2&page=2>; rel="next"'
    stub.script = [(200, {"Link": elsewhere}, [{"id": 1}, {"id": 2}]), (200, {}, [])]
    assert len(list(client_for(stub).iterate("company/companies", page_size=2))) == 2
    assert stub.requests[1][1].endswith("pageSize=2&page=2")  # asked of the stub, not of elsewhere.example


def test_forward_only_stops_at_an_empty_link(stub: Stub) -> None:
    first = '<http://x/v4_6_release/apis/3.0/company/companies?pageSize=2&pageId=2>; rel="next"'
    stub.script = [(200, {"Link": first}, [{"id": 1}, {"id": 2}]), (200, {"Link": ""}, [{"id": 3}, {"id": 4}])]
    rows = list(client_for(stub).iterate("company/companies", page_size=2, forward_only=True))
    assert [row["id"] for row in rows] == [1, 2, 3, 4] and len(stub.requests) == 2
    assert stub.requests[0][2]["pagination-type"] == "forward-only"
    assert "pageId=2" in stub.requests[1][1]


def test_a_link_that_does_not_move_forward_is_refused_rather_than_looped(stub: Stub) -> None:
    stuck = '<http://x/v4_6_release/apis/3.0/company/companies?pageSize=2&page=1>; rel="next"'
    stub.script = [(200, {"Link": stuck}, [{"id": 1}, {"id": 2}])] * 3
    with pytest.raises(ConnectWiseError, match="does not move forward"):
        list(client_for(stub).iterate("company/companies", page_size=2))
