"""The admin API's whole-world routes: GET/PUT /_sim/state, GET /_sim/data.json and POST /_sim/tenant."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from .connectwise.errors import CwError, bad_request
from .connectwise.resources import error_response, json_response, read_json
from .connectwise.tenant_file import TenantFileError, TenantSource, load_tenant, tenant_source
from .state_problems import StateProblems
from .world import World

MAX_ERRORS_IN_MESSAGE = 5


def _invalid(code: str, summary: str, problems: list[str], errors: list[dict[str, Any]]) -> Response:
    shown = problems[:MAX_ERRORS_IN_MESSAGE]
    more = len(problems) - len(shown)
    message = summary + "\n" + "\n".join(shown) + (f"\n(and {more} more)" if more > 0 else "")
    return json_response({"code": code, "message": message, "errors": errors}, 400)


def state_blueprint(world: World) -> Blueprint:
    blueprint = Blueprint("state", __name__, url_prefix="/_sim")

    @blueprint.get("/state")
    def state_get() -> Response:
        return json_response(world.state.dump())

    @blueprint.get("/data.json")
    def data_json() -> Response:
        """Every part's view: what the dashboard shows, as one document (`?parts=fleet,clock` for some)."""
        names = [name.strip() for name in (request.args.get("parts") or "").split(",") if name.strip()] or None
        unknown = [name for name in names or () if name not in world.state.views]
        if unknown:
            raise bad_request(
                f"No part named {', '.join(unknown)}; the parts are {', '.join(world.state.views)}.", "parts"
            )
        response = json_response(world.state.view(names))
        response.headers["Cache-Control"] = "no-store"
        return response

    @blueprint.put("/state")
    def state_put() -> Response:
        try:
            notes = world.state.restore(read_json(int64=True))  # restored records are rendered back
        except StateProblems as error:
            errors = [{"message": problem} for problem in error.problems]
            return _invalid("InvalidState", "The state cannot be restored:", error.problems, errors)
        return json_response({"restored": True, "companyId": world.backend.settings.company_id, "notes": notes})

    @blueprint.post("/tenant")
    def tenant_post() -> Response:
        """A tenant file in the body (YAML or JSON; `?name=` labels it in error messages), or a
        built-in tenant by name (`?builtin=datto-ready`, no body)."""
        builtin = request.args.get("builtin")
        name = request.args.get("name") or builtin or "tenant"
        try:
            if builtin is not None:
                source = tenant_source(builtin, directory=None, allow_paths=False)
            else:
                source = TenantSource(request.get_data(cache=True).decode("utf-8", errors="replace"), name)
            backend = load_tenant(source, world.clock)
        except TenantFileError as error:
            problems = [str(problem) for problem in error.problems]
            errors = [{**problem.as_json(), "text": str(problem)} for problem in error.problems]
            return _invalid("InvalidTenant", f"The tenant {name} cannot be loaded:", problems, errors)
        world.load_tenant(backend)
        counts = {table: len(rows.records) for table, rows in backend.store.tables.items()}
        return json_response({"loaded": True, "companyId": backend.settings.company_id, "records": counts})

    @blueprint.errorhandler(CwError)
    def cw_error(error: CwError) -> Response:
        return error_response(error)

    return blueprint
