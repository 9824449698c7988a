"""`cwsim-integration onboard` end to end: a generated fleet into the fake ConnectWise, unmatched names, re-runs."""

from __future__ import annotations

import argparse
import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from cwsim.integration.conditions import where
from cwsim.integration.connections import integrator_client
from cwsim.integration.mapping_file import MappingFile, load_mapping_file
from cwsim.integration.onboarding import main, run_onboarding
from cwsim.integration.onboarding_prompts import Prompts
from cwsim.integration.registry import DeviceRegistry, registry_path
from tests.integrationkit import clear_journal, integration_settings, writes

FLEET = {"seed": 11, "siris": 16, "alto": 8, "unmatchedShare": 0.4, "quiet": True}


@pytest.fixture
def truth(cwsim) -> dict[str, dict]:
    """A seeded fleet over the session's tenant; per serial, what only the simulator knows (the real company)."""
    cwsim.admin().post("fleet", json=FLEET).raise_for_status()
    return {row["serialNumber"]: row for row in cwsim.admin().get("fleet/devices").json()}


@pytest.fixture
def settings(cwsim, tmp_path: Path):
    return integration_settings(cwsim, state_dir=tmp_path / "state")


def registry(settings) -> DeviceRegistry:
    return DeviceRegistry(registry_path(settings.state_dir))


def company_identifiers(cwsim) -> dict[str, str]:
    companies = cwsim.session().get("company/companies", params={"pageSize": 1000}).json()
    return {company["name"]: company["identifier"] for company in companies}


def test_a_generated_fleet_is_onboarded_and_unmatched_names_are_reported_not_guessed(cwsim, truth, settings) -> None:
    report = run_onboarding(settings, MappingFile())
    outcomes = {outcome.serial: outcome for outcome in report.outcomes}
    assert outcomes.keys() == truth.keys()
    variants = {row["nameVariant"] for row in truth.values()}
    assert {"exact", "misspelt", "abbreviated", "absent"} <= variants, "the seed should give every kind of name"
    identifiers = company_identifiers(cwsim)
    for serial, row in truth.items():
        outcome = outcomes[serial]
        if row["nameVariant"] == "exact":
            assert outcome.state == "onboarded", outcome.line()
            assert outcome.company == f"{row['matchedCompany']} ({identifiers[row['matchedCompany']]})"
        else:
            assert outcome.state == "unmatched", f"{row['clientCompanyName']!r} was guessed: {outcome.line()}"
            assert outcome.reason
    kept = registry(settings)
    unmatched = {device.serial: device for device in kept.unmatched()}
    assert unmatched.keys() == {s for s, row in truth.items() if row["nameVariant"] != "exact"}
    assert all(device.client_name == truth[s]["clientCompanyName"] for s, device in unmatched.items())
    # A misspelt name shows the company it was meant to be among the candidates: someone can pick it.
    for serial, device in unmatched.items():
        if truth[serial]["nameVariant"] == "misspelt" and device.candidates:
            assert any(truth[serial]["matchedCompany"] in candidate for candidate in device.candidates)
    mapped = {mapping.serial: mapping for mapping in kept.all()}
    assert mapped.keys() == {s for s, row in truth.items() if row["nameVariant"] == "exact"}
    configurations = {
        c["serialNumber"]: c for c in cwsim.session().get("company/configurations", params={"pageSize": 1000}).json()
    }
    for serial, mapping in mapped.items():
        configuration = configurations[serial]
        assert configuration["id"] == mapping.configuration_id
        assert configuration["company"]["id"] == mapping.company_id
        assert configuration["type"]["name"] == "Datto Appliance"
        assert configuration["name"] == truth[serial]["name"] and configuration["deviceIdentifier"] == serial
        assert configuration["modelNumber"] == truth[serial]["model"] and configuration["billFlag"] is True
        assert mapping.family == truth[serial]["family"]
        assert (mapping.board, mapping.status, mapping.device_route, mapping.agent_route) == (
            "Datto Alerts",
            "New",
            "both",
            "both",
        )
    assert "unmatched" in report.text() and "map it in the mapping file" in report.text()


def test_a_mapping_file_maps_the_unmatched_and_a_rerun_changes_nothing(cwsim, truth, settings, tmp_path: Path) -> None:
    first = run_onboarding(settings, MappingFile())
    identifiers = company_identifiers(cwsim)
    lines = ["clients:"]
    for outcome in first.unmatched:
        company = truth[outcome.serial]["matchedCompany"]
        target = f"{{company: {identifiers[company]}}}" if company else "skip"
        lines.append(f'  "{outcome.client_name}": {target}')
    mapping_path = tmp_path / "mapping.yaml"
    mapping_path.write_text("\n".join(lines) + "\n")

    second = run_onboarding(settings, load_mapping_file(mapping_path))
    states = {outcome.serial: outcome.state for outcome in second.outcomes}
    absent = {s for s, row in truth.items() if row["nameVariant"] == "absent"}
    assert {s for s, state in states.items() if state == "skipped"} == absent
    assert {s for s, state in states.items() if state == "onboarded"} == {o.serial for o in first.unmatched} - absent
    assert {s for s, state in states.items() if state == "unchanged"} == {
        s for s, row in truth.items() if row["nameVariant"] == "exact"
    }
    kept = registry(settings)
    assert {device.serial for device in kept.unmatched()} == absent  # skipped, so still waiting for a company
    for mapping in kept.all():
        assert mapping.company_identifier == identifiers[truth[mapping.serial]["matchedCompany"]]
        if truth[mapping.serial]["nameVariant"] != "exact":
            assert mapping.extra["source"].startswith(f"mapped in {mapping_path}:")

    clear_journal(cwsim)
    third = run_onboarding(settings, load_mapping_file(mapping_path))
    assert writes(cwsim) == []
    assert {outcome.state for outcome in third.outcomes} == {"unchanged", "skipped"}


def test_choices_from_the_mapping_file_defaults_and_entries(cwsim, truth, settings, tmp_path: Path) -> None:
    exact = sorted(s for s, row in truth.items() if row["nameVariant"] == "exact")
    special, plain = exact[0], exact[1]
    client = integrator_client(settings)
    company = client.get(
        "company/companies", {"conditions": str(where("name", "=", truth[special]["matchedCompany"]))}
    )[0]
    contacts = client.get("company/contacts", {"conditions": f"company/id={company['id']}", "orderBy": "id desc"})
    contact = f"{contacts[0]['firstName']} {contacts[0].get('lastName', '')}".strip()
    agreement = client.post(
        "finance/agreements",
        {
            "name": "Backup Services",
            "type": {"name": "Managed Services"},
            "company": {"id": company["id"]},
            "contact": {"id": contacts[0]["id"]},
        },
    )
    mapping_path = tmp_path / "mapping.yaml"
    mapping_path.write_text(
        "defaults:\n"
        "  contact: default\n"
        "  agreement: none\n"
        "  board: Datto Alerts\n"
        "  status: In Progress\n"
        "  routing: {device: email}\n"
        "devices:\n"
        f'  "{special}":\n'
        f'    contact: "{contact}"\n'
        "    agreement: Backup Services\n"
        "    product: DATTO-SIRIS-OVG-TB\n"
        "    type: Device\n"
        "    routing: {agent: ticket}\n"
    )
    report = run_onboarding(settings, load_mapping_file(mapping_path))
    assert not report.errors, report.text()
    kept = registry(settings)
    chosen, other = kept.get(special), kept.get(plain)
    assert chosen.agreement_id == agreement["id"] and chosen.contact_id == contacts[0]["id"]
    assert (chosen.status, chosen.device_type, chosen.agent_type, chosen.subtype) == (
        "In Progress",
        "Device",
        "Device",
        None,
    )
    assert (chosen.device_route, chosen.agent_route) == ("email", "ticket")
    assert (other.agreement_id, other.status, other.device_route, other.agent_route) == (
        None,
        "In Progress",
        "email",
        "both",
    )
    links = client.get(f"finance/agreements/{agreement['id']}/configurations")
    assert [link["id"] for link in links] == [chosen.configuration_id]
    (addition,) = client.get(f"finance/agreements/{agreement['id']}/additions")
    assert (addition["product"]["identifier"], addition["quantity"], addition["serialNumber"]) == (
        "DATTO-SIRIS-OVG-TB",
        1.0,
        special,
    )
    clear_journal(cwsim)
    again = run_onboarding(settings, load_mapping_file(mapping_path))
    assert writes(cwsim) == [] and not again.errors

    # Mapped to no agreement now: the device leaves the one it was attached to, once.
    mapping_path.write_text(mapping_path.read_text().replace("agreement: Backup Services", "agreement: none"))
    detached = run_onboarding(settings, load_mapping_file(mapping_path))
    outcome = next(o for o in detached.outcomes if o.serial == special)
    assert outcome.changes == ['detached from agreement "Backup Services"']
    assert client.get(f"finance/agreements/{agreement['id']}/configurations") == []
    assert registry(settings).get(special).agreement_id is None
    clear_journal(cwsim)
    run_onboarding(settings, load_mapping_file(mapping_path))
    assert writes(cwsim) == []


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ("contact: Nobody Atall", 'contact "Nobody Atall": '),
        ("status: Parked", 'status "Parked" is not on board "Datto Alerts" (there: "New", "In Progress", '),
        ("board: Nowhere", 'service board "Nowhere" does not exist (there: '),
        ("product: NO-SUCH-SKU", 'product "NO-SUCH-SKU" does not exist'),
        ("agreement: Gold Support", 'agreement "Gold Support": '),
    ],
)
def test_a_choice_that_names_nothing_is_an_error_naming_its_line(
    cwsim, truth, settings, tmp_path: Path, choice: str, message: str
) -> None:
    serial = sorted(s for s, row in truth.items() if row["nameVariant"] == "exact")[0]
    mapping_path = tmp_path / "mapping.yaml"
    mapping_path.write_text(f'defaults:\n  board: Datto Alerts\ndevices:\n  "{serial}":\n    {choice}\n')
    report = run_onboarding(settings, load_mapping_file(mapping_path))
    (error,) = report.errors
    assert error.serial == serial
    assert error.reason.startswith(f"{mapping_path}:5: {message}"), error.reason
    assert registry(settings).get(serial) is None


def test_an_existing_configuration_is_found_by_serial_and_only_what_is_wrong_changes(cwsim, truth, settings) -> None:
    serial = sorted(s for s, row in truth.items() if row["nameVariant"] == "exact")[0]
    api = cwsim.session()
    elsewhere = next(c for c in api.get("company/companies").json() if c["name"] != truth[serial]["matchedCompany"])
    made = api.post(
        "company/configurations",
        json={
            "name": "old-name",
            "type": {"name": "Datto Appliance"},
            "company": {"id": elsewhere["id"]},
            "serialNumber": serial,
            "deviceIdentifier": serial,
            "modelNumber": truth[serial]["model"],
        },
    ).json()
    report = run_onboarding(settings, MappingFile())
    outcome = next(o for o in report.outcomes if o.serial == serial)
    assert outcome.changes == [f"configuration #{made['id']} updated: billFlag, company, contact, name, remoteLink"]
    (configuration,) = api.get("company/configurations", params={"conditions": f'serialNumber="{serial}"'}).json()
    assert configuration["name"] == truth[serial]["name"] and configuration["company"]["id"] != elsewhere["id"]


def test_bill_flag_follows_the_managed_device_integration_when_member_keys_can_read_it(cwsim, truth, tmp_path) -> None:
    api = cwsim.session()
    (integration,) = api.get("company/managedDevicesIntegrations").json()
    api.patch(
        f"company/managedDevicesIntegrations/{integration['id']}",
        json=[{"op": "replace", "path": "configBillCustomerFlag", "value": False}],
    ).raise_for_status()
    with_keys = integration_settings(cwsim, member_keys=True, state_dir=tmp_path / "a")
    report = run_onboarding(with_keys, MappingFile())
    assert (report.bill_flag, report.bill_flag_source) == (False, "managed-device integration Datto BCDR")
    flags = {c["billFlag"] for c in api.get("company/configurations", params={"pageSize": 1000}).json()}
    assert flags == {False}
    login_only = integration_settings(cwsim, state_dir=tmp_path / "b", onboarding={"bill_customer": True})
    again = run_onboarding(login_only, MappingFile())
    assert again.bill_flag is True and again.bill_flag_source.startswith("onboarding.bill_customer (no API member keys")
    assert {c["billFlag"] for c in api.get("company/configurations", params={"pageSize": 1000}).json()} == {True}


def test_a_dry_run_writes_nothing(cwsim, truth, settings) -> None:
    clear_journal(cwsim)
    report = run_onboarding(settings, MappingFile(), dry_run=True)
    assert writes(cwsim) == []
    assert registry(settings).all() == [] and registry(settings).unmatched() == []
    assert {o.state for o in report.outcomes} == {"would change", "unmatched"}
    assert all("would create its configuration" in o.changes for o in report.outcomes if o.state == "would change")


def test_interactive_onboarding_asks_only_about_devices_it_cannot_match(cwsim, settings, monkeypatch) -> None:
    admin = cwsim.admin()
    admin.post("fleet", json={**FLEET, "siris": 3, "alto": 0, "unmatchedShare": 0.0}).raise_for_status()
    serials = [row["serialNumber"] for row in admin.get("fleet/devices").json()]
    companies = cwsim.session().get("company/companies", params={"orderBy": "name asc", "pageSize": 1000}).json()
    target, other = companies[-1], companies[-2]
    admin.patch(f"fleet/devices/{serials[0]}", json={"clientCompanyName": "Zzyzx Unknown Client"}).raise_for_status()
    admin.patch(f"fleet/devices/{serials[1]}", json={"clientCompanyName": other["name"] + " Holdings"})
    answers = [
        target["name"],  # device 1: no candidates; type the company's whole name: a drop-down of one
        "1",  # pick it
        "",  # use the defaults
        "",  # device 2 (a longer name than any company): skip it
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(answers) + "\n"))
    said: list[str] = []
    report = run_onboarding(settings, MappingFile(), prompts=Prompts(say=said.append))
    states = {o.serial: o.state for o in report.outcomes}
    assert states == {serials[0]: "onboarded", serials[1]: "unmatched", serials[2]: "onboarded"}
    assert any("Zzyzx Unknown Client" in line for line in said)
    kept = registry(settings)
    assert kept.get(serials[0]).company_id == target["id"] and kept.get(serials[0]).extra["source"] == "interactive"

    # Now choose everything for device 2, not the defaults; a plain re-run keeps every choice.
    answers = ["1", "n", "", "none", "", "", "Waiting", "email", ""]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(answers) + "\n"))
    run_onboarding(settings, MappingFile(), prompts=Prompts(say=said.append))
    chosen = registry(settings).get(serials[1])
    assert chosen.company_id == other["id"] and chosen.status == "Waiting"
    assert (chosen.device_route, chosen.agent_route, chosen.agreement_id) == ("email", "both", None)
    clear_journal(cwsim)
    rerun = run_onboarding(settings, MappingFile())
    assert writes(cwsim) == [] and {o.state for o in rerun.outcomes} == {"unchanged"}
    assert registry(settings).get(serials[1]).status == "Waiting"


def run_main(settings, *arguments: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    from cwsim.integration.onboarding import add_arguments

    add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(parser.parse_args(list(arguments)), settings)
    return status, out.getvalue(), err.getvalue()


def test_a_bad_mapping_file_is_a_clear_message_not_a_traceback(cwsim, settings, tmp_path: Path) -> None:
    bad = tmp_path / "mapping.yaml"
    bad.write_text("clients:\n  Acme:\n    comapny: Acme\ndevices:\n  12345: {company: Acme}\n")
    status, out, err = run_main(settings, "--mapping", str(bad))
    assert status == 2 and out == ""
    assert f'{bad}:3: clients: "Acme": comapny: unknown choice' in err
    assert f"{bad}:5: devices: 12345 was read as a number: put it in quotes" in err
    assert "Traceback" not in err
    status, _, err = run_main(settings, "--mapping", str(tmp_path / "missing.yaml"))
    assert status == 2 and "cannot read the mapping file" in err


def test_the_command_reports_and_a_missing_configuration_type_stops_it(cwsim, truth, settings) -> None:
    status, out, _ = run_main(settings, "--report")
    assert status == 0
    assert out.splitlines()[0].startswith(f"{len(truth)} devices: ")
    assert out.count("\n+ ") + out.count("\n? ") == len(truth)
    status, out, _ = run_main(settings, "--report")
    assert status == 0 and out.count("\n= ") == sum(row["nameVariant"] == "exact" for row in truth.values())
    settings.onboarding.configuration_type = "Datto Thing"
    status, out, err = run_main(settings)
    assert status == 1 and 'configuration type "Datto Thing" does not exist (there: "Datto Appliance")' in err


def test_onboarding_releases_the_held_alerts_of_the_devices_it_maps_and_no_others(
    cwsim, truth, settings, tmp_path: Path
) -> None:
    from cwsim.integration.outbox import AlertEvent, Outbox
    from cwsim.integration.state_dir import StateDir

    first = run_onboarding(settings, MappingFile())
    identifiers = company_identifiers(cwsim)
    mappable = next(o for o in first.unmatched if truth[o.serial]["matchedCompany"])
    left = next(o for o in first.unmatched if o.serial != mappable.serial)
    outbox = Outbox(StateDir.of(settings.state_dir).outbox)
    try:
        for serial in (mappable.serial, left.serial):
            outbox.enqueue(AlertEvent(f"{serial}:k", "raise", {"serialNumber": serial.lower(), "recipients": []}))
        for delivery in outbox.claim("w", limit=5):
            outbox.hold(delivery.id, "w", "held: no company", 3600.0)  # not due for an hour
        assert outbox.stats().held == 2 and outbox.claim("w", limit=5) == []

        company = identifiers[truth[mappable.serial]["matchedCompany"]]
        mapping_path = tmp_path / "mapping.yaml"
        mapping_path.write_text(f"devices:\n  {mappable.serial}: {{company: {company}}}\n")
        run_onboarding(settings, load_mapping_file(mapping_path))
        (released,) = outbox.claim("w", limit=5)
        assert released.alert_key == f"{mappable.serial}:k" and not released.held
        assert outbox.stats().held == 1, "the device still unmapped keeps its alert held"
    finally:
        outbox.close()
