"""Every tunable of the fleet, its engine and the portal API, with its default and where the default comes from.

Sources, as in docs/datto-facts.md: [V] Datto's own KB or code, [C] third-party client code,
[A] an assumption. Each field's `metadata` holds its source and its bounds, which the admin API's
schemas (see `schemas.py`) read, so a setting is declared once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any


def setting(default: Any, source: str, low: float | None = 0, high: float | None = None, **extra: Any) -> Any:
    return field(default=default, metadata={"source": source, "low": low, "high": high, **extra})


def share(default: float, source: str) -> Any:
    return setting(default, source, 0.0, 1.0)


@dataclass(frozen=True)
class FleetRates:
    """How often things go wrong, how long they last, how storage grows. Rates are per simulated time."""

    # Backups: one attempt per schedule slot.
    backup_failure_p: float = share(0.015, "[A] §6: 1.5% of backup attempts fail")
    backup_failure_run_mean: float = setting(3.0, "[A] §6: an offline agent fails several attempts in a row", 1)
    local_verification_p: float = share(0.01, "[A] §6: 1% of successful backups")
    backup_first_hour: int = setting(8, "[V] KB 205033354: hourly in office hours, 55 backups a week", 0, 23)
    backup_last_hour: int = setting(18, "[V] KB 205033354 (08-18 inclusive gives its 55 a week)", 0, 23)
    backup_weekends: bool = setting(False, "[V] KB 205033354: Monday to Friday", None)
    around_the_clock_share: float = share(0.15, "[A] servers backed up hourly, every day")
    # The appliance's 24-hour check [V, BackupAlertService.php].
    no_backup_hours: int = setting(24, "[V] last backup at least 24 h old", 1)
    missed_slot_hours: int = setting(23, "[V] the next scheduled slot at least 23 h past", 1)
    # Screenshots: one verification a day per agent.
    screenshot_failure_p: float = share(0.04, "[A] §6: 4% per verification")
    chronic_screenshot_share: float = share(0.01, "[A] §6: 1% of agents fail chronically")
    chronic_screenshot_p: float = share(0.9, "[A] failure probability of a chronic agent")
    screenshot_overdue_hours: int = setting(24, "[A] SCR0909's per-agent threshold past the expected time", 1)
    screenshots_disabled_share: float = share(0.1, "[A] agents with screenshot verification off")
    # The device going dark.
    device_outage_per_month: float = setting(0.6, "[A] §6: 0.6 per device per month")
    device_outage_median_hours: float = setting(2.0, "[A] §6: lognormal, median 2 h", 0.01)
    not_seen_minutes: int = setting(60, "[C] the API's Device Not Seen example: threshold 60 Minutes", 1)
    reboot_share: float = share(0.5, "[A] device outages that are reboots rather than network loss")
    # Rare incidents of one asset.
    backup_stall_per_agent_month: float = setting(0.02, "[A] backups silently stop (no error): BKP4000's cause")
    backup_stall_median_hours: float = setting(36.0, "[A]", 0.01)
    offsite_behind_per_agent_week: float = setting(0.02, "[A] §6: 2% of agents per week")
    offsite_behind_min_days: float = setting(1.0, "[A] §6: clears in 1-5 days", 0.01)
    offsite_behind_max_days: float = setting(5.0, "[A] §6: clears in 1-5 days", 0.01)
    offsite_behind_hours: int = setting(72, "[C] a practitioner's check: latest offsite over 72 h", 1)
    ransomware_per_agent_month: float = setting(0.0005, "[A] §6: 1 per 2,000 agent-months")
    ransomware_true_positive_share: float = share(0.5, "[A] §6: 50% false positives")
    ransomware_resolution_median_hours: float = setting(24.0, "[A] until a technician resolves it", 0.01)
    encrypted_share: float = share(0.1, "[A] agents with encryption")
    encrypted_lock_p: float = share(0.3, "[A] §7: after a reboot of the device")
    unlock_median_hours: float = setting(6.0, "[A] until someone enters the passphrase", 0.01)
    # Correlated incidents of a site (every device of a client's site).
    site_power_loss_per_site_month: float = setting(0.03, "[A]")
    power_loss_median_hours: float = setting(4.0, "[A]", 0.01)
    slow_uplink_per_site_month: float = setting(0.03, "[A]")
    slow_uplink_min_days: float = setting(2.0, "[A]", 0.01)
    slow_uplink_max_days: float = setting(6.0, "[A]", 0.01)
    duration_sigma: float = setting(1.0, "[A] spread (log-space sigma) of every lognormal duration", 0.0, 4.0)
    # Storage, once a day.
    daily_change: float = share(0.02, "[A] §6: 2% of protected data changes per day")
    offsite_compression: float = share(0.5, "[A] §6: change x 0.5 reaches offsite")
    offsite_seed_share: float = setting(0.6, "[A] §6: the initial offsite seed is 0.6 x protected", 0, 10)
    # Where a CAPACITY device's offsite usage settles, as a share of its tier (see docs/fleet.md).
    capacity_target_low: float = setting(0.45, "[A] most devices settle between this share of their tier...", 0, 10)
    capacity_target_high: float = setting(0.95, "[A] ... and this one: under the tier, with room to grow", 0, 10)
    capacity_over_share: float = share(0.12, "[A] devices that settle a little over their tier")
    capacity_over_max: float = setting(1.25, "[A] ... up to this share of it (one overage unit at most)", 1, 10)
    capacity_outlier_share: float = share(0.01, "[A] outliers: retention set far past what the tier holds")
    capacity_outlier_max: float = setting(2.5, "[A] ... up to this share of the tier", 1, 100)
    local_convergence: float = share(0.15, "[A] share of the gap to its target local usage closed per day")
    local_noise: float = share(0.003, "[A] daily wobble of local usage, as a share of capacity")
    low_space_threshold: float = share(0.90, "[A] §7: BAK1615 at 90% used")
    full_space_threshold: float = share(0.98, "[A] §7: BAK0615 at 98% used")
    space_hysteresis: float = share(0.02, "[A] a space alert clears this far below its threshold")

    def quiet(self) -> FleetRates:
        """No spontaneous incidents at all (storage still grows): for tests that inject exactly what they need."""
        zeros = {
            item.name: 0.0
            for item in fields(self)
            if item.name.endswith(("_p", "_per_month", "_per_agent_month", "_per_agent_week", "_per_site_month"))
        }
        return replace(self, **zeros)


@dataclass(frozen=True)
class FleetSpec:
    """What to generate: how many appliances of each family, how their clients and settings are drawn."""

    seed: int = setting(0, "the fleet's seed", None)
    siris: int = setting(12, "SIRIS appliances", 0, 100_000)
    alto: int = setting(6, "ALTO appliances", 0, 100_000)
    cloud: int = setting(0, "cloud SIRIS (Azure) devices", 0, 100_000)
    unmatched_share: float = share(0.2, "clients whose name matches no tenant company exactly")
    hidden_share: float = share(0.03, "[A] devices hidden in the portal")
    out_of_service_share: float = share(0.02, "[A] devices past service + grace: they send nothing")
    silent_share: float = share(0.05, "[A] devices with every alert email list empty (raise nothing)")
    no_screenshot_email_share: float = share(0.3, "[A] devices with no screenshotFailed address")
    local_only_share: float = share(0.03, "[A] devices on a local-only plan")
    paused_share: float = share(0.03, "[A] assets paused")
    archived_share: float = share(0.02, "[A] assets archived")
    drift_share: float = share(0.05, "[A] §6: devices whose local usage drifts above 90%")
    protected_median_gb: float = setting(250.0, "[A] §6: protected data per agent, lognormal median", 0.001)
    protected_p90_gb: float = setting(1500.0, "[A] §6: ... and its 90th percentile", 0.001)
    devices_per_site: int = setting(4, "[A] a client's devices share a site (power, uplink) in groups of this", 1)
    msp_domain: str = setting("cwsim.example", "the MSP's mail domain, for alert recipients", None)
    rates: FleetRates = field(default_factory=FleetRates)

    @property
    def devices(self) -> int:
        return self.siris + self.alto + self.cloud

    def as_json(self) -> dict[str, Any]:
        return to_camel_dict(self)


@dataclass(frozen=True)
class PortalSettings:
    """The Datto partner-portal API: credentials, paging, and the real API's quirks (all off by default)."""

    public_key: str = setting("datto-public", "Basic auth user", None)
    secret_key: str = setting("datto-secret", "Basic auth password", None)
    rate_limit: int = setting(0, "[C] requests per window per key (the real API allows about 120 per 60 s); 0 = off")
    rate_window_seconds: float = setting(60.0, "[C] the rate limit's window", 0.001)
    default_per_page: int = setting(100, "[C] Celerium's default", 1, 250)
    max_per_page: int = setting(250, "[C] veeemlab calls 250 the maximum", 1, 10_000)
    offsite_as_list_share: float = share(0.0, "[V] DCI: offsiteStorageUsed sometimes comes back as []")
    asset_list_as_object: bool = setting(False, "[C] itsimplyltd: /asset as an index-keyed object", None)
    show_hidden_default: bool = setting(True, "[A] showHiddenDevices when the request omits it", None)
    storage_units: str = setting(
        "GB", "[A] the real units strings are unknown", None, choices=("B", "KB", "MB", "GB", "TB")
    )
    date_format: str = setting(
        "iso", "[C] ISO-8601 with +00:00; some clients see epoch seconds", None, choices=("iso", "epoch")
    )
    alert_details: bool = setting(False, "[A] add code, asset, volume, numberSeen... to portal alert items", None)

    def as_json(self) -> dict[str, Any]:
        data = to_camel_dict(self)
        data.pop("secretKey")
        return data


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def to_camel_dict(value: Any) -> dict[str, Any]:
    """A settings dataclass as the admin API shows it: camelCase keys, nested settings as objects."""
    return {
        camel(item.name): (
            to_camel_dict(getattr(value, item.name)) if item.name == "rates" else getattr(value, item.name)
        )
        for item in fields(value)
    }
