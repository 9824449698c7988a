"""Domain rules of ConnectWise records: defaults, closing, first notes, one default status per board."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import FieldProblem, invalid_object

if TYPE_CHECKING:
    from .backend import Backend
    from .model import WriteContext

STATUSES = "service/boards/statuses"
NOTES = "service/tickets/notes"
ADDRESS_FIELDS = ("addressLine1", "addressLine2", "city", "state", "zip", "country")
FIRST_NOTE_FLAGS = {
    "initialDescription": "detailDescriptionFlag",
    "initialInternalAnalysis": "internalAnalysisFlag",
    "initialResolution": "resolutionFlag",
}


def tenant_default_board(backend: Backend, record: dict[str, Any]) -> int | None:
    """A ticket without a board goes to the tenant's default board."""
    return backend.settings.default_board_id


def board_default_status(backend: Backend, record: dict[str, Any]) -> int | None:
    """A ticket without a status takes its board's default status (else the first by sort order)."""
    board_id = record.get("board")
    if board_id is None:
        return None
    statuses = [
        backend.store.get(STATUSES, status_id) for status_id in backend.store.table(STATUSES).lookup("board", board_id)
    ]
    if not statuses:
        return None
    defaults = [status["id"] for status in statuses if status.get("defaultFlag")]
    if defaults:
        return min(defaults)
    return min(statuses, key=lambda status: (status.get("sortOrder") or 0, status["id"]))["id"]


def closed_status_closes(ctx: WriteContext) -> None:
    """Moving a ticket to a status with `closedStatus` closes it; moving out reopens it."""
    record, previous = ctx.record, ctx.previous
    if previous is not None and previous.get("status") == record.get("status"):
        for field in ("closedFlag", "closedDate", "closedBy"):
            record[field] = previous.get(field)
        return
    status = ctx.backend.store.get(STATUSES, record["status"]) if record.get("status") else None
    if status is not None and status.get("closedStatus"):
        record["closedFlag"] = True
        record["closedDate"] = ctx.backend.now()
        record["closedBy"] = ctx.principal.identifier
    else:
        record["closedFlag"] = False
        record["closedDate"] = None
        record["closedBy"] = None


def initial_description_becomes_note(ctx: WriteContext) -> None:
    """`initialDescription` (and its siblings) are never stored on the ticket: they become its first notes."""
    if not ctx.is_create:
        return
    for field, note_flag in FIRST_NOTE_FLAGS.items():
        text = ctx.transient.get(field)
        if text:
            ctx.after_commit.append(_first_note(ctx, text, note_flag))


def _first_note(ctx: WriteContext, text: str, note_flag: str):
    def add_note(ticket: dict[str, Any]) -> None:
        ctx.backend.insert_internal(
            NOTES,
            {
                "ticketId": ticket["id"],
                "text": text,
                "detailDescriptionFlag": note_flag == "detailDescriptionFlag",
                "internalAnalysisFlag": note_flag == "internalAnalysisFlag",
                "resolutionFlag": note_flag == "resolutionFlag",
                "issueFlag": False,
                "internalFlag": note_flag != "detailDescriptionFlag",
                "externalFlag": note_flag == "detailDescriptionFlag",
                "customerUpdatedFlag": False,
                "dateCreated": ctx.backend.now(),
                "createdBy": ctx.principal.identifier,
            },
            ctx.principal,
        )

    return add_note


def note_has_text_and_kind(ctx: WriteContext) -> None:
    """A note needs text and at least one of the discussion / internal / resolution flags."""
    problems = []
    if not (ctx.record.get("text") or "").strip():
        problems.append(FieldProblem("text", "text is required.", "MissingRequiredField"))
    if not any(ctx.record.get(flag) for flag in FIRST_NOTE_FLAGS.values()):
        problems.append(
            FieldProblem(
                "detailDescriptionFlag",
                "At least one of detailDescriptionFlag, internalAnalysisFlag or resolutionFlag must be true.",
                "MissingRequiredField",
            )
        )
    if problems:
        raise invalid_object(ctx.collection.resource, problems)
    if ctx.is_create:
        ctx.record["dateCreated"] = ctx.backend.now()
        ctx.record["createdBy"] = ctx.principal.identifier
    else:
        ctx.record["dateCreated"] = ctx.previous.get("dateCreated")
        ctx.record["createdBy"] = ctx.previous.get("createdBy")


def company_has_an_address(ctx: WriteContext) -> None:
    """ConnectWise wants at least one address field on a new company."""
    if ctx.is_create and not any(ctx.record.get(field) for field in ADDRESS_FIELDS):
        raise invalid_object(
            ctx.collection.resource,
            [
                FieldProblem(
                    "addressLine1",
                    "At least one address field is required: " + ", ".join(ADDRESS_FIELDS) + ".",
                    "MissingRequiredField",
                )
            ],
        )


def one_default_per_board(ctx: WriteContext) -> None:
    """Making a status (or type) the board's default takes the flag from its siblings."""
    if not ctx.record.get("defaultFlag"):
        return
    table = ctx.collection.table

    def clear_siblings(saved: dict[str, Any]) -> None:
        store = ctx.backend.store
        for sibling_id in list(store.table(table).lookup("board", saved["board"])):
            sibling = store.get(table, sibling_id)
            if sibling_id != saved["id"] and sibling.get("defaultFlag"):
                store.replace(table, {**sibling, "defaultFlag": False})

    ctx.after_commit.append(clear_siblings)
