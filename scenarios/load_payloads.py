"""Alert payloads for a load test, drawn from the fleet simulator: a fleet generated from a seed, run offline for some
days, its raises written to a JSON file that the alerts locustfile reads (so locust needs nothing of the simulator).

The fleet is the one `cwsim serve` makes from the same seed and counts with `LOAD_FLEET_ARGUMENTS`' clock start,
so every payload names an appliance the fake knows and onboarding maps.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ..simulator.atomic_files import write_json_atomically
from ..simulator.clock import parse_moment
from ..simulator.connectwise.tenant import DEFAULT_COMPANIES, default_tenant
from ..simulator.datto.alerts import RAISE
from ..simulator.datto.engine import Engine
from ..simulator.datto.fleet import generate_fleet
from ..simulator.datto.settings import FleetSpec
from ..simulator.world import company_names

FORMAT = "cwsim-load-payloads/1"
START = "2026-01-01T00:00:00Z"
DAY = 86400


class PayloadError(ValueError):
    """A payload file that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class LoadFleet:
    """The fleet behind a load test: the fake serves it, onboarding maps it, the payloads come from it."""

    seed: int = 0
    siris: int = 30
    alto: int = 10
    companies: int = DEFAULT_COMPANIES
    days: int = 14  # simulated days run offline for the payloads

    @property
    def start(self) -> datetime:
        return parse_moment(START)

    def spec(self) -> FleetSpec:
        # Every client matches a company exactly, so onboarding maps every appliance and no alert is held.
        return FleetSpec(seed=self.seed, siris=self.siris, alto=self.alto, cloud=0, unmatched_share=0.0)

    def serve_arguments(self) -> list[str]:
        """`cwsim serve` options that make this same fleet (on a stepped clock that never moves by itself)."""
        return [
            "--seed", str(self.seed), "--companies", str(self.companies),
            "--siris", str(self.siris), "--alto", str(self.alto), "--cloud", "0", "--unmatched-share", "0",
            "--clock", "stepped", "--clock-start", START,
        ]  # fmt: skip


def draw_alerts(fleet: LoadFleet) -> list[dict[str, Any]]:
    """Every raise the fleet makes in `fleet.days` simulated days, as the fleet would send it."""
    names = company_names(default_tenant(fleet.seed, fleet.companies))
    engine = Engine(generate_fleet(fleet.spec(), names, fleet.start), keep_truth=False, emit_usage=False)
    engine.run_until(int(fleet.start.timestamp()) + fleet.days * DAY)
    # A round trip through JSON turns the fleet's enums into the plain strings the wire carries.
    return [orjson.loads(orjson.dumps(event)) for event in engine.take_events() if event["event"] == RAISE]


def write_payloads(fleet: LoadFleet, path: Path) -> dict[str, Any]:
    """Draw the alerts and write them; returns what the file holds (appliances and alerts by category)."""
    alerts = draw_alerts(fleet)
    if not alerts:
        raise PayloadError(f"the fleet raised no alert in {fleet.days} days; give it more appliances or days")
    described = describe(alerts)
    document = {
        "format": FORMAT,
        "fleet": {"seed": fleet.seed, "siris": fleet.siris, "alto": fleet.alto, "companies": fleet.companies},
        "start": START,
        "days": fleet.days,
        **described,
        "alerts": alerts,
    }
    write_json_atomically(path, document)
    return described


def describe(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    categories = Counter(alert["category"] for alert in alerts)
    return {
        "appliances": len({alert["serialNumber"] for alert in alerts}),
        "categories": dict(sorted(categories.items())),
    }


def read_payloads(path: Path) -> list[dict[str, Any]]:
    """The alerts of a payload file; PayloadError naming the file and the problem."""
    try:
        document = orjson.loads(Path(path).read_bytes())
    except OSError as error:
        raise PayloadError(f"{path}: cannot read it: {error.strerror or error}") from error
    except orjson.JSONDecodeError as error:
        raise PayloadError(f"{path}: not JSON: {error}") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise PayloadError(
            f'{path}: not a payload file (expected "format": "{FORMAT}"; make one with cwsim load payloads)'
        )
    alerts = document.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError(f"{path}: holds no alerts")
    return alerts


def ticketing(category: str) -> bool:
    """Whether an alert of this category makes a ticket when routed to tickets (screenshot alerts never do)."""
    return category != "screenshot"
