"""`POST /system/bundles` (and `/count`): several reads in one request, each answered on its own.

A request names its records by `resourceType`, ConnectWise's model name in any case (`ticket`,
`Company`, `purchaseorderlineitem`); its `apiRequest` reads one record (`id`), or a list (under
`parentId` for a child model) with `filters` (conditions, childConditions, customFieldConditions,
orderBy), `page` and `fields`. Each result carries its own `statusCode` and, on failure, the
ConnectWise error it would have had alone. Writes (`apiRequest.entity`) are not bundled here.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from .action_steps import body_object
from .actions import Action, ActionCall, Answer
from .conditions import ConditionError, parse
from .errors import CwError, FieldProblem, bad_request, invalid_object
from .model import Collection
from .paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from .permissions import check_api
from .query import ListQuery, project
from .schema_index import schema_index, table_of

if TYPE_CHECKING:
    from .backend import Backend

MAX_REQUESTS = 100  # requests in one bundle


@cache
def _tables_by_model() -> dict[str, str]:
    """`ticket` -> `service/tickets`: each item model's home table, by the model's name folded."""
    homes: dict[str, str] = schema_index()["homes"]
    return {model.casefold(): table_of(home.replace("{id}", "{parentId}")) for model, home in homes.items()}


def resource_collection(backend: Backend, resource_type: Any) -> Collection:
    table = _tables_by_model().get(str(resource_type or "").casefold())
    if table is None or table not in backend.collections:
        raise bad_request(f"resourceType {resource_type!r} names no ConnectWise model the fake serves.", "resourceType")
    return backend.collection(table)


def _get(source: dict[str, Any], name: str) -> Any:
    """A key of a bundle object in any case (ConnectWise's own examples write `ResourceType` and `resourceType`)."""
    folded = name.casefold()
    return next((value for key, value in source.items() if str(key).casefold() == folded), None)


def _condition(text: Any, name: str) -> Any:
    if text in (None, ""):
        return None
    if not isinstance(text, str):
        raise bad_request(f"{name} must be a string.", name)
    try:
        return parse(text)
    except ConditionError as error:
        raise bad_request(f"{name}: {error}", name) from error


def _order_by(text: Any) -> list[tuple[str, bool]]:
    keys = []
    for part in str(text or "").split(","):
        words = part.split()
        if words:
            keys.append((words[0], len(words) > 1 and words[1].lower() == "desc"))
    return keys


def _number(value: Any, name: str, default: int, minimum: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise bad_request(f"{name} must be a whole number of at least {minimum}.", name)
    return value


def answer_one(call: ActionCall, request: dict[str, Any], counting: bool) -> dict[str, Any]:
    """One bundled read -> its BundleResult (entities and count, or the error)."""
    backend = call.backend
    resource_type = _get(request, "resourceType") or _get(request, "resourceName")
    result: dict[str, Any] = {
        "sequenceNumber": _get(request, "sequenceNumber"),
        "resourceType": resource_type,
        "version": _get(request, "version"),
    }
    try:
        api_request = _get(request, "apiRequest") or {}
        if not isinstance(api_request, dict):
            raise bad_request("apiRequest must be an object.", "apiRequest")
        if _get(api_request, "entity") is not None:
            raise bad_request("Bundled writes are not served by the fake; send each write on its own.", "entity")
        collection = resource_collection(backend, resource_type)
        check_api(backend, call.principal, collection.api)  # each read as if sent alone
        parent_id = _get(api_request, "parentId")
        if collection.parent is not None and not isinstance(parent_id, int):
            raise bad_request(
                f"resourceType {resource_type!r} lives under a parent: give apiRequest.parentId.", "parentId"
            )
        parent_id = parent_id if collection.parent is not None else None
        renderer = backend.renderer(collection)
        fields = [f.strip() for f in str(_get(api_request, "fields") or "").split(",") if f.strip()]
        record_id = _get(api_request, "id")
        if record_id:
            record = backend.get(collection, record_id, parent_id, call.principal)
            entities = [renderer.render(record, call.base_url)]
            total = 1
        else:
            filters = _get(api_request, "filters") or {}
            page = _get(api_request, "page") or {}
            if not isinstance(filters, dict) or not isinstance(page, dict):
                raise bad_request("filters and page must be objects.", "filters")
            query = ListQuery(
                conditions=_condition(_get(filters, "conditions"), "conditions"),
                child_conditions=_condition(_get(filters, "childConditions"), "childConditions"),
                custom_field_conditions=_condition(_get(filters, "customFieldConditions"), "customFieldConditions"),
                order_by=_order_by(_get(filters, "orderBy")),
                page=_number(_get(page, "page"), "page", 1, 1),
                page_size=min(_number(_get(page, "pageSize"), "pageSize", DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE),
            )
            if counting:
                entities, total = [], backend.count(collection, query, parent_id, call.principal)
            else:
                found = backend.query(collection, query, parent_id, call.principal)
                entities = [renderer.render(record, call.base_url) for record in found.items]
                total = len(entities)
        if fields:
            entities = [project(entity, fields) for entity in entities]
        result.update({"entities": entities, "count": total, "success": True, "statusCode": 200})
    except CwError as error:
        result.update({"entities": [], "count": 0, "success": False, "statusCode": error.status, "error": error.body()})
    return result


def bundle(counting: bool) -> Any:
    """`POST /system/bundles[/count]` `{requests: [...]}` -> `{results: [...]}`, one per request, in order."""

    def answer(call: ActionCall) -> Answer:
        body = body_object(call, "BundleRequestsCollection")
        requests = _get(body, "requests")
        if not isinstance(requests, list) or not requests or not all(isinstance(r, dict) for r in requests):
            problem = FieldProblem("requests", "requests must be a non-empty list of bundle requests.")
            raise invalid_object("BundleRequestsCollection", [problem])
        if len(requests) > MAX_REQUESTS:
            raise invalid_object("BundleRequestsCollection", [FieldProblem("requests", f"At most {MAX_REQUESTS}.")])
        return {"results": [answer_one(call, request, counting) for request in requests]}, 200

    return answer


BUNDLE_ACTIONS: list[Action] = [
    Action("POST", "/system/bundles", bundle(counting=False), "", api="System"),
    Action("POST", "/system/bundles/count", bundle(counting=True), "", api="System"),
]
