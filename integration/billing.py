"""`cwsim-integration bill --month 2026-10`: each device's offsite overage as an agreement addition, once per month.

Usage and plans come from the portal's paged device list (one listing, not a request per
device); `overage.py` holds the arithmetic. For each onboarded device on a plan with overage:

- the addition goes on the agreement attached at onboarding, else the company's oldest active
  agreement of `billing.overage_agreement_type`, else a new agreement of that type (it needs a
  contact: the device's, else the company's default);
- it is found again by serial number + product + effective date (the first of the month): the
  idempotency key. Run twice, the second run writes nothing;
- an invoiced addition (ConnectWise shows `billedQuantity`) is never edited: its units stand,
  and only the difference still owed goes on one uninvoiced addition beside it. Units invoiced
  beyond what is owed now are reported, never credited;
- when nothing is owed, an uninvoiced addition is cancelled (`cancelledDate` = its effective
  date); owed again later that month, it is revived.

Every run that writes holds the billing record's lock (`billing_record.py`), and a month that
has ended and settled for every device is recorded there, shared with the running service's
month-end billing (`month_end.py`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from .billing_record import BillingBusy, BillingRecord
from .conditions import where
from .connections import integrator_client, portal_client
from .connectwise import ConnectWiseClient, ConnectWiseError, InvalidObject, NotFound
from .datto import DattoError, DattoPortalClient, Device
from .overage import (
    ALTO,
    check_plan_table,
    device_family,
    format_bytes,
    month_end,
    month_just_ended,
    overage_units,
    parse_month,
    plan_terms,
    unit_bytes,
    unit_label,
)
from .registry import DeviceMapping, DeviceRegistry, registry_path
from .settings import Settings
from .state_dir import StateDir

__all__ = [
    "BilledDevice",
    "BillingError",
    "BillingReport",
    "OverageBilling",
    "add_arguments",
    "bill_and_record",
    "bill_month",
    "main",
]

BILL_COMMAND_WAIT_SECONDS = 600.0  # how long `bill` waits for a run in progress (the service's, at month end)
DESCRIPTION = "Datto offsite overage"
MARKS = {
    "added": "+",
    "updated": "+",
    "cancelled": "-",
    "unchanged": "=",
    "no overage": " ",
    "skipped": "?",
    "error": "✗",
}


class BillingError(Exception):
    """Billing cannot run at all (a product or the agreement type is missing, a bad plan table)."""


@dataclass
class BilledDevice:
    """One device's line of the month's billing."""

    serial: str
    client_name: str
    family: str = ""
    plan: str = ""
    used_bytes: int | None = None
    included_bytes: int = 0
    units: int = 0
    state: str = "no overage"  # added | updated | cancelled | unchanged | no overage | skipped | error
    agreement: str = ""
    detail: str = ""

    def line(self) -> str:
        text = f"{MARKS[self.state]} {self.serial} {self.client_name}: {self.state}"
        if self.units or self.state in ("added", "updated", "unchanged"):
            text += f", {self.units} unit{'s' if self.units != 1 else ''}"
        if self.agreement:
            text += f' on "{self.agreement}"'
        return text + (f" ({self.detail})" if self.detail else "")


@dataclass
class BillingReport:
    month: date
    devices: list[BilledDevice] = field(default_factory=list)
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        return {state: sum(d.state == state for d in self.devices) for state in MARKS}

    @property
    def errors(self) -> list[BilledDevice]:
        return [d for d in self.devices if d.state == "error"]

    def text(self, full: bool = False) -> str:
        counts = ", ".join(f"{n} {state}" for state, n in self.counts().items() if n) or "no devices"
        lines = [
            f"billing {self.month:%Y-%m}: {len(self.devices)} devices: {counts}"
            + (" (dry run)" if self.dry_run else "")
        ]
        lines += [d.line() for d in self.devices if full or d.state not in ("no overage", "unchanged")]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "month": f"{self.month:%Y-%m}",
            "dryRun": self.dry_run,
            "counts": self.counts(),
            "devices": [asdict(device) for device in self.devices],
        }


@dataclass(frozen=True)
class Product:
    id: int
    identifier: str
    price: float
    cost: float


class OverageBilling:
    """One month's run: reads the portal once, then writes only what differs from what ConnectWise holds."""

    def __init__(
        self,
        client: ConnectWiseClient,
        registry: DeviceRegistry,
        settings: Settings,
        month: date,
        *,
        dry_run: bool = False,
    ) -> None:
        self.client = client
        self.registry = registry
        self.settings = settings
        self.billing = settings.billing
        self.month = month.replace(day=1)
        self.effective = f"{self.month:%Y-%m}-01T00:00:00Z"
        self.dry_run = dry_run
        self._products: dict[str, Product] = {}
        self._agreement_type: dict[str, Any] | None = None
        self._agreements: dict[int, list[dict[str, Any]]] = {}
        try:
            check_plan_table(self.billing.plans, binary=self.billing.binary_units)
        except ValueError as error:
            raise BillingError(str(error)) from error

    def run(self, devices: Iterable[Device]) -> BillingReport:
        report = BillingReport(self.month, dry_run=self.dry_run)
        for device in devices:
            line = BilledDevice(device.serial_number, device.client_company_name or "")
            try:
                self.bill(device, line)
            except ConnectWiseError as error:
                line.state, line.detail = "error", str(error)
            report.devices.append(line)
        return report

    # -- one device -----------------------------------------------------------------------

    def bill(self, device: Device, line: BilledDevice) -> None:
        binary = self.billing.binary_units
        mapping = self.registry.get(device.serial_number)
        line.family = mapping.family if mapping and mapping.family else device_family(device.model)
        line.plan = device.service_plan or ""
        if mapping is None:
            line.state, line.detail = "skipped", "not onboarded: run cwsim-integration onboard"
            return
        terms = plan_terms(device.service_plan, self.billing.plans, binary=binary)
        if terms.kind == "unknown":
            line.state = "skipped"
            line.detail = f'plan "{line.plan}" is not known: give its allowance (or "none") in billing.plans'
            return
        line.used_bytes, line.included_bytes = device.offsite_used_bytes, terms.included_bytes
        if terms.has_overage:
            if device.offsite_used_bytes is None:
                # Missing usage is not zero usage: it must not cancel what was billed.
                line.state, line.detail = "skipped", "the portal reported no offsite usage"
                return
            unit = unit_bytes(line.family, binary=binary)
            line.units = overage_units(device.offsite_used_bytes, terms.included_bytes, unit)
        product = self.product(line.family)
        agreement = self.agreement(mapping, create=line.units > 0, line=line)
        if agreement is None:
            return
        line.agreement = str(agreement.get("name") or "")
        if not agreement.get("id"):  # a dry run's agreement-to-be: nothing on it yet
            line.state = "added"
            return
        found_agreement = line.detail
        for attempt in range(2):
            line.detail = found_agreement
            try:
                self.settle(device, line, agreement, product)
                return
            except InvalidObject as error:
                # Invoiced between our read and our write: read again and settle the difference.
                if attempt or not any(problem.code == "Invoiced" for problem in error.errors):
                    raise

    def settle(self, device: Device, line: BilledDevice, agreement: dict[str, Any], product: Product) -> None:
        """Make the month's additions for the device add up to its units, editing only uninvoiced ones."""
        path = f"finance/agreements/{agreement['id']}/additions"
        existing = self.client.get(
            path,
            {
                "conditions": str(
                    where("serialNumber", "=", device.serial_number)
                    & where("product/id", "=", product.id)
                    & where("effectiveDate", "=", self.month)
                ),
                "orderBy": "id asc",
                "pageSize": 100,
            },
        )
        # ConnectWise shows what an invoice billed of an addition; an addition never invoiced has none.
        invoiced = [a for a in existing if a.get("billedQuantity")]
        open_ = [a for a in existing if not a.get("billedQuantity")]
        billed = round(sum(float(a.get("quantity") or 0) for a in invoiced if not a.get("cancelledDate")))
        owed = line.units - billed
        notes = [line.detail] if line.detail else []
        if billed:
            notes.append(f"{billed} invoiced already" + (f", {owed} on a new line" if owed > 0 else ""))
        if owed < 0:
            notes.append(f"{-owed} more than owed now: not credited (a credit is a person's call)")
        line.detail = "; ".join(notes)
        live = [a for a in open_ if not a.get("cancelledDate")]
        keep = (live or open_)[0] if open_ and owed > 0 else None
        for addition in open_:
            if addition is not keep and not addition.get("cancelledDate"):
                self.write(
                    "PATCH",
                    f"{path}/{addition['id']}",
                    {"cancelledDate": addition.get("effectiveDate") or self.effective},
                )
                line.state = "cancelled"
        if owed <= 0:
            if line.state != "cancelled":
                line.state = "unchanged" if existing else "no overage"
            return
        desired = {
            "quantity": float(owed),
            "unitPrice": self.price(line.family, product),
            "cancelledDate": None,
        }
        if keep is None:
            body = {
                "product": {"id": product.id},
                "billCustomer": "Billable",
                "effectiveDate": self.effective,
                "serialNumber": device.serial_number,
                "unitCost": product.cost,
                "description": self.description(device, line, owed),
                **{k: v for k, v in desired.items() if v is not None},
            }
            self.write("POST", path, body)
            line.state = "added"
            return
        changes = {k: v for k, v in desired.items() if keep.get(k) != v}
        if changes:
            changes["description"] = self.description(device, line, owed)
            self.write("PATCH", f"{path}/{keep['id']}", changes)
            line.state = "updated"
        elif line.state != "cancelled":
            line.state = "unchanged"

    def description(self, device: Device, line: BilledDevice, owed: int) -> str:
        binary = self.billing.binary_units
        used = format_bytes(line.used_bytes or 0, binary=binary)
        included = format_bytes(line.included_bytes, binary=binary)
        text = (
            f"{DESCRIPTION} {self.month:%Y-%m}: {device.name or device.serial_number} ({device.serial_number}) "
            f"used {used} of {included}: {line.units} x {unit_label(line.family, binary=binary)}"
        )
        if owed != line.units:
            text += f", {line.units - owed} invoiced already"
        return text[:4000]

    def write(self, method: str, path: str, body: dict[str, Any]) -> None:
        if self.dry_run:
            return
        if method == "POST":
            self.client.post(path, body)
        else:
            self.client.patch(path, body)

    # -- what the lines go on -----------------------------------------------------------

    def product(self, family: str) -> Product:
        identifier = self.billing.alto_product if family == ALTO else self.billing.siris_product
        if identifier not in self._products:
            found = self.client.get(
                "procurement/catalog", {"conditions": str(where("identifier", "=", identifier)), "pageSize": 5}
            )
            if len(found) != 1:
                setting = "billing.alto_product" if family == ALTO else "billing.siris_product"
                raise BillingError(
                    f'the catalog has no product "{identifier}" ({setting}); see cwsim-integration doctor'
                )
            record = found[0]
            self._products[identifier] = Product(
                record["id"], identifier, float(record.get("price") or 0), float(record.get("cost") or 0)
            )
        return self._products[identifier]

    def price(self, family: str, product: Product) -> float:
        configured = self.billing.alto_price if family == ALTO else self.billing.siris_price
        return float(configured or product.price)

    def agreement_type(self) -> dict[str, Any]:
        if self._agreement_type is None:
            name = self.billing.overage_agreement_type
            found = self.client.get(
                "finance/agreements/types", {"conditions": str(where("name", "=", name)), "pageSize": 5}
            )
            if not found:
                raise BillingError(
                    f'no agreement type is named "{name}" (billing.overage_agreement_type): see the doctor'
                )
            self._agreement_type = found[0]
        return self._agreement_type

    def agreement(self, mapping: DeviceMapping, *, create: bool, line: BilledDevice) -> dict[str, Any] | None:
        """The onboarding agreement, else the company's overage agreement, else (if `create`) a new one."""
        if mapping.agreement_id is not None:
            try:
                attached = self.client.get(f"finance/agreements/{mapping.agreement_id}")
            except NotFound:
                attached = None
            if attached and not attached.get("cancelledFlag") and attached.get("agreementStatus") in (None, "Active"):
                return attached
        type_id = self.agreement_type()["id"]
        company_id = mapping.company_id
        if company_id not in self._agreements:
            self._agreements[company_id] = list(
                self.client.iterate(
                    "finance/agreements",
                    conditions=where("company/id", "=", company_id) & where("type/id", "=", type_id),
                    order_by="id asc",
                )
            )
        active = [
            a
            for a in self._agreements[company_id]
            if not a.get("cancelledFlag") and a.get("agreementStatus") in (None, "Active")
        ]
        if active:
            return active[0]
        if not create:
            return None
        return self.new_agreement(mapping, line)

    def new_agreement(self, mapping: DeviceMapping, line: BilledDevice) -> dict[str, Any] | None:
        company_name = str(mapping.extra.get("company_name") or mapping.company_identifier)
        name = f"{company_name} - {self.billing.overage_agreement_type}"[:100]
        contact_id = mapping.contact_id or self.default_contact(mapping.company_id)
        if contact_id is None:
            line.state = "error"
            kind = self.billing.overage_agreement_type
            line.detail = f'{company_name} has no "{kind}" agreement, and no contact to make one with'
            return None
        if self.dry_run:
            line.detail = f'would make agreement "{name}"'
            return {"id": 0, "name": name}
        created = self.client.post(
            "finance/agreements",
            {
                "name": name,
                "type": {"id": self.agreement_type()["id"]},
                "company": {"id": mapping.company_id},
                "contact": {"id": contact_id},
                "startDate": self.effective,
            },
        )
        self._agreements.setdefault(mapping.company_id, []).append(created)
        line.detail = f'made agreement "{name}"'
        return created

    def default_contact(self, company_id: int) -> int | None:
        company = self.client.get(f"company/companies/{company_id}")
        default = (company.get("defaultContact") or {}).get("id")
        if default:
            return int(default)
        contacts = self.client.get(
            "company/contacts",
            {"conditions": str(where("company/id", "=", company_id) & where("defaultFlag", "=", True)), "pageSize": 5},
        )
        return int(contacts[0]["id"]) if contacts else None


def bill_month(
    settings: Settings,
    month: date,
    *,
    dry_run: bool = False,
    client: ConnectWiseClient | None = None,
    portal: DattoPortalClient | None = None,
) -> BillingReport:
    """Bill `month`'s overage for every onboarded device: what the service calls at each month end."""
    registry = DeviceRegistry(registry_path(settings.state_dir))
    own_client = client is None
    own_portal = portal is None
    client = client or integrator_client(settings)
    portal = portal or portal_client(settings)
    try:
        billing = OverageBilling(client, registry, settings, month, dry_run=dry_run)
        return billing.run(portal.devices())
    finally:
        registry.close()
        if own_client:
            client.close()
        if own_portal:
            portal.close()


def bill_and_record(
    settings: Settings,
    month: date,
    *,
    by: str,
    now: datetime,
    wait_seconds: float,
    only_if_unbilled: bool = False,
    bill: Callable[[Settings, date], BillingReport] = bill_month,
) -> BillingReport | None:
    """Bill `month` holding the billing record's lock; record it billed once every device settled, if it has ended.

    A month billed before it ends is not recorded: its usage may still grow, so month end bills it
    again. `only_if_unbilled` (the service) returns None when a run recorded the month meanwhile.
    """
    record = BillingRecord(StateDir.of(settings.state_dir).billing)
    with record.claim(wait_seconds) as claim:
        if only_if_unbilled and claim.is_billed(month):
            return None
        report = bill(settings, month)
        if not report.errors and month_end(month) <= now:
            claim.mark_billed(month, by=by, at=now)
        return report


def _month(text: str) -> date:
    try:
        return parse_month(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--month", type=_month, metavar="YYYY-MM", help="the month to bill (default: the month that has just ended)"
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    parser.add_argument("--report", action="store_true", help="list every device, those without overage too")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def main(args: argparse.Namespace, settings: Settings) -> int:
    now = datetime.now(UTC)
    month = args.month or month_just_ended(now)
    try:
        if args.dry_run:
            report = bill_month(settings, month, dry_run=True)
        else:
            report = bill_and_record(settings, month, by="bill", now=now, wait_seconds=BILL_COMMAND_WAIT_SECONDS)
    except (BillingError, BillingBusy, ConnectWiseError, DattoError) as error:
        print(f"cwsim-integration bill: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report.as_json(), indent=2) if args.json else report.text(full=args.report))
    return 1 if report.errors else 0
