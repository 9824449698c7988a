"""The simulated clock: its three modes, set and advance, thread safety, and ISO-8601 durations."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cwsim.simulator.clock import (
    ClockMode,
    SimClock,
    format_iso,
    parse_duration,
    parse_moment,
)

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class FakeMonotonic:
    """Wall time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_stepped_clock_moves_only_when_told() -> None:
    wall = FakeMonotonic()
    clock = SimClock(ClockMode.STEPPED, START, monotonic=wall)
    wall.now += 3600
    assert clock.now() == START
    assert clock.advance(timedelta(hours=6)) == START + timedelta(hours=6)
    assert clock.now() == START + timedelta(hours=6)
    clock.set(START + timedelta(days=2))
    assert clock.now() == START + timedelta(days=2)
    assert clock.rate == 0.0


def test_wall_clock_follows_wall_time_from_its_start() -> None:
    wall = FakeMonotonic()
    clock = SimClock(ClockMode.WALL, START, monotonic=wall)
    wall.now += 90
    assert clock.now() == START + timedelta(seconds=90)
    assert clock.rate == 1.0


def test_a_wall_clock_without_a_start_tells_the_real_time() -> None:
    before = datetime.now(UTC)
    now = SimClock().now()
    assert before <= now <= datetime.now(UTC)
    assert now.tzinfo is not None


def test_scaled_clock_runs_at_a_multiple_of_wall_time() -> None:
    wall = FakeMonotonic()
    clock = SimClock(ClockMode.SCALED, START, rate=60, monotonic=wall)
    wall.now += 10
    assert clock.now() == START + timedelta(minutes=10)


def test_advance_and_set_in_a_running_mode_carry_on_from_the_new_time() -> None:
    wall = FakeMonotonic()
    clock = SimClock(ClockMode.SCALED, START, rate=2, monotonic=wall)
    clock.advance(timedelta(hours=1))
    wall.now += 30
    assert clock.now() == START + timedelta(hours=1, minutes=1)
    clock.set(START)
    wall.now += 5
    assert clock.now() == START + timedelta(seconds=10)


def test_changing_mode_never_jumps() -> None:
    wall = FakeMonotonic()
    clock = SimClock(ClockMode.SCALED, START, rate=100, monotonic=wall)
    wall.now += 36
    frozen = clock.now()
    clock.set_mode(ClockMode.STEPPED)
    wall.now += 1000
    assert clock.now() == frozen == START + timedelta(hours=1)
    clock.set_mode(ClockMode.WALL)
    wall.now += 2
    assert clock.now() == frozen + timedelta(seconds=2)
    clock.set_mode(ClockMode.SCALED, rate=10)
    wall.now += 1
    assert clock.now() == frozen + timedelta(seconds=12)


def test_restore_puts_back_mode_rate_and_moment() -> None:
    wall = FakeMonotonic()
    clock = SimClock(ClockMode.STEPPED, START, monotonic=wall)
    state = clock.state()
    clock.set_mode(ClockMode.SCALED, rate=5)
    wall.now += 100
    clock.restore(state)
    assert (clock.mode, clock.now()) == (ClockMode.STEPPED, START)


def test_timestamps_are_utc_whatever_the_offset_given() -> None:
    clock = SimClock(ClockMode.STEPPED, START)
    clock.set(datetime(2026, 1, 5, 12, 0, tzinfo=timezone(timedelta(hours=3))))
    assert clock.now() == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert clock.now().utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda clock: clock.advance(timedelta(seconds=-1)), "negative"),
        (lambda clock: clock.set(datetime(2026, 1, 1)), "no time zone"),
        (lambda clock: clock.set_mode(ClockMode.SCALED, rate=0), "positive"),
        (lambda clock: clock.set_mode(ClockMode.SCALED, rate=float("nan")), "positive"),
        (lambda clock: clock.set_mode("sideways"), "sideways"),
    ],
)
def test_bad_moves_are_refused_clearly(call, message: str) -> None:
    clock = SimClock(ClockMode.STEPPED, START)
    with pytest.raises(ValueError, match=message):
        call(clock)
    assert clock.now() == START


def test_concurrent_advances_all_count() -> None:
    clock = SimClock(ClockMode.STEPPED, START)
    barrier = threading.Barrier(8)

    def advance() -> None:
        barrier.wait()
        for _ in range(500):
            clock.advance(timedelta(seconds=1))

    threads = [threading.Thread(target=advance) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.now() == START + timedelta(seconds=4000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT6H", timedelta(hours=6)),
        ("PT30M", timedelta(minutes=30)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P1DT2H30M15S", timedelta(days=1, hours=2, minutes=30, seconds=15)),
        ("P2W", timedelta(weeks=2)),
        ("PT0.5H", timedelta(minutes=30)),
        ("pt1h", timedelta(hours=1)),
        ("PT0S", timedelta(0)),
    ],
)
def test_iso_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P1Y", "no fixed length"),
        ("P1M", "no fixed length"),
        ("-PT1H", "negative"),
        ("PT", "not an ISO-8601 duration"),
        ("P", "not an ISO-8601 duration"),
        ("6H", "not an ISO-8601 duration"),
        ("P1DT", "not an ISO-8601 duration"),
        ("PT1H2D", "not an ISO-8601 duration"),
        ("", "not an ISO-8601 duration"),
        (6, "is text"),
    ],
)
def test_bad_durations_say_what_would_be_right(text, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_moments() -> None:
    assert parse_moment("2026-01-05T09:00:00Z") == START
    assert format_iso(START) == "2026-01-05T09:00:00+00:00"
    with pytest.raises(ValueError, match="no time zone"):
        parse_moment("2026-01-05T09:00:00")
    with pytest.raises(ValueError, match="not an ISO-8601 date-time"):
        parse_moment("yesterday")
