"""Collections whose records are computed from other tables: a ticket's `allNotes`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..clock import format_cw_datetime

if TYPE_CHECKING:
    from .backend import Backend

Record = dict[str, Any]
NOTES = "service/tickets/notes"
TICKETS = "service/tickets"
TIME_ENTRIES = "time/entries"
TICKET_CHARGES = frozenset({"ServiceTicket", "ProjectTicket"})
NOTE_FLAGS = ("detailDescriptionFlag", "internalAnalysisFlag", "resolutionFlag", "issueFlag")


def all_notes(backend: Backend, ticket_id: int | None) -> list[Record]:
    """A ticket's service notes and the notes of its time entries, as `ServiceTicketNote` records, oldest first;
    with the notes of the tickets merged into it (`mergedFlag`) or bundled under it (`bundledFlag`).

    Ids are the note's (service notes) or the time entry's; ConnectWise numbers both kinds apart, so
    the two never collide there, and here time-entry notes are offset past every service note id.
    """
    shown: list[Record] = []
    for source_id, merged, bundled in _note_sources(backend, ticket_id):
        shown += _ticket_notes(backend, ticket_id, source_id, merged, bundled)
    shown.sort(key=lambda record: (record.get("_dateEntered") is None, record.get("_dateEntered"), record["id"]))
    return shown


def _note_sources(backend: Backend, ticket_id: int | None) -> list[tuple[int | None, bool, bool]]:
    """The ticket itself, then each ticket merged into it or bundled under it: (id, merged, bundled)."""
    sources: list[tuple[int | None, bool, bool]] = [(ticket_id, False, False)]
    tickets = backend.store.tables.get(TICKETS)
    for other in tickets.records.values() if tickets is not None and ticket_id is not None else ():
        if other.get("mergedParentTicket") == ticket_id:
            sources.append((other["id"], True, False))
        elif other.get("parentTicketId") == ticket_id and other["id"] != ticket_id:
            sources.append((other["id"], False, True))
    return sources


def _ticket_notes(
    backend: Backend, ticket_id: int | None, source_id: int | None, merged: bool, bundled: bool
) -> list[Record]:
    store = backend.store
    notes = store.table(NOTES)
    offset = notes.next_id
    shown: list[Record] = []
    for note_id in sorted(notes.lookup("ticketId", source_id)):
        note = notes.records[note_id]
        shown.append(
            {
                **{flag: bool(note.get(flag)) for flag in NOTE_FLAGS},
                "id": note_id,
                "noteType": "TicketNote",
                "ticket": ticket_id,
                "text": note.get("text"),
                "member": note.get("member"),
                "contact": note.get("contact"),
                "bundledFlag": bundled,
                "mergedFlag": merged,
                "isMarkdownFlag": False,
                "createdByParentFlag": False,
                "originalAuthor": note.get("createdBy"),
                **{key: value for key, value in note.items() if key.startswith("_")},
            }
        )
    entries = store.tables.get(TIME_ENTRIES)
    for entry in entries.records.values() if entries is not None else ():
        charged = entry.get("chargeToId") == source_id and entry.get("chargeToType") in TICKET_CHARGES
        if not (charged or entry.get("ticket") == source_id) or not entry.get("notes"):
            continue
        shown.append(
            {
                "id": offset + entry["id"],
                "noteType": "TimeEntryNote",
                "ticket": ticket_id,
                "text": entry.get("notes"),
                "detailDescriptionFlag": bool(entry.get("addToDetailDescriptionFlag")),
                "internalAnalysisFlag": bool(entry.get("addToInternalAnalysisFlag")),
                "resolutionFlag": bool(entry.get("addToResolutionFlag")),
                "issueFlag": False,
                "bundledFlag": bundled,
                "mergedFlag": merged,
                "isMarkdownFlag": False,
                "createdByParentFlag": False,
                "member": entry.get("member"),
                "timeStart": _text(entry.get("timeStart")),
                "timeEnd": _text(entry.get("timeEnd")),
                "originalAuthor": entry.get("_enteredBy"),
                **{key: value for key, value in entry.items() if key.startswith("_")},
            }
        )
    return shown


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return format_cw_datetime(value)


def usages(table: str):
    """A record's `/usages`: per collection that refers to it, how many of its records do (ConnectWise's
    "where is this used" list, computed from the references the fake stores)."""

    def compute(backend: Backend, record_id: int | None) -> list[Record]:
        shown: list[Record] = []
        for collection in backend.collections.values():
            if collection.view is not None or collection.view_of is not None or collection.link_field:
                continue
            fields = [name for name, ref in collection.refs.items() if ref.target == table]
            if not fields:
                continue
            records = backend.store.table(collection.table).records.values()
            count = sum(1 for record in records if any(record.get(name) == record_id for name in fields))
            if count:
                shown.append(
                    {
                        "id": len(shown) + 1,
                        "type": collection.resource,
                        "typeKey": collection.table,
                        "count": count,
                        "description": f"{count} {collection.resource} record(s) refer to it",
                    }
                )
        return shown

    return compute


# What a bare id link names depends on the record's kind: a time entry's `chargeToId` names a ticket only
# when its `chargeToType` says so, a schedule entry's `objectId` only when its type's identifier does.
CHARGE_TYPES = {"service/tickets": {"ServiceTicket"}, "project/tickets": {"ProjectTicket"}}
SCHEDULE_TYPES = "schedule/types"
SCHEDULE_IDENTIFIERS = {"service/tickets": {"S"}, "project/tickets": {"S", "P"}, "sales/activities": {"C"}}


def records_pointing_at(table: str, links: tuple[str, ...], parent_table: str | None = None):
    """The records of `table` whose link fields (`ticket`, `chargeToId`, `objectId`) name the parent."""

    def names_parent(backend: Backend, record: Record, field: str, parent_id: int | None) -> bool:
        if record.get(field) != parent_id:
            return False
        if field == "chargeToId" and parent_table in CHARGE_TYPES:
            return record.get("chargeToType") in (None, *CHARGE_TYPES[parent_table])
        if field == "objectId" and parent_table in SCHEDULE_IDENTIFIERS:
            kind = backend.store.get(SCHEDULE_TYPES, record.get("type") or 0) or {}
            return kind.get("identifier") in (None, *SCHEDULE_IDENTIFIERS[parent_table])
        return True

    def compute(backend: Backend, parent_id: int | None) -> list[Record]:
        records = backend.store.table(table).records
        return [
            record
            for _, record in sorted(records.items())
            if any(names_parent(backend, record, field, parent_id) for field in links)
        ]

    return compute


# The `recordType` a document is uploaded with (`POST /system/documents`, multipart) for a record of each table.
# ConnectWise's upload form names a service ticket `Ticket`; `ServiceTicket` is taken too.
ATTACHED_RECORD_TYPES = {"service/tickets": ("Ticket", "ServiceTicket"), "project/tickets": ("ProjectTicket",)}
DOCUMENTS = "system/documents"


def documents_attached_to(parent_table: str):
    """A record's `/documents`: the uploads whose `recordType` and `recordId` name it, as `DocumentReference`s."""

    def compute(backend: Backend, parent_id: int | None) -> list[Record]:
        documents = backend.store.tables.get(DOCUMENTS)
        shown: list[Record] = []
        for _, document in sorted(documents.records.items()) if documents is not None else ():
            kind, record_id = document.get("_recordType"), str(document.get("_recordId"))
            if kind in ATTACHED_RECORD_TYPES[parent_table] and record_id == str(parent_id):
                shown.append({"id": document["id"], "name": document.get("title")})
        return shown

    return compute
