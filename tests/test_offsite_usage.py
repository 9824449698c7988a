"""Offsite usage on CAPACITY plans looks like a real fleet's: most devices under their tier, a share a little
over it, rare outliers, and it stays so month after month; usage set exactly stays exact."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from statistics import median

import pytest

from cwsim.simulator.datto import engine as engine_module
from cwsim.simulator.datto.catalog import TB, PlanKind
from cwsim.simulator.datto.engine import Engine
from cwsim.simulator.datto.fleet import Device, Fleet, draw_offsite_target, generate_fleet
from cwsim.simulator.datto.offline import fleet_from_json, fleet_to_json
from cwsim.simulator.datto.settings import FleetRates, FleetSpec

from .fleetkit import DAY, Run, quiet_spec

START = datetime(2026, 3, 1, tzinfo=UTC)
RATES = FleetRates()
# What "plausible" means here, per family: the share over the tier stays in this band, few are far
# over, the typical device is comfortably under, and nobody is past the outliers' ceiling.
OVER_BAND = (0.04, 0.22)
FAR_OVER = 1.5  # share of the tier
FAR_OVER_AT_MOST = 0.04
MEDIAN_BAND = (0.5, 0.95)


def big_fleet(seed: int = 11) -> Fleet:
    spec = FleetSpec(seed=seed, siris=1500, alto=1500, rates=FleetRates().quiet())
    return generate_fleet(spec, [f"Client {number}" for number in range(300)], START)


def ratios(fleet: Fleet, family: str) -> list[float]:
    return sorted(
        device.offsite_used / device.plan.included_offsite_bytes
        for device in fleet.devices
        if device.family == family and device.plan.kind is PlanKind.CAPACITY
    )


def distribution_problems(fleet: Fleet, label: str) -> list[str]:
    problems = []
    for family in ("SIRIS", "ALTO"):
        used = ratios(fleet, family)
        over = sum(ratio > 1 for ratio in used) / len(used)
        far = sum(ratio > FAR_OVER for ratio in used) / len(used)
        where = f"{label} {family} ({len(used)} devices)"
        if not OVER_BAND[0] <= over <= OVER_BAND[1]:
            problems.append(f"{where}: {over:.1%} over the tier")
        if far > FAR_OVER_AT_MOST:
            problems.append(f"{where}: {far:.1%} past {FAR_OVER:.0%} of the tier")
        if not MEDIAN_BAND[0] <= median(used) <= MEDIAN_BAND[1]:
            problems.append(f"{where}: median {median(used):.2f} of the tier")
        if used[-1] > RATES.capacity_outlier_max:
            problems.append(f"{where}: one at {used[-1]:.2f} of the tier")
    return problems


def run_days(fleet: Fleet, *days: int) -> list[str]:
    """Day ticks only (the rates are quiet): the distribution at generation and after each of `days`."""
    engine = Engine(fleet, keep_truth=False, emit_usage=False)
    problems = distribution_problems(fleet, "at generation")
    for day in days:
        engine.run_until(fleet.start + day * DAY)
        problems += distribution_problems(fleet, f"after {day} days")
    return problems


@pytest.mark.slow
def test_capacity_usage_is_mostly_under_the_tier_and_stays_so() -> None:
    fleet = big_fleet()
    assert len(ratios(fleet, "ALTO")) > 1400 and len(ratios(fleet, "SIRIS")) > 150
    assert run_days(fleet, 31, 92) == []


@pytest.mark.slow
def test_the_old_unbounded_growth_fails_the_same_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: growth by a day's change with no retention is what put devices at 1,456 % of a tier."""
    old: Callable[[Device], int] = lambda device: device.offsite_used + device.daily_offsite  # noqa: E731
    monkeypatch.setattr(engine_module, "settle_offsite", old)
    problems = run_days(big_fleet(), 31)
    assert any("after 31 days ALTO" in problem and "over the tier" in problem for problem in problems), problems


def test_each_target_comes_from_the_settings() -> None:
    rates = dataclasses.replace(RATES, capacity_over_share=0.0, capacity_outlier_share=1.0)
    targets = [draw_offsite_target(3, f"SERIAL{number}", rates) for number in range(200)]
    assert all(rates.capacity_over_max <= target <= rates.capacity_outlier_max for target in targets)
    rates = dataclasses.replace(RATES, capacity_over_share=0.0, capacity_outlier_share=0.0)
    targets = [draw_offsite_target(3, f"SERIAL{number}", rates) for number in range(200)]
    assert all(rates.capacity_target_low <= target <= rates.capacity_target_high for target in targets)
    # its own RNG: the same serial and seed give the same target, whatever else was drawn
    assert draw_offsite_target(3, "SERIAL1", RATES) == draw_offsite_target(3, "SERIAL1", RATES)


def test_usage_grows_toward_its_target_and_holds_at_or_past_it() -> None:
    run = Run(quiet_spec(siris=3, alto=0))
    under, over = run.device(index=0), run.device(index=1)
    plan = {"kind": "CAPACITY", "included_offsite_bytes": TB}
    run.simulation.patch_device(under.serial, {"plan": plan, "offsite_used_bytes": 0})
    run.simulation.patch_device(over.serial, {"plan": plan, "offsite_used_bytes": 5 * TB})
    seen: dict[str, list[int]] = {}
    run.advance(20 * DAY)
    for event in run.events:
        if event["event"] == "usage":
            seen.setdefault(event["serialNumber"], []).append(event["offsiteUsedBytes"])
    rising = seen[under.serial]
    assert rising == sorted(rising) and rising[0] > 0
    assert rising[-1] <= under.offsite_target * TB  # never overshoots where it settles
    assert set(seen[over.serial]) == {5 * TB}  # retention prunes what a day adds


def test_exact_usage_stays_exact_without_new_data() -> None:
    """The tier-boundary scenarios set usage to the byte with `dailyChange: 0`."""
    rates = dataclasses.replace(quiet_spec().rates, daily_change=0.0)
    run = Run(quiet_spec(rates=rates))
    device = run.device(family="ALTO")
    boundary = 500 * 10**9 + 1
    run.simulation.patch_device(
        device.serial, {"plan": {"kind": "CAPACITY", "included_offsite_bytes": 500 * 10**9}, "offsite_used_bytes": 1}
    )
    run.simulation.patch_device(device.serial, {"offsite_used_bytes": boundary})
    run.advance(3 * DAY)
    assert device.offsite_used == boundary


def test_fleet_files_keep_the_target_and_older_files_draw_it() -> None:
    fleet = generate_fleet(quiet_spec(), ["Acme"], START)
    data = fleet_to_json(fleet)
    again = fleet_from_json(data)
    assert [d.offsite_target for d in again.devices] == [d.offsite_target for d in fleet.devices]
    for device in data["devices"]:
        del device["offsiteTarget"]
    older = fleet_from_json(data)
    assert [d.offsite_target for d in older.devices] == [d.offsite_target for d in fleet.devices]
