"""The example project's tests: they use only the fixtures cwsim's pytest plugins provide."""

from __future__ import annotations

import pathlib

from integration.psa import Psa

import integration


def psa_for(config) -> Psa:
    return Psa(config.api_url, config.company_id, config.public_key, config.private_key, config.client_id)


def test_our_own_integration_package_is_not_shadowed_by_cwsim() -> None:
    assert (
        pathlib.Path(integration.__file__).resolve().parent
        == pathlib.Path(__file__).resolve().parent.parent / "integration"
    )


def test_a_failed_backup_opens_exactly_one_ticket(cwsim, cwsim_connectwise, cwsim_journal) -> None:
    company = cwsim.session().get("company/companies", params={"pageSize": 1}).json()[0]
    psa = psa_for(cwsim_connectwise)
    first = psa.open_backup_ticket(company["identifier"], "00012E94105B", "FS01")
    again = psa.open_backup_ticket(company["identifier"], "00012E94105B", "FS01")
    assert first == again
    cwsim_journal.assert_one_post("/service/tickets", containing="00012E94105B")


def test_the_fleet_and_the_clock_are_there_to_use(cwsim_fleet, cwsim_clock) -> None:
    device = cwsim_fleet.devices()[0]
    cwsim_clock.advance("P1D")
    assert cwsim_fleet.device(device["serialNumber"])["serialNumber"] == device["serialNumber"]


def test_a_scenario_as_a_gate(cwsim_scenario) -> None:
    result = cwsim_scenario("site-outage")
    assert result.passed, result.report()
