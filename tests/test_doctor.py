"""`cwsim-integration doctor` end to end: good tenants pass; each misconfigured one fails at its item, with its fix."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cwsim.integration.doctor import API_PROBES, Status, main, run_doctor
from cwsim.integration.settings import Secret
from cwsim.scenarios.processes import cwsim_command, start
from tests.integrationkit import integration_settings, load_builtin_tenant

MEMBER_ONLY = {
    "login.exact_name",
    "integration.login",
    "integration.bill_customer",
    "integration.match_serial",
    "integration.cross_references",
}


def statuses(report) -> dict[str, Status]:
    return {check.id: check.status for check in report.checks}


def failures(report) -> dict[str, str]:
    return {check.id: check.fix for check in report.checks if check.status is Status.FAIL}


def run_main(settings, *arguments: str) -> tuple[int, str]:
    """`doctor` as the command runs it; returns its exit status and what it printed."""
    from contextlib import redirect_stdout
    from io import StringIO

    out = StringIO()
    with redirect_stdout(out):
        status = main(argparse.Namespace(json="--json" in arguments), settings)
    return status, out.getvalue()


def test_the_good_default_tenant_passes_every_check_with_member_keys(cwsim) -> None:
    status, out = run_main(integration_settings(cwsim, member_keys=True))
    assert status == 0, out
    assert "✗" not in out and "!" not in out.split("\n", 1)[1] and "\n- " not in out
    report = run_doctor(integration_settings(cwsim, member_keys=True))
    assert set(statuses(report).values()) == {Status.PASS}
    assert {f"api.{probe.flag}" for probe in API_PROBES} <= set(statuses(report))
    assert {"site", "login.authenticates", "version", "login.all_records", "member.authenticates"} <= set(
        statuses(report)
    )
    assert {"configuration_type", "alerts.board", "alerts.status", "billing.agreement_type"} <= set(statuses(report))
    assert {"billing.siris_product", "billing.alto_product"} | MEMBER_ONLY <= set(statuses(report))


def test_the_integrator_login_alone_proves_what_a_login_can_and_says_what_it_cannot(cwsim) -> None:
    report = run_doctor(integration_settings(cwsim))
    seen = statuses(report)
    assert report.ok
    assert {name for name, status in seen.items() if status is Status.SKIP} == MEMBER_ONLY
    assert all(status is Status.PASS for name, status in seen.items() if name not in MEMBER_ONLY)
    all_records = next(check for check in report.checks if check.id == "login.all_records")
    assert "others entered" in all_records.detail and all_records.proof == "integrator login"
    exact = next(check for check in report.checks if check.id == "login.exact_name")
    assert "API member keys" in exact.detail and "case" in exact.detail


@pytest.mark.parametrize(
    ("tenant", "member_keys", "failing", "fix"),
    [
        ("datto-ready", True, {}, ""),
        ("datto-login-wrong-case", False, {}, ""),
        ("datto-login-wrong-case", True, {"login.exact_name"}, "dattocw: change Username to dattoCW"),
        ("datto-login-not-all-records", False, {"login.all_records"}, "dattoCW: set Access Level to All Records"),
        ("datto-login-not-all-records", True, {"login.all_records"}, "dattoCW: set Access Level to All Records"),
        (
            "datto-login-no-managed-services",
            False,
            {"api.managedServicesApiFlag"},
            "System > Setup Tables > Integrator Login > dattoCW: tick Managed Services API",
        ),
        ("datto-login-no-managed-services", True, {"api.managedServicesApiFlag"}, "tick Managed Services API"),
        ("datto-integration-no-serial-match", False, {}, ""),
        (
            "datto-integration-no-serial-match",
            True,
            {"integration.match_serial"},
            "Managed Devices Integration > Datto BCDR: tick Match on Serial Number",
        ),
        ("datto-old-version", False, {"version"}, "upgrade ConnectWise to 2012 or later"),
        ("datto-configuration-type-renamed", False, {"configuration_type"}, 'add "Datto Appliance", or set'),
        (
            "datto-no-overage-setup",
            True,
            {"billing.agreement_type", "billing.siris_product", "billing.alto_product"},
            'Procurement > Product Catalog: add "DATTO-ALTO-OVG-500GB"',
        ),
    ],
)
def test_each_misconfigured_tenant_fails_at_its_item_with_its_fix(
    cwsim, tenant: str, member_keys: bool, failing: set[str], fix: str
) -> None:
    load_builtin_tenant(cwsim, tenant)
    settings = integration_settings(cwsim, member_keys=member_keys)
    report = run_doctor(settings)
    assert set(failures(report)) == set(failing), report.text()
    if fix:
        assert any(fix in text for text in failures(report).values()), report.text()
    status, out = run_main(settings)
    assert status == (1 if failing else 0)
    if fix:
        assert "    fix: " in out and fix in out


def test_without_all_records_the_login_cannot_check_the_records_it_needs_and_says_so(cwsim) -> None:
    load_builtin_tenant(cwsim, "datto-login-not-all-records")
    report = run_doctor(integration_settings(cwsim))
    skipped = {check.id: check.detail for check in report.checks if check.status is Status.SKIP}
    assert "configuration_type" in skipped and "sees only the records it entered" in skipped["configuration_type"]
    # With member keys the same records are checked (they exist) and only All Records fails.
    with_keys = run_doctor(integration_settings(cwsim, member_keys=True))
    assert statuses(with_keys)["configuration_type"] is Status.PASS
    assert "it sees 0 of 3 companies" in next(c.detail for c in with_keys.checks if c.id == "login.all_records")


def test_json_output_for_machines(cwsim) -> None:
    load_builtin_tenant(cwsim, "datto-login-no-managed-services")
    status, out = run_main(integration_settings(cwsim), "--json")
    body = json.loads(out)
    assert status == 1 and body["ok"] is False
    assert body["counts"]["fail"] == 1 and body["memberKeys"] is False
    (failed,) = [check for check in body["checks"] if check["status"] == "fail"]
    assert failed["id"] == "api.managedServicesApiFlag"
    assert failed["fix"] == "System > Setup Tables > Integrator Login > dattoCW: tick Managed Services API"


def test_routing_alerts_to_tickets_only_is_a_warning(cwsim, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("clients:\n  Acme:\n    company: Acme\n    routing: {agent: ticket}\n")
    settings = integration_settings(cwsim, alerts={"device_route": "ticket"}, onboarding={"mapping_file": str(mapping)})
    status, out = run_main(settings)
    assert status == 0, out
    assert "! Device alerts go to tickets and email: settings alerts: device alerts go to tickets only" in out
    assert f"! Agent alerts go to tickets and email: {mapping}:3: agent alerts go to tickets only" in out
    assert "Datto strongly recommends e-mail and ConnectWise alerts" in out


def test_a_bad_mapping_file_fails_with_its_line(cwsim, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("defaults:\n  routing: {device: sms}\n")
    report = run_doctor(integration_settings(cwsim, onboarding={"mapping_file": str(mapping)}))
    assert failures(report).keys() == {"mapping_file"}
    assert f"{mapping}:2: defaults: routing: device: 'sms' is not one of" in report.text()


def test_a_wrong_password_fails_authentication_and_is_never_printed(cwsim) -> None:
    settings = integration_settings(cwsim)
    settings.connectwise.integrator_password = Secret("not-the-password-9f2")
    status, out = run_main(settings)
    assert status == 1
    assert "✗ Integrator login dattoCW authenticates: ConnectWise refused it" in out
    assert "not-the-password-9f2" not in out
    report = run_doctor(settings)
    assert "api.serviceTicketApiFlag" not in statuses(report)  # nothing an unauthenticated login could prove
    assert statuses(report)["configuration_type"] is Status.SKIP


def test_a_site_that_does_not_answer(cwsim) -> None:
    settings = integration_settings(cwsim)
    settings.connectwise.site = "http://127.0.0.1:9"
    report = run_doctor(settings)
    assert [check.id for check in report.checks] == ["site"] and not report.ok


@pytest.mark.slow
def test_the_command_against_a_cwsim_serve_process_with_a_misconfigured_tenant(tmp_path: Path) -> None:
    server = start(
        "serve",
        cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--tenant", "datto-login-no-managed-services"),
        tmp_path,
    )
    try:
        facts = server.facts
        environ = {
            "CWSIM_CONNECTWISE_SITE": facts["url"],
            "CWSIM_CONNECTWISE_COMPANY_ID": facts["companyId"],
            "CWSIM_CONNECTWISE_INTEGRATOR_PASSWORD": facts["integrator"]["password"],
            "CWSIM_CONNECTWISE_PUBLIC_KEY": facts["publicKey"],
            "CWSIM_CONNECTWISE_PRIVATE_KEY": facts["privateKey"],
        }
        done = subprocess.run(
            [sys.executable, "-m", "cwsim.integration.cli", "doctor"],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", **environ},
            timeout=60,
        )
    finally:
        server.stop()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "✗ Managed Services API answers: Integrator login dattoCW: the Managed Services API is off" in done.stdout
    assert "    fix: System > Setup Tables > Integrator Login > dattoCW: tick Managed Services API" in done.stdout
    assert facts["integrator"]["password"] not in done.stdout + done.stderr
