"""Scenario actions over a live `cwsim serve`: the timeline's `incident` takes every kind the fleet has."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from cwsim.scenarios import actions
from cwsim.scenarios.actions import ActionError, RunContext, incident
from cwsim.simulator.datto.simulation import ASSET_INCIDENTS, DEVICE_INCIDENTS
from cwsim.simulator.testing import AdminError

FLEET_KINDS = sorted(ASSET_INCIDENTS | DEVICE_INCIDENTS)


def context(cwsim) -> RunContext:
    admin = cwsim.helpers
    serving = [row["serialNumber"] for row in admin.fleet.devices() if row["inService"] and not row["hidden"]]
    return RunContext(admin, cwsim.session(), random.Random(3), lambda: datetime.now(UTC), serving)


def test_the_fleet_has_the_kinds_the_old_copy_lacked() -> None:
    assert {"local_verification_error", "backup_stall"} <= ASSET_INCIDENTS


@pytest.mark.parametrize("kind", FLEET_KINDS)
def test_every_fleet_incident_kind_starts_through_the_timeline(cwsim, kind: str) -> None:
    ctx = context(cwsim)
    before = {row["incidentId"] for row in cwsim.helpers.fleet.truth(kind=kind)["incidents"]}
    assert incident(ctx, {"kind": kind, "devices": 1}) == f"{kind} on 1 device(s)"
    started = [row for row in cwsim.helpers.fleet.truth(kind=kind)["incidents"] if row["incidentId"] not in before]
    assert [row["kind"] for row in started] == [kind]
    if kind in ASSET_INCIDENTS:
        assert started[0]["volume"], "an asset incident names its asset"


def test_negative_control_the_old_copy_fails_on_the_kinds_it_lacked(cwsim, monkeypatch: pytest.MonkeyPatch) -> None:
    old_copy = {"backup_failure", "screenshot_failure", "encrypted_agent_locked", "ransomware", "offsite_behind"}
    monkeypatch.setattr(actions, "ASSET_INCIDENTS", old_copy)
    for kind in ("local_verification_error", "backup_stall"):
        with pytest.raises((ActionError, AdminError)):
            incident(context(cwsim), {"kind": kind, "devices": 1})


class _Fleet:
    def device(self, serial: str) -> dict:
        return {
            "assets": [
                {"type": "agent", "volume": "no-shots", "screenshots": False},
                {"type": "agent", "volume": "shots", "screenshots": True},
            ]
        }


class _Admin:
    fleet = _Fleet()


def test_a_screenshot_incident_goes_to_an_agent_that_takes_screenshots() -> None:
    ctx = RunContext(_Admin(), None, random.Random(0), lambda: datetime.now(UTC), ["S"])  # type: ignore[arg-type]
    assert actions._first_agent_volume(ctx, "S", "screenshot_failure") == "shots"
    assert actions._first_agent_volume(ctx, "S", "backup_failure") == "no-shots"  # any active agent will do
