"""`onboard --interactive`: the Partner Portal's device setup screens as questions on standard input.

Asked only for a device the typeahead could not match: pick its company from the drop-down (or
type on to narrow it), then take the defaults ("Use Defaults") or choose the contact, agreement,
product, board, status and routing one by one. End of input skips the device.
"""

from __future__ import annotations

from collections.abc import Callable

from .datto import Device
from .mapping_file import DEFAULT_CONTACT, ROUTES, Choices
from .onboarding_records import OnboardingRecords, contact_name
from .typeahead import CompanyChoice, CompanyTypeahead, TypeaheadResult

__all__ = ["Prompts"]

MAX_TRIES = 20


class Prompts:
    """Questions through `ask` (default `input`) and messages through `say` (default `print`)."""

    def __init__(self, ask: Callable[[str], str] = input, say: Callable[[str], object] = print) -> None:
        self._ask = ask
        self.say = say

    def ask(self, question: str) -> str | None:
        """The answer, stripped; None at the end of input."""
        try:
            return self._ask(question).strip()
        except EOFError:
            return None

    def company(self, device: Device, result: TypeaheadResult, typeahead: CompanyTypeahead) -> CompanyChoice | None:
        """The company picked for an unmatched device, or None to leave it unmatched."""
        self.say(f'\n{device.serial_number} {device.name}: client "{result.client_name}": {result.reason}')
        options = list(result.candidates)
        for _ in range(MAX_TRIES):
            for number, option in enumerate(options, 1):
                self.say(f"  {number}. {option}")
            answer = self.ask("Company: a number, or type the start of its name (Enter: skip this device): ")
            if not answer:
                return None
            if answer.isdigit() and 1 <= int(answer) <= len(options):
                return options[int(answer) - 1]
            options = typeahead.suggest(answer)
            if not options:
                self.say(f'  no company name starts with "{answer}"')
        return None

    def choices(self, company: CompanyChoice, records: OnboardingRecords, defaults: Choices) -> Choices:
        """The rest of the setup for `company`: the defaults, or each choice in turn (Enter keeps the default)."""
        summary = (
            f"contact {defaults.contact or 'none'}, agreement {defaults.agreement or 'none'}, product "
            f"{defaults.product or 'none'}, board {defaults.board}, status {defaults.status}, routing device "
            f"{defaults.device_route} / agent {defaults.agent_route}"
        )
        answer = self.ask(f"Use defaults ({summary})? [Y/n] ")
        if answer is None or answer.lower() in ("", "y", "yes"):
            return Choices(company=company.identifier, origin="interactive")
        contacts = [contact_name(c) for c in records.contacts(company.id) if not c.get("inactiveFlag")]
        agreements = [str(a.get("name")) for a in records.agreements(company.id)]
        return Choices(
            company=company.identifier,
            contact=self.pick("Contact", contacts, defaults.contact or DEFAULT_CONTACT),
            agreement=self.pick("Agreement", agreements, defaults.agreement or "none"),
            product=self.pick("Product (a catalog identifier)", [], defaults.product or "none"),
            board=self.pick("Service board", [], defaults.board or ""),
            status=self.pick("Status", [], defaults.status or ""),
            device_route=self.route("device", defaults.device_route or "both"),
            agent_route=self.route("agent", defaults.agent_route or "both"),
            origin="interactive",
        )

    def pick(self, label: str, options: list[str], default: str) -> str:
        """One of `options` by number, or any text; Enter keeps `default`; "none" means none."""
        for number, option in enumerate(options, 1):
            self.say(f"  {number}. {option}")
        answer = self.ask(f"{label} [{default}]: ")
        if not answer:
            answer = default
        elif answer.isdigit() and 1 <= int(answer) <= len(options):
            answer = options[int(answer) - 1]
        return "" if answer.casefold() == "none" else answer

    def route(self, kind: str, default: str) -> str:
        for _ in range(MAX_TRIES):
            answer = (self.ask(f"{kind.capitalize()} alerts: {', '.join(ROUTES)} [{default}]: ") or default).lower()
            if answer in ROUTES:
                return answer
            self.say(f"  {answer!r} is not one of {', '.join(ROUTES)}")
        return default
