"""GET /_sim/data.json: every part's view, from the one registry behind /_sim/state."""

from __future__ import annotations

from typing import Any

import pytest

from cwsim.simulator.datto.simulation import FleetSimulation
from cwsim.simulator.state import STATE_VERSION, WorldState

from .conftest import Api
from .fleetkit import CLIENTS, HOUR, START, quiet_spec

PARTS = ["connectwise", "mail", "clock", "fleet", "journal", "faults", "stubs"]


def data(api: Api, **params: str) -> dict[str, Any]:
    response = api.client.get("/_sim/data.json", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def busy(api: Api) -> None:
    api.post("service/tickets", {"summary": "Backup failed", "company": {"id": 1}, "initialDescription": "n1"})
    api.get("service/tickets/999")
    api.client.post("/_sim/faults", json={"method": "DELETE", "effect": {"kind": "status", "status": 500}})
    api.world.mailbox.deliver("a@example.com", ["b@example.com"], b"Subject: hello\n\nbody")


def test_data_json_holds_every_part_in_registration_order(api: Api) -> None:
    busy(api)
    document = data(api)
    assert list(document) == ["version", *PARTS] and document["version"] == 1
    assert set(document["clock"]) == {"now", "mode", "rate", "fleetTime", "fleetBehindSeconds"}
    assert set(document["fleet"]) == {"summary", "devices", "alertsPerHour"}
    assert len(document["fleet"]["alertsPerHour"]) == 24
    assert set(document["fleet"]["alertsPerHour"][0]) == {"hour", "raised"}


def test_data_json_comes_from_the_same_serializers_as_the_admin_api(api: Api) -> None:
    busy(api)
    document = data(api)
    state = api.client.get("/_sim/state").get_json()
    assert document["mail"] == state["mail"]
    ours, theirs = document["connectwise"]["tables"], state["connectwise"]["tables"]
    assert set(ours) == set(theirs)
    for table in ("service/tickets", "service/tickets/notes", "company/companies", "finance/agreements"):
        assert ours[table] == theirs[table]
    assert document["journal"] == api.client.get("/_sim/requests").get_json()
    assert document["faults"] == api.client.get("/_sim/faults").get_json()
    assert document["fleet"]["summary"] == api.client.get("/_sim/fleet").get_json()
    assert document["fleet"]["devices"] == api.client.get("/_sim/fleet/devices").get_json()
    assert document["clock"]["mode"] == api.client.get("/_sim/clock").get_json()["mode"]


def test_data_json_masks_the_secrets_the_state_keeps(api: Api) -> None:
    document = data(api)
    state = api.client.get("/_sim/state").get_json()
    (login,) = document["connectwise"]["tables"]["system/integratorlogins"]["records"]
    (stored,) = state["connectwise"]["tables"]["system/integratorlogins"]["records"]
    assert login["password"] == "***" and stored["password"] == "cwsim-integrator"
    assert {**login, "password": stored["password"]} == stored
    assert document["connectwise"]["settings"]["apiKeys"][0]["privateKey"] == "***"
    assert state["connectwise"]["settings"]["apiKeys"][0]["privateKey"] == "cwsim-private"


def test_some_parts(api: Api) -> None:
    assert list(data(api, parts="fleet, clock")) == ["version", "fleet", "clock"]
    response = api.client.get("/_sim/data.json", query_string={"parts": "clock,weather"})
    assert response.status_code == 400 and "weather" in response.get_json()["message"]


def test_an_unchanged_record_is_viewed_once(api: Api) -> None:
    part = api.world.state.views["connectwise"]
    api.post("service/tickets", {"summary": "one", "company": {"id": 1}})
    api.post("service/tickets", {"summary": "two", "company": {"id": 1}})
    first = part.view(["service/tickets"])["tables"]["service/tickets"]["records"]
    api.patch("service/tickets/2", [{"op": "replace", "path": "summary", "value": "changed"}])
    again = part.view(["service/tickets"])["tables"]["service/tickets"]["records"]
    assert again[0] is first[0] and again[1] is not first[1]
    assert again[1]["summary"] == "changed"


def test_view_parts_are_registered_once_and_not_restored() -> None:
    class Part:
        name = "clock"

        def view(self) -> str:
            return "tick"

    state = WorldState()
    state.register_view(Part())
    with pytest.raises(ValueError, match="already registered"):
        state.register_view(Part())
    assert state.view() == {"version": 1, "clock": "tick"} and state.dump() == {"version": STATE_VERSION}


def test_alerts_per_hour_counts_the_alerts_raised_in_each_hour() -> None:
    fleet = FleetSimulation(quiet_spec(), CLIENTS, START)
    device = fleet.fleet.devices[0]
    fleet.advance_to(int(START.timestamp()) + 2 * HOUR)
    fleet.inject("device_offline", device.serial, None, {"duration_seconds": 5 * HOUR})
    fleet.advance_to(int(START.timestamp()) + 10 * HOUR + 30 * 60)
    hours = fleet.alerts_per_hour(fleet.now, 4)
    assert [slot["hour"][11:16] for slot in hours] == ["07:00", "08:00", "09:00", "10:00"]
    assert all(slot["raised"] == 0 for slot in hours)  # the device went dark at 02:00, alerting at 03:00
    hours = fleet.alerts_per_hour(fleet.now, 11)
    assert [slot["raised"] for slot in hours] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
