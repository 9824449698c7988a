"""Each alert's ticket is linked to its device's configuration exactly once, even when linking fails.

A new ticket is created, linked and recorded done in one outbox write after `create_sent`; only when
the link fails is the ticket recorded on its own, so the retry links that ticket instead of making
another. These runs fail the link POST before and after ConnectWise commits it; a negative control
shows the check catching a ticket left unlinked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from .alertkit import advance, busy_day, drained, integration, integration_settings, onboard, quiet_fleet, score
from .test_alerts_faults import assert_each_alert_once, fault, fired


def link_problems(cw: requests.Session, tickets: list[dict[str, Any]]) -> list[str]:
    """Every ticket linked to one configuration, its own device's (the serial is in the ticket's key)."""
    problems = []
    for ticket in tickets:
        linked = cw.get(f"service/tickets/{ticket['id']}/configurations", params={"pageSize": 1000}).json()
        serials = [cw.get(f"company/configurations/{link['id']}").json()["serialNumber"] for link in linked]
        if len(serials) != 1 or serials[0] not in ticket["externalXRef"]:
            problems.append(f"ticket {ticket['id']} ({ticket['externalXRef']}) is linked to {serials}")
    return problems


def run_busy_day(cwsim, admin, cw, tmp_path: Path, rule: dict[str, Any] | None) -> tuple[list[dict], int | None]:
    devices = quiet_fleet(admin)
    state = tmp_path / "state"
    onboard(cw, state, devices)
    rule_id = fault(admin, rule) if rule else None
    with integration(integration_settings(cwsim.facts, state), admin) as service:
        busy_day(admin, devices)
        advance(admin, "P1D")
        status = drained(f"{service.url}/status")
    fired_count = fired(admin, rule_id) if rule_id else None
    assert_each_alert_once(admin, cw, status)
    return score(cw).tickets, fired_count


LINK = {"method": "POST", "path": "service/tickets/*/configurations", "probability": 0.5}


@pytest.mark.parametrize(
    "effect",
    [
        pytest.param({"kind": "status", "status": 503}, id="the link refused"),
        pytest.param({"kind": "commit_then_fail", "status": 500}, id="the link made, its answer lost"),
    ],
)
def test_a_failed_link_is_retried_on_the_same_ticket(cwsim, admin, cw, tmp_path: Path, effect: dict) -> None:
    tickets, fired_count = run_busy_day(cwsim, admin, cw, tmp_path, {**LINK, "seed": 7, "effect": effect})
    assert fired_count is not None and fired_count >= 3
    assert tickets and link_problems(cw, tickets) == []


def test_negative_control_an_unlinked_ticket_is_caught(cwsim, admin, cw, tmp_path: Path) -> None:
    tickets, _ = run_busy_day(cwsim, admin, cw, tmp_path, None)
    assert link_problems(cw, tickets) == []
    first = tickets[0]
    link = cw.get(f"service/tickets/{first['id']}/configurations").json()[0]
    cw.delete(f"service/tickets/{first['id']}/configurations/{link['id']}").raise_for_status()
    assert link_problems(cw, tickets) == [f"ticket {first['id']} ({first['externalXRef']}) is linked to []"]
