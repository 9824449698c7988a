"""Alerts of a device nobody mapped yet, across faults: every event ends delivered or held, every email goes.

The reproduction of a lost promise: a device whose client ConnectWise lacks raises a backup failure
that repeats for days; ConnectWise fails for a while (an outage, a 429 storm, or commit-then-fail
on the other devices' tickets, which opens the workers' circuit breaker); a second agent of the
same device fails. An event of the held alert that was taken for its email and then met the
failure used to stop every later event of its alert, and so every later email of that device and
alert type, until the device was mapped. Now each event ends held with its email decided, and the
documented drain conditions of /status are met. The negative control puts the old claim rule back
and shows the same run failing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cwsim.integration import outbox as outbox_module
from cwsim.integration.outbox import ACTIVE_STATES, AlertEvent, Outbox
from cwsim.integration.status import caught_up, drained

from .alertkit import (
    advance,
    agents,
    alert_events,
    backup_failure,
    busy_day,
    integration,
    integration_settings,
    not_screenshot,
    onboard,
    quiet_fleet,
    score,
    wait_until,
)

pytestmark = pytest.mark.slow

SERIAL = "00012E94105B"
KEY = f"{SERIAL}:{'a' * 32}:BAK0013"
PAYLOAD = {"serialNumber": SERIAL, "alertType": "backup_failed", "recipients": ["a@x.example"]}

# The claim's order rule before the fix: a later event could pass only an earlier event that was
# held *itself*, so one taken for its email and put back after a failure blocked everything behind it.
_ACTIVE = ", ".join(f"'{state}'" for state in ACTIVE_STATES)
OLD_IN_ORDER = f"""
          NOT EXISTS (SELECT 1 FROM deliveries AS earlier
                       WHERE earlier.alert_key = d.alert_key AND earlier.id < d.id
                         AND earlier.state IN ({_ACTIVE})
                         AND NOT (earlier.held = 1 AND d.mail IS NULL))
          AND (d.mail IS NOT NULL OR d.mail_group = ''
               OR NOT EXISTS (SELECT 1 FROM deliveries AS earlier
                               WHERE earlier.mail_group = d.mail_group AND earlier.id < d.id
                                 AND earlier.state IN ({_ACTIVE}) AND earlier.mail IS NULL))"""


@pytest.fixture
def old_claim_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Today's claim, with the order rule as it was before the fix (the negative control)."""
    monkeypatch.setattr(outbox_module, "_CLAIM", outbox_module._CLAIM.replace(outbox_module._IN_ORDER, OLD_IN_ORDER))


def held_alert(outbox: Outbox) -> None:
    """A raise whose device is unmapped, held; two repeats behind it, the first taken for its email
    and put back after ConnectWise failed (as the open circuit breaker does)."""
    outbox.enqueue_many(
        [AlertEvent(KEY, "raise", PAYLOAD), *(AlertEvent(KEY, "repeat", PAYLOAD, str(n)) for n in (2, 3))]
    )
    (raise_,) = outbox.claim("w1", limit=5)
    outbox.mark_mail(raise_.id, "w1", "sent")
    outbox.hold(raise_.id, "w1", "held: no company", 60.0)
    (first_repeat,) = outbox.claim("w1", limit=5)
    assert first_repeat.occurrence == "2"
    outbox.mark_mail(first_repeat.id, "w1", "held_back")
    outbox.retry_later(first_repeat.id, "w1", "ConnectWise has been failing", 0.0)


# --------------------------------------------------------------------------- the outbox's rule


def test_an_event_put_back_after_a_failure_never_stops_the_emails_behind_it(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    held_alert(outbox)
    claimable = {d.occurrence for d in outbox.claim("w2", limit=5)}
    assert "3" in claimable, "the second repeat is taken for its email while the alert is held"
    assert "2" not in claimable, "the first repeat, its email decided, waits behind the held raise"


def test_negative_control_the_old_rule_strands_the_emails_behind_it(tmp_path: Path, old_claim_rule: None) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    held_alert(outbox)
    assert [d.occurrence for d in outbox.claim("w2", limit=5) if d.event == "repeat"] == []


def test_the_active_rows_split_into_todo_held_and_waiting(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    held_alert(outbox)
    stats = outbox.stats()
    assert (stats.depth, stats.todo, stats.held, stats.waiting) == (3, 1, 2, 0)  # the second repeat's email to do
    (second,) = (d for d in outbox.claim("w2", limit=5) if d.occurrence == "3")
    outbox.mark_mail(second.id, "w2", "held_back")
    outbox.hold(second.id, "w2", "held: waits for the raise", 0.0)
    stats = outbox.stats()
    assert (stats.todo, stats.held, stats.waiting) == (0, 3, 0)
    status = {"depth": stats.depth, "todo": stats.todo, "held": stats.held, "waiting": stats.waiting}
    assert caught_up(status) and drained(status)

    other = AlertEvent("other", "raise", {"serialNumber": "S2", "alertType": "t", "recipients": []})
    outbox.enqueue(other)
    (claimed,) = outbox.claim("w3", limit=5)
    assert outbox.stats().todo == 1, "being worked on is the integration's own work"
    outbox.retry_later(claimed.id, "w3", "503 from ConnectWise", 30.0)
    stats = outbox.stats()
    assert (stats.todo, stats.held, stats.waiting) == (0, 3, 1)
    status = {"depth": stats.depth, "todo": stats.todo, "held": stats.held, "waiting": stats.waiting}
    assert caught_up(status) and not drained(status)


def test_an_own_failure_stays_todo(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.enqueue(AlertEvent("k", "raise", {"serialNumber": "S", "recipients": []}))
    (claimed,) = outbox.claim("w1")
    outbox.retry_later(claimed.id, "w1", "unexpected KeyError", 30.0, outside=False)
    assert outbox.stats().todo == 1


def test_a_file_written_before_the_retrying_column_opens(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    Outbox(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("ALTER TABLE deliveries DROP COLUMN retrying")
    outbox = Outbox(path)
    outbox.enqueue(AlertEvent("k", "raise", {"serialNumber": "S", "recipients": []}))
    assert outbox.stats().todo == 1


# --------------------------------------------------------------------------- the whole reproduction

FAULTS = {
    "outage": {"path": "*", "effect": {"kind": "outage"}, "window": {"clock": "wall", "duration_s": 8}},
    "throttling": {"path": "*", "probability": 0.5, "seed": 2, "count": 40, "effect": {"kind": "throttle"}},
    "commit then fail": {
        "method": "POST",
        "collection": "service/tickets",
        "probability": 0.6,
        "seed": 3,
        "effect": {"kind": "commit_then_fail", "status": 500},
    },
}


def status_of(service: Any) -> dict[str, Any]:
    return service.board.report(fresh=True)


def run_the_reproduction(cwsim, admin, cw, tmp_path: Path, fault: dict[str, Any], timeout: float) -> dict[str, Any]:
    devices = quiet_fleet(admin)
    unmapped = next(device for device in devices if len(agents(device)) >= 2)
    mapped = [device for device in devices if device is not unmapped]
    state = tmp_path / "state"
    onboard(cw, state, mapped)
    with integration(integration_settings(cwsim.facts, state), admin) as service:
        backup_failure(admin, unmapped, agents(unmapped)[0], attempts=40)
        busy_day(admin, mapped)
        advance(admin, "P1D")
        wait_until(lambda: caught_up(status_of(service)), timeout, "the first day to be delivered or held")
        response = admin.post("faults", json=fault)
        assert response.status_code == 201, response.text
        rule = response.json()["id"]
        busy_day(admin, mapped)  # the other devices' tickets meet the fault too (and open the breaker)
        advance(admin, "P1D")
        wait_until(lambda: caught_up(status_of(service)), timeout, "the second day to be tried")
        backup_failure(admin, unmapped, agents(unmapped)[1], attempts=40)
        advance(admin, "P1D")
        fired = admin.get(f"faults/{rule}").json()["fired"]
        admin.delete("faults").raise_for_status()
        status = wait_until(lambda: (s := status_of(service)) and drained(s) and s, timeout, "all but the held to go")
        rows = service.outbox._connection().execute("SELECT * FROM deliveries ORDER BY id").fetchall()
    events = alert_events(admin)
    return {"status": status, "rows": rows, "events": events, "unmapped": unmapped["serialNumber"], "fired": fired}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_every_event_ends_delivered_or_held_and_every_email_goes(cwsim, admin, cw, tmp_path: Path, fault) -> None:
    run = run_the_reproduction(cwsim, admin, cw, tmp_path, fault, timeout=120)
    status, rows = run["status"], run["rows"]
    assert run["fired"] >= 3, "the integration met the fault"
    theirs = [row for row in rows if run["unmapped"] in row["alert_key"]]
    assert len(theirs) >= 40, "the unmapped device raised and repeated its two alerts"
    assert status["todo"] == 0 and status["waiting"] == 0 and status["failed"] == 0
    assert status["held"] == status["depth"] == sum(1 for row in theirs if row["state"] in ACTIVE_STATES)
    assert all(row["state"] in ACTIVE_STATES for row in theirs if row["event"] != "clear")
    undecided = [dict(row) for row in rows if row["mail_group"] and row["mail"] is None]
    assert undecided == [], "every email due went out (or was held back) while the device was unmapped"
    sent = sum(1 for row in theirs if row["mail"] == "sent")
    assert sent >= 3, "a day's first email of each alert type goes out (the hold-back is an hour)"
    others = [event for event in run["events"] if event["serialNumber"] != run["unmapped"]]
    admin.delete("faults").raise_for_status()
    assert score(cw).problems(others, ticketed=not_screenshot) == []


def test_negative_control_the_old_rule_strands_events_and_emails(
    cwsim, admin, cw, tmp_path: Path, old_claim_rule: None
) -> None:
    with pytest.raises(AssertionError, match="for the second day to be tried"):
        run_the_reproduction(cwsim, admin, cw, tmp_path, FAULTS["outage"], timeout=60)


def test_events_behind_one_in_flight_are_waiting_not_to_do(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.enqueue_many(
        [AlertEvent(KEY, "raise", PAYLOAD), *(AlertEvent(KEY, "repeat", PAYLOAD, str(n)) for n in (2, 3))]
    )
    stats = outbox.stats()
    assert (stats.depth, stats.todo, stats.held, stats.waiting) == (3, 1, 0, 2)
    (raise_,) = outbox.claim("w1", limit=5)
    assert outbox.stats().todo == 1, "the raise in flight; the repeats wait behind it"
    outbox.mark_done(raise_.id, "w1", mail="sent")
    assert outbox.stats().todo == 1, "the first repeat is next: to do; the second waits behind it"


def test_the_held_exception_probes_the_held_index(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    plan = " ".join(
        row[-1]
        for row in outbox._connection().execute(
            "EXPLAIN QUERY PLAN " + outbox_module._CLAIM,
            {"worker": "w", "lease_until": 0.0, "now": 0.0, "limit": 1},
        )
    )
    assert "deliveries_held_by_alert" in plan, plan
