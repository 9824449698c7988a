"""`cwsim-integration bill` end to end: additions at the exact tier boundaries, idempotent, invoices respected."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from cwsim.integration.billing import bill_month
from cwsim.integration.conditions import where
from cwsim.integration.connections import integrator_client
from cwsim.integration.mapping_file import load_mapping_file
from cwsim.integration.onboarding import run_onboarding
from cwsim.integration.registry import DeviceRegistry, registry_path
from tests.billingkit import (
    GB,
    GIB,
    OCTOBER,
    TB,
    TIB,
    additions,
    line,
    make_fleet,
    onboarded_settings,
    run_cli,
    set_device,
)
from tests.integrationkit import clear_journal, integration_settings, writes


@pytest.fixture
def fleet(cwsim) -> dict[str, str]:
    return make_fleet(cwsim)


@pytest.fixture
def settings(cwsim, fleet, tmp_path: Path):
    return onboarded_settings(cwsim, tmp_path / "state")


@pytest.mark.parametrize(
    ("family", "included", "used", "units"),
    [
        ("SIRIS", 1 * TB, 1 * TB, 0),
        ("SIRIS", 1 * TB, 1 * TB + 1, 1),
        ("SIRIS", 1 * TB, 2 * TB, 1),
        ("SIRIS", 1 * TB, 2 * TB + 1, 2),
        ("SIRIS", 2 * TB, 0, 0),
        ("ALTO", 500 * GB, 500 * GB, 0),
        ("ALTO", 500 * GB, 500 * GB + 1, 1),
        ("ALTO", 500 * GB, 1000 * GB, 1),
        ("ALTO", 500 * GB, 1000 * GB + 1, 2),
        ("ALTO", 250 * GB, 1250 * GB + 1, 3),
    ],
)
def test_units_at_the_exact_tier_boundaries(cwsim, fleet, settings, family, included, used, units) -> None:
    serial = fleet[family]
    set_device(cwsim, serial, used=used, included=included)  # the portal shows sizes in GB, as decimals
    report = bill_month(settings, OCTOBER)
    assert line(report, serial).units == units
    found = additions(settings, serial)
    if units == 0:
        assert found == [] and line(report, serial).state == "no overage"
        return
    (addition,) = found
    product = "DATTO-SIRIS-OVG-TB" if family == "SIRIS" else "DATTO-ALTO-OVG-500GB"
    price = 120.0 if family == "SIRIS" else 45.0
    assert (addition["product"]["identifier"], addition["quantity"], addition["unitPrice"]) == (product, units, price)
    assert (addition["effectiveDate"], addition["billCustomer"]) == ("2026-10-01T00:00:00Z", "Billable")
    assert addition["description"].startswith("Datto offsite overage 2026-10: ") and serial in addition["description"]


@pytest.mark.parametrize(
    ("family", "plan_size", "used", "units"),
    [
        ("SIRIS", 1 * TB, 1 * TIB, 0),  # "1 TB" read as 1 TiB
        ("SIRIS", 1 * TB, 1 * TIB + 1, 1),
        ("SIRIS", 1 * TB, 2 * TIB, 1),
        ("SIRIS", 1 * TB, 2 * TIB + 1, 2),
        ("ALTO", 500 * GB, 500 * GIB, 0),
        ("ALTO", 500 * GB, 500 * GIB + 1, 1),
        ("ALTO", 500 * GB, 1000 * GIB, 1),
        ("ALTO", 500 * GB, 1000 * GIB + 1, 2),
    ],
)
def test_binary_units_as_a_setting(cwsim, fleet, settings, family, plan_size, used, units) -> None:
    cwsim.admin().patch("fleet/portal", json={"storageUnits": "B"}).raise_for_status()  # exact bytes
    settings.billing.binary_units = True
    serial = fleet[family]
    set_device(cwsim, serial, used=used, included=plan_size)
    assert line(bill_month(settings, OCTOBER), serial).units == units
    assert sum(a["quantity"] for a in additions(settings, serial)) == units


def test_billing_run_twice_changes_nothing(cwsim, fleet, settings) -> None:
    set_device(cwsim, fleet["SIRIS"], used=3 * TB + 5, included=1 * TB)
    set_device(cwsim, fleet["ALTO"], used=600 * GB, included=500 * GB)
    first = bill_month(settings, OCTOBER)
    assert {line(first, s).state for s in fleet.values()} == {"added"}
    clear_journal(cwsim)
    second = bill_month(settings, OCTOBER)
    assert writes(cwsim) == []
    assert {line(second, s).state for s in fleet.values()} == {"unchanged"}
    set_device(cwsim, fleet["SIRIS"], used=3 * TB + 900 * GB)  # more bytes, the same 3 units
    bill_month(settings, OCTOBER)
    assert writes(cwsim) == []
    assert [a["quantity"] for a in additions(settings, fleet["SIRIS"])] == [3.0]
    november = bill_month(settings, date(2026, 11, 1))  # another month is another addition
    assert line(november, fleet["SIRIS"]).state == "added"
    assert len(additions(settings, fleet["SIRIS"], date(2026, 11, 1))) == 1


def test_an_invoiced_addition_is_left_alone_and_the_difference_added(cwsim, fleet, settings) -> None:
    serial = fleet["SIRIS"]
    set_device(cwsim, serial, used=3 * TB, included=1 * TB)
    bill_month(settings, OCTOBER)
    (invoiced,) = additions(settings, serial)
    cwsim.admin().post(f"additions/{invoiced['id']}/invoice").raise_for_status()

    set_device(cwsim, serial, used=5 * TB)  # 4 units now; 2 already invoiced
    report = bill_month(settings, OCTOBER)
    assert (
        line(report, serial).state == "added" and "2 invoiced already, 2 on a new line" in line(report, serial).detail
    )
    first, extra = additions(settings, serial)
    assert (first["id"], first["quantity"], first["billedQuantity"]) == (invoiced["id"], 2.0, 2.0)
    assert first["_info"]["lastUpdated"] == invoiced["_info"]["lastUpdated"]
    assert extra["quantity"] == 2.0 and "billedQuantity" not in extra
    clear_journal(cwsim)
    bill_month(settings, OCTOBER)
    assert writes(cwsim) == []

    set_device(cwsim, serial, used=1 * TB + 1)  # 1 unit now: less than was invoiced
    report = bill_month(settings, OCTOBER)
    assert line(report, serial).state == "cancelled" and "not credited" in line(report, serial).detail
    first, extra = additions(settings, serial)
    assert (first["quantity"], first.get("cancelledDate")) == (2.0, None)
    assert extra["cancelledDate"] == "2026-10-01T00:00:00Z"
    assert all(entry["path"].endswith(f"/additions/{extra['id']}") for entry in writes(cwsim))


def test_an_addition_invoiced_between_the_read_and_the_write_gets_only_the_difference(cwsim, fleet, settings) -> None:
    serial = fleet["SIRIS"]
    set_device(cwsim, serial, used=3 * TB, included=1 * TB)
    bill_month(settings, OCTOBER)
    set_device(cwsim, serial, used=5 * TB)
    client = integrator_client(settings)
    read = client.get
    invoiced: list[int] = []

    def get(path, params=None, **options):
        answer = read(path, params, **options)
        if path.endswith("/additions") and not invoiced:  # someone runs the invoice just after our read
            invoiced.extend(addition["id"] for addition in answer)
            for addition_id in invoiced:
                cwsim.admin().post(f"additions/{addition_id}/invoice").raise_for_status()
        return answer

    client.get = get
    report = bill_month(settings, OCTOBER, client=client)
    assert (
        line(report, serial).state == "added" and line(report, serial).detail == "2 invoiced already, 2 on a new line"
    )
    assert [(a["quantity"], a.get("billedQuantity")) for a in additions(settings, serial)] == [(2.0, 2.0), (2.0, None)]


def test_zero_units_cancel_an_uninvoiced_addition_and_more_revive_it(cwsim, fleet, settings) -> None:
    serial = fleet["ALTO"]
    set_device(cwsim, serial, used=700 * GB, included=500 * GB)
    bill_month(settings, OCTOBER)
    (addition,) = additions(settings, serial)
    set_device(cwsim, serial, used=400 * GB)
    report = bill_month(settings, OCTOBER)
    assert line(report, serial).state == "cancelled"
    (cancelled,) = additions(settings, serial)
    assert cancelled["id"] == addition["id"] and cancelled["cancelledDate"] == "2026-10-01T00:00:00Z"
    clear_journal(cwsim)
    assert line(bill_month(settings, OCTOBER), serial).state == "unchanged"
    assert writes(cwsim) == []
    set_device(cwsim, serial, used=1100 * GB)
    assert line(bill_month(settings, OCTOBER), serial).state == "updated"
    (revived,) = additions(settings, serial)
    assert revived["id"] == addition["id"] and revived.get("cancelledDate") is None and revived["quantity"] == 2.0


def test_the_agreement_attached_at_onboarding_else_the_overage_one_else_a_new_one(
    cwsim, fleet, settings, tmp_path
) -> None:
    client = integrator_client(settings)
    registry = DeviceRegistry(registry_path(settings.state_dir))
    siris, alto = registry.get(fleet["SIRIS"]), registry.get(fleet["ALTO"])
    set_device(cwsim, fleet["SIRIS"], used=2 * TB, included=1 * TB)
    set_device(cwsim, fleet["ALTO"], used=2 * TB, included=1 * TB)

    # No agreement at onboarding, none of the overage type: a new one, made once, with a contact.
    existing = {
        a["id"]
        for a in client.iterate(
            "finance/agreements",
            conditions=where("company/id", "=", siris.company_id) & where("type/name", "=", "Datto Offsite Overage"),
        )
    }
    for agreement_id in existing:
        client.patch(f"finance/agreements/{agreement_id}", {"cancelledFlag": True, "agreementStatus": "Cancelled"})
    report = bill_month(settings, OCTOBER)
    made = line(report, fleet["SIRIS"])
    assert made.detail.startswith('made agreement "') and made.agreement.endswith(" - Datto Offsite Overage")
    (agreement,) = [
        a
        for a in client.iterate("finance/agreements", conditions=where("company/id", "=", siris.company_id))
        if a["id"] not in existing and a["type"]["name"] == "Datto Offsite Overage"
    ]
    assert agreement["contact"]["id"] == siris.contact_id
    bill_month(settings, OCTOBER)
    assert [a["id"] for a in additions(settings, fleet["SIRIS"])] == [additions(settings, fleet["SIRIS"])[0]["id"]]

    # An agreement attached at onboarding takes the lines.
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(f'devices:\n  "{alto.serial}": {{agreement: Managed Services}}\n')
    managed = client.get(
        "finance/agreements",
        {"conditions": str(where("company/id", "=", alto.company_id) & where("type/name", "=", "Managed Services"))},
    )
    assert managed, "the seeded tenant gives this company a managed-services agreement"
    run_onboarding(settings, load_mapping_file(mapping))
    report = bill_month(settings, OCTOBER)
    assert line(report, fleet["ALTO"]).agreement == managed[0]["name"]


def test_only_capacity_plans_have_overage_and_missing_usage_is_never_zero(cwsim, fleet, settings) -> None:
    set_device(cwsim, fleet["SIRIS"], used=900 * TB, kind="TBR")
    set_device(cwsim, fleet["ALTO"], used=900 * GB, included=500 * GB)
    report = bill_month(settings, OCTOBER)
    assert (line(report, fleet["SIRIS"]).state, line(report, fleet["SIRIS"]).units) == ("no overage", 0)
    assert line(report, fleet["ALTO"]).units == 1
    cwsim.admin().patch("fleet/portal", json={"offsiteAsListShare": 1.0}).raise_for_status()  # usage as []
    clear_journal(cwsim)
    report = bill_month(settings, OCTOBER)
    assert line(report, fleet["ALTO"]).state == "skipped"
    assert line(report, fleet["ALTO"]).detail == "the portal reported no offsite usage"
    assert writes(cwsim) == []  # nothing cancelled


def test_prices_and_plans_from_the_settings(cwsim, fleet, settings) -> None:
    settings.billing.siris_price = 99.5
    settings.billing.plans = {"SIRIS Offsite Capacity 1 TB": "3 TB"}
    set_device(cwsim, fleet["SIRIS"], used=4 * TB, included=1 * TB)
    bill_month(settings, OCTOBER)
    (addition,) = additions(settings, fleet["SIRIS"])
    assert (addition["quantity"], addition["unitPrice"]) == (1.0, 99.5)


def test_devices_not_onboarded_are_reported_not_billed(cwsim, fleet, settings, tmp_path) -> None:
    other = integration_settings(cwsim, state_dir=tmp_path / "empty")
    report = bill_month(other, OCTOBER)
    assert {device.state for device in report.devices} == {"skipped"}
    assert all("not onboarded" in device.detail for device in report.devices)


def test_the_bill_command(cwsim, fleet, settings, monkeypatch) -> None:
    set_device(cwsim, fleet["ALTO"], used=1001 * GB, included=500 * GB)
    status, out, _ = run_cli(monkeypatch, settings, "bill", "--month", "2026-10", "--json")
    body = json.loads(out)
    assert status == 0 and body["month"] == "2026-10"
    (alto,) = [d for d in body["devices"] if d["serial"] == fleet["ALTO"]]
    assert (alto["state"], alto["units"], alto["family"]) == ("added", 2, "ALTO")
    status, out, _ = run_cli(monkeypatch, settings, "bill", "--month", "2026-10", "--dry-run")
    assert status == 0 and out.startswith("billing 2026-10: 4 devices: ") and "(dry run)" in out


@pytest.mark.parametrize("month", ["2026-13", "October", "2026-1", "26-10"])
def test_a_bad_month_is_a_clear_message(cwsim, settings, monkeypatch, month: str) -> None:
    status, out, err = run_cli(monkeypatch, settings, "bill", "--month", month)
    assert status == 2 and out == ""
    assert "argument --month:" in err and "is not a month like 2026-10" in err and "Traceback" not in err
