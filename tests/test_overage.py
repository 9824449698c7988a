"""The overage arithmetic: units over the tier, plans read from their names or the settings, families, months."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cwsim.integration.overage import (
    check_plan_table,
    device_family,
    format_bytes,
    month_end,
    month_just_ended,
    months_ended_between,
    overage_units,
    parse_month,
    parse_size,
    plan_terms,
    unit_bytes,
)

TB, GB = 10**12, 10**9


@pytest.mark.parametrize(
    ("used", "included", "unit", "units"),
    [(0, TB, TB, 0), (TB, TB, TB, 0), (TB + 1, TB, TB, 1), (2 * TB, TB, TB, 1), (2 * TB + 1, TB, TB, 2), (5, 0, 2, 3)],
)
def test_overage_units_round_the_excess_up(used: int, included: int, unit: int, units: int) -> None:
    assert overage_units(used, included, unit) == units


def test_unit_sizes() -> None:
    assert unit_bytes("SIRIS") == TB and unit_bytes("CLOUD") == TB and unit_bytes("ALTO") == 500 * GB
    assert unit_bytes("SIRIS", binary=True) == 2**40 and unit_bytes("ALTO", binary=True) == 500 * 2**30


@pytest.mark.parametrize(
    ("plan", "kind", "included"),
    [
        ("SIRIS Offsite Capacity 1 TB", "capacity", TB),
        ("ALTO Offsite Capacity 500 GB", "capacity", 500 * GB),
        ("SIRIS Offsite Capacity 1.5 TB", "capacity", 1500 * GB),
        ("ALTO LT250", "capacity", 250 * GB),
        ("SIRIS Time Based Retention 1 Year", "none", 0),
        ("SIRIS Time Based Retention 7 Years", "none", 0),
        ("SIRIS Infinite Cloud Retention", "none", 0),
        ("ALTO Local Only", "none", 0),
        ("Gold", "unknown", 0),
        (None, "unknown", 0),
    ],
)
def test_plans_are_read_from_their_names_or_left_unknown(plan, kind: str, included: int) -> None:
    terms = plan_terms(plan)
    assert (terms.kind, terms.included_bytes) == (kind, included)


def test_the_plan_table_beats_the_name_and_can_say_none() -> None:
    table = {"SIRIS Offsite Capacity 1 TB": "2 TB", "Gold": "750 GB", "Silver  Plan": "none"}
    assert plan_terms("siris offsite capacity 1 tb", table).included_bytes == 2 * TB
    assert plan_terms("Gold", table).included_bytes == 750 * GB
    assert plan_terms("Silver Plan", table).kind == "none"
    assert plan_terms("Gold", table, binary=True).included_bytes == 750 * 2**30
    with pytest.raises(ValueError, match=r'billing.plans\["Gold"\]: \'lots\' is not a size'):
        check_plan_table({"Gold": "lots"})


def test_sizes() -> None:
    assert parse_size("500 GB") == 500 * GB and parse_size("2 TiB") == 2 * 2**40 and parse_size("123") == 123
    assert parse_size("1 TB", binary=True) == 2**40
    with pytest.raises(ValueError, match="not a whole number of bytes"):
        parse_size("0.5 B")
    assert format_bytes(1_234_567_890_123) == "1.235 TB" and format_bytes(500 * 2**30, binary=True) == "500 GiB"


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("S4X1", "SIRIS"),
        ("S5-8", "SIRIS"),
        ("ALTO4", "ALTO"),
        ("L3A2000", "ALTO"),
        ("CLDSIRIS", "CLOUD"),
        ("", "SIRIS"),
    ],
)
def test_families_from_model_codes(model: str, family: str) -> None:
    assert device_family(model) == family


def test_months() -> None:
    assert parse_month("2026-10") == date(2026, 10, 1)
    for bad in ("2026-13", "2026-00", "2026-1", "Oct 2026"):
        with pytest.raises(ValueError, match="is not a month like 2026-10"):
            parse_month(bad)
    assert month_just_ended(datetime(2026, 11, 1, 0, 1, tzinfo=UTC)) == date(2026, 10, 1)
    assert month_just_ended(datetime(2027, 1, 31, tzinfo=UTC)) == date(2026, 12, 1)
    assert month_end(date(2026, 12, 1)) == datetime(2027, 1, 1, tzinfo=UTC)


def test_months_ended_between_two_moments() -> None:
    october_end = datetime(2026, 11, 1, tzinfo=UTC)
    assert months_ended_between(october_end - timedelta(seconds=1), october_end) == [date(2026, 10, 1)]
    assert months_ended_between(october_end, october_end + timedelta(days=20)) == []  # ended at, not after, since
    assert months_ended_between(datetime(2026, 10, 15, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)) == [
        date(2026, 10, 1),
        date(2026, 11, 1),
        date(2026, 12, 1),
    ]
    assert months_ended_between(datetime(2027, 1, 2, tzinfo=UTC), october_end) == []  # a clock set back
