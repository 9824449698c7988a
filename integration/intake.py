"""The alert intake: `POST /alerts` (acknowledged once durably queued), `GET /status`, `GET /health`;
`GET /status/finished` lists finished deliveries with their lag, for a load test's poller.

    app = create_intake_app(outbox, IntakeSettings(), status=board, on_queued=doorbell.ring)

An event or a batch is checked as a whole: any bad field is a 400 naming each one (with its index
in a batch) and nothing is stored; otherwise every event goes into the outbox in one transaction,
and only then does the intake answer 202. Re-delivered events (the same `eventId`) are
acknowledged again and stored once. Usage records are acknowledged and ignored.
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import orjson
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from .alerts import alert_event
from .intake_schema import check_batch
from .outbox import FINISHED_PAGE, Outbox
from .settings import IntakeSettings
from .status import IntakeCounters, StatusBoard

__all__ = ["create_intake_app"]

log = logging.getLogger("cwsim.integration.intake")

MAX_FINISHED_PAGE = 10_000
FINISHED_COLUMNS = ("id", "finished_at", "lag_seconds", "state", "ticket")


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def _error(status: int, code: str, message: str, errors: list[dict[str, str]] | None = None) -> Response:
    return _json({"code": code, "message": message, "errors": errors}, status)


def create_intake_app(
    outbox: Outbox,
    settings: IntakeSettings,
    *,
    status: StatusBoard | None = None,
    counters: IntakeCounters | None = None,
    on_queued: Callable[[], object] | None = None,
) -> Flask:
    """The intake's Flask app over one outbox; `on_queued` is called after new events are stored (wakes workers)."""
    app = Flask("cwsim.integration.intake")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    token = settings.token.reveal().encode() if settings.token else b""

    @app.before_request
    def require_token() -> Response | None:
        if not token or request.path == "/health":
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token):
            return None
        response = _error(401, "Unauthorized", "send the intake token: Authorization: Bearer <intake.token>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="cwsim-integration"'
        return response

    counters = counters or (status.counters if status is not None else IntakeCounters())
    board = status or StatusBoard(outbox, counters)

    @app.post("/alerts")
    def receive() -> Response:
        content_type = request.mimetype or ""
        if content_type and content_type != "application/json" and not content_type.endswith("+json"):
            return _error(
                415, "UnsupportedMediaType", f"send JSON (Content-Type: application/json), not {content_type}"
            )
        try:
            body = orjson.loads(request.get_data(cache=False))
        except orjson.JSONDecodeError as error:
            counters.count(rejected=1)
            return _error(400, "BadRequest", f"the body is not JSON: {error}")
        batch = check_batch(body, settings.max_batch)
        if batch.problems:
            counters.count(rejected=1)
            return _error(
                400,
                "InvalidObject",
                "alert object is invalid; nothing was stored",
                [problem.as_json() for problem in batch.problems],
            )
        try:
            new = outbox.enqueue_many([alert_event(payload) for payload in batch.alerts]) if batch.alerts else 0
        except sqlite3.Error as error:
            log.error("could not store %d alert event(s): %s", len(batch.alerts), error)
            response = _error(503, "ServiceUnavailable", "the outbox could not store the events; send them again")
            response.headers["Retry-After"] = "1"
            return response
        counters.count(accepted=len(batch.alerts), new=new, ignored=batch.ignored)
        if new:
            board.invalidate()
            if on_queued is not None:
                on_queued()
        return _json(
            {
                "accepted": len(batch.alerts),
                "new": new,
                "duplicates": len(batch.alerts) - new,
                "ignored": batch.ignored,
            },
            202,
        )

    @app.get("/status")
    def status_report() -> Response:
        return _json(board.report(fresh=request.args.get("fresh") in ("1", "true")))

    @app.get("/status/finished")
    def finished() -> Response:
        """Deliveries finished after `after` (unix seconds), oldest first: each one's lag, for a load test's poller."""
        try:
            after = float(request.args.get("after", "0"))
            limit = int(request.args.get("limit", str(FINISHED_PAGE)))
        except ValueError:
            return _error(400, "BadRequest", "after is unix seconds (a number) and limit a whole number")
        if not 1 <= limit <= MAX_FINISHED_PAGE or after != after:
            return _error(400, "BadRequest", f"limit is from 1 to {MAX_FINISHED_PAGE}, and after a number")
        rows = [delivery.as_row() for delivery in outbox.finished_since(after, limit)]
        return _json({"columns": list(FINISHED_COLUMNS), "rows": rows, "now": time.time()})

    @app.get("/health")
    def health() -> Response:
        return _json({"status": "ok"})

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        code = (error.name or "Error").replace(" ", "")
        return _error(error.code or 500, code, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return _error(500, "InternalError", f"the intake could not handle this request ({type(error).__name__})")

    return app
