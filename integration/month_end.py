"""Month-end billing in the running service: each month that ends while it watches is billed once, by its clock.

The service starts watching month ends the first time it runs with `billing.bill_at_month_end`
on, and the billing record (`billing_record.py`) keeps since when. A month that ended after that
moment and that no run has recorded is due: at its end if the service is up, else when it next
starts (a late run warns that the usage it bills is the portal's now). A month is recorded once
every device settled; a failure is tried again later, first after a minute, doubling up to an
hour, for as long as it takes (never given up: giving up would lose the month). Billing is
idempotent per device and month, so a retry after a half-done run settles only what is left.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .billing import BillingReport, bill_and_record, bill_month
from .billing_record import BillingBusy, BillingRecord, month_key
from .overage import month_end, months_ended_between
from .settings import Settings
from .state_dir import StateDir

__all__ = ["MonthEndBilling", "wall_clock"]

log = logging.getLogger("cwsim.integration.billing")

CHECK_SECONDS = 60.0  # how often the service looks at its clock: a month is billed within a minute of its end
RETRY_FIRST_SECONDS = 60.0  # a failed month is tried again after this, doubling ...
RETRY_MAX_SECONDS = 3600.0  # ... up to once an hour
LOCK_WAIT_SECONDS = 1.0  # a `bill` run by hand holds the record: come back at the next check rather than wait
LATE_AFTER = timedelta(hours=1)  # billed later than this after its end, a month's usage is not its end's


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Retry:
    failures: int
    at: datetime


class MonthEndBilling:
    """What the service's billing thread runs; `run_if_due()` is the whole job, callable from a test."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = wall_clock,
        bill: Callable[[Settings, date], BillingReport] = bill_month,
        retry_first_seconds: float = RETRY_FIRST_SECONDS,
        retry_max_seconds: float = RETRY_MAX_SECONDS,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.bill = bill
        self.retry_first_seconds = retry_first_seconds
        self.retry_max_seconds = retry_max_seconds
        self.record = BillingRecord(StateDir.of(settings.state_dir).billing)
        self._retries: dict[date, _Retry] = {}

    def start_watching(self) -> datetime:
        """Watch month ends from now, unless watching already: returns since when."""
        return self.record.watch_from(self.clock())

    def due(self) -> list[date]:
        """Months ended since the watch began, not recorded, and not waiting to retry; oldest first."""
        since = self.record.watching_since()
        if since is None:
            return []
        now = self.clock()
        billed = self.record.billed()
        return [
            month
            for month in months_ended_between(since, now)
            if month_key(month) not in billed and (month not in self._retries or self._retries[month].at <= now)
        ]

    def run_if_due(self) -> list[BillingReport]:
        """Bill every month due now; the reports of the runs made."""
        reports = []
        for month in self.due():
            report = self._bill(month)
            if report is not None:
                reports.append(report)
        return reports

    def run(self, stopping: threading.Event, check_seconds: float = CHECK_SECONDS) -> None:
        """Check the clock every `check_seconds` until `stopping` is set."""
        while not stopping.is_set():
            try:
                self.run_if_due()
            except Exception:  # the thread must outlive anything: the month stays due
                log.exception("month-end billing: unexpected error; the month stays due")
            stopping.wait(check_seconds)

    def _bill(self, month: date) -> BillingReport | None:
        key, now = month_key(month), self.clock()
        if month not in self._retries and now - month_end(month) > LATE_AFTER:
            log.warning(
                "billing %s late (it ended %s UTC; the service was not running then):"
                " the usage billed is the portal's now, not at the month's end",
                key,
                month_end(month).strftime("%Y-%m-%d %H:%M"),
            )
        try:
            report = bill_and_record(
                self.settings,
                month,
                by="service",
                now=now,
                wait_seconds=LOCK_WAIT_SECONDS,
                only_if_unbilled=True,
                bill=self.bill,
            )
        except BillingBusy:
            log.info("billing %s: another billing run holds the record; trying again at the next check", key)
            return None
        except Exception as error:  # ConnectWise or the portal down, a setup problem: all retried
            self._failed(month, now, f"{type(error).__name__}: {error}")
            return None
        if report is None:
            log.info("billing %s: already billed by another run", key)
        elif report.errors:
            first = report.errors[0]
            self._failed(month, now, f"{len(report.errors)} device(s) failed, the first {first.serial}: {first.detail}")
        else:
            log.info("billed at month end: %s", report.text().splitlines()[0])
        if report is None or not report.errors:
            self._retries.pop(month, None)
        return report

    def _failed(self, month: date, now: datetime, reason: str) -> None:
        failures = self._retries[month].failures + 1 if month in self._retries else 1
        delay = min(self.retry_max_seconds, self.retry_first_seconds * 2 ** min(failures - 1, 30))
        self._retries[month] = _Retry(failures, now + timedelta(seconds=delay))
        log.error(
            "month-end billing of %s failed (attempt %d): %s; trying again in %g s"
            " (or run: cwsim-integration bill --month %s)",
            month_key(month),
            failures,
            reason,
            delay,
            month_key(month),
        )
