"""`cwsim capture`: read a ConnectWise's setup over its API into a tenant file `cwsim serve --tenant` loads.

The client is the integration's own (paging by Link headers, 429s retried after their Retry-After,
typed errors); what a tenant entry may hold comes from the fake's collection declarations, so an
API record becomes the body the fake would accept on POST: read-only fields, ids and `_info` left
out, references rewritten by name or identifier (or by the id the record gets in file order).
API keys and passwords are never read into the file: its `apiKeys` are placeholders.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..integration.connectwise import (
    DEFAULT_CODEBASE,
    ConnectWiseClient,
    ConnectWiseError,
    NotFound,
    PermissionDenied,
    company_info,
    site_root,
)
from ..simulator.connectwise.collections import ALL_COLLECTIONS
from ..simulator.connectwise.fields import Ref
from ..simulator.connectwise.model import Collection
from ..simulator.connectwise.tenant_sections import SectionPlan

# The placeholder key pair a captured tenant is served with (the source's keys are never written).
CAPTURED_PUBLIC_KEY = "captured-public"
CAPTURED_PRIVATE_KEY = "captured-private"
CAPTURED_API_MEMBER = "cwsim-capture"
# Field names whose values are secrets in ConnectWise (write-only there): never copied.
SECRET_WORDS = ("password", "secret", "privatekey", "token", "apikey")
MEMBERS = "system/members"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Part:
    """A collection to capture whole, with the child collections read under each of its records."""

    table: str
    children: tuple[str, ...] = ()
    optional: bool = True  # a 403/404 skips it with a note instead of failing the capture


# What a captured tenant holds, in the order the tables are read (references point back).
SETUP_PARTS: tuple[Part, ...] = (
    Part("system/myCompany/corporateStructureLevels"),
    Part("system/locations"),
    Part("system/departments"),
    Part("system/members", optional=False),
    Part("system/integratorlogins"),
    Part("service/priorities"),
    Part("service/sources"),
    Part("company/companies/statuses"),
    Part("company/companies/types"),
    Part("service/boards", children=("statuses", "types", "subtypes", "items", "teams")),
    Part("company/configurations/types", children=("questions",)),
    Part("company/configurations/statuses"),
    Part("project/projectTypes"),
    Part("finance/agreements/types"),
    Part("procurement/catalog"),
    Part("company/managedDevicesIntegrations", children=("crossReferences", "logins", "notifications")),
)
COMPANIES = "company/companies"
# What a captured company brings along: records that refer to it, read by `company/id`.
COMPANY_RELATED: tuple[Part, ...] = (
    Part("company/contacts"),
    Part("company/configurations"),
    Part("finance/agreements", children=("additions", "configurations")),
)


class CaptureError(RuntimeError):
    """The capture cannot go on; the message is one line for the user."""


@dataclass
class CaptureReport:
    """What was read: records per section, and what could not be carried over."""

    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # sections the keys may not read
    dropped: dict[str, set[str]] = field(default_factory=dict)  # table -> fields left out


def is_secret_field(name: str, value: Any) -> bool:
    """A field that holds a secret (a password, a key; text, not a flag about one): never captured."""
    if not isinstance(value, str):
        return False
    folded = name.casefold().replace("_", "")
    return any(word in folded for word in SECRET_WORDS)


def client_for(site: str, info: dict[str, Any], credentials: Any, client_id: str, **options: Any) -> ConnectWiseClient:
    """A client for the codebase the site's companyinfo advertised (ConnectWise's default when it did not)."""
    codebase = str(info.get("Codebase") or DEFAULT_CODEBASE).strip("/ ") + "/"
    return ConnectWiseClient(f"{site_root(site)}/{codebase}apis/3.0", credentials, client_id, **options)


class Capture:
    """Reads one ConnectWise's setup (and optionally its first companies) into a tenant document."""

    def __init__(
        self,
        client: ConnectWiseClient,
        company_id: str,
        info: dict[str, Any],
        companies: int = 0,
        progress: Progress = lambda line: None,
    ) -> None:
        self.client = client
        self.company_id = company_id
        self.info = info
        self.companies = companies
        self.progress = progress
        self.plan = SectionPlan(ALL_COLLECTIONS)
        self.report = CaptureReport()
        self.captured: set[str] = set()  # tables the file fills (references into them are kept)
        self.ids: dict[str, dict[int, int]] = {}  # table -> source id -> id in file order
        self.texts: dict[str, set[str]] = {}  # table -> every text of its captured records (what a name may be)
        self.references: list[tuple[str, dict[str, Any], str, str]] = []  # (table, entry, field, target)

    # -- the document ---------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """The tenant document: settings, then a section per captured collection."""
        document: dict[str, Any] = {"settings": {}}
        self.captured = {part.table for part in SETUP_PARTS}
        self.captured |= {self._child(part.table, name).table for part in SETUP_PARTS for name in part.children}
        if self.companies:
            self.captured |= {COMPANIES, *(part.table for part in COMPANY_RELATED)}
            self.captured |= {self._child(part.table, name).table for part in COMPANY_RELATED for name in part.children}
        for part in SETUP_PARTS:
            entries = self._read_part(part, self._records(part, self._path(part.table)))
            if entries:
                document[self.plan.aliases[part.table]] = entries
        if self.companies:
            document["companies"] = self._read_companies()
        self._drop_dangling_references()
        document["settings"] = self._settings(document.get("members", []))
        if not any(
            member.get("identifier") == document["settings"]["apiKeys"][0]["member"]
            for member in document.get("members", [])
        ):
            document.setdefault("members", []).append(
                {"identifier": CAPTURED_API_MEMBER, "firstName": "cwsim", "lastName": "capture", "licenseClass": "X"}
            )
        return {"settings": document.pop("settings"), **document}

    def _settings(self, members: list[dict[str, Any]]) -> dict[str, Any]:
        api_members = [m["identifier"] for m in members if m.get("licenseClass") == "X" and m.get("identifier")]
        settings: dict[str, Any] = {
            "companyId": self.company_id,
            "companyName": self.info.get("CompanyName") or self.company_id,
        }
        if self.info.get("Codebase"):
            settings["codebase"] = str(self.info["Codebase"]).strip("/ ") + "/"
        version = self._version()
        if version:
            settings["version"] = version
        member = api_members[0] if api_members else CAPTURED_API_MEMBER
        settings["apiKeys"] = [{"publicKey": CAPTURED_PUBLIC_KEY, "privateKey": CAPTURED_PRIVATE_KEY, "member": member}]
        return settings

    def _version(self) -> str | None:
        try:
            info = self.client.get("system/info")
        except (PermissionDenied, NotFound):
            return self.info.get("VersionNumber")
        return info.get("version") if isinstance(info, dict) else None

    # -- reading --------------------------------------------------------------------------

    def _collection(self, table: str) -> Collection:
        return self.plan.by_table[table]

    def _child(self, table: str, name: str) -> Collection:
        nesting = self.plan.nestings(self._collection(table)).get(name)
        if nesting is None:
            raise ValueError(f"{table} has no child collection {name}")
        return nesting.collection

    def _path(self, table: str, parent_id: int | None = None) -> str:
        path = self._collection(table).path
        return path.replace("{parentId}", str(parent_id)) if parent_id is not None else path

    def _records(self, part: Part, path: str, **options: Any) -> Iterator[dict[str, Any]]:
        """The records of a list path in id order; a part the keys may not read is skipped, with a note."""
        try:
            yield from self.client.iterate(path, order_by="id asc", **options)
        except (PermissionDenied, NotFound) as error:
            if not part.optional:
                raise
            self.report.skipped.append(f"{path} ({error.status})")
            self.progress(f"{path}: skipped, the keys may not read it ({error.status})")

    def _read_part(self, part: Part, records: Iterator[dict[str, Any]], link: str | None = None) -> list[dict]:
        return [entry for _, entry in self._read_rows(part, records, link)]

    def _read_rows(
        self, part: Part, records: Iterator[dict[str, Any]], link: str | None = None
    ) -> list[tuple[Any, dict[str, Any]]]:
        """(source id, entry) for each record, its child collections read and nested."""
        collection = self._collection(part.table)
        rows = list(records)
        ids = self.ids.setdefault(part.table, {})
        entries = []
        for record in rows:
            if isinstance(record.get("id"), int):
                ids[record["id"]] = len(ids) + 1
            self.texts.setdefault(part.table, set()).update(_names_of(record))
            entry = self.entry(collection, record, link)
            for name in part.children:
                child = self._child(part.table, name)
                child_part = Part(child.table)
                children = self._read_part(
                    child_part,
                    self._records(child_part, self._path(child.table, record["id"])),
                    link=child.parent.field if child.parent else None,
                )
                if children:
                    entry[name] = children
            entries.append((record.get("id"), entry))
        self.report.counts[part.table] = self.report.counts.get(part.table, 0) + len(rows)
        if link is None:
            self.progress(f"{part.table}: {len(rows)}")
        return entries

    def _drop_dangling_references(self) -> None:
        """Leave out references to records the file does not hold (a vendor past the first N companies)."""
        for table, entry, name, target in self.references:
            reference = entry.get(name)
            if not isinstance(reference, dict):
                continue
            if "id" in reference:
                present = reference["id"] in self.ids.get(target, {}).values()
            else:
                wanted = str(reference.get("identifier") or reference.get("name")).casefold()
                present = wanted in self.texts.get(target, set())
            if not present:
                del entry[name]
                self.report.dropped.setdefault(table, set()).add(name)

    def _read_companies(self) -> list[dict[str, Any]]:
        part = Part(COMPANIES, optional=False)
        size = min(self.companies, self.client.page_size)
        records = itertools.islice(self._records(part, COMPANIES, page_size=size), self.companies)
        companies = self._read_rows(part, records)
        for source_id, entry in companies:
            for related in COMPANY_RELATED:
                nesting = self.plan.section(related.table)
                records = self._records(related, related.table, conditions=f"company/id={source_id}")
                children = self._read_part(related, records, link="company")
                if children and nesting:
                    entry[nesting] = children
        counts = ", ".join(f"{p.table} {self.report.counts.get(p.table, 0)}" for p in COMPANY_RELATED)
        self.progress(f"companies: {len(companies)} ({counts})")
        return [entry for _, entry in companies]

    # -- one record -----------------------------------------------------------------------

    def entry(self, collection: Collection, record: dict[str, Any], link: str | None = None) -> dict[str, Any]:
        """The tenant entry for an API record: the writable fields, references by name."""
        entry: dict[str, Any] = {}
        if collection.link_field is not None:  # a link row (a configuration of an agreement) names its target
            return self._link_entry(collection, record)
        for name, value in record.items():
            if name in ("id", "_info") or name == link or value is None:
                continue
            schema_field = collection.loader.fields.get(name)
            secret = is_secret_field(name, value)
            if schema_field is None or schema_field.dump_only or secret:
                if schema_field is None or secret:
                    self.report.dropped.setdefault(collection.table, set()).add(name)
                continue
            if isinstance(schema_field, Ref):
                value = self._reference(schema_field, value)
                if value is None:
                    self.report.dropped.setdefault(collection.table, set()).add(name)
                    continue
                self.references.append((collection.table, entry, name, schema_field.target))
            entry[name] = _without_info(value)
        return entry

    def _link_entry(self, collection: Collection, record: dict[str, Any]) -> dict[str, Any]:
        target = collection.refs[collection.link_field].target  # type: ignore[index]
        if record.get("deviceIdentifier"):
            return {"deviceIdentifier": record["deviceIdentifier"]}
        return {"id": self.ids.get(target, {}).get(record.get("id"), record.get("id"))}

    def _reference(self, ref: Ref, value: Any) -> dict[str, Any] | None:
        """A reference the tenant file resolves: by identifier or name, else by its id in file order."""
        if not isinstance(value, dict) or ref.target not in self.captured:
            return None
        target = self._collection(ref.target)
        if value.get("identifier") and "identifier" in target.loader.fields:
            return {"identifier": value["identifier"]}
        if value.get("name"):
            return {"name": value["name"]}
        source_id = value.get("id")
        mapped = self.ids.get(ref.target, {}).get(source_id) if isinstance(source_id, int) else None
        return {"id": mapped} if mapped is not None else None


def _names_of(record: dict[str, Any]) -> set[str]:
    """What a reference may name a record by: any of its texts, and a person's full name (casefolded)."""
    names = {value.casefold() for value in record.values() if isinstance(value, str)}
    first, last = record.get("firstName"), record.get("lastName")
    if isinstance(first, str) and isinstance(last, str):
        names.add(f"{first} {last}".casefold())
    return names


def _without_info(value: Any) -> Any:
    """A value with every `_info` (hrefs, stamps of the source) left out."""
    if isinstance(value, dict):
        return {key: _without_info(item) for key, item in value.items() if key != "_info"}
    if isinstance(value, list):
        return [_without_info(item) for item in value]
    return value


def capture(
    site: str,
    company_id: str,
    credentials: Any,
    client_id: str,
    *,
    companies: int = 0,
    page_size: int = 1000,
    progress: Progress = lambda line: None,
) -> tuple[dict[str, Any], CaptureReport]:
    """Capture a site's tenant; raises CaptureError (one line) when it cannot."""
    try:
        info = company_info(site, company_id)
    except ConnectWiseError as error:
        raise CaptureError(f"cannot reach {site}: {error.message}") from error
    client = client_for(site, info, credentials, client_id, page_size=page_size)
    progress(f"capturing {client.api_url} (company {company_id})")
    with client:
        run = Capture(client, company_id, info, companies, progress)
        try:
            document = run.run()
        except ConnectWiseError as error:
            raise CaptureError(str(error)) from error
    return document, run.report
