"""The Datto catalog as data: families, models, offsite plans, alert types and their email lists.

Where a value comes from a source it says so; everything else is an assumption [A] from
docs/datto-facts.md §2 and §7, kept here as data so it can be read and changed in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

GB = 10**9
TB = 10**12


class Family(StrEnum):
    SIRIS = "SIRIS"
    ALTO = "ALTO"
    CLOUD = "CLOUD"


class PlanKind(StrEnum):
    CAPACITY = "CAPACITY"  # a fixed offsite allowance; the only kind with overage
    TBR = "TBR"  # time-based retention: prunes offsite points past its window
    ICR = "ICR"  # infinite cloud retention: never prunes
    LOCAL_ONLY = "LOCAL_ONLY"  # no offsite at all


@dataclass(frozen=True)
class Plan:
    """A device's offsite plan. `included_offsite_bytes` is 0 unless the plan is CAPACITY."""

    kind: PlanKind
    included_offsite_bytes: int = 0
    tbr_years: int = 0

    def service_plan(self, family: Family) -> str:
        """The portal's `servicePlan` string. Its real values are unknown [A]; the retention words match
        the pattern one public script reads (`Infinite|\\d\\d? (years?|months?)`), case-insensitively."""
        if self.kind is PlanKind.TBR:
            return f"{family} Time Based Retention {self.tbr_years} {'Year' if self.tbr_years == 1 else 'Years'}"
        if self.kind is PlanKind.ICR:
            return f"{family} Infinite Cloud Retention"
        if self.kind is PlanKind.CAPACITY:
            return f"{family} Offsite Capacity {format_bytes(self.included_offsite_bytes)}"
        return f"{family} Local Only"

    def as_json(self) -> dict[str, object]:
        return {"kind": str(self.kind), "includedOffsiteBytes": self.included_offsite_bytes, "tbrYears": self.tbr_years}


def format_bytes(size: int) -> str:
    """Decimal units as plans name them: `500 GB`, `2 TB`, `1.5 TB`."""
    if size >= TB:
        return f"{size / TB:g} TB"
    return f"{size / GB:g} GB"


@dataclass(frozen=True)
class Model:
    """A hardware model [A: no authoritative table was found; the model strings are the ones seen in sources]."""

    code: str
    family: Family
    local_tb: tuple[int, ...]  # local capacity options; empty for cloud devices
    agents_typical: int
    agents_max: int
    shares_max: int
    weight: float  # how common it is within its family


MODELS: tuple[Model, ...] = (
    Model("S4X1", Family.SIRIS, (2, 4, 8, 12), 6, 25, 2, 0.4),
    Model("S5-2", Family.SIRIS, (2, 4), 4, 15, 1, 0.2),
    Model("S5-4", Family.SIRIS, (4, 8), 6, 20, 2, 0.25),
    Model("S5-8", Family.SIRIS, (8, 12, 24, 36), 10, 25, 3, 0.15),
    Model("ALTO4", Family.ALTO, (1, 2), 2, 4, 0, 0.7),
    Model("L3A2000", Family.ALTO, (2,), 2, 4, 0, 0.3),
    Model("CLDSIRIS", Family.CLOUD, (), 4, 20, 0, 1.0),
)
MODELS_BY_CODE = {model.code: model for model in MODELS}

# Offsite plans per family, with weights [A, section 7]: SIRIS TBR 60% / ICR 25% / CAPACITY 15%;
# ALTO on the legacy capacity tiers (KB 205373764: LT150..LT1000); cloud devices on TBR.
PLAN_CHOICES: dict[Family, tuple[tuple[Plan, float], ...]] = {
    Family.SIRIS: (
        (Plan(PlanKind.TBR, tbr_years=1), 0.45),
        (Plan(PlanKind.TBR, tbr_years=3), 0.10),
        (Plan(PlanKind.TBR, tbr_years=7), 0.05),
        (Plan(PlanKind.ICR), 0.25),
        (Plan(PlanKind.CAPACITY, 1 * TB), 0.06),
        (Plan(PlanKind.CAPACITY, 2 * TB), 0.05),
        (Plan(PlanKind.CAPACITY, 4 * TB), 0.04),
    ),
    Family.ALTO: (
        (Plan(PlanKind.CAPACITY, 150 * GB), 0.15),
        (Plan(PlanKind.CAPACITY, 250 * GB), 0.25),
        (Plan(PlanKind.CAPACITY, 500 * GB), 0.45),
        (Plan(PlanKind.CAPACITY, 1000 * GB), 0.15),
    ),
    Family.CLOUD: ((Plan(PlanKind.TBR, tbr_years=1), 1.0),),
}

# Serial numbers are the MAC of eth0 (12 upper-case hex) [V]; OUIs seen in the sources' examples.
OUIS: tuple[tuple[str, float], ...] = (("00012E", 0.8), ("54B203", 0.2))

# The appliance's per-device alert recipient lists [V, EmailAddressSettings]; the payload names them so.
EMAIL_LISTS: tuple[str, ...] = (
    "critical",
    "warning",
    "screenshotFailed",
    "screenshotSuccess",
    "log",
    "weekly",
    "notice",
)


class Category(StrEnum):
    DEVICE = "device"
    AGENT = "agent"  # any asset, agent or share (the guide's "Agent alerts")
    SCREENSHOT = "screenshot"  # never a ticket (the guide)


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class AlertType:
    """One kind of alert the fleet raises.

    `code` is the appliance log code where the appliance has one [V, AlertCodes.php]; codes starting
    `CWSIM-` are ours for conditions the sources name but give no code for [A]. `portal_type`,
    `threshold` and `unit` are what `GET /v1/bcdr/device/{sn}/alert` shows: only "Device Not Seen
    Alert" (60 Minutes) is documented; the other names are ours [A].
    """

    kind: str
    code: str
    label: str
    category: Category
    severity: Severity
    email_list: str
    portal_type: str
    threshold: int | None = None
    unit: str | None = None
    cleared_by_backup: bool = False  # the next successful backup of the asset clears it

    @property
    def device_level(self) -> bool:
        return self.category is Category.DEVICE


_A, _D, _S = Category.AGENT, Category.DEVICE, Category.SCREENSHOT
_CRIT, _WARN, _INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO
# kind, code, label, category, severity, email list, portal type, threshold, unit
# fmt: off
_ALERT_TABLE: tuple[tuple[str, str, str, Category, Severity, str, str, int | None, str | None], ...] = (
    ("backup_failed", "BAK0013", "Backup failed", _A, _CRIT, "critical", "Backup Failure Alert", None, None),
    ("no_backup_24h", "BKP4000", "No backup in over 24 hours", _A, _CRIT, "critical",
     "Backup Not Taken Alert", 24, "Hours"),
    ("screenshot_failed", "SCN0832", "Screenshot verification failed", _S, _INFO, "screenshotFailed",
     "Screenshot Failure Alert", None, None),
    ("screenshot_overdue", "SCR0909", "No successful screenshot", _S, _CRIT, "screenshotFailed",
     "Screenshot Overdue Alert", 24, "Hours"),
    ("local_verification_error", "CWSIM-LOCAL-VERIFICATION", "Local verification error", _A, _WARN, "warning",
     "Local Verification Alert", None, None),
    ("low_local_space", "BAK1615", "Local storage nearly full", _D, _WARN, "warning",
     "Local Storage Alert", 90, "Percent"),
    ("backup_skipped_space", "BAK0615", "Backups skipped: local storage full", _D, _CRIT, "critical",
     "Local Storage Full Alert", 98, "Percent"),
    ("offsite_behind", "CWSIM-OFFSITE-BEHIND", "Offsite sync behind", _A, _WARN, "warning",
     "Offsite Sync Alert", 72, "Hours"),
    ("device_not_seen", "CWSIM-DEVICE-NOT-SEEN", "Device not seen", _D, _CRIT, "critical",
     "Device Not Seen Alert", 60, "Minutes"),
    ("ransomware_suspected", "MAL0001", "Ransomware suspected", _A, _WARN, "warning",
     "Ransomware Detection Alert", None, None),
    ("encrypted_agent_locked", "ENC1012", "Encrypted agent locked", _A, _CRIT, "critical",
     "Encrypted Agent Locked Alert", None, None),
)
# fmt: on
_CLEARED_BY_BACKUP = {"backup_failed", "no_backup_24h", "encrypted_agent_locked"}
ALERT_TYPES: dict[str, AlertType] = {
    row[0]: AlertType(*row, cleared_by_backup=row[0] in _CLEARED_BY_BACKUP) for row in _ALERT_TABLE
}

# Protected systems, for names and operating systems of generated assets [A].
AGENT_ROLES: tuple[str, ...] = ("DC", "FS", "SQL", "APP", "EXCH", "RDS", "WEB", "PRINT", "HV", "ERP", "WS")
SHARE_NAMES: tuple[str, ...] = ("Archive", "Scans", "Projects", "Public", "Finance")
OPERATING_SYSTEMS: tuple[tuple[str, float], ...] = (
    ("Windows Server 2022 Standard", 0.3),
    ("Windows Server 2019 Standard", 0.3),
    ("Windows Server 2016 Standard", 0.15),
    ("Windows 11 Pro", 0.08),
    ("Windows 10 Pro", 0.07),
    ("Ubuntu 22.04 LTS", 0.06),
    ("Red Hat Enterprise Linux 8", 0.04),
)
AGENT_VERSIONS: tuple[str, ...] = ("2.5.0.0", "2.6.1.2", "3.1.2.4", "3.2.0.11")
