"""The admin API under /_sim: health, stats, reset, the journal, mail, faults, the clock, the OpenAPI document,
the fleet (datto/control.py), stubs (stub_hooks.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .clock import ClockMode, parse_moment
from .connectwise.endpoints import endpoint_index
from .connectwise.errors import CwError, bad_request
from .connectwise.openapi import API_BASE, openapi_document
from .connectwise.resources import error_response, json_response, read_json
from .connectwise.routing import Router
from .datto.control import add_fleet_routes, load
from .datto.schemas import Duration
from .fault_schema import load_fault_rules
from .journal import JournalFilter
from .mail import MailFilter
from .stub_hooks import add_stub_routes
from .timekeeping import ClockConflict
from .world import World

MAX_ADVANCE = timedelta(days=366)


class Moment(fields.Field):
    """An ISO-8601 date-time with an offset or Z."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return parse_moment(value)
        except ValueError as error:
            raise ValidationError(str(error)) from error


class ClockRequestSchema(Schema):
    """`POST /_sim/clock`: `{"advance": "PT6H"}`, `{"set": "2026-02-01T00:00:00Z"}` or `{"mode": "scaled", "rate": 60}`.

    A mode change may come with an advance or a set; it is applied first.
    """

    advance = Duration()
    set = Moment()
    mode = fields.String(validate=validate.OneOf([mode.value for mode in ClockMode]))
    rate = fields.Float(allow_nan=False, validate=validate.Range(min=0, min_inclusive=False, max=1_000_000))

    @validates_schema
    def one_move(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "advance" in data and "set" in data:
            raise ValidationError("give advance or set, not both", "set")
        if not data:
            raise ValidationError("give advance, set or mode", "advance")
        if data.get("advance", 0) > MAX_ADVANCE.total_seconds():
            raise ValidationError(f"advance at most {MAX_ADVANCE.days} days at a time", "advance")
        if "rate" in data and data.get("mode") != ClockMode.SCALED:
            raise ValidationError('a rate goes with mode "scaled"', "rate")


def journal_filter() -> JournalFilter:
    return JournalFilter(
        method=request.args.get("method") or None,
        path=request.args.get("path") or None,
        status=_number("status"),
        since=_number("since"),
    )


def mail_filter() -> MailFilter:
    return MailFilter(
        to=request.args.get("to") or None,
        subject=request.args.get("subject") or None,
        since=_number("since"),
    )


def _number(name: str) -> int | None:
    text = request.args.get(name)
    if text in (None, ""):
        return None
    try:
        return int(text)
    except ValueError as error:
        raise bad_request(f"{name} must be a whole number, not {text!r}.", name) from error


def admin_blueprint(world: World) -> Blueprint:
    blueprint = Blueprint("admin", __name__, url_prefix="/_sim")

    @blueprint.get("/health")
    def health() -> Response:
        settings = world.backend.settings
        return json_response({"status": "ok", "companyId": settings.company_id, "seed": world.options.seed})

    @blueprint.get("/stats")
    def stats() -> Response:
        """Requests served, tickets created, notes added and mail caught: in total and per second."""
        return json_response(world.stats.as_json())

    @blueprint.post("/reset")
    def reset() -> Response:
        """Back to the seed state; `{"startup": true}` also back to the tenant the server started with."""
        body = request.get_json(silent=True) if request.content_length else None
        world.reset(startup=bool(isinstance(body, dict) and body.get("startup")))
        return json_response({"reset": True})

    @blueprint.post("/seed")
    def use_seed() -> Response:
        """`{"seed": 7}`: a tenant and fleet generated from that seed, until a reset to startup."""
        body = read_json()
        seed = body.get("seed") if isinstance(body, dict) else None
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise bad_request('seed must be a whole number, e.g. {"seed": 7}.', "seed")
        world.use_seed(seed)
        return json_response({"seed": seed, "companyId": world.backend.settings.company_id})

    @blueprint.get("/errors")
    def errors() -> Response:
        """Tracebacks of unexpected server errors (500s): `count` in all, `errors` after the first `since`."""
        since = max(0, _number("since") or 0)
        limit = _number("limit")
        found = world.errors[since:]
        return json_response({"count": len(world.errors), "errors": found if limit is None else found[: max(0, limit)]})

    @blueprint.get("/facts")
    def facts() -> Response:
        """The ready file's contents (URLs, ports, credentials): how a client attaches given only the URL."""
        describe = current_app.extensions.get("cwsim.facts")
        if describe is None:
            raise CwError(404, "NotFound", "This app is not served by `cwsim serve`, so it has no facts.")
        return json_response(describe())

    @blueprint.post("/additions/<int:addition_id>/invoice")
    def invoice_addition(addition_id: int) -> Response:
        """Mark an agreement addition invoiced, as running an invoice in ConnectWise would."""
        addition = world.backend.mark_invoiced(addition_id)
        return json_response({"id": addition["id"], "invoiced": True, "billedQuantity": addition["billedQuantity"]})

    @blueprint.get("/requests")
    def requests_list() -> Response:
        return json_response([entry.as_json() for entry in world.journal.entries(journal_filter())])

    @blueprint.get("/requests/count")
    def requests_count() -> Response:
        return json_response({"count": len(world.journal.entries(journal_filter()))})

    @blueprint.delete("/requests")
    def requests_clear() -> Response:
        world.journal.clear()
        return json_response(None, 204)

    @blueprint.get("/mail")
    def mail_list() -> Response:
        return json_response([mail.as_json() for mail in world.mailbox.messages(mail_filter())])

    @blueprint.get("/mail/count")
    def mail_count() -> Response:
        return json_response({"count": len(world.mailbox.messages(mail_filter()))})

    @blueprint.delete("/mail")
    def mail_clear() -> Response:
        world.mailbox.clear()
        return json_response(None, 204)

    @blueprint.get("/faults")
    def faults_list() -> Response:
        return json_response(world.faults.describe())

    @blueprint.post("/faults")
    def faults_add() -> Response:
        document = read_json()
        rules = world.faults.add(load_fault_rules(document, world.backend.collections.keys()))
        described = world.faults.describe(rules)
        return json_response(described if isinstance(document, list) else described[0], 201)

    @blueprint.get("/faults/<int:rule_id>")
    def faults_one(rule_id: int) -> Response:
        rule = world.faults.find(rule_id)
        if rule is None:
            raise CwError(404, "NotFound", f"Fault rule {rule_id} not found")
        return json_response(world.faults.describe([rule])[0])

    @blueprint.delete("/faults/<int:rule_id>")
    def faults_remove(rule_id: int) -> Response:
        if not world.faults.remove(rule_id):
            raise CwError(404, "NotFound", f"Fault rule {rule_id} not found")
        return json_response(None, 204)

    @blueprint.delete("/faults")
    def faults_clear() -> Response:
        world.faults.clear()
        return json_response(None, 204)

    @blueprint.get("/clock")
    def clock() -> Response:
        return json_response(world.time.state())

    @blueprint.post("/clock")
    def clock_move() -> Response:
        data = load(ClockRequestSchema().load, read_json(), "clock")
        reports = []
        if "mode" in data:
            reports.append(world.time.set_mode(data["mode"], data.get("rate")))
        try:
            if "advance" in data:
                reports.append(world.time.advance(timedelta(seconds=data["advance"])))
            if "set" in data:
                reports.append(world.time.set(data["set"]))
        except ClockConflict as error:
            raise CwError(409, "Conflict", str(error)) from error
        body: dict[str, Any] = world.time.state()
        body["events"] = sum(report.events for report in reports)
        body["flushed"] = all(report.flushed for report in reports)
        body["sink"] = world.fleet.sink.stats()
        return json_response(body)

    document: dict[str, Any] = {}

    @blueprint.get("/openapi.json")
    def openapi() -> Response:
        """The ConnectWise face's OpenAPI document, its server being the origin that was asked."""
        if not document:
            collections = list(world.backend.collections.values())
            router = Router(collections, endpoint_index())
            document.update(openapi_document(collections, router, world.backend.settings.version))
        return json_response({**document, "servers": [{"url": request.host_url.rstrip("/") + API_BASE}]})

    add_fleet_routes(blueprint, world)
    add_stub_routes(blueprint, world.stubs)

    @blueprint.errorhandler(CwError)
    def cw_error(error: CwError) -> Response:
        return error_response(error)

    return blueprint
