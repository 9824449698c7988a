"""A saved world comes back whole: the fleet, its alerts, its truth and the clock go on exactly where they were."""

from __future__ import annotations

import copy
import json
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from cwsim.scenarios.processes import cwsim_command, start
from cwsim.simulator.datto.fleet import derive_rng
from cwsim.simulator.datto.settings import FleetSpec
from cwsim.simulator.datto.sinks import CallbackSink
from cwsim.simulator.world import World, WorldOptions

from .conftest import Api

START = datetime(2026, 3, 2, tzinfo=UTC)
DAY = timedelta(days=1)


def new_world() -> tuple[World, list[dict[str, Any]]]:
    """A stepped world with a fleet busy enough to have alerts active at any moment; its events recorded."""
    options = WorldOptions(
        seed=5, companies=8, clock_mode="stepped", clock_start=START, fleet=FleetSpec(seed=5, siris=24, alto=12)
    )
    world = World(options)
    events: list[dict[str, Any]] = []
    world.fleet.replace_sink(CallbackSink(events.append))
    return world, events


def picture(world: World) -> dict[str, Any]:
    """Everything a client can see of the fleet, its truth and the clock."""
    fleet = world.fleet
    summary = fleet.summary()
    summary.pop("sink")  # the sink's counters belong to the process, not to the world
    return {
        "clock": world.time.state(),
        "summary": summary,
        "devices": [fleet.device_view(device.serial) for device in fleet.fleet.devices],
        "truth": fleet.truth(),
        "events": fleet.events_since(0, 100_000),
    }


def saved_midway() -> tuple[World, list[dict[str, Any]], dict[str, Any]]:
    """A world ten days in, with an incident injected by hand still going, and its state as a file holds it."""
    world, events = new_world()
    world.time.advance(10 * DAY)
    device = next(device for device in world.fleet.fleet.devices if device.in_service and device.agents())
    world.fleet.inject("backup_failure", device.serial, device.agents()[0].volume, {"attempts": 40})
    world.time.advance(DAY / 2)
    return world, events, json.loads(json.dumps(world.state.dump()))


def test_a_restored_world_shows_the_same_fleet_truth_and_clock_and_goes_on_identically() -> None:
    original, original_events, saved = saved_midway()
    before = picture(original)
    assert before["summary"]["activeAlerts"]["total"] > 0 and before["truth"]["counts"]["alerts"] > 0

    restored, restored_events = new_world()
    assert restored.state.restore(saved) == []
    assert picture(restored) == before

    done = len(original_events)
    original.time.advance(20 * DAY)
    restored.time.advance(20 * DAY)
    assert len(restored_events) > 1000
    assert restored_events == original_events[done:]  # every raise, repeat, clear and usage record, in order
    assert picture(restored) == picture(original)


@pytest.mark.slow
def test_negative_control_a_world_that_lost_its_rng_states_goes_on_differently() -> None:
    """The comparison above catches a restore that is not exact: here every device's RNG starts afresh."""
    original, original_events, saved = saved_midway()
    restored, restored_events = new_world()
    restored.state.restore(saved)
    for device in restored.fleet.fleet.devices:
        device.rng = derive_rng(5, "events", device.serial)
    done = len(original_events)
    original.time.advance(20 * DAY)
    restored.time.advance(20 * DAY)
    assert restored_events != original_events[done:]


def test_a_version_1_state_restores_its_parts_and_says_the_fleet_and_clock_were_not_in_it() -> None:
    original, _, saved = saved_midway()
    older = {"version": 1, "connectwise": saved["connectwise"], "mail": saved["mail"]}
    restored, _ = new_world()
    fresh = picture(restored)
    notes = restored.state.restore(older)
    assert [note.split(":")[0] for note in notes] == ["clock", "fleet"]
    assert "not in a version-1 state" in notes[0]
    assert picture(restored) == fresh != picture(original)  # negative control: what the old format lost


@pytest.mark.slow
def test_reset_still_goes_back_to_the_start_after_a_restore() -> None:
    _, _, saved = saved_midway()
    restored, _ = new_world()
    fresh = picture(restored)
    restored.state.restore(saved)
    restored.reset()
    assert picture(restored) == fresh


# -- bad fleet and clock parts: a 400 naming what is wrong, and nothing changes ---------------------------


def spoil(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def apply(state: dict[str, Any]) -> dict[str, Any]:
        state = copy.deepcopy(state)
        change(state)
        return state

    return apply


def first(state: dict[str, Any], cls: str) -> dict[str, Any]:
    return next(entry for entry in state["fleet"]["objects"] if entry["$class"] == cls)


BAD_PARTS = [
    ("fleet not saved", spoil(lambda s: s.update(fleet={"devices": []})), 'fleet: must be a saved fleet ("format"'),
    (
        "a class the fleet does not have",
        spoil(lambda s: s["fleet"]["objects"].append({"$class": "Popen", "args": ["rm"]})),
        "not an object of a known class ('Popen')",
    ),
    (
        "a reference to nothing",
        spoil(lambda s: first(s, "Device").update(org={"$ref": 10**6})),
        "no object number 1000000",
    ),
    (
        "a device without its serial",
        spoil(lambda s: first(s, "Device").pop("serial")),
        "(Device): missing serial",
    ),
    ("an unknown tag", spoil(lambda s: first(s, "Device").update(site={"$eval": "1"})), "unknown tag '$eval'"),
    ("a bad rng", spoil(lambda s: first(s, "Device").update(rng={"$random": [3, [1], None]})), "a bad $random"),
    ("clock mode", spoil(lambda s: s["clock"].update(mode="fast")), "clock.mode: must be one of wall, scaled"),
    ("clock time", spoil(lambda s: s["clock"].update(now="2026-03-02T00:00:00")), "clock.now: '2026-03-02T00"),
    ("clock rate", spoil(lambda s: s["clock"].update(rate=0)), "clock.rate: must be a positive number, not 0."),
]


@pytest.mark.parametrize(("case", "change", "expected"), BAD_PARTS, ids=[case for case, _, _ in BAD_PARTS])
def test_a_bad_fleet_or_clock_part_is_a_400_naming_it_and_changes_nothing(
    api: Api, case: str, change: Callable[[dict], dict], expected: str
) -> None:
    api.client.post("/_sim/clock", json={"advance": "P2D"})
    saved = api.client.get("/_sim/state").get_json()
    api.client.post("/_sim/reset")
    before = api.client.get("/_sim/fleet").get_json()
    response = api.client.put("/_sim/state", json=change(saved))
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["code"] == "InvalidState"
    assert any(expected in error["message"] for error in body["errors"]), body["errors"]
    assert api.client.get("/_sim/fleet").get_json() == before


# -- through the real server: save, stop, start with --state ----------------------------------------------


def seen(url: str) -> dict[str, Any]:
    """The fleet, its devices, its truth and the clock, as the admin API shows them."""

    def get(path: str) -> Any:
        response = requests.get(f"{url}/_sim/{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    summary = get("fleet")
    summary.pop("sink")  # the sink's counters belong to the process, not to the world
    return {
        "clock": get("clock"),
        "fleet": summary,
        "devices": [get(f"fleet/devices/{row['serialNumber']}") for row in get("fleet/devices")],
        "truth": get("truth"),
    }


@pytest.mark.slow
def test_save_stop_and_start_with_state_continues_the_fleet_its_alerts_and_the_clock(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    flags = ["--port", "0", "--smtp-port", "0", "--companies", "6", "--siris", "10", "--alto", "6"]
    flags += ["--clock", "stepped", "--clock-start", "2026-03-02T00:00:00Z"]
    command = cwsim_command("serve", *flags, "--state", str(state))
    first_run = start("first", command, workdir=tmp_path)
    try:
        url = first_run.facts["url"]
        requests.post(f"{url}/_sim/clock", json={"advance": "P6D"}, timeout=120).raise_for_status()
        device = next(row for row in requests.get(f"{url}/_sim/fleet/devices", timeout=30).json() if row["agents"])
        volume = requests.get(f"{url}/_sim/fleet/devices/{device['serialNumber']}", timeout=30).json()["assets"][0]
        incident = {"kind": "backup_failure", "serialNumber": device["serialNumber"], "volume": volume["volume"]}
        requests.post(f"{url}/_sim/fleet/incidents", json={**incident, "attempts": 40}, timeout=30).raise_for_status()
        requests.post(f"{url}/_sim/clock", json={"advance": "PT6H"}, timeout=120).raise_for_status()
        before = seen(url)
    finally:
        first_run.process.send_signal(signal.SIGTERM)
        assert first_run.process.wait(timeout=30) == 0
    assert before["fleet"]["activeAlerts"]["total"] > 0 and before["truth"]["counts"]["alerts"] > 0

    second_run = start("second", command, workdir=tmp_path)
    try:
        url = second_run.facts["url"]
        after = seen(url)
        # and it goes on from there: the same failure keeps failing at each slot, the clock and fleet move together
        requests.post(f"{url}/_sim/clock", json={"advance": "P1D"}, timeout=120).raise_for_status()
        later = seen(url)
    finally:
        second_run.stop()
    assert after == before
    assert later["clock"]["mode"] == "stepped" and later["clock"]["fleetBehindSeconds"] == 0
    then, now = (datetime.fromisoformat(picture["clock"]["now"]) for picture in (before, later))
    assert now - then == DAY
    key = f"{device['serialNumber']}:{volume['volume']}:BAK0013"
    counts = [
        next(alert["numberSeen"] for alert in picture["truth"]["alerts"] if alert["alertKey"] == key)
        for picture in (before, later)
    ]
    assert counts[1] > counts[0] >= 1

    # a file written before the fleet and clock were saved still loads, and the server says what it lacked
    saved = json.loads(state.read_text())
    older = tmp_path / "older.json"
    older.write_text(json.dumps({"version": 1, "connectwise": saved["connectwise"], "mail": saved["mail"]}))
    older_run = start("older", cwsim_command("serve", *flags, "--state", str(older)), workdir=tmp_path)
    older_run.stop()
    assert f"{older}: fleet: not in a version-1 state (version 2 added it); it is left as it was." in older_run.log()

    # negative control: the same server started without the state file is a different world
    fresh_run = start("fresh", cwsim_command("serve", *flags), workdir=tmp_path)
    try:
        fresh = seen(fresh_run.facts["url"])
    finally:
        fresh_run.stop()
    assert fresh["clock"] != before["clock"] and fresh["truth"] != before["truth"]
