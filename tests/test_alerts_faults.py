"""The integration under faults: every alert the fleet sent ends as exactly one ticket or note.

An outage, a 429 storm, 30% random 503s, connection resets after the server answered, and
commit-then-fail on ticket, note and link creation; and a negative control: with the look-up
before re-posting switched off, commit-then-fail duplicates a ticket, so the scoring can fail.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from .alertkit import (
    advance,
    agents,
    alert_events,
    busy_day,
    drained,
    integration,
    integration_settings,
    not_screenshot,
    onboard,
    quiet_fleet,
    score,
    wait_until,
)
from .resetproxy import ResetProxy


def fault(admin: requests.Session, rule: dict[str, Any]) -> int:
    response = admin.post("faults", json=rule)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def fired(admin: requests.Session, rule: int) -> int:
    return admin.get(f"faults/{rule}").json()["fired"]


def assert_each_alert_once(admin: requests.Session, cw: requests.Session, status: dict[str, Any]) -> list[dict]:
    admin.delete("faults").raise_for_status()  # the scoring's own reads must not be faulted
    events = alert_events(admin)
    assert len(events) >= 60
    assert status["accepted"] >= len(events) and status["failed"] == 0 and status["held"] == 0
    assert score(cw).problems(events, ticketed=not_screenshot) == []
    return events


@pytest.mark.slow
@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(
            {"path": "*", "probability": 0.3, "seed": 5, "effect": {"kind": "status", "status": 503}},
            id="30% random 503s",
        ),
        pytest.param(
            {"path": "*", "probability": 0.5, "seed": 2, "count": 12, "effect": {"kind": "throttle", "retry_after": 1}},
            id="429 storm",
        ),
        pytest.param(
            {
                "method": "POST",
                "collection": "service/tickets",
                "probability": 0.5,
                "seed": 3,
                "effect": {"kind": "commit_then_fail", "status": 500},
            },
            id="commit then fail",
        ),
        pytest.param(
            {
                "method": "POST",
                "collection": "service/tickets",
                "probability": 0.4,
                "seed": 4,
                "effect": {"kind": "commit_then_fail", "status": 504, "latency_ms": 20},
            },
            id="gateway timeout after commit",
        ),
    ],
)
def test_every_alert_is_one_ticket_or_note_under_faults(cwsim, admin, cw, tmp_path: Path, rule: dict) -> None:
    devices = quiet_fleet(admin)
    state = tmp_path / "state"
    onboard(cw, state, devices)
    rule_id = fault(admin, rule)
    with integration(integration_settings(cwsim.facts, state), admin) as service:
        busy_day(admin, devices)
        advance(admin, "P1D")
        status = drained(f"{service.url}/status")
    assert fired(admin, rule_id) >= 5
    assert_each_alert_once(admin, cw, status)


@pytest.mark.slow
def test_a_connection_reset_after_the_answer_never_duplicates(cwsim, admin, cw, tmp_path: Path) -> None:
    devices = quiet_fleet(admin)
    state = tmp_path / "state"
    onboard(cw, state, devices)
    proxy = ResetProxy((cwsim.facts["host"], cwsim.facts["port"]), share=0.15, seed=9)
    facts = {**cwsim.facts, "api_url": cwsim.facts["api_url"].replace(f":{cwsim.facts['port']}/", f":{proxy.port}/")}
    try:
        with integration(integration_settings(facts, state), admin) as service:
            busy_day(admin, devices)
            advance(admin, "P1D")
            status = drained(f"{service.url}/status")
    finally:
        proxy.close()
    assert proxy.resets >= 5
    assert_each_alert_once(admin, cw, status)


@pytest.mark.slow
def test_an_outage_holds_every_alert_until_connectwise_is_back(cwsim, admin, cw, tmp_path: Path) -> None:
    """A 60-second outage on the simulated clock: it lasts exactly until the test moves the clock past it."""
    devices = quiet_fleet(admin)
    state = tmp_path / "state"
    onboard(cw, state, devices)
    admin.post("fleet/sink", json={"url": None})
    busy_day(admin, devices)
    advance(admin, "P1D")  # the fleet's day happens first, into its event log
    events = alert_events(admin)
    now = datetime.fromisoformat(admin.get("clock").json()["now"])
    rule = fault(
        admin, {"path": "*", "effect": {"kind": "outage"}, "window": {"start": now.isoformat(), "duration_s": 60}}
    )
    with integration(integration_settings(cwsim.facts, state), admin) as service:
        for start in range(0, len(events), 25):  # as the fleet's sink would: batches, acknowledged once stored
            batch = [{k: v for k, v in event.items() if k != "seq"} for event in events[start : start + 25]]
            assert requests.post(f"{service.url}/alerts", json=batch, timeout=10).status_code == 202
        ticketed = sum(1 for event in events if not_screenshot(event))
        wait_until(lambda: fired(admin, rule) >= 10, what="the integration to keep trying during the outage")
        during = wait_until(
            lambda: (s := service.board.report())["depth"] == ticketed and s, what="the email-only alerts to be done"
        )
        assert during["delivered"] + during["skipped"] == len(events) - ticketed and during["failed"] == 0
        assert len(admin.get("mail").json()) > 0  # email does not wait for ConnectWise
        admin.post("clock", json={"set": (now + timedelta(seconds=61)).isoformat()}).raise_for_status()
        status = drained(f"{service.url}/status")
    assert status["accepted"] == len(events)
    assert_each_alert_once(admin, cw, status)


@pytest.mark.parametrize("lookup", [True, False], ids=["look up before re-posting", "negative control: no look-up"])
def test_commit_then_fail_on_a_ticket_duplicates_it_only_without_the_look_up(
    cwsim, admin, cw, tmp_path: Path, lookup: bool
) -> None:
    devices = quiet_fleet(admin)
    state = tmp_path / "state"
    onboard(cw, state, devices)
    device = devices[0]
    fault(admin, {"method": "POST", "path": "service/tickets", "count": 1, "effect": {"kind": "commit_then_fail"}})
    with integration(integration_settings(cwsim.facts, state, lookup_before_post=lookup), admin) as service:
        admin.post(
            "fleet/incidents",
            json={
                "kind": "backup_failure",
                "serialNumber": device["serialNumber"],
                "volume": agents(device)[0]["volume"],
                "attempts": 2,
            },
        ).raise_for_status()
        advance(admin, "P1D")
        drained(f"{service.url}/status")
    admin.delete("faults").raise_for_status()
    events = alert_events(admin)
    result = score(cw)
    problems = result.problems(events, ticketed=not_screenshot)
    if lookup:
        assert problems == [] and len(result.tickets) == 1
    else:
        assert len(result.tickets) == 2 and len(set(result.xrefs)) == 1
        assert "2 open tickets for" in problems[-1]
