"""ConnectWise's actions: operations on a record beyond read and write (`/copy`, `/merge`, `/default`, ...).

Each action is declared once in ACTIONS with the spec template it answers; the HTTP face matches a
request against them before the collection router, and docs/coverage.md counts them as served. An
action is declared only with a test of its effect (tests/test_actions.py names each). The actions
left out are listed in UNSERVED with why: each answers `NotImplementedByFake`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Response, request

from ..clock import format_cw_datetime
from .auth import Principal
from .endpoints import endpoint_index
from .errors import CwError, FieldProblem, bad_request, invalid_object
from .model import Collection, Record
from .permissions import check_api

if TYPE_CHECKING:
    from .backend import Backend

# Placeholders that take a word, not an integer id.
WORD_PLACEHOLDERS = frozenset({"catalogItemIdentifier", "memberIdentifier", "reportName", "ssoid"})
COPY_SUFFIX = " (copy)"


@dataclass
class ActionCall:
    """One action request: the tenant, the caller, the path's ids and the body (parsed JSON or raw)."""

    backend: Backend
    principal: Principal
    ids: dict[str, Any]
    body: Any
    base_url: str
    query: dict[str, str]
    read_json: Callable[[], Any]

    def id(self, name: str = "id") -> int:
        return self.ids[name]

    def render(self, table: str, record: Record) -> dict[str, Any]:
        backend = self.backend
        return backend.renderer(backend.collection(table)).render(record, self.base_url)


Answer = tuple[Any, int | None]  # (JSON body, or a flask Response; the status, None: the documented one)
Handler = Callable[[ActionCall], Answer]


@dataclass(frozen=True)
class Action:
    method: str
    template: str  # as in the endpoint index: `/company/companies/{id}/merge`
    handler: Handler
    table: str  # the collection whose integrator-login API guards it
    raw_body: bool = False  # the handler reads the request itself (uploads)
    api: str | None = None  # the guarding API when no one collection's is (bundles read several)

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile(self.template)


def _compile(template: str) -> re.Pattern[str]:
    parts = []
    for segment in template.strip("/").split("/"):
        pieces = re.split(r"(\{[^}]+\})", segment)
        regex = ""
        for piece in pieces:
            if piece.startswith("{"):
                regex += f"(?P<{piece.strip('{}')}>[^/]+)"
            else:
                regex += re.escape(piece)
        parts.append(regex)
    return re.compile("^/?" + "/".join(parts) + "/?$", re.IGNORECASE)


class ActionTable:
    """The declared actions, matched by method and path."""

    def __init__(self, actions: list[Action]) -> None:
        self.actions = actions
        # By method and last path segment, so a request tries only the few actions that can fit it.
        self._by_tail: dict[tuple[str, str], list[tuple[Action, re.Pattern[str]]]] = {}
        self._anywhere: list[tuple[Action, re.Pattern[str]]] = []  # a placeholder in the last segment
        for action in actions:
            tail = action.template.rstrip("/").rsplit("/", 1)[-1]
            if "{" in tail:
                self._anywhere.append((action, action.pattern))
            else:
                self._by_tail.setdefault((action.method, tail.casefold()), []).append((action, action.pattern))
        self.by_template: dict[str, list[str]] = {}
        for action in actions:
            self.by_template.setdefault(action.template, []).append(action.method)

    def answer(
        self,
        backend: Backend,
        principal: Principal,
        path: str,
        base_url: str,
        read_json: Callable[[], Any],
        respond: Callable[[Any, int], Any],
    ) -> Any:
        """The response to an action request, or None when no action answers this method and path."""
        found = self.match(request.method, path)
        if found is None:
            return None
        action, ids = found
        check_api(backend, principal, action.api or backend.collection(action.table).api)
        body = None if action.raw_body else read_json()
        query = {name: value for name, value in request.args.items()}
        call = ActionCall(backend, principal, ids, body, base_url, query, read_json)
        data, status = action.handler(call)
        if isinstance(data, Response):
            return data
        return respond(data, status or endpoint_index().success(action.template, action.method))

    def match(self, method: str, path: str) -> tuple[Action, dict[str, Any]] | None:
        """The action for a method and path; a word where its id goes is a 400 unless another action fits."""
        refused: CwError | None = None
        tail = path.rstrip("/").rsplit("/", 1)[-1].casefold()
        for action, pattern in [*self._by_tail.get((method, tail), ()), *self._anywhere]:
            if action.method != method:
                continue
            found = pattern.match(path)
            if found is None:
                continue
            ids, problem = _ids(found.groupdict())
            if problem is None:
                return action, ids
            refused = refused or problem
        if refused is not None:
            raise refused
        return None


def _ids(raw: dict[str, str]) -> tuple[dict[str, Any], CwError | None]:
    ids: dict[str, Any] = {}
    for name, value in raw.items():
        if name in WORD_PLACEHOLDERS:
            ids[name] = value
        elif value.isdigit():
            ids[name] = int(value)
        else:
            return ids, bad_request(f"{name} must be a whole number (the id of a record), not {value!r}.", name)
    return ids, None


# -- shared steps ------------------------------------------------------------------------


def success(message: str) -> dict[str, Any]:
    return {"success": True, "message": message}


def body_object(call: ActionCall, model: str) -> dict[str, Any]:
    if call.body is None:
        return {}
    if not isinstance(call.body, dict):
        raise invalid_object(model, [FieldProblem("body", f"The request body must be a JSON object ({model}).")])
    return call.body


def required_int(body: dict[str, Any], name: str, model: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_object(model, [FieldProblem(name, f"{name} is required (a record id).", "MissingRequiredField")])
    return value


def id_list(body: dict[str, Any], name: str, model: str) -> list[int]:
    value = body.get(name)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise invalid_object(model, [FieldProblem(name, f"{name} must be a non-empty list of record ids.")])
    return value


def children_of(backend: Backend, table: str) -> list[Collection]:
    return [
        c
        for c in backend.collections.values()
        if c.parent is not None and c.parent.collection == table and c.view is None and c.view_of is None
    ]


def repoint(backend: Backend, table: str, old_id: int, new_id: int) -> int:
    """Every stored reference to record `old_id` of `table` (and every child under it) now names `new_id`."""
    moved = 0
    for collection in backend.collections.values():
        if collection.view is not None or collection.view_of is not None:
            continue
        names = [name for name, ref in collection.refs.items() if ref.target == table and not ref.dump_only]
        if collection.parent is not None and collection.parent.collection == table:
            names.append(collection.parent.field)
        if not names:
            continue
        stored = backend.store.table(collection.table)
        for record in list(stored.records.values()):
            changed = {name: new_id for name in names if record.get(name) == old_id}
            if changed:
                backend.store.replace(collection.table, {**record, **changed})
                moved += 1
    return moved


def unique_value(backend: Backend, collection: Collection, name: str, value: Any) -> Any:
    """`value`, or `value (copy)`, `value (copy 2)`... where the collection keeps `name` unique."""
    if name not in collection.unique or not isinstance(value, str):
        return value
    table = backend.store.table(collection.table)
    limit = _max_length(collection, name)
    candidate, number = value, 1
    while table.lookup(name, candidate):
        suffix = COPY_SUFFIX if number == 1 else f" (copy {number})"
        candidate = (value[: limit - len(suffix)] if limit else value) + suffix
        number += 1
    return candidate


def _max_length(collection: Collection, name: str) -> int | None:
    for validator in collection.loader.fields[name].validators:
        maximum = getattr(validator, "max", None)
        if isinstance(maximum, int):
            return maximum
    return None


def copy_record(
    call: ActionCall,
    table: str,
    source_id: int,
    overrides: dict[str, Any] | None = None,
    parent_id: int | None = None,
    with_children: bool = True,
) -> Record:
    """A new record made from another one (its children copied under it): what every `/copy` does."""
    backend = call.backend
    collection = backend.collection(table)
    with backend.store.lock:
        source = backend.get(collection, source_id, parent_id, call.principal)
        document = backend.as_input(collection, source)
        if "defaultFlag" in document:
            document["defaultFlag"] = False  # the copy never takes the default from its original
        document.update(overrides or {})
        for name in collection.unique:
            if name in document:
                document[name] = unique_value(backend, collection, name, document[name])
        created = backend.create(collection, document, call.principal, parent_id)
        if with_children:
            for child in children_of(backend, table):
                rows = backend.store.table(child.table)
                for row_id in sorted(rows.lookup(child.parent.field, source_id)):
                    backend.create(child, backend.as_input(child, rows.records[row_id]), call.principal, created["id"])
    return created


def template_record(backend: Backend, collection: Collection) -> Record:
    """A new record as the server would fill it in before the caller sets anything: its `/default`."""
    record: Record = dict(collection._defaults)
    for name, ref in collection.refs.items():
        if ref.default is not None and not ref.dump_only:
            record[name] = ref.default(backend, record)
    return record


# -- the actions -------------------------------------------------------------------------


def default_of(table: str) -> Handler:
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


def _opportunity(call: ActionCall) -> Record:
    return call.backend.get(call.backend.collection("sales/opportunities"), call.id(), None, call.principal)


def _ref(value: Any) -> dict[str, Any] | None:
    return {"id": value} if value is not None else None


def _first(backend: Backend, table: str, where: Callable[[Record], bool] = lambda record: True) -> int | None:
    """The default row of a table (else its lowest id) among those `where` accepts; None when there is none."""
    records = backend.store.table(table).records
    defaults = [i for i, r in sorted(records.items()) if r.get("defaultFlag") and where(r)]
    others = [i for i, r in sorted(records.items()) if where(r)]
    return (defaults or others or [None])[0]


def _first_target(backend: Backend, table: str, field: str) -> dict[str, Any] | None:
    """A reference to the default (else first) record a field of `table` may name."""
    return _ref(_first(backend, backend.collection(table).refs[field].target))


def _create(call: ActionCall, table: str, body: dict[str, Any]) -> Record:
    body = {name: value for name, value in body.items() if value is not None}
    return call.backend.create(call.backend.collection(table), body, call.principal)


def opportunity_to_ticket(call: ActionCall) -> Answer:
    """`POST /sales/opportunities/{id}/convertToServiceTicket`: a service ticket for the opportunity's company."""
    body = body_object(call, "OpportunityToServiceTicketConversion")
    opportunity = _opportunity(call)
    ticket = _create(
        call,
        TICKETS,
        {
            "summary": (body.get("summary") or opportunity.get("name") or "Opportunity")[:100],
            "company": _ref(opportunity.get("company")),
            "contact": _ref(opportunity.get("contact")),
        },
    )
    return call.render(TICKETS, ticket), None


def opportunity_to_project(call: ActionCall) -> Answer:
    """`POST /sales/opportunities/{id}/convertToProject`: a project for the opportunity's company."""
    backend = call.backend
    body = body_object(call, "OpportunityToProjectConversion")
    opportunity = _opportunity(call)
    start = backend.now()
    project = _create(
        call,
        "project/projects",
        {
            "name": (body.get("name") or opportunity.get("name") or "Project")[:100],
            "company": _ref(opportunity.get("company")),
            "contact": _ref(opportunity.get("contact")),
            "board": body.get("board") or _first_target(backend, "project/projects", "board"),
            "status": body.get("status"),
            "manager": body.get("manager"),
            "billingMethod": "ActualRates",
            "estimatedStart": body.get("estimatedStart") or format_cw_datetime(start),
            "estimatedEnd": body.get("estimatedEnd") or format_cw_datetime(start + timedelta(days=30)),
            "opportunity": {"id": opportunity["id"]},
        },
    )
    return call.render("project/projects", project), None


def opportunity_to_agreement(call: ActionCall) -> Answer:
    """`POST /sales/opportunities/{id}/convertToAgreement`: an agreement for the opportunity's company."""
    backend = call.backend
    body = body_object(call, "OpportunityToAgreementConversion")
    opportunity = _opportunity(call)
    company_id = opportunity.get("company")
    contact_id = opportunity.get("contact") or _first(
        backend, "company/contacts", lambda c: c.get("company") == company_id
    )
    agreement = _create(
        call,
        "finance/agreements",
        {
            "name": (body.get("name") or opportunity.get("name") or "Agreement")[:100],
            "type": body.get("type") or _first_target(backend, "finance/agreements", "type"),
            "company": _ref(company_id),
            "contact": _ref(contact_id),
            "startDate": body.get("startDate"),
            "endDate": body.get("endDate"),
            "noEndingDateFlag": body.get("noEndingDateFlag"),
            "opportunity": {"id": opportunity["id"]},
        },
    )
    return call.render("finance/agreements", agreement), None


def opportunity_to_order(call: ActionCall) -> Answer:
    """`POST /sales/opportunities/{id}/convertToSalesOrder`: a sales order for the opportunity."""
    backend = call.backend
    opportunity = _opportunity(call)
    order = _create(
        call,
        "sales/orders",
        {
            "company": _ref(opportunity.get("company")),
            "contact": _ref(opportunity.get("contact")),
            "status": _first_target(backend, "sales/orders", "status"),
            "salesRep": _ref(opportunity.get("primarySalesRep")) or _first_target(backend, "sales/orders", "salesRep"),
            "opportunity": {"id": opportunity["id"]},
        },
    )
    return call.render("sales/orders", order), None


def order_to_ticket(call: ActionCall) -> Answer:
    """`POST /sales/orders/{id}/convertToServiceTicket`: a service ticket for the order's company."""
    backend = call.backend
    order = backend.get(backend.collection("sales/orders"), call.id(), None, call.principal)
    ticket = _create(
        call,
        TICKETS,
        {
            "summary": f"Sales order {order['id']}",
            "company": _ref(order.get("company")),
            "contact": _ref(order.get("contact")),
        },
    )
    return call.render(TICKETS, ticket), None


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
    Action("POST", "/sales/opportunities/{id}/convertToServiceTicket", opportunity_to_ticket, "sales/opportunities"),
    Action("POST", "/sales/opportunities/{id}/convertToProject", opportunity_to_project, "sales/opportunities"),
    Action("POST", "/sales/opportunities/{id}/convertToAgreement", opportunity_to_agreement, "sales/opportunities"),
    Action("POST", "/sales/opportunities/{id}/convertToSalesOrder", opportunity_to_order, "sales/opportunities"),
    Action("POST", "/sales/orders/{id}/convertToServiceTicket", order_to_ticket, "sales/orders"),
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
SECOND_SPELLING = "a second spelling (a trailing slash) of a collection path: the generic machinery's to serve"
NO_PEER = "talks to a system outside ConnectWise (mail, SSO, LDAP, reporting, a payment gateway): nothing to reach here"
UNSERVED: dict[tuple[str, str], str] = {
    ("POST", "/company/contacts/requestPassword"): "sends the contact a portal password mail: no portal here",
    ("POST", "/company/m365contactsync/property"): SECOND_SPELLING,
    ("DELETE", "/company/m365contactsync/property/"): SECOND_SPELLING,
    ("GET", "/company/m365contactsync/{id}/property"): "Microsoft 365 contact sync: no Microsoft 365 tenant here",
    ("POST", "/company/management/{id}/executeManagedItSync"): "runs a sync with an RMM tool: none is attached",
    ("GET", "/company/management/{id}/log/download"): "the log of an RMM sync that never runs here",
    ("POST", "/company/portalConfigurations/{parentId}/invoiceSetups/{id}/testTransaction"): NO_PEER,
    ("POST", "/finance/accounting/batches/{id}/export"): "exports to an accounting package in its own file format",
    ("POST", "/finance/accounting/export"): "exports to an accounting package in its own file format",
    ("POST", "/finance/agreements/{id}/invoice"): "agreement invoicing (billing cycles, proration) is not modelled",
    ("POST", "/finance/invoices/{parentId}/commissions/recalculate"): "commission rules are not modelled",
    ("POST", "/procurement/catalog/vendors"): "undocumented vendor lookup with no item model",
    ("POST", "/procurement/catalog/{id}/pricing"): "price rules (price books, customer pricing) are not modelled",
    ("POST", "/procurement/invoicegrouping/count"): "undocumented grouping of invoices with no item model",
    ("POST", "/procurement/products/{id}/detach"): "detaching a product from its invoice needs invoicing, not modelled",
    ("POST", "/procurement/purchaseorders/{id}/copy"): "purchase orders are read-only here (made by procurement)",
    ("POST", "/procurement/purchaseorders/{id}/rebatch"): "purchase order batches are not modelled",
    ("POST", "/procurement/purchaseorders/{id}/unbatch"): "purchase order batches are not modelled",
    ("POST", "/procurement/purchasingDemands"): "purchasing demand is computed from stock levels, not modelled",
    ("POST", "/procurement/rmaStatuses/{parentId}/emailtemplates/"): SECOND_SPELLING,
    ("POST", "/project/projects/{parentId}/applyTemplates"): "project templates are not modelled",
    ("POST", "/project/ticketNote/{id}/markAs/"): "undocumented note flag toggle with no stated effect",
    (
        "POST",
        "/project/tickets/{parentId}/convert",
    ): "converting between ticket kinds moves it across boards: not modelled",
    ("POST", "/sales/opportunities/{parentId}/forecast"): SECOND_SPELLING,
    ("DELETE", "/sales/opportunities/{parentId}/forecast/"): SECOND_SPELLING,
    ("PATCH", "/sales/opportunities/{parentId}/forecast/"): SECOND_SPELLING,
    ("PUT", "/sales/opportunities/{parentId}/forecast/"): SECOND_SPELLING,
    ("POST", "/schedule/colors/reset"): "ConnectWise's default schedule colours are not documented",
    ("POST", "/schedule/colors/{id}/clear"): "ConnectWise's default schedule colours are not documented",
    ("GET", "/service/knowledgebasesettings"): "a tenant-wide settings singleton with no table yet",
    ("POST", "/service/knowledgebasesettings"): "a tenant-wide settings singleton with no table yet",
    ("POST", "/service/teamMembers"): "undocumented write with no list path to read it back",
    ("POST", "/service/templates/{id}/generate"): "recurring ticket templates are not modelled",
    (
        "POST",
        "/service/tickets/{parentId}/convert",
    ): "converting a service ticket into a project ticket is not modelled",
    ("POST", "/system/AllowedFileTypes/"): SECOND_SPELLING,
    ("GET", "/system/authAnvils/testConnection"): NO_PEER,
    ("PATCH", "/system/contactsync/monitoring/"): SECOND_SPELLING,
    ("POST", "/system/contactsync/monitoring/"): SECOND_SPELLING,
    (
        "GET",
        "/system/contactsync/monitoring/notificationtype/",
    ): "Microsoft 365 contact sync: no Microsoft 365 tenant here",
    ("GET", "/system/documents/uploadsample"): "an upload form sample for the web client, no API meaning",
    ("POST", "/system/googleemailsetup/{id}/testConnection"): NO_PEER,
    (
        "POST",
        "/system/info/links/{id}/resolveurl",
    ): "resolves a custom link's URL template: the template language is undocumented",
    ("POST", "/system/ldapConfigurations/testLink"): NO_PEER,
    ("GET", "/system/managementNetworkSecurities/{id}/testCredentials"): NO_PEER,
    ("POST", "/system/marketplaceimport/import"): "imports from the ConnectWise Marketplace: nothing to reach here",
    ("POST", "/system/members/{id}/linkSsoUser"): NO_PEER,
    ("POST", "/system/members/{id}/submit"): NO_PEER,
    ("POST", "/system/members/{id}/unlinkSsoUser"): NO_PEER,
    (
        "POST",
        "/system/members/{memberIdentifier}/tokens",
    ): "API keys live in the tenant settings, not in the store a reset restores",
    ("DELETE", "/system/members/{parentId}/managedDeviceAccounts/bulk"): "managed device accounts are read-only here",
    ("PUT", "/system/members/{parentId}/managedDeviceAccounts/bulk"): "managed device accounts are read-only here",
    ("POST", "/system/members/{ssoid}/deactivateIamMember"): NO_PEER,
    ("POST", "/system/mycompany/reportingServices/{id}/testConnection"): NO_PEER,
    ("POST", "/system/office365/emailSetups/{id}/authorize"): NO_PEER,
    ("POST", "/system/office365/emailSetups/{id}/testConnection"): NO_PEER,
    ("GET", "/system/quoteLinkSetup/testConnection"): NO_PEER,
    ("GET", "/system/reports/{reportName}/columns"): "report definitions are not modelled",
    ("POST", "/system/ssoConfigurations/{id}/registertoken"): NO_PEER,
    ("POST", "/system/ssoConfigurations/{id}/submitmembers"): NO_PEER,
    ("POST", "/time/accruals/{parentId}/details/"): SECOND_SPELLING,
    ("GET", "/time/timePeriodSetups/default"): "answers an untyped map whose keys ConnectWise does not document",
}
