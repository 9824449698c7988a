"""Domain rules of ConnectWise records: defaults, closing, first notes, one default status per board."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import FieldProblem, invalid_object

if TYPE_CHECKING:
    from .backend import Backend
    from .model import Rule, WriteContext

STATUSES = "service/boards/statuses"
CONTACTS = "company/contacts"
COMPANY_TYPES = "company/companies/types"
CONFIGURATIONS = "company/configurations"
CONFIGURATION_STATUSES = "company/configurations/statuses"
TYPE_QUESTIONS = "company/configurations/types/questions"
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


def default_row(table: str, flag: str = "defaultFlag") -> Callable[[Backend, dict[str, Any]], int | None]:
    """A reference default: the row of `table` marked `flag` (the lowest id), if any."""

    def pick(backend: Backend, record: dict[str, Any]) -> int | None:
        stored = backend.store.tables.get(table)
        if stored is None:
            return None
        cached = backend.default_rows.get(table)
        if cached is not None and cached[0] == stored.version:
            return cached[1]
        ids = [row_id for row_id, row in stored.records.items() if row.get(flag)]
        found = min(ids) if ids else None
        backend.default_rows[table] = (stored.version, found)
        return found

    return pick


def company_default_contact(backend: Backend, record: dict[str, Any]) -> int | None:
    """A ticket without a contact gets its company's default contact."""
    company_id = record.get("company")
    if company_id is None:
        return None
    contacts = backend.store.table(CONTACTS)
    ids = [i for i in contacts.lookup("company", company_id) if contacts.records[i].get("defaultFlag")]
    return min(ids) if ids else None


def company_default_types(ctx: WriteContext) -> None:
    """A new company without types gets the tenant's default company type."""
    if not ctx.is_create or ctx.record.get("types"):
        return
    types = ctx.backend.store.tables.get(COMPANY_TYPES)
    chosen = default_row(COMPANY_TYPES)(ctx.backend, ctx.record) if types is not None else None
    if chosen is not None:
        ctx.record["types"] = [{"id": chosen, "name": types.records[chosen].get("name")}]


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


def one_default(scope: str | None = None) -> Rule:
    """Making a record the default takes the flag from the others (those sharing `scope`, if given)."""

    def take_default_flag(ctx: WriteContext) -> None:
        if not ctx.record.get("defaultFlag"):
            return
        table = ctx.collection.table

        def clear_others(saved: dict[str, Any]) -> None:
            store = ctx.backend.store
            others = store.table(table).lookup(scope, saved[scope]) if scope else store.table(table).records
            for other_id in list(others):
                other = store.get(table, other_id)
                if other_id != saved["id"] and other.get("defaultFlag"):
                    store.replace(table, {**other, "defaultFlag": False})

        ctx.after_commit.append(clear_others)

    return take_default_flag


one_default_per_board = one_default("board")


def default_configuration_status(backend: Backend, record: dict[str, Any]) -> int | None:
    """A configuration without a status takes the default configuration status, if there is one."""
    defaults = [s["id"] for s in backend.store.table(CONFIGURATION_STATUSES).records.values() if s.get("defaultFlag")]
    return min(defaults) if defaults else None


def configuration_answers_its_type_questions(ctx: WriteContext) -> None:
    """A configuration lists its type's questions, with the answers given by `questionId`."""
    store = ctx.backend.store
    type_id = ctx.record.get("type")
    given = ctx.record.get("questions") or []
    if not isinstance(given, list) or not all(isinstance(answer, dict) for answer in given):
        raise invalid_object("configuration", [FieldProblem("questions", "questions must be a list of objects.")])
    answers = {answer.get("questionId"): answer.get("answer") for answer in given}
    questions = [store.get(TYPE_QUESTIONS, i) for i in store.table(TYPE_QUESTIONS).lookup("configurationType", type_id)]
    questions.sort(key=lambda question: (question.get("sequenceNumber") or 0, question["id"]))
    listed = []
    for question in questions:
        if question.get("inactiveFlag"):
            continue
        answer = answers.get(question["id"])
        if question.get("requiredFlag") and answer in (None, ""):
            raise invalid_object(
                "configuration",
                [FieldProblem("questions", f'Question {question["id"]} ("{question["question"]}") needs an answer.')],
            )
        listed.append(
            {
                "questionId": question["id"],
                "question": question["question"],
                "answer": answer,
                "sequenceNumber": question.get("sequenceNumber"),
                "numberOfDecimals": question.get("numberOfDecimals") or 0,
                "fieldType": question["fieldType"],
                "requiredFlag": bool(question.get("requiredFlag")),
            }
        )
    ctx.record["questions"] = listed or None


def link_configuration(ctx: WriteContext) -> None:
    """Attaching a configuration (to a ticket or agreement) by `id` or `deviceIdentifier`, once."""
    store = ctx.backend.store
    config_id = ctx.transient.get("id")
    device = ctx.transient.get("deviceIdentifier")
    configurations = store.table(CONFIGURATIONS)
    if config_id is None and device:
        matches = sorted(configurations.lookup("deviceIdentifier", device))
        config_id = matches[0] if matches else None
        if config_id is None:
            raise invalid_object(
                "configuration",
                [FieldProblem("deviceIdentifier", f'No configuration has deviceIdentifier "{device}".')],
            )
    if config_id is None:
        raise invalid_object(
            "configuration", [FieldProblem("id", "id or deviceIdentifier is required.", "MissingRequiredField")]
        )
    if configurations.get(config_id) is None:
        raise invalid_object("configuration", [FieldProblem("id", f"Configuration {config_id} does not exist.")])
    parent_field = ctx.collection.parent.field
    links = store.table(ctx.collection.table)
    for link_id in links.lookup("configuration", config_id):
        if links.get(link_id).get(parent_field) == ctx.record.get(parent_field):
            raise invalid_object(
                "configuration",
                [FieldProblem("id", f"Configuration {config_id} is already attached.", "ObjectExists")],
            )
    ctx.record["configuration"] = config_id


def addition_amounts(ctx: WriteContext) -> None:
    """Extended price and cost, margin, and the status an addition's dates give it."""
    record = ctx.record
    quantity = record.get("quantity") or 0.0
    price, cost = record.get("unitPrice") or 0.0, record.get("unitCost") or 0.0
    record["extPrice"] = round(quantity * price, 2)
    record["extCost"] = round(quantity * cost, 2)
    record["margin"] = round(record["extPrice"] - record["extCost"], 2)
    cancelled = record.get("cancelledDate")
    record["agreementStatus"] = "Cancelled" if cancelled is not None and cancelled <= ctx.backend.now() else "Active"
    if ctx.previous is not None:
        record["billedQuantity"] = ctx.previous.get("billedQuantity")


def invoiced_additions_are_frozen(ctx: WriteContext) -> None:
    """Once invoiced, an addition cannot be changed or deleted (add a new one instead)."""
    if ctx.previous is not None and ctx.previous.get("_invoiced"):
        raise invalid_object(
            "addition",
            [
                FieldProblem(
                    "id",
                    f"Addition {ctx.previous['id']} has been invoiced and cannot be changed; add a new addition.",
                    "Invoiced",
                )
            ],
        )
