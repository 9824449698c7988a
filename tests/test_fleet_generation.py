"""Generating a fleet: identities, clients drawn from the tenant's companies, email lists, and fleet files."""

from __future__ import annotations

import re

import orjson
import pytest

from cwsim.simulator.datto.catalog import EMAIL_LISTS, MODELS_BY_CODE, PlanKind
from cwsim.simulator.datto.fleet import abbreviate, generate_fleet, misspell
from cwsim.simulator.datto.offline import FleetFileError, fleet_from_json, fleet_to_json, load_fleet, save_fleet
from cwsim.simulator.datto.settings import FleetSpec

from .fleetkit import CLIENTS, START

TENANT = [
    f"{name} {suffix}"
    for name in ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne")
    for suffix in ("Inc", "LLC")
]


def test_the_same_spec_gives_the_same_fleet() -> None:
    spec = FleetSpec(seed=11, siris=30, alto=10, cloud=2)
    first = fleet_to_json(generate_fleet(spec, TENANT, START))
    again = fleet_to_json(generate_fleet(spec, TENANT, START))
    other = fleet_to_json(generate_fleet(FleetSpec(seed=12, siris=30, alto=10, cloud=2), TENANT, START))
    assert orjson.dumps(first) == orjson.dumps(again)
    assert first["devices"] != other["devices"]


def test_devices_look_like_datto_appliances() -> None:
    fleet = generate_fleet(FleetSpec(seed=3, siris=40, alto=20, cloud=5), TENANT, START)
    assert [device.family.value for device in fleet.devices].count("ALTO") == 20
    serials = [device.serial for device in fleet.devices]
    assert len(set(serials)) == len(serials)
    for device in fleet.devices:
        assert re.fullmatch(r"(00012E|54B203)[0-9A-F]{6}", device.serial)
        assert MODELS_BY_CODE[device.model].family is device.family
        assert re.fullmatch(r"[a-z0-9]+-(siris|alto|cloud)\d*", device.name)
        assert device.registered < fleet.start
        if device.family.value == "CLOUD":
            assert device.local_capacity is None
        else:
            assert 0 < device.local_used <= device.local_capacity
        if device.plan.kind is PlanKind.CAPACITY:
            assert device.plan.included_offsite_bytes > 0
        for asset in device.assets:
            assert re.fullmatch(r"[0-9a-f]{32}", asset.volume)
            assert asset.kind in ("agent", "share") and asset.protected_bytes > 0
    assert len({device.name for device in fleet.devices}) == len(fleet.devices)
    volumes = [asset.volume for device in fleet.devices for asset in device.assets]
    assert len(set(volumes)) == len(volumes)


def test_a_settable_share_of_clients_matches_no_company_exactly() -> None:
    fleet = generate_fleet(FleetSpec(seed=5, siris=12, unmatched_share=0.5), TENANT, START)
    organizations = fleet.organizations
    assert len(organizations) == len(TENANT)
    unmatched = [org for org in organizations if org.variant != "exact"]
    assert len(unmatched) == len(TENANT) // 2
    known = {name.casefold() for name in TENANT}
    for org in unmatched:
        assert org.name.casefold() not in known
        assert org.variant in {"misspelt", "abbreviated", "absent"}
        assert (org.matched_company is None) == (org.variant == "absent")
    assert all(org.name == org.matched_company for org in organizations if org.variant == "exact")
    every = generate_fleet(FleetSpec(seed=5, siris=12, unmatched_share=0.0), TENANT, START)
    assert {org.variant for org in every.organizations} == {"exact"}


def test_every_client_gets_a_device_when_there_are_enough() -> None:
    fleet = generate_fleet(FleetSpec(seed=1, siris=20, alto=0), CLIENTS, START)
    assert {device.org.org_id for device in fleet.devices} == {org.org_id for org in fleet.organizations}


def test_misspelt_and_abbreviated_names() -> None:
    import random

    rng = random.Random(1)
    for name in TENANT:
        assert misspell(rng, name) != name
    assert abbreviate(rng, "Acme Inc") == "Acme"
    assert abbreviate(random.Random(3), "West, Miller and Flores") in {"WMF", "West"}


def test_alert_email_lists() -> None:
    fleet = generate_fleet(
        FleetSpec(seed=2, siris=40, alto=0, silent_share=0.25, no_screenshot_email_share=0.0), TENANT, START
    )
    silent = [device for device in fleet.devices if not any(device.emails.values())]
    assert len(silent) == 10
    for device in fleet.devices:
        assert set(device.emails) == set(EMAIL_LISTS)
        if device not in silent:
            assert device.emails["critical"] and device.emails["warning"] and device.emails["screenshotFailed"]
            assert all("@cwsim.example" in address for addresses in device.emails.values() for address in addresses)


def test_a_fleet_file_round_trips(tmp_path) -> None:
    fleet = generate_fleet(FleetSpec(seed=9, siris=10, alto=5, cloud=1), TENANT, START)
    path = tmp_path / "fleet.json"
    save_fleet(fleet, path)
    loaded = load_fleet(path)
    assert orjson.dumps(fleet_to_json(loaded)) == path.read_bytes()
    assert loaded.spec == fleet.spec


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "not a cwsim fleet file"),
        ({"format": "cwsim-fleet/1", "spec": {"siris": -1}}, "spec is invalid"),
        ({"format": "cwsim-fleet/1", "spec": {}, "organizations": []}, "missing 'schedules'"),
    ],
)
def test_bad_fleet_files_say_what_is_wrong(document, message: str) -> None:
    with pytest.raises(FleetFileError, match=message):
        fleet_from_json(document)


def test_a_damaged_device_is_named(tmp_path) -> None:
    data = fleet_to_json(generate_fleet(FleetSpec(seed=9, siris=3), TENANT, START))
    del data["devices"][2]["model"]
    path = tmp_path / "fleet.json"
    path.write_bytes(orjson.dumps(data))
    with pytest.raises(FleetFileError, match=r"fleet.json: device 2 is malformed: missing 'model'"):
        load_fleet(path)
    with pytest.raises(FleetFileError, match="cannot read it"):
        load_fleet(tmp_path / "missing.json")
    path.write_text("{not json")
    with pytest.raises(FleetFileError, match="not JSON"):
        load_fleet(path)
