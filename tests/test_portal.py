"""The Datto portal API on the fleet: paging, auth, the objects, the real API's quirks and its rate limit."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from cwsim.simulator.datto.portal import RateLimiter
from cwsim.simulator.datto.settings import PortalSettings
from cwsim.simulator.server import create_app
from cwsim.simulator.world import World, WorldOptions

from .fleetkit import START, quiet_spec

KEYS = "Basic " + base64.b64encode(b"datto-public:datto-secret").decode()


def basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


@pytest.fixture
def world() -> Iterator[World]:
    spec = dataclasses.replace(quiet_spec(siris=9, alto=3, hidden_share=0.25), seed=4)
    world = World(WorldOptions(clock_mode="stepped", clock_start=START, fleet=spec))
    yield world
    world.close()


@pytest.fixture
def client(world: World):
    client = create_app(world).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = KEYS
    return client


def test_the_device_list_is_paged_in_the_portal_envelope(client) -> None:
    first = client.get("/v1/bcdr/device?_perPage=5").json
    assert first["pagination"] == {"page": 1, "perPage": 5, "totalPages": 3, "count": 12}
    last = client.get("/v1/bcdr/device?_perPage=5&_page=3").json
    assert len(first["items"]) == 5 and len(last["items"]) == 2
    pages = [client.get(f"/v1/bcdr/device?_perPage=5&_page={page}").json["items"] for page in (1, 2, 3)]
    serials = [item["serialNumber"] for page in pages for item in page]
    assert len(set(serials)) == 12
    beyond = client.get("/v1/bcdr/device?_perPage=5&_page=9").json
    assert beyond["items"] == [] and beyond["pagination"]["count"] == 12
    assert client.get("/v1/bcdr/device").json["pagination"]["perPage"] == 100
    assert client.get("/v1/bcdr/device?_perPage=5000").json["pagination"]["perPage"] == 250


@pytest.mark.parametrize("query", ["_page=0", "_page=x", "_perPage=-1", "showHiddenDevices=maybe"])
def test_bad_paging_is_a_400_with_code_and_message(client, query: str) -> None:
    response = client.get(f"/v1/bcdr/device?{query}")
    assert response.status_code == 400
    assert set(response.json) == {"code", "message"} and response.json["code"] == 400


def test_hidden_devices_are_listed_unless_asked_not_to(client, world: World) -> None:
    hidden = {device.serial for device in world.fleet.fleet.devices if device.hidden}
    assert len(hidden) == 3
    shown = client.get("/v1/bcdr/device?showHiddenDevices=0").json
    assert shown["pagination"]["count"] == 9
    assert not hidden & {item["serialNumber"] for item in shown["items"]}
    assert client.get("/v1/bcdr/device?showHiddenDevices=1").json["pagination"]["count"] == 12


def test_a_device_as_the_portal_shows_it(client, world: World) -> None:
    device = world.fleet.fleet.devices[0]
    body = client.get(f"/v1/bcdr/device/{device.serial.lower()}").json
    assert body["serialNumber"] == device.serial
    assert body["clientCompanyName"] == body["organizationName"] == device.org.name
    assert body["localStorageUsed"] == {"size": device.local_used / 1e9, "units": "GB"}
    assert body["offsiteStorageUsed"]["units"] == "GB"
    assert body["agentCount"] == len(device.agents()) and body["alertCount"] == 0
    assert body["lastSeenDate"] == "2026-01-05T00:00:00+00:00"
    assert "Retention" in body["servicePlan"] or "Capacity" in body["servicePlan"]
    assert client.get("/v1/bcdr/device/FFFFFFFFFFFF").json == {"code": 404, "message": "Device FFFFFFFFFFFF not found"}


def test_assets_agents_shares_and_one_volume(client, world: World) -> None:
    device = next(device for device in world.fleet.fleet.devices if device.shares())
    assets = client.get(f"/v1/bcdr/device/{device.serial}/asset").json
    assert isinstance(assets, list) and len(assets) == len(device.assets)
    agents = client.get(f"/v1/bcdr/device/{device.serial}/asset/agent").json
    shares = client.get(f"/v1/bcdr/device/{device.serial}/asset/share").json
    assert {item["type"] for item in agents} == {"agent"} and {item["type"] for item in shares} == {"share"}
    agent = agents[0]
    assert len(agent["volume"]) == 32 and isinstance(agent["lastSnapshot"], int)
    assert agent["backups"] and agent["backups"][0]["backup"]["status"] == "success"
    one = client.get(f"/v1/bcdr/device/{device.serial}/asset/{agent['volume']}").json
    assert one["name"] == agent["name"]
    missing = client.get(f"/v1/bcdr/device/{device.serial}/asset/{'0' * 32}")
    assert missing.status_code == 404 and missing.json["code"] == 404


def test_the_alert_list_holds_the_active_alerts_in_the_documented_shape(client, world: World) -> None:
    device = world.fleet.fleet.devices[0]
    world.fleet.inject("device_offline", device.serial, None, {"duration_seconds": 6 * 3600})
    world.time.advance(timedelta(hours=2))
    body = client.get(f"/v1/bcdr/device/{device.serial}/alert").json
    assert body["pagination"]["count"] == 1
    (item,) = body["items"]
    assert item == {
        "type": "Device Not Seen Alert",
        "threshold": 60,
        "unit": "Minutes",
        "dateTriggered": "2026-01-05T01:00:00+00:00",
        "dateSent": "2026-01-05T01:00:00+00:00",
    }
    world.portal.settings = dataclasses.replace(world.portal.settings, alert_details=True)
    detailed = client.get(f"/v1/bcdr/device/{device.serial}/alert").json["items"][0]
    assert detailed["alertKey"] == f"{device.serial}:device:CWSIM-DEVICE-NOT-SEEN" and detailed["numberSeen"] == 1
    world.time.advance(timedelta(hours=6))
    assert client.get(f"/v1/bcdr/device/{device.serial}/alert").json["items"] == []  # cleared


@pytest.mark.parametrize(
    "headers",
    [{}, basic("datto-public", "wrong"), basic("someone", "datto-secret"), {"Authorization": "Bearer x"}],
)
def test_basic_auth_with_the_public_and_secret_keys(client, headers: dict[str, str]) -> None:
    response = client.get("/v1/bcdr/device", headers=headers or {"Authorization": ""})
    assert response.status_code == 401
    assert response.json["code"] == 401 and response.json["message"]
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_the_keys_are_settings(world: World) -> None:
    world.portal.settings = PortalSettings(public_key="pk", secret_key="sk")
    client = create_app(world).test_client()
    assert client.get("/v1/bcdr/device", headers=basic("pk", "sk")).status_code == 200
    assert client.get("/v1/bcdr/device", headers={"Authorization": KEYS}).status_code == 401


def test_quirk_offsite_usage_as_an_empty_list(client, world: World) -> None:
    assert all(isinstance(item["offsiteStorageUsed"], dict) for item in client.get("/v1/bcdr/device").json["items"])
    world.portal.settings = dataclasses.replace(world.portal.settings, offsite_as_list_share=1.0)
    assert {str(item["offsiteStorageUsed"]) for item in client.get("/v1/bcdr/device").json["items"]} == {"[]"}
    world.portal.settings = dataclasses.replace(world.portal.settings, offsite_as_list_share=0.5)
    quirky = [item for item in client.get("/v1/bcdr/device").json["items"] if item["offsiteStorageUsed"] == []]
    assert 0 < len(quirky) < 12
    again = [item for item in client.get("/v1/bcdr/device").json["items"] if item["offsiteStorageUsed"] == []]
    assert quirky == again  # the same devices every time


def test_quirk_asset_list_as_an_index_keyed_object(client, world: World) -> None:
    device = world.fleet.fleet.devices[0]
    world.portal.settings = dataclasses.replace(world.portal.settings, asset_list_as_object=True)
    body = client.get(f"/v1/bcdr/device/{device.serial}/asset").json
    assert isinstance(body, dict) and list(body) == [str(index) for index in range(len(device.assets))]
    assert body["0"]["volume"] == device.assets[0].volume


def test_units_and_date_formats_are_settings(client, world: World) -> None:
    device = world.fleet.fleet.devices[0]
    world.portal.settings = dataclasses.replace(world.portal.settings, storage_units="B", date_format="epoch")
    body = client.get(f"/v1/bcdr/device/{device.serial}").json
    assert body["localStorageUsed"] == {"size": device.local_used, "units": "B"}
    assert body["registrationDate"] == device.registered


class FakeWall:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limit_answers_429_per_key_until_the_window_passes(world: World) -> None:
    wall = FakeWall()
    world.portal.limiter = RateLimiter(clock=wall)
    world.portal.settings = dataclasses.replace(world.portal.settings, rate_limit=3, rate_window_seconds=60)
    client = create_app(world).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = KEYS
    assert [client.get("/v1/bcdr/device").status_code for _ in range(3)] == [200, 200, 200]
    wall.now = 20
    limited = client.get("/v1/bcdr/device")
    assert limited.status_code == 429 and limited.json["code"] == 429
    assert limited.headers["Retry-After"] == "40"
    wall.now = 60.5
    assert client.get("/v1/bcdr/device").status_code == 200
    # control: without the setting there is no limit
    world.portal.settings = dataclasses.replace(world.portal.settings, rate_limit=0)
    assert {client.get("/v1/bcdr/device").status_code for _ in range(20)} == {200}


def test_only_reads_are_served(client) -> None:
    assert client.post("/v1/bcdr/device").status_code == 405
    unknown = client.get("/v1/bcdr/agent")
    assert unknown.status_code == 404 and "not served" in unknown.json["message"]


def test_cloud_devices_have_no_local_storage(world: World) -> None:
    world.fleet.regenerate(dataclasses.replace(quiet_spec(), siris=0, alto=0, cloud=2))
    client = create_app(world).test_client()
    item = client.get("/v1/bcdr/device", headers={"Authorization": KEYS}).json["items"][0]
    assert item["model"] == "CLDSIRIS" and item["localStorageUsed"] is None and item["internalIP"] is None
