"""verify reports exactly what was changed on purpose: stubs on "the real ConnectWise" (a second `cwsim serve`)
drop a field, change a type, answer another status, send a header the fake does not; nothing else differs.

Needs `/_sim/stubs` (docs/stubs.md).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from cwsim.integration.connectwise import ApiKey
from cwsim.scenarios.capture import capture
from cwsim.scenarios.cli import main
from cwsim.scenarios.processes import ManagedProcess, cwsim_command, start

SOURCE = Path(__file__).parent / "capture" / "source.yaml"
SETTINGS = yaml.safe_load(SOURCE.read_text())["settings"]
COMPANY = SETTINGS["companyId"]
PUBLIC_KEY, PRIVATE_KEY = SETTINGS["apiKeys"][0]["publicKey"], SETTINGS["apiKeys"][0]["privateKey"]
CLIENT_ID = "verify-stub-tests"
ONLY = ("service/priorities", "service/sources", "company/configurations/statuses", "system/departments",
        "service/boards")  # fmt: skip
pytestmark = pytest.mark.slow  # two servers and a capture


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ManagedProcess, ManagedProcess]]:
    """(the source, a fake serving its capture)."""
    workdir = tmp_path_factory.mktemp("verify-stubs")
    serve = ("serve", "--port", "0", "--smtp-port", "0", "--tenant")
    source = start("source", cwsim_command(*serve, str(SOURCE)), workdir=workdir)
    try:
        document, _ = capture(source.facts["url"], COMPANY, ApiKey(COMPANY, PUBLIC_KEY, PRIVATE_KEY), CLIENT_ID)
        tenant = workdir / "captured.yaml"
        tenant.write_text(yaml.safe_dump(document, sort_keys=False))
        fake = start("fake", cwsim_command(*serve, str(tenant)), workdir=workdir)
        try:
            yield source, fake
        finally:
            fake.stop()
    finally:
        source.stop()


def source_answer(source: ManagedProcess, path: str) -> Any:
    """What the source answers verify's GET of a list path (its first 25 records)."""
    auth = base64.b64encode(f"{COMPANY}+{PUBLIC_KEY}:{PRIVATE_KEY}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "clientId": CLIENT_ID}
    response = requests.get(f"{source.facts['api_url']}/{path}", params={"pageSize": 25}, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def stub(source: ManagedProcess, path: str, respond: dict[str, Any]) -> None:
    definition = {"match": {"method": "GET", "path": f"*/apis/3.0/{path}"}, "respond": respond}
    response = requests.post(f"{source.facts['url']}/_sim/stubs", json=definition, timeout=30)
    assert response.status_code == 201, response.text


def verify_report(servers: tuple[ManagedProcess, ManagedProcess], capsys: pytest.CaptureFixture[str]) -> dict:
    source, fake = servers
    arguments = ["verify", "--site", source.facts["url"], "--company", COMPANY, "--fake", fake.facts["url"]]
    arguments += ["--public-key", PUBLIC_KEY, "--private-key", PRIVATE_KEY, "--client-id", CLIENT_ID, "--json", "-"]
    for path in ONLY:
        arguments += ["--only", path]
    main(arguments)
    return json.loads(capsys.readouterr().out)


def test_without_stubs_nothing_differs(
    servers: tuple[ManagedProcess, ManagedProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    requests.delete(f"{servers[0].facts['url']}/_sim/stubs", timeout=30)
    report = verify_report(servers, capsys)
    assert report["probed"] == len(ONLY) and report["differences"] == []


def test_verify_reports_exactly_the_changes_the_stubs_make(
    servers: tuple[ManagedProcess, ManagedProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    source = servers[0]
    requests.delete(f"{source.facts['url']}/_sim/stubs", timeout=30)
    priorities = [{k: v for k, v in record.items() if k != "color"} for record in source_answer(source, ONLY[0])]
    sources = [
        dict(record, defaultFlag=str(record["defaultFlag"]).lower()) for record in source_answer(source, ONLY[1])
    ]
    departments = source_answer(source, ONLY[3])
    stub(source, ONLY[0], {"status": 200, "json": priorities})  # the real one lacks a field the fake sends
    stub(source, ONLY[1], {"status": 200, "json": sources})  # a boolean the real one sends as text
    refused = {"code": "Forbidden", "message": "You do not have access to this resource.", "errors": None}
    stub(source, ONLY[2], {"status": 403, "json": refused})  # another status
    stub(source, ONLY[3], {"status": 200, "headers": {"X-Request-Id": "7f3a"}, "json": departments})  # a header
    try:
        report = verify_report(servers, capsys)
    finally:
        requests.delete(f"{source.facts['url']}/_sim/stubs", timeout=30)
    found = sorted((d["endpoint"], d["kind"], d.get("field"), d.get("side")) for d in report["differences"])
    assert found == sorted(
        [
            ("service/priorities", "extra-field", "color", None),
            ("service/sources", "type", "defaultFlag", None),
            ("service/sources", "schema-type", "defaultFlag", "site"),
            ("company/configurations/statuses", "status", None, None),
            ("system/departments", "header", "x-request-id", None),
        ]
    )
    status = next(d for d in report["differences"] if d["kind"] == "status")
    assert (status["site"], status["fake"]) == (403, 200)
