"""`cwsim-integration onboard`: the Partner Portal's per-device ConnectWise setup, from the portal's device list.

For each device: the company (a mapping-file entry, else the one the registry already has, else
the typeahead's exact match - never a guess), one of its contacts, optionally an agreement and a
product, the board and status (type and subtype optional) and the routing per alert kind; then
the ConnectWise configuration (matched on serial number) is created or brought up to date and
attached to the agreement, and the device's mapping goes to the registry the alerts read.
Choices come from, highest first: the device's serial entry, its client's entry, what was
chosen interactively before, the file's `defaults:`, the settings. Re-running writes nothing
that is already right.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .conditions import where
from .connections import api_url, integrator_client, member_client, portal_client
from .connectwise import ConnectWiseClient, ConnectWiseError, NotFound
from .datto import DattoError, DattoPortalClient, Device
from .managed_devices import bill_customer_flag
from .mapping_file import DEFAULT_CONTACT, Choices, MappingFile, MappingFileError, load_mapping_file
from .onboarding_prompts import Prompts
from .onboarding_records import BoardChoice, ChoiceError, Named, OnboardingRecords
from .outbox import Outbox
from .overage import device_family
from .registry import DeviceMapping, DeviceRegistry, UnmatchedDevice, registry_path
from .settings import Settings
from .state_dir import StateDir
from .typeahead import CompanyChoice, CompanyTypeahead, TypeaheadResult

__all__ = [
    "DeviceOutcome",
    "Onboarding",
    "OnboardingError",
    "OnboardingReport",
    "add_arguments",
    "main",
    "run_onboarding",
]

MARKS = {"onboarded": "+", "would change": "+", "unchanged": "=", "unmatched": "?", "skipped": "-", "error": "✗"}


class OnboardingError(Exception):
    """Onboarding cannot run at all (the configuration type is missing, ConnectWise or the portal fails)."""


@dataclass
class DeviceOutcome:
    """What onboarding did (or, in a dry run, would do) for one device."""

    serial: str
    device_name: str
    client_name: str
    state: str = "unchanged"  # onboarded | would change | unchanged | unmatched | skipped | error
    company: str = ""
    source: str = ""  # how the company was chosen
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reason: str = ""
    candidates: list[str] = field(default_factory=list)

    def line(self) -> str:
        head = f"{MARKS[self.state]} {self.serial} {self.device_name}"
        if self.state in ("unmatched", "error"):
            text = f'{head}: client "{self.client_name}": {self.reason}'
            if self.candidates:
                text += f"\n    candidates: {'; '.join(self.candidates)}"
            if self.state == "unmatched":
                text += f'\n    map it in the mapping file: clients: {{"{self.client_name}": {{company: IDENTIFIER}}}}'
            return text
        if self.state == "skipped":
            return f"{head}: skipped ({self.source})"
        text = f"{head} -> {self.company}, {self.source}"
        if self.changes:
            text += ": " + "; ".join(self.changes)
        for note in self.notes:
            text += f"\n    note: {note}"
        return text


@dataclass
class OnboardingReport:
    outcomes: list[DeviceOutcome]
    dry_run: bool = False
    bill_flag: bool = True
    bill_flag_source: str = ""

    def counts(self) -> dict[str, int]:
        states = ("onboarded", "would change", "unchanged", "unmatched", "skipped", "error")
        return {state: sum(o.state == state for o in self.outcomes) for state in states}

    @property
    def unmatched(self) -> list[DeviceOutcome]:
        return [o for o in self.outcomes if o.state == "unmatched"]

    @property
    def errors(self) -> list[DeviceOutcome]:
        return [o for o in self.outcomes if o.state == "error"]

    def text(self, full: bool = False) -> str:
        counts = {state: count for state, count in self.counts().items() if count}
        summary = ", ".join(f"{count} {state}" for state, count in counts.items()) or "no devices"
        lines = [f"{len(self.outcomes)} devices: {summary}" + (" (dry run: nothing written)" if self.dry_run else "")]
        lines.append(f"billFlag {'on' if self.bill_flag else 'off'}, from {self.bill_flag_source}")
        for outcome in self.outcomes:
            if full or outcome.state not in ("unchanged", "skipped"):
                lines.append(outcome.line())
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "billFlag": self.bill_flag,
            "billFlagSource": self.bill_flag_source,
            "counts": self.counts(),
            "devices": [asdict(outcome) for outcome in self.outcomes],
        }


def settings_choices(settings: Settings) -> Choices:
    """The settings as the lowest level of choices."""
    alerts, onboarding = settings.alerts, settings.onboarding
    return Choices(
        contact=onboarding.default_contact or DEFAULT_CONTACT,
        agreement=onboarding.default_agreement,
        product=onboarding.default_product,
        board=alerts.board,
        status=alerts.status,
        device_type=alerts.device_type,
        agent_type=alerts.agent_type,
        subtype=alerts.subtype,
        device_route=alerts.device_route,
        agent_route=alerts.agent_route,
        origin="settings",
    )


@dataclass
class Layers:
    """Choices at several levels, highest first: each value comes from the highest level that says it."""

    levels: list[Choices]

    def get(self, name: str) -> tuple[Any, str]:
        for level in self.levels:
            value = getattr(level, name)
            if value is not None:
                return value, level.origin
        return None, ""

    def value(self, name: str) -> Any:
        return self.get(name)[0]

    def merged(self) -> Choices:
        return Choices(**{f.name: self.value(f.name) for f in fields(Choices) if f.name not in ("skip", "origin")})


@dataclass
class Resolved:
    """A device's choices as ConnectWise records."""

    company: CompanyChoice
    contact: Named | None
    agreement: Named | None
    product: dict[str, Any] | None
    board: BoardChoice
    device_route: str
    agent_route: str


class Onboarding:
    """One run over the portal's device list."""

    def __init__(
        self,
        client: ConnectWiseClient,
        portal: DattoPortalClient,
        registry: DeviceRegistry,
        mapping: MappingFile,
        settings: Settings,
        *,
        bill_flag: bool,
        dry_run: bool = False,
        prompts: Prompts | None = None,
        today: datetime | None = None,
    ) -> None:
        self.client = client
        self.portal = portal
        self.registry = registry
        self.mapping = mapping
        self.settings = settings
        self.bill_flag = bill_flag
        self.dry_run = dry_run
        self.prompts = prompts
        self.today = (today or datetime.now(UTC)).strftime("%Y-%m-%dT00:00:00Z")
        self.records = OnboardingRecords(client)
        self.typeahead = CompanyTypeahead(client)
        self.configuration_type: Named | None = None

    def run(self, devices: Iterable[Device] | None = None) -> OnboardingReport:
        name = self.settings.onboarding.configuration_type
        try:
            self.configuration_type = self.records.configuration_type(name)
        except ChoiceError as error:
            raise OnboardingError(
                f"{error}: set onboarding.configuration_type to the Datto appliances' type "
                "(cwsim-integration doctor checks the whole setup)"
            ) from error
        listed = self.portal.devices() if devices is None else devices
        return OnboardingReport([self.onboard(device) for device in listed], self.dry_run, self.bill_flag)

    def onboard(self, device: Device) -> DeviceOutcome:
        outcome = DeviceOutcome(device.serial_number, device.name, device.client_company_name or "")
        try:
            self._onboard(device, outcome)
        except (ChoiceError, ConnectWiseError) as error:
            outcome.state, outcome.reason = "error", str(error)
        if outcome.state == "unchanged" and outcome.changes:
            outcome.state = "would change" if self.dry_run else "onboarded"
        return outcome

    # -- the steps ------------------------------------------------------------------------

    def _onboard(self, device: Device, outcome: DeviceOutcome) -> None:
        entry = self.mapping.entry(device.serial_number, device.client_company_name)
        if entry is not None and entry.skip:
            outcome.state, outcome.source = "skipped", f"skip in {entry.origin}"
            return
        previous = self.registry.get(device.serial_number)
        company, remembered = self._company(device, entry, previous, outcome)
        if company is None:
            return
        levels = [level for level in (entry, remembered, self.mapping.defaults) if level is not None]
        layers = Layers([*levels, settings_choices(self.settings)])
        explicit = set(entry.said()) if entry is not None else set()
        resolved = self._resolve(company, layers, outcome, explicit)
        configuration_id = self._configuration(device, resolved, outcome)
        if previous is not None and previous.agreement_id not in (None, getattr(resolved.agreement, "id", None)):
            self._detach(configuration_id, previous, outcome)
        if resolved.agreement is not None:
            self._attach(configuration_id, resolved.agreement, outcome)
            if resolved.product is not None:
                self._addition(device, resolved, outcome)
        elif resolved.product is not None:
            outcome.notes.append(f"product {resolved.product['identifier']} needs an agreement: no addition made")
        if not self.dry_run:
            saved = remembered.said() if remembered is not None else None
            self.registry.put(self._mapping(device, resolved, configuration_id, outcome.source, saved))

    def _company(
        self, device: Device, entry: Choices | None, previous: DeviceMapping | None, outcome: DeviceOutcome
    ) -> tuple[CompanyChoice | None, Choices | None]:
        """The company and, when it was chosen interactively before, what else was chosen then."""
        if entry is not None and entry.company:
            try:
                company = self.records.company(entry.company)
            except ChoiceError as error:
                raise ChoiceError(f"{entry.origin}: {error}") from error
            outcome.company, outcome.source = str(company), f"mapped in {entry.origin}"
            return company, None
        if previous is not None:
            company = self.records.company_by_id(previous.company_id)
            if company is not None:
                outcome.company, outcome.source = str(company), str(previous.extra.get("source") or "registry")
                said = previous.extra.get("choices")
                return company, Choices.from_said(said, "chosen interactively") if said else None
        result = self.typeahead.match(device.client_company_name)
        if result.company is not None:
            outcome.company, outcome.source = str(result.company), "typeahead: exact name"
            return result.company, None
        if self.prompts is not None:
            picked = self.prompts.company(device, result, self.typeahead)
            if picked is not None:
                chosen = self.prompts.choices(picked, self.records, self._defaults_for_prompts())
                outcome.company, outcome.source = str(picked), "interactive"
                return picked, chosen
        self._unmatched(device, result, outcome)
        return None, None

    def _defaults_for_prompts(self) -> Choices:
        return Layers([self.mapping.defaults, settings_choices(self.settings)]).merged()

    def _unmatched(self, device: Device, result: TypeaheadResult, outcome: DeviceOutcome) -> None:
        outcome.state, outcome.reason = "unmatched", result.reason
        outcome.candidates = [str(candidate) for candidate in result.candidates]
        if not self.dry_run:
            self.registry.mark_unmatched(
                UnmatchedDevice(device.serial_number, result.client_name, result.reason, outcome.candidates)
            )

    def _resolve(self, company: CompanyChoice, layers: Layers, outcome: DeviceOutcome, explicit: set[str]) -> Resolved:
        """The records the choices name; a choice the device's own entry makes must exist, a default may not apply."""

        def choose(name: str, pick: Callable[[Any], Any]) -> Any:
            value, origin = layers.get(name)
            try:
                return pick(value)
            except ChoiceError as error:
                raise ChoiceError(f"{origin}: {error}" if origin else str(error)) from error

        contact = choose("contact", lambda text: self.records.contact(company, text) if text else None)
        if contact is None and layers.value("contact"):
            outcome.notes.append(f"{company.name} has no default contact: no contact set")
        agreement = choose("agreement", lambda text: self.records.agreement(company, text) if text else None)
        wanted_agreement, origin = layers.get("agreement")
        if wanted_agreement and agreement is None:
            if "agreement" in explicit:
                raise ChoiceError(
                    f'{origin}: agreement "{wanted_agreement}": {company.name} has no active agreement of that name '
                    f"or type (there: {self.records.agreements_listing(company)})"
                )
            outcome.notes.append(f'{company.name} has no agreement "{wanted_agreement}": none attached')
        product = choose("product", lambda text: self.records.product(text) if text else None)
        board = choose("board", self.records.board)
        on_board = BoardChoice(
            board,
            choose("status", lambda text: self.records.on_board(board, "statuses", text or "")),
            choose("device_type", lambda text: self.records.on_board(board, "types", text or "")),
            choose("agent_type", lambda text: self.records.on_board(board, "types", text or "")),
            choose("subtype", lambda text: self.records.on_board(board, "subtypes", text or "")),
        )
        return Resolved(
            company, contact, agreement, product, on_board, layers.value("device_route"), layers.value("agent_route")
        )

    def _configuration(self, device: Device, resolved: Resolved, outcome: DeviceOutcome) -> int | None:
        """Create the device's configuration, or bring the one with its serial number up to date."""
        assert self.configuration_type is not None
        serial = device.serial_number
        desired: dict[str, Any] = {
            "name": (device.name or serial)[:100],
            "type": {"id": self.configuration_type.id},
            "company": {"id": resolved.company.id},
            "contact": {"id": resolved.contact.id} if resolved.contact else None,
            "deviceIdentifier": serial,
            "serialNumber": serial,
            "modelNumber": device.model[:50] or None,
            "billFlag": self.bill_flag,
        }
        if device.raw.get("remoteWebUrl"):
            desired["remoteLink"] = str(device.raw["remoteWebUrl"])[:1000]
        found = self.client.get(
            "company/configurations",
            {"conditions": str(where("serialNumber", "=", serial)), "orderBy": "id asc", "pageSize": 25},
        )
        if not found:
            if self.dry_run:
                outcome.changes.append("would create its configuration")
                return None
            created = self.client.post("company/configurations", {k: v for k, v in desired.items() if v is not None})
            outcome.changes.append(f"configuration #{created['id']} created")
            return int(created["id"])
        of_type = [c for c in found if (c.get("type") or {}).get("id") == self.configuration_type.id]
        current = (of_type or found)[0]
        if len(found) > 1:
            outcome.notes.append(f"{len(found)} configurations have serial number {serial}: using #{current['id']}")
        changes = {name: value for name, value in desired.items() if not _same(current.get(name), value)}
        if changes:
            verb = "would update" if self.dry_run else "updated"
            outcome.changes.append(f"configuration #{current['id']} {verb}: {', '.join(sorted(changes))}")
            if not self.dry_run:
                self.client.patch(f"company/configurations/{current['id']}", changes)
        return int(current["id"])

    def _attach(self, configuration_id: int | None, agreement: Named, outcome: DeviceOutcome) -> None:
        path = f"finance/agreements/{agreement.id}/configurations"
        if configuration_id is not None:
            links = list(self.client.iterate(path))
            if any(_linked_id(link) == configuration_id for link in links):
                return
        if self.dry_run:
            outcome.changes.append(f'would attach it to agreement "{agreement.name}"')
            return
        self.client.post(path, {"id": configuration_id})
        outcome.changes.append(f'attached to agreement "{agreement.name}"')

    def _detach(self, configuration_id: int | None, previous: DeviceMapping, outcome: DeviceOutcome) -> None:
        """A device is attached to one agreement: the one it was attached to before lets it go."""
        name = previous.extra.get("agreement_name") or f"#{previous.agreement_id}"
        path = f"finance/agreements/{previous.agreement_id}/configurations"
        if configuration_id is None or not any(_linked_id(link) == configuration_id for link in self._links(path)):
            return
        if self.dry_run:
            outcome.changes.append(f'would detach it from agreement "{name}"')
            return
        self.client.delete(f"{path}/{configuration_id}", missing_ok=True)
        outcome.changes.append(f'detached from agreement "{name}"')

    def _links(self, path: str) -> list[dict[str, Any]]:
        try:
            return list(self.client.iterate(path))
        except NotFound:  # the agreement is gone
            return []

    def _addition(self, device: Device, resolved: Resolved, outcome: DeviceOutcome) -> None:
        """The product as an addition of 1 for the device, once (an uncancelled one with its serial is enough)."""
        assert resolved.agreement is not None and resolved.product is not None
        path = f"finance/agreements/{resolved.agreement.id}/additions"
        product = resolved.product
        existing = self.client.get(
            path,
            {
                "conditions": str(
                    where("serialNumber", "=", device.serial_number) & where("product/id", "=", product["id"])
                ),
                "pageSize": 100,
            },
        )
        if any(not addition.get("cancelledDate") for addition in existing):
            return
        if self.dry_run:
            outcome.changes.append(f"would add {product['identifier']} x 1 to the agreement")
            return
        family = device_family(device.model)
        self.client.post(
            path,
            {
                "product": {"id": product["id"]},
                "quantity": 1,
                "billCustomer": "Billable",
                "effectiveDate": self.today,
                "serialNumber": device.serial_number,
                "description": f"Datto {family} {device.serial_number} ({device.name})"[:4000],
            },
        )
        outcome.changes.append(f"{product['identifier']} x 1 added to the agreement")

    def _mapping(
        self,
        device: Device,
        resolved: Resolved,
        configuration_id: int | None,
        source: str,
        saved: dict[str, Any] | None,
    ) -> DeviceMapping:
        board = resolved.board
        extra: dict[str, Any] = {
            "source": source,
            "company_name": resolved.company.name,
            "contact_name": resolved.contact.name if resolved.contact else None,
            "agreement_name": resolved.agreement.name if resolved.agreement else None,
            "model": device.model,
        }
        if saved:
            extra["choices"] = saved
        return DeviceMapping(
            serial=device.serial_number,
            family=device_family(device.model),
            client_name=device.client_company_name or "",
            device_name=device.name,
            company_id=resolved.company.id,
            company_identifier=resolved.company.identifier,
            contact_id=resolved.contact.id if resolved.contact else None,
            agreement_id=resolved.agreement.id if resolved.agreement else None,
            product_identifier=resolved.product["identifier"] if resolved.product else None,
            configuration_id=configuration_id,
            board=board.board.name,
            status=board.status.name,
            device_type=board.device_type.name if board.device_type else None,
            agent_type=board.agent_type.name if board.agent_type else None,
            subtype=board.subtype.name if board.subtype else None,
            device_route=resolved.device_route,
            agent_route=resolved.agent_route,
            extra=extra,
        )


def _same(current: Any, desired: Any) -> bool:
    """Whether a configuration's field already holds what onboarding would write."""
    if isinstance(desired, dict):
        return isinstance(current, dict) and current.get("id") == desired.get("id")
    if desired is None:
        return current in (None, "")
    return current == desired


def _linked_id(link: dict[str, Any]) -> int | None:
    configuration = link.get("configuration")
    if isinstance(configuration, dict):
        return configuration.get("id")
    return link.get("id")


def run_onboarding(
    settings: Settings, mapping: MappingFile, *, dry_run: bool = False, prompts: Prompts | None = None
) -> OnboardingReport:
    """Onboard every device the portal lists into the ConnectWise and registry `settings` name."""
    url = api_url(settings)
    member = member_client(settings, url)
    try:
        bill_flag, source = bill_customer_flag(settings, member)
    finally:
        if member is not None:
            member.close()
    registry = DeviceRegistry(registry_path(settings.state_dir))
    try:
        with integrator_client(settings, url) as client, portal_client(settings) as portal:
            onboarding = Onboarding(
                client, portal, registry, mapping, settings, bill_flag=bill_flag, dry_run=dry_run, prompts=prompts
            )
            report = onboarding.run()
    finally:
        registry.close()
    if not dry_run:
        _release_held_alerts(settings, report)
    report.bill_flag_source = source
    return report


def _release_held_alerts(settings: Settings, report: OnboardingReport) -> None:
    """The alerts held for the devices just mapped go now, not at the running service's next hold retry."""
    mapped = [outcome.serial for outcome in report.outcomes if outcome.state == "onboarded"]
    path = StateDir.of(settings.state_dir).outbox
    if not mapped or not path.exists():
        return
    outbox = Outbox(path)
    try:
        outbox.release_held(mapped)
    finally:
        outbox.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mapping", type=Path, metavar="FILE", help="the YAML mapping file (default: onboarding.mapping_file)"
    )
    parser.add_argument("--interactive", action="store_true", help="ask about each device it cannot match")
    parser.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    parser.add_argument("--report", action="store_true", help="list every device, the unchanged ones too")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def main(args: argparse.Namespace, settings: Settings) -> int:
    path = args.mapping or (Path(settings.onboarding.mapping_file) if settings.onboarding.mapping_file else None)
    try:
        mapping = load_mapping_file(path) if path is not None else MappingFile()
    except MappingFileError as error:
        print(f"cwsim-integration onboard: {error}", file=sys.stderr)
        return 2
    try:
        report = run_onboarding(
            settings, mapping, dry_run=args.dry_run, prompts=Prompts() if args.interactive else None
        )
    except (OnboardingError, ConnectWiseError, DattoError) as error:
        print(f"cwsim-integration onboard: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report.as_json(), indent=2) if args.json else report.text(full=args.report))
    return 1 if report.errors else 0
