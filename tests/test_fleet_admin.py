"""The clock and fleet admin endpoints over HTTP, on the session's `cwsim serve` (the `cwsim` fixture)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import requests

from cwsim.simulator.testing import WAIT_SECONDS

from .test_sinks import Receiver

HOUR = 3600


def moment(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


@pytest.fixture
def stepped(admin):
    """The clock stepped from where the fleet is, so nothing moves unless the test moves it."""
    body = admin.post("clock", json={"mode": "stepped"}).json()
    assert body["mode"] == "stepped" and body["fleetBehindSeconds"] == 0
    return body


def test_the_clock_starts_in_wall_mode(admin) -> None:
    body = admin.get("clock").json()
    assert body["mode"] == "wall" and body["rate"] == 1.0
    assert set(body) >= {"now", "fleetTime", "fleetBehindSeconds"}


def test_advance_in_stepped_mode_moves_clock_and_fleet_together(admin, stepped) -> None:
    body = admin.post("clock", json={"advance": "PT6H"}).json()
    assert moment(body["now"]) == moment(stepped["now"]) + 6 * HOUR
    assert body["fleetTime"] == body["now"] and body["flushed"] is True
    assert body["events"] >= 0 and body["sink"]["kind"] == "none"
    again = admin.get("clock").json()
    assert again["now"] == body["now"]  # stepped: nothing moves by itself


def test_connectwise_timestamps_follow_the_simulated_clock(cwsim, admin, stepped) -> None:
    target = datetime.fromtimestamp(moment(stepped["now"]) + 86400 + 1234, UTC)
    admin.post("clock", json={"set": target.isoformat()}).raise_for_status()
    ticket = cwsim.session().post("service/tickets", json={"summary": "Clock check", "company": {"id": 1}}).json()
    assert ticket["_info"]["dateEntered"] == target.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_scaled_mode_and_back(admin) -> None:
    body = admin.post("clock", json={"mode": "scaled", "rate": 3600}).json()
    assert (body["mode"], body["rate"]) == ("scaled", 3600.0)
    assert admin.post("clock", json={"mode": "wall"}).json()["rate"] == 1.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"advance": "P1Y"}, "advance"),
        ({"advance": "6 hours"}, "advance"),
        ({"advance": "P400D"}, "advance"),
        ({"set": "tomorrow"}, "set"),
        ({"set": "2031-01-01T00:00:00"}, "set"),
        ({"advance": "PT1H", "set": "2031-01-01T00:00:00Z"}, "set"),
        ({"mode": "sideways"}, "mode"),
        ({"mode": "stepped", "rate": 5}, "rate"),
        ({"mode": "scaled", "rate": -1}, "rate"),
        ({}, "advance"),
        ({"speed": 2}, "speed"),
    ],
)
def test_bad_clock_requests_are_400s_naming_the_field(admin, body: dict, field: str) -> None:
    response = admin.post("clock", json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "InvalidObject" and field in {problem["field"] for problem in error["errors"]}


def test_the_clock_never_goes_back_past_the_fleet(admin, stepped) -> None:
    response = admin.post("clock", json={"set": "2001-01-01T00:00:00Z"})
    assert response.status_code == 409 and "reset" in response.json()["message"]
    assert admin.post("clock", data=b"[1, 2").status_code == 400


def test_fleet_summary(admin) -> None:
    body = admin.get("fleet").json()
    assert body["devices"]["total"] == 18 and body["devices"]["byFamily"] == {"ALTO": 6, "SIRIS": 12}
    assert body["assets"]["agents"] > 0
    assert set(body["usage"]["byPlan"]) <= {"CAPACITY", "TBR", "ICR", "LOCAL_ONLY"}
    assert body["organizations"]["total"] == 18
    assert "activeAlerts" in body and "sink" in body


def test_generate_a_fleet_from_a_spec_and_reset_back(admin) -> None:
    response = admin.post(
        "fleet", json={"siris": 3, "alto": 1, "seed": 9, "quiet": True, "rates": {"dailyChange": 0.05}}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["devices"]["total"] == 4 and body["spec"]["rates"]["backupFailureP"] == 0.0
    assert body["spec"]["rates"]["dailyChange"] == 0.05
    bad = admin.post("fleet", json={"siris": -2, "rates": {"nope": 1}})
    assert bad.status_code == 400
    assert {problem["field"] for problem in bad.json()["errors"]} == {"siris", "rates/nope"}
    admin.post("reset").raise_for_status()
    assert admin.get("fleet").json()["devices"]["total"] == 18


def test_patch_a_device_to_set_up_an_exact_case(admin, stepped) -> None:
    admin.post("fleet", json={"quiet": True, "siris": 2, "alto": 0, "silentShare": 0, "outOfServiceShare": 0})
    device = admin.get("fleet/devices").json()[0]
    serial = device["serialNumber"]
    half = device["localCapacityBytes"] // 2
    changed = admin.patch(
        f"fleet/devices/{serial}",
        json={"emails": {"warning": ["noc@example.com"]}, "localUsedBytes": int(device["localCapacityBytes"] * 0.95)},
    ).json()
    assert changed["emails"]["warning"] == ["noc@example.com"]
    raised = [event for event in admin.get("fleet/events").json() if event["event"] == "raise"]
    assert [(event["alertType"], event["recipients"]) for event in raised] == [("low_local_space", ["noc@example.com"])]
    admin.patch(f"fleet/devices/{serial}", json={"localUsedBytes": half}).raise_for_status()
    assert admin.get("fleet/events?since=1").json()[0]["event"] == "clear"
    view = admin.patch(f"fleet/devices/{serial}", json={"paused": True, "inService": False, "hidden": True}).json()
    assert all(asset["paused"] for asset in view["assets"]) and not view["inService"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"localUsedBytes": -1}, 400),
        ({"emails": {"critical": ["not-an-address"]}}, 400),
        ({"plan": {"kind": "FOREVER"}}, 400),
        ({"assets": {"0" * 32: {"paused": True}}}, 404),
        ([1, 2], 400),
    ],
)
def test_bad_device_patches(admin, body, status: int) -> None:
    serial = admin.get("fleet/devices").json()[0]["serialNumber"]
    response = admin.patch(f"fleet/devices/{serial}", json=body)
    assert response.status_code == status
    assert set(response.json()) == {"code", "message", "errors"}
    assert admin.patch("fleet/devices/FFFFFFFFFFFF", json={}).status_code == 404


def test_inject_an_incident_and_read_the_truth(admin, stepped) -> None:
    admin.post("fleet", json={"quiet": True, "siris": 2, "alto": 0, "silentShare": 0, "outOfServiceShare": 0})
    serial = admin.get("fleet/devices").json()[0]["serialNumber"]
    incident = admin.post(
        "fleet/incidents", json={"kind": "device_offline", "serialNumber": serial, "duration": "PT3H"}
    )
    assert incident.status_code == 201
    incident_id = incident.json()["incidentId"]
    admin.post("clock", json={"advance": "PT4H"}).raise_for_status()
    events = [event for event in admin.get("fleet/events").json() if event["event"] != "usage"]
    assert [(event["event"], event["alertType"]) for event in events] == [
        ("raise", "device_not_seen"),
        ("clear", "device_not_seen"),
    ]
    assert not any("incident" in key.lower() for key in events[0])
    truth = admin.get(f"truth?serial={serial}").json()
    assert [alert["incidentId"] for alert in truth["alerts"]] == [incident_id]
    assert truth["alerts"][0]["dateCleared"] is not None
    assert truth["organizations"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"kind": "meteor", "serialNumber": "X"}, 400),
        ({"kind": "backup_failure", "serialNumber": "X"}, 400),
        ({"kind": "device_offline", "serialNumber": "FFFFFFFFFFFF"}, 404),
        ({"kind": "device_offline", "serialNumber": "X", "duration": "P1M"}, 400),
    ],
)
def test_bad_incidents(admin, body: dict, status: int) -> None:
    assert admin.post("fleet/incidents", json=body).status_code == status


def test_point_the_fleet_at_a_url_at_run_time(admin, stepped) -> None:
    receiver = Receiver()
    receiver.thread.start()
    try:
        admin.post("fleet", json={"quiet": True, "siris": 1, "alto": 0, "silentShare": 0, "outOfServiceShare": 0})
        assert admin.post("fleet/sink", json={"url": receiver.url, "batchSize": 10}).json()["sink"]["kind"] == "http"
        serial = admin.get("fleet/devices").json()[0]["serialNumber"]
        admin.post("fleet/incidents", json={"kind": "device_offline", "serialNumber": serial, "duration": "PT2H"})
        body = admin.post("clock", json={"advance": "PT3H"}).json()
        assert body["flushed"] and body["sink"]["delivered"] == 2
        assert [event["event"] for event in receiver.received] == ["raise", "clear"]
        assert admin.post("fleet/sink", json={"url": "ftp://nope"}).status_code == 400
        admin.post("reset").raise_for_status()
        assert admin.get("fleet/sink").json()["kind"] == "none"
    finally:
        receiver.server.shutdown()


def test_portal_settings_at_run_time(admin, cwsim) -> None:
    assert admin.patch("fleet/portal", json={"rateLimit": 2, "assetListAsObject": True}).json()["rateLimit"] == 2
    auth = (cwsim.facts["portal"]["publicKey"], cwsim.facts["portal"]["secretKey"])
    codes = [requests.get(f"{cwsim.url}/v1/bcdr/device", auth=auth, timeout=10).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert admin.patch("fleet/portal", json={"storageUnits": "PB"}).status_code == 400
    admin.post("reset").raise_for_status()
    assert admin.get("fleet/portal").json()["rateLimit"] == 0


def test_requests_are_answered_while_the_fleet_advances(admin, cwsim, stepped) -> None:
    """The receiver holds the first batch until the test has read the portal and the clock mid-advance."""
    receiver = Receiver()
    release = threading.Event()
    original = receiver.app

    def held(environ, start_response):
        release.wait(30)
        return original(environ, start_response)

    receiver.server.app = held
    receiver.thread.start()
    try:
        admin.post("fleet", json={"siris": 40, "alto": 0, "seed": 3})
        admin.post("fleet/sink", json={"url": receiver.url, "batchSize": 1, "queueSize": 1}).raise_for_status()
        start = moment(admin.get("clock").json()["now"])
        result: dict = {}
        advance = threading.Thread(target=lambda: result.update(admin.post("clock", json={"advance": "P3D"}).json()))
        advance.start()
        auth = (cwsim.facts["portal"]["publicKey"], cwsim.facts["portal"]["secretKey"])
        listing = requests.get(f"{cwsim.url}/v1/bcdr/device?_perPage=5", auth=auth, timeout=10)
        middle = admin.get("clock").json()
        release.set()
        advance.join(2 * WAIT_SECONDS)
        assert not advance.is_alive(), f"the advance did not return within {2 * WAIT_SECONDS:g} s"
        assert listing.status_code == 200 and listing.json()["pagination"]["count"] == 40
        assert start <= moment(middle["fleetTime"]) < start + 3 * 86400 == moment(result["now"])
        assert result["flushed"] and result["sink"]["delivered"] == result["sink"]["taken"] > 0
    finally:
        release.set()
        receiver.server.shutdown()


def test_reset_restores_the_clock_and_the_fleet(admin) -> None:
    before = admin.get("fleet").json()
    admin.post("clock", json={"mode": "stepped", "advance": "P3D"}).raise_for_status()
    serial = admin.get("fleet/devices").json()[0]["serialNumber"]
    admin.patch(f"fleet/devices/{serial}", json={"inService": False}).raise_for_status()
    admin.post("reset").raise_for_status()
    after = admin.get("fleet").json()
    assert admin.get("clock").json()["mode"] == "wall"
    assert (after["devices"], after["assets"], after["spec"]) == (before["devices"], before["assets"], before["spec"])
    assert admin.get(f"fleet/devices/{serial}").json()["inService"] is True
