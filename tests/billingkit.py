"""Helpers for the billing tests: a small onboarded fleet, device usage, the additions ConnectWise holds, the CLI."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from datetime import date
from pathlib import Path

from cwsim.integration import cli
from cwsim.integration.conditions import where
from cwsim.integration.connections import integrator_client
from cwsim.integration.mapping_file import MappingFile
from cwsim.integration.onboarding import run_onboarding
from cwsim.integration.registry import DeviceRegistry, registry_path
from cwsim.integration.settings import Settings
from tests.integrationkit import integration_settings

GB, TB = 10**9, 10**12
GIB, TIB = 2**30, 2**40
OCTOBER = date(2026, 10, 1)
FLEET = {"seed": 5, "siris": 2, "alto": 2, "unmatchedShare": 0.0, "hiddenShare": 0.0, "quiet": True}


def make_fleet(cwsim) -> dict[str, str]:
    """A small quiet fleet, every client an exact company name: family -> the first serial of that family."""
    admin = cwsim.admin()
    admin.post("fleet", json=FLEET).raise_for_status()
    rows = admin.get("fleet/devices").json()
    return {family: next(r["serialNumber"] for r in rows if r["family"] == family) for family in ("SIRIS", "ALTO")}


def onboarded_settings(cwsim, state_dir: Path) -> Settings:
    """The integration's settings with every device of the fleet onboarded into `state_dir`."""
    settings = integration_settings(cwsim, state_dir=state_dir)
    report = run_onboarding(settings, MappingFile())
    assert {o.state for o in report.outcomes} == {"onboarded"}, report.text()
    return settings


def set_device(cwsim, serial: str, *, used: int, included: int | None = None, kind: str = "CAPACITY") -> None:
    body: dict = {"offsiteUsedBytes": used}
    if included is not None or kind != "CAPACITY":
        body["plan"] = {"kind": kind, "includedOffsiteBytes": included or 0} if kind == "CAPACITY" else {"kind": kind}
        if kind == "TBR":
            body["plan"]["tbrYears"] = 1
    cwsim.admin().patch(f"fleet/devices/{serial}", json=body).raise_for_status()


def additions(settings, serial: str, month: date = OCTOBER) -> list[dict]:
    """Every addition for the device and month, on any of its company's agreements, oldest first."""
    mapping = DeviceRegistry(registry_path(settings.state_dir)).get(serial)
    client = integrator_client(settings)
    found = []
    for agreement in client.iterate("finance/agreements", conditions=where("company/id", "=", mapping.company_id)):
        found += client.get(
            f"finance/agreements/{agreement['id']}/additions",
            {"conditions": str(where("serialNumber", "=", serial) & where("effectiveDate", "=", month))},
        )
    return sorted(found, key=lambda addition: addition["id"])


def line(report, serial: str):
    return next(device for device in report.devices if device.serial == serial)


def run_cli(monkeypatch, settings, *arguments: str) -> tuple[int, str, str]:
    """`cwsim-integration ARGUMENTS` in this process, its settings from variables: (exit status, stdout, stderr)."""
    cw = settings.connectwise
    environ = {
        "CWSIM_CONNECTWISE_SITE": cw.site,
        "CWSIM_CONNECTWISE_COMPANY_ID": cw.company_id,
        "CWSIM_CONNECTWISE_INTEGRATOR_PASSWORD": cw.integrator_password.reveal(),
        "CWSIM_DATTO_URL": settings.datto.url,
        "CWSIM_STATE_DIR": settings.state_dir,
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            status = cli.main(list(arguments))
        except SystemExit as exit_:
            status = int(exit_.code or 0)
    return status, out.getvalue(), err.getvalue()
