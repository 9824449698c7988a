"""`GET /_sim/stats`: what the fake served and made, in total and per second, counted as it happens."""

from __future__ import annotations

from cwsim.simulator.connectwise.store import StoreEvent
from cwsim.simulator.stats import RateCounter, SimStats

from .conftest import Api

MAIL = b"From: alerts@datto.example\r\nTo: tech@msp.example\r\nSubject: CRITICAL ERROR for FS01\r\n\r\ndetails\r\n"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stats(api: Api) -> dict:
    return api.client.get("/_sim/stats").get_json()


def test_requests_tickets_notes_and_mail_are_counted(api: Api) -> None:
    ticket = api.post("service/tickets", {"summary": "x", "company": {"id": 1}, "initialDescription": "first"})
    ticket_id = ticket.get_json()["id"]
    api.post(f"service/tickets/{ticket_id}/notes", {"text": "second", "detailDescriptionFlag": True})
    api.get("service/tickets")
    api.world.mailbox.deliver("alerts@datto.example", ["tech@msp.example"], MAIL)
    body = stats(api)
    assert body["requests"]["total"] == 3  # the API's requests; /_sim itself is not counted
    assert body["tickets_created"]["total"] == 1
    assert body["notes_added"]["total"] == 2  # the initial description becomes the ticket's first note
    assert body["mail_caught"]["total"] == 1
    assert body["window_seconds"] == 5
    assert set(body["requests"]) == {"total", "per_second"}


def test_updates_and_refused_writes_create_nothing(api: Api) -> None:
    ticket_id = api.post("service/tickets", {"summary": "x", "company": {"id": 1}}).get_json()["id"]
    api.patch(f"service/tickets/{ticket_id}", [{"op": "replace", "path": "summary", "value": "y"}])
    assert api.post("service/tickets", {"summary": "no company"}).status_code == 400
    body = stats(api)
    assert body["tickets_created"]["total"] == 1 and body["requests"]["total"] == 3


def test_reset_sets_every_counter_back_to_zero(api: Api) -> None:
    api.post("service/tickets", {"summary": "x", "company": {"id": 1}})
    api.client.post("/_sim/reset")
    body = stats(api)
    assert [body[name]["total"] for name in ("requests", "tickets_created", "notes_added", "mail_caught")] == [0] * 4


def test_the_rate_is_over_the_last_whole_seconds_of_the_window() -> None:
    clock = FakeClock()
    counter = RateCounter(window=5, clock=clock)
    for second in range(5):
        clock.now = 1000.0 + second
        counter.add(10)
    clock.now = 1005.2
    counter.add(99)  # the second in progress is not in the rate yet
    assert counter.per_second() == 10.0 and counter.total == 149
    clock.now = 1008.0  # 1003, 1004 and 1005 are still in the window
    assert counter.per_second() == (10 + 10 + 99) / 5
    clock.now = 1100.0  # long quiet: buckets from before the window do not count, however the ring wraps
    assert counter.per_second() == 0.0 and counter.total == 149


def test_only_inserts_into_tickets_and_notes_count() -> None:
    stats = SimStats()
    record = {"id": 1}
    stats.on_store_event(StoreEvent("insert", "service/tickets", record, None))
    stats.on_store_event(StoreEvent("update", "service/tickets", record, record))
    stats.on_store_event(StoreEvent("insert", "company/companies", record, None))
    stats.on_store_event(StoreEvent("insert", "service/tickets/notes", record, None))
    stats.on_store_event(StoreEvent("delete", "service/tickets/notes", None, record))
    assert (stats.tickets_created.total, stats.notes_added.total) == (1, 1)
