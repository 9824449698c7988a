"""The event-driven simulation of a fleet: incidents drawn ahead in time, alerts raised as appliances raise them.

Nothing ticks per hour. Each asset has three streams of future trouble on one event queue: the next
backup slot that goes wrong (a geometric draw over its schedule's slots), the next failed
screenshot (a geometric draw over days) and the next rare incident (an exponential draw:
backups stalling, offsite sync stalling, a ransomware flag). Each device and site has its own
outage streams, and one event a day grows storage. Successful backups are state, not events:
the last backup is derived from the schedule and the moments the asset stopped and resumed.

Appliance rules, as docs/datto-facts.md §4 describes them:
- a repeat of an active alert raises its `numberSeen` instead of a new alert;
- no alert (raise or repeat) when the email list for its kind is empty;
- paused or archived assets raise nothing, and out-of-service devices send nothing at all;
- an alert clears when its cause ends (the 24-hour alert at the next successful backup).

Times are whole epoch seconds. Every draw comes from the device's (or site's) own RNG and events
at the same second run in the order they were scheduled, so a run is the same in any process.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

from .alerts import CLEAR, RAISE, REPEAT, Alert, usage_payload
from .catalog import ALERT_TYPES, PlanKind
from .fleet import Asset, Device, Fleet, derive_rng
from .schedule import DAY, HOUR, daily_at, last_daily
from .settings import FleetRates
from .truth import Incident, TruthLog

MONTH = 30 * DAY
WEEK = 7 * DAY

# Why an asset is not backing up (bits of `Asset.blocks`).
FAILING, STALLED, LOCKED, DOWN, SILENCED, FULL = 1, 2, 4, 8, 16, 32
NO_ERROR_BLOCKS = STALLED | DOWN  # not backing up, and no error to show for it
# Why an asset's offsite copy is not syncing (bits of `Asset.sync_blocks`).
SYNC_AGENT, SYNC_UPLINK = 1, 2

CLEARED_BY_BACKUP = tuple(kind for kind, alert_type in ALERT_TYPES.items() if alert_type.cleared_by_backup)
HISTORY = 10  # recent backup problems kept per asset, for the portal's `backups[]`


def _log_miss(p: float) -> float | None:
    """log(1 - p) for geometric draws: None when `p` is 0 (never), -inf when it is 1 (every time)."""
    if p <= 0:
        return None
    return math.log(1.0 - p) if p < 1 else -math.inf


def on_the_minute(moment: int) -> int:
    """Spontaneous draws are rounded up to the minute, so events share moments (see `Engine._push`)."""
    return -(-moment // 60) * 60


def settle_offsite(device: Device) -> int:
    """A CAPACITY device's offsite usage after a day: below its target (a share of its tier) a day's new data
    arrives and retention prunes old points in proportion to how full it is, so usage closes on the target at
    the pace of its data and never overshoots; at or past the target retention prunes what a day adds. With no
    new data nothing moves, so usage set exactly stays exact."""
    target = device.plan.included_offsite_bytes * device.offsite_target
    used, daily = device.offsite_used, device.daily_offsite
    if used >= target:
        return used
    return used + int((target - used) * min(1.0, daily / target))


def last_backup(asset: Asset, moment: int) -> int:
    """The last successful backup at or before `moment`: derived from the schedule unless the asset is blocked."""
    if asset.blocks:
        return asset.last_success
    slot = asset.schedule.last_slot(moment, asset.device.origin)
    return slot if slot >= asset.resumed_at else asset.last_success


def latest_offsite(asset: Asset, moment: int) -> int | None:
    if asset.device.plan.kind is PlanKind.LOCAL_ONLY:
        return None
    return asset.offsite_frozen if asset.sync_blocks else last_backup(asset, moment)


def last_screenshot(asset: Asset, moment: int) -> tuple[int | None, bool]:
    """The last screenshot attempt at or before `moment` and whether it succeeded."""
    if asset.screenshot_second is None or asset.kind != "agent":
        return None, False
    attempt = last_daily(moment, asset.device.origin, asset.screenshot_second)
    return attempt, asset.shot_failure is None


class Engine:
    """Runs a fleet forward in time; what it raises, repeats and clears lands in `out` as payloads."""

    def __init__(self, fleet: Fleet, keep_truth: bool = True, emit_usage: bool = True) -> None:
        self.fleet = fleet
        self.rates: FleetRates = fleet.spec.rates
        self.seed = fleet.spec.seed
        self.now = fleet.start
        # The event queue: a heap of distinct moments, each with its events in the order they were scheduled.
        # Most events share few moments (slots are on the hour, draws are rounded to the minute), so this
        # pops far fewer heap entries than a heap of events would, in the same order.
        self.moments: list[int] = []
        self.buckets: dict[int, list[tuple[int, Any, Any]]] = {}
        self.position = 0  # how far into the earliest moment's events a budgeted run got
        self.out: list[dict[str, Any]] = []
        self.marks: list[tuple[int, int]] = []  # (moment, len(out) once that moment's events were all out)
        self.counts: Counter[tuple[str, str]] = Counter()
        self.suppressed: Counter[str] = Counter()
        self.truth = TruthLog(keep_truth)
        self.emit_usage = emit_usage
        self.site_rngs = {site: derive_rng(self.seed, "site", site) for site in sorted(fleet.sites)}
        self._derive_rates()
        self._bind_handlers()
        for device in fleet.devices:
            self._prepare(device, self.now)
        for site in self.site_rngs:
            self._next_site_incident(site, self.now)
        self._push(-(-(self.now + 1) // DAY) * DAY, self.DAY_TICK, None)

    # -- setup ------------------------------------------------------------------------------------

    def _derive_rates(self) -> None:
        rates = self.rates
        failed = rates.backup_failure_p
        run = rates.backup_failure_run_mean
        # episodes start at rate q per good attempt and fail `run` attempts on average: failed share = q*run/(1+q*run)
        self.episode_p = failed / (run * (1 - failed)) if failed < 1 else 1.0
        self.slot_p = min(1.0, self.episode_p + rates.local_verification_p)
        self.slot_miss = _log_miss(self.slot_p)
        self.run_end_miss = _log_miss(1 / run)
        self.screenshot_miss = _log_miss(rates.screenshot_failure_p)
        self.chronic_miss = _log_miss(rates.chronic_screenshot_p)
        self.stall_rate = rates.backup_stall_per_agent_month / MONTH
        self.sync_rate = rates.offsite_behind_per_agent_week / WEEK
        self.ransom_rate = rates.ransomware_per_agent_month / MONTH
        self.rare_rate = self.stall_rate + self.sync_rate + self.ransom_rate
        self.outage_rate = rates.device_outage_per_month / MONTH
        self.power_rate = rates.site_power_loss_per_site_month / MONTH
        self.uplink_rate = rates.slow_uplink_per_site_month / MONTH

    def _bind_handlers(self) -> None:
        self.handlers: list[Callable[[int, Any, Any], None]] = [
            self._day_tick,
            self._slot_incident,
            self._failed_attempt,
            self._verification_passes,
            self._screenshot_failure,
            self._screenshot_retry,
            self._screenshot_overdue,
            self._rare_incident,
            self._ransomware_resolved,
            self._stall_ends,
            self._no_backup_check,
            self._first_backup,
            self._device_outage,
            self._device_not_seen,
            self._device_returns,
            self._locked_attempt,
            self._unlocked,
            self._sync_resumes,
            self._offsite_check,
            self._site_incident,
            self._uplink_recovers,
        ]

    (
        DAY_TICK,
        SLOT_INCIDENT,
        FAILED_ATTEMPT,
        VERIFICATION_PASSES,
        SCREENSHOT_FAILURE,
        SCREENSHOT_RETRY,
        SCREENSHOT_OVERDUE,
        RARE_INCIDENT,
        RANSOMWARE_RESOLVED,
        STALL_ENDS,
        NO_BACKUP_CHECK,
        FIRST_BACKUP,
        DEVICE_OUTAGE,
        DEVICE_NOT_SEEN,
        DEVICE_RETURNS,
        LOCKED_ATTEMPT,
        UNLOCKED,
        SYNC_RESUMES,
        OFFSITE_CHECK,
        SITE_INCIDENT,
        UPLINK_RECOVERS,
    ) = range(21)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["handlers"]  # bound methods: rebuilt on load
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind_handlers()

    def _prepare(self, device: Device, moment: int) -> None:
        device.rng = rng = derive_rng(self.seed, "events", device.serial)
        device.alerts = {}
        device.outage = device.space = None
        device.space_level = 0
        self.refresh_daily_offsite(device)
        for asset in device.assets:
            asset.resumed_at = asset.added
            asset.last_success = asset.schedule.last_slot(moment, device.origin)
            asset.shot_last_ok = last_daily(moment, device.origin, asset.screenshot_second or 0)
            if asset.silent:
                asset.blocks = SILENCED
                asset.last_success = asset.schedule.last_slot(moment - rng.randint(1, 30) * DAY, device.origin)
            else:
                self._arm(asset, moment)
        self._next_outage(device, moment)
        self.check_space(device, moment)

    def refresh_daily_offsite(self, device: Device) -> None:
        """The offsite growth a day brings (recomputed when the device's plan or assets change)."""
        if device.plan.kind is PlanKind.LOCAL_ONLY:
            device.daily_offsite = 0
            return
        protected = sum(asset.protected_bytes for asset in device.assets if not asset.archived)
        device.daily_offsite = int(protected * self.rates.daily_change * self.rates.offsite_compression)

    # -- running ----------------------------------------------------------------------------------

    def _push(self, moment: int, code: int, target: Any, token: Any = None) -> None:
        if moment < self.now:
            moment = self.now
        bucket = self.buckets.get(moment)
        if bucket is None:
            self.buckets[moment] = [(code, target, token)]
            heappush(self.moments, moment)
        else:
            bucket.append((code, target, token))

    def run_until(self, until: int, max_events: int | None = None) -> bool:
        """Process every event up to `until` (or `max_events` of them); True once `until` is reached."""
        moments, buckets, handlers = self.moments, self.buckets, self.handlers
        budget = max_events if max_events is not None else -1
        while moments and moments[0] <= until:
            moment = moments[0]
            bucket = buckets[moment]
            self.now = moment
            index = self.position
            while index < len(bucket):  # handlers may append to this very moment
                if budget == 0:
                    self.position = index
                    return False
                budget -= 1
                code, target, token = bucket[index]
                index += 1
                handlers[code](moment, target, token)
            del buckets[moment]
            heappop(moments)
            self.position = 0
            if self.out and (not self.marks or self.marks[-1][1] != len(self.out)):
                self.marks.append((moment, len(self.out)))
        if until > self.now:
            self.now = until
        return True

    def pending(self) -> int:
        return sum(len(bucket) for bucket in self.buckets.values()) - self.position

    def take_events(self) -> list[dict[str, Any]]:
        """The payloads produced since the last take, in order."""
        events, self.out, self.marks = self.out, [], []
        return events

    def take_moments(self) -> list[tuple[int, list[dict[str, Any]]]]:
        """The payloads produced since the last take, grouped by the moment they happened at."""
        events, marks = self.out, self.marks
        self.out, self.marks = [], []
        groups, start = [], 0
        for moment, end in marks:
            groups.append((moment, events[start:end]))
            start = end
        if start < len(events):
            groups.append((self.now, events[start:]))
        return groups

    # -- alerts -----------------------------------------------------------------------------------

    def observe(self, kind: str, device: Device, asset: Asset | None, moment: int, incident: Incident) -> None:
        """The appliance sees the condition `kind`: a new alert, or a repeat of the active one."""
        alert_type = ALERT_TYPES[kind]
        if not device.in_service:
            reason = "out_of_service"
        elif asset is not None and (asset.paused or asset.archived):
            reason = "archived" if asset.archived else "paused"
        elif not device.emails[alert_type.email_list]:
            reason = "no_recipients"
        else:
            key = (asset.volume if asset else "", kind)
            alert = device.alerts.get(key)
            if alert is not None:
                alert.number_seen += 1
                alert.last_seen = moment
                self.out.append(alert.payload(REPEAT, moment))
                self.counts[REPEAT, kind] += 1
                return
            alert = Alert(alert_type, device, asset, moment, incident)
            device.alerts[key] = alert
            self.truth.raised(alert)
            self.out.append(alert.payload(RAISE, moment))
            self.counts[RAISE, kind] += 1
            return
        incident.suppress(reason)
        self.suppressed[reason] += 1

    def resolve(self, kind: str, device: Device, asset: Asset | None, moment: int) -> None:
        """The condition `kind` ended: its active alert clears (silently on an out-of-service device)."""
        alert = device.alerts.pop((asset.volume if asset else "", kind), None)
        if alert is None:
            return
        alert.cleared_at = moment
        if device.in_service:
            self.out.append(alert.payload(CLEAR, moment))
            self.counts[CLEAR, kind] += 1
        else:
            self.suppressed["out_of_service"] += 1
        alert.base = None  # only the truth log keeps a cleared alert: drop what only events needed

    def _history(self, asset: Asset, moment: int, status: str, message: str) -> None:
        history = asset.history
        history.append((moment, status, message))
        if len(history) > HISTORY:
            del history[0]

    # -- backing up or not ------------------------------------------------------------------------

    def _block(self, asset: Asset, reason: int, moment: int, at_slot: bool = False) -> None:
        """The asset stops backing up for `reason` (at a slot: that slot's backup is the first missed)."""
        if not asset.blocks:
            asset.last_success = last_backup(asset, moment - 1 if at_slot else moment)
        asset.blocks |= reason

    def _unblock(self, asset: Asset, reason: int, moment: int, at_slot: bool = False) -> None:
        """`reason` is over; once nothing else blocks the asset, its next backup succeeds (at a slot: this one)."""
        if not asset.blocks & reason:
            return
        asset.blocks &= ~reason
        if asset.blocks:
            return
        asset.resumed_at = moment
        if at_slot:
            self._backup_succeeded(asset, moment)
        elif any((asset.volume, kind) in asset.device.alerts for kind in CLEARED_BY_BACKUP):
            self._push(asset.schedule.nth_slot(moment + 1, asset.device.origin), self.FIRST_BACKUP, asset, moment)

    def _backup_succeeded(self, asset: Asset, moment: int) -> None:
        for kind in CLEARED_BY_BACKUP:
            self.resolve(kind, asset.device, asset, moment)

    def _first_backup(self, moment: int, asset: Asset, resumed_at: int) -> None:
        if not asset.blocks and asset.resumed_at == resumed_at:
            self._backup_succeeded(asset, moment)

    def _has_backup_error(self, asset: Asset) -> bool:
        alerts = asset.device.alerts
        return (asset.volume, "backup_failed") in alerts or (asset.volume, "encrypted_agent_locked") in alerts

    def _arm(self, asset: Asset, moment: int) -> None:
        """Start (or restart) the asset's streams of spontaneous trouble; older pending draws go stale."""
        asset.armed += 1
        self._next_slot_incident(asset, moment)
        self._next_screenshot_failure(asset, moment)
        self._next_rare_incident(asset, moment)

    @staticmethod
    def _geometric(rng: Any, log_miss: float | None) -> int | None:
        """Trials before the first hit, for `log_miss` = log(1 - p) from `_log_miss` (None: never)."""
        if log_miss is None:
            return None
        return int(math.log(1.0 - rng.random()) / log_miss)

    # -- backup slots: failures and local verification errors -------------------------------------

    def _next_slot_incident(self, asset: Asset, moment: int) -> None:
        skipped = self._geometric(asset.device.rng, self.slot_miss)
        if skipped is not None:
            when = asset.schedule.nth_slot(moment, asset.device.origin, skipped)
            self._push(when, self.SLOT_INCIDENT, asset, asset.armed)

    def _slot_incident(self, moment: int, asset: Asset, armed: int) -> None:
        if armed != asset.armed:
            return
        device = asset.device
        if asset.blocks or device.outage is not None or asset.failure is not None:
            self._next_slot_incident(asset, moment + 1)
            return
        if device.rng.random() * self.slot_p < self.episode_p:
            run = 1 + (self._geometric(device.rng, self.run_end_miss) or 0)
            self.start_backup_failure(asset, moment, run)
        else:
            self.start_verification_error(asset, moment)

    def start_backup_failure(
        self, asset: Asset, moment: int, attempts: int, incident: Incident | None = None
    ) -> Incident:
        """The protected system stops answering: `attempts` failed backups in a row, then a good one."""
        device = asset.device
        incident = incident or self.truth.incident("backup_failure", "asset", moment, [device.serial], asset.volume)
        incident.note(attempts=attempts)
        asset.failure = incident
        asset.failures_left = attempts - 1
        self._block(asset, FAILING, moment, at_slot=True)
        self._history(asset, moment, "failed", "Cannot connect to the protected system")
        self.observe("backup_failed", device, asset, moment, incident)
        self._push(asset.schedule.nth_slot(moment + 1, device.origin), self.FAILED_ATTEMPT, asset, incident)
        return incident

    def _failed_attempt(self, moment: int, asset: Asset, incident: Incident) -> None:
        if asset.failure is not incident:
            return
        device = asset.device
        if asset.silent:  # paused mid-run: no more attempts, so nothing is failing any more
            self._end_failure(asset, incident, moment, at_slot=False)
            return
        if device.outage is None and asset.failures_left > 0:
            asset.failures_left -= 1
            self._history(asset, moment, "failed", "Cannot connect to the protected system")
            self.observe("backup_failed", device, asset, moment, incident)
        elif device.outage is None:
            self._end_failure(asset, incident, moment, at_slot=True)
            self._next_slot_incident(asset, moment + 1)
            return
        self._push(asset.schedule.nth_slot(moment + 1, device.origin), self.FAILED_ATTEMPT, asset, incident)

    def _end_failure(self, asset: Asset, incident: Incident, moment: int, at_slot: bool) -> None:
        asset.failure = None
        incident.end = moment
        self._unblock(asset, FAILING, moment, at_slot)
        if not at_slot:
            self.resolve("backup_failed", asset.device, asset, moment)

    def start_verification_error(self, asset: Asset, moment: int) -> Incident:
        """This backup succeeds but its local verification finds errors; the next one passes."""
        device = asset.device
        incident = self.truth.incident("local_verification_error", "asset", moment, [device.serial], asset.volume)
        self._history(asset, moment, "verification_error", "Local verification found filesystem errors")
        self.observe("local_verification_error", device, asset, moment, incident)
        self._push(asset.schedule.nth_slot(moment + 1, device.origin), self.VERIFICATION_PASSES, asset, incident)
        return incident

    def _verification_passes(self, moment: int, asset: Asset, incident: Incident) -> None:
        device = asset.device
        if (asset.blocks & ~SILENCED or device.outage is not None) and not asset.silent:
            self._push(asset.schedule.nth_slot(moment + 1, device.origin), self.VERIFICATION_PASSES, asset, incident)
            return
        incident.end = moment
        self.resolve("local_verification_error", device, asset, moment)
        if not asset.silent and asset.failure is None:
            self._next_slot_incident(asset, moment + 1)

    # -- screenshots ------------------------------------------------------------------------------

    def _screenshot_p(self, asset: Asset) -> float:
        return self.rates.chronic_screenshot_p if asset.chronic else self.rates.screenshot_failure_p

    def _next_screenshot_failure(self, asset: Asset, moment: int) -> None:
        if asset.screenshot_second is None or asset.kind != "agent":
            return
        skipped = self._geometric(asset.device.rng, self.chronic_miss if asset.chronic else self.screenshot_miss)
        if skipped is not None:
            when = daily_at(moment, asset.device.origin, asset.screenshot_second, skipped)
            self._push(when, self.SCREENSHOT_FAILURE, asset, asset.armed)

    def _screenshot_failure(self, moment: int, asset: Asset, armed: int) -> None:
        if armed != asset.armed:
            return
        if asset.device.outage is not None or asset.shot_failure is not None:
            self._next_screenshot_failure(asset, moment + 1)
            return
        self.start_screenshot_failure(asset, moment)

    def start_screenshot_failure(self, asset: Asset, moment: int, failures: int | None = None) -> Incident:
        """Screenshot verification starts failing: for `failures` days, or until a day's draw succeeds."""
        device = asset.device
        incident = self.truth.incident("screenshot_failure", "asset", moment, [device.serial], asset.volume)
        if failures is not None:
            incident.note(failures=failures)
        asset.shot_failure = incident
        asset.shot_last_ok = last_daily(moment - 1, device.origin, asset.screenshot_second or 0)
        self._history(asset, moment, "screenshot_failed", "Screenshot verification failed: boot timed out")
        self.observe("screenshot_failed", device, asset, moment, incident)
        second = asset.screenshot_second if asset.screenshot_second is not None else moment % DAY
        self._push(daily_at(moment + 1, device.origin, second), self.SCREENSHOT_RETRY, asset, incident)
        self._arm_overdue(asset, incident, moment)
        return incident

    def _screenshot_retry(self, moment: int, asset: Asset, incident: Incident) -> None:
        if asset.shot_failure is not incident:
            return
        device = asset.device
        if asset.silent:
            self._end_screenshot_failure(asset, incident, moment)
            return
        if device.outage is None:
            forced = incident.detail.get("failures") if incident.detail else None
            if forced is None:
                forced = incident.count + 1 if device.rng.random() < self._screenshot_p(asset) else 0
            if incident.count >= forced:
                self._end_screenshot_failure(asset, incident, moment)
                self._next_screenshot_failure(asset, moment + 1)
                return
            incident.count += 1
            self._history(asset, moment, "screenshot_failed", "Screenshot verification failed: boot timed out")
            self.observe("screenshot_failed", device, asset, moment, incident)
        self._arm_overdue(asset, incident, moment)
        self._push(moment + DAY, self.SCREENSHOT_RETRY, asset, incident)

    def _arm_overdue(self, asset: Asset, incident: Incident, moment: int) -> None:
        """Schedule SCR0909 from the attempt just before it falls due (so short runs cost no event)."""
        due = asset.shot_last_ok + DAY + self.rates.screenshot_overdue_hours * HOUR
        if due < moment + DAY and (due >= moment or moment == incident.start):
            self._push(max(due, moment), self.SCREENSHOT_OVERDUE, asset, incident)

    def _end_screenshot_failure(self, asset: Asset, incident: Incident, moment: int) -> None:
        asset.shot_failure = None
        asset.shot_last_ok = moment
        incident.end = moment
        self.resolve("screenshot_failed", asset.device, asset, moment)
        self.resolve("screenshot_overdue", asset.device, asset, moment)

    def _screenshot_overdue(self, moment: int, asset: Asset, incident: Incident) -> None:
        if asset.shot_failure is not incident:
            return
        self.observe("screenshot_overdue", asset.device, asset, moment, incident)
        self._push(moment + DAY, self.SCREENSHOT_OVERDUE, asset, incident)  # at most once a day [V]

    # -- rare incidents of one asset --------------------------------------------------------------

    def _next_rare_incident(self, asset: Asset, moment: int) -> None:
        if self.rare_rate > 0:
            when = on_the_minute(moment + 1 + int(asset.device.rng.expovariate(self.rare_rate)))
            self._push(when, self.RARE_INCIDENT, asset, asset.armed)

    def _lognormal(self, rng: Any, median_hours: float) -> int:
        """A duration in whole minutes, at least one."""
        seconds = rng.lognormvariate(math.log(median_hours * HOUR), self.rates.duration_sigma)
        return max(60, on_the_minute(int(seconds)))

    def _rare_incident(self, moment: int, asset: Asset, armed: int) -> None:
        if armed != asset.armed:
            return
        device = asset.device
        rng = device.rng
        pick = rng.random() * self.rare_rate
        if device.outage is None:
            if pick < self.stall_rate:
                if not asset.blocks:
                    self.start_backup_stall(asset, moment, self._lognormal(rng, self.rates.backup_stall_median_hours))
            elif pick < self.stall_rate + self.sync_rate:
                if device.plan.kind is not PlanKind.LOCAL_ONLY:
                    days = rng.uniform(self.rates.offsite_behind_min_days, self.rates.offsite_behind_max_days)
                    self.start_offsite_behind(asset, moment, on_the_minute(int(days * DAY)))
            elif asset.ransomware is None and not asset.blocks:
                true_positive = rng.random() < self.rates.ransomware_true_positive_share
                hours = self.rates.ransomware_resolution_median_hours
                self.start_ransomware(asset, moment, true_positive, self._lognormal(rng, hours))
        self._next_rare_incident(asset, moment)

    def start_backup_stall(self, asset: Asset, moment: int, duration: int) -> Incident:
        """Backups silently stop (no error) for `duration` seconds: the 24-hour check's case."""
        device = asset.device
        incident = self.truth.incident("backup_stall", "asset", moment, [device.serial], asset.volume)
        incident.note(durationSeconds=duration)
        asset.stall = incident
        self._block(asset, STALLED, moment)
        end = asset.schedule.nth_slot(moment + duration, device.origin)
        incident.end = end
        self._push(end, self.STALL_ENDS, asset, incident)
        self._push(max(moment, self._no_backup_due(asset)), self.NO_BACKUP_CHECK, asset, incident)
        return incident

    def _no_backup_due(self, asset: Asset) -> int:
        """When the 24-hour check first fires for an asset that stopped backing up [V, BackupAlertService]."""
        last = asset.last_success
        first_missed = asset.schedule.nth_slot(last + 1, asset.device.origin)
        due = max(last + self.rates.no_backup_hours * HOUR, first_missed + self.rates.missed_slot_hours * HOUR)
        return -(-due // HOUR) * HOUR  # the check runs on the hour [A]

    def _no_backup_check(self, moment: int, asset: Asset, incident: Incident) -> None:
        if asset.stall is not incident:
            return
        device = asset.device
        if device.outage is None and not self._has_backup_error(asset):
            self.observe("no_backup_24h", device, asset, moment, incident)
        self._push(moment + DAY, self.NO_BACKUP_CHECK, asset, incident)

    def _stall_ends(self, moment: int, asset: Asset, incident: Incident) -> None:
        if asset.stall is incident:
            asset.stall = None
            self._unblock(asset, STALLED, moment, at_slot=True)

    def start_offsite_behind(self, asset: Asset, moment: int, duration: int) -> Incident:
        """The asset's offsite sync stops for `duration` seconds."""
        device = asset.device
        incident = self.truth.incident("offsite_behind", "asset", moment, [device.serial], asset.volume)
        incident.end = moment + duration
        self._stop_sync(asset, SYNC_AGENT, incident, moment)
        self._push(moment + duration, self.SYNC_RESUMES, asset, incident)
        return incident

    def _stop_sync(self, asset: Asset, reason: int, incident: Incident, moment: int) -> None:
        if not asset.sync_blocks:
            asset.offsite_frozen = last_backup(asset, moment)
        asset.sync_blocks |= reason
        asset.sync_incidents.append((reason, incident))
        due = asset.offsite_frozen + self.rates.offsite_behind_hours * HOUR
        self._push(max(due, moment), self.OFFSITE_CHECK, asset, incident)

    def _offsite_check(self, moment: int, asset: Asset, incident: Incident) -> None:
        if any(held is incident for _, held in asset.sync_incidents):
            self.observe("offsite_behind", asset.device, asset, moment, incident)

    def _sync_resumes(self, moment: int, asset: Asset, incident: Incident) -> None:
        remaining = [(reason, held) for reason, held in asset.sync_incidents if held is not incident]
        if len(remaining) == len(asset.sync_incidents):
            return
        asset.sync_incidents = remaining
        asset.sync_blocks = 0
        for reason, _ in remaining:
            asset.sync_blocks |= reason
        if not asset.sync_blocks:
            self.resolve("offsite_behind", asset.device, asset, moment)

    def start_ransomware(self, asset: Asset, moment: int, true_positive: bool, duration: int) -> Incident:
        """A snapshot looks encrypted by ransomware; a technician resolves it after `duration` seconds."""
        device = asset.device
        incident = self.truth.incident("ransomware", "asset", moment, [device.serial], asset.volume)
        incident.note(truePositive=true_positive)
        incident.end = moment + duration
        asset.ransomware = incident
        self.observe("ransomware_suspected", device, asset, moment, incident)
        self._push(moment + duration, self.RANSOMWARE_RESOLVED, asset, incident)
        return incident

    def _ransomware_resolved(self, moment: int, asset: Asset, incident: Incident) -> None:
        if asset.ransomware is incident:
            asset.ransomware = None
            self.resolve("ransomware_suspected", asset.device, asset, moment)

    def start_lock(self, asset: Asset, moment: int, duration: int, cause: Incident | None = None) -> Incident:
        """An encrypted agent is locked (its key is gone after a reboot) until someone unlocks it."""
        device = asset.device
        incident = self.truth.incident("encrypted_agent_locked", "asset", moment, [device.serial], asset.volume)
        incident.cause = cause
        asset.lock = incident
        self._block(asset, LOCKED, moment)
        self._push(asset.schedule.nth_slot(moment, device.origin), self.LOCKED_ATTEMPT, asset, incident)
        self._push(moment + duration, self.UNLOCKED, asset, incident)
        return incident

    def _locked_attempt(self, moment: int, asset: Asset, incident: Incident) -> None:
        if asset.lock is not incident:
            return
        if asset.device.outage is None and not asset.silent:
            self._history(asset, moment, "failed", "Encrypted agent is locked")
            self.observe("encrypted_agent_locked", asset.device, asset, moment, incident)
        self._push(asset.schedule.nth_slot(moment + 1, asset.device.origin), self.LOCKED_ATTEMPT, asset, incident)

    def _unlocked(self, moment: int, asset: Asset, incident: Incident) -> None:
        if asset.lock is incident:
            asset.lock = None
            incident.end = moment
            self._unblock(asset, LOCKED, moment)

    # -- devices going dark -----------------------------------------------------------------------

    def _next_outage(self, device: Device, moment: int) -> None:
        if self.outage_rate > 0:
            when = on_the_minute(moment + 1 + int(device.rng.expovariate(self.outage_rate)))
            self._push(when, self.DEVICE_OUTAGE, device)

    def _device_outage(self, moment: int, device: Device, _: Any) -> None:
        rng = device.rng
        duration = self._lognormal(rng, self.rates.device_outage_median_hours)
        if device.outage is None:
            reboot = rng.random() < self.rates.reboot_share
            self.start_device_offline(device, moment, duration, reboot)
        self._next_outage(device, moment + duration)

    def start_device_offline(
        self, device: Device, moment: int, duration: int, reboot: bool, incident: Incident | None = None
    ) -> Incident:
        """The device stops checking in for `duration` seconds (and reboots when it comes back, if `reboot`)."""
        if incident is None:
            incident = self.truth.incident("device_offline", "device", moment, [device.serial])
            incident.end = moment + duration
        if not incident.detail or "reboot" not in incident.detail:
            incident.note(reboot=reboot)
        device.outage = incident
        for asset in device.assets:
            self._block(asset, DOWN, moment)
        self._push(moment + self.rates.not_seen_minutes * 60, self.DEVICE_NOT_SEEN, device, incident)
        self._push(moment + duration, self.DEVICE_RETURNS, device, (incident, reboot))
        return incident

    def _device_not_seen(self, moment: int, device: Device, incident: Incident) -> None:
        if device.outage is incident:
            self.observe("device_not_seen", device, None, moment, incident)

    def _device_returns(self, moment: int, device: Device, token: tuple[Incident, bool]) -> None:
        incident, reboot = token
        if device.outage is not incident:
            return
        device.outage = None
        self.resolve("device_not_seen", device, None, moment)
        if reboot:
            device.booted_at = moment
        long_ago = moment - self.rates.no_backup_hours * HOUR
        for asset in device.assets:
            # the appliance's first 24-hour check after it comes back
            if (
                asset.blocks & ~NO_ERROR_BLOCKS == 0
                and not self._has_backup_error(asset)
                and asset.last_success <= long_ago
                and self._no_backup_due(asset) <= moment
            ):
                self.observe("no_backup_24h", device, asset, moment, incident)
            self._unblock(asset, DOWN, moment)
            if reboot and asset.encrypted and not asset.silent and device.rng.random() < self.rates.encrypted_lock_p:
                self.start_lock(asset, moment, self._lognormal(device.rng, self.rates.unlock_median_hours), incident)

    # -- sites: correlated incidents --------------------------------------------------------------

    def _next_site_incident(self, site: int, moment: int) -> None:
        rate = self.power_rate + self.uplink_rate
        if rate > 0:
            when = on_the_minute(moment + 1 + int(self.site_rngs[site].expovariate(rate)))
            self._push(when, self.SITE_INCIDENT, site)

    def _site_incident(self, moment: int, site: int, _: Any) -> None:
        rng = self.site_rngs[site]
        if rng.random() * (self.power_rate + self.uplink_rate) < self.power_rate:
            self.start_power_loss(site, moment, self._lognormal(rng, self.rates.power_loss_median_hours))
        else:
            days = rng.uniform(self.rates.slow_uplink_min_days, self.rates.slow_uplink_max_days)
            self.start_slow_uplink(site, moment, on_the_minute(int(days * DAY)))
        self._next_site_incident(site, moment)

    def _site_incident_begins(self, kind: str, site: int, moment: int, duration: int) -> Incident:
        devices = self.fleet.sites.get(site, [])
        serials = [device.serial for device in devices]
        incident = self.truth.incident(kind, "site", moment, serials, owner=f"SITE{site:05d}")
        incident.note(site=site, durationSeconds=duration)
        incident.end = moment + duration
        return incident

    def start_power_loss(self, site: int, moment: int, duration: int) -> Incident:
        """The site loses power: every device there goes dark and reboots, each back within minutes of the others."""
        incident = self._site_incident_begins("site_power_loss", site, moment, duration)
        rng = self.site_rngs[site]
        for device in self.fleet.sites.get(site, []):
            back = duration + rng.randrange(10) * 60
            if device.outage is None:
                self.start_device_offline(device, moment, back, True, incident)
        return incident

    def start_slow_uplink(self, site: int, moment: int, duration: int) -> Incident:
        """The site's uplink crawls: offsite sync of every asset there falls behind until it recovers."""
        incident = self._site_incident_begins("slow_uplink", site, moment, duration)
        for device in self.fleet.sites.get(site, []):
            if device.plan.kind is not PlanKind.LOCAL_ONLY:
                for asset in device.assets:
                    self._stop_sync(asset, SYNC_UPLINK, incident, moment)
        self._push(moment + duration, self.UPLINK_RECOVERS, site, incident)
        return incident

    def _uplink_recovers(self, moment: int, site: int, incident: Incident) -> None:
        for device in self.fleet.sites.get(site, []):
            for asset in device.assets:
                self._sync_resumes(moment, asset, incident)

    # -- storage, once a day ----------------------------------------------------------------------

    def _day_tick(self, moment: int, _: Any, __: Any) -> None:
        rates = self.rates
        convergence, noise = rates.local_convergence, rates.local_noise * 2
        emit_usage, out = self.emit_usage, self.out
        for device in self.fleet.devices:
            plan = device.plan
            if plan.kind is PlanKind.CAPACITY:
                device.offsite_used = settle_offsite(device)
            elif plan.kind is PlanKind.TBR and moment - device.registered >= plan.tbr_years * 365 * DAY:
                pass  # the window is full: TBR prunes as much as a day adds
            else:
                device.offsite_used += device.daily_offsite
            capacity = device.local_capacity
            if capacity:
                used = device.local_used or 0
                used += (device.local_target * capacity - used) * convergence
                used += (device.rng.random() - 0.5) * noise * capacity
                device.local_used = min(capacity, max(0, int(used)))
                self.check_space(device, moment)
            if emit_usage:
                out.append(usage_payload(device, moment))
        self.counts["usage", "usage"] += len(self.fleet.devices) if emit_usage else 0
        self._push(moment + DAY, self.DAY_TICK, None)

    def check_space(self, device: Device, moment: int) -> None:
        """Local storage thresholds: BAK1615 at 90%, BAK0615 (and no backups) at 98%, with hysteresis."""
        if not device.local_capacity or device.local_used is None:
            return
        rates = self.rates
        used = device.local_used / device.local_capacity
        old = device.space_level
        if used >= rates.full_space_threshold or (
            old == 2 and used >= rates.full_space_threshold - rates.space_hysteresis
        ):
            level = 2
        elif used >= rates.low_space_threshold or (
            old >= 1 and used >= rates.low_space_threshold - rates.space_hysteresis
        ):
            level = 1
        else:
            level = 0
        device.space_level = level
        if level and device.space is None:
            device.space = self.truth.incident("local_storage", "device", moment, [device.serial])
        incident = device.space
        if level:
            self.observe("low_local_space", device, None, moment, incident)
        if level == 2:
            self.observe("backup_skipped_space", device, None, moment, incident)
            for asset in device.assets:
                self._block(asset, FULL, moment)
        elif old == 2:
            self.resolve("backup_skipped_space", device, None, moment)
            for asset in device.assets:
                self._unblock(asset, FULL, moment)
        if not level and old:
            self.resolve("low_local_space", device, None, moment)
            if incident is not None:
                incident.end = moment
            device.space = None

    # -- changes from outside (the admin API) -----------------------------------------------------

    def set_silenced(self, asset: Asset, paused: bool, archived: bool, moment: int) -> None:
        """Pause/unpause or archive/unarchive an asset: a silenced asset stops backing up and raising."""
        was = asset.silent
        asset.paused, asset.archived = paused, archived
        if asset.silent and not was:
            self._block(asset, SILENCED, moment)
            asset.armed += 1  # its pending draws go stale
        elif was and not asset.silent:
            self._unblock(asset, SILENCED, moment)
            self._arm(asset, moment)
        self.refresh_daily_offsite(asset.device)
