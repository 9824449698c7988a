"""The fault proxy on a real server: connection resets, empty answers, dribbled bodies, keep-alive, fail-safe."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import requests

from cwsim.simulator import http_framing
from cwsim.simulator.http_framing import Unframed, response_size, take_request
from cwsim.simulator.pytest_plugin import Cwsim

TICKET = {"summary": "Backup failed", "company": {"id": 1}}


def add(cwsim: Cwsim, rule: dict[str, Any]) -> None:
    assert cwsim.admin().post("faults", json=rule).status_code == 201


def ticket_count(cwsim: Cwsim) -> int:
    return cwsim.session().get("service/tickets/count").json()["count"]


def test_without_rules_the_proxy_answers_like_the_server_over_one_kept_alive_connection(cwsim: Cwsim) -> None:
    with cwsim.session(through_fault_proxy=True) as api:
        created = [api.post("service/tickets", json=TICKET).json()["id"] for _ in range(5)]
        assert api.get("service/tickets", params={"pageSize": 2}).json()[0]["id"] == created[0]
        assert api.delete(f"service/tickets/{created[0]}").status_code == 204
        assert api.head("service/boards").status_code == 405  # as on the server; its answer has no body
        assert api.get("service/boards").status_code == 200, "framed right after a bodiless HEAD answer"
    assert ticket_count(cwsim) == 4


@pytest.mark.parametrize(("kind", "error"), [("connection_reset", ConnectionResetError), ("empty_response", None)])
def test_a_fault_at_the_request_never_reaches_the_fake(cwsim: Cwsim, kind: str, error: type | None) -> None:
    add(
        cwsim,
        {"method": "POST", "collection": "service/tickets", "count": 1, "effect": {"kind": kind, "at": "request"}},
    )
    with cwsim.session(through_fault_proxy=True) as api, pytest.raises(requests.ConnectionError) as raised:
        api.post("service/tickets", json=TICKET)
    if error is not None:
        assert isinstance(raised.value.args[0].args[1], error)
    else:
        assert "without response" in str(raised.value)
    assert ticket_count(cwsim) == 0
    [lost] = cwsim.admin().get("requests", params={"status": 0}).json()
    assert lost["method"] == "POST" and lost["fault"] == 1 and lost["body"] == TICKET
    with cwsim.session(through_fault_proxy=True) as api:
        assert api.post("service/tickets", json=TICKET).status_code == 201, "spent: the retry goes through"


def test_a_reset_at_the_response_loses_the_answer_of_a_committed_write(cwsim: Cwsim) -> None:
    add(cwsim, {"method": "POST", "collection": "service/tickets", "count": 1, "effect": {"kind": "connection_reset"}})
    assert cwsim.session().post("service/tickets", json=TICKET).status_code == 201, "negative control: not proxied"
    with cwsim.session(through_fault_proxy=True) as api, pytest.raises(requests.ConnectionError, match="reset"):
        api.post("service/tickets", json=TICKET)
    assert ticket_count(cwsim) == 2, "the write happened; only the answer was lost"


def test_an_empty_response_after_the_fake_answered(cwsim: Cwsim) -> None:
    add(cwsim, {"path": "service/boards", "count": 1, "effect": {"kind": "empty_response", "at": "response"}})
    with cwsim.session(through_fault_proxy=True) as api:
        with pytest.raises(requests.ConnectionError, match="without response"):
            api.get("service/boards")
        assert api.get("service/boards").status_code == 200
    first = cwsim.admin().get("requests", params={"path": "service/boards"}).json()[0]
    assert first["status"] == 200, "the fake answered; the proxy dropped the answer"


def test_a_dribbled_answer_arrives_whole_in_pieces_over_its_duration(cwsim: Cwsim) -> None:
    plain = cwsim.session(through_fault_proxy=True).get("service/boards").content
    add(cwsim, {"path": "service/boards", "count": 1, "effect": {"kind": "dribble", "chunks": 4, "duration_ms": 300}})
    host, port = cwsim.fault_proxy_url.removeprefix("http://").split(":")
    headers = cwsim.headers()
    head = (
        f"GET /v4_6_release/apis/3.0/service/boards HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: {headers['Authorization']}\r\nclientId: tests\r\n\r\n"
    )
    pieces: list[bytes] = []
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head.encode())
        answer = b""
        while (size := _whole(answer)) is None or len(answer) < size:
            piece = connection.recv(65536)
            assert piece, "the proxy closed before the whole answer came"
            pieces.append(piece)
            answer += piece
    elapsed = time.monotonic() - started
    assert answer.endswith(plain), "the same answer, whole"
    assert len(pieces) >= 2 and elapsed >= 0.3, (len(pieces), elapsed)


def _whole(answer: bytes) -> int | None:
    return response_size(answer, "GET") if b"\r\n\r\n" in answer else None


def test_connection_rules_never_touch_requests_straight_to_the_server(cwsim: Cwsim) -> None:
    add(cwsim, {"effect": {"kind": "connection_reset", "at": "request"}})
    assert cwsim.session().get("service/boards").status_code == 200
    assert cwsim.admin().get("health").status_code == 200
    with cwsim.session(through_fault_proxy=True) as api, pytest.raises(requests.ConnectionError):
        api.get("service/boards")
    proxied_admin = requests.get(cwsim.fault_proxy_url + "/_sim/health", timeout=10)
    assert proxied_admin.status_code == 200, "the admin API is never faulted, not even through the proxy"


RESET_TICKET_POSTS = {
    "method": "POST",
    "collection": "service/tickets",
    "effect": {"kind": "connection_reset", "at": "request"},
}


def chunked_ticket():
    """A body requests sends with `Transfer-Encoding: chunked` (a generator has no length)."""
    yield b'{"summary": "chunked", '
    yield b'"company": {"id": 1}}'


def post_chunked(cwsim: Cwsim, headers: dict[str, str] | None = None) -> requests.Response:
    with cwsim.session(through_fault_proxy=True) as api:
        return api.post(
            "service/tickets", data=chunked_ticket(), headers={"Content-Type": "application/json", **(headers or {})}
        )


def test_a_chunked_request_meets_the_connection_rules(cwsim: Cwsim) -> None:
    add(cwsim, RESET_TICKET_POSTS)
    with pytest.raises(requests.ConnectionError):
        post_chunked(cwsim)
    assert ticket_count(cwsim) == 0
    [lost] = cwsim.admin().get("requests", params={"status": 0}).json()
    assert lost["method"] == "POST" and lost["body"] == {"summary": "chunked", "company": {"id": 1}}, "decoded"


def test_negative_control_unframed_chunked_requests_skipped_the_rules(
    cwsim: Cwsim, monkeypatch: pytest.MonkeyPatch
) -> None:
    def old_rule(head: http_framing.Head) -> bool:
        if head.header("transfer-encoding") is not None:
            raise Unframed("chunked or encoded body")
        return False

    monkeypatch.setattr(http_framing, "is_chunked", old_rule)  # the parser as it was
    add(cwsim, RESET_TICKET_POSTS)
    assert post_chunked(cwsim).status_code == 201, "relayed raw, never faulted"
    assert ticket_count(cwsim) == 1


def test_a_rule_that_reads_the_body_sees_a_chunked_request_s_payload(cwsim: Cwsim) -> None:
    trigger = {"on": "ticket_for_company", "company": 1, "nth": 1}
    add(cwsim, {"trigger": trigger, "effect": {"kind": "connection_reset", "at": "request"}})
    with pytest.raises(requests.ConnectionError):
        post_chunked(cwsim)
    assert ticket_count(cwsim) == 0
    assert post_chunked(cwsim).status_code == 201, "it fired once"


def test_a_chunked_request_and_its_answer_pass_whole_on_a_kept_alive_connection(cwsim: Cwsim) -> None:
    with cwsim.session(through_fault_proxy=True) as api:
        for _ in range(3):
            created = api.post("service/tickets", data=chunked_ticket(), headers={"Content-Type": "application/json"})
            assert created.status_code == 201 and created.json()["summary"] == "chunked"
            assert api.get(f"service/tickets/{created.json()['id']}").status_code == 200
    assert ticket_count(cwsim) == 3


def test_a_request_the_parser_cannot_frame_is_relayed_unchanged_never_faulted(cwsim: Cwsim) -> None:
    add(cwsim, {"method": "POST", "effect": {"kind": "connection_reset", "at": "request"}})
    response = post_chunked(cwsim, {"Upgrade": "h2c"})
    assert response.status_code == 201, "an Upgrade is not framed, so it is relayed as it came"
    assert ticket_count(cwsim) == 1


# -- the framing parser ---------------------------------------------------------------------------


def test_pipelined_requests_are_taken_one_at_a_time() -> None:
    buffer = bytearray(
        b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"
        b"GET /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c HTTP/1.1\r\n"
    )
    first = take_request(buffer)
    assert first is not None and (first.method, first.path, first.query, first.body) == ("POST", "/a", "x=1", b"{}")
    second = take_request(buffer)
    assert second is not None and second.path == "/b"
    assert take_request(buffer) is None, "a head not yet complete"


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800001\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
        b"GET http://elsewhere/ HTTP/1.1\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000,
    ],
)
def test_anything_not_certain_is_unframed(head: bytes) -> None:
    with pytest.raises(Unframed):
        take_request(bytearray(head))


def test_response_sizes() -> None:
    assert response_size(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET") == 43
    assert response_size(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD") == 38
    assert response_size(b"HTTP/1.1 204 No Content\r\n\r\n", "DELETE") == 27
    assert response_size(b"HTTP/1.1 200 OK\r\nContent-", "GET") is None
    with pytest.raises(Unframed):
        response_size(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", "GET")


CHUNKED = (
    b"POST /t?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
    b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: 1\r\n\r\n"
)


def test_a_chunked_request_is_framed_with_its_payload() -> None:
    buffer = bytearray(CHUNKED + b"GET /next HTTP/1.1\r\n\r\n")
    frame = take_request(buffer)
    assert frame is not None
    assert (frame.method, frame.path, frame.query, frame.body) == ("POST", "/t", "x=1", b"hello world")
    assert frame.raw == CHUNKED, "relayed exactly as it came"
    after = take_request(buffer)
    assert after is not None and after.path == "/next" and buffer == bytearray()


def test_a_chunked_request_is_not_taken_before_its_last_byte() -> None:
    for cut in range(len(CHUNKED)):
        assert take_request(bytearray(CHUNKED[:cut])) is None, cut


def test_chunked_response_sizes() -> None:
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    assert response_size(answer + b"HTTP/1.1 204", "GET") == len(answer)
    assert response_size(answer[:-1], "GET") is None
