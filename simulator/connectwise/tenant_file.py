"""Tenant files: a whole ConnectWise tenant in YAML, loaded through the collections' own schemas and rules.

A file has `settings` (identity, codebase, API keys, default board), one section per
declared collection (see tenant_sections.py), entries referring to each other by name or
identifier, and optionally `stubs` (exact answers pinned ahead of the fake's: simulator/stubs.py).
Loading checks the file's shape first (marshmallow, every problem at once), then creates each
entry with `backend.create`, so the fake accepts exactly what its API would. Any problem names
the file, the line, the entry and the field.
"""

from __future__ import annotations

import difflib
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields

from ..clock import Clock
from ..located_yaml import LocatedDict, LocatedYamlError, load_located, plain, where_at
from ..stub_schema import stub_problems
from ..stubs import StubSpec
from .auth import SYSTEM
from .backend import Backend
from .collections import ALL_COLLECTIONS as COLLECTIONS
from .errors import CwError, flatten_messages
from .model import Collection
from .settings import ApiKeySchema, FileSettingsSchema, settings_from
from .tenant_sections import SectionPlan

BUILTIN_DIRECTORY = Path(__file__).resolve().parent.parent / "tenants"
BUILTIN_NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
BOARDS = "service/boards"
MEMBERS = "system/members"
SETTINGS = "settings"
STUBS = "stubs"
BASE = "base"


@dataclass(frozen=True)
class TenantProblem:
    """One thing wrong with a tenant: where (file, line, entry) and what."""

    source: str
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        location = f"{self.source}:{self.line}" if self.line else self.source
        return f"{location}: {self.where}: {self.message}" if self.where else f"{location}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "where": self.where, "message": self.message}


class TenantFileError(ValueError):
    """A tenant that cannot be loaded; `problems` holds each thing wrong, in file order."""

    def __init__(self, problems: list[TenantProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class TenantSource:
    """A tenant file's text and the name its errors use.

    `directory` is where a relative `base:` is found; None allows only built-in bases (a tenant
    posted to the admin API must not read the server's files).
    """

    text: str
    name: str
    directory: Path | None = None
    identity: str = ""  # what tells two sources apart (a resolved path), for cycles of `base:`

    @property
    def key(self) -> str:
        return self.identity or self.name


def builtin_tenants() -> list[str]:
    """Names of the tenant files shipped with cwsim (`cwsim serve --tenant NAME`)."""
    return sorted(path.stem for path in BUILTIN_DIRECTORY.glob("*.yaml"))


def tenant_source(name_or_path: str | Path, directory: Path | None = Path(), allow_paths: bool = True) -> TenantSource:
    """A tenant by path (relative to `directory`) or by built-in name; a clear error when neither exists."""
    text = str(name_or_path)
    if allow_paths and directory is not None:
        path = directory / text
        if path.is_file():
            try:
                return TenantSource(path.read_text(encoding="utf-8"), text, path.parent, str(path.resolve()))
            except (OSError, UnicodeDecodeError) as error:
                raise TenantFileError([TenantProblem(text, None, "", f"cannot read it: {error}")]) from error
    if set(text) <= BUILTIN_NAME_CHARACTERS and (BUILTIN_DIRECTORY / f"{text}.yaml").is_file():
        builtin = BUILTIN_DIRECTORY / f"{text}.yaml"
        return TenantSource(builtin.read_text(encoding="utf-8"), f"tenants/{text}.yaml", None, str(builtin))
    kind = "no such file, and no" if allow_paths else "no"
    known = ", ".join(builtin_tenants())
    raise TenantFileError([TenantProblem(text, None, "", f"{kind} built-in tenant of that name (built in: {known})")])


def load_tenant_file(name_or_path: str | Path, clock: Clock | None = None) -> Backend:
    """Load a tenant file by path or built-in name; raises TenantFileError."""
    return load_tenant(tenant_source(name_or_path), clock)


def load_tenant(
    source: TenantSource, clock: Clock | None = None, collections: Iterable[Collection] = COLLECTIONS
) -> Backend:
    """A new backend holding the tenant `source` describes; raises TenantFileError."""
    plan = _plan(collections)
    document = _Documents(plan).resolve(source, ())
    _Shape(plan, document).check()
    return _Builder(plan, document, clock).build()


_PLANS: dict[tuple[int, ...], tuple[list[Collection], SectionPlan]] = {}


def _plan(collections: Iterable[Collection]) -> SectionPlan:
    """The plan of these declarations, made once per process: making one costs more than loading a file."""
    declared = list(collections)
    key = tuple(map(id, declared))
    if key not in _PLANS:
        if len(_PLANS) >= 8:
            _PLANS.pop(next(iter(_PLANS)))
        _PLANS[key] = (declared, SectionPlan(declared))  # the list keeps the ids in the key alive
    return _PLANS[key][1]


# -- reading and merging files ------------------------------------------------------------------


class _Documents:
    """Parses a file and the chain of `base:` files it builds on; sections of a file replace its base's."""

    def __init__(self, plan: SectionPlan) -> None:
        self.plan = plan

    def resolve(self, source: TenantSource, seen: tuple[str, ...]) -> LocatedDict:
        try:
            document = load_located(source.text, source.name)
        except LocatedYamlError as error:
            raise TenantFileError([TenantProblem(p.source, p.line, "", p.message) for p in error.problems]) from error
        if not isinstance(document, LocatedDict):
            line = getattr(document, "line", 1)
            raise TenantFileError(
                [TenantProblem(source.name, line, "", "a tenant file is a mapping: settings, then sections")]
            )
        document = self._canonical(document)
        base = document.pop(BASE, None)
        if base is None:
            return document
        line = document.line_of(BASE)
        if not isinstance(base, str) or not base:
            message = "must name a tenant file or a built-in tenant"
            raise TenantFileError([TenantProblem(source.name, line, BASE, message)])
        try:
            base_source = tenant_source(base, source.directory, allow_paths=source.directory is not None)
        except TenantFileError as error:
            raise TenantFileError([TenantProblem(source.name, line, BASE, error.problems[0].message)]) from error
        if base_source.key in (*seen, source.key):
            message = f"{base} builds on this file again (a cycle of base: files)"
            raise TenantFileError([TenantProblem(source.name, line, BASE, message)])
        parent = self.resolve(base_source, (*seen, source.key))
        merged = LocatedDict()
        merged.source, merged.line = document.source, document.line
        for layer in (parent, document):
            for key, value in layer.items():
                merged.pop(key, None)
                merged.put(key, value, layer.line_of(key), layer.source_of(key))
        return merged

    def _canonical(self, document: LocatedDict) -> LocatedDict:
        """Top-level keys with table paths (`company/companies`) renamed to section names."""
        renamed = LocatedDict()
        renamed.source, renamed.line = document.source, document.line
        problems = []
        for key, value in document.items():
            name = self.plan.section(key) if isinstance(key, str) else None
            name = name or key
            if name in renamed:
                problems.append(
                    TenantProblem(document.source, document.line_of(key), str(key), f'"{name}" is given twice')
                )
            renamed.put(name, value, document.line_of(key), document.source_of(key))
        if problems:
            raise TenantFileError(problems)
        return renamed


# -- the shape, checked with marshmallow ------------------------------------------------------


def _refuse(message: str) -> Any:
    def validator(value: Any) -> None:
        raise ValidationError(message)

    return validator


class _FileSchemaBuilder:
    """Builds the marshmallow schema of a whole tenant file: one schema per (collection, link, chain)."""

    def __init__(self, plan: SectionPlan) -> None:
        self.plan = plan
        self._entry_schemas: dict[tuple[str, str | None, tuple[str, ...]], Schema] = {}

    def build(self) -> Schema:
        declared: dict[str, fields.Field] = {
            SETTINGS: fields.Nested(FileSettingsSchema, required=True),
            STUBS: fields.List(fields.Raw()),  # each stub is checked by the stubs' own schema (_Shape)
        }
        for name, collection in self.plan.sections.items():
            declared[name] = fields.List(fields.Nested(self._entry(collection, None, ())))
        return Schema.from_dict(declared, name="TenantFile")()

    def _entry(self, collection: Collection, link_field: str | None, chain: tuple[str, ...]) -> Any:
        key = (collection.table, link_field, chain)
        if key not in self._entry_schemas:
            declared: dict[str, fields.Field] = {}
            for name, schema_field in collection.loader.fields.items():
                if name == link_field:
                    declared[name] = fields.Raw(allow_none=True, validate=_refuse("is set by the entry it is under."))
                elif name == "id" and schema_field.dump_only:
                    declared[name] = fields.Raw(
                        allow_none=True,
                        validate=_refuse("ids are given in file order; refer to records by name or identifier."),
                    )
                elif schema_field.dump_only:
                    declared[name] = fields.Raw(allow_none=True, validate=_refuse("is set by the fake."))
                else:
                    declared[name] = fields.Raw(allow_none=True)
            inner = (*chain, collection.table)
            for nesting in self.plan.nestings(collection, chain).values():
                declared[nesting.name] = fields.List(
                    fields.Nested(self._lazy(nesting.collection, nesting.ref_field, inner))
                )
            self._entry_schemas[key] = Schema.from_dict(declared, name=f"{collection.resource}Entry")()
        return self._entry_schemas[key]

    def _lazy(self, collection: Collection, link_field: str | None, chain: tuple[str, ...]) -> Any:
        return lambda: self._entry(collection, link_field, chain)


_FILE_SCHEMAS: weakref.WeakKeyDictionary[SectionPlan, Schema] = weakref.WeakKeyDictionary()


def _file_schema(plan: SectionPlan) -> Schema:
    """The marshmallow schema of a whole file under `plan`, built once per plan (it has a schema per section)."""
    if plan not in _FILE_SCHEMAS:
        _FILE_SCHEMAS[plan] = _FileSchemaBuilder(plan).build()
    return _FILE_SCHEMAS[plan]


class _Shape:
    """The file's shape: settings, known sections, entries as mappings, known fields. All problems at once."""

    def __init__(self, plan: SectionPlan, document: LocatedDict) -> None:
        self.plan = plan
        self.document = document

    def check(self) -> None:
        errors = _file_schema(self.plan).validate(self.document)
        problems = [self._problem(list(path), message) for path, message in flatten_messages(errors)]
        problems += self._stub_problems()
        if problems:
            raise TenantFileError(sorted(problems, key=lambda p: (p.source, p.line or 0)))

    def _stub_problems(self) -> list[TenantProblem]:
        """Each bad field of each stub, at its line (`stubs[0]: match.path: ...`)."""
        entries = self.document.get(STUBS)
        problems = []
        first_with_id: dict[str, int] = {}
        for index, entry in enumerate(entries if isinstance(entries, list) else ()):
            stub_id = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(stub_id, str) and stub_id in first_with_id:
                source, line = where_at(self.document, [STUBS, index, "id"])
                message = f'id: "{stub_id}" is already the id of stubs[{first_with_id[stub_id]}]'
                problems.append(TenantProblem(source, line, f"{STUBS}[{index}]", message))
            elif isinstance(stub_id, str):
                first_with_id[stub_id] = index
            for problem in stub_problems(plain(entry))[1]:
                path = [STUBS, index, *(part for part in problem.field.split(".") if part != "stub")]
                source, line = where_at(self.document, path)
                text = f"{problem.field}: {problem.message}" if problem.field != "stub" else problem.message
                problems.append(TenantProblem(source, line, f"{STUBS}[{index}]", text))
        return problems

    def _problem(self, path: list[Any], message: str) -> TenantProblem:
        source, line = where_at(self.document, path)
        where, field_path, known = self._locate(path)
        if message == "Unknown field.":
            unknown = str(path[-1])
            if not where:
                message = f'unknown section "{unknown}"{_suggest(unknown, known)}'
                field_path = ""
            else:
                message = f"unknown field{_suggest(unknown, known)}"
        else:
            message = MESSAGES.get(message, message)
        text = f"{field_path}: {message}" if field_path else message
        return TenantProblem(source, line, where, text)

    def _locate(self, path: list[Any]) -> tuple[str, str, list[str]]:
        """(entry label, field path within it, the keys allowed where the path ends)."""
        if not path:
            return "", "", []
        if path[0] == SETTINGS:
            known = list(ApiKeySchema().fields) if len(path) > 3 else list(FileSettingsSchema().fields)
            return SETTINGS, _path_text(path[1:]), known
        collection = self.plan.sections.get(path[0])
        if collection is None or len(path) < 2 or not isinstance(path[1], int):
            return "", _path_text(path), [SETTINGS, STUBS, *self.plan.sections]
        entries: Any = self.document.get(path[0])
        label = _label(collection, entries, path[0], path[1], "")
        entry = _at(entries, path[1])
        chain: tuple[str, ...] = ()
        rest = path[2:]
        while True:
            nestings = self.plan.nestings(collection, chain)
            if len(rest) >= 2 and rest[0] in nestings and isinstance(rest[1], int):
                children = entry.get(rest[0]) if isinstance(entry, dict) else None
                chain = (*chain, collection.table)
                collection = nestings[rest[0]].collection
                label = _label(collection, children, rest[0], rest[1], label + ".")
                entry = _at(children, rest[1])
                rest = rest[2:]
                continue
            return label, _path_text(rest), [*collection.loader.fields, *nestings]


def _at(entries: Any, index: int) -> Any:
    return entries[index] if isinstance(entries, list) and 0 <= index < len(entries) else None


MESSAGES = {
    "Not a valid list.": "must be a list of entries, each starting with -.",
    "Invalid input type.": "must be a mapping of field: value.",
    "Missing data for required field.": "is required.",
}


def _path_text(path: Iterable[Any]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _suggest(given: str, known: Iterable[str]) -> str:
    folded = {name.casefold(): name for name in known}
    close = difflib.get_close_matches(given.casefold(), list(folded), n=1, cutoff=0.6)
    return f'; did you mean "{folded[close[0]]}"?' if close else ""


def _label(collection: Collection, entries: Any, section: str, index: int, prefix: str) -> str:
    """`companies[3] ("Acme")`: the entry's position and the name a reference would use."""
    entry = _at(entries, index)
    name = None
    if isinstance(entry, dict):
        try:
            shown = collection.describe(entry)
        except (TypeError, ValueError, AttributeError):
            shown = {}
        name = next((value for value in shown.values() if isinstance(value, str) and value.strip()), None)
    return f"{prefix}{section}[{index}]" + (f' ("{name}")' if name else "")


# -- building the backend -----------------------------------------------------------------------


@dataclass
class _Deferred:
    """A reference to a record made later in the file, set once everything is made."""

    collection: Collection
    record_id: int
    parent_id: int | None
    field: str
    value: Any
    entry: LocatedDict
    label: str


class _Builder:
    """Creates every entry, in an order where references point back, through `backend.create`."""

    def __init__(self, plan: SectionPlan, document: LocatedDict, clock: Clock | None) -> None:
        self.plan = plan
        self.document = document
        self.clock = clock
        self.problems: list[TenantProblem] = []
        self.deferred: list[_Deferred] = []
        self.pending: set[str] = set()

    def build(self) -> Backend:
        loaded = FileSettingsSchema().load(self.document[SETTINGS])
        self.backend = Backend(self.plan.collections, clock=self.clock, settings=settings_from(loaded))
        order = self._order()
        tables = {name: self._tables(self.plan.sections[name], self.document[name], ()) for name in order}
        for position, name in enumerate(order):
            self.pending = set().union(*(tables[later] for later in order[position:]))
            collection = self.plan.sections[name]
            for index, entry in enumerate(self.document[name]):
                self._create(collection, entry, (), _label(collection, self.document[name], name, index, ""))
            if self.problems:
                raise TenantFileError(self.problems)
        self._set_deferred()
        self._resolve_settings(loaded)
        if self.problems:
            raise TenantFileError(self.problems)
        self.backend.stubs = _stubs(self.document.get(STUBS) or [])
        return self.backend

    def _present(self) -> list[str]:
        return [name for name in self.plan.sections if self.document.get(name)]

    def _tables(self, collection: Collection, entries: list[Any], chain: tuple[str, ...]) -> set[str]:
        """The tables a section's entries fill, nested ones included."""
        tables = {collection.table}
        nestings = self.plan.nestings(collection, chain)
        for entry in entries:
            for key, value in entry.items():
                if key in nestings and value:
                    tables |= self._tables(nestings[key].collection, value, (*chain, collection.table))
        return tables

    def _order(self) -> list[str]:
        """Sections after those they refer to.

        In a cycle (members and boards refer to each other), a section of the cycle goes first whose
        required references are met (its other ones are set at the end); declaration order decides
        among equals. A section only waiting for a cycle is never picked ahead of it.
        """
        present = self._present()
        tables = {name: self._tables(self.plan.sections[name], self.document[name], ()) for name in present}
        needs: dict[str, set[str]] = {}
        hard_needs: dict[str, set[str]] = {}
        for name in present:
            for found, required_only in ((needs, False), (hard_needs, True)):
                targets = {t for table in tables[name] for t in _targets(self.plan.by_table[table], required_only)}
                targets -= tables[name]
                found[name] = {other for other in present if other != name and tables[other] & targets}
        order: list[str] = []
        remaining = sorted(present, key=lambda n: self.plan.position[self.plan.sections[n].table])
        while remaining:
            done = set(order)
            ready = [name for name in remaining if not (needs[name] - done)]
            cyclic = [name for name in remaining if _needs_itself(name, needs, done)]
            startable = [name for name in cyclic if not (hard_needs[name] - done)]
            chosen = (ready or startable or cyclic or remaining)[0]
            order.append(chosen)
            remaining.remove(chosen)
        return order

    def _create(
        self,
        collection: Collection,
        entry: LocatedDict,
        chain: tuple[str, ...],
        label: str,
        parent_id: int | None = None,
        link: tuple[str, int] | None = None,
    ) -> None:
        nestings = self.plan.nestings(collection, chain)
        body = {key: plain(value) for key, value in entry.items() if key not in nestings}
        if link is not None:
            body[link[0]] = {"id": link[1]}
        later = {}
        for name, ref in collection.refs.items():
            required = collection.loader.fields[name].required
            is_link = link is not None and name == link[0]
            if body.get(name) is not None and not is_link and not required and ref.target in self.pending:
                later[name] = body.pop(name)
        try:
            record = self.backend.create(collection, body, SYSTEM, parent_id)
        except CwError as error:
            self.problems.extend(_record_problems(error, entry, label))
            return
        for name, value in later.items():
            self.deferred.append(_Deferred(collection, record["id"], parent_id, name, value, entry, label))
        inner = (*chain, collection.table)
        for key, value in entry.items():
            nesting = nestings.get(key)
            for index, child in enumerate(value if nesting is not None else ()):
                child_label = _label(nesting.collection, value, key, index, label + ".")
                if nesting.ref_field is None:
                    self._create(nesting.collection, child, inner, child_label, parent_id=record["id"])
                else:
                    self._create(nesting.collection, child, inner, child_label, link=(nesting.ref_field, record["id"]))

    def _set_deferred(self) -> None:
        for later in self.deferred:
            operation = [{"op": "replace", "path": later.field, "value": later.value}]
            try:
                self.backend.patch(later.collection, later.record_id, operation, SYSTEM, later.parent_id)
            except CwError as error:
                self.problems.extend(_record_problems(error, later.entry, later.label))

    def _resolve_settings(self, loaded: dict[str, Any]) -> None:
        """The default board by name, and each API key's member, once the records exist."""
        settings_entry = self.document[SETTINGS]
        store = self.backend.store
        board = loaded.get("defaultBoard")
        if board is not None and BOARDS in store.tables:
            boards = store.table(BOARDS).records.values()
            ids = [r["id"] for r in boards if str(r.get("name")).casefold() == board.casefold()]
            if len(ids) == 1:
                self.backend.settings.default_board_id = ids[0]
            else:
                self._settings_problem(settings_entry, ["defaultBoard"], f'defaultBoard: no board is named "{board}".')
        if MEMBERS in store.tables:
            for index, key in enumerate(self.backend.settings.api_keys):
                if not store.table(MEMBERS).lookup("identifier", key.member_identifier):
                    self._settings_problem(
                        settings_entry,
                        ["apiKeys", index, "member"],
                        f'apiKeys[{index}].member: no member has identifier "{key.member_identifier}" '
                        "(add it under members).",
                    )

    def _settings_problem(self, entry: LocatedDict, path: list[Any], message: str) -> None:
        source, line = where_at(entry, path)
        self.problems.append(TenantProblem(source, line, SETTINGS, message))


def _stubs(entries: list[Any]) -> tuple[StubSpec, ...]:
    """The stubs of a file whose shape was checked."""
    found = (stub_problems(plain(entry))[0] for entry in entries)
    return tuple(spec for spec in found if spec is not None)


def _needs_itself(name: str, needs: dict[str, set[str]], done: set[str]) -> bool:
    """Whether a section waits, through sections not yet made, on itself (it is in a cycle)."""
    seen: set[str] = set()
    frontier = [*(needs[name] - done)]
    while frontier:
        other = frontier.pop()
        if other == name:
            return True
        if other not in seen:
            seen.add(other)
            frontier.extend(needs[other] - done)
    return False


def _targets(collection: Collection, required_only: bool = False) -> set[str]:
    """The tables a collection's records refer to (a link collection's linked table included)."""
    return {
        ref.target
        for name, ref in collection.refs.items()
        if (not ref.dump_only or name == collection.link_field) and (ref.required or not required_only)
    }


def _record_problems(error: CwError, entry: LocatedDict, label: str) -> list[TenantProblem]:
    """A refused record's ConnectWise errors, each at the line of its field."""
    if not error.errors:
        return [TenantProblem(entry.source, entry.line, label, error.message)]
    problems = []
    for item in error.errors:
        field = str(item.get("field") or "")
        path = [int(part) if part.isdigit() else part for part in field.split("/")] if field else []
        source, line = where_at(entry, path)
        problems.append(TenantProblem(source, line, label, _field_message(field, str(item.get("message", "")))))
    return problems


def _field_message(field: str, message: str) -> str:
    """`identifier: "ACME" is already in use.` from the fake's `identifier "ACME" is already in use.`"""
    if not field:
        return message
    rest = message
    for prefix in (f"{field}: ", f"{field} "):
        if message.startswith(prefix):
            rest = message[len(prefix) :]
            break
    return f"{field}: {'required, but missing.' if rest == 'is required.' else rest}"
