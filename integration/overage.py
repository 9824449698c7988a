"""Offsite overage arithmetic: a device's family, its plan's allowance, the units over it, and billing months.

The rule (docs/datto-facts.md §3, after the ConnectWise setup guide, Datto KB 213327926): only a
plan with a fixed offsite allowance (CAPACITY) has overage; the excess over the allowance is
billed in whole units, rounded up: per TB for SIRIS, per 500 GB for ALTO. Units are decimal
(1 TB = 10^12 bytes) unless binary units are asked for (1 TB = 2^40 bytes, 500 GB = 500 x 2^30).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

__all__ = [
    "PlanTerms",
    "check_plan_table",
    "device_family",
    "format_bytes",
    "month_end",
    "month_just_ended",
    "months_ended_between",
    "overage_units",
    "parse_month",
    "parse_size",
    "plan_terms",
    "unit_bytes",
    "unit_label",
]

SIRIS, ALTO, CLOUD = "SIRIS", "ALTO", "CLOUD"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B|bytes?)?\s*$", re.IGNORECASE)
_POWERS = {"b": 0, "byte": 0, "bytes": 0, "kb": 1, "mb": 2, "gb": 3, "tb": 4}
_BINARY = {"kib": 1, "mib": 2, "gib": 3, "tib": 4}
# What the portal's servicePlan text says, as far as it can be read. The real strings are not
# documented (docs/datto-facts.md §3); one public script reads retention with
# `Infinite|\d\d? (years?|months?)`. A capacity plan names its allowance; the legacy ALTO tiers
# are LT150, LT250, LT500 and LT1000 GB (KB 205373764).
_CAPACITY = re.compile(r"\bcapacity\b\D*?(\d+(?:\.\d+)?\s*[GT]i?B)\b", re.IGNORECASE)
_LEGACY_TIER = re.compile(r"\bLT\s?(150|250|500|1000)\b", re.IGNORECASE)
_NO_OVERAGE = re.compile(
    r"time[\s-]*based|\bTBR\b|infinite|\bICR\b|local[\s-]*only|\b\d\d?\s*(?:years?|months?)\b", re.IGNORECASE
)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class PlanTerms:
    """What a plan means for billing: `capacity` (with its allowance), `none` (no overage) or `unknown`."""

    kind: str
    included_bytes: int = 0
    source: str = ""  # how it was read: "billing.plans", "the plan's name"

    @property
    def has_overage(self) -> bool:
        return self.kind == "capacity"


def parse_size(text: str, *, binary: bool = False) -> int:
    """Bytes in `500 GB`, `1.5 TB`, `2 TiB` or `123` (bytes); decimal units unless `binary`."""
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a size like 500 GB or 2 TB")
    number, unit = Decimal(match.group(1)), (match.group(2) or "B").lower()
    factor = 1024 ** _BINARY[unit] if unit in _BINARY else (1024 if binary else 1000) ** _POWERS[unit]
    size = number * factor
    if size != size.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(size)


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def plan_terms(service_plan: str | None, table: Mapping[str, str] | None = None, *, binary: bool = False) -> PlanTerms:
    """A plan's terms from `billing.plans` (servicePlan text -> size or "none"), else from its name.

    A plan neither the table nor the name patterns can read is `unknown`: billing reports it and
    bills nothing, rather than guess.
    """
    text = (service_plan or "").strip()
    for name, value in (table or {}).items():
        if _normal(name) == _normal(text):
            if value.strip().casefold() in ("none", "no overage", "0"):
                return PlanTerms("none", source="billing.plans")
            return PlanTerms("capacity", parse_size(value, binary=binary), "billing.plans")
    if not text:
        return PlanTerms("unknown", source="the portal gives no plan")
    capacity = _CAPACITY.search(text)
    if capacity:
        return PlanTerms("capacity", parse_size(capacity.group(1), binary=binary), "the plan's name")
    tier = _LEGACY_TIER.search(text)
    if tier:
        return PlanTerms("capacity", parse_size(f"{tier.group(1)} GB", binary=binary), "the plan's name")
    if _NO_OVERAGE.search(text):
        return PlanTerms("none", source="the plan's name")
    return PlanTerms("unknown", source="the plan's name")


def check_plan_table(table: Mapping[str, str], *, binary: bool = False) -> None:
    """Raise ValueError naming the entry of `billing.plans` that is not a size or "none"."""
    for name, value in table.items():
        try:
            plan_terms(name, {name: value}, binary=binary)
        except ValueError as error:
            raise ValueError(f'billing.plans["{name}"]: {error}') from error


def device_family(model: str | None) -> str:
    """SIRIS, ALTO or CLOUD from a model code (ALTO4, L3A2000 -> ALTO; CLDSIRIS, SRV0002 -> CLOUD; else SIRIS)."""
    code = (model or "").strip().upper()
    if code.startswith("ALTO") or re.match(r"^L\dA", code):
        return ALTO
    if code.startswith("CLD") or code == "SRV0002":  # SRV0002: Datto Backup for Microsoft Azure
        return CLOUD
    return SIRIS


def unit_bytes(family: str, *, binary: bool = False) -> int:
    """The billing unit: 1 TB for SIRIS (and cloud SIRIS), 500 GB for ALTO."""
    if family == ALTO:
        return 500 * (1024**3 if binary else 1000**3)
    return 1024**4 if binary else 1000**4


def unit_label(family: str, *, binary: bool = False) -> str:
    if family == ALTO:
        return "500 GiB" if binary else "500 GB"
    return "1 TiB" if binary else "1 TB"


def overage_units(used_bytes: int, included_bytes: int, unit: int) -> int:
    """Whole units over the allowance, rounded up: `ceil(max(0, used - included) / unit)`."""
    if unit <= 0:
        raise ValueError("a billing unit is at least one byte")
    excess = max(0, used_bytes - included_bytes)
    return -(-excess // unit)


def parse_month(text: str) -> date:
    """The first day of a month written `2026-10`."""
    match = _MONTH.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a month like 2026-10")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 1900:
        raise ValueError(f"{text!r} is not a month like 2026-10 (month 01 to 12)")
    return date(year, month, 1)


def month_just_ended(now: datetime) -> date:
    """The first day of the month before `now`'s: what a month-end run bills."""
    first = now.date().replace(day=1)
    return date(first.year - 1, 12, 1) if first.month == 1 else first.replace(month=first.month - 1)


def month_end(month: date) -> datetime:
    """The instant `month` ends (UTC): the first moment of the month after it."""
    first = month.replace(day=1)
    after = date(first.year + 1, 1, 1) if first.month == 12 else first.replace(month=first.month + 1)
    return datetime(after.year, after.month, 1, tzinfo=UTC)


def months_ended_between(since: datetime, now: datetime) -> list[date]:
    """The months that ended after `since` and by `now`, oldest first."""
    months: list[date] = []
    month = month_just_ended(now)
    while month_end(month) > since:
        months.insert(0, month)
        month = month_just_ended(datetime(month.year, month.month, 1, tzinfo=UTC))
    return months


def format_bytes(size: int, *, binary: bool = False) -> str:
    """`1.2 TB`, `523.4 GB` for reports and addition descriptions."""
    base = 1024 if binary else 1000
    for unit, power in (("TB", 4), ("GB", 3), ("MB", 2)):
        if size >= base**power:
            value = Decimal(size) / Decimal(base**power)
            label = unit.replace("B", "iB") if binary else unit
            return f"{value.quantize(Decimal('0.001')).normalize():f} {label}"
    return f"{size} B"
