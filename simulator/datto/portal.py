"""The Datto partner-portal device API (`/v1/bcdr/...`) over the simulated fleet, as a Flask blueprint.

Shapes follow docs/datto-facts.md §5: the paging envelope, device, asset and alert
objects, `{code, message}` errors. The real API's quirks and its rate limit are settings
(`PortalSettings`), off by default. HTTP stays here; the fleet's state is read under its lock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ..connectwise.resources import json_response
from ..rate_limit import RateLimiter
from .alerts import iso
from .catalog import Family, PlanKind
from .engine import last_backup, last_screenshot, latest_offsite
from .fleet import RESELLER, Asset, Device
from .schedule import DAY
from .settings import PortalSettings
from .simulation import FleetSimulation

UNIT_BYTES = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
MAX_PAGE = 2**31 - 1  # the page number is echoed back; JSON clients (and orjson) stop at 64 bits
BACKUPS_SHOWN = 10


class PortalError(Exception):
    """An error the portal answers with `{code, message}`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class Portal:
    """The portal's mutable parts: its settings (changed at run time by the admin API) and its rate limiter."""

    def __init__(self, settings: PortalSettings | None = None, limiter: RateLimiter | None = None) -> None:
        self.settings = settings or PortalSettings()
        self.limiter = limiter or RateLimiter()


def portal_blueprint(fleet: Callable[[], FleetSimulation], portal: Portal) -> Blueprint:
    """`/v1/bcdr/...` for the fleet `fleet()` returns, configured by `portal`."""
    blueprint = Blueprint("datto_portal", __name__, url_prefix="/v1/bcdr")

    @blueprint.before_request
    def authenticate() -> None:
        settings = portal.settings
        key = _basic_auth_user(settings)
        wait = portal.limiter.retry_after(key, settings.rate_limit, settings.rate_window_seconds)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            raise PortalError(
                429,
                f"Rate limit exceeded: {settings.rate_limit} requests per {settings.rate_window_seconds:g} s per "
                f"API key; retry in {seconds} s",
                {"Retry-After": str(seconds)},
            )

    @blueprint.get("/device")
    def devices() -> Response:
        settings = portal.settings
        show_hidden = _flag("showHiddenDevices", settings.show_hidden_default)
        simulation = fleet()
        with simulation.lock:
            now = simulation.now
            listed = [device for device in simulation.fleet.devices if show_hidden or not device.hidden]
            return _page(listed, lambda device: device_json(device, now, settings), settings)

    @blueprint.get("/device/<serial>")
    def device(serial: str) -> Response:
        simulation = fleet()
        with simulation.lock:
            return json_response(device_json(_device(simulation, serial), simulation.now, portal.settings))

    @blueprint.get("/device/<serial>/asset")
    def assets(serial: str) -> Response:
        return _assets(serial, None)

    @blueprint.get("/device/<serial>/asset/agent")
    def agents(serial: str) -> Response:
        return _assets(serial, "agent")

    @blueprint.get("/device/<serial>/asset/share")
    def shares(serial: str) -> Response:
        return _assets(serial, "share")

    @blueprint.get("/device/<serial>/asset/<volume>")
    def asset(serial: str, volume: str) -> Response:
        simulation = fleet()
        with simulation.lock:
            device = _device(simulation, serial)
            found = device.asset(volume.lower())
            if found is None:
                raise PortalError(404, f"Asset {volume} not found on device {device.serial}")
            return json_response(asset_json(found, simulation.now))

    @blueprint.get("/device/<serial>/alert")
    def alerts(serial: str) -> Response:
        settings = portal.settings
        simulation = fleet()
        with simulation.lock:
            active = sorted(_device(simulation, serial).alerts.values(), key=lambda alert: alert.first_seen)
            return _page(active, lambda alert: alert.portal_json(settings.alert_details), settings)

    @blueprint.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @blueprint.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def not_served(rest: str) -> Response:
        if request.method != "GET" and _served_by_get(request.path):
            raise PortalError(405, f"{request.method} is not allowed on {request.path}; the portal API only reads")
        raise PortalError(404, f"{request.method} /v1/bcdr/{rest} is not served by the cwsim Datto portal fake")

    @blueprint.errorhandler(PortalError)
    def portal_error(error: PortalError) -> Response:
        return json_response({"code": error.status, "message": error.message}, error.status, error.headers)

    @blueprint.errorhandler(413)
    def too_large(error: Exception) -> Response:
        limit = request.max_content_length
        return json_response({"code": 413, "message": f"The request body is larger than {limit} bytes"}, 413)

    @blueprint.errorhandler(405)
    def wrong_method(error: Exception) -> Response:
        return json_response({"code": 405, "message": f"{request.method} is not allowed on {request.path}"}, 405)

    def _assets(serial: str, kind: str | None) -> Response:
        simulation = fleet()
        with simulation.lock:
            device = _device(simulation, serial)
            items = [asset_json(asset, simulation.now) for asset in device.assets if kind in (None, asset.kind)]
        if portal.settings.asset_list_as_object:
            return json_response({str(index): item for index, item in enumerate(items)})
        return json_response(items)

    return blueprint


def _served_by_get(path: str) -> bool:
    try:
        endpoint, _ = current_app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:
        return False
    return not str(endpoint).endswith(".not_served")


def _basic_auth_user(settings: PortalSettings) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Basic realm="Datto API"'}
    if scheme.lower() != "basic" or not token:
        raise PortalError(401, "Authentication required: Basic auth with your API public and secret keys", challenge)
    try:
        user, _, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise PortalError(401, "The Authorization header is not valid Basic auth", challenge) from error
    good_user = hmac.compare_digest(user.encode(), settings.public_key.encode())
    good_secret = hmac.compare_digest(password.encode(), settings.secret_key.encode())
    if not (good_user and good_secret):
        raise PortalError(401, "Invalid API public key or secret key", challenge)
    return user


def _flag(name: str, default: bool) -> bool:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    if text.lower() in ("1", "true"):
        return True
    if text.lower() in ("0", "false"):
        return False
    raise PortalError(400, f"{name} must be 1, 0, true or false, not {text!r}")


def _number(name: str, default: int) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_PAGE:
        raise PortalError(400, f"{name} must be a whole number from 1 to {MAX_PAGE}, not {text!r}")
    return value


def _clipped_number(name: str, default: int) -> int:
    """A number past MAX_PAGE means "as many as you have", as a huge per-page does."""
    text = request.args.get(name)
    if text is not None and text.isdigit() and int(text) > MAX_PAGE:
        return MAX_PAGE
    return _number(name, default)


def _page(items: list[Any], render: Callable[[Any], dict[str, Any]], settings: PortalSettings) -> Response:
    """The portal's paging envelope; `_perPage` above the maximum is cut to it."""
    page = _number("_page", 1)
    per_page = min(_clipped_number("_perPage", settings.default_per_page), settings.max_per_page)
    start = (page - 1) * per_page
    body = {
        "pagination": {
            "page": page,
            "perPage": per_page,
            "totalPages": math.ceil(len(items) / per_page),
            "count": len(items),
        },
        "items": [render(item) for item in items[start : start + per_page]],
    }
    return json_response(body)


def _device(simulation: FleetSimulation, serial: str) -> Device:
    device = simulation.fleet.device(serial)
    if device is None:
        raise PortalError(404, f"Device {serial} not found")
    return device


def _size(size: int | None, settings: PortalSettings) -> dict[str, Any] | None:
    if size is None:
        return None
    units = settings.storage_units
    return {"size": size if units == "B" else size / UNIT_BYTES[units], "units": units}


def _date(moment: int | None, settings: PortalSettings) -> str | int | None:
    if moment is None:
        return None
    return moment if settings.date_format == "epoch" else iso(moment)


def _stable_share(serial: str, share: float) -> bool:
    """Whether `serial` falls in the first `share` of devices by a stable hash (for quirks applied to some)."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"quirk:{serial}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def device_json(device: Device, now: int, settings: PortalSettings) -> dict[str, Any]:
    """A device as `GET /v1/bcdr/device` shows it."""
    cloud = device.family is Family.CLOUD
    online = device.outage is None
    agents = [asset for asset in device.assets if asset.kind == "agent" and not asset.archived]
    shares = [asset for asset in device.assets if asset.kind == "share" and not asset.archived]
    offsite: Any = _size(device.offsite_used if device.plan.kind is not PlanKind.LOCAL_ONLY else 0, settings)
    if _stable_share(device.serial, settings.offsite_as_list_share):
        offsite = []
    local_free = None if device.local_capacity is None else device.local_capacity - (device.local_used or 0)
    return {
        "serialNumber": device.serial,
        "name": device.name,
        "model": device.model,
        "region": {"location": "US", "provider": "Azure" if cloud else "Datto"},
        "organizationId": device.org.org_id,
        "organizationName": device.org.name,
        "clientCompanyName": device.org.name,
        "resellerCompanyName": RESELLER,
        "hidden": device.hidden,
        "lastSeenDate": _date(now if online else device.outage.start, settings),
        "registrationDate": _date(device.registered, settings),
        "servicePeriod": _date(device.service_until, settings),
        "warrantyExpire": None if cloud else _date(device.warranty_until, settings),
        "servicePlan": device.plan.service_plan(device.family),
        "localStorageUsed": _size(device.local_used, settings),
        "localStorageAvailable": _size(local_free, settings),
        "offsiteStorageUsed": offsite,
        "totalManagedDisk": _size(sum(asset.protected_bytes for asset in agents + shares), settings),
        "internalIP": None if cloud else device.internal_ip,
        "activeTickets": 0,
        "agentCount": len(agents),
        "shareCount": len(shares),
        "alertCount": len(device.alerts),
        "uptime": max(0, now - device.booted_at) if online else 0,
        "remoteWebUrl": f"https://device.dattobackup.com/remoteweb/{device.serial}",
    }


def asset_json(asset: Asset, now: int) -> dict[str, Any]:
    """An agent or share as `GET /v1/bcdr/device/{sn}/asset` shows it (epoch-second times, as the API has them)."""
    device = asset.device
    screenshot_at, screenshot_ok = last_screenshot(asset, now)
    offsite = latest_offsite(asset, now)
    image = hashlib.sha1(f"{device.serial}:{asset.volume}".encode()).hexdigest()  # an image name, not security
    screenshot_url = None
    if screenshot_at is not None:
        screenshot_url = f"https://device.dattobackup.com/sirisReporting/image/latest/{image}.png?cb={screenshot_at}"
    age_days = max(0, now - asset.added) / DAY
    return {
        "name": asset.name,
        "assetId": asset.asset_id,
        "volume": asset.volume,
        "type": asset.kind,
        "fqdn": asset.fqdn,
        "localIp": asset.local_ip or None,
        "os": asset.os,
        "agentVersion": asset.agent_version,
        "protectedMachine": {"mac": asset.mac or None, "serial": None},
        "protectedVolumesCount": len(asset.protected_volumes),
        "unprotectedVolumesCount": len(asset.unprotected_volumes),
        "protectedVolumeNames": asset.protected_volumes,
        "unprotectedVolumeNames": asset.unprotected_volumes,
        "isPaused": asset.paused,
        "isArchived": asset.archived,
        "localSnapshots": int(asset.schedule.count * min(age_days, 90) / 7),
        "lastSnapshot": last_backup(asset, now),
        "latestOffsite": offsite,
        "lastScreenshotAttempt": screenshot_at,
        "lastScreenshotAttemptStatus": screenshot_ok if screenshot_at is not None else None,
        "lastScreenshotUrl": screenshot_url,
        "backups": backups_json(asset, now, screenshot_ok, screenshot_url),
    }


def backups_json(asset: Asset, now: int, screenshot_ok: bool, screenshot_url: str | None) -> list[dict[str, Any]]:
    """Recent backups, newest first: failures from the asset's history and the successful slots around them.

    Successes are derived from the schedule since the asset last resumed, then before it last
    stopped; outages older than the last gap are not remembered (slots there show as successes).
    """
    origin = asset.device.origin
    problems = {moment: (status, message) for moment, status, message in asset.history}
    failed = {moment for moment, (status, _) in problems.items() if status == "failed"}
    successes: list[int] = []
    cursor = last_backup(asset, now)
    floor = asset.resumed_at if not asset.blocks and cursor >= asset.resumed_at else asset.added
    while len(successes) < BACKUPS_SHOWN and cursor >= asset.added:
        if cursor < floor:
            cursor, floor = min(cursor, asset.last_success), asset.added
            continue
        if cursor not in failed:
            successes.append(cursor)
        cursor = asset.schedule.last_slot(cursor - 1, origin)
    moments = sorted(set(successes) | failed, reverse=True)[:BACKUPS_SHOWN]
    rows = []
    for index, moment in enumerate(moments):
        status, message = problems.get(moment, ("success", None))
        backup_failed = moment in failed
        verification_failed = status == "verification_error"
        rows.append(
            {
                "timestamp": iso(moment),
                "backup": {
                    "status": "failure" if backup_failed else "success",
                    "errorMessage": message if backup_failed else None,
                },
                "localVerification": {
                    "status": None if backup_failed else ("failure" if verification_failed else "success"),
                    "errors": [{"errorType": "filesystem", "errorMessage": message}] if verification_failed else [],
                },
                "advancedVerification": {
                    "screenshotVerification": (
                        {"status": "success" if screenshot_ok else "failure", "image": screenshot_url}
                        if index == 0 and screenshot_url and not backup_failed
                        else None
                    )
                },
            }
        )
    return rows
