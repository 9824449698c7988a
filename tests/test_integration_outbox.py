"""The outbox: its state machine, claims under concurrency, leases and recovery, and surviving kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cwsim.integration.outbox import INSERT_ROWS_PER_STATEMENT, AlertEvent, ClaimLost, Outbox

BATCH = 50


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(tmp_path: Path, clock: Clock) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite3", lease_seconds=60, clock=clock)
    yield box
    box.close()


def raised(key: str, **payload: object) -> AlertEvent:
    return AlertEvent(key, "raise", {"serial": "00012E94105B", **payload})


# --------------------------------------------------------------------------- intake


def test_the_file_is_in_wal_mode_with_normal_sync(outbox: Outbox) -> None:
    connection = outbox._connection()
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_enqueue_is_idempotent_per_alert_event(outbox: Outbox) -> None:
    assert outbox.enqueue(raised("a", note="é✓"))
    assert not outbox.enqueue(raised("a", note="sent again"))
    repeat_2, repeat_3 = (AlertEvent("a", "repeat", {"numberSeen": n}, occurrence=str(n)) for n in (2, 3))
    assert outbox.enqueue_many([repeat_2, repeat_3, repeat_2, raised("b"), AlertEvent("a", "clear", {})]) == 4
    assert [(d.event, d.occurrence) for d in outbox.find("a")] == [
        ("raise", ""),
        ("repeat", "2"),
        ("repeat", "3"),
        ("clear", ""),
    ]
    assert outbox.find("a")[0].payload == {"serial": "00012E94105B", "note": "é✓"}
    assert outbox.stats().states["queued"] == 5


def test_a_batch_of_several_statements_is_stored_whole_and_once(outbox: Outbox) -> None:
    """Past INSERT_ROWS_PER_STATEMENT, a batch is several INSERTs in one transaction."""
    size = INSERT_ROWS_PER_STATEMENT * 2 + 34
    events = [raised(f"k{n}", n=n) for n in range(size)]
    assert outbox.enqueue_many(events + events[:3] + events[-3:]) == size
    assert outbox.enqueue_many(events[INSERT_ROWS_PER_STATEMENT - 1 : INSERT_ROWS_PER_STATEMENT + 1]) == 0
    assert outbox.stats().states["queued"] == size
    assert outbox.find(f"k{size - 1}")[0].payload["n"] == size - 1


def test_alert_events_are_checked(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="event must be"):
        AlertEvent("a", "resolve", {})
    with pytest.raises(ValueError, match="key"):
        AlertEvent("", "raise", {})


def test_a_batch_is_one_transaction(outbox: Outbox) -> None:
    with pytest.raises(TypeError):
        outbox.enqueue_many([raised("a"), AlertEvent("b", "raise", {"not json": object()})])
    assert outbox.stats().depth == 0


# --------------------------------------------------------------------------- the state machine


def test_a_raise_goes_queued_create_sent_created_linked_done(outbox: Outbox, clock: Clock) -> None:
    outbox.enqueue(raised("a"))
    (delivery,) = outbox.claim("w1")
    assert (delivery.state, delivery.attempts, delivery.claimed_by) == ("queued", 1, "w1")
    outbox.mark_create_sent(delivery.id, "w1")
    outbox.mark_created(delivery.id, "w1", ticket_id=501)
    outbox.mark_linked(delivery.id, "w1")
    clock.now += 2.5
    outbox.mark_done(delivery.id, "w1")

    done = outbox.get(delivery.id)
    assert done is not None
    assert (done.state, done.ticket_id, done.claimed_by, done.lease_until) == ("done", 501, None, None)
    stats = outbox.stats()
    assert (stats.depth, stats.delivered, stats.failed) == (0, 1, 0)
    assert stats.lag == {"p50": 2.5, "p90": 2.5, "p95": 2.5, "p99": 2.5, "max": 2.5}
    assert outbox.lag_samples() == [2.5]


def test_a_note_goes_from_create_sent_to_done_only_with_its_id(outbox: Outbox) -> None:
    outbox.enqueue(AlertEvent("a", "repeat", {}, "2"))
    (note,) = outbox.claim("w1")
    outbox.mark_create_sent(note.id, "w1", ticket_id=7, mail="sent")
    with pytest.raises(ValueError, match="cannot go from create_sent to done"):
        outbox.mark_done(note.id, "w1")
    outbox.mark_done(note.id, "w1", note_id=70)
    done = outbox.get(note.id)
    assert (done.state, done.ticket_id, done.note_id, done.mail) == ("done", 7, 70, "sent")  # type: ignore[union-attr]
    assert outbox.stats().mail == {"sent": 1, "held_back": 0, "failed": 0, "unwanted": 0}


def test_notes_skips_and_failures(outbox: Outbox) -> None:
    outbox.enqueue_many([AlertEvent("a", "repeat", {}, "2"), raised("screenshot"), raised("c")])
    note, screenshot, broken = outbox.claim("w1", limit=3)
    outbox.mark_create_sent(note.id, "w1")
    outbox.mark_created(note.id, "w1", ticket_id=7, note_id=70)
    outbox.mark_done(note.id, "w1")
    outbox.mark_skipped(screenshot.id, "w1", "screenshot alerts never make tickets")
    outbox.mark_failed(broken.id, "w1", "400 InvalidObject: company")

    assert outbox.get(note.id).note_id == 70  # type: ignore[union-attr]
    assert outbox.get(screenshot.id).last_error == "screenshot alerts never make tickets"  # type: ignore[union-attr]
    stats = outbox.stats()
    assert (stats.states["done"], stats.states["skipped"], stats.failed, stats.depth) == (1, 1, 1, 0)

    outbox.requeue(broken.id)
    (again,) = outbox.claim("w2")
    assert (again.id, again.state, again.attempts) == (broken.id, "queued", 2)


@pytest.mark.parametrize(
    ("steps", "move"),
    [
        ([], "mark_linked"),
        ([], "mark_created"),
        (["mark_create_sent"], "mark_done"),
        (["mark_create_sent"], "mark_skipped"),
        (["mark_create_sent", "mark_created", "mark_done"], "mark_done"),
    ],
)
def test_a_transition_from_the_wrong_state_is_refused(outbox: Outbox, steps: list[str], move: str) -> None:
    outbox.enqueue(raised("a"))
    (delivery,) = outbox.claim("w1")
    for step in steps:
        getattr(outbox, step)(delivery.id, "w1")
    with pytest.raises(ValueError, match="cannot go"):
        getattr(outbox, move)(delivery.id, "w1", *(("reason",) if move == "mark_skipped" else ()))


def test_an_alerts_later_events_wait_for_its_earlier_ones(outbox: Outbox) -> None:
    outbox.enqueue_many([raised("a"), AlertEvent("a", "repeat", {}, "2"), raised("b")])
    first = outbox.claim("w1", limit=10)
    assert [(d.alert_key, d.event) for d in first] == [("a", "raise"), ("b", "raise")]
    assert outbox.claim("w2", limit=10) == []
    outbox.mark_create_sent(first[0].id, "w1")
    outbox.mark_created(first[0].id, "w1", ticket_id=1)
    outbox.mark_done(first[0].id, "w1")
    assert [(d.alert_key, d.event) for d in outbox.claim("w2", limit=10)] == [("a", "repeat")]


def test_retry_later_holds_a_delivery_back(outbox: Outbox, clock: Clock) -> None:
    outbox.enqueue(raised("a"))
    (delivery,) = outbox.claim("w1")
    outbox.retry_later(delivery.id, "w1", "429 from ConnectWise", delay=30)
    assert outbox.claim("w1") == []
    clock.now += 30
    (again,) = outbox.claim("w2")
    assert (again.attempts, again.last_error, again.state) == (2, "429 from ConnectWise", "queued")


# --------------------------------------------------------------------------- claims, leases, recovery


def test_an_expired_lease_lets_another_worker_take_over(outbox: Outbox, clock: Clock) -> None:
    outbox.enqueue(raised("a"))
    (delivery,) = outbox.claim("w1")
    clock.now += 59
    assert outbox.claim("w2") == []
    outbox.mark_create_sent(delivery.id, "w1")  # a transition renews the lease
    clock.now += 59
    assert outbox.claim("w2") == []
    clock.now += 2
    (taken,) = outbox.claim("w2")
    assert (taken.id, taken.attempts, taken.needs_lookup) == (delivery.id, 2, True)
    with pytest.raises(ClaimLost, match="claimed by w2"):
        outbox.mark_created(delivery.id, "w1", ticket_id=5)


def test_recovery_releases_claims_and_sends_create_sent_rows_to_a_lookup(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "outbox.sqlite3"
    before = Outbox(path, clock=clock)
    before.enqueue_many([raised("a"), raised("b")])
    a, _ = before.claim("old-run-worker", limit=2)
    before.mark_create_sent(a.id, "old-run-worker")  # ... and the process dies here, the POST's answer unknown
    before.close()

    after = Outbox(path, clock=clock)
    assert after.claim("new-worker", limit=2) == []  # still leased to the dead run's worker
    assert after.recover() == 1
    claimed = {d.alert_key: d for d in after.claim("new-worker", limit=2)}
    assert claimed["a"].needs_lookup and claimed["a"].state == "create_sent"
    assert not claimed["b"].needs_lookup
    after.mark_created(a.id, "new-worker", ticket_id=42)  # the lookup found the ticket: no second POST
    after.close()


def test_concurrent_workers_never_take_the_same_row(outbox: Outbox) -> None:
    outbox.enqueue_many(raised(f"alert-{n}") for n in range(600))
    taken: dict[str, list[int]] = {}
    start, everyone_has_some = threading.Barrier(6), threading.Barrier(6)

    def work(worker: str) -> None:
        start.wait()
        mine = taken.setdefault(worker, [])
        batch = outbox.claim(worker, limit=7)
        everyone_has_some.wait()  # so every worker takes part, whichever thread the scheduler favours
        while batch:
            for delivery in batch:
                mine.append(delivery.id)
                if delivery.id % 2:  # half finish, half stay claimed: neither may be handed out again
                    outbox.mark_done(delivery.id, worker)
            batch = outbox.claim(worker, limit=7)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [delivery_id for ids in taken.values() for delivery_id in ids]
    assert len(every) == len(set(every)) == 600
    assert all(len(ids) >= 7 for ids in taken.values())
    assert outbox.stats().delivered == 300


def test_purge_forgets_old_finished_rows(outbox: Outbox, clock: Clock) -> None:
    outbox.enqueue_many([raised("a"), raised("b")])
    a, _ = outbox.claim("w1", limit=2)
    outbox.mark_skipped(a.id, "w1", "nowhere")
    clock.now += 10
    assert outbox.purge(finished_before=clock.now) == 1
    assert outbox.enqueue(raised("a"))  # forgotten, so new again
    assert outbox.stats().depth == 2


def test_finished_since_lists_each_finished_delivery_once_with_its_lag(outbox: Outbox, clock: Clock) -> None:
    outbox.enqueue_many([raised("a"), raised("b"), raised("c"), raised("d")])
    a, b, c, d = outbox.claim("w1", limit=4)
    start = clock.now
    clock.now += 0.25
    outbox.mark_create_sent(a.id, "w1")
    outbox.mark_created(a.id, "w1", ticket_id=5)
    outbox.mark_done(a.id, "w1")
    clock.now += 0.25
    outbox.mark_skipped(b.id, "w1", "nowhere")
    outbox.mark_failed(c.id, "w1", "400")
    rows = [delivery.as_row() for delivery in outbox.finished_since(start)]
    assert rows == [
        [a.id, start + 0.25, 0.25, "done", True],
        [b.id, start + 0.5, 0.5, "skipped", False],
        [c.id, start + 0.5, 0.5, "failed", False],
    ]
    assert [delivery.id for delivery in outbox.finished_since(start + 0.25)] == [b.id, c.id]
    assert [delivery.id for delivery in outbox.finished_since(start, limit=1)] == [a.id]
    assert d.id not in [delivery.id for delivery in outbox.finished_since(0)]  # still active


def test_finished_since_reads_the_finished_at_index(outbox: Outbox) -> None:
    plan = outbox._connection().execute(
        "EXPLAIN QUERY PLAN SELECT id, finished_at, finished_at - enqueued_at, state, ticket_id IS NOT NULL"
        " FROM deliveries WHERE finished_at > ? ORDER BY finished_at, id LIMIT ?",
        (0, 10),
    )
    assert any("deliveries_finished" in row[3] for row in plan)


# --------------------------------------------------------------------------- durability

CHILD = """
import sys, threading
from cwsim.integration.outbox import AlertEvent, Outbox

path, mode, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
outbox = Outbox(path)
batch = 0
while True:
    events = [AlertEvent(f"alert-{batch}-{n}", "raise", {"batch": batch}) for n in range(size)]
    if mode == "durable":
        outbox.enqueue_many(events)
    else:  # the bug the test must catch: acknowledge inside the transaction, before COMMIT
        connection = outbox._connection()
        connection.execute("BEGIN IMMEDIATE")
        outbox._insert(connection, outbox._rows(events))
    print(f"ACK {batch}", flush=True)
    if mode != "durable":
        threading.Event().wait()
    batch += 1
"""


def kill_after_acknowledgements(path: Path, mode: str, wanted: int) -> list[int]:
    """Run an enqueuing process, read `wanted` acknowledgements, SIGKILL it; return the acknowledged batches."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), mode, str(BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(120, child.kill)  # only if the child hangs before acknowledging
    watchdog.start()
    acknowledged: list[int] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            acknowledged.append(int(line.split()[1]))
            if len(acknowledged) == wanted:
                break
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        watchdog.cancel()
    assert len(acknowledged) == wanted, child.stderr.read() if child.stderr else ""
    assert child.returncode == -signal.SIGKILL
    return acknowledged


def rows_per_batch(path: Path) -> dict[int, int]:
    outbox = Outbox(path)  # opening recovers the write-ahead log the killed process left
    connection = outbox._connection()
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    counts: dict[int, int] = {}
    for (key,) in connection.execute("SELECT alert_key FROM deliveries"):
        batch = int(key.split("-")[1])
        counts[batch] = counts.get(batch, 0) + 1
    outbox.close()
    return counts


def lost(acknowledged: list[int], counts: dict[int, int]) -> list[int]:
    return [batch for batch in acknowledged if counts.get(batch, 0) != BATCH]


def test_acknowledged_alerts_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    acknowledged = kill_after_acknowledgements(path, "durable", wanted=20)
    counts = rows_per_batch(path)
    assert lost(acknowledged, counts) == []
    assert set(counts.values()) == {BATCH}  # the batch in flight at the kill is all there or not at all


def test_negative_control_an_outbox_that_acknowledges_before_commit_loses_them(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    acknowledged = kill_after_acknowledgements(path, "ack-before-commit", wanted=1)
    assert lost(acknowledged, rows_per_batch(path)) == acknowledged  # the check above would have failed


def test_a_fresh_file_has_the_schema(tmp_path: Path) -> None:
    Outbox(tmp_path / "new.sqlite3").close()
    with sqlite3.connect(tmp_path / "new.sqlite3") as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(deliveries)")]
    assert columns[:8] == ["id", "alert_key", "event", "occurrence", "payload", "state", "attempts", "ticket_id"]


def test_an_events_email_waits_for_the_earlier_events_of_its_device_and_alert_type(tmp_path) -> None:
    """Hold-back is per device and alert type, so those events decide their emails in order."""
    outbox = Outbox(tmp_path / "outbox.sqlite3")

    def event(volume: str, occurrence: str) -> AlertEvent:
        payload = {
            "serialNumber": "00012E94105B",
            "alertType": "backup_failed",
            "volume": volume,
            "recipients": ["a@x"],
        }
        return AlertEvent(f"00012E94105B:{volume}:BAK0013", "raise", payload, occurrence)

    outbox.enqueue_many([event("a" * 32, "1"), event("b" * 32, "2")])
    first = outbox.claim("w1", limit=5)
    assert [d.payload["volume"][0] for d in first] == ["a"], "the second agent's email must wait for the first's"
    outbox.mark_mail(first[0].id, "w1", "sent")
    second = outbox.claim("w2", limit=5)
    assert [d.payload["volume"][0] for d in second] == ["b"], "once the first email is decided, the next goes"


def test_negative_control_without_a_shared_group_both_are_claimed_at_once(tmp_path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    events = [
        AlertEvent(
            f"{serial}:{'a' * 32}:BAK0013",
            "raise",
            {"serialNumber": serial, "alertType": "backup_failed", "recipients": ["a@x"]},
        )
        for serial in ("00012E94105B", "00012E94105C")
    ]
    outbox.enqueue_many(events)
    assert len(outbox.claim("w1", limit=5)) == 2


def test_behind_a_held_event_a_later_one_is_taken_once_for_its_email_then_waits(tmp_path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    payload = {"serialNumber": "00012E94105B", "alertType": "backup_failed", "recipients": ["a@x.example"]}
    key = f"00012E94105B:{'a' * 32}:BAK0013"
    outbox.enqueue_many([AlertEvent(key, "raise", payload), AlertEvent(key, "repeat", payload, "2")])
    (raised_,) = outbox.claim("w1", limit=5)
    outbox.mark_mail(raised_.id, "w1", "sent")
    outbox.hold(raised_.id, "w1", "held: no company", 0.0)
    claimed = {d.event: d for d in outbox.claim("w1", limit=5)}
    assert set(claimed) == {"raise", "repeat"}, "the repeat is taken for its email although the raise is held"
    outbox.hold(claimed["raise"].id, "w1", "held: no company", 0.0)
    repeat = claimed["repeat"]
    assert outbox.waits_for_earlier(repeat)
    outbox.mark_mail(repeat.id, "w1", "held_back")
    outbox.hold(repeat.id, "w1", "held: waits for the raise", 0.0)
    assert [d.event for d in outbox.claim("w2", limit=5)] == ["raise"], "its email decided, it waits in order again"


def test_events_that_email_nobody_have_no_mail_group() -> None:
    assert AlertEvent("k", "clear", {"serialNumber": "S", "alertType": "t", "recipients": ["a@x"]}).mail_group == ""
    assert AlertEvent("k", "raise", {"serialNumber": "S", "alertType": "t", "recipients": []}).mail_group == ""
    assert AlertEvent("k", "raise", {"serialNumber": "S", "alertType": "t", "recipients": ["a@x"]}).mail_group == "S:t"
