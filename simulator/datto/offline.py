"""Fleets as files, and running them offline as fast as the machine allows (`cwsim fleet generate` / `fleet run`).

A run splits the fleet into shards of whole sites (a site's incidents never cross a shard) and
runs each shard's engine in its own process; the parent merges their events moment by moment,
shard by shard. Each device draws from its own RNG, so a device behaves the same in any shard:
the event log depends on the seed, the spec and the number of shards, never on how many
processes ran them or in which order they finished.
"""

from __future__ import annotations

import gc
import heapq
import multiprocessing
import os
import pickle
import threading
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import accumulate
from pathlib import Path
from typing import Any

import orjson
from marshmallow import ValidationError

from .alerts import iso
from .catalog import MODELS_BY_CODE, Family, Plan, PlanKind
from .engine import Engine
from .fleet import Asset, Device, Fleet, Organization, draw_offsite_target, generate_fleet
from .schedule import schedule_of, week_origin
from .schemas import load_fleet_spec
from .settings import FleetSpec
from .sinks import JsonLinesSink

FORMAT = "cwsim-fleet/1"
DAY = 86400
DEFAULT_SHARDS = 2


class FleetFileError(ValueError):
    """A fleet file that cannot be read: says which file and what is wrong with it."""


# -- fleet files ------------------------------------------------------------------------------------


def _moment(value: str) -> int:
    return int(datetime.fromisoformat(value).timestamp())


def fleet_to_json(fleet: Fleet) -> dict[str, Any]:
    """A fleet as a JSON document: its spec, start, clients and every device's configuration."""
    schedules: dict[tuple[int, ...], int] = {}
    devices = []
    for device in fleet.devices:
        assets = []
        for asset in device.assets:
            schedule = schedules.setdefault(asset.schedule.hours, len(schedules))
            assets.append(
                {
                    "volume": asset.volume,
                    "assetId": asset.asset_id,
                    "name": asset.name,
                    "type": asset.kind,
                    "fqdn": asset.fqdn,
                    "os": asset.os,
                    "agentVersion": asset.agent_version,
                    "localIp": asset.local_ip,
                    "mac": asset.mac,
                    "protectedBytes": asset.protected_bytes,
                    "protectedVolumes": asset.protected_volumes,
                    "unprotectedVolumes": asset.unprotected_volumes,
                    "schedule": schedule,
                    "screenshotSecond": asset.screenshot_second,
                    "paused": asset.paused,
                    "archived": asset.archived,
                    "encrypted": asset.encrypted,
                    "chronicScreenshots": asset.chronic,
                    "added": iso(asset.added),
                }
            )
        devices.append(
            {
                "serialNumber": device.serial,
                "name": device.name,
                "model": device.model,
                "plan": device.plan.as_json(),
                "organizationId": device.org.org_id,
                "site": device.site,
                "registered": iso(device.registered),
                "serviceUntil": iso(device.service_until),
                "warrantyUntil": iso(device.warranty_until),
                "bootedAt": iso(device.booted_at),
                "hidden": device.hidden,
                "inService": device.in_service,
                "internalIP": device.internal_ip,
                "utcOffsetHours": device.utc_offset,
                "localCapacityBytes": device.local_capacity,
                "localUsedBytes": device.local_used,
                "localTarget": device.local_target,
                "offsiteUsedBytes": device.offsite_used,
                "offsiteTarget": device.offsite_target,
                "emails": device.emails,
                "assets": assets,
            }
        )
    return {
        "format": FORMAT,
        "spec": fleet.spec.as_json(),
        "start": iso(fleet.start),
        "organizations": [organization.as_json() for organization in fleet.organizations],
        "schedules": [list(hours) for hours in schedules],
        "devices": devices,
    }


def fleet_from_json(data: Any) -> Fleet:
    """The inverse of `fleet_to_json`; a FleetFileError says what is wrong with a bad document."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise FleetFileError(
            f'not a cwsim fleet file (expected "format": "{FORMAT}"; make one with cwsim fleet generate)'
        )
    try:
        spec = load_fleet_spec(data["spec"], FleetSpec())
    except ValidationError as error:
        raise FleetFileError(f"its spec is invalid: {error.messages}") from error
    where = "the document"
    try:
        organizations = [
            Organization(org["organizationId"], org["name"], org["matchedCompany"], org["variant"])
            for org in data["organizations"]
        ]
        by_id = {organization.org_id: organization for organization in organizations}
        schedules = [schedule_of(tuple(hours)) for hours in data["schedules"]]
        devices = []
        for index, item in enumerate(data["devices"]):
            where = f"device {index}"
            devices.append(_device_from_json(item, by_id, schedules, spec))
        start = _moment(data["start"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
        raise FleetFileError(f"{where} is malformed: {detail}") from error
    if len({device.serial for device in devices}) != len(devices):
        raise FleetFileError("two devices have the same serial number")
    return Fleet(spec, start, organizations, devices)


def _device_from_json(
    item: dict[str, Any], organizations: dict[int, Organization], schedules: list[Any], spec: FleetSpec
) -> Device:
    model = MODELS_BY_CODE[item["model"]]
    plan = item["plan"]
    device = Device(
        item["serialNumber"],
        item["name"],
        model,
        Plan(PlanKind(plan["kind"]), plan["includedOffsiteBytes"], plan["tbrYears"]),
        organizations[item["organizationId"]],
    )
    device.site = item["site"]
    device.registered = _moment(item["registered"])
    device.service_until = _moment(item["serviceUntil"])
    device.warranty_until = _moment(item["warrantyUntil"])
    device.booted_at = _moment(item["bootedAt"])
    device.hidden = bool(item["hidden"])
    device.in_service = bool(item["inService"])
    device.internal_ip = item["internalIP"]
    device.utc_offset = int(item["utcOffsetHours"])
    device.origin = week_origin(device.utc_offset)
    device.local_capacity = item["localCapacityBytes"]
    device.local_used = item["localUsedBytes"]
    device.local_target = float(item["localTarget"])
    device.offsite_used = int(item["offsiteUsedBytes"])
    # files written before targets existed: the target generation would have drawn
    target = item.get("offsiteTarget")
    device.offsite_target = (
        float(target) if target is not None else draw_offsite_target(spec.seed, device.serial, spec.rates)
    )
    device.emails.update({name: list(addresses) for name, addresses in item["emails"].items()})
    for entry in item["assets"]:
        asset = Asset(device, entry["volume"], entry["assetId"], entry["name"], entry["type"])
        asset.fqdn = entry["fqdn"]
        asset.os = entry["os"]
        asset.agent_version = entry["agentVersion"]
        asset.local_ip = entry["localIp"]
        asset.mac = entry["mac"]
        asset.protected_bytes = int(entry["protectedBytes"])
        asset.protected_volumes = list(entry["protectedVolumes"])
        asset.unprotected_volumes = list(entry["unprotectedVolumes"])
        asset.schedule = schedules[entry["schedule"]]
        asset.screenshot_second = entry["screenshotSecond"]
        asset.paused = bool(entry["paused"])
        asset.archived = bool(entry["archived"])
        asset.encrypted = bool(entry["encrypted"])
        asset.chronic = bool(entry["chronicScreenshots"])
        asset.added = _moment(entry["added"])
        device.assets.append(asset)
    if device.family is not Family(model.family):
        raise ValueError(f"model {model.code} is not of family {device.family}")
    return device


def save_fleet(fleet: Fleet, path: str | Path) -> None:
    Path(path).write_bytes(orjson.dumps(fleet_to_json(fleet)))


def load_fleet(path: str | Path) -> Fleet:
    """Read a fleet file; FleetFileError (naming the file) if it is missing or not a fleet."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise FleetFileError(f"{path}: cannot read it: {error.strerror or error}") from error
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise FleetFileError(f"{path}: not JSON: {error}") from error
    try:
        return fleet_from_json(data)
    except FleetFileError as error:
        raise FleetFileError(f"{path}: {error}") from error


# -- running ----------------------------------------------------------------------------------------


def shard_fleet(fleet: Fleet, shards: int) -> list[Fleet]:
    """Split into `shards` fleets of whole sites, contiguous in site order, of about equal device counts."""
    sites = sorted(fleet.sites)
    shards = max(1, min(shards, len(sites) or 1))
    sizes = list(accumulate(len(fleet.sites[site]) for site in sites))
    total = sizes[-1] if sizes else 0
    owner = {
        site: min(shards - 1, (size - 1) * shards // max(total, 1)) for site, size in zip(sites, sizes, strict=True)
    }
    parts: list[list[Device]] = [[] for _ in range(shards)]
    for device in fleet.devices:
        parts[owner[device.site]].append(device)
    return [Fleet(fleet.spec, fleet.start, fleet.organizations, part) for part in parts]


def _serialized_days(engine: Engine, days: int) -> Iterator[list[tuple[int, bytes, int]]]:
    """Run an engine day by day; each day's events as (moment, JSON Lines bytes, count), in order."""
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for day in range(1, days + 1):
        engine.run_until(engine.fleet.start + day * DAY)
        yield [
            (moment, b"".join([dumps(event, option=newline) for event in events]), len(events))
            for moment, events in engine.take_moments()
        ]


def _summary(engine: Engine, keep_truth: bool) -> dict[str, Any]:
    summary: dict[str, Any] = {"counts": dict(engine.counts), "suppressed": dict(engine.suppressed)}
    if keep_truth:
        summary["truth"] = engine.truth.as_json(iso, limit=10**9)
    return summary


def _run_shard_process(fleet: Fleet, days: int, keep_truth: bool, connection: Any) -> None:
    try:
        gc.disable()  # the engine makes no reference cycles; collecting millions of live objects only costs time
        engine = Engine(fleet, keep_truth=keep_truth)
        for groups in _serialized_days(engine, days):
            connection.send(("day", groups))
        connection.send(("done", _summary(engine, keep_truth)))
    except BaseException:
        connection.send(("error", traceback.format_exc()))
    finally:
        connection.close()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a fleet is millions of live objects and makes no cycles while it runs,
    so collecting would only cost time (several seconds for 10,000 appliances)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def generate_fleet_file(spec: FleetSpec, client_names: list[str], start: datetime, path: str | Path) -> Fleet:
    """Generate a fleet and save it (`cwsim fleet generate`)."""
    with gc_paused():
        fleet = generate_fleet(spec, client_names, start)
        save_fleet(fleet, path)
    return fleet


def run_fleet(
    fleet: Fleet,
    days: int,
    sink: JsonLinesSink,
    shards: int = DEFAULT_SHARDS,
    workers: int | None = None,
    keep_truth: bool = False,
) -> dict[str, Any]:
    """Simulate `days` days of `fleet` into `sink`; returns event counts (and the truth, if kept).

    `fleet` itself is left as it was: workers change their forked copies, an in-process run a copy.
    """
    parts = shard_fleet(fleet, shards)
    workers = min(len(parts), workers or os.cpu_count() or 1)
    with gc_paused():
        if workers <= 1:
            return _run_in_process(parts, days, sink, keep_truth)
        return _run_in_workers(parts, days, sink, keep_truth)


def _merge_day(shard_days: list[list[tuple[int, bytes, int]]], sink: JsonLinesSink) -> None:
    """One day of every shard, merged by moment, shard by shard within a moment."""
    merged = heapq.merge(
        *[[(moment, index, blob, count) for moment, blob, count in groups] for index, groups in enumerate(shard_days)]
    )
    blobs, count = [], 0
    for _, _, blob, size in merged:
        blobs.append(blob)
        count += size
    sink.write_serialized(b"".join(blobs), count)


def _run_in_process(parts: list[Fleet], days: int, sink: JsonLinesSink, keep_truth: bool) -> dict[str, Any]:
    parts = pickle.loads(pickle.dumps(parts, protocol=pickle.HIGHEST_PROTOCOL))  # an engine changes its fleet
    engines = [Engine(part, keep_truth=keep_truth) for part in parts]
    streams = [_serialized_days(engine, days) for engine in engines]
    for _ in range(days):
        _merge_day([next(stream) for stream in streams], sink)
    return _combine([_summary(engine, keep_truth) for engine in engines])


def _run_in_workers(parts: list[Fleet], days: int, sink: JsonLinesSink, keep_truth: bool) -> dict[str, Any]:
    # fork shares the fleet with the workers for free; only a process with no other threads may fork safely
    alone = threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if alone else "spawn")
    connections, processes = [], []
    for part in parts:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_run_shard_process, args=(part, days, keep_truth, sender), daemon=True)
        process.start()
        sender.close()
        connections.append(receiver)
        processes.append(process)
    summaries: list[dict[str, Any]] = []
    try:
        for _ in range(days):
            _merge_day([_receive(connection, "day") for connection in connections], sink)
        summaries = [_receive(connection, "done") for connection in connections]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return _combine(summaries)


def _receive(connection: Any, expected: str) -> Any:
    try:
        kind, payload = connection.recv()
    except EOFError as error:
        raise RuntimeError("a fleet worker process ended without reporting") from error
    if kind == "error":
        raise RuntimeError(f"a fleet worker process failed:\n{payload}")
    if kind != expected:
        raise RuntimeError(f"a fleet worker sent {kind!r} where {expected!r} was expected")
    return payload


def _combine(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    counts: Counter[tuple[str, str]] = Counter()
    suppressed: Counter[str] = Counter()
    incidents: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    for summary in summaries:
        counts.update(summary["counts"])
        suppressed.update(summary["suppressed"])
        if "truth" in summary:
            incidents.extend(summary["truth"]["incidents"])
            alerts.extend(summary["truth"]["alerts"])
    by_event: dict[str, dict[str, int]] = {}
    for (event, kind), count in sorted(counts.items()):
        by_event.setdefault(event, {})[kind] = count
    result: dict[str, Any] = {
        "events": by_event,
        "total": sum(counts.values()),
        "suppressed": dict(sorted(suppressed.items())),
    }
    if any("truth" in summary for summary in summaries):
        incidents.sort(key=lambda incident: (incident["start"], incident["incidentId"]))
        alerts.sort(key=lambda alert: (alert["dateTriggered"], alert["alertKey"]))
        result["truth"] = {"incidents": incidents, "alerts": alerts}
    return result
