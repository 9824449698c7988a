"""Month-end billing in the running service: once per month by its clock, across restarts, shared with `bill`.

The service's clock is injected, so a test puts it just before a month end and moves it past.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from cwsim.integration import billing
from cwsim.integration.billing import BillingReport
from cwsim.integration.billing_record import BillingClaim, BillingRecord
from cwsim.integration.month_end import MonthEndBilling
from cwsim.integration.overage import month_just_ended
from cwsim.integration.service import IntegrationService
from cwsim.integration.settings import Settings, load_settings
from cwsim.integration.state_dir import StateDir
from cwsim.scenarios.integration_process import write_settings
from tests.alertkit import wait_until
from tests.billingkit import OCTOBER, TB, additions, make_fleet, onboarded_settings, run_cli, set_device
from tests.integrationkit import clear_journal, integration_settings, writes

NOVEMBER, DECEMBER = date(2026, 11, 1), date(2026, 12, 1)
OCTOBER_END = datetime(2026, 11, 1, tzinfo=UTC)
CHECK_SECONDS = 0.02  # the service's billing thread looks at its clock this often in these tests


class FakeClock:
    """The service's clock, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Watched:
    """Counts a MonthEndBilling's billing runs (by month) and its completed clock checks."""

    def __init__(self, month_end: MonthEndBilling) -> None:
        self.runs: list[date] = []
        self.checks = 0
        bill, check = month_end.bill, month_end.run_if_due

        def counting_bill(settings: Settings, month: date) -> BillingReport:
            self.runs.append(month)
            return bill(settings, month)

        def counting_check() -> list[BillingReport]:
            reports = check()
            self.checks += 1
            return reports

        month_end.bill = counting_bill
        month_end.run_if_due = counting_check

    def wait_checks(self, count: int = 3) -> None:
        """Wait until `count` more checks have completed: anything due by now has been billed."""
        target = self.checks + count
        wait_until(lambda: self.checks >= target, 60, f"{count} checks of the billing thread")


@contextmanager
def service_at(settings: Settings, clock: FakeClock) -> Iterator[tuple[IntegrationService, Watched | None]]:
    """The integration running in this thread's process, its clock `clock`; stopped after."""
    service = IntegrationService(settings, workers=1, intake_port=0, clock=clock, billing_check_seconds=CHECK_SECONDS)
    watched = Watched(service.month_end) if service.month_end is not None else None
    service.start()
    try:
        yield service, watched
    finally:
        service.stop()


def record_of(settings: Settings) -> BillingRecord:
    return BillingRecord(StateDir.of(settings.state_dir).billing)


@pytest.fixture
def fleet(cwsim) -> dict[str, str]:
    return make_fleet(cwsim)


@pytest.fixture
def settings(cwsim, fleet, tmp_path: Path) -> Settings:
    settings = onboarded_settings(cwsim, tmp_path / "state")
    settings.connectwise.retry_attempts = 0  # a 503 fails the call at once, for the retry test
    set_device(cwsim, fleet["SIRIS"], used=2 * TB, included=1 * TB)  # 1 unit for October
    return settings


@pytest.mark.parametrize("record_kept", [True, False], ids=["record", "no-record-negative-control"])
def test_the_service_bills_the_month_once_at_its_end_and_a_restart_does_not_bill_it_again(
    cwsim, fleet, settings, monkeypatch, record_kept: bool
) -> None:
    if not record_kept:  # the negative control: nothing remembers that the month was billed
        monkeypatch.setattr(BillingClaim, "mark_billed", lambda self, month, **_: None)
    clock = FakeClock(OCTOBER_END - timedelta(seconds=30))
    record = record_of(settings)
    with service_at(settings, clock) as (_, watched):
        watched.wait_checks()
        assert watched.runs == [] and additions(settings, fleet["SIRIS"]) == []  # October has not ended
        clock.now = OCTOBER_END + timedelta(seconds=30)
        wait_until(lambda: watched.runs, 60, "the month-end run")
        watched.wait_checks()
        if record_kept:
            assert watched.runs == [OCTOBER] and record.billed() == {"2026-10": "service"}
        else:
            assert len(watched.runs) > 1 and record.billed() == {}  # it bills at every check
    (addition,) = additions(settings, fleet["SIRIS"])
    assert addition["quantity"] == 1.0

    # November's usage grows; a restart after the month end must leave October as billed.
    set_device(cwsim, fleet["SIRIS"], used=3 * TB)
    clock.now = OCTOBER_END + timedelta(hours=2)
    with service_at(settings, clock) as (_, watched):
        watched.wait_checks()
        runs = watched.runs
    (addition,) = additions(settings, fleet["SIRIS"])
    if record_kept:
        assert runs == [] and addition["quantity"] == 1.0
    else:  # what the record prevents: October billed again, with November's usage
        assert runs and runs[0] == OCTOBER and addition["quantity"] == 2.0


def test_a_month_that_ended_while_the_service_was_down_is_billed_when_it_starts_once(
    cwsim, fleet, settings, caplog
) -> None:
    clock = FakeClock(OCTOBER_END - timedelta(hours=12))
    with service_at(settings, clock) as (_, watched):
        watched.wait_checks()
    assert watched.runs == []
    clock.now = OCTOBER_END + timedelta(days=2)  # down across the month end
    with (
        caplog.at_level(logging.WARNING, logger="cwsim.integration.billing"),
        service_at(settings, clock) as (_, watched),
    ):
        wait_until(lambda: record_of(settings).billed(), 60, "the missed month to be billed")
        watched.wait_checks()
    assert watched.runs == [OCTOBER] and record_of(settings).billed() == {"2026-10": "service"}
    assert any(
        "billing 2026-10 late" in r.getMessage() and "usage billed is the portal's now" in r.getMessage()
        for r in caplog.records
    )
    assert [a["quantity"] for a in additions(settings, fleet["SIRIS"])] == [1.0]
    clock.now += timedelta(hours=1)
    with service_at(settings, clock) as (_, watched):  # and started again: nothing more
        watched.wait_checks()
    assert watched.runs == []

    # Down across three month ends: each is billed, oldest first, once.
    month_end = MonthEndBilling(settings, clock=FakeClock(datetime(2027, 1, 2, tzinfo=UTC)))
    assert month_end.due() == [NOVEMBER, DECEMBER]
    assert [report.month for report in month_end.run_if_due()] == [NOVEMBER, DECEMBER]
    assert month_end.due() == [] and month_end.run_if_due() == []
    assert [a["quantity"] for a in additions(settings, fleet["SIRIS"], DECEMBER)] == [1.0]


def test_with_bill_at_month_end_off_the_service_never_bills(cwsim, fleet, settings) -> None:
    clock = FakeClock(OCTOBER_END - timedelta(seconds=30))
    with service_at(settings, clock) as (_, watched):  # on: it watches from October
        watched.wait_checks()
    settings.billing.bill_at_month_end = False
    clock.now = OCTOBER_END + timedelta(minutes=5)
    with service_at(settings, clock) as (service, watched):
        assert service.month_end is None and watched is None
        assert "month-end-billing" not in {thread.name for thread in threading.enumerate()}
        assert record_of(settings).watching_since() is None  # turning it off ends the watch
    assert additions(settings, fleet["SIRIS"]) == [] and record_of(settings).billed() == {}

    # On again later: it watches from then, and October (which ended while it was off) is a person's to bill.
    settings.billing.bill_at_month_end = True
    clock.now = OCTOBER_END + timedelta(days=1)
    with service_at(settings, clock) as (_, watched):
        watched.wait_checks()
    assert watched.runs == [] and additions(settings, fleet["SIRIS"]) == []
    assert record_of(settings).watching_since() == clock.now


def test_a_failed_run_is_tried_again_later_and_bills_once(cwsim, fleet, settings, caplog) -> None:
    admin = cwsim.admin()
    clock = FakeClock(OCTOBER_END - timedelta(hours=1))
    month_end = MonthEndBilling(settings, clock=clock)
    month_end.start_watching()
    clock.now = OCTOBER_END + timedelta(minutes=1)

    # The addition is written, but its answer is lost: the device fails, the month stays due.
    admin.post(
        "faults",
        json={
            "method": "POST",
            "path": "finance/agreements/*/additions",
            "count": 1,
            "effect": {"kind": "commit_then_fail"},
        },
    ).raise_for_status()
    with caplog.at_level(logging.ERROR, logger="cwsim.integration.billing"):
        (report,) = month_end.run_if_due()
        assert [device.serial for device in report.errors] == [fleet["SIRIS"]]
        assert record_of(settings).billed() == {}
        assert month_end.due() == []  # not before its retry
        clock.now += timedelta(seconds=59)
        assert month_end.due() == []
        clock.now += timedelta(seconds=1)
        assert month_end.due() == [OCTOBER]

        # ConnectWise down: the whole run fails; the next retry waits twice as long.
        admin.post("faults", json={"path": "finance/*", "effect": {"kind": "status", "status": 503}}).raise_for_status()
        (report,) = month_end.run_if_due()
        assert report.errors and record_of(settings).billed() == {}
        clock.now += timedelta(seconds=119)
        assert month_end.due() == []
        clock.now += timedelta(seconds=1)
        assert month_end.due() == [OCTOBER]
    failures = [r.getMessage() for r in caplog.records if "month-end billing of 2026-10 failed" in r.getMessage()]
    assert "(attempt 1)" in failures[0] and "in 60 s" in failures[0] and "bill --month 2026-10" in failures[0]
    assert "(attempt 2)" in failures[1] and "in 120 s" in failures[1]

    admin.delete("faults").raise_for_status()  # ConnectWise is back
    (report,) = month_end.run_if_due()
    assert not report.errors and record_of(settings).billed() == {"2026-10": "service"}
    # The addition the lost answer made was found again, not made twice.
    assert [a["quantity"] for a in additions(settings, fleet["SIRIS"])] == [1.0]
    assert month_end.due() == []


def test_retries_back_off_to_once_an_hour_and_never_give_up(tmp_path: Path) -> None:
    settings = load_settings(environ={})
    settings.state_dir = str(tmp_path / "state")
    runs: list[date] = []

    def down(settings: Settings, month: date) -> BillingReport:
        runs.append(month)
        raise ConnectionError("ConnectWise is down")

    clock = FakeClock(OCTOBER_END - timedelta(minutes=1))
    month_end = MonthEndBilling(settings, clock=clock, bill=down)
    month_end.start_watching()
    clock.now = OCTOBER_END
    waits = []
    for _ in range(12):
        assert month_end.due() == [OCTOBER]
        month_end.run_if_due()
        retry = month_end._retries[OCTOBER].at
        waits.append((retry - clock.now).total_seconds())
        clock.now = retry
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600, 3600, 3600]
    assert len(runs) == 12 and record_of(settings).billed() == {}


def test_bill_by_hand_and_the_service_share_the_record(cwsim, fleet, settings, monkeypatch) -> None:
    now = datetime.now(UTC)  # `bill` keeps the wall clock
    ended = month_just_ended(now)
    key = f"{ended:%Y-%m}"
    clock = FakeClock(datetime(ended.year, ended.month, 1, tzinfo=UTC) + timedelta(days=1))
    month_end = MonthEndBilling(settings, clock=clock)
    month_end.start_watching()  # watching since the month that has just ended began
    clock.now = now

    # By hand first: recorded, so the service does not run it again.
    status, _, err = run_cli(monkeypatch, settings, "bill", "--month", key)
    assert status == 0, err
    assert record_of(settings).billed() == {key: "bill"}
    assert month_end.due() == []

    # A month that has not ended is billed by hand but not recorded: its end bills it again.
    status, _, err = run_cli(monkeypatch, settings, "bill", "--month", f"{now:%Y-%m}")
    assert status == 0, err
    assert record_of(settings).billed() == {key: "bill"}

    # The service first (for the month before), then by hand: the hand run writes nothing.
    before = month_just_ended(datetime(ended.year, ended.month, 1, tzinfo=UTC))
    record_of(settings).stop_watching()
    clock.now = datetime(before.year, before.month, 2, tzinfo=UTC)
    month_end.start_watching()
    clock.now = now
    (report,) = month_end.run_if_due()
    assert report.month == before and not report.errors
    assert record_of(settings).billed() == {f"{before:%Y-%m}": "service", key: "bill"}
    assert [a["quantity"] for a in additions(settings, fleet["SIRIS"], before)] == [1.0]
    clear_journal(cwsim)
    status, _, err = run_cli(monkeypatch, settings, "bill", "--month", f"{before:%Y-%m}")
    assert status == 0, err
    assert writes(cwsim) == []


def test_a_run_holding_the_record_makes_the_other_wait(cwsim, fleet, settings, monkeypatch, caplog) -> None:
    monkeypatch.setattr(billing, "BILL_COMMAND_WAIT_SECONDS", 0.2)
    clock = FakeClock(OCTOBER_END - timedelta(hours=1))
    month_end = MonthEndBilling(settings, clock=clock)
    month_end.start_watching()
    clock.now = OCTOBER_END + timedelta(minutes=1)
    with record_of(settings).claim(1.0):  # a run in progress
        status, out, err = run_cli(monkeypatch, settings, "bill", "--month", "2026-10")
        assert status == 1 and out == ""
        assert err.startswith("cwsim-integration bill: another billing run has held ") and "Traceback" not in err
        assert err.count("\n") == 1
        with caplog.at_level(logging.INFO, logger="cwsim.integration.billing"):
            assert month_end.run_if_due() == []
        assert any("another billing run holds the record" in r.getMessage() for r in caplog.records)
    assert month_end.due() == [OCTOBER]  # no retry penalty: the next check bills it
    (report,) = month_end.run_if_due()
    assert report.month == OCTOBER and record_of(settings).billed() == {"2026-10": "service"}


def test_scenario_runs_start_the_integration_with_month_end_billing_off(cwsim, tmp_path: Path) -> None:
    scenario_integration = {
        "device_route": "both",
        "agent_route": "both",
        "close_on_clear": False,
        "workers": 1,
        "settings": {"billing": {"bill_at_month_end": True, "binary_units": True}},
    }
    path = write_settings(tmp_path / "integration.yaml", cwsim.facts, tmp_path / "state", scenario_integration)
    assert yaml.safe_load(path.read_text())["billing"] == {"bill_at_month_end": False, "binary_units": True}
    assert load_settings(path, environ={}).billing.bill_at_month_end is False
    assert integration_settings(cwsim).billing.bill_at_month_end is True  # the default


def test_a_service_starting_while_bill_holds_the_lock_does_not_wait_for_it(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "billing.sqlite3"
    record = BillingRecord(path)
    since = record.watch_from(datetime(2026, 10, 1, tzinfo=UTC))
    connect = BillingRecord._connect
    # Any wait for the lock fails at once here instead of after the real 30 s.
    monkeypatch.setattr(
        BillingRecord, "_connect", lambda self, busy_timeout_seconds: connect(self, busy_timeout_seconds=0.1)
    )
    starting = BillingRecord(path)  # what the service opens when it starts
    with record.claim(wait_seconds=1):  # `bill` holds the lock through its whole run
        assert starting.watch_from(datetime(2026, 11, 5, tzinfo=UTC)) == since
        assert starting.billed() == {}
        # Negative control: a write, as watch_from made before reading, does wait for the lock.
        with (
            pytest.raises(sqlite3.OperationalError, match="locked"),
            closing(starting._connect(busy_timeout_seconds=0.1)) as connection,
        ):
            connection.execute("INSERT OR IGNORE INTO watch (id, since) VALUES (1, 'x')")
    fresh = BillingRecord(tmp_path / "other.sqlite3")
    with fresh.claim(wait_seconds=1):
        BillingRecord(tmp_path / "other.sqlite3").stop_watching()  # not watching: nothing to write, no wait
