"""What must hold after a scenario, computed from the simulator's truth, and what the run actually made.

Expected counts come from the events the fleet sent, the people's actions on the timeline, the
fleet's usage at each month end and the fake's own setup tables, through a plain model of the
integration's rules (docs/integration.md); got counts come from ConnectWise, the mail catcher
and the integration's /status. Nothing here is a number pasted by hand.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..simulator.clock import parse_moment

if TYPE_CHECKING:
    from ..simulator.client import ApiSession
    from ..simulator.testing import Admin
    from .actions import RunContext
    from .scenario import Scenario

TB = 10**12
UNIT_BYTES = {"SIRIS": TB, "CLOUD": TB, "ALTO": 500 * 10**9}
BINARY_UNIT_BYTES = {"SIRIS": 2**40, "CLOUD": 2**40, "ALTO": 500 * 2**30}
PRODUCTS = {"SIRIS": "DATTO-SIRIS-OVG-TB", "CLOUD": "DATTO-SIRIS-OVG-TB", "ALTO": "DATTO-ALTO-OVG-500GB"}
HOLDBACK = timedelta(hours=1)
ALERT_EVENTS = ("raise", "repeat", "clear")
API_FLAGS = (
    "serviceTicketApiFlag",
    "managedServicesApiFlag",
    "contactApiFlag",
    "companyApiFlag",
    "activityApiFlag",
    "invoiceApiFlag",
    "productApiFlag",
    "marketingApiFlag",
    "purchasingApiFlag",
    "reportingApiFlag",
    "systemApiFlag",
    "configurationApiFlag",
    "agreementApiFlag",
)


@dataclass
class Outcome:
    name: str
    expected: Any
    got: Any
    passed: bool
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expected": self.expected,
            "got": self.got,
            "passed": self.passed,
            "detail": self.detail,
        }


@dataclass
class Evidence:
    """Everything the checks read, gathered during and after the run."""

    events: list[dict[str, Any]] = field(default_factory=list)
    onboarding: list[dict[str, Any]] = field(default_factory=list)
    billing: list[dict[str, Any]] = field(default_factory=list)
    doctor: dict[str, Any] | None = None
    status: dict[str, Any] = field(default_factory=dict)
    context: RunContext | None = None
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    additions: list[dict[str, Any]] = field(default_factory=list)
    mail: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    setup: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def collect(self, admin: Admin, api: ApiSession) -> None:
        """Read what the run made: ConnectWise records, caught mail, the fleet's devices."""
        self.devices = {row["serialNumber"]: row for row in admin.fleet.devices()}
        self.tickets = _all(api, "service/tickets", "externalXRef != null")
        self.notes = {ticket["id"]: _all(api, f"service/tickets/{ticket['id']}/notes") for ticket in self.tickets}
        self.additions = [
            {**addition, "agreementId": agreement["id"]}
            for agreement in _all(api, "finance/agreements")
            for addition in _all(api, f"finance/agreements/{agreement['id']}/additions")
        ]
        self.mail = admin.mail.messages()
        self.truth = admin.fleet.truth()
        self.faults = admin.call("GET", "faults")
        self.setup = {
            "logins": _all(api, "system/integratorlogins"),
            "integrations": _all(api, "company/managedDevicesIntegrations"),
            "configuration_types": _all(api, "company/configurations/types"),
            "boards": _all(api, "service/boards"),
            "agreement_types": _all(api, "finance/agreements/types"),
            "catalog": _all(api, "procurement/catalog"),
            "info": api.get("system/info").json(),
        }


def _all(api: ApiSession, path: str, conditions: str | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        params: dict[str, Any] = {"page": page, "pageSize": 1000}
        if conditions:
            params["conditions"] = conditions
        batch = api.get(path, params=params).json()
        rows += batch
        if len(batch) < 1000:
            return rows
        page += 1


# -- the integration's rules, as a model over the events ----------------------------------------


@dataclass
class Expected:
    tickets: int = 0
    notes: int = 0
    emails: int = 0
    held: int = 0
    by_key: Counter = field(default_factory=Counter)  # alertKey -> tickets expected


def mapped_serials(evidence: Evidence) -> set[str]:
    final = evidence.onboarding[-1]["devices"] if evidence.onboarding else []
    return {device["serial"] for device in final if device["state"] in ("onboarded", "unchanged", "would change")}


XREF_PREFIX = "Datto:"  # the integration's externalXRef: the alert key behind this prefix (docs/integration.md)


def alert_key_of(ticket: dict[str, Any]) -> str | None:
    xref = ticket.get("externalXRef") or ""
    return xref[len(XREF_PREFIX) :] if xref.startswith(XREF_PREFIX) else None


def model(scenario: Scenario, evidence: Evidence) -> Expected:
    """Replay the events through the integration's rules (docs/integration.md), in time order.

    Tickets and notes: per alert key, an event with no open ticket opens one (a clear with none
    does nothing); with one open, it adds a note; a technician's close ends the open ticket.
    Email: raises and repeats with recipients, routed to email, one per device and alert type
    per hour of alert time. Devices onboarding did not map hold their ticket side.
    """
    integration = scenario.integration
    screenshot_email = bool(integration.get("settings", {}).get("alerts", {}).get("screenshot_email", True))
    routes = {
        "device": integration["device_route"],
        "agent": integration["agent_route"],
        "screenshot": "email" if screenshot_email else "none",  # never a ticket (the setup guide)
    }
    close_on_clear = integration["close_on_clear"]
    mapped = mapped_serials(evidence)
    closes = sorted(
        (close["at"], alert_key_of(close)) for close in (evidence.context.closed_tickets if evidence.context else [])
    )
    expected = Expected()
    open_keys: set[str] = set()
    mail_sent_at: dict[tuple[str, str], datetime] = {}
    for event in sorted(_alert_events(evidence), key=lambda e: (parse_moment(e["time"]), e.get("seq", 0))):
        moment = parse_moment(event["time"])
        while closes and closes[0][0] < moment:
            open_keys.discard(closes.pop(0)[1])
        category = event["category"]
        route = routes["screenshot"] if category == "screenshot" else routes.get(category, "both")
        if route in ("email", "both") and event.get("recipients") and event["event"] != "clear":
            slot = (event["serialNumber"], event["alertType"])
            last = mail_sent_at.get(slot)
            if last is None or moment >= last + HOLDBACK:
                mail_sent_at[slot] = moment
                expected.emails += 1
        if route not in ("ticket", "both"):
            continue
        if event["serialNumber"] not in mapped:
            expected.held += 1
            continue
        key = event["alertKey"]
        if key in open_keys:
            expected.notes += 1
            if event["event"] == "clear" and close_on_clear:
                open_keys.discard(key)
        elif event["event"] != "clear":
            open_keys.add(key)
            expected.tickets += 1
            expected.by_key[key] += 1
    return expected


def _alert_events(evidence: Evidence) -> list[dict[str, Any]]:
    return [event for event in evidence.events if event.get("event") in ALERT_EVENTS]


# -- checks --------------------------------------------------------------------------------------


def evaluate(scenario: Scenario, evidence: Evidence) -> list[Outcome]:
    expected = model(scenario, evidence)
    checks = {
        "tickets": lambda params: _compare("tickets", expected.tickets, len(evidence.tickets)),
        "notes": lambda params: _compare("notes", expected.notes, _appended_notes(evidence)),
        "emails": lambda params: _compare("emails", expected.emails, len(evidence.mail)),
        "no_screenshot_tickets": lambda params: _no_screenshot_tickets(evidence),
        "no_duplicates": lambda params: _no_duplicates(evidence),
        "none_lost": lambda params: _none_lost(expected, evidence),
        "additions": lambda params: _additions(scenario, evidence),
        "doctor": lambda params: _doctor(scenario, evidence),
        "onboarding": lambda params: _onboarding(evidence),
        "incident_tickets": lambda params: _incident_tickets(scenario, evidence, params),
        "silent_devices_quiet": lambda params: _silent_devices_quiet(evidence),
        "reopened_after_close": lambda params: _reopened_after_close(expected, evidence),
        "faults_fired": lambda params: _faults_fired(evidence),
    }
    return [checks[check.name](check.params) for check in scenario.checks]


def _compare(name: str, expected: Any, got: Any, detail: str = "") -> Outcome:
    return Outcome(name, expected, got, expected == got, detail)


def _appended_notes(evidence: Evidence) -> int:
    """Notes the integration added: every note on its tickets but the first (the initial description)."""
    return sum(max(len(notes) - 1, 0) for notes in evidence.notes.values())


def _no_screenshot_tickets(evidence: Evidence) -> Outcome:
    """Screenshot alerts happened, and none made a ticket (the setup guide)."""
    screenshot_keys = {e["alertKey"] for e in _alert_events(evidence) if e["category"] == "screenshot"}
    ticketed = sum(1 for ticket in evidence.tickets if alert_key_of(ticket) in screenshot_keys)
    detail = (
        f"{len(screenshot_keys)} screenshot alerts"
        if screenshot_keys
        else "no screenshot alert happened: nothing was tested"
    )
    return Outcome("no_screenshot_tickets", 0, ticketed, bool(screenshot_keys) and ticketed == 0, detail)


def _no_duplicates(evidence: Evidence) -> Outcome:
    open_by_xref = Counter(ticket["externalXRef"] for ticket in evidence.tickets if not ticket.get("closedFlag"))
    duplicated = {xref: count for xref, count in open_by_xref.items() if count > 1}
    repeated_notes = 0
    for notes in evidence.notes.values():
        texts = Counter(note.get("text") for note in notes)
        repeated_notes += sum(count - 1 for count in texts.values() if count > 1)
    got = len(duplicated) + repeated_notes
    detail = f"open tickets sharing an alert: {duplicated}; repeated notes: {repeated_notes}" if got else ""
    return Outcome("no_duplicates", 0, got, got == 0, detail)


def _none_lost(expected: Expected, evidence: Evidence) -> Outcome:
    status = evidence.status
    failed = status.get("failed", 0)
    held = status.get("held", 0)
    got = {"failed": failed, "held": held, "accepted": status.get("accepted", 0) - status.get("duplicates", 0)}
    sent = len(_alert_events(evidence))
    want = {"failed": 0, "held": expected.held, "accepted": sent}
    return Outcome("none_lost", want, got, got == want, "" if got == want else "every event sent must be accepted")


def _additions(scenario: Scenario, evidence: Evidence) -> Outcome:
    binary = bool(scenario.integration.get("settings", {}).get("billing", {}).get("binary_units", False))
    units_of = BINARY_UNIT_BYTES if binary else UNIT_BYTES
    mapped = mapped_serials(evidence)
    expected: set[tuple[str, str, str, int]] = set()
    for run in evidence.billing:
        for serial, row in run["usage"].items():
            plan = row.get("plan") or {}
            if serial not in mapped or plan.get("kind") != "CAPACITY":
                continue
            excess = max(0, int(row.get("offsiteUsedBytes") or 0) - int(plan.get("includedOffsiteBytes") or 0))
            units = math.ceil(excess / units_of[row["family"]])
            if units:
                expected.add((serial, run["month"], PRODUCTS[row["family"]], units))
    got: set[tuple[str, str, str, int]] = set()
    for addition in evidence.additions:
        if addition.get("cancelledDate") or not addition.get("serialNumber"):
            continue
        month = (addition.get("effectiveDate") or "")[:7]
        product = (addition.get("product") or {}).get("identifier", "")
        got.add((addition["serialNumber"], month, product, int(addition.get("quantity") or 0)))
    missing, extra = sorted(expected - got), sorted(got - expected)
    detail = f"missing {missing[:5]}; unexpected {extra[:5]}" if missing or extra else ""
    return Outcome("additions", len(expected), len(got), not missing and not extra, detail)


def expected_doctor_failures(setup: dict[str, Any], settings: dict[str, Any]) -> set[str]:
    """What is wrong in the fake's setup tables, read directly: the doctor must find exactly this."""
    failures: set[str] = set()
    version = setup["info"].get("version", "v0").lstrip("v").split(".")[0]
    if not version.isdigit() or int(version) < 2012:
        failures.add("version")
    wanted = settings["username"].casefold()
    login = next((row for row in setup["logins"] if row["username"].casefold() == wanted), None)
    if login is not None:
        if login["username"] != "dattoCW":
            failures.add("login.exact_name")
        if not login.get("canAccessAllApisFlag"):
            failures |= {f"api.{flag}" for flag in API_FLAGS if not login.get(flag)}
        if not login.get("canAccessAllRecordsFlag"):
            failures.add("login.all_records")
        ours = [i for i in setup["integrations"] if (i.get("integratorLogin") or {}).get("id") == login["id"]]
        if not ours:
            failures.add("integration.login")
        else:
            integration = ours[0]
            if not integration.get("configBillCustomerFlag"):
                failures.add("integration.bill_customer")
            if not integration.get("matchOnSerialNumberFlag"):
                failures.add("integration.match_serial")
            if integration.get("disableNewCrossReferencesFlag"):
                failures.add("integration.cross_references")
    names = {
        "configuration_type": {t["name"].casefold() for t in setup["configuration_types"]},
        "alerts.board": {b["name"].casefold() for b in setup["boards"]},
        "billing.agreement_type": {t["name"].casefold() for t in setup["agreement_types"]},
    }
    if settings["configuration_type"].casefold() not in names["configuration_type"]:
        failures.add("configuration_type")
    if settings["board"].casefold() not in names["alerts.board"]:
        failures.add("alerts.board")
    if settings["agreement_type"].casefold() not in names["billing.agreement_type"]:
        failures.add("billing.agreement_type")
    products = {p["identifier"].casefold() for p in setup["catalog"]}
    for check, identifier in (("billing.siris_product", PRODUCTS["SIRIS"]), ("billing.alto_product", PRODUCTS["ALTO"])):
        if identifier.casefold() not in products:
            failures.add(check)
    return failures


def _doctor(scenario: Scenario, evidence: Evidence) -> Outcome:
    if evidence.doctor is None:
        return Outcome("doctor", "a checklist", None, False, "the doctor did not run")
    got = {check["id"] for check in evidence.doctor["checks"] if check["status"] == "fail"}
    expected = expected_doctor_failures(evidence.setup, _doctor_settings(evidence))
    fixes_given = all(check.get("fix") for check in evidence.doctor["checks"] if check["status"] == "fail")
    passed = got == expected and fixes_given and (evidence.doctor["ok"] is (not expected))
    detail = "" if passed else f"missed {sorted(expected - got)}; wrongly failed {sorted(got - expected)}"
    return Outcome("doctor", sorted(expected), sorted(got), passed, detail)


def _doctor_settings(evidence: Evidence) -> dict[str, Any]:
    settings = evidence.settings
    return {
        "username": settings.get("connectwise", {}).get("integrator_username", "dattoCW"),
        "configuration_type": settings.get("onboarding", {}).get("configuration_type", "Datto Appliance"),
        "board": settings.get("alerts", {}).get("board", "Datto Alerts"),
        "agreement_type": settings.get("billing", {}).get("overage_agreement_type", "Datto Offsite Overage"),
    }


def _company_name(shown: str) -> str:
    """Onboarding reports a company as `Name (Identifier)`."""
    name, _, identifier = shown.rpartition(" (")
    return name if name and identifier.endswith(")") else shown


def _onboarding(evidence: Evidence) -> Outcome:
    """Exact client names match on their own; every other name is left unmatched, never guessed."""
    first = evidence.onboarding[0]["devices"] if evidence.onboarding else []
    wrong, guessed, missed = [], [], []
    for device in first:
        row = evidence.devices.get(device["serial"], {})
        exact = row.get("nameVariant") == "exact"
        matched = device["state"] in ("onboarded", "unchanged", "would change")
        if matched and not exact:
            guessed.append(device["serial"])
        elif matched and _company_name(device.get("company", "")) != row.get("matchedCompany"):
            wrong.append(device["serial"])
        elif exact and not matched:
            missed.append(device["serial"])
    by_state = defaultdict(int)
    for device in first:
        by_state[device["state"]] += 1
    problems = {"guessed": guessed, "wrong company": wrong, "missed exact": missed}
    bad = {name: serials for name, serials in problems.items() if serials}
    return Outcome(
        "onboarding", "exact names matched, others reported", dict(by_state), not bad, str(bad) if bad else ""
    )


def _incident_tickets(scenario: Scenario, evidence: Evidence, params: dict[str, Any]) -> Outcome:
    """Scored against the truth: every alert an incident of `kind` raised on an onboarded device,
    routed to tickets, has its one ticket (found by the alert's key)."""
    kind = params.get("kind", "site_power_loss")
    category = {event["alertKey"]: event["category"] for event in _alert_events(evidence)}
    routes = {"device": scenario.integration["device_route"], "agent": scenario.integration["agent_route"]}
    mapped = mapped_serials(evidence)
    wanted = {
        alert["alertKey"]
        for alert in evidence.truth.get("alerts", [])
        if alert.get("incidentKind") == kind or _root_kind(evidence, alert) == kind
        if alert["serialNumber"] in mapped
        and routes.get(category.get(alert["alertKey"], "screenshot")) in ("ticket", "both")
    }
    tickets = Counter(alert_key_of(ticket) for ticket in evidence.tickets)
    missing = sorted(key for key in wanted if tickets[key] == 0)
    doubled = sorted(key for key in wanted if tickets[key] > 1)
    detail = f"no ticket for {missing[:5]}; more than one for {doubled[:5]}" if missing or doubled else ""
    got = len(wanted) - len(missing)
    return Outcome("incident_tickets", len(wanted), got, bool(wanted) and not missing and not doubled, detail)


def _root_kind(evidence: Evidence, alert: dict[str, Any]) -> str | None:
    roots = {incident["incidentId"]: incident["kind"] for incident in evidence.truth.get("incidents", [])}
    return roots.get(alert.get("rootIncidentId"))


def _silent_devices_quiet(evidence: Evidence) -> Outcome:
    """A device with no alert email set raised nothing after it went silent, so nothing reached ConnectWise."""
    silent = set(evidence.context.silent_devices if evidence.context else [])
    spoke = sorted(
        {e["serialNumber"] for e in _alert_events(evidence) if e["serialNumber"] in silent and e["event"] == "raise"}
    )
    ticketed = sorted(
        {key.split(":")[0] for key in map(alert_key_of, evidence.tickets) if key and key.split(":")[0] in silent}
    )
    got = {"devices raising": len(spoke), "devices with tickets": len(ticketed)}
    want = {"devices raising": 0, "devices with tickets": 0}
    return Outcome(
        "silent_devices_quiet", want, got, bool(silent) and got == want, str(spoke + ticketed) if spoke else ""
    )


def _reopened_after_close(expected: Expected, evidence: Evidence) -> Outcome:
    """Alerts whose ticket a technician closed and that came back got a second ticket."""
    want = sum(1 for count in expected.by_key.values() if count > 1)
    per_key = Counter(alert_key_of(ticket) for ticket in evidence.tickets)
    got = sum(1 for count in per_key.values() if count > 1)
    return Outcome("reopened_after_close", want, got, want > 0 and want == got)


def _faults_fired(evidence: Evidence) -> Outcome:
    """Every fault rule the timeline added really hit the integration (else the run proved nothing)."""
    idle = [f"{rule['id']} {rule['effect']['kind']}" for rule in evidence.faults if not rule.get("fired")]
    fired = len(evidence.faults) - len(idle)
    detail = f"never fired: {idle}" if idle else ""
    return Outcome("faults_fired", len(evidence.faults), fired, bool(evidence.faults) and not idle, detail)
