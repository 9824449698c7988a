"""The appliance rules, each with a negative control: what raises, repeats and clears, and what stays silent."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from cwsim.simulator.datto.engine import last_backup, latest_offsite
from cwsim.simulator.datto.schedule import office_hours

from .fleetkit import DAY, HOUR, Run, epoch, quiet_spec


def test_a_repeat_raises_number_seen_instead_of_a_new_alert() -> None:
    run = Run()
    device = run.device()
    agent = run.agent(device)
    start = run.now
    run.inject("backup_failure", device, agent, attempts=3)
    run.advance(3 * DAY)
    assert run.story("backup_failed") == [("raise", 1), ("repeat", 2), ("repeat", 3), ("clear", 3)]
    events = run.alerts("backup_failed")
    assert len({event["alertKey"] for event in events}) == 1
    assert len({event["eventId"] for event in events}) == 4
    slots = [agent.schedule.nth_slot(start + 1, device.origin, k) for k in range(3)]
    assert [epoch(event["time"]) for event in events] == [start, *slots]
    assert {event["dateTriggered"] for event in events} == {events[0]["time"]}
    # control: once it cleared, the next failure is a new alert, not a repeat
    run.inject("backup_failure", device, agent, attempts=1)
    run.advance(DAY)
    assert run.story("backup_failed")[4:] == [("raise", 1), ("clear", 1)]


def test_no_alert_at_all_when_the_email_list_for_its_kind_is_empty() -> None:
    run = Run()
    quiet, loud = run.device(index=0), run.device(index=1)
    run.patch(quiet, emails={"critical": []})
    run.inject("backup_failure", quiet, run.agent(quiet), attempts=2)
    run.inject("backup_failure", loud, run.agent(loud), attempts=2)
    run.advance(2 * DAY)
    assert run.alerts("backup_failed", serial=quiet.serial) == []
    assert run.story("backup_failed", serial=loud.serial) == [("raise", 1), ("repeat", 2), ("clear", 2)]
    incidents = {incident["serialNumbers"][0]: incident for incident in run.simulation.truth()["incidents"]}
    assert incidents[quiet.serial]["alertsSuppressed"] == {"no_recipients": 2}
    # the lists are per kind: a warning still goes out on the device whose critical list is empty
    run.inject("local_verification_error", quiet, run.agent(quiet))
    run.advance(DAY)
    assert run.story("local_verification_error", serial=quiet.serial) == [("raise", 1), ("clear", 1)]


@pytest.mark.parametrize("flag", ["paused", "archived"])
def test_paused_or_archived_assets_stay_silent(flag: str) -> None:
    run = Run()
    device = run.device_with_agents(2)
    silenced, control = run.agent(device, 0), run.agent(device, 1)
    run.patch(device, assets={silenced.volume: {flag: True}})
    for agent in (silenced, control):
        run.inject("backup_failure", device, agent, attempts=2)
        run.inject("screenshot_failure", device, agent, failures=2)
    run.advance(3 * DAY)
    assert {event["volume"] for event in run.alerts()} == {control.volume}
    assert last_backup(silenced, run.now) < run.now - 2 * DAY  # a silenced asset does not back up either


def test_paused_assets_stay_silent_even_when_everything_goes_wrong() -> None:
    rates = dataclasses.replace(
        quiet_spec().rates, backup_failure_p=0.5, screenshot_failure_p=0.5, backup_stall_per_agent_month=30.0
    )
    run = Run(quiet_spec(paused_share=1.0, rates=rates))
    run.advance(7 * DAY)
    assert [event for event in run.alerts() if event["volume"] is not None] == []
    # control: the same fleet unpaused is noisy
    noisy = Run(quiet_spec(rates=rates))
    noisy.advance(7 * DAY)
    assert len(noisy.alerts("backup_failed")) > 10


def test_out_of_service_devices_send_nothing_not_even_clears() -> None:
    run = Run()
    retired, control = run.device(index=0), run.device(index=1)
    run.inject("device_offline", retired, duration_seconds=3 * HOUR)
    run.inject("device_offline", control, duration_seconds=3 * HOUR)
    run.advance(2 * HOUR)  # both now raised Device Not Seen
    assert len(run.alerts("device_not_seen", "raise")) == 2
    run.patch(retired, in_service=False)
    run.inject("backup_failure", retired, run.agent(retired), attempts=2)
    run.advance(DAY)
    assert run.story("device_not_seen", serial=retired.serial) == [("raise", 1)]
    assert run.story("device_not_seen", serial=control.serial) == [("raise", 1), ("clear", 1)]
    assert run.alerts("backup_failed") == []
    assert run.simulation.device_view(retired.serial)["alerts"] == []  # it cleared on the appliance, silently


def test_device_not_seen_after_its_threshold_and_cleared_when_seen_again() -> None:
    run = Run()
    device = run.device()
    start = run.now
    run.inject("device_offline", device, duration_seconds=5 * HOUR)
    run.advance(DAY)
    raised, cleared = run.alerts("device_not_seen")
    assert epoch(raised["time"]) == start + 60 * 60  # the portal's 60-minute threshold
    assert epoch(cleared["time"]) == start + 5 * HOUR
    assert raised["assetName"] is raised["volume"] is None and raised["category"] == "device"
    # control: back within the threshold, nothing is raised
    run.inject("device_offline", device, duration_seconds=45 * 60)
    run.advance(DAY)
    assert len(run.alerts("device_not_seen")) == 2


def _office_agent(run: Run):
    device = run.device()
    office = office_hours(8, 18, False)
    agent = next(agent for agent in device.agents() if agent.schedule is office)
    return device, agent


def test_the_24_hour_no_backup_alert_fires_and_clears_itself() -> None:
    run = Run()
    device, agent = _office_agent(run)
    run.advance(DAY + 15 * HOUR)  # Tuesday 15:00 UTC, during office hours
    before = last_backup(agent, run.now)
    stall_start = run.now
    run.inject("backup_stall", device, agent, duration_seconds=30 * HOUR)
    run.advance(3 * DAY)
    raised, cleared = run.alerts("no_backup_24h")
    assert (raised["event"], cleared["event"]) == ("raise", "clear")
    assert epoch(raised["time"]) >= before + 24 * HOUR
    first_missed = agent.schedule.nth_slot(before + 1, device.origin)
    assert epoch(raised["time"]) >= first_missed + 23 * HOUR
    assert epoch(cleared["time"]) == agent.schedule.nth_slot(stall_start + 30 * HOUR, device.origin)
    # control: a short stall raises nothing
    run.inject("backup_stall", device, agent, duration_seconds=6 * HOUR)
    run.advance(2 * DAY)
    assert len(run.alerts("no_backup_24h")) == 2


def test_no_24_hour_alert_while_a_backup_error_is_showing() -> None:
    run = Run()
    device, agent = _office_agent(run)
    run.advance(DAY + 15 * HOUR)
    run.inject("backup_stall", device, agent, duration_seconds=40 * HOUR)
    run.inject("backup_failure", device, agent, attempts=40)
    run.advance(2 * DAY)
    assert run.alerts("no_backup_24h") == []
    assert run.alerts("backup_failed", "raise")


def test_screenshot_failures_repeat_then_go_overdue_then_clear() -> None:
    run = Run()
    device = run.device()
    agent = run.agent(device)
    run.inject("screenshot_failure", device, agent, failures=3)
    run.advance(5 * DAY)
    assert run.story("screenshot_failed") == [("raise", 1), ("repeat", 2), ("repeat", 3), ("clear", 3)]
    overdue = run.story("screenshot_overdue")
    assert overdue[0] == ("raise", 1) and overdue[-1][0] == "clear"
    assert {event["category"] for event in run.alerts()} == {"screenshot"}
    assert {event["emailList"] for event in run.alerts()} == {"screenshotFailed"}
    # control: one failed screenshot is not overdue
    run.inject("screenshot_failure", device, agent, failures=1)
    run.advance(3 * DAY)
    assert run.story("screenshot_failed")[4:] == [("raise", 1), ("clear", 1)]
    assert len(run.story("screenshot_overdue")) == len(overdue)


def test_a_local_verification_error_clears_at_the_next_backup() -> None:
    run = Run()
    device = run.device()
    agent = run.agent(device)
    start = run.now
    run.inject("local_verification_error", device, agent)
    run.advance(DAY)
    raised, cleared = run.alerts("local_verification_error")
    assert (raised["event"], raised["severity"], raised["emailList"]) == ("raise", "warning", "warning")
    assert epoch(cleared["time"]) == agent.schedule.nth_slot(start + 1, device.origin)


def test_low_local_space_raises_at_90_and_98_percent_and_clears_below() -> None:
    run = Run()
    device = run.device()
    capacity = device.local_capacity
    run.patch(device, local_used_bytes=int(capacity * 0.85))
    assert run.alerts() == []  # control: 85% is fine
    run.patch(device, local_used_bytes=int(capacity * 0.95))
    assert run.story("low_local_space") == [("raise", 1)]
    run.patch(device, local_used_bytes=int(capacity * 0.99))
    assert run.story("backup_skipped_space") == [("raise", 1)]
    assert all(asset.blocks for asset in device.assets)  # no room: no backups
    run.patch(device, local_used_bytes=int(capacity * 0.5), local_capacity_bytes=capacity)
    assert run.story("backup_skipped_space")[-1][0] == "clear"
    assert run.story("low_local_space")[-1][0] == "clear"
    assert not any(asset.blocks for asset in device.assets)


def test_offsite_sync_falling_behind_raises_after_72_hours() -> None:
    run = Run()
    device, agent = _office_agent(run)
    run.advance(DAY + 15 * HOUR)  # Tuesday, during office hours: the latest offsite point is an hour old
    frozen = latest_offsite(agent, run.now)
    run.inject("offsite_behind", device, agent, duration_seconds=5 * DAY)
    run.advance(7 * DAY)
    raised, cleared = run.alerts("offsite_behind")
    assert epoch(raised["time"]) == frozen + 72 * HOUR
    assert cleared["event"] == "clear"
    # control: two days behind is not worth an alert (on a weekday: over a weekend it would be)
    run.inject("offsite_behind", device, agent, duration_seconds=2 * DAY)
    run.advance(3 * DAY)
    assert len(run.alerts("offsite_behind")) == 2


def test_ransomware_suspicion_is_raised_and_resolved() -> None:
    run = Run()
    device = run.device()
    run.inject("ransomware", device, run.agent(device), duration_seconds=8 * HOUR, true_positive=False)
    run.advance(DAY)
    assert run.story("ransomware_suspected") == [("raise", 1), ("clear", 1)]
    (incident,) = run.simulation.truth(kind="ransomware")["incidents"]
    assert incident["detail"]["truePositive"] is False


def test_an_encrypted_agent_stays_locked_until_unlocked() -> None:
    run = Run()
    device = run.device()
    agent = run.agent(device)
    run.inject("encrypted_agent_locked", device, agent, duration_seconds=30 * HOUR)
    run.advance(2 * DAY)
    story = run.story("encrypted_agent_locked")
    assert story[0] == ("raise", 1) and story[-1][0] == "clear"
    cleared = run.alerts("encrypted_agent_locked", "clear")[0]
    assert epoch(cleared["time"]) == last_backup(agent, epoch(cleared["time"]))  # cleared by a good backup


def test_a_site_losing_power_raises_many_alerts_at_once_from_one_incident() -> None:
    spec = quiet_spec(rates=dataclasses.replace(quiet_spec().rates, encrypted_lock_p=1.0), devices_per_site=3)
    run = Run(dataclasses.replace(spec, rates=dataclasses.replace(spec.rates, encrypted_share=0.5)))
    device = run.device_in_a_shared_site()
    site = run.simulation.fleet.sites[device.site]
    run.advance(DAY + 15 * HOUR)  # Tuesday, office hours: 30 hours dark misses a day of backups
    run.inject("site_power_loss", device, duration_seconds=30 * HOUR)
    run.advance(3 * DAY)
    raised = run.alerts("device_not_seen", "raise")
    assert {event["serialNumber"] for event in raised} == {member.serial for member in site}
    assert len({event["time"] for event in raised}) == 1  # all at once
    truth = run.simulation.truth()
    assert len({alert["rootIncidentId"] for alert in truth["alerts"]}) == 1
    site_incident = truth["incidents"][0]
    assert site_incident["kind"] == "site_power_loss"
    locks = [incident for incident in truth["incidents"] if incident["kind"] == "encrypted_agent_locked"]
    assert locks and {lock["causeId"] for lock in locks} == {site_incident["incidentId"]}
    kinds = {alert["alertType"] for alert in truth["alerts"]}
    assert {"device_not_seen", "no_backup_24h", "encrypted_agent_locked"} <= kinds
    assert "incidentId" not in raised[0] and "incident" not in str(raised[0]).lower()  # the truth stays here


def test_a_slow_uplink_puts_every_asset_of_the_site_behind() -> None:
    run = Run()
    device = run.device_in_a_shared_site()
    site = run.simulation.fleet.sites[device.site]
    run.inject("slow_uplink", device, duration_seconds=5 * DAY)
    run.advance(6 * DAY)
    raised = run.alerts("offsite_behind", "raise")
    assert {event["volume"] for event in raised} == {asset.volume for member in site for asset in member.assets}
    assert len(run.alerts("offsite_behind", "clear")) == len(raised)


def test_storage_grows_day_by_day_as_each_plan_says() -> None:
    run = Run(quiet_spec(siris=6))
    devices = [run.device(index=index) for index in range(4)]
    old = next(device for device in run.simulation.fleet.devices if run.now - device.registered > 400 * DAY)
    plans = {
        devices[0].serial: {"kind": "ICR"},
        devices[1].serial: {"kind": "CAPACITY", "included_offsite_bytes": 10**12},
        devices[2].serial: {"kind": "LOCAL_ONLY"},
        devices[3].serial: {"kind": "TBR", "tbr_years": 7},
    }
    if old.serial not in plans:
        plans[old.serial] = {"kind": "TBR", "tbr_years": 1}
    for serial, plan in plans.items():
        offsite = 0 if plan["kind"] in ("LOCAL_ONLY", "CAPACITY") else 5 * 10**12
        run.simulation.patch_device(serial, {"plan": plan, "offsite_used_bytes": offsite})
    run.advance(5 * DAY)
    usage: dict[str, list[int]] = {}
    for event in run.events:
        if event["event"] == "usage":
            usage.setdefault(event["serialNumber"], []).append(event["offsiteUsedBytes"])
    assert all(len(days) == 5 for days in usage.values())
    grows = lambda days: all(later > earlier for earlier, later in itertools.pairwise(days))  # noqa: E731
    assert grows(usage[devices[0].serial])  # ICR never prunes
    assert grows(usage[devices[1].serial])  # capacity: grows toward where it settles (test_offsite_usage.py)
    assert grows(usage[devices[3].serial])  # TBR within its window
    assert set(usage[devices[2].serial]) == {0}
    if plans.get(old.serial) == {"kind": "TBR", "tbr_years": 1}:
        assert len(set(usage[old.serial])) == 1  # TBR past its window prunes what a day adds


def test_successful_backups_are_state_not_events() -> None:
    run = Run()
    agent = run.agent()
    first = last_backup(agent, run.now)
    run.advance(7 * DAY)
    assert run.alerts() == []
    assert {event["event"] for event in run.events} == {"usage"}
    assert last_backup(agent, run.now) > first + 6 * DAY


def test_the_engine_draws_ahead_instead_of_ticking() -> None:
    run = Run(
        quiet_spec(rates=dataclasses.replace(quiet_spec().rates, backup_failure_p=0.015, local_verification_p=0.01))
    )
    assets = sum(len(device.assets) for device in run.simulation.fleet.devices)
    devices = len(run.simulation.fleet.devices)
    run.advance(3 * DAY)
    # at most a few pending draws per asset, device and site, never one per asset per hour
    assert run.engine.pending() <= 3 * assets + 2 * devices + len(run.simulation.fleet.sites) + 1
