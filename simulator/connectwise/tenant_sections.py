"""Which tenant-file section fills which declared collection, and what may nest in an entry.

Nothing here lists collections: names come from the declarations. A top-level collection's
section is named after its path (`company/companies` -> `companies`,
`company/configurations/types` -> `configurationTypes`, `system/integratorlogins` ->
`integratorLogins`); its full table path works too. Inside an entry, a key may hold entries
of another collection that belongs to it:
- a child collection (`statuses` of a board, `notes` of a ticket, `additions` of an agreement);
- a collection that refers to it (`contacts` under a company: each gets `company` set).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .model import Collection

RESERVED = frozenset({"settings", "stubs"})  # a tenant file's own sections


@dataclass(frozen=True)
class Nesting:
    """A key of an entry that holds entries of another collection, and how they attach."""

    name: str
    collection: Collection
    ref_field: str | None  # None: a child collection, created under the parent's id


def _camel(words: list[str]) -> str:
    return words[0] + "".join(word[:1].upper() + word[1:] for word in words[1:])


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") else word


def section_name(collection: Collection) -> str:
    """The name a tenant file gives the collection's entries."""
    literal = [part for part in collection.path.split("/") if not part.startswith("{")]
    if collection.parent is not None:
        return literal[-1]
    words = literal[1:] or literal
    name = _camel([_singular(word) for word in words[:-1]] + [words[-1]])
    plural_resource = collection.resource + "s"
    return plural_resource if plural_resource.casefold() == name.casefold() else name


class SectionPlan:
    """The sections and nestings the declared collections allow."""

    def __init__(self, collections: Iterable[Collection]) -> None:
        self.collections = list(collections)
        self.position = {collection.table: index for index, collection in enumerate(self.collections)}
        self.by_table = {collection.table: collection for collection in self.collections}
        self.sections: dict[str, Collection] = {}
        self.aliases: dict[str, str] = {}
        self._children: dict[str, list[Collection]] = {}
        self._names = {collection.table: section_name(collection) for collection in self.collections}
        # Who refers to whom, found once: an entry's nestings are asked for once per entry schema.
        self._referrers: dict[str, list[tuple[Collection, str]]] = {}
        for other in self.collections:
            if other.parent is not None:
                continue
            for target in {ref.target for ref in other.refs.values()}:
                ref_field = self._ref_to(other, target, self.by_table.get(target))
                if ref_field is not None:
                    self._referrers.setdefault(target, []).append((other, ref_field))
        for collection in self.collections:
            if collection.parent is not None:
                self._children.setdefault(collection.parent.collection, []).append(collection)
                continue
            name = self._names[collection.table]
            if (name in self.sections or name in RESERVED) and collection.schema is None:
                # A generated collection never takes a name from another: `time/entries` -> `timeEntries`.
                name = collection.path.split("/")[0] + name[:1].upper() + name[1:]
                if name in self.sections or name in RESERVED:
                    name = collection.table  # still clashing: its table path names it
            if name in self.sections:
                raise ValueError(
                    f'collections {self.sections[name].table} and {collection.table} would both be section "{name}"'
                )
            self.sections[name] = collection
            self.aliases[collection.table] = name

        for parent, children in self._children.items():
            # A board's `teams` are `service/boards/{id}/teams`, not `project/boards/{id}/teams`, which
            # also hangs under a service board: a child under its parent's own path takes the name first.
            children.sort(key=lambda child: not child.table.startswith(parent + "/"))

    def section(self, key: str) -> str | None:
        """The canonical section name for a top-level key (a name or a table path), if any."""
        if key in self.sections:
            return key
        return self.aliases.get(key)

    def nestings(self, collection: Collection, chain: tuple[str, ...] = ()) -> dict[str, Nesting]:
        """What may nest in an entry of `collection`; `chain` holds the tables above it (no loops)."""
        fields = collection.loader.fields
        seen = {*chain, collection.table}
        nestings: dict[str, Nesting] = {}
        for child in self._children.get(collection.table, []):
            name = self._names[child.table]
            if name not in fields and name not in nestings:
                nestings[name] = Nesting(name, child, None)
        for other, ref_field in self._referrers.get(collection.table, []):
            name = self._names[other.table]
            if other.table not in seen and name not in fields and name not in nestings:
                nestings[name] = Nesting(name, other, ref_field)
        return nestings

    @staticmethod
    def _ref_to(other: Collection, table: str, parent: Collection | None) -> str | None:
        """The one writable reference of `other` to `table` (or the one named after the parent's resource)."""
        refs = [name for name, ref in other.refs.items() if ref.target == table and not ref.dump_only]
        if len(refs) == 1:
            return refs[0]
        if parent is not None and parent.resource in refs:
            return parent.resource
        return None
