"""`cwsim-integration doctor`: checks a ConnectWise against the Datto setup guide; each failure comes with its fix.

What the integrator login alone (all the Partner Portal holds) can prove, and what needs API
member keys besides (`connectwise.public_key` / `private_key`), is in docs/onboarding-billing-doctor.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from .conditions import where
from .connections import company_info, integrator_client, member_client, site_url
from .connectwise import (
    DEFAULT_CODEBASE,
    AuthenticationError,
    ConnectWiseClient,
    ConnectWiseError,
    PermissionDenied,
    TransportError,
)
from .managed_devices import find_integration
from .mapping_file import MappingFileError, load_mapping_file
from .settings import Settings
from .transport import retry_policy

__all__ = ["API_PROBES", "Doctor", "DoctorCheck", "DoctorReport", "Status", "add_arguments", "main", "run_doctor"]

GUIDE_USERNAME = "dattoCW"
OLDEST_VERSION = 2012
LOGIN_TABLE = "System > Setup Tables > Integrator Login"
INTEGRATION_TABLE = "System > Setup Tables > Managed Devices Integration"
MEMBER_KEYS = "API member keys (connectwise.public_key and connectwise.private_key)"
_VERSION = re.compile(r"v?(\d{4})(?:[._](\d+))?")


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # not checked: what would prove it is missing


MARKS = {Status.PASS: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.SKIP: "-"}


@dataclass(frozen=True)
class ApiProbe:
    """One API of the guide's list, its integrator-login flag, and a collection only that API serves."""

    label: str
    flag: str
    path: str


# The thirteen APIs the guide says to tick, each probed by reading one page of one collection.
API_PROBES = (
    ApiProbe("Service Ticket API", "serviceTicketApiFlag", "service/boards"),
    ApiProbe("Managed Services API", "managedServicesApiFlag", "company/managedDevicesIntegrations"),
    ApiProbe("Contact API", "contactApiFlag", "company/contacts"),
    ApiProbe("Company API", "companyApiFlag", "company/companies"),
    ApiProbe("Activity API", "activityApiFlag", "sales/activities"),
    ApiProbe("Invoice API", "invoiceApiFlag", "finance/invoices"),
    ApiProbe("Product API", "productApiFlag", "procurement/catalog"),
    ApiProbe("Marketing API", "marketingApiFlag", "marketing/groups"),
    ApiProbe("Purchasing API", "purchasingApiFlag", "procurement/purchaseorders"),
    ApiProbe("Reporting API", "reportingApiFlag", "system/reports"),
    ApiProbe("System API", "systemApiFlag", "system/info"),
    ApiProbe("Configuration API", "configurationApiFlag", "company/configurations/types"),
    ApiProbe("Agreement API", "agreementApiFlag", "finance/agreements/types"),
)


@dataclass(frozen=True)
class DoctorCheck:
    """One line of the checklist: what was checked, how it came out, what was seen, how to fix it."""

    id: str
    title: str
    status: Status
    detail: str = ""
    fix: str = ""
    proof: str = ""  # what the check rests on: the integrator login, API member keys, the settings


@dataclass
class DoctorReport:
    site: str
    company_id: str
    username: str
    member_keys: bool
    checks: list[DoctorCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(check.status is Status.FAIL for check in self.checks)

    def counts(self) -> dict[str, int]:
        return {status.value: sum(c.status is status for c in self.checks) for status in Status}

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "site": self.site,
            "companyId": self.company_id,
            "integratorLogin": self.username,
            "memberKeys": self.member_keys,
            "counts": self.counts(),
            "checks": [{**asdict(check), "status": check.status.value} for check in self.checks],
        }

    def text(self) -> str:
        keys = "with API member keys" if self.member_keys else "integrator login only (no API member keys)"
        lines = [f"ConnectWise {self.site}, company {self.company_id}, login {self.username}: {keys}"]
        for check in self.checks:
            line = f"{MARKS[check.status]} {check.title}"
            if check.detail:
                line += f": {check.detail}"
            lines.append(line)
            if check.fix and check.status in (Status.FAIL, Status.WARN):
                lines.append(f"    fix: {check.fix}")
        counts = self.counts()
        lines.append(
            f"{counts['pass']} passed, {counts['fail']} failed, {counts['warn']} warnings, {counts['skip']} not checked"
        )
        return "\n".join(lines)


class _Unreadable(Exception):
    """No client could read what a check needs; the message says why."""


class Doctor:
    """Runs the checks in order; later checks use what earlier ones learnt (who can read what)."""

    def __init__(
        self,
        settings: Settings,
        integrator: ConnectWiseClient,
        member: ConnectWiseClient | None,
        info: dict[str, Any] | None,
    ) -> None:
        self.settings = settings
        self.integrator = integrator
        self.member = member
        self.info = info
        self.username = settings.connectwise.integrator_username
        self.report = DoctorReport(site_url(settings), settings.connectwise.company_id, self.username, bool(member))
        self.login_works = False
        self.login_sees_all = False  # All Records proven or at least not disproven
        self.system_info: dict[str, Any] | None = None
        self.member_works = False

    def add(self, *checks: DoctorCheck) -> None:
        self.report.checks.extend(checks)

    def settle(self, check: DoctorCheck) -> None:
        """Put `check` in place of an earlier line with its id (better evidence came), else add it."""
        for index, earlier in enumerate(self.report.checks):
            if earlier.id == check.id:
                self.report.checks[index] = check
                return
        self.add(check)

    def run(self) -> DoctorReport:
        self.check_login()
        self.check_version()
        if self.login_works:
            self.check_apis()
            self.check_all_records_by_login()
        self.check_member_keys()
        self.check_login_record()
        self.check_integration()
        self.check_configuration_type()
        self.check_board()
        self.check_overage_agreement_type()
        self.check_overage_products()
        self.check_routes()
        return self.report

    # -- the login ---------------------------------------------------------------------

    def check_login(self) -> None:
        login = f"Integrator login {self.username}"
        if self.username.casefold() != GUIDE_USERNAME.casefold():
            self.add(
                DoctorCheck(
                    "login.name",
                    f"{login} is the guide's login",
                    Status.FAIL,
                    f"the integration logs in as {self.username!r}; the guide's login is {GUIDE_USERNAME}",
                    f"{LOGIN_TABLE}: add {GUIDE_USERNAME} as the guide says, and set connectwise.integrator_username "
                    f"to {GUIDE_USERNAME}",
                    "settings",
                )
            )
        if not self.settings.connectwise.integrator_password.reveal():
            self.add(
                DoctorCheck(
                    "login.authenticates",
                    f"{login} authenticates",
                    Status.FAIL,
                    "no password is set",
                    "set connectwise.integrator_password (or CWSIM_CONNECTWISE_INTEGRATOR_PASSWORD) to the password "
                    f"given to {self.username} in {LOGIN_TABLE}",
                    "settings",
                )
            )
            return
        try:
            self.system_info = self.integrator.get("system/info")
        except PermissionDenied:
            pass  # authenticated; the System API flag is reported with the other APIs
        except AuthenticationError as error:
            self.add(
                DoctorCheck(
                    "login.authenticates",
                    f"{login} authenticates",
                    Status.FAIL,
                    f"ConnectWise refused it: {error.message}",
                    f"{LOGIN_TABLE} > {self.username}: check it exists, is not inactive and has the password in "
                    "connectwise.integrator_password; check connectwise.company_id",
                    "integrator login",
                )
            )
            return
        except ConnectWiseError as error:
            self.add(
                DoctorCheck(
                    "login.authenticates", f"{login} authenticates", Status.FAIL, str(error), "", "integrator login"
                )
            )
            return
        self.login_works = True
        self.add(DoctorCheck("login.authenticates", f"{login} authenticates", Status.PASS, proof="integrator login"))

    def check_version(self) -> None:
        title = f"ConnectWise is version {OLDEST_VERSION} or later"
        version, source = None, ""
        if self.system_info is not None:
            version, source = self.system_info.get("version"), "/system/info"
        elif self.member is not None:
            with contextlib.suppress(ConnectWiseError):
                version, source = self.member.get("system/info").get("version"), "/system/info (API member keys)"
        if not version and self.info:
            version, source = self.info.get("VersionCode") or self.info.get("VersionNumber"), "/login/companyinfo"
        if not version:
            self.add(
                DoctorCheck(
                    "version",
                    title,
                    Status.SKIP,
                    "no version could be read (the System API is off and the site gives no companyinfo)",
                    proof="/system/info or /login/companyinfo",
                )
            )
            return
        match = _VERSION.match(str(version).strip())
        if not match:
            self.add(DoctorCheck("version", title, Status.WARN, f"cannot read the version {version!r}", proof=source))
        elif int(match.group(1)) < OLDEST_VERSION:
            self.add(
                DoctorCheck(
                    "version",
                    title,
                    Status.FAIL,
                    f"{version} (from {source})",
                    f"upgrade ConnectWise to {OLDEST_VERSION} or later: the guide's first requirement",
                    source,
                )
            )
        else:
            self.add(DoctorCheck("version", title, Status.PASS, f"{version} (from {source})", proof=source))

    def check_apis(self) -> None:
        for probe in API_PROBES:
            title = f"{probe.label} answers"
            if probe.path == "system/info" and self.system_info is not None:
                self.add(
                    DoctorCheck(f"api.{probe.flag}", title, Status.PASS, "GET /system/info", proof="integrator login")
                )
                continue
            try:
                self.integrator.get(probe.path, {"pageSize": 1})
            except PermissionDenied:
                self.add(
                    DoctorCheck(
                        f"api.{probe.flag}",
                        title,
                        Status.FAIL,
                        f"Integrator login {self.username}: the {probe.label} is off (403 on GET /{probe.path})",
                        f"{LOGIN_TABLE} > {self.username}: tick {probe.label}",
                        "integrator login",
                    )
                )
            except ConnectWiseError as error:
                self.add(
                    DoctorCheck(
                        f"api.{probe.flag}",
                        title,
                        Status.WARN,
                        f"cannot tell: GET /{probe.path} failed ({error.status or 'no answer'} {error.message})",
                        proof="integrator login",
                    )
                )
            else:
                self.add(
                    DoctorCheck(f"api.{probe.flag}", title, Status.PASS, f"GET /{probe.path}", proof="integrator login")
                )

    def check_all_records_by_login(self) -> None:
        """A login without All Records sees only what it entered: seeing a company someone else entered proves it."""
        title = f"Integrator login {self.username} has Access Level All Records"
        try:
            companies = self.integrator.get("company/companies", {"pageSize": 25, "orderBy": "id asc"})
        except ConnectWiseError as error:
            self.add(DoctorCheck("login.all_records", title, Status.SKIP, f"cannot list companies ({error.message})"))
            return
        mine = self.username.casefold()
        others = [c for c in companies if (c.get("_info") or {}).get("enteredBy", "").casefold() not in ("", mine)]
        if others:
            self.login_sees_all = True
            example = others[0]
            entered_by = example["_info"]["enteredBy"]
            detail = f'it sees companies others entered (e.g. "{example.get("name")}", entered by {entered_by})'
            self.add(DoctorCheck("login.all_records", title, Status.PASS, detail, proof="integrator login"))
        elif companies:
            self.login_sees_all = True  # not disproven
            self.add(
                DoctorCheck(
                    "login.all_records",
                    title,
                    Status.WARN,
                    f"cannot prove it: every company it sees ({len(companies)}) it entered itself",
                    f"{LOGIN_TABLE} > {self.username}: check Access Level is All Records (or give {MEMBER_KEYS})",
                    "integrator login",
                )
            )
        else:
            self.add(
                DoctorCheck(
                    "login.all_records",
                    title,
                    Status.FAIL,
                    "it sees no company at all: a login without All Records sees only the records it entered",
                    f"{LOGIN_TABLE} > {self.username}: set Access Level to All Records",
                    "integrator login",
                )
            )

    # -- with API member keys ------------------------------------------------------------

    def check_member_keys(self) -> None:
        if self.member is None:
            return
        title = "API member keys authenticate"
        try:
            self.member.count("company/companies")
        except AuthenticationError as error:
            self.add(
                DoctorCheck(
                    "member.authenticates",
                    title,
                    Status.FAIL,
                    f"ConnectWise refused them: {error.message}",
                    "check connectwise.public_key and connectwise.private_key (System > Members > API Members)",
                    "API member keys",
                )
            )
            return
        except ConnectWiseError as error:
            self.add(DoctorCheck("member.authenticates", title, Status.FAIL, str(error), proof="API member keys"))
            return
        self.member_works = True
        self.add(DoctorCheck("member.authenticates", title, Status.PASS, proof="API member keys"))

    def _needs_member_keys(self, check_id: str, title: str, why: str) -> bool:
        if self.member_works:
            return False
        detail = f"needs {MEMBER_KEYS}: {why}" if self.member is None else "the API member keys do not work (above)"
        self.add(DoctorCheck(check_id, title, Status.SKIP, detail, proof="API member keys"))
        return True

    def check_login_record(self) -> None:
        title = f"The integrator login is named exactly {GUIDE_USERNAME}"
        why = "ConnectWise matches integrator usernames whatever their case, so a login cannot see its stored name"
        if self._needs_member_keys("login.exact_name", title, why):
            return
        try:
            logins = self.member.get(  # type: ignore[union-attr]
                "system/integratorlogins", {"conditions": str(where("username", "=", self.username)), "pageSize": 10}
            )
        except ConnectWiseError as error:
            self.add(DoctorCheck("login.exact_name", title, Status.SKIP, f"cannot read {LOGIN_TABLE}: {error.message}"))
            return
        if not logins:
            self.add(
                DoctorCheck(
                    "login.exact_name",
                    title,
                    Status.FAIL,
                    f"{LOGIN_TABLE} has no login named {self.username}",
                    f"{LOGIN_TABLE}: add {GUIDE_USERNAME} with Access Level All Records and the thirteen APIs",
                    "API member keys",
                )
            )
            return
        record = logins[0]
        stored = str(record.get("username"))
        if stored == GUIDE_USERNAME:
            self.add(
                DoctorCheck(
                    "login.exact_name", title, Status.PASS, f"the record says {stored}", proof="API member keys"
                )
            )
        else:
            self.add(
                DoctorCheck(
                    "login.exact_name",
                    title,
                    Status.FAIL,
                    f'the login is named {stored!r}; the guide: "This must be {GUIDE_USERNAME} (matching case)"',
                    f"{LOGIN_TABLE} > {stored}: change Username to {GUIDE_USERNAME}, then enter it so in the Partner "
                    "Portal and in connectwise.integrator_username",
                    "API member keys",
                )
            )
        if record.get("inactiveFlag"):
            self.add(
                DoctorCheck(
                    "login.active",
                    f"Integrator login {stored} is active",
                    Status.FAIL,
                    "it is marked inactive",
                    f"{LOGIN_TABLE} > {stored}: untick Inactive",
                    "API member keys",
                )
            )
        self._all_records_from_record(record)

    def _all_records_from_record(self, record: dict[str, Any]) -> None:
        """The record settles All Records whatever the login alone showed; it replaces that line."""
        title = f"Integrator login {self.username} has Access Level All Records"
        flag = record.get("canAccessAllRecordsFlag")
        counts = ""
        try:
            seen_by_member = self.member.count("company/companies")  # type: ignore[union-attr]
            seen_by_login = self.integrator.count("company/companies") if self.login_works else None
            if seen_by_login is not None:
                counts = f" (it sees {seen_by_login} of {seen_by_member} companies)"
        except ConnectWiseError:
            pass
        if flag:
            self.login_sees_all = self.login_works
            self.settle(
                DoctorCheck(
                    "login.all_records",
                    title,
                    Status.PASS,
                    f"the record says All Records{counts}",
                    proof="API member keys",
                )
            )
        else:
            self.login_sees_all = False
            self.settle(
                DoctorCheck(
                    "login.all_records",
                    title,
                    Status.FAIL,
                    f"the record's Access Level is not All Records{counts}",
                    f"{LOGIN_TABLE} > {record.get('username')}: set Access Level to All Records",
                    "API member keys",
                )
            )

    def check_integration(self) -> None:
        title = "A managed-device integration uses the integrator login"
        why = "the managed-device integration is a setup table, not readable by an integrator login"
        if self._needs_member_keys("integration.login", title, why):
            for check_id, label in (
                ("integration.bill_customer", "Set Configuration to Bill the Customer is on"),
                ("integration.match_serial", "Match on Serial Number is on"),
                ("integration.cross_references", "Disable Newly Discovered Cross-References is off"),
            ):
                self.add(DoctorCheck(check_id, f"Managed-device integration: {label}", Status.SKIP, "needs the above"))
            return
        wanted = self.settings.onboarding.managed_devices_integration
        try:
            integrations = list(self.member.iterate("company/managedDevicesIntegrations"))  # type: ignore[union-attr]
        except ConnectWiseError as error:
            self.add(
                DoctorCheck(
                    "integration.login", title, Status.SKIP, f"cannot read {INTEGRATION_TABLE}: {error.message}"
                )
            )
            return
        integration = find_integration(integrations, self.username, wanted)
        if integration is None:
            named = f'named "{wanted}" ' if wanted else ""
            existing = ", ".join(
                f"{i.get('name')} (login {(i.get('integratorLogin') or {}).get('name', 'none')})" for i in integrations
            )
            self.add(
                DoctorCheck(
                    "integration.login",
                    title,
                    Status.FAIL,
                    f"no managed-device integration {named}uses {self.username}"
                    + (f"; there: {existing}" if existing else ""),
                    f"{INTEGRATION_TABLE}: add one (any name and solution) with Integrator Login {GUIDE_USERNAME}, "
                    "Set Configuration to Bill the Customer and Match on Serial Number ticked, Disable Newly "
                    "Discovered Cross-References unticked",
                    "API member keys",
                )
            )
            return
        name = integration.get("name")
        self.add(
            DoctorCheck(
                "integration.login",
                title,
                Status.PASS,
                f"{name} uses {(integration.get('integratorLogin') or {}).get('name')}",
                proof="API member keys",
            )
        )
        where_ = f"{INTEGRATION_TABLE} > {name}"
        for check_id, flag, want, label in (
            ("integration.bill_customer", "configBillCustomerFlag", True, "Set Configuration to Bill the Customer"),
            ("integration.match_serial", "matchOnSerialNumberFlag", True, "Match on Serial Number"),
            (
                "integration.cross_references",
                "disableNewCrossReferencesFlag",
                False,
                "Disable Newly Discovered Cross-References",
            ),
        ):
            state = "on" if want else "off"
            ok = bool(integration.get(flag)) == want
            self.add(
                DoctorCheck(
                    check_id,
                    f"Managed-device integration {name}: {label} is {state}",
                    Status.PASS if ok else Status.FAIL,
                    "" if ok else f"it is {'off' if want else 'on'} ({flag})",
                    "" if ok else f"{where_}: {'tick' if want else 'untick'} {label}",
                    "API member keys",
                )
            )

    # -- always: the records the integration relies on -----------------------------------

    def _readers(self) -> Iterable[tuple[str, ConnectWiseClient]]:
        if self.login_works and self.login_sees_all:
            yield f"integrator login {self.username}", self.integrator
        if self.member_works and self.member is not None:
            yield "API member keys", self.member

    def _find(self, path: str, field_name: str, value: str) -> tuple[list[dict[str, Any]], list[str], str]:
        """Records whose `field_name` is `value`, the names there are, and who read them."""
        reasons = []
        for who, client in self._readers():
            try:
                found = client.get(path, {"conditions": str(where(field_name, "=", value)), "pageSize": 10})
                names = [] if found else [str(r.get(field_name)) for r in client.get(path, {"pageSize": 25})]
            except ConnectWiseError as error:
                reasons.append(f"{who}: {error.message}")
                continue
            return found, names, who
        if not reasons:
            if not self.login_works:
                reasons.append(f"the integrator login does not work and there are no working {MEMBER_KEYS}")
            else:
                reasons.append(f"{self.username} sees only the records it entered until it has All Records")
        raise _Unreadable("; ".join(reasons))

    def _record_check(
        self, check_id: str, title: str, path: str, field_name: str, value: str, fix: Callable[[str], str]
    ) -> dict[str, Any] | None:
        try:
            found, names, who = self._find(path, field_name, value)
        except _Unreadable as error:
            self.add(DoctorCheck(check_id, title, Status.SKIP, f"cannot check: {error}"))
            return None
        active = [r for r in found if not r.get("inactiveFlag")]
        if active:
            self.add(DoctorCheck(check_id, title, Status.PASS, f"id {active[0]['id']}", proof=who))
            return active[0]
        there = ", ".join(f'"{n}"' for n in names[:10]) or "none"
        detail = f'"{value}" is inactive' if found else f'no "{value}" (there: {there})'
        self.add(DoctorCheck(check_id, title, Status.FAIL, detail, fix(there), who))
        return None

    def check_configuration_type(self) -> None:
        name = self.settings.onboarding.configuration_type
        self._record_check(
            "configuration_type",
            f'Configuration type "{name}" exists',
            "company/configurations/types",
            "name",
            name,
            lambda there: (
                f'System > Setup Tables > Configuration Types (not Configuration Status): add "{name}", '
                "or set onboarding.configuration_type to the type you made"
            ),
        )

    def check_board(self) -> None:
        alerts = self.settings.alerts
        board = self._record_check(
            "alerts.board",
            f'Service board "{alerts.board}" exists',
            "service/boards",
            "name",
            alerts.board,
            lambda there: (
                f'System > Setup Tables > Service Board: add "{alerts.board}", or set alerts.board to one of {there}'
            ),
        )
        if board is None:
            self.add(
                DoctorCheck(
                    "alerts.status", f'Status "{alerts.status}" on the alert board', Status.SKIP, "needs the board"
                )
            )
            return
        wanted = [("status", "statuses", alerts.status)]
        wanted += [("type", "types", name) for name in dict.fromkeys((alerts.device_type, alerts.agent_type)) if name]
        wanted += [("subtype", "subtypes", alerts.subtype)] if alerts.subtype else []
        for kind, child, name in wanted:
            self._record_check(
                f"alerts.{kind}" + ("" if kind == "status" else f".{name}"),
                f'{kind.capitalize()} "{name}" on board "{alerts.board}"',
                f"service/boards/{board['id']}/{child}",
                "name",
                name,
                lambda there, kind=kind, child=child, name=name: (
                    f"System > Setup Tables > Service Board > "
                    f'{alerts.board} > {child.capitalize()}: add "{name}", or set alerts.{kind} to one of {there}'
                ),
            )

    def check_overage_agreement_type(self) -> None:
        name = self.settings.billing.overage_agreement_type
        self._record_check(
            "billing.agreement_type",
            f'Overage agreement type "{name}" exists',
            "finance/agreements/types",
            "name",
            name,
            lambda there: (
                f'System > Setup Tables > Agreement Type: add "{name}" (Datto creates agreements of it for '
                "overage), or set billing.overage_agreement_type"
            ),
        )

    def check_overage_products(self) -> None:
        billing = self.settings.billing
        for family, identifier, unit, setting in (
            ("SIRIS", billing.siris_product, "per TB", "billing.siris_product"),
            ("ALTO", billing.alto_product, "per 500 GB", "billing.alto_product"),
        ):
            product = self._record_check(
                f"billing.{family.lower()}_product",
                f'{family} overage product "{identifier}" is in the catalog',
                "procurement/catalog",
                "identifier",
                identifier,
                lambda there, identifier=identifier, family=family, unit=unit, setting=setting: (
                    f'Procurement > Product Catalog: add "{identifier}" ({family} offsite overage, priced {unit}), '
                    f"or set {setting}"
                ),
            )
            price = billing.siris_price if family == "SIRIS" else billing.alto_price
            if product is not None and not price and not product.get("price"):
                self.add(
                    DoctorCheck(
                        f"billing.{family.lower()}_price",
                        f"{family} overage has a price",
                        Status.WARN,
                        f'"{identifier}" has no price and billing.{family.lower()}_price is not set',
                        f'set a price on "{identifier}" or billing.{family.lower()}_price',
                        "settings",
                    )
                )

    def check_routes(self) -> None:
        routes = [("settings alerts", "device", self.settings.alerts.device_route)]
        routes.append(("settings alerts", "agent", self.settings.alerts.agent_route))
        path = self.settings.onboarding.mapping_file
        if path:
            try:
                routes += list(load_mapping_file(path).routes())
            except MappingFileError as error:
                self.add(
                    DoctorCheck(
                        "mapping_file",
                        "The mapping file can be read",
                        Status.FAIL,
                        "; ".join(error.problems),
                        proof=path,
                    )
                )
        for where_, kind, route in routes:
            if route == "ticket":
                self.add(
                    DoctorCheck(
                        f"routing.{kind}",
                        f"{kind.capitalize()} alerts go to tickets and email",
                        Status.WARN,
                        f"{where_}: {kind} alerts go to tickets only",
                        f"route {kind} alerts to both: Datto strongly recommends e-mail and ConnectWise alerts, "
                        "for redundancy",
                        "settings",
                    )
                )


def run_doctor(settings: Settings) -> DoctorReport:
    """Check `settings`' ConnectWise against the guide."""
    cw = settings.connectwise
    try:
        info = company_info(settings, retry_policy(attempts=1, backoff=0.1, jitter=0.1))
    except TransportError as error:
        report = DoctorReport(site_url(settings), cw.company_id, cw.integrator_username, bool(cw.public_key))
        report.checks.append(
            DoctorCheck(
                "site",
                f"ConnectWise answers at {site_url(settings)}",
                Status.FAIL,
                f"no answer: {error.message}",
                "check connectwise.site (scheme and host, e.g. https://na.myconnectwise.net)",
                "the network",
            )
        )
        return report
    url = cw.api_url.rstrip("/") if cw.api_url else None
    if url is None:
        codebase = (info or {}).get("Codebase") or DEFAULT_CODEBASE
        url = f"{site_url(settings)}/{codebase.strip('/')}/apis/3.0"
    with integrator_client(settings, url) as integrator:
        member = member_client(settings, url)
        try:
            doctor = Doctor(settings, integrator, member, info)
            if info is None and not cw.api_url:
                doctor.add(
                    DoctorCheck(
                        "site",
                        f"ConnectWise knows company {cw.company_id}",
                        Status.WARN,
                        f"/login/companyinfo/{cw.company_id} gave nothing; using {DEFAULT_CODEBASE}",
                        "check connectwise.company_id (the company you log in to ConnectWise with)",
                        "/login/companyinfo",
                    )
                )
            else:
                doctor.add(DoctorCheck("site", f"ConnectWise answers at {url}", Status.PASS, proof="the network"))
            return doctor.run()
        finally:
            if member is not None:
                member.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the checklist as JSON")


def main(args: argparse.Namespace, settings: Settings) -> int:
    report = run_doctor(settings)
    if args.json:
        print(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        print(report.text())
    sys.stdout.flush()
    return 0 if report.ok else 1
