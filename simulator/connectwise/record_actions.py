"""ConnectWise's actions on records: `/default`, `/copy`, `/merge`, bundles of tickets, approvals,
bulk writes and the other actions whose meaning is clear from the name and model."""

from __future__ import annotations

from typing import Any

from .action_steps import (
    body_object,
    copy_record,
    id_list,
    repoint,
    required_int,
    success,
    template_record,
)
from .actions import Action, ActionCall, Answer, Handler
from .errors import CwError, FieldProblem, invalid_object


def default_of(table: str) -> Handler:
    """`GET .../default`: a new record as the server would fill it in (nothing is stored)."""

    def answer(call: ActionCall) -> Answer:
        collection = call.backend.collection(table)
        rendered = call.render(table, {"id": 0, **template_record(call.backend, collection)})
        rendered.pop("id", None)
        rendered.pop("_info", None)
        return rendered, 200

    return answer


def copy_by_path(table: str, id_name: str = "id", parent_name: str | None = None, children: bool = True) -> Handler:
    """`POST .../{id}/copy`: the record (and its children) copied, same name unless the name must be unique."""

    def answer(call: ActionCall) -> Answer:
        parent_id = call.id(parent_name) if parent_name else None
        created = copy_record(call, table, call.id(id_name), parent_id=parent_id, with_children=children)
        return call.render(table, created), None

    return answer


def copy_by_body(table: str, model: str) -> Handler:
    """`POST .../copy` with `{id, name}`: the record `id` copied under the new name."""

    def answer(call: ActionCall) -> Answer:
        body = body_object(call, model)
        source_id = required_int(body, "id", model)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid_object(
                model, [FieldProblem("name", "name is required for the copy.", "MissingRequiredField")]
            )
        created = copy_record(call, table, source_id, {"name": name})
        return call.render(table, created), None

    return answer


def merge_companies(call: ActionCall) -> Answer:
    """`POST /company/companies/{id}/merge` `{toCompanyId}`: everything of company `id` moves to the other,
    then `id` is gone."""
    backend, table = call.backend, "company/companies"
    body = body_object(call, "CompanyMerge")
    target_id = required_int(body, "toCompanyId", "CompanyMerge")
    collection = backend.collection(table)
    if target_id == call.id():
        raise invalid_object("CompanyMerge", [FieldProblem("toCompanyId", "A company cannot be merged into itself.")])
    with backend.store.lock:
        source = backend.get(collection, call.id(), None, call.principal)
        target = backend.store.get(table, target_id)
        if target is None:
            raise invalid_object("CompanyMerge", [FieldProblem("toCompanyId", f"Company {target_id} does not exist.")])
        moved = repoint(backend, table, source["id"], target_id)
        backend.delete(collection, source["id"], call.principal)
    return success(f"Company {source['id']} merged into company {target_id}; {moved} record(s) moved."), None


TICKETS = "service/tickets"


def merge_tickets(call: ActionCall) -> Answer:
    """`POST /service/tickets/{parentId}/merge` `{mergeTicketIds, status}`: the tickets are closed into the
    parent (given the status), and their notes show in the parent's `allNotes`."""
    backend = call.backend
    body = body_object(call, "TicketMerge")
    ids = id_list(body, "mergeTicketIds", "TicketMerge")
    status = body.get("status")
    if not isinstance(status, dict) or not (status.get("id") or status.get("name")):
        raise invalid_object("TicketMerge", [FieldProblem("status", "status is required.", "MissingRequiredField")])
    collection = backend.collection(TICKETS)
    parent_id = call.id("parentId")
    with backend.store.lock:
        parent = backend.get(collection, parent_id, None, call.principal)
        for ticket_id in ids:
            if ticket_id == parent_id:
                raise invalid_object(
                    "TicketMerge", [FieldProblem("mergeTicketIds", "A ticket cannot merge into itself.")]
                )
            backend.get(collection, ticket_id, None, call.principal)
        for ticket_id in ids:
            operations = [
                {"op": "replace", "path": "status", "value": {k: v for k, v in status.items() if k in ("id", "name")}},
                {"op": "replace", "path": "mergedParentTicket", "value": {"id": parent_id}},
            ]
            backend.patch(collection, ticket_id, operations, call.principal)
        backend.store.replace(TICKETS, {**backend.store.get(TICKETS, parent["id"]), "hasMergedChildTicketFlag": True})
    return success(f"{len(ids)} ticket(s) merged into ticket {parent_id}."), None


def attach_children(call: ActionCall) -> Answer:
    """`POST /service/tickets/{parentId}/attachChildren` `{childTicketIds}`: a bundle under the parent."""
    backend = call.backend
    ids = id_list(body_object(call, "TicketBundle"), "childTicketIds", "TicketBundle")
    collection = backend.collection(TICKETS)
    parent_id = call.id("parentId")
    with backend.store.lock:
        backend.get(collection, parent_id, None, call.principal)
        children = []
        for ticket_id in ids:
            if ticket_id == parent_id:
                raise invalid_object(
                    "TicketBundle", [FieldProblem("childTicketIds", "A ticket cannot be its own child.")]
                )
            children.append(backend.get(collection, ticket_id, None, call.principal))
        for child in children:
            backend.store.replace(TICKETS, {**child, "parentTicketId": parent_id})
        backend.store.replace(TICKETS, {**backend.store.get(TICKETS, parent_id), "hasChildTicket": True})
    return success(f"{len(ids)} ticket(s) attached to ticket {parent_id}."), None


# Approval steps of time sheets and expense reports: action -> (statuses it starts from, the status after).
SUBMITTABLE = ("Open", "Rejected", "ErrorsCorrected", "RejectBySecondTier")
APPROVAL_STEPS: dict[str, tuple[tuple[str, ...], str]] = {
    "submit": (SUBMITTABLE, "PendingApproval"),
    "reject": (("PendingApproval", "PendingProjectApproval", "ApprovedByTierOne"), "Rejected"),
    "reverse": (("PendingApproval", "ApprovedByTierOne", "ApprovedByTierTwo", "Rejected"), "Open"),
}


def approval_step(table: str, step: str, resource: str) -> Handler:
    """`POST /time/sheets/{id}/submit|approve|reject|reverse`: the sheet moves along its approval states."""

    def answer(call: ActionCall) -> Answer:
        backend = call.backend
        collection = backend.collection(table)
        with backend.store.lock:
            record = backend.get(collection, call.id(), None, call.principal)
            status = record.get("status") or "Open"
            if step == "approve":
                after = {"PendingApproval": "ApprovedByTierOne", "ApprovedByTierOne": "ApprovedByTierTwo"}.get(status)
                allowed: tuple[str, ...] = ("PendingApproval", "ApprovedByTierOne")
            else:
                allowed, after = APPROVAL_STEPS[step]
                after = after if status in allowed else None
            if after is None:
                raise invalid_object(
                    resource,
                    [
                        FieldProblem(
                            "status", f"A {resource} in status {status} cannot {step}; it must be {'/'.join(allowed)}."
                        )
                    ],
                )
            backend.store.replace(table, {**record, "status": after, "_lastUpdated": backend.now()})
        return success(f"{resource} {record['id']}: {status} -> {after}."), None

    return answer


def deactivate_member(call: ActionCall) -> Answer:
    """`POST /system/members/{id}/deactivate`: the member is inactive from now on."""
    backend = call.backend
    collection = backend.collection("system/members")
    body = body_object(call, "MemberDeactivation")
    with backend.store.lock:
        member = backend.get(collection, call.id(), None, call.principal)
        backend.store.replace("system/members", {**member, "inactiveFlag": True, "inactiveDate": backend.now()})
    return body, None


def bulk(table: str, parent_name: str | None, method: str) -> Handler:
    """`.../bulk`: POST creates, PUT replaces (each element names its id), DELETE removes `{ids}`; one
    `ResultInfo` per element, in order, each succeeding or failing on its own."""

    def answer(call: ActionCall) -> Answer:
        backend = call.backend
        collection = backend.collection(table)
        parent_id = call.id(parent_name) if parent_name else None
        if method == "DELETE":
            body = (
                call.body
                if call.body is not None
                else {"ids": [int(i) for i in call.query.get("ids", "").split(",") if i.isdigit()]}
            )
            items: list[Any] = id_list(
                body_object(call, "IdCollection") if call.body is not None else body, "ids", "IdCollection"
            )
        else:
            items = call.body
            if not isinstance(items, list) or not items:
                raise invalid_object(
                    collection.resource, [FieldProblem("body", "The request body must be a non-empty JSON array.")]
                )
        payload = []
        for index, item in enumerate(items):
            try:
                if method == "POST":
                    record = backend.create(collection, item, call.principal, parent_id)
                elif method == "PUT":
                    if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                        raise invalid_object(
                            collection.resource, [FieldProblem("id", "Each element must carry its id.")]
                        )
                    record = backend.replace(collection, item["id"], item, call.principal, parent_id)
                else:
                    backend.delete(collection, item, call.principal, parent_id)
                    record = None
            except CwError as error:
                payload.append(
                    {"success": False, "originalIndex": index, "statusCode": error.status, "error": error.body()}
                )
                continue
            result: dict[str, Any] = {
                "success": True,
                "originalIndex": index,
                "statusCode": 200 if method != "POST" else 201,
            }
            if record is not None:
                result["data"] = call.render(table, record)
            payload.append(result)
        return {"payload": payload}, 200

    return answer


def clear_picker(call: ActionCall) -> Answer:
    """`POST /company/companyPickerItems/clear` `{member}`: that member's recent-company list is emptied."""
    backend = call.backend
    body = body_object(call, "ClearPickerRequest")
    member = body.get("member")
    member_id = member.get("id") if isinstance(member, dict) else None
    table = "company/companyPickerItems"
    with backend.store.lock:
        rows = backend.store.table(table).records
        for row_id in [i for i, row in rows.items() if member_id is None or row.get("member") == member_id]:
            backend.store.delete(table, row_id)
    return body, 200


def time_entry_defaults(call: ActionCall) -> Answer:
    """`POST /time/entries/defaults`: the time entry as the server would fill it in, not saved."""
    backend = call.backend
    collection = backend.collection("time/entries")
    body = body_object(call, "TimeEntry")
    record = {**template_record(backend, collection)}
    for name, value in body.items():
        if name in collection.loader.fields and value is not None and name not in collection.refs:
            record[name] = value
    rendered = call.render("time/entries", {"id": 0, **record})
    for name, value in body.items():
        if name in collection.refs and isinstance(value, dict):
            rendered[name] = value
    rendered.pop("id", None)
    rendered.pop("_info", None)
    return rendered, 200


def change_configuration_type(call: ActionCall) -> Answer:
    """`PATCH /company/configurations/{id}/changeType`: a PATCH that may only touch the type."""
    operations = call.body
    if not isinstance(operations, list) or not operations:
        raise invalid_object(
            "configuration", [FieldProblem("body", 'Send [{"op": "replace", "path": "type", "value": {"id": 1}}].')]
        )
    for operation in operations:
        path = str(operation.get("path", "")).strip("/").split("/")[0] if isinstance(operation, dict) else ""
        if path.casefold() != "type":
            raise invalid_object("configuration", [FieldProblem(path or "path", "changeType changes only the type.")])
    backend = call.backend
    record = backend.patch(backend.collection("company/configurations"), call.id(), operations, call.principal)
    return call.render("company/configurations", record), 200


MEMBERS = "system/members"


def my_member(call: ActionCall) -> Answer:
    """`GET /system/myMembers`: the member the caller acts as (an API key's member)."""
    backend = call.backend
    members = backend.store.table(MEMBERS)
    found = [members.records[i] for i in sorted(members.lookup("identifier", call.principal.identifier))]
    if call.principal.kind != "member" or not found:
        raise CwError(404, "NotFound", f"{call.principal.kind} {call.principal.identifier!r} is not a member")
    return call.render(MEMBERS, found[0]), 200


def project_workplan(call: ActionCall) -> Answer:
    """`GET /project/projects/{id}/projectWorkplan`: the project's phases, in order."""
    backend = call.backend
    project = backend.get(backend.collection("project/projects"), call.id(), None, call.principal)
    phases = backend.collection("project/projects/phases")
    assert phases.parent is not None
    rows = backend.store.table(phases.table)
    renderer = backend.renderer(phases)
    shown = [
        {**renderer.render(rows.records[i], call.base_url), "projectId": project["id"]}
        for i in sorted(rows.lookup(phases.parent.field, project["id"]))
    ]
    return {"projectId": project["id"], "phases": shown}, 200


def validate_portal_credentials(call: ActionCall) -> Answer:
    """`POST /company/contacts/validatePortalCredentials` `{email, password}`: does a contact with that email
    and portal password, whose portal login is not disabled, exist?"""
    body = body_object(call, "ValidatePortalRequest")
    missing = [name for name in ("email", "password") if not isinstance(body.get(name), str) or not body[name]]
    if missing:
        problems = [FieldProblem(name, f"{name} is required.", "MissingRequiredField") for name in missing]
        raise invalid_object("ValidatePortalRequest", problems)
    email, password = body["email"].casefold(), body["password"]
    for contact in call.backend.store.table("company/contacts").records.values():
        emails = {
            str(item.get("value", "")).casefold()
            for item in contact.get("communicationItems") or []
            if isinstance(item, dict) and item.get("communicationType") == "Email"
        }
        if email in emails and contact.get("portalPassword") == password and not contact.get("disablePortalLoginFlag"):
            return {"success": True, "contactId": contact["id"]}, 200
    return {"success": False}, 200


def delete_unused_time_sheets(call: ActionCall) -> Answer:
    """`DELETE /system/members/{id}/unusedTimeSheets`: the member's open time sheets without hours go."""
    backend = call.backend
    with backend.store.lock:
        member = backend.get(backend.collection(MEMBERS), call.id(), None, call.principal)
        sheets = backend.store.table("time/sheets")
        for sheet_id, sheet in list(sheets.records.items()):
            unused = (sheet.get("status") or "Open") == "Open" and not sheet.get("hours")
            if sheet.get("member") == member["id"] and unused:
                backend.store.delete("time/sheets", sheet_id)
    return None, 204


def quantity_on_hand(call: ActionCall) -> Answer:
    """`GET /procurement/catalog/{catalogItemIdentifier}/quantityOnHand`: the item's stock over its warehouses."""
    backend = call.backend
    catalog = backend.store.table("procurement/catalog")
    ids = sorted(catalog.lookup("identifier", call.ids["catalogItemIdentifier"]))
    if not ids:
        raise CwError(404, "NotFound", f"Catalog item {call.ids['catalogItemIdentifier']!r} not found")
    inventory = backend.collection("procurement/catalog/inventory")
    assert inventory.parent is not None
    rows = backend.store.table(inventory.table)
    total = sum(rows.records[i].get("onHand") or 0 for i in rows.lookup(inventory.parent.field, ids[0]))
    return {"count": total}, 200


ACTIONS: list[Action] = [
    Action("GET", "/company/companies/default", default_of("company/companies"), "company/companies"),
    Action("GET", "/company/contacts/default", default_of("company/contacts"), "company/contacts"),
    Action("GET", "/sales/opportunities/default", default_of("sales/opportunities"), "sales/opportunities"),
    Action("GET", "/procurement/rmaTags/default", default_of("procurement/rmaTags"), "procurement/rmaTags"),
    Action("GET", "/system/apiMembers/default", default_of("system/apiMembers"), "system/apiMembers"),
    Action("POST", "/service/tickets/{id}/copy", copy_by_path(TICKETS, children=False), TICKETS),
    Action("POST", "/schedule/calendars/{id}/copy", copy_by_path("schedule/calendars"), "schedule/calendars"),
    Action("POST", "/finance/taxCodes/{id}/copy", copy_by_path("finance/taxCodes"), "finance/taxCodes"),
    Action("POST", "/procurement/catalog/{id}/copy", copy_by_path("procurement/catalog"), "procurement/catalog"),
    Action("POST", "/service/surveys/{id}/copy", copy_by_path("service/surveys"), "service/surveys"),
    Action(
        "POST",
        "/service/surveys/{parentId}/questions/{id}/copy",
        copy_by_path("service/surveys/questions", parent_name="parentId"),
        "service/surveys",
    ),
    Action("POST", "/system/surveys/{id}/copy", copy_by_path("system/surveys"), "system/surveys"),
    Action("POST", "/system/workflows/{id}/copy", copy_by_path("system/workflows"), "system/workflows"),
    Action(
        "POST",
        "/system/workflows/{parentId}/events/{id}/copy",
        copy_by_path("system/workflows/events", parent_name="parentId"),
        "system/workflows",
    ),
    Action(
        "POST",
        "/finance/agreements/{parentId}/copy",
        copy_by_path("finance/agreements", "parentId"),
        "finance/agreements",
    ),
    Action(
        "POST", "/finance/agreements/types{id}/copy", copy_by_path("finance/agreements/types"), "finance/agreements"
    ),
    Action(
        "POST",
        "/company/configurations/types/copy",
        copy_by_body("company/configurations/types", "ConfigurationTypeCopy"),
        "company/configurations",
    ),
    Action("POST", "/service/boards/copy", copy_by_body("service/boards", "BoardCopy"), "service/boards"),
    Action(
        "POST",
        "/schedule/holidayLists/copy",
        copy_by_body("schedule/holidayLists", "HolidayList"),
        "schedule/holidayLists",
    ),
    Action(
        "POST",
        "/company/portalConfigurations/copy",
        copy_by_body("company/portalConfigurations", "PortalConfiguration"),
        "company/portalConfigurations",
    ),
    Action("POST", "/company/companies/{id}/merge", merge_companies, "company/companies"),
    Action("POST", "/service/tickets/{parentId}/merge", merge_tickets, TICKETS),
    Action("POST", "/service/tickets/{parentId}/attachChildren", attach_children, TICKETS),
    *[
        Action("POST", f"/time/sheets/{{id}}/{step}", approval_step("time/sheets", step, "timeSheet"), "time/sheets")
        for step in ("submit", "approve", "reject", "reverse")
    ],
    *[
        Action(
            "POST",
            f"/expense/reports/{{id}}/{step}",
            approval_step("expense/reports", step, "expenseReport"),
            "expense/reports",
        )
        for step in ("submit", "approve", "reject", "reverse")
    ],
    Action("POST", "/system/members/{id}/deactivate", deactivate_member, "system/members"),
    *[
        Action(
            method,
            "/company/configurations/bulk",
            bulk("company/configurations", None, method),
            "company/configurations",
        )
        for method in ("POST", "PUT", "DELETE")
    ],
    *[
        Action(
            method,
            "/procurement/purchaseorders/{parentId}/lineitems/bulk",
            bulk("procurement/purchaseorders/lineitems", "parentId", method),
            "procurement/purchaseorders",
        )
        for method in ("POST", "PUT", "DELETE")
    ],
    Action("POST", "/company/companyPickerItems/clear", clear_picker, "company/companyPickerItems"),
    Action("POST", "/time/entries/defaults", time_entry_defaults, "time/entries"),
    Action("PATCH", "/company/configurations/{id}/changeType", change_configuration_type, "company/configurations"),
    Action("GET", "/system/myMembers", my_member, MEMBERS),
    Action("GET", "/project/projects/{id}/projectWorkplan", project_workplan, "project/projects"),
    Action("POST", "/company/contacts/validatePortalCredentials", validate_portal_credentials, "company/contacts"),
    Action("DELETE", "/system/members/{id}/unusedTimeSheets", delete_unused_time_sheets, MEMBERS),
    Action(
        "GET", "/procurement/catalog/{catalogItemIdentifier}/quantityOnHand", quantity_on_hand, "procurement/catalog"
    ),
]

# Why each remaining action, computed or binary answer is not served (docs/coverage.md shows these).
