"""The fake's OpenAPI document, generated with apispec from the schemas that validate requests and the Router.

Every path and method comes from the collection declarations through the same Router that serves
them (as docs/coverage.md does), and every success status from the endpoint index; so the
document describes exactly what the fake answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields

from .actions import WORD_PLACEHOLDERS, Action
from .endpoints import endpoint_index
from .fields import CwDateTime, Ref
from .model import Collection
from .operations import action_table
from .paging import MAX_PAGE_SIZE
from .routing import Route, Router

OPENAPI_VERSION = "3.0.3"
BINARY_TAILS = ("/image", "/download", "/thumbnail", "/pdf")  # actions that answer bytes, not JSON
API_BASE = "/v4_6_release/apis/3.0"
ERROR = "ConnectWiseError"
SECURITY = [{"basicAuth": [], "clientId": []}]
ERROR_STATUSES = {
    "400": "The request is invalid: a bad field, query parameter or body",
    "401": "No or wrong credentials, or no clientId header",
    "403": "The integrator login may not use this API",
    "404": "No such record (or parent)",
}
BODY_ERRORS = {"413": "The request body is over the server's size limit", "415": "The request body is not JSON"}
FILTERS = ("conditions", "childConditions", "customFieldConditions")


def _text(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": description}


FILTER_PARAMETERS = [
    _text("conditions", 'ConnectWise conditions, e.g. `board/name="Datto Alerts" and closedFlag=false`'),
    _text("childConditions", "conditions on an array field's elements, e.g. `communicationItems/value like '%@x'`"),
    _text("customFieldConditions", "conditions on custom fields, e.g. `caption='Serial' and value='X'`"),
]
FIELDS_PARAMETER = _text("fields", "comma-separated field paths to keep in each item")
PAGING_PARAMETERS = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}, "description": "from 1"},
    {
        "name": "pageSize",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1},
        "description": f"items per page (default 25; above {MAX_PAGE_SIZE} is cut to {MAX_PAGE_SIZE})",
    },
    {"name": "pageId", "in": "query", "schema": {"type": "integer", "minimum": 0}, "description": "forward-only"},
]
LIST_PARAMETERS = [
    *FILTER_PARAMETERS,
    _text("orderBy", "`field asc` or `field desc`, comma-separated"),
    FIELDS_PARAMETER,
    *PAGING_PARAMETERS,
]
FORWARD_ONLY = {
    "name": "pagination-type",
    "in": "header",
    "schema": {"type": "string", "enum": ["forward-only"]},
    "description": "page with `pageId` instead of `page`",
}
PATCH_BODY = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"type": "string", "enum": ["add", "replace", "remove"]},
            "path": {"type": "string", "example": "summary"},
            "value": {},
        },
    },
}
SEARCH_BODY = {
    "type": "object",
    "properties": {name: {"type": "string"} for name in (*FILTERS, "orderBy")},
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "errors"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "errors": {
            "type": "array",
            "nullable": True,
            "items": {
                "type": "object",
                "required": ["code", "message", "resource", "field"],
                "properties": {name: {"type": "string"} for name in ("code", "message", "resource", "field")},
            },
        },
    },
}
REFERENCE = {
    "type": "object",
    "nullable": True,
    "description": "a reference by id, or by name or identifier",
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "identifier": {"type": "string"}},
}


def _reference_property(self: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: references as ConnectWise writes them."""
    return dict(REFERENCE) if isinstance(field, Ref) else {}


def schema_name(collection: Collection) -> str:
    """A component name per collection: `service/boards/{parentId}/statuses` -> `ServiceBoardsStatuses`."""
    return "".join(part[:1].upper() + part[1:] for part in collection.table.replace("/", " ").split())


def openapi_document(collections: Iterable[Collection], router: Router, version: str) -> dict[str, Any]:
    """The OpenAPI 3 document of the ConnectWise face (servers are filled in per request)."""
    plugin = MarshmallowPlugin()
    spec = APISpec("cwsim: a fake ConnectWise Manage", version, OPENAPI_VERSION, plugins=[plugin])
    plugin.map_to_openapi_type(CwDateTime, "string", "date-time")
    plugin.converter.add_attribute_function(_reference_property)  # type: ignore[union-attr]
    spec.components.security_scheme("basicAuth", {"type": "http", "scheme": "basic"})
    spec.components.security_scheme("clientId", {"type": "apiKey", "in": "header", "name": "clientId"})
    spec.components.schema(ERROR, ERROR_SCHEMA)
    for collection in collections:
        # A subclass per collection: apispec keeps one component per schema class, and two collections
        # (the configuration links of tickets and of agreements) share one.
        name = schema_name(collection)
        spec.components.schema(name, schema=type(name, (collection.schema_class,), {}))
        for path, operations in _collection_paths(collection, router).items():
            spec.path(path=path, operations=operations)
    for action in action_table().actions:
        spec.path(path=action.template, operations={action.method.lower(): _action_operation(action)})
    spec.path(path="/system/info", operations={"get": _operation("system info", 200, {"type": "object"})})
    document = spec.to_dict()
    document["security"] = SECURITY
    return document


def _collection_paths(collection: Collection, router: Router) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for path in (collection.path, *collection.aliases):
        paths.update(_paths_of(collection, path, router))
    return paths


def _paths_of(collection: Collection, template: str, router: Router) -> dict[str, dict[str, Any]]:
    """The operations of one path that shows `collection` (its own or an alias)."""
    parent_id = 1 if collection.parent is not None else None
    base = "/" + template
    item = {"$ref": f"#/components/schemas/{schema_name(collection)}"}
    paths: dict[str, dict[str, Any]] = {}

    def add(path: str, route: Route, build: dict[str, Any]) -> None:
        for method in router.allowed_methods(route):
            operations = paths.setdefault(path, {})
            operations[method.lower()] = build[method](router.success_status(route, method))

    name = collection.resource
    listing = [*LIST_PARAMETERS, FORWARD_ONLY] if collection.forward_only else LIST_PARAMETERS
    add(
        base,
        Route(collection, parent_id, None, None, template),
        {
            "GET": lambda status: _operation(f"list {name}s", status, {"type": "array", "items": item}, listing),
            "POST": lambda status: _operation(f"create a {name}", status, item, body=item),
        },
    )
    count = {"type": "object", "required": ["count"], "properties": {"count": {"type": "integer"}}}
    add(
        base + "/count",
        Route(collection, parent_id, None, "count", template),
        {"GET": lambda status: _operation(f"count {name}s", status, count, FILTER_PARAMETERS)},
    )
    add(
        base + "/count/info",
        Route(collection, parent_id, None, "count/info", template),
        {"GET": lambda status: _operation(f"count {name}s (the /info projection)", status, count, FILTER_PARAMETERS)},
    )
    add(
        base + "/search",
        Route(collection, parent_id, None, "search", template),
        {
            "POST": lambda status: _operation(
                f"search {name}s", status, {"type": "array", "items": item}, PAGING_PARAMETERS, SEARCH_BODY
            )
        },
    )
    add(
        base + "/{id}",
        Route(collection, parent_id, 1, None, template),
        {
            "GET": lambda status: _operation(f"get a {name}", status, item, [FIELDS_PARAMETER]),
            "PUT": lambda status: _operation(f"replace a {name}", status, item, body=item),
            "PATCH": lambda status: _operation(f"patch a {name}", status, item, body=PATCH_BODY),
            "DELETE": lambda status: _operation(f"delete a {name}", status, None),
        },
    )
    add(
        base + "/{id}/info",
        Route(collection, parent_id, 1, "info", template),
        {"GET": lambda status: _operation(f"get a {name}'s info", status, {"type": "object"})},
    )
    for path, operations in paths.items():
        names = [name.strip("{}") for name in PATH_NAMES.findall(path)]
        for operation in operations.values():
            operation["parameters"] = [_path_parameter(n) for n in names] + operation.get("parameters", [])
    return paths


PATH_NAMES = re.compile(r"\{[^}]+\}")


def _path_parameter(name: str) -> dict[str, Any]:
    if name in WORD_PLACEHOLDERS:
        return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _action_operation(action: Action) -> dict[str, Any]:
    """An action (actions.py, binary.py): its path ids, and the body its kind takes."""
    body: dict[str, Any] | None = None
    if action.template.endswith("/bulk"):
        ids = {"type": "object", "properties": {"ids": {"type": "array", "items": {"type": "integer"}}}}
        body = ids if action.method == "DELETE" else {"type": "array", "items": {"type": "object"}}
    elif action.method == "PATCH":
        body = PATCH_BODY
    elif action.method in ("POST", "PUT"):
        body = {"type": "object"}
    binary = action.template.endswith(BINARY_TAILS)
    status = endpoint_index().success(action.template, action.method)
    operation = _operation(
        action.handler.__doc__ or action.template, status, None if binary else {"type": "object"}, body=body
    )
    names = re.findall(r"\{([^}]+)\}", action.template)
    operation["parameters"] = [_path_parameter(name) for name in names]
    return operation


def _operation(
    summary: str,
    status: int,
    answer: dict[str, Any] | None,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    responses: dict[str, Any] = {str(status): {"description": "success"}}
    if answer is not None and status != 204:
        responses[str(status)]["content"] = {"application/json": {"schema": answer}}
    errors = {**ERROR_STATUSES, **(BODY_ERRORS if body is not None else {})}
    for code, description in errors.items():
        responses[code] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}},
        }
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation
