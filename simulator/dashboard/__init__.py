"""The dashboard: the simulated world as a web page at `/`, its sections refreshed from /_sim/dashboard/update."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from markupsafe import Markup

from ..journal import JournalFilter
from ..world import World
from .fleet import size
from .sections import JOURNAL_METHODS, SECTIONS, SECTIONS_BY_NAME, Reading, Section

STATIC_PATH = "/_sim/dashboard/static"
# Everything the page uses is served by us; the charts are inline SVG.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
BODY_CHARS = 4000


def reading_of(world: World) -> Reading:
    """The world as this request asks to see it: the journal filter from `method`, `path` and `status`."""
    method = (request.args.get("method") or "").strip().upper() or None
    path = (request.args.get("path") or "").strip() or None
    status_text = (request.args.get("status") or "").strip()
    status, problem = None, None
    if status_text:
        try:
            status = int(status_text)
        except ValueError:
            problem = f"status must be a whole number such as 404, not {status_text!r}; it is not applied."
    return Reading(world, JournalFilter(method=method, path=path, status=status), status_text, problem)


def render_section(section: Section, reading: Reading) -> Markup:
    # Markup: the section was rendered by an autoescaping template; the page inserts it as it is.
    return Markup(render_template(section.template, model=section.model(reading), reading=reading))


def pretty_json(value: Any, limit: int = BODY_CHARS) -> str:
    """A JSON value indented for reading, cut at `limit` characters (the template escapes it)."""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "\n…(cut)"


def moment(text: Any) -> str:
    """An ISO moment (`...Z` or `...+00:00`) as `2026-03-02 05:00:12`, for reading."""
    return "" if not text else str(text)[:19].replace("T", " ")


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def dashboard_blueprint(world: World) -> Blueprint:
    blueprint = Blueprint(
        "dashboard", __name__, template_folder="templates", static_folder="static", static_url_path=STATIC_PATH
    )
    blueprint.add_app_template_filter(pretty_json, "pretty_json")
    blueprint.add_app_template_filter(moment, "moment")
    blueprint.add_app_template_filter(size, "size")

    @blueprint.get("/")
    def page() -> Response:
        reading = reading_of(world)
        sections = [
            {
                "name": section.name,
                "title": section.title,
                "version": section.version_of(reading),  # before reading the model: never newer than it
                "html": render_section(section, reading),
            }
            for section in SECTIONS
        ]
        html = render_template(
            "dashboard/page.html",
            sections=sections,
            reading=reading,
            methods=JOURNAL_METHODS,
            company_id=world.backend.settings.company_id,
        )
        response = Response(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return no_store(response)

    @blueprint.get("/_sim/dashboard/update")
    def update() -> Response:
        """The sections whose fingerprint differs from the one the page sent (`?tickets=<version>&...`)."""
        reading = reading_of(world)
        changed: dict[str, dict[str, str]] = {}
        for name, section in SECTIONS_BY_NAME.items():
            version = section.version_of(reading)
            if request.args.get(name) != version:
                changed[name] = {"version": version, "html": render_section(section, reading)}
        return no_store(jsonify({"sections": changed}))

    return blueprint
