"""The fault book's decision, without HTTP: windows on either clock, draws, counts, threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from cwsim.simulator.connectwise.store import StoreEvent
from cwsim.simulator.fault_schema import load_fault_rules
from cwsim.simulator.faults import FaultBook, FaultRequest, connectwise_path

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TICKETS = "/v4_6_release/apis/3.0/service/tickets"
COLLECTIONS = ["service/tickets", "service/tickets/notes", "service/boards"]


class Times:
    """Two clocks a test moves by hand: simulated and wall."""

    def __init__(self) -> None:
        self.simulated = START
        self.wall = START + timedelta(days=400)

    def book(self) -> FaultBook:
        return FaultBook(simulated=lambda: self.simulated, wall=lambda: self.wall)


def rules(*documents: dict[str, Any]) -> list:
    return load_fault_rules(list(documents), COLLECTIONS)


def status_of(book: FaultBook, method: str = "GET", path: str = TICKETS) -> int:
    decision = book.decide(FaultRequest(method, path))
    if decision is None or decision.answer_now is None:
        return 200
    return decision.answer_now.status


def test_a_wall_window_follows_the_wall_clock_not_the_simulated_one() -> None:
    times = Times()
    book = times.book()
    book.add(rules({"effect": {"kind": "outage"}, "window": {"duration_s": 30, "clock": "wall"}}))
    assert status_of(book) == 503
    times.simulated += timedelta(hours=5)
    assert status_of(book) == 503, "the simulated clock does not end a wall window"
    times.wall += timedelta(seconds=30)
    assert status_of(book) == 200
    assert book.describe()[0]["state"] == "over"


def test_a_simulated_window_follows_the_simulated_clock_not_the_wall() -> None:
    times = Times()
    book = times.book()
    book.add(rules({"effect": {"kind": "outage"}, "window": {"duration_s": 30}}))
    times.wall += timedelta(hours=5)
    assert status_of(book) == 503
    times.simulated += timedelta(seconds=30)
    assert status_of(book) == 200


def test_an_absolute_window_opens_and_closes_on_time() -> None:
    times = Times()
    book = times.book()
    window = {"start": "2026-03-02T09:10:00Z", "end": "2026-03-02T09:20:00+00:00"}
    book.add(rules({"effect": {"kind": "status", "status": 502}, "window": window}))
    seen = []
    for minute in (0, 9, 10, 15, 19, 20, 30):
        times.simulated = START + timedelta(minutes=minute)
        seen.append(status_of(book))
    assert seen == [200, 200, 502, 502, 502, 200, 200]


def test_a_window_without_a_timezone_is_utc() -> None:
    times = Times()
    book = times.book()
    book.add(rules({"effect": {"kind": "status", "status": 502}, "window": {"start": "2026-03-02T09:10:00"}}))
    assert book.rules[0].window.start == START + timedelta(minutes=10)


def test_a_duration_counts_from_its_start_when_one_is_given() -> None:
    times = Times()
    book = times.book()
    book.add(rules({"effect": {"kind": "outage"}, "window": {"start": "2026-03-02T10:00:00Z", "duration_s": 60}}))
    assert book.describe()[0]["window"]["end"] == "2026-03-02T10:01:00Z"


def test_a_probability_hits_roughly_its_rate_and_repeats_with_its_seed() -> None:
    def draws(seed: int) -> list[int]:
        book = Times().book()
        book.add(rules({"probability": 0.3, "seed": seed, "effect": {"kind": "status", "status": 503}}))
        return [status_of(book) for _ in range(5000)]

    first = draws(5)
    assert first == draws(5)
    assert 0.27 <= first.count(503) / len(first) <= 0.33


def test_without_a_seed_a_rule_takes_the_worlds() -> None:
    book = FaultBook(simulated=lambda: START, default_seed=42)
    book.add(rules({"probability": 0.5, "effect": {"kind": "status", "status": 503}}))
    assert book.describe()[0]["seed"] == 42


def test_a_count_rule_fires_exactly_n_times_across_threads() -> None:
    book = Times().book()
    book.add(rules({"count": 50, "effect": {"kind": "status", "status": 503}}))
    hits = []

    def hammer() -> None:
        hits.extend(status_of(book) for _ in range(100))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert hits.count(503) == 50 and len(hits) == 800
    assert book.rules[0].fired == 50


def test_commit_then_fail_fires_once_per_request_and_only_while_watched() -> None:
    book = Times().book()
    book.add(rules({"count": 2, "effect": {"kind": "commit_then_fail"}}))
    event = StoreEvent("insert", "service/tickets", {"id": 1}, None)
    book.on_store_event(event)
    assert book.rules[0].fired == 0, "a write outside any request"
    decision = book.decide(FaultRequest("POST", TICKETS))
    assert decision is not None and decision.waits_for_commit and decision.answer_now is None
    token = book.watch_commits(decision)
    book.on_store_event(event)
    book.on_store_event(StoreEvent("insert", "service/tickets/notes", {"id": 1}, None))
    book.stop_watching(token)
    book.on_store_event(event)
    assert decision.committed and book.rules[0].fired == 1


def test_a_removed_rule_does_not_fire_for_a_request_already_watching() -> None:
    book = Times().book()
    [rule] = book.add(rules({"effect": {"kind": "commit_then_fail"}}))
    decision = book.decide(FaultRequest("POST", TICKETS))
    token = book.watch_commits(decision)
    book.remove(rule.id)
    book.on_store_event(StoreEvent("insert", "service/tickets", {"id": 1}, None))
    book.stop_watching(token)
    assert not decision.committed and rule.fired == 0


def test_a_collection_rule_asks_for_the_lineage_only_when_needed() -> None:
    asked = []

    def lineage(api_path: str) -> tuple[str, ...]:
        asked.append(api_path)
        return ("service/tickets",) if api_path.startswith("service/tickets") else ()

    book = Times().book()
    book.add(rules({"method": "POST", "collection": "service/tickets", "effect": {"kind": "status", "status": 503}}))
    assert book.decide(FaultRequest("GET", TICKETS, lineage)) is None
    assert asked == [], "the method ruled it out first"
    assert book.decide(FaultRequest("POST", TICKETS + "/", lineage)) is not None
    assert asked == ["service/tickets"]
    assert book.decide(FaultRequest("POST", "/v1/bcdr/device", lineage)) is None
    assert asked == ["service/tickets"], "not a ConnectWise path: no collection"


def test_the_connectwise_path_is_what_follows_apis_3_0() -> None:
    assert connectwise_path("/v4_6_release/apis/3.0/service/tickets/") == "service/tickets"
    assert connectwise_path("/v2025_1/apis/3.0/") == ""
    assert connectwise_path("/v4_6_release/apis/3.0") == ""
    assert connectwise_path("/v1/bcdr/device") is None
    assert connectwise_path("/login/companyinfo/cwsim") is None
    assert connectwise_path("/") is None


def test_reset_comes_back_to_the_start_rules_with_ids_from_one() -> None:
    book = Times().book()
    book.set_initial(rules({"count": 1, "effect": {"kind": "status", "status": 503}}))
    assert status_of(book) == 503 and status_of(book) == 200
    book.add(rules({"effect": {"kind": "status", "status": 502}}))
    book.reset()
    assert [rule.id for rule in book.rules] == [1]
    assert status_of(book) == 503
