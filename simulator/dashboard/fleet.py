"""The fleet sections of the dashboard: devices by family and plan, alerts, usage against tier, activity per hour."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..datto.catalog import Family, PlanKind, format_bytes
from ..world import World
from .capped import Capped
from .charts import Row, hour_chart, row_chart

DEVICES_SHOWN = 100
USAGE_BARS = 40
USAGE_SCALE_MAX = 2.0  # bars past twice the tier are drawn to the edge (their text says how far)
PLAN_ORDER = {kind: index for index, kind in enumerate((PlanKind.CAPACITY, PlanKind.TBR, PlanKind.ICR))}


def fleet_version(world: World) -> tuple[Any, ...]:
    """What changes whenever the fleet's picture does: events, incidents, patches, a new or restored fleet."""
    fleet = world.fleet
    engine = fleet.engine
    return (id(engine), fleet.sequence, engine.truth.count, fleet.revision, len(engine.fleet.devices))


def fleet_view(world: World) -> dict[str, Any]:
    return world.state.views["fleet"].view()


def plan_label(plan: dict[str, Any]) -> str:
    kind = plan["kind"]
    if kind == PlanKind.CAPACITY:
        return f"Capacity {format_bytes(plan['includedOffsiteBytes'])}"
    if kind == PlanKind.TBR:
        years = plan["tbrYears"]
        return f"Time-based retention, {years} year{'' if years == 1 else 's'}"
    if kind == PlanKind.ICR:
        return "Infinite cloud retention"
    return "Local only"


def plan_order(plan: dict[str, Any]) -> tuple[int, int, int]:
    return (PLAN_ORDER.get(plan["kind"], len(PLAN_ORDER)), plan["includedOffsiteBytes"], plan["tbrYears"])


def fleet_model(view: dict[str, Any]) -> dict[str, Any]:
    summary, devices = view["summary"], view["devices"]
    families = [family.value for family in Family if family.value in summary["devices"]["byFamily"]]
    return {
        "summary": summary,
        "families": families,
        "plans": plans_table(devices, families),
        "alertsByType": alerts_chart(summary["activeAlerts"]["byType"]),
        "usage": usage_chart(devices),
        "devices": Capped.of(sorted_devices(devices), DEVICES_SHOWN),
    }


def plans_table(devices: list[dict[str, Any]], families: list[str]) -> list[dict[str, Any]]:
    """One row per plan (each capacity tier its own): devices per family, offsite used against the tier."""
    rows: dict[str, dict[str, Any]] = {}
    for device in sorted(devices, key=lambda d: plan_order(d["plan"])):
        plan = device["plan"]
        row = rows.setdefault(
            plan_label(plan),
            {
                "label": plan_label(plan),
                "capacity": plan["kind"] == PlanKind.CAPACITY,
                "byFamily": Counter(),
                "devices": 0,
                "usedBytes": 0,
                "includedBytes": 0,
                "overTier": 0,
            },
        )
        row["byFamily"][device["family"]] += 1
        row["devices"] += 1
        row["usedBytes"] += device["offsiteUsedBytes"]
        row["includedBytes"] += plan["includedOffsiteBytes"]
        if row["capacity"] and device["offsiteUsedBytes"] > plan["includedOffsiteBytes"]:
            row["overTier"] += 1
    for row in rows.values():
        row["cells"] = [row["byFamily"][family] for family in families]
        row["share"] = row["usedBytes"] / row["includedBytes"] if row["capacity"] and row["includedBytes"] else None
    return list(rows.values())


def alerts_chart(by_type: dict[str, int]) -> Any:
    ranked = sorted(by_type.items(), key=lambda item: (-item[1], item[0]))
    rows = [Row(kind.replace("_", " "), count, str(count), f"{count} active {kind} alerts") for kind, count in ranked]
    return row_chart(rows, max(by_type.values(), default=1)) if rows else None


def usage_chart(devices: list[dict[str, Any]]) -> dict[str, Any]:
    """Offsite usage as a share of the tier, per device on a capacity plan, fullest first."""
    capacity = [d for d in devices if d["plan"]["kind"] == PlanKind.CAPACITY and d["plan"]["includedOffsiteBytes"]]
    capacity.sort(key=lambda d: (-d["offsiteUsedBytes"] / d["plan"]["includedOffsiteBytes"], d["serialNumber"]))
    rows = []
    for device in capacity[:USAGE_BARS]:
        used, tier = device["offsiteUsedBytes"], device["plan"]["includedOffsiteBytes"]
        share = used / tier
        rows.append(
            Row(
                f"{device['name']} ({device['serialNumber']})",
                share,
                f"{size(used)} of {format_bytes(tier)} ({share:.0%})",
                f"{device['name']} {device['serialNumber']} · {device['clientCompanyName']}: {size(used)} used, "
                f"tier {format_bytes(tier)}",
                over=used > tier,
            )
        )
    top = max((row.value for row in rows), default=1.0)
    scale = min(max(1.25, top * 1.05), USAGE_SCALE_MAX)
    return {
        "chart": row_chart(rows, scale, marker=1.0, marker_label="tier") if rows else None,
        "shown": len(rows),
        "total": len(capacity),
        "over": sum(1 for d in capacity if d["offsiteUsedBytes"] > d["plan"]["includedOffsiteBytes"]),
    }


def sorted_devices(devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Devices that need a look first: offline, then by active alerts."""
    return sorted(devices, key=lambda d: (d["online"], -d["activeAlerts"], d["serialNumber"]))


def size(count: int | None) -> str:
    """Bytes in decimal units, to one decimal: `1.5 TB`, `620.0 GB`."""
    if count is None:
        return "-"
    if count >= 10**12:
        return f"{count / 10**12:.1f} TB"
    return f"{count / 10**9:.1f} GB"


# -- activity ---------------------------------------------------------------------------------


def activity_model(view: dict[str, Any], tickets: list[dict[str, Any]]) -> dict[str, Any]:
    """Alerts raised and tickets entered per simulated hour, over the fleet view's hours."""
    hours = [slot["hour"] for slot in view["alertsPerHour"]]
    alerts = [slot["raised"] for slot in view["alertsPerHour"]]
    entered = Counter(str(ticket.get("_dateEntered") or "")[:13] for ticket in tickets)
    per_hour = [entered[hour[:13]] for hour in hours]  # both ISO: `YYYY-MM-DDTHH` names the hour
    return {
        "chart": hour_chart(hours, alerts, per_hour, "alerts raised", "tickets entered"),
        "alerts": sum(alerts),
        "tickets": sum(per_hour),
        "hours": len(hours),
        "from": hours[0] if hours else None,
    }
