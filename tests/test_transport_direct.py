"""The direct route to urllib3: the same request on the wire as requests sends, the same errors, the same retries."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from cwsim.integration import transport
from cwsim.integration.connectwise import ApiKey, ConnectionFailed, ResponseLost
from cwsim.integration.connectwise_errors import TRANSPORT_FAILURES, transport_error


class Recorder(ThreadingHTTPServer):
    """Answers every request with `answers` in turn (then 200 `{}`), recording what arrived."""

    daemon_threads = True

    def __init__(self, answers: list[int] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[dict[str, Any]] = []
        self.answers = list(answers or [])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "body": self.rfile.read(length) if length else b"",
            }
        )
        status = self.server.answers.pop(0) if self.server.answers else 200
        body = json.dumps({"status": status}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def one_host_session(base_url: str, retry: transport.RetryPolicy | None = None) -> requests.Session:
    session = transport.new_session(retry or transport.retry_policy(attempts=0), base_url=base_url)
    session.auth = ApiKey("acme", "public", "private")
    session.headers.update({"clientId": "client-id", "User-Agent": "cwsim-test"})
    return session


def refuse(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("sent by requests' Session.request, not the direct route")


CALLS = [
    ("GET", "apis/3.0/service/tickets", {"conditions": 'summary like "Backup é%" and id > 5', "pageSize": 2}, None),
    ("POST", "apis/3.0/service/tickets", None, {"summary": "Backup failed ✓", "company": {"id": 2}}),
    ("PATCH", "apis/3.0/service/tickets/7?x=1", {"y": ["a", "b"]}, [{"op": "replace", "path": "x", "value": 1}]),
    ("DELETE", "apis/3.0/service/tickets/7", None, None),
]


@pytest.mark.parametrize(("method", "path", "params", "body"), CALLS, ids=[call[0] for call in CALLS])
def test_the_direct_route_sends_what_requests_sends(recorder: Recorder, method, path, params, body) -> None:
    session = one_host_session(recorder.url + "/apis/3.0/")
    url = f"{recorder.url}/{path}"
    headers = {"X-Extra": "1", "Accept-Encoding": None}  # None drops a session header, as in requests
    by_requests_path = session.request
    session.request = refuse  # the direct route must not fall back to requests
    direct = transport.send(session, method, url, params=params, json=body, headers=headers)
    session.request = by_requests_path
    classic = session.request(method, url, params=params, json=body, headers=headers)
    by_direct, by_requests = recorder.seen
    assert by_direct == by_requests
    assert by_direct["headers"]["accept-encoding"] == "identity"  # http.client's own, once the session's is dropped
    assert by_direct["headers"]["x-extra"] == "1"
    assert by_direct["headers"]["authorization"].startswith("Basic ")
    assert (direct.status_code, direct.json(), direct.url, direct.request.method) == (
        classic.status_code,
        classic.json(),
        classic.url,
        classic.request.method,
    )


@pytest.mark.parametrize("named", [False, True], ids=["certifi", "a named bundle"])
def test_an_https_route_trusts_the_bundle_requests_would(tmp_path, named: bool) -> None:
    verify: bool | str = True
    if named:
        (tmp_path / "ca.pem").write_text("not read until a connection is made\n")
        verify = str(tmp_path / "ca.pem")
    session = one_host_session("https://api.invalid/apis/3.0/")
    session.verify = verify
    route = session.direct_route()
    assert route is not None
    expected = requests.utils.DEFAULT_CA_BUNDLE_PATH if verify is True else verify
    assert (route.pool.ca_certs, route.pool.cert_reqs) == (expected, "CERT_REQUIRED")


def test_a_nan_in_the_body_is_refused_as_requests_refuses_it(recorder: Recorder) -> None:
    session = one_host_session(recorder.url + "/")
    with pytest.raises(requests.exceptions.InvalidJSONError):
        transport.send(session, "POST", recorder.url + "/x", json={"value": float("nan")})
    assert recorder.seen == []


def test_through_a_proxy_the_call_goes_by_requests(recorder: Recorder) -> None:
    """The recorder stands in for the proxy: it sees the absolute URL a proxy is sent."""
    target = "http://api.invalid/apis/3.0/"
    session = one_host_session(target)
    session.proxies = {"http": recorder.url}
    assert session.direct_route() is None
    assert transport.send(session, "GET", target + "system/info").status_code == 200
    assert recorder.seen[0]["path"] == target + "system/info"


def test_a_503_is_retried_for_a_get_with_the_same_policy(recorder: Recorder) -> None:
    recorder.answers = [503, 503]
    session = one_host_session(recorder.url + "/", transport.retry_policy(attempts=2, backoff=0, jitter=0))
    assert transport.send(session, "GET", recorder.url + "/x").status_code == 200
    assert len(recorder.seen) == 3


def test_a_503_on_a_post_comes_back_unretried(recorder: Recorder) -> None:
    recorder.answers = [503]
    session = one_host_session(recorder.url + "/", transport.retry_policy(attempts=2, backoff=0, jitter=0))
    assert transport.send(session, "POST", recorder.url + "/x", json={}).status_code == 503
    assert len(recorder.seen) == 1


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_is_a_connection_failure() -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    with pytest.raises(TRANSPORT_FAILURES) as caught:
        transport.send(one_host_session(url), "POST", url + "x", json={})
    assert isinstance(transport_error(caught.value, "POST", url), ConnectionFailed)


class Hangup:
    """Accepts connections, reads the request and closes without a word; counts the connections."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with connection:
                connection.recv(65536)

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize(("method", "tries"), [("POST", 1), ("GET", 3)])
def test_a_lost_answer_is_retried_only_for_a_repeatable_call(method: str, tries: int) -> None:
    hangup = Hangup()
    try:
        session = one_host_session(hangup.url, transport.retry_policy(attempts=2, backoff=0, jitter=0))
        with pytest.raises(TRANSPORT_FAILURES) as caught:
            transport.send(session, method, hangup.url + "x", json={} if method == "POST" else None)
        assert isinstance(transport_error(caught.value, method, hangup.url), ResponseLost)
        assert hangup.connections == tries
    finally:
        hangup.close()
