"""`system/callbacks` really fire: a loopback receiver gets ConnectWise's callback POST for each write of its
type, off the request thread, journaled, and subject to the fault rules."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cwsim.simulator.callbacks import CallbackDispatcher
from cwsim.simulator.fault_schema import load_fault_rules
from cwsim.simulator.testing import wait_until

from .conftest import Api

DEADLINE_S = 30.0  # generous: the machine may be twice as slow as the one this was written on


class Receiver:
    """A loopback HTTP server that keeps every POST it gets; `hold()` makes it sit on requests until released."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.changed = threading.Condition()
        self.held = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if receiver.held.is_set():
                    receiver.release.wait(DEADLINE_S)
                with receiver.changed:
                    receiver.received.append((self.path, body))
                    receiver.changed.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + DEADLINE_S
        with self.changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"waited {DEADLINE_S} s for {count} callbacks, got {self.received}"
                self.changed.wait(left)
            return list(self.received)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def register(api: Api, url: str, kind: str = "ticket", **extra: Any) -> dict[str, Any]:
    body = {"url": url, "objectId": 1, "type": kind, "level": "owner", "description": f"{kind} callback", **extra}
    answer = api.post("system/callbacks", body)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def callback_entries(api: Api) -> list[Any]:
    return [entry for entry in api.world.journal.entries() if entry.method == "CALLBACK"]


def test_a_callback_url_off_loopback_is_refused_in_connectwise_shape(api: Api) -> None:
    for url in ("http://example.com/cb", "http://10.0.0.1:80/cb", "ftp://127.0.0.1/cb", "http://localhost/cb"):
        answer = api.post("system/callbacks", {"url": url, "objectId": 1, "type": "ticket", "level": "owner"})
        assert answer.status_code == 400, url
        error = answer.get_json()
        assert error["code"] == "InvalidObject" and error["errors"][0]["field"] == "url", error
    wrong_type = api.post(
        "system/callbacks", {"url": "http://127.0.0.1:1/", "objectId": 1, "type": "x", "level": "owner"}
    )
    assert wrong_type.status_code == 400 and wrong_type.get_json()["errors"][0]["field"] == "type"


def test_a_ticket_callback_fires_on_add_update_and_delete_with_connectwises_body(api: Api, receiver: Receiver) -> None:
    callback = register(api, receiver.url + "/cw?id=")
    ticket = api.post("service/tickets", {"summary": "Called back", "company": {"id": 1}}).get_json()
    assert (
        api.patch(
            f"service/tickets/{ticket['id']}", [{"op": "replace", "path": "summary", "value": "Again"}]
        ).status_code
        == 200
    )
    assert api.delete(f"service/tickets/{ticket['id']}").status_code == 204
    received = receiver.wait_for(3)
    actions = [body["Action"] for _, body in received]
    assert actions[0] == "added" and actions[-1] == "deleted" and "updated" in actions
    path, body = received[0]
    assert path == f"/cw?id={ticket['id']}"  # a URL ending in `=` gets the record's id
    assert body["Type"] == "ticket" and body["ID"] == ticket["id"] and body["CallbackObjectRecId"] == callback["id"]
    assert body["CompanyId"] == api.world.backend.settings.company_id and body["MemberId"]
    entity = json.loads(body["Entity"])
    assert entity["id"] == ticket["id"] and entity["summary"] == "Called back"
    assert body["Metadata"]["key_url"].endswith(f"/service/tickets/{ticket['id']}")
    assert received[-1][1]["Entity"] is None
    journaled = wait_until(
        lambda: len(callback_entries(api)) >= 3 and callback_entries(api), what="journaled callbacks"
    )
    assert {entry.status for entry in journaled} == {204}
    assert journaled[0].path == receiver.url + f"/cw?id={ticket['id']}"
    assert f'"ID":{ticket["id"]},'.encode() in journaled[0].raw_body  # kept cut at the journal's body limit


def test_only_the_registered_type_and_level_fire(api: Api, receiver: Receiver) -> None:
    """Negative control: writes no registration watches send nothing. One worker delivers in order, so
    once the last (watched) write has arrived, any earlier delivery would have arrived before it."""
    register(api, receiver.url + "/companies", kind="company", level="company", objectId=2)
    register(api, receiver.url + "/inactive", kind="contact", inactiveFlag=True)
    api.patch("company/companies/1", [{"op": "replace", "path": "name", "value": "Not watched"}])
    api.patch("company/contacts/1", [{"op": "replace", "path": "firstName", "value": "Nobody"}])
    api.post("service/tickets", {"summary": "No ticket callback", "company": {"id": 1}})
    api.patch("company/companies/2", [{"op": "replace", "path": "name", "value": "Watched"}])
    received = receiver.wait_for(1)
    assert [(path, body["ID"], body["Type"]) for path, body in received] == [("/companies", 2, "company")]


def write_returns_before_delivery(api: Api, receiver: Receiver) -> bool:
    """With the receiver holding every request: does a write answer while its callback is still undelivered?"""
    register(api, receiver.url + "/slow")
    receiver.held.set()
    answer = api.post("service/tickets", {"summary": "Slow receiver", "company": {"id": 1}})
    assert answer.status_code == 201
    undelivered = not callback_entries(api)  # nothing journaled: the delivery is still waiting on the receiver
    receiver.release.set()
    return undelivered


def test_a_slow_receiver_never_holds_up_the_request(api: Api, receiver: Receiver) -> None:
    api.world.callbacks.timeout = (2.0, DEADLINE_S)
    try:
        assert write_returns_before_delivery(api, receiver)
        receiver.wait_for(1)
    finally:
        api.world.callbacks.timeout = (2.0, 5.0)


def test_the_slow_receiver_check_catches_delivery_on_the_request_thread(
    api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative control: delivering inside the write (the failure the worker prevents) fails the check."""
    monkeypatch.setattr(CallbackDispatcher, "_enqueue", lambda self, delivery: self.deliver(delivery))
    api.world.callbacks.timeout = (2.0, 0.3)  # the request thread gives up on the held receiver quickly
    try:
        assert not write_returns_before_delivery(api, receiver)
    finally:
        api.world.callbacks.timeout = (2.0, 5.0)


def test_a_callback_to_a_dead_port_is_journaled_as_failed(api: Api) -> None:
    dead = Receiver()
    url = dead.url + "/gone"
    dead.close()  # nothing listens there any more
    register(api, url)
    api.post("service/tickets", {"summary": "Nobody home", "company": {"id": 1}})
    entry = wait_until(lambda: next(iter(callback_entries(api)), None), what="the failed delivery in the journal")
    assert entry.status == 0 and entry.path == url


def test_a_fault_rule_on_callbacks_drops_the_delivery_and_the_journal_says_so(api: Api, receiver: Receiver) -> None:
    register(api, receiver.url + "/faulted")
    (rule,) = api.world.faults.add(
        load_fault_rules({"path": "callbacks/ticket", "count": 1, "effect": {"kind": "status", "status": 503}}, [])
    )
    try:
        first = api.post("service/tickets", {"summary": "Dropped", "company": {"id": 1}}).get_json()
        second = api.post("service/tickets", {"summary": "Delivered", "company": {"id": 1}}).get_json()
        received = receiver.wait_for(1)
        assert [body["ID"] for _, body in received] == [second["id"]]
        entries = wait_until(lambda: len(callback_entries(api)) >= 2 and callback_entries(api), what="both journaled")
        assert [(e.status, e.fault) for e in entries] == [(503, rule.id), (204, None)]
        assert f'"ID":{first["id"]},'.encode() in entries[0].raw_body
    finally:
        api.world.faults.clear()


def test_a_rule_that_does_not_name_callbacks_is_never_spent_on_one(api: Api, receiver: Receiver) -> None:
    """`*/ticket` would fit `/callbacks/ticket`; it is left alone because no rule names callbacks."""
    register(api, receiver.url + "/kept")
    (rule,) = api.world.faults.add(
        load_fault_rules({"path": "*/ticket", "count": 1, "effect": {"kind": "status", "status": 503}}, [])
    )
    try:
        api.post("service/tickets", {"summary": "Kept", "company": {"id": 1}})
        assert len(receiver.wait_for(1)) == 1 and rule.matched == 0
    finally:
        api.world.faults.clear()


def test_the_guard_is_what_keeps_such_a_rule_off_callbacks(
    api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative control: without the guard, the same rule drops the delivery."""
    monkeypatch.setattr(CallbackDispatcher, "_faulted", lambda self: True)
    register(api, receiver.url + "/lost")
    api.world.faults.add(
        load_fault_rules({"path": "*/ticket", "count": 1, "effect": {"kind": "status", "status": 503}}, [])
    )
    try:
        api.post("service/tickets", {"summary": "Lost", "company": {"id": 1}})
        entry = wait_until(lambda: next(iter(callback_entries(api)), None), what="the dropped delivery")
        assert entry.status == 503 and not receiver.received
    finally:
        api.world.faults.clear()
