"""Values ConnectWise fills in on a write when the client leaves them out, taken from the tenant's own rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .schema_index import model_fields

if TYPE_CHECKING:
    from .model import Rule, WriteContext

MEMBERS = "system/members"
WORK_TYPES = "time/workTypes"
# An owner-level id a record gets from the member who writes it: field -> (the member's default, its table).
OWNER_LEVELS = {
    "locationId": ("defaultLocation", "system/locations"),
    "businessUnitId": ("defaultDepartment", "system/departments"),
}


def _writer(ctx: WriteContext) -> dict[str, Any]:
    members = ctx.backend.store.table(MEMBERS)
    ids = members.lookup("identifier", ctx.principal.identifier) if "identifier" in members.indexes else set()
    return members.records[min(ids)] if ids else {}


def owner_levels(ctx: WriteContext) -> None:
    """`locationId` and `businessUnitId`: the writer's default location and department, else the tenant's first."""
    for field, (member_field, table) in OWNER_LEVELS.items():
        if ctx.record.get(field) is not None or field not in ctx.collection.loader.fields:
            continue
        chosen = _writer(ctx).get(member_field)
        if chosen is None:
            rows = ctx.backend.store.tables.get(table)
            chosen = min(rows.records) if rows is not None and rows.records else None
        ctx.record[field] = chosen


def billable_from_work_type(ctx: WriteContext) -> None:
    """A time entry's `billableOption` follows its work type's `billTime` when the client gives none."""
    if ctx.record.get("billableOption") is not None:
        return
    work_type = ctx.backend.store.get(WORK_TYPES, ctx.record.get("workType") or 0) or {}
    ctx.record["billableOption"] = work_type.get("billTime") or "Billable"


def rules_for(model: str) -> tuple[Rule, ...]:
    """The default-filling rules a model's records get."""
    fields = model_fields(model)
    found: list[Rule] = []
    if any(fields.get(name, {}).get("t") == "integer" for name in OWNER_LEVELS):
        found.append(owner_levels)
    if "billableOption" in fields and "workType" in fields:
        found.append(billable_from_work_type)
    return tuple(found)
