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


# Amounts and estimates ConnectWise answers as 0 until someone sets them (present in real responses, e.g.
# django-connectwise's copies of them). Hours it computes from time and schedule entries are left out.
ESTIMATES = (
    "estimatedTimeCost",
    "estimatedExpenseCost",
    "estimatedProductCost",
    "estimatedTimeRevenue",
    "estimatedExpenseRevenue",
    "estimatedProductRevenue",
    "billingAmount",
    "downpayment",
    "poAmount",
)
COUNTERS = {"Project": ESTIMATES, "ProjectPhase": ESTIMATES, "Opportunity": ("totalSalesTax",)}


def counters(names: tuple[str, ...]) -> Rule:
    def start_at_zero(ctx: WriteContext) -> None:
        if ctx.is_create:
            for name in names:
                if ctx.record.get(name) is None and name in ctx.collection.loader.fields:
                    ctx.record[name] = 0.0

    return start_at_zero


def schedule_hours(ctx: WriteContext) -> None:
    """A schedule entry's `hours`: the length of its span."""
    start, end = ctx.record.get("dateStart"), ctx.record.get("dateEnd")
    if ctx.record.get("hours") is None and start is not None and end is not None:
        ctx.record["hours"] = round((end - start).total_seconds() / 3600, 2)


def time_entry_entered(ctx: WriteContext) -> None:
    """A new time entry is `Open`, entered now by the writer."""
    if ctx.is_create:
        ctx.record["status"] = ctx.record.get("status") or "Open"
        ctx.record["enteredBy"] = ctx.principal.identifier
        ctx.record["dateEntered"] = ctx.backend.now()


def rules_for(model: str) -> tuple[Rule, ...]:
    """The default-filling rules a model's records get."""
    fields = model_fields(model)
    found: list[Rule] = []
    if any(fields.get(name, {}).get("t") == "integer" for name in OWNER_LEVELS):
        found.append(owner_levels)
    if "billableOption" in fields and "workType" in fields:
        found.append(billable_from_work_type)
    if model in COUNTERS:
        found.append(counters(COUNTERS[model]))
    if model == "ScheduleEntry":
        found.append(schedule_hours)
    if model == "TimeEntry":
        found.append(time_entry_entered)
    return tuple(found)
