"""capture and verify against "the real ConnectWise": a second `cwsim serve`, tests/capture/source.yaml.

One source server serves the module; a capture made through the `cwsim` command is shared by the
tests that only read it. Names, keys and passwords the tests look for are in source.yaml.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import yaml

from cwsim.scenarios.anonymize import anonymize
from cwsim.scenarios.capture import CAPTURED_PRIVATE_KEY, CAPTURED_PUBLIC_KEY
from cwsim.scenarios.cli import main
from cwsim.scenarios.processes import ManagedProcess, cwsim_command, start
from cwsim.simulator.connectwise import tenant_file
from cwsim.simulator.connectwise.tenant_file import TenantSource, load_tenant, load_tenant_file
from cwsim.simulator.testing import Admin

SOURCE = Path(__file__).parent / "capture" / "source.yaml"
SOURCE_DOCUMENT = yaml.safe_load(SOURCE.read_text())
COMPANY = SOURCE_DOCUMENT["settings"]["companyId"]
PUBLIC_KEY = SOURCE_DOCUMENT["settings"]["apiKeys"][0]["publicKey"]
PRIVATE_KEY = SOURCE_DOCUMENT["settings"]["apiKeys"][0]["privateKey"]
PASSWORD = SOURCE_DOCUMENT["integratorLogins"][0]["password"]
SECRETS = (
    PUBLIC_KEY,
    PRIVATE_KEY,
    PASSWORD,
    base64.b64encode(f"{COMPANY}+{PUBLIC_KEY}:{PRIVATE_KEY}".encode()).decode(),  # the Authorization header
)
CLIENT_ID = "capture-tests"
CAPTURED_TABLES = (
    "system/members",
    "system/integratorlogins",
    "system/locations",
    "system/departments",
    "service/priorities",
    "service/sources",
    "service/boards",
    "service/boards/statuses",
    "service/boards/types",
    "service/boards/subtypes",
    "service/boards/items",
    "service/boards/teams",
    "company/configurations/types",
    "company/configurations/types/questions",
    "finance/agreements/types",
    "procurement/catalog",
    "company/managedDevicesIntegrations",
    "company/managedDevicesIntegrations/crossReferences",
    "company/companies",
    "company/contacts",
    "company/configurations",
    "finance/agreements",
    "finance/agreements/additions",
    "finance/agreements/configurations",
)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    """The ConnectWise the tests capture from."""
    workdir = tmp_path_factory.mktemp("source")
    command = cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--tenant", str(SOURCE))
    process = start("source", command, workdir=workdir)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CWSIM_CAPTURE_PUBLIC_KEY", PUBLIC_KEY)
    monkeypatch.setenv("CWSIM_CAPTURE_PRIVATE_KEY", PRIVATE_KEY)
    monkeypatch.setenv("CWSIM_CAPTURE_CLIENT_ID", CLIENT_ID)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`cwsim ARGV` in this process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_capture(capsys: pytest.CaptureFixture[str], source: ManagedProcess, out: Path, *extra: str) -> str:
    code, stdout, stderr = run(
        capsys, "capture", "--site", source.facts["url"], "--company", COMPANY, "--out", str(out), *extra
    )
    assert code == 0, stderr
    return stdout + stderr


@pytest.fixture(scope="module")
def captured(source: ManagedProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One capture of the source (all its companies), through the `cwsim capture` command."""
    out = tmp_path_factory.mktemp("captured") / "capture.yaml"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CWSIM_CAPTURE_PUBLIC_KEY", PUBLIC_KEY)
        patch.setenv("CWSIM_CAPTURE_PRIVATE_KEY", PRIVATE_KEY)
        patch.setenv("CWSIM_CAPTURE_CLIENT_ID", CLIENT_ID)
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            code = main(
                ["capture", "--site", source.facts["url"], "--company", COMPANY, "--out", str(out), "--companies", "10"]
            )
    assert code == 0, stderr.getvalue()
    return {"path": out, "text": out.read_text(), "log": stderr.getvalue()}


def secrets_in(text: str) -> list[str]:
    """The source's keys and passwords (or its Authorization header) that appear in a text."""
    return [secret for secret in SECRETS if secret in text]


def record_counts(backend: Any) -> dict[str, int]:
    return {table: len(backend.store.table(table).records) for table in CAPTURED_TABLES}


@functools.cache
def file_counts(path: Path) -> dict[str, int]:
    """The captured tables' record counts of a tenant file, loaded once per run (loading takes a moment)."""
    return record_counts(load_tenant_file(path))


# -- capture ---------------------------------------------------------------------------------------


def test_the_capture_loads_unchanged_and_holds_every_captured_record_of_the_source(captured: dict[str, Any]) -> None:
    assert file_counts(captured["path"]) == file_counts(SOURCE)
    assert all(count > 0 for count in file_counts(SOURCE).values()), file_counts(SOURCE)
    document = yaml.safe_load(captured["text"])
    assert document["settings"]["companyId"] == COMPANY
    assert document["settings"]["codebase"] == SOURCE_DOCUMENT["settings"]["codebase"]
    assert document["settings"]["version"] == SOURCE_DOCUMENT["settings"]["version"]
    assert document["settings"]["apiKeys"] == [
        {"publicKey": CAPTURED_PUBLIC_KEY, "privateKey": CAPTURED_PRIVATE_KEY, "member": "hb-api"}
    ]
    login = document["integratorLogins"][0]
    assert login["username"] == "harbourDatto" and login["managedServicesApiFlag"] is True
    assert "password" not in login
    assert "company/companies: 2" in captured["log"] and "wrote" in captured["log"]  # progress on stderr


def test_no_key_or_password_of_the_source_is_in_the_file_or_the_progress(captured: dict[str, Any]) -> None:
    assert secrets_in(captured["text"]) == []
    assert secrets_in(captured["log"]) == []


def test_negative_control_the_secret_scan_finds_secrets_where_they_are() -> None:
    text = SOURCE.read_text()
    assert set(secrets_in(text)) == set(SECRETS[:3])
    assert secrets_in(f"Authorization: Basic {SECRETS[3]}") == [SECRETS[3]]


@pytest.mark.slow
def test_capture_under_429s_and_with_page_size_1_yields_the_same_file(
    source: ManagedProcess,
    captured: dict[str, Any],
    tmp_path: Path,
    keys: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = Admin(source.facts["url"])
    admin.journal.clear()
    admin.faults(
        {"path": "*", "probability": 0.3, "seed": 7, "count": 25, "effect": {"kind": "throttle", "retry_after": 0}}
    )
    try:
        out = tmp_path / "capture.yaml"
        run_capture(capsys, source, out, "--companies", "10", "--page-size", "1")
    finally:
        requests.delete(source.facts["url"] + "/_sim/faults", timeout=30)
    throttled = admin.journal.requests(status=429)
    assert len(throttled) == 25  # every throttle fired, and each was retried
    queries = [parse_qs(entry["query"]) for entry in admin.journal.requests(method="GET")]
    assert any(query.get("pageSize") == ["1"] and query.get("page") == ["2"] for query in queries)
    header = f"Serve it: cwsim serve --tenant {out}"
    assert out.read_text().replace(header, "") == captured["text"].replace(
        f"Serve it: cwsim serve --tenant {captured['path']}", ""
    )


@pytest.mark.slow
def test_a_capture_from_the_generated_default_tenant_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The Faker tenant's members, boards and locations refer to each other in a cycle the loader must start right."""
    served = start("generated", cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--companies", "3"))
    try:
        facts = served.facts
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CWSIM_CAPTURE_PUBLIC_KEY", facts["publicKey"])
            patch.setenv("CWSIM_CAPTURE_PRIVATE_KEY", facts["privateKey"])
            patch.setenv("CWSIM_CAPTURE_CLIENT_ID", CLIENT_ID)
            out = tmp_path / "generated.yaml"
            code, _, stderr = run(
                capsys, "capture", "--site", facts["url"], "--company", facts["companyId"], "--out", str(out),
                "--companies", "3",
            )  # fmt: skip
    finally:
        served.stop()
    assert code == 0, stderr
    backend = load_tenant_file(out)
    assert len(backend.store.table("company/companies").records) == 3
    assert len(backend.store.table("service/boards/teams").records) > 0

    # Negative control: the loader's old choice in a cycle (the first section left) cannot load it.
    original = tenant_file._needs_itself
    try:
        tenant_file._needs_itself = lambda *arguments: False
        with pytest.raises(tenant_file.TenantFileError):
            load_tenant_file(out)
    finally:
        tenant_file._needs_itself = original


# -- errors: one line, no traceback, no secret ------------------------------------------------------


def test_missing_keys_are_named_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable in ("CWSIM_CAPTURE_PUBLIC_KEY", "CWSIM_CAPTURE_PRIVATE_KEY", "CWSIM_CAPTURE_CLIENT_ID"):
        monkeypatch.delenv(variable, raising=False)
    code, _, stderr = run(capsys, "capture", "--site", "http://127.0.0.1:9", "--company", "x", "--out", "x.yaml")
    assert code == 2
    assert stderr.strip() == (
        "cwsim capture: missing --public-key or $CWSIM_CAPTURE_PUBLIC_KEY, --private-key or "
        "$CWSIM_CAPTURE_PRIVATE_KEY, --client-id or $CWSIM_CAPTURE_CLIENT_ID"
    )


def test_wrong_keys_are_one_line_that_does_not_show_them(
    source: ManagedProcess, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wrong = "hb-priv-WRONG-4471"
    out = tmp_path / "capture.yaml"
    code, stdout, stderr = run(
        capsys, "capture", "--site", source.facts["url"], "--company", COMPANY, "--out", str(out),
        "--public-key", PUBLIC_KEY, "--private-key", wrong, "--client-id", CLIENT_ID,
    )  # fmt: skip
    assert code == 2 and not out.exists()
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("cwsim capture: GET ") and "-> 401" in last, stderr
    assert "Traceback" not in stderr and wrong not in stdout + stderr and PUBLIC_KEY not in stdout + stderr


@pytest.mark.slow  # the careful client retries the connection four times, with backoff
def test_an_unreachable_site_is_one_line(capsys: pytest.CaptureFixture[str], keys: None, tmp_path: Path) -> None:
    code, _, stderr = run(capsys, "capture", "--site", "http://127.0.0.1:9", "--company", COMPANY, "--out", "x.yaml")
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("cwsim capture: cannot reach"), stderr


# -- anonymize --------------------------------------------------------------------------------------


def source_people_values() -> set[str]:
    """Every name, email and phone of a person or company in the source tenant."""
    values: set[str] = {SOURCE_DOCUMENT["settings"]["companyName"]}
    for member in SOURCE_DOCUMENT["members"]:
        values |= {member.get(name) for name in ("firstName", "lastName", "officeEmail", "officePhone")}
    for company in SOURCE_DOCUMENT["companies"]:
        values |= {company.get("name"), company.get("identifier"), company.get("phoneNumber")}
        for contact in company.get("contacts", []):
            values |= {contact.get("firstName"), contact.get("lastName")}
            values |= {item["value"] for item in contact.get("communicationItems", [])}
    return {value for value in values if value}


def leaked(text: str) -> list[str]:
    """The source's people values found in `text` as whole words (a first name inside "business" is not one)."""
    return sorted(
        value
        for value in source_people_values()
        if re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", text, re.IGNORECASE)
    )


def test_anonymize_leaves_no_source_name_email_or_phone_and_references_still_resolve(captured: dict[str, Any]) -> None:
    document = yaml.safe_load(captured["text"])
    assert len(leaked(captured["text"])) == len(source_people_values())  # negative control: all there before
    anonymous = yaml.safe_dump(anonymize(document, seed=7), sort_keys=False)
    assert leaked(anonymous) == []
    backend = load_tenant(TenantSource(anonymous, "anonymous.yaml"))
    assert record_counts(backend) == file_counts(SOURCE)
    companies = list(backend.store.table("company/companies").records.values())
    contacts = backend.store.table("company/contacts").records
    default_contact = contacts[companies[0]["defaultContact"]]
    assert default_contact["company"] == companies[0]["id"]  # the reference by (new) name found its contact
    emails = [member.get("officeEmail") for member in backend.store.table("system/members").records.values()]
    assert len([email for email in emails if email and "@" in email]) == 2  # replaced, not dropped


def test_anonymize_is_the_same_for_the_same_seed_and_differs_for_another(captured: dict[str, Any]) -> None:
    document = yaml.safe_load(captured["text"])
    first = yaml.safe_dump(anonymize(document, seed=7), sort_keys=False)
    assert yaml.safe_dump(anonymize(yaml.safe_load(captured["text"]), seed=7), sort_keys=False) == first
    assert yaml.safe_dump(anonymize(document, seed=8), sort_keys=False) != first


def test_the_anonymize_option_writes_the_anonymized_capture(
    source: ManagedProcess, captured: dict[str, Any], tmp_path: Path, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "anonymous.yaml"
    run_capture(capsys, source, out, "--companies", "10", "--anonymize", "--seed", "7")
    text = out.read_text()
    assert leaked(text) == [] and secrets_in(text) == []
    expected = anonymize(yaml.safe_load(captured["text"]), seed=7)
    assert yaml.safe_load(text) == expected


# -- verify -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_verify_finds_no_difference_between_the_source_and_its_served_capture(
    source: ManagedProcess, captured: dict[str, Any], tmp_path: Path, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    report_file = tmp_path / "report.json"
    code, stdout, stderr = run(
        capsys, "verify", "--site", source.facts["url"], "--company", COMPANY,
        "--tenant", str(captured["path"]), "--json", str(report_file),
    )  # fmt: skip
    report = json.loads(report_file.read_text())
    assert report["differences"] == [], stdout
    assert code == 0
    assert report["probed"] > 400 and report["readable"] > 300  # the whole list, not a few endpoints
    assert "0 differences" in stdout.splitlines()[1]
    assert secrets_in(stdout + stderr + report_file.read_text()) == []


@pytest.mark.slow
def test_verify_reports_what_the_capture_lacks(
    source: ManagedProcess, captured: dict[str, Any], tmp_path: Path, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Negative control: a capture missing a board status and a source priority is not "no difference"."""
    document = yaml.safe_load(captured["text"])
    document["boards"][0]["statuses"].pop()
    document["priorities"].pop()
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(document, sort_keys=False))
    code, stdout, _ = run(
        capsys, "verify", "--site", source.facts["url"], "--company", COMPANY, "--tenant", str(edited),
        "--only", "service/priorities", "--only", "service/boards/*/statuses", "--json", "-",
    )  # fmt: skip
    assert code == 1
    report = json.loads(stdout)
    found = {(d["endpoint"], d["kind"], d.get("site"), d.get("fake")) for d in report["differences"]}
    assert found == {
        ("service/priorities", "count", 2, 1),
        ("service/priorities", "page", 2, 1),
        ("service/boards/{parentId}/statuses", "count", 3, 2),
        ("service/boards/{parentId}/statuses", "page", 3, 2),
    }
    assert report["probed"] == 2


WRITTEN_TABLES = ("service/tickets", "company/configurations", "finance/agreements", "finance/agreements/additions")


def written_records(admin: Admin) -> dict[str, list[dict[str, Any]]]:
    """The records of the tables the write flow writes to (ids and all), from the server's state."""
    tables = admin.call("GET", "state")["connectwise"]["tables"]
    return {table: tables[table]["records"] for table in WRITTEN_TABLES}


@pytest.mark.slow
def test_the_write_flow_answers_alike_and_leaves_nothing_behind(
    source: ManagedProcess, captured: dict[str, Any], tmp_path: Path, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = start("fake", cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--tenant", str(captured["path"])))
    try:
        source_admin, fake_admin = Admin(source.facts["url"]), Admin(fake.facts["url"])
        before = written_records(source_admin)
        arguments = [
            "verify", "--site", source.facts["url"], "--company", COMPANY, "--fake", fake.facts["url"],
            "--only", "service/priorities", "--allow-writes", "--sandbox-company", "Pelican", "--json", "-",
        ]  # fmt: skip
        code, stdout, stderr = run(capsys, *arguments)
        report = json.loads(stdout)
        assert report["differences"] == [], stderr
        assert code == 0
        steps = {step["step"]: (step["site"], step["fake"]) for step in report["writes"]}
        assert steps["create a ticket"] == steps["add a note"] == (201, 201)
        assert steps["close the ticket"] == (200, 200) and steps["delete the ticket"] == (204, 204)
        assert steps["add an addition"] == (201, 201) and steps["detach the configuration"] == (204, 204)
        assert written_records(source_admin) == before  # nothing left behind

        # Negative control: the fake failing one step is a difference there, and at each step it never reached.
        fake_admin.faults(
            {"method": "POST", "path": "service/tickets/*/notes", "effect": {"kind": "status", "status": 500}}
        )
        code, stdout, _ = run(capsys, *arguments)
        differences = json.loads(stdout)["differences"]
        assert code == 1
        assert differences[0] == {
            "endpoint": "write: add a note", "kind": "status", "site": 201, "fake": 500, "detail": ""
        }  # fmt: skip
        assert {d["endpoint"] for d in differences[1:]} >= {"write: patch the ticket", "write: create a configuration"}
    finally:
        fake.stop()


@pytest.mark.slow
def test_verify_with_a_tenant_the_fake_refuses_is_one_line(
    source: ManagedProcess, tmp_path: Path, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("settings:\n  companyId: x\n  apiKeys: [{publicKey: a, privateKey: b, member: m}]\nboardz: []\n")
    code, stdout, stderr = run(
        capsys, "verify", "--site", source.facts["url"], "--company", COMPANY, "--tenant", str(broken)
    )
    assert code == 2 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith(f"cwsim verify: the fake did not start with {broken}: ") and "boardz" in stderr, stderr
