"""The fleet's entities (clients, devices, assets) and their generation from a seed and a spec.

Generation is deterministic: the same spec, client names and start give the same fleet, in any
process. Each device draws from its own RNG, derived from the seed and its index with a stable
hash, so one device's draws do not depend on another's. Faker supplies names only.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from bisect import bisect
from collections.abc import Sequence
from datetime import datetime
from itertools import accumulate
from typing import Any

from faker import Faker

from .catalog import (
    AGENT_ROLES,
    AGENT_VERSIONS,
    EMAIL_LISTS,
    MODELS,
    OPERATING_SYSTEMS,
    OUIS,
    PLAN_CHOICES,
    SHARE_NAMES,
    TB,
    Family,
    Model,
    Plan,
    PlanKind,
)
from .schedule import DAY, HOUR, Schedule, around_the_clock, office_hours, week_origin
from .settings import FleetRates, FleetSpec

YEAR = 365 * DAY
UTC_OFFSETS = (-5, -6, -7, -8)  # [A] US time zones, as the tenant is en_US
RESELLER = "cwsim Managed Services"


def derive_rng(seed: int, *parts: object) -> random.Random:
    """An RNG for one entity: its seed is a stable hash of the fleet seed and the entity's name."""
    text = ":".join(str(part) for part in (seed, *parts))
    return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big"))


def draw_offsite_target(seed: int, serial: str, rates: FleetRates) -> float:
    """Where a device's offsite usage settles on a CAPACITY plan, as a share of its tier: most under it,
    a share a little over, rare outliers far over. From its own RNG, so no other draw depends on it."""
    rng = derive_rng(seed, "offsite", serial)
    pick = rng.random()
    if pick < rates.capacity_outlier_share:
        return rng.uniform(rates.capacity_over_max, rates.capacity_outlier_max)
    if pick < rates.capacity_outlier_share + rates.capacity_over_share:
        return rng.uniform(1.0, rates.capacity_over_max)
    return rng.uniform(rates.capacity_target_low, rates.capacity_target_high)


class Organization:
    """A partner's client as the portal names it; `matched_company` is the tenant company it really is."""

    __slots__ = ("matched_company", "name", "org_id", "variant")

    def __init__(self, org_id: int, name: str, matched_company: str | None, variant: str) -> None:
        self.org_id = org_id
        self.name = name
        self.matched_company = matched_company
        self.variant = variant  # exact | misspelt | abbreviated | absent

    def as_json(self) -> dict[str, Any]:
        return {
            "organizationId": self.org_id,
            "name": self.name,
            "matchedCompany": self.matched_company,
            "variant": self.variant,
        }


# What a fleet file saves of a device, and what only the engine keeps (see engine.py).
DEVICE_FIELDS = (
    "assets",
    "booted_at",
    "emails",
    "family",
    "hidden",
    "in_service",
    "internal_ip",
    "local_capacity",
    "local_target",
    "local_used",
    "model",
    "name",
    "offsite_target",
    "offsite_used",
    "org",
    "origin",
    "plan",
    "registered",
    "serial",
    "service_until",
    "site",
    "utc_offset",
    "warranty_until",
)
DEVICE_STATE = ("alerts", "card", "daily_offsite", "outage", "rng", "space", "space_level")


class Device:
    """One appliance: its identity, plan, storage and alert email lists, plus the engine's state of it."""

    __slots__ = (*DEVICE_FIELDS, *DEVICE_STATE)

    def __init__(self, serial: str, name: str, model: Model, plan: Plan, org: Organization) -> None:
        self.serial = serial
        self.name = name
        self.model = model.code
        self.family = model.family
        self.plan = plan
        self.org = org
        self.site = 0
        self.registered = self.service_until = self.warranty_until = self.booted_at = 0
        self.hidden = False
        self.in_service = True
        self.internal_ip = ""
        self.utc_offset = -5
        self.origin = week_origin(-5)
        self.local_capacity: int | None = None
        self.local_used: int | None = None
        self.local_target = 0.0
        self.offsite_used = 0
        self.offsite_target = 1.0  # where offsite usage settles on a CAPACITY plan, as a share of the tier
        self.emails: dict[str, list[str]] = {name: [] for name in EMAIL_LISTS}
        self.assets: list[Asset] = []
        self.alerts: dict[tuple[str, str], Any] = {}
        self.card: dict[str, Any] | None = None  # what every payload about it says (alerts.py)
        self.outage: Any = None
        self.rng: random.Random | None = None
        self.daily_offsite = 0
        self.space: Any = None
        self.space_level = 0

    def __repr__(self) -> str:
        return f"Device({self.serial} {self.name} {self.model})"

    def agents(self) -> list[Asset]:
        return [asset for asset in self.assets if asset.kind == "agent"]

    def shares(self) -> list[Asset]:
        return [asset for asset in self.assets if asset.kind == "share"]

    def forget_cards(self) -> None:
        """Its name or client changed: payloads must be built afresh."""
        self.card = None
        for asset in self.assets:
            asset.card = None

    def asset(self, volume: str) -> Asset | None:
        for asset in self.assets:
            if asset.volume == volume:
                return asset
        return None


# What a fleet file saves of a asset, and what only the engine keeps (see engine.py).
ASSET_FIELDS = (
    "added",
    "agent_version",
    "archived",
    "asset_id",
    "chronic",
    "device",
    "encrypted",
    "fqdn",
    "kind",
    "local_ip",
    "mac",
    "name",
    "os",
    "paused",
    "protected_bytes",
    "protected_volumes",
    "schedule",
    "screenshot_second",
    "unprotected_volumes",
    "volume",
)
ASSET_STATE = (
    "armed",
    "blocks",
    "card",
    "failure",
    "failures_left",
    "history",
    "last_success",
    "lock",
    "offsite_frozen",
    "ransomware",
    "resumed_at",
    "shot_failure",
    "shot_last_ok",
    "stall",
    "sync_blocks",
    "sync_incidents",
)


class Asset:
    """One protected agent or share of a device, plus the engine's state of it."""

    __slots__ = (*ASSET_FIELDS, *ASSET_STATE)

    def __init__(self, device: Device, volume: str, asset_id: int, name: str, kind: str) -> None:
        self.device = device
        self.volume = volume
        self.asset_id = asset_id
        self.name = name
        self.kind = kind  # agent | share
        self.fqdn = name
        self.os: str | None = None
        self.agent_version: str | None = None
        self.local_ip = ""
        self.mac = ""
        self.protected_bytes = 0
        self.protected_volumes: list[str] = []
        self.unprotected_volumes: list[str] = []
        self.schedule: Schedule = around_the_clock()
        self.screenshot_second: int | None = None  # local second of day of the daily screenshot; None = off
        self.paused = self.archived = self.encrypted = self.chronic = False
        self.added = 0
        self.armed = 0
        self.blocks = 0
        self.card: dict[str, Any] | None = None  # what every alert payload about it says (alerts.py)
        self.failure: Any = None
        self.failures_left = 0
        self.history: list[tuple[int, str, str]] = []
        self.last_success = 0
        self.resumed_at = 0
        self.lock: Any = None
        self.offsite_frozen = 0
        self.ransomware: Any = None
        self.shot_failure: Any = None
        self.shot_last_ok = 0
        self.stall: Any = None
        self.sync_blocks = 0
        self.sync_incidents: list[Any] = []

    def __repr__(self) -> str:
        return f"Asset({self.device.serial}/{self.name} {self.volume})"

    @property
    def silent(self) -> bool:
        return self.paused or self.archived


class Fleet:
    """Every client organisation and device of one partner, in generation order."""

    def __init__(self, spec: FleetSpec, start: int, organizations: list[Organization], devices: list[Device]) -> None:
        self.spec = spec
        self.start = start
        self.organizations = organizations
        self.devices = devices
        self.by_serial = {device.serial: device for device in devices}
        self.sites: dict[int, list[Device]] = {}
        for device in devices:
            self.sites.setdefault(device.site, []).append(device)

    def device(self, serial: str) -> Device | None:
        return self.by_serial.get(serial.upper())

    def organization_named(self, name: str) -> Organization:
        """The organisation with exactly this name, added (as if its name matched nothing) when new."""
        for organization in self.organizations:
            if organization.name == name:
                return organization
        organization = Organization(len(self.organizations) + 1, name, None, "absent")
        self.organizations.append(organization)
        return organization


def _cumulative(weights: Sequence[float]) -> list[float]:
    return list(accumulate(weights))


def _pick(rng: random.Random, items: Sequence[Any], cumulative: Sequence[float]) -> Any:
    return items[bisect(cumulative, rng.random() * cumulative[-1])]


def _chosen(rng: random.Random, count: int, share: float) -> set[int]:
    """Exactly round(share * count) indexes, so a share set in a spec is the share you get."""
    return set(rng.sample(range(count), round(share * count)))


class FleetGenerator:
    """Builds a `Fleet` from a spec, the tenant's company names and a start moment."""

    def __init__(self, spec: FleetSpec, client_names: Sequence[str], start: datetime) -> None:
        self.spec = spec
        self.start = int(start.timestamp())
        self.rng = derive_rng(spec.seed, "fleet")
        self.fake = Faker("en_US")
        self.fake.seed_instance(spec.seed)
        self.client_names = list(dict.fromkeys(name for name in client_names if name.strip()))
        self.taken_serials: set[str] = set()
        self.next_asset_id = 1
        rates = spec.rates
        self.office = office_hours(rates.backup_first_hour, rates.backup_last_hour, rates.backup_weekends)
        self.sigma = (
            math.log(spec.protected_p90_gb / spec.protected_median_gb) / 1.2816
            if spec.protected_p90_gb > spec.protected_median_gb
            else 0.0
        )
        self.techs = [f"{self.fake.first_name()}.{self.fake.last_name()}@{spec.msp_domain}".lower() for _ in range(6)]

    def generate(self) -> Fleet:
        spec = self.spec
        families = [Family.SIRIS] * spec.siris + [Family.ALTO] * spec.alto + [Family.CLOUD] * spec.cloud
        organizations = self._organizations(len(families))
        hidden = _chosen(self.rng, len(families), spec.hidden_share)
        retired = _chosen(self.rng, len(families), spec.out_of_service_share)
        silent = _chosen(self.rng, len(families), spec.silent_share)
        no_screenshot_mail = _chosen(self.rng, len(families), spec.no_screenshot_email_share)
        local_only = _chosen(self.rng, len(families), spec.local_only_share)
        drifting = _chosen(self.rng, len(families), spec.drift_share)
        devices = []
        for index, family in enumerate(families):
            org = organizations[index] if index < len(organizations) else self.rng.choice(organizations)
            rng = derive_rng(spec.seed, "device", index)
            device = self._device(rng, family, org, index in local_only, index in drifting)
            device.hidden = index in hidden
            device.in_service = index not in retired
            device.service_until = self._service_until(rng, device.registered, device.in_service)
            self._emails(rng, device, index in silent, index in no_screenshot_mail)
            devices.append(device)
        _assign_sites(devices, spec.devices_per_site)
        _name_hosts(devices)
        return Fleet(spec, self.start, organizations, devices)

    # -- clients --------------------------------------------------------------------------------

    def _organizations(self, devices: int) -> list[Organization]:
        names = self.client_names or self._invented_names(max(1, math.ceil(devices / 3)))
        names = names[: max(1, devices)]
        known = {name.casefold() for name in self.client_names}
        unmatched = _chosen(self.rng, len(names), self.spec.unmatched_share)
        organizations = []
        for index, name in enumerate(names):
            if index in unmatched or name.casefold() not in known:
                variant = self.rng.choice(("misspelt", "abbreviated", "absent"))
                shown = self._unmatched_name(name, variant, known)
                organizations.append(Organization(index + 1, shown, name if variant != "absent" else None, variant))
            else:
                organizations.append(Organization(index + 1, name, name, "exact"))
        return organizations

    def _invented_names(self, count: int) -> list[str]:
        names: dict[str, None] = {}
        while len(names) < count:
            names.setdefault(self.fake.company()[:50])
        return list(names)

    def _unmatched_name(self, name: str, variant: str, known: set[str]) -> str:
        for _ in range(20):
            if variant == "misspelt":
                candidate = misspell(self.rng, name)
            elif variant == "abbreviated":
                candidate = abbreviate(self.rng, name)
            else:
                candidate = self.fake.company()[:50]
            if candidate.strip() and candidate.casefold() not in known:
                return candidate
        return f"{name} (unlisted)"

    # -- devices --------------------------------------------------------------------------------

    def _device(
        self, rng: random.Random, family: Family, org: Organization, local_only: bool, drifting: bool
    ) -> Device:
        models = [model for model in MODELS if model.family is family]
        model = _pick(rng, models, _cumulative([model.weight for model in models]))
        plans = PLAN_CHOICES[family]
        plan = (
            Plan(PlanKind.LOCAL_ONLY)
            if local_only
            else _pick(rng, [p for p, _ in plans], _cumulative([w for _, w in plans]))
        )
        device = Device(self._serial(rng), "", model, plan, org)
        device.offsite_target = draw_offsite_target(self.spec.seed, device.serial, self.spec.rates)
        device.registered = self.start - rng.randint(30, 5 * 365) * DAY - rng.randrange(DAY)
        device.warranty_until = device.registered + rng.choice((3, 5)) * YEAR
        device.booted_at = self.start - rng.randint(1, 60) * DAY - rng.randrange(DAY)
        device.utc_offset = rng.choice(UTC_OFFSETS)
        device.origin = week_origin(device.utc_offset)
        subnet = rng.randrange(1, 250)
        device.internal_ip = f"10.{org.org_id % 250}.{subnet}.{rng.randrange(2, 40)}"
        if model.local_tb:
            device.local_capacity = rng.choice(model.local_tb) * TB
            if drifting:
                device.local_target = rng.uniform(0.9, 0.995)
                device.local_used = int(device.local_capacity * rng.uniform(0.8, 0.9))
            else:
                device.local_target = rng.uniform(0.40, 0.85)
                device.local_used = int(device.local_capacity * device.local_target * rng.uniform(0.97, 1.0))
        self._assets(rng, device, model, f"10.{org.org_id % 250}.{subnet}")
        device.offsite_used = self._initial_offsite(rng, device)
        return device

    def _serial(self, rng: random.Random) -> str:
        ouis = [oui for oui, _ in OUIS]
        cumulative = _cumulative([weight for _, weight in OUIS])
        while True:
            serial = f"{_pick(rng, ouis, cumulative)}{rng.getrandbits(24):06X}"
            if serial not in self.taken_serials:
                self.taken_serials.add(serial)
                return serial

    def _service_until(self, rng: random.Random, registered: int, in_service: bool) -> int:
        if in_service:
            return self.start + rng.randint(30, 3 * 365) * DAY
        # past the end of service and the 30-day grace [V, Billing/Service.php]
        return max(registered + DAY, self.start - rng.randint(31, 365) * DAY)

    def _emails(self, rng: random.Random, device: Device, silent: bool, no_screenshot_mail: bool) -> None:
        if silent:
            return
        domain = self.spec.msp_domain
        alerts = [f"backup-alerts@{domain}"]
        if rng.random() < 0.5:
            alerts.append(rng.choice(self.techs))
        device.emails["critical"] = list(alerts)
        device.emails["warning"] = list(alerts)
        if not no_screenshot_mail:
            device.emails["screenshotFailed"] = list(alerts)
        for name, probability in (("screenshotSuccess", 0.1), ("log", 0.2), ("weekly", 0.5), ("notice", 0.3)):
            if rng.random() < probability:
                device.emails[name] = [rng.choice(self.techs)]

    def _assets(self, rng: random.Random, device: Device, model: Model, subnet: str) -> None:
        rates = self.spec.rates
        agents = min(model.agents_max, max(1, round(rng.lognormvariate(math.log(model.agents_typical), 0.5))))
        shares = rng.randint(1, model.shares_max) if model.shares_max and rng.random() < 0.3 else 0
        roles: dict[str, int] = {}
        age = self.start - device.registered
        for number in range(agents + shares):
            kind = "agent" if number < agents else "share"
            if kind == "agent":
                role = rng.choice(AGENT_ROLES)
                roles[role] = roles.get(role, 0) + 1
                name = f"{role}{roles[role]:02d}"
            else:
                name = f"{rng.choice(SHARE_NAMES)}{number - agents + 1}"
            asset = Asset(device, f"{rng.getrandbits(128):032x}", self.next_asset_id, name, kind)
            self.next_asset_id += 1
            asset.protected_bytes = int(rng.lognormvariate(math.log(self.spec.protected_median_gb), self.sigma) * 1e9)
            asset.added = device.registered + int(rng.random() * age * 0.5)
            asset.paused = rng.random() < self.spec.paused_share
            asset.archived = not asset.paused and rng.random() < self.spec.archived_share
            if kind == "agent":
                asset.os = _pick(
                    rng, [os for os, _ in OPERATING_SYSTEMS], _cumulative([w for _, w in OPERATING_SYSTEMS])
                )
                asset.agent_version = rng.choice(AGENT_VERSIONS)
                asset.local_ip = f"{subnet}.{rng.randrange(40, 250)}"
                asset.mac = f"{rng.getrandbits(48):012X}"
                asset.schedule = around_the_clock() if rng.random() < rates.around_the_clock_share else self.office
                if rng.random() >= rates.screenshots_disabled_share:
                    asset.screenshot_second = 20 * HOUR + rng.randrange(240) * 60
                asset.encrypted = rng.random() < rates.encrypted_share
                asset.chronic = rng.random() < rates.chronic_screenshot_share
                windows = asset.os.startswith("Windows")
                asset.protected_volumes = (
                    ["C:", "D:"] if windows and rng.random() < 0.5 else (["C:"] if windows else ["/"])
                )
                asset.unprotected_volumes = ["E:"] if windows and rng.random() < 0.2 else []
            else:
                asset.schedule = around_the_clock(6)
                asset.protected_volumes = [name]
            asset.fqdn = f"{name.lower()}.{_slug(device.org.name)}.local"
            device.assets.append(asset)

    def _initial_offsite(self, rng: random.Random, device: Device) -> int:
        plan = device.plan
        if plan.kind is PlanKind.LOCAL_ONLY:
            return 0
        rates = self.spec.rates
        protected = sum(asset.protected_bytes for asset in device.assets if not asset.archived)
        daily = protected * rates.daily_change * rates.offsite_compression
        age_days = (self.start - device.registered) / DAY
        if plan.kind is PlanKind.CAPACITY:  # settled near its target, as a device registered a while ago is
            return int(plan.included_offsite_bytes * device.offsite_target * rng.uniform(0.85, 1.0))
        if plan.kind is PlanKind.TBR:
            age_days = min(age_days, plan.tbr_years * 365)
        return int(protected * rates.offsite_seed_share + daily * age_days)


def _assign_sites(devices: list[Device], per_site: int) -> None:
    """A client's devices share sites, `per_site` at a time, in generation order."""
    by_org: dict[int, list[Device]] = {}
    for device in devices:
        by_org.setdefault(device.org.org_id, []).append(device)
    site = 0
    for org_id in sorted(by_org):
        for index, device in enumerate(by_org[org_id]):
            if index % per_site == 0:
                site += 1
            device.site = site


def _name_hosts(devices: list[Device]) -> None:
    """Hostnames such as `acme-siris`, `acme-siris2`: a slug of the client and the family."""
    counts: dict[str, int] = {}
    for device in devices:
        base = f"{_slug(device.org.name)}-{device.family.lower()}"
        counts[base] = counts.get(base, 0) + 1
        device.name = base if counts[base] == 1 else f"{base}{counts[base]}"


def _slug(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    return (words[0].lower() if words else "client")[:15]


LEGAL_SUFFIXES = re.compile(r"[,\s]+(Inc\.?|LLC|Ltd\.?|PLC|Group|and Sons|Corp\.?|Co\.?)$", re.IGNORECASE)


def misspell(rng: random.Random, name: str) -> str:
    """One typo: two neighbouring letters swapped, a letter dropped or doubled."""
    letters = [index for index, char in enumerate(name) if char.isalpha()]
    if len(letters) < 2:
        return name + "s"
    index = rng.choice(letters[:-1])
    how = rng.randrange(3)
    if how == 0 and name[index] != name[index + 1]:
        return name[:index] + name[index + 1] + name[index] + name[index + 2 :]
    if how == 1:
        return name[:index] + name[index + 1 :]
    return name[:index] + name[index] + name[index:]


def abbreviate(rng: random.Random, name: str) -> str:
    """What people type: the name without its legal suffix, its initials, or its first word."""
    stripped = LEGAL_SUFFIXES.sub("", name)
    if stripped != name:
        return stripped
    words = re.findall(r"[A-Za-z0-9]+", name)
    if len(words) >= 2 and rng.random() < 0.5:
        return "".join(word[0].upper() for word in words if word.lower() not in {"and", "the", "of"})
    return words[0] if words else name


def generate_fleet(spec: FleetSpec, client_names: Sequence[str], start: datetime) -> Fleet:
    """A fleet from `spec`, its clients drawn from `client_names` (the tenant's companies)."""
    return FleetGenerator(spec, client_names, start).generate()
