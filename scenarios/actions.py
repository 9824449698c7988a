"""What a scenario's timeline can make happen: in the fleet, in ConnectWise's faults, and by people in ConnectWise.

Each action takes the run's context and its `params`, acts through the admin API or the
ConnectWise API (as the MSP's API member), and records what it did for the expectations.
Devices are picked with the scenario's seeded RNG, from the devices onboarding mapped.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..simulator.client import ApiSession
from ..simulator.clock import format_iso, parse_duration
from ..simulator.datto.simulation import ASSET_INCIDENTS
from ..simulator.testing import Admin, AdminError

ActionFunction = Callable[["RunContext", dict[str, Any]], str]


class ActionError(ValueError):
    """A timeline action that cannot be carried out; the message says which and why."""


@dataclass
class RunContext:
    """What actions work with, and what they leave for the expectations."""

    admin: Admin
    api: ApiSession  # ConnectWise as the MSP's API member
    rng: random.Random
    now: Callable[[], datetime]
    mapped_serials: list[str]
    fault_windows: list[tuple[datetime, datetime]] = field(default_factory=list)
    closed_tickets: list[dict[str, Any]] = field(default_factory=list)
    silent_devices: list[str] = field(default_factory=list)
    deleted_configurations: list[int] = field(default_factory=list)
    renamed_companies: list[tuple[int, str, str]] = field(default_factory=list)
    login_inactive_windows: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    aliases: dict[str, list[str]] = field(default_factory=dict)  # `alias: name` -> the devices first picked
    # What a person does after reading onboarding's report: map the unmatched devices (the runner's).
    map_unmatched: Callable[[], str] | None = None

    def pick(self, params: dict[str, Any], default: int = 1, agent: bool = False) -> list[str]:
        """The serials an action applies to: `serial`, `serials`, or `devices: N` picked with the seed
        among the onboarded devices (of a `family` and a `plan` kind, when given). With `alias: name`
        the first pick is remembered and later actions with the same alias get the same devices; a
        new alias never picks a device another alias holds."""
        alias = params.get("alias")
        if alias is not None and alias in self.aliases:
            return self.aliases[alias]
        picked = self._pick(params, default, agent)
        if alias is not None:
            self.aliases[alias] = picked
        return picked

    def _pick(self, params: dict[str, Any], default: int, agent: bool) -> list[str]:
        if "serial" in params:
            return [str(params["serial"])]
        if "serials" in params:
            return [str(serial) for serial in params["serials"]]
        taken = {serial for serials in self.aliases.values() for serial in serials}
        candidates = sorted(set(self.mapped_serials) - taken)
        if "family" in params or "plan" in params:
            rows = {row["serialNumber"]: row for row in self.admin.fleet.devices()}
            candidates = [
                serial
                for serial in candidates
                if params.get("family", rows[serial]["family"]) == rows[serial]["family"]
                and params.get("plan", rows[serial]["plan"]["kind"]) == rows[serial]["plan"]["kind"]
                and rows[serial]["inService"]
            ]
        if agent:
            kind = params.get("kind")
            candidates = [serial for serial in candidates if _active_agent(self, serial, kind) is not None]
        count = int(params.get("devices", default))
        if count > len(candidates):
            raise ActionError(f"asked for {count} devices, only {len(candidates)} onboarded ones qualify")
        return sorted(self.rng.sample(candidates, count))

    def fault_window_open(self, moment: datetime) -> bool:
        return any(start <= moment < end for start, end in self.fault_windows)


def incident(ctx: RunContext, params: dict[str, Any]) -> str:
    """Start an incident on devices: `{kind: device_offline, devices: 2, duration: PT3H}` (docs/fleet.md)."""
    kind = params.get("kind")
    if not kind:
        raise ActionError("incident needs a kind (backup_failure, device_offline, site_power_loss, ...)")
    picking = ("kind", "serial", "serials", "devices", "family", "plan", "alias", "lists")
    detail = {key: value for key, value in params.items() if key not in picking}
    asset_incident = kind in ASSET_INCIDENTS and "volume" not in detail
    serials = ctx.pick(params, agent=asset_incident)
    for serial in serials:
        volume = {"volume": _first_agent_volume(ctx, serial, kind)} if asset_incident else {}
        ctx.admin.fleet.incident(kind, serial, **detail, **volume)
    return f"{kind} on {len(serials)} device(s)"


def _active_agent(ctx: RunContext, serial: str, kind: str | None = None) -> str | None:
    """The device's first active agent (one that takes screenshots, for a screenshot incident)."""
    assets = ctx.admin.fleet.device(serial).get("assets", [])
    active = [a for a in assets if a.get("type") == "agent" and not a.get("paused") and not a.get("archived")]
    if kind == "screenshot_failure":
        active = [a for a in active if a.get("screenshots")]
    return active[0]["volume"] if active else None


def _first_agent_volume(ctx: RunContext, serial: str, kind: str) -> str:
    volume = _active_agent(ctx, serial, kind)
    if volume is None:
        raise ActionError(f"device {serial} has no active agent for a {kind} incident")
    return volume


def alert_storm(ctx: RunContext, params: dict[str, Any]) -> str:
    """The same incident on many devices at once: `{kind: backup_failure, devices: 10}`."""
    return "storm: " + incident(ctx, {"kind": "backup_failure", **params})


ALERT_EMAIL_LISTS = ("critical", "warning", "screenshotFailed", "screenshotSuccess", "log", "weekly", "notice")


def device_silent(ctx: RunContext, params: dict[str, Any]) -> str:
    """Empty a device's alert email lists (all, or `lists: [...]`): the guide's trap, it then raises nothing."""
    serials = ctx.pick(params)
    lists = params.get("lists") or ALERT_EMAIL_LISTS
    for serial in serials:
        ctx.admin.fleet.patch(serial, emails={name: [] for name in lists})
        ctx.silent_devices.append(serial)
    return f"{len(serials)} device(s) silent"


def usage(ctx: RunContext, params: dict[str, Any]) -> str:
    """Set offsite usage: `{serial: X, offsiteUsedBytes: N}` or `{devices: 3, overIncluded: 1000000000001}`;
    `setPlan: {kind: CAPACITY, includedOffsiteBytes: N}` first puts the devices on that plan."""
    serials = ctx.pick(params)
    for serial in serials:
        if "setPlan" in params:
            ctx.admin.fleet.patch(serial, plan=dict(params["setPlan"]))
        if "offsiteUsedBytes" in params:
            used = int(params["offsiteUsedBytes"])
        else:
            plan = ctx.admin.fleet.device(serial).get("plan") or {}
            used = int(plan.get("includedOffsiteBytes") or 0) + int(params.get("overIncluded", 0))
        ctx.admin.fleet.patch(serial, offsiteUsedBytes=used)
    return f"usage set on {len(serials)} device(s)"


def fault(ctx: RunContext, params: dict[str, Any]) -> str:
    """A ConnectWise fault rule for a while of simulated time: `{duration: PT2H, rule: {...}}` (docs/faults.md)."""
    rule = dict(params.get("rule") or {})
    if not rule:
        raise ActionError("fault needs a rule (see docs/faults.md)")
    start = ctx.now()
    duration = params.get("duration")
    if duration:
        end = start + parse_duration(str(duration))
        rule["window"] = {"start": format_iso(start), "end": format_iso(end), "clock": "simulated"}
        ctx.fault_windows.append((start, end))
    else:
        ctx.fault_windows.append((start, datetime.max.replace(tzinfo=start.tzinfo)))
    (added,) = ctx.admin.faults(rule)
    return f"fault rule {added['id']} ({added.get('effect', {}).get('kind')})" + (
        f" for {duration}" if duration else ""
    )


def clear_faults(ctx: RunContext, params: dict[str, Any]) -> str:
    ctx.admin.call("DELETE", "faults")
    now = ctx.now()
    ctx.fault_windows = [(start, min(end, now)) for start, end in ctx.fault_windows]
    return "fault rules cleared"


def close_tickets(ctx: RunContext, params: dict[str, Any]) -> str:
    """A technician closes open tickets the integration made: `{count: 3}` (or all)."""
    open_tickets = ctx.api.get(
        "service/tickets", params={"conditions": "closedFlag=false and externalXRef != null", "pageSize": 1000}
    ).json()
    count = len(open_tickets) if params.get("count") in (None, "all") else int(params["count"])
    chosen = sorted(ctx.rng.sample(open_tickets, min(count, len(open_tickets))), key=lambda ticket: ticket["id"])
    for ticket in chosen:
        statuses = ctx.api.get(f"service/boards/{ticket['board']['id']}/statuses").json()
        closed = next((s for s in statuses if s.get("closedStatus")), None)
        if closed is None:
            raise ActionError(f"board {ticket['board']['name']} has no closed status")
        ctx.api.patch(
            f"service/tickets/{ticket['id']}", json=[{"op": "replace", "path": "status/id", "value": closed["id"]}]
        )
        ctx.closed_tickets.append({"id": ticket["id"], "externalXRef": ticket.get("externalXRef"), "at": ctx.now()})
    return f"{len(chosen)} ticket(s) closed by a technician"


def delete_configuration(ctx: RunContext, params: dict[str, Any]) -> str:
    serials = ctx.pick(params)
    for serial in serials:
        found = ctx.api.get("company/configurations", params={"conditions": f'serialNumber="{serial}"'}).json()
        for configuration in found:
            ctx.api.delete(f"company/configurations/{configuration['id']}")
            ctx.deleted_configurations.append(configuration["id"])
    return f"configurations of {len(serials)} device(s) deleted"


def _set_login_active(ctx: RunContext, active: bool) -> None:
    logins = ctx.api.get("system/integratorlogins", params={"conditions": 'username="dattoCW"'}).json()
    for login in logins:
        ctx.api.patch(
            f"system/integratorlogins/{login['id']}",
            json=[{"op": "replace", "path": "inactiveFlag", "value": not active}],
        )


def deactivate_login(ctx: RunContext, params: dict[str, Any]) -> str:
    _set_login_active(ctx, False)
    ctx.login_inactive_windows.append((ctx.now(), None))
    ctx.fault_windows.append((ctx.now(), datetime.max.replace(tzinfo=ctx.now().tzinfo)))
    return "the integrator login dattoCW is inactive"


def reactivate_login(ctx: RunContext, params: dict[str, Any]) -> str:
    _set_login_active(ctx, True)
    now = ctx.now()
    ctx.login_inactive_windows = [(start, end or now) for start, end in ctx.login_inactive_windows]
    ctx.fault_windows = [(start, min(end, now)) for start, end in ctx.fault_windows]
    return "the integrator login dattoCW is active again"


def rename_company(ctx: RunContext, params: dict[str, Any]) -> str:
    serial = ctx.pick(params)[0]
    found = ctx.api.get("company/configurations", params={"conditions": f'serialNumber="{serial}"'}).json()
    if not found:
        raise ActionError(f"device {serial} has no configuration, so no company to rename")
    company = found[0]["company"]
    new_name = str(params.get("name") or f"{company['name']} (renamed)")[:50]
    ctx.api.patch(f"company/companies/{company['id']}", json=[{"op": "replace", "path": "name", "value": new_name}])
    ctx.renamed_companies.append((company["id"], company["name"], new_name))
    return f'company {company["id"]} renamed "{new_name}"'


def map_unmatched(ctx: RunContext, params: dict[str, Any]) -> str:
    """A person maps the devices onboarding could not match, late: `{}` (with `integration.mapUnmatched: false`).

    Their held alerts go from then on; the devices join those later actions may pick."""
    if ctx.map_unmatched is None:
        raise ActionError("map_unmatched needs the scenario runner, which maps devices with a mapping file")
    return ctx.map_unmatched()


ACTIONS: dict[str, ActionFunction] = {
    "incident": incident,
    "alert_storm": alert_storm,
    "device_silent": device_silent,
    "usage": usage,
    "fault": fault,
    "clear_faults": clear_faults,
    "close_tickets": close_tickets,
    "delete_configuration": delete_configuration,
    "deactivate_login": deactivate_login,
    "reactivate_login": reactivate_login,
    "rename_company": rename_company,
    "map_unmatched": map_unmatched,
}


def act(ctx: RunContext, action: str, params: dict[str, Any]) -> str:
    """Carry out one timeline action; returns a line for the progress log."""
    try:
        return ACTIONS[action](ctx, params)
    except AdminError as error:
        raise ActionError(f"{action} {params}: {error}") from error


def as_timedelta(value: str) -> timedelta:
    return parse_duration(value)
