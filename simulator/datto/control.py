"""The fleet's part of the admin API (`/_sim/fleet...`, `/_sim/truth`): parse, call the fleet, render."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request
from marshmallow import ValidationError

from ..connectwise.errors import CwError, bad_request, field_problems, invalid_object
from ..connectwise.resources import json_response, read_json
from .schemas import DevicePatchSchema, IncidentSchema, PortalSettingsSchema, SinkSchema, load_fleet_spec
from .simulation import UnknownEntity
from .sinks import ALERT_EVENTS, ALL_EVENTS, DiscardSink, HttpSink

if TYPE_CHECKING:
    from ..world import World

SINK_CLOSE_SECONDS = 2.0


def load(parse: Callable[[dict[str, Any]], Any], body: Any, resource: str) -> Any:
    """A request body through `parse` (a schema's load), or a 400 naming each bad field."""
    if body is not None and not isinstance(body, dict):
        raise bad_request(f"The request body must be a JSON object describing the {resource}.", "body")
    try:
        return parse(body or {})
    except ValidationError as error:
        raise invalid_object(resource, list(field_problems(error.messages))) from error


def not_found(error: UnknownEntity) -> CwError:
    return CwError(404, "NotFound", str(error))


def add_fleet_routes(blueprint: Blueprint, world: World) -> None:
    """Register the fleet's admin endpoints on the `/_sim` blueprint."""

    @blueprint.get("/fleet")
    def fleet_summary() -> Response:
        return json_response(world.fleet.summary())

    @blueprint.post("/fleet")
    def fleet_generate() -> Response:
        base = world.fleet.fleet.spec
        spec = load(lambda body: load_fleet_spec(body, base), read_json(), "fleetSpec")
        world.fleet.regenerate(spec)
        return json_response(world.fleet.summary(), 201)

    @blueprint.get("/fleet/devices")
    def fleet_devices() -> Response:
        return json_response(world.fleet.device_rows(request.args.get("family") or None))

    @blueprint.get("/fleet/devices/<serial>")
    def fleet_device(serial: str) -> Response:
        try:
            return json_response(world.fleet.device_view(serial))
        except UnknownEntity as error:
            raise not_found(error) from error

    @blueprint.patch("/fleet/devices/<serial>")
    def fleet_device_patch(serial: str) -> Response:
        changes = load(DevicePatchSchema().load, read_json(), "device")
        try:
            return json_response(world.fleet.patch_device(serial, changes))
        except UnknownEntity as error:
            raise not_found(error) from error

    @blueprint.post("/fleet/incidents")
    def fleet_incident() -> Response:
        data = load(IncidentSchema().load, read_json(), "incident")
        serial, volume = data.pop("serial_number"), data.pop("volume", None)
        try:
            incident = world.fleet.inject(data.pop("kind"), serial, volume, data)
        except UnknownEntity as error:
            raise not_found(error) from error
        except ValueError as error:
            raise bad_request(str(error), "kind") from error
        return json_response(incident, 201)

    @blueprint.get("/fleet/events")
    def fleet_events() -> Response:
        since = _whole_number("since", 0)
        limit = _whole_number("limit", 1000)
        return json_response(world.fleet.events_since(since, limit))

    @blueprint.get("/fleet/sink")
    def fleet_sink() -> Response:
        return json_response(world.fleet.sink.stats())

    @blueprint.post("/fleet/sink")
    def fleet_sink_set() -> Response:
        data = load(SinkSchema().load, read_json(), "sink")
        if data["url"] is None:
            sink: Any = DiscardSink()
        else:
            sink = HttpSink(
                data["url"],
                batch_size=data["batch_size"],
                queue_size=data["queue_size"],
                max_attempts=data["max_attempts"],
                backoff=data["backoff"],
                timeout=data["timeout"],
                headers=data["headers"],
                kinds=ALL_EVENTS if data["include_usage"] else ALERT_EVENTS,
            )
        previous = world.fleet.replace_sink(sink)
        previous.close(SINK_CLOSE_SECONDS)
        return json_response({"sink": sink.stats(), "previous": previous.stats()})

    @blueprint.get("/fleet/portal")
    def fleet_portal() -> Response:
        return json_response(world.portal.settings.as_json())

    @blueprint.patch("/fleet/portal")
    def fleet_portal_patch() -> Response:
        changes = load(PortalSettingsSchema(partial=True).load, read_json(), "portalSettings")
        world.portal.settings = dataclasses.replace(world.portal.settings, **changes)
        world.portal.limiter.reset()
        return json_response(world.portal.settings.as_json())

    @blueprint.get("/truth")
    def truth() -> Response:
        limit = _whole_number("limit", 10_000)
        return json_response(
            world.fleet.truth(request.args.get("serial") or None, request.args.get("kind") or None, limit)
        )


def _whole_number(name: str, default: int) -> int:
    text = request.args.get(name)
    if text in (None, ""):
        return default
    try:
        value = int(text)
    except ValueError as error:
        raise bad_request(f"{name} must be a whole number, not {text!r}.", name) from error
    if value < 0:
        raise bad_request(f"{name} must not be negative.", name)
    return value
