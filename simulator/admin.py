"""The admin API under /_sim: health, reset, the request journal, and fault rules."""

from __future__ import annotations

from flask import Blueprint, Response, request

from .connectwise.errors import CwError, bad_request
from .connectwise.resources import error_response, json_response, read_json
from .fault_schema import load_fault_rules
from .journal import JournalFilter
from .mail import MailFilter
from .world import World


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

    @blueprint.post("/reset")
    def reset() -> Response:
        world.reset()
        return json_response({"reset": True})

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

    @blueprint.errorhandler(CwError)
    def cw_error(error: CwError) -> Response:
        return error_response(error)

    return blueprint
