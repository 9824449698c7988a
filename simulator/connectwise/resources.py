"""The HTTP face of the ConnectWise fake: parse the request, call the backend, render the answer."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from flask import Blueprint, Response, request

from . import conditions
from .auth import Principal, authenticate
from .conditions import ConditionError
from .errors import CwError, bad_request, method_not_allowed, not_implemented, unknown_path
from .operations import action_table
from .paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, link_header
from .permissions import check_api
from .query import ListQuery, project
from .routing import Route, Router

if TYPE_CHECKING:
    from .backend import Backend

JSON_TYPE = "application/json; charset=utf-8"
HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
PAGING_PARAMS = {"page", "pageid"}
MAX_JSON_DEPTH = 64  # as deep as .NET's JSON readers go by default; orjson cannot write past ~250 anyway
JSON_MIMETYPES = frozenset({"application/json", "text/json"})
INT64 = range(-(2**63), 2**63)  # .NET's long; orjson cannot write a larger integer back either
LONG_DIGITS = re.compile(rb"\d{19}")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer; `None` makes an empty body (DELETE's 204)."""
    if data is None and status == 204:
        return Response(b"", status, headers=headers)
    return Response(orjson.dumps(data), status, headers=headers, content_type=JSON_TYPE)


def error_response(error: CwError) -> Response:
    return json_response(error.body(), error.status, error.headers)


def read_json(int64: bool = False) -> Any:
    """The request body as JSON, or a 4xx saying why it is not (400 invalid or too deep, 415 not JSON).

    `int64`: integers past 64 bits are a 400 too (bodies stored and rendered back, as records are).
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    content_type = request.environ.get("CONTENT_TYPE")
    mimetype = request.mimetype if content_type and not content_type.startswith("application/json") else None
    if mimetype and mimetype not in JSON_MIMETYPES and not mimetype.endswith("+json"):
        raise CwError(
            415,
            "UnsupportedMediaType",
            f"The request body must be JSON (Content-Type: application/json), not {mimetype}.",
            [
                {
                    "code": "InvalidField",
                    "message": "Send application/json.",
                    "resource": "request",
                    "field": "Content-Type",
                }
            ],
        )
    try:
        document = json.loads(raw)
    except RecursionError as error:
        raise too_deep() from error
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request(f"The request body is not valid JSON: {error}", "body") from error
    # Both checks walk the document; the byte scans before them keep ordinary bodies off that path.
    if raw.count(b"[") + raw.count(b"{") >= MAX_JSON_DEPTH or (int64 and LONG_DIGITS.search(raw)):
        problem = out_of_bounds(document, MAX_JSON_DEPTH, int64)
        if problem is not None:
            raise bad_request(f"The request body {problem}.", "body")
    return document


def too_deep() -> CwError:
    return bad_request(f"The request body is nested more than {MAX_JSON_DEPTH} levels deep.", "body")


def out_of_bounds(document: Any, depth_limit: int, int64: bool = True) -> str | None:
    """What in a JSON document no ConnectWise server takes: nesting past `depth_limit`, an integer past
    64 bits (when `int64`). Walked without recursion."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            if int64 and isinstance(value, int) and value not in INT64:
                return f"has an integer outside the 64-bit range ({str(value)[:30]}...)"
            continue
        if depth > depth_limit:
            return f"is nested more than {depth_limit} levels deep"
        stack.extend((child, depth + 1) for child in children)
    return None


class Params:
    """Query parameters by case-insensitive name (ASP.NET binds them that way)."""

    def __init__(self) -> None:
        self.items = list(request.args.items(multi=True))
        self.by_name = {name.casefold(): value for name, value in reversed(self.items)}

    def get(self, name: str) -> str | None:
        return self.by_name.get(name.casefold())

    def integer(self, name: str, default: int, minimum: int) -> int:
        text = self.get(name)
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError as error:
            raise bad_request(f"{name} must be a whole number, not {text!r}.", name) from error
        if value < minimum:
            raise bad_request(f"{name} must be at least {minimum}.", name)
        return value


def parse_condition(text: str | None, name: str) -> conditions.Node | None:
    if text is None:
        return None
    try:
        return conditions.parse(text)
    except ConditionError as error:
        raise bad_request(f"{name}: {error}", name) from error


def parse_order_by(text: str | None) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    for part in (text or "").split(","):
        words = part.split()
        if not words:
            continue
        direction = words[1].lower() if len(words) > 1 else "asc"
        if len(words) > 2 or direction not in ("asc", "desc"):
            raise bad_request(f'orderBy: expected "field asc" or "field desc", got {part.strip()!r}.', "orderBy")
        keys.append((words[0], direction == "desc"))
    return keys


def list_query(params: Params, body: dict[str, Any] | None = None) -> ListQuery:
    """Filters from the query string (or a search body) and paging from the query string."""
    source = {key.casefold(): value for key, value in (body or {}).items()} if body is not None else None

    def pick(name: str) -> Any:
        if source is not None:
            value = source.get(name.casefold())
            if value is not None and not isinstance(value, str):
                raise bad_request(f"{name} must be a string.", name)
            return value
        return params.get(name)

    fields = params.get("fields")
    return ListQuery(
        conditions=parse_condition(pick("conditions"), "conditions"),
        child_conditions=parse_condition(pick("childConditions"), "childConditions"),
        custom_field_conditions=parse_condition(pick("customFieldConditions"), "customFieldConditions"),
        order_by=parse_order_by(pick("orderBy")),
        fields=[f.strip() for f in fields.split(",") if f.strip()] if fields else None,
        page=params.integer("page", 1, 1),
        page_size=min(params.integer("pageSize", DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE),
        forward_only=(request.headers.get("pagination-type") or "").strip().lower() == "forward-only",
        page_id=params.integer("pageId", 0, 0) or None,
    )


class ConnectWiseApi:
    """Serves every declared collection of the current backend over HTTP."""

    def __init__(self, backend_of: Callable[[], Backend], router: Router) -> None:
        self.backend_of = backend_of
        self.router = router
        self.singletons: dict[str, Callable[[Backend, Principal], Any]] = {"system/info": system_info}

    def handle(self, codebase: str, path: str) -> Response:
        backend = self.backend_of()
        if codebase.casefold() not in accepted_codebases(backend):
            raise unknown_path(request.method, request.path)
        principal = authenticate(request.headers, backend)
        method = request.method
        singleton = self.singletons.get(path.strip("/").casefold())
        if singleton is not None:
            if method != "GET":
                raise method_not_allowed(method, request.path, ["GET"])
            check_api(backend, principal, "System")
            return json_response(singleton(backend, principal))
        base_url = f"{request.scheme}://{request.host}/{codebase}/apis/3.0"
        acted = action_table().answer(backend, principal, path, base_url, lambda: read_json(int64=True), json_response)
        if acted is not None:
            return acted
        route = self.router.resolve(path)
        if route is None:
            raise self._unserved(method, path)
        allowed = self.router.allowed_methods(route)
        if method not in allowed:
            raise self._unserved(method, path, allowed)
        check_api(backend, principal, route.collection.api)
        if route.ancestor_ids:
            backend.check_ancestors(route.collection, route.parent_id, route.ancestor_ids, principal)
        status = self.router.success_status(route, method)
        return self._serve(backend, route, method, principal, base_url, status)

    def _unserved(self, method: str, path: str, allowed: list[str] | None = None) -> CwError:
        """A real endpoint we do not serve is loud about it; anything else is a plain 404/405."""
        endpoint = self.router.index.match(path)
        if endpoint is not None and method in endpoint.methods:
            not_an_id = self._not_an_id(path, endpoint.template, method)
            if not_an_id is not None:
                return not_an_id
            return not_implemented(method, "/" + path.strip("/"))
        if allowed:
            return method_not_allowed(method, request.path, allowed)
        if endpoint is not None:
            return method_not_allowed(method, request.path, list(endpoint.methods))
        return unknown_path(method, request.path)

    def _not_an_id(self, path: str, template: str, method: str) -> CwError | None:
        """A served path with a word where it takes an integer id (`service/tickets/abc`): a 400 saying so."""
        given, wanted = _segments(path), _segments(template)
        filled = ["1" if part.startswith("{") else part for part in wanted]
        route = self.router.resolve("/".join(filled))
        if route is None or method not in self.router.allowed_methods(route) or len(given) != len(wanted):
            return None
        for value, part in zip(given, wanted, strict=True):
            takes_an_id = part.startswith("{") and (part == "{id}" or part.lower().endswith("id}"))
            if takes_an_id and not value.isdigit():
                name = part.strip("{}")
                return bad_request(f"{name} must be a whole number (the id of a record), not {value!r}.", name)
        return None

    def _serve(
        self, backend: Backend, route: Route, method: str, principal: Principal, base_url: str, status: int
    ) -> Response:
        collection, parent_id = route.collection, route.parent_id
        renderer = backend.renderer(collection)
        if route.action in ("count", "count/info"):
            count = backend.count(collection, list_query(Params()), parent_id, principal)
            return json_response({"count": count}, status)
        if route.action == "info":
            record = backend.get(collection, route.record_id, parent_id, principal)
            return json_response(backend.renderer(backend.projection(collection)).render(record, base_url), status)
        if route.action == "search":
            body = read_json(int64=True)
            if body is not None and not isinstance(body, dict):
                raise bad_request("The search body must be a JSON object with conditions and orderBy.", "body")
            return self._list(backend, route, list_query(Params(), body or {}), base_url, status, principal)
        if route.record_id is None:
            if method == "GET":
                return self._list(backend, route, list_query(Params()), base_url, status, principal)
            record = backend.create(collection, read_json(int64=True), principal, parent_id)
            return json_response(renderer.render(record, base_url), status)
        if method == "GET":
            record = backend.get(collection, route.record_id, parent_id, principal)
            rendered = renderer.render(record, base_url)
            fields = Params().get("fields")
            if fields:
                rendered = project(rendered, [f.strip() for f in fields.split(",") if f.strip()])
            return json_response(rendered, status)
        if method == "DELETE":
            backend.delete(collection, route.record_id, principal, parent_id)
            return json_response(None, status)
        body = read_json(int64=True)
        if method == "PUT":
            record = backend.replace(collection, route.record_id, body, principal, parent_id)
        else:
            record = backend.patch(collection, route.record_id, body, principal, parent_id)
        return json_response(renderer.render(record, base_url), status)

    def _list(
        self, backend: Backend, route: Route, query: ListQuery, base_url: str, status: int, principal: Principal
    ) -> Response:
        page = backend.query(route.collection, query, route.parent_id, principal)
        renderer = backend.renderer(route.collection)
        items = [renderer.render(record, base_url) for record in page.items]
        if query.fields:
            items = [project(item, query.fields) for item in items]
        headers = {}
        if not query.forward_only or route.collection.forward_only:
            headers["Link"] = self._link(route, query, page.links, base_url)
        return json_response(items, status, headers)

    def _link(self, route: Route, query: ListQuery, links: dict[str, str], base_url: str) -> str:
        params = Params()
        kept = [(name, value) for name, value in params.items if name.casefold() not in PAGING_PARAMS]
        if params.get("pageSize") is None:
            kept.insert(0, ("pageSize", str(query.page_size)))
        path = request.path.split("/apis/3.0", 1)[1].rstrip("/")
        url = f"{base_url}{path}"
        return link_header(url, kept, links, "pageId" if query.forward_only else "page")


def _segments(path: str) -> list[str]:
    return [part for part in path.strip("/").split("/") if part]


def accepted_codebases(backend: Backend) -> set[str]:
    return {"v4_6_release", backend.settings.codebase.strip("/").casefold()}


def system_info(backend: Backend, principal: Principal) -> dict[str, Any]:
    return {
        "version": backend.settings.version,
        "isCloud": False,
        "serverTimeZone": "Coordinated Universal Time",
        "licenseBits": [{"name": "ServiceDesk", "activeFlag": True}, {"name": "Finance", "activeFlag": True}],
        "cloudRegion": "NA",
    }


def company_info(backend: Backend, company_id: str) -> dict[str, Any] | None:
    """The anonymous codebase lookup; an unknown company is `null`, as ConnectWise answers."""
    settings = backend.settings
    if company_id.casefold() != settings.company_id.casefold():
        return None
    return {
        "CompanyName": settings.company_name,
        "Codebase": settings.codebase,
        "VersionCode": "v" + settings.version.lstrip("v").rsplit(".", 1)[0],
        "VersionNumber": settings.version,
        "CompanyID": settings.company_id,
        "IsCloud": False,
        "SiteUrl": request.host,
    }


def connectwise_blueprint(api: ConnectWiseApi) -> Blueprint:
    blueprint = Blueprint("connectwise", __name__)

    @blueprint.route("/login/companyinfo/<company_id>", methods=["GET"])
    def companyinfo(company_id: str) -> Response:
        return json_response(company_info(api.backend_of(), company_id))

    @blueprint.route("/<codebase>/apis/3.0/<path:path>", methods=HTTP_METHODS)
    def serve(codebase: str, path: str) -> Response:
        return api.handle(codebase, path)

    @blueprint.errorhandler(CwError)
    def cw_error(error: CwError) -> Response:
        return error_response(error)

    return blueprint
