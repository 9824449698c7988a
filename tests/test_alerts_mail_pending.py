"""A ticket made while the alert's email fails for now is recorded at once, so the retry never makes another.

The retry of a delivery whose email failed must not depend on finding its ticket open: a
technician may close it meanwhile. SMTP is down for the whole run (a closed port), the ticket is
closed as soon as it exists, before the first retry, and the delivery keeps retrying its email:
one ticket, whatever happens. The negative control shows the count would see a second ticket.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests

from .alertkit import advance, agents, integration, integration_settings, onboard, quiet_fleet, wait_until

BOARD = "Datto Alerts"
RETRY_SECONDS = 2.0


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tickets_for(cw: requests.Session, xref_pattern: str) -> list[dict]:
    conditions = f'externalXRef like "{xref_pattern}"'
    return cw.get("service/tickets", params={"conditions": conditions, "pageSize": 1000, "orderBy": "id"}).json()


@pytest.mark.slow
def test_the_retry_after_a_failed_email_never_makes_a_second_ticket(cwsim, admin, cw, tmp_path: Path) -> None:
    devices = quiet_fleet(admin)
    state = tmp_path / "state"
    onboard(cw, state, devices)
    device = devices[0]
    serial = device["serialNumber"]
    facts = {**cwsim.facts, "smtp": {"host": "127.0.0.1", "port": closed_port()}}
    settings = integration_settings(facts, state, retry_base_seconds=RETRY_SECONDS, retry_max_seconds=RETRY_SECONDS)
    with integration(settings, admin) as service:
        admin.post(
            "fleet/incidents",
            json={
                "kind": "backup_failure",
                "serialNumber": serial,
                "volume": agents(device)[0]["volume"],
                "attempts": 1,
            },
        ).raise_for_status()
        advance(admin, "P1D")
        ticket = wait_until(lambda: (found := tickets_for(cw, f"Datto:{serial}%")) and found[0], what="a ticket")
        # Closed before the delivery's first retry (retries wait RETRY_SECONDS here): a retry that had
        # to look for an open ticket would find none and make another.
        cw.patch(
            f"service/tickets/{ticket['id']}", json=[{"op": "replace", "path": "status", "value": {"name": "Closed"}}]
        ).raise_for_status()
        row = wait_until(
            lambda: (
                service.outbox._connection()
                .execute("SELECT id, state, attempts FROM deliveries WHERE ticket_id = ?", (ticket["id"],))
                .fetchone()
            ),
            what="the ticket's id in the outbox while its email is pending",
        )
        wait_until(
            lambda: service.outbox.get(row["id"]).attempts >= row["attempts"] + 2,
            what="two more attempts at the email",
        )
        assert service.outbox.get(row["id"]).mail is None  # still pending: SMTP is down
    assert [found["id"] for found in tickets_for(cw, ticket["externalXRef"])] == [ticket["id"]]


def test_negative_control_a_second_ticket_is_counted(cwsim, admin, cw, tmp_path: Path) -> None:
    devices = quiet_fleet(admin)
    onboard(cw, tmp_path / "state", devices)
    xref = f"Datto:{devices[0]['serialNumber']}:x"
    body = {"summary": "first", "board": {"name": BOARD}, "company": {"id": 1}, "externalXRef": xref}
    for summary in ("first", "second"):
        cw.post("service/tickets", json={**body, "summary": summary}).raise_for_status()
    assert len(tickets_for(cw, xref)) == 2
