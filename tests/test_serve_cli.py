"""`cwsim serve` as a user runs it: ready file, printed facts, clean shutdown, clear errors; the tests of what a
server does (ready file, health, shutdown with the state saved, TLS, the fault proxy, the mail catcher, ports in
use, bad tenants and states) run on each WSGI server `--server` offers."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from cwsim.scenarios.processes import ProcessFailed, cwsim_command, start
from cwsim.simulator.pytest_plugin import basic_auth
from cwsim.simulator.server import SERVER_VARIABLE, SERVERS
from cwsim.simulator.testing import WAIT_SECONDS

pytestmark = pytest.mark.slow  # each test starts cwsim serve as a process


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every `cwsim serve` this test starts uses this WSGI server (its --server default comes from the variable)."""
    monkeypatch.setenv(SERVER_VARIABLE, request.param)
    return str(request.param)


@pytest.fixture
def served(tmp_path: Path, server: str):
    process = start(
        "cwsim", cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--companies", "5"), workdir=tmp_path
    )
    yield process
    process.stop()


def test_the_ready_file_tells_a_client_everything_it_needs(served) -> None:
    facts = served.facts
    assert facts["url"].startswith("http://127.0.0.1:")
    assert facts["api_url"] == facts["url"] + "/v4_6_release/apis/3.0"
    assert facts["companyId"] == "cwsim"
    assert (facts["publicKey"], facts["privateKey"]) == ("cwsim-public", "cwsim-private")
    assert facts["integrator"] == {"username": "dattoCW", "password": "cwsim-integrator"}
    assert requests.get(facts["url"] + "/_sim/health", timeout=5).json()["status"] == "ok"


def test_it_prints_the_same_facts_in_one_readable_block_less_the_secrets(served) -> None:
    served.stop()
    printed = served.log()
    facts = served.facts
    for fact in (facts["url"], facts["api_url"], facts["fault_proxy_api_url"], "cwsim-public", "dattoCW"):
        assert fact in printed
    for secret in (facts["privateKey"], facts["integrator"]["password"], facts["portal"]["secretKey"]):
        assert secret not in printed, "secrets are only in the ready file and GET /_sim/state"
    assert "ready file" in printed


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_it_shuts_down_cleanly_on_sigint_and_sigterm(tmp_path: Path, sent: signal.Signals, server: str) -> None:
    process = start(
        "cwsim", cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--companies", "3"), workdir=tmp_path
    )
    process.process.send_signal(sent)
    assert process.process.wait(timeout=WAIT_SECONDS) == 0
    assert "stopped" in process.log()
    assert "Traceback" not in process.log()
    assert process.facts["server"] == server
    assert _gone(process.facts["url"])  # granian's worker went with it


def test_ctrl_c_on_its_process_group_stops_it_cleanly_with_the_state_saved(tmp_path: Path, server: str) -> None:
    """A terminal's Ctrl-C goes to the whole process group, granian's worker included (when it was hit together
    with its main process, it hung until killed)."""
    state, ready = tmp_path / "state.json", tmp_path / "ready.json"
    command = cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--state", str(state))
    command += ["--ready-file", str(ready)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline, "cwsim serve never got ready"
            time.sleep(0.05)  # polling for the ready file, with a deadline
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=WAIT_SECONDS) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    assert process.stdout is not None
    printed = process.stdout.read().decode()
    assert f"state saved to {state}" in printed and "Traceback" not in printed
    assert json.loads(state.read_text())["connectwise"]["tables"]


def _gone(url: str) -> bool:
    try:
        requests.get(url + "/_sim/health", timeout=5)
    except requests.ConnectionError:
        return True
    return False


@pytest.mark.usefixtures("server")
def test_a_port_in_use_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            cwsim_command("serve", "--port", str(port), "--smtp-port", "0"), capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1 (port {port}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--port", "abc"], "invalid int value"),
        (["--companies", "0"], "--companies must be at least 1"),
    ],
)
def test_bad_arguments_are_explained(arguments: list[str], message: str) -> None:
    result = subprocess.run(cwsim_command("serve", *arguments), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_start_reports_a_process_that_dies_before_it_is_ready(tmp_path: Path) -> None:
    with pytest.raises(ProcessFailed, match="exited with 2"):
        start("broken", [sys.executable, "-m", "cwsim.scenarios.cli", "serve", "--port", "-1"], workdir=tmp_path)


# -- --tenant, --state, --tls ------------------------------------------------------------------

BAD_TENANT = """\
settings:
  companyId: acme
  apiKeys:
    - {publicKey: p, privateKey: q, member: api}
members:
  - {identifier: api, firstName: A, lastName: B}
companies:
  - {identifier: ACME, name: Acme, city: X}
  - {identifier: acme, name: Acme again, city: Y}
"""


@pytest.mark.usefixtures("server")
def test_a_tenant_file_with_errors_is_explained_by_line_and_nothing_is_served(tmp_path: Path) -> None:
    tenant = tmp_path / "bad.yaml"
    tenant.write_text(BAD_TENANT)
    ready = tmp_path / "ready.json"
    result = subprocess.run(
        cwsim_command("serve", "--port", "0", "--tenant", str(tenant), "--ready-file", str(ready)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"cwsim serve: the tenant {tenant} cannot be loaded (1 problem):" in result.stderr
    assert f'{tenant}:9: companies[1] ("acme"): identifier: "acme" is already in use.' in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not ready.exists()


def test_it_serves_a_tenant_file_and_its_credentials_are_in_the_ready_file(tmp_path: Path) -> None:
    process = start("cwsim", cwsim_command("serve", "--port", "0", "--tenant", "default"), workdir=tmp_path)
    try:
        facts = process.facts
        assert facts["tenant"] == "default" and facts["companyId"] == "cwsim"
        assert facts["integrator"] == {"username": "dattoCW", "password": "cwsim-integrator"}
        auth = basic_auth(facts["companyId"], facts["publicKey"], facts["privateKey"])
        companies = requests.get(
            facts["api_url"] + "/company/companies", headers={"Authorization": auth, "clientId": "x"}, timeout=5
        ).json()
        assert [c["identifier"] for c in companies] == ["Northwind", "Contoso", "Fabrikam"]
    finally:
        process.stop()


@pytest.mark.usefixtures("server")
def test_state_is_saved_on_a_clean_stop_and_restored_at_the_next_start(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    command = cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--companies", "3", "--state", str(state))
    first = start("first", command, workdir=tmp_path)
    facts = first.facts
    headers = {"Authorization": basic_auth("cwsim", facts["publicKey"], facts["privateKey"]), "clientId": "x"}
    created = requests.post(
        facts["api_url"] + "/service/tickets",
        json={"summary": "kept", "company": {"id": 1}},
        headers=headers,
        timeout=5,
    ).json()
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(timeout=WAIT_SECONDS) == 0
    assert f"state saved to {state}" in first.log()
    saved = json.loads(state.read_text())
    assert [t["summary"] for t in saved["connectwise"]["tables"]["service/tickets"]["records"]] == ["kept"]
    assert not list(tmp_path.glob(".state.json.*"))  # the temporary file was renamed over it

    second = start("second", command, workdir=tmp_path)
    try:
        ticket = requests.get(f"{second.facts['api_url']}/service/tickets/{created['id']}", headers=headers, timeout=5)
        assert ticket.json()["summary"] == "kept"
        assert ticket.json()["_info"]["dateEntered"] == created["_info"]["dateEntered"]
    finally:
        second.stop()


@pytest.mark.usefixtures("server")
def test_a_state_file_that_cannot_be_restored_is_explained(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"version": 1, "connectwise": {"settings": {}, "tables": {}}}')
    result = subprocess.run(
        cwsim_command("serve", "--port", "0", "--state", str(state)), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert f"the state in {state} cannot be restored" in result.stderr
    assert "connectwise.settings.companyId: Missing data for required field." in result.stderr
    assert "Traceback" not in result.stderr
    state.write_text("{half")
    result = subprocess.run(
        cwsim_command("serve", "--port", "0", "--state", str(state)), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "not valid JSON" in result.stderr


@pytest.mark.usefixtures("server")
def test_tls_puts_https_urls_and_the_ca_file_in_the_ready_file_and_the_printout(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    process = start(
        "cwsim",
        cwsim_command("serve", "--port", "0", "--companies", "3", "--tls", "--ca-file", str(ca_file)),
        workdir=tmp_path,
    )
    try:
        facts = process.facts
        assert facts["url"].startswith("https://127.0.0.1:") and facts["api_url"].startswith("https://")
        assert facts["tls"] is True and facts["ca_file"] == str(ca_file.resolve())
        assert requests.get(facts["url"] + "/_sim/health", timeout=5, verify=facts["ca_file"]).ok
        # the app knows it was asked over HTTPS (its OpenAPI document names the origin it was asked at)
        openapi = requests.get(facts["url"] + "/_sim/openapi.json", timeout=30, verify=facts["ca_file"]).json()
        assert openapi["servers"][0]["url"] == facts["api_url"]
        through_proxy = requests.get(facts["fault_proxy_url"] + "/_sim/health", timeout=5, verify=facts["ca_file"])
        assert through_proxy.json()["status"] == "ok"
    finally:
        process.stop()
    printed = process.log()
    assert f"export REQUESTS_CA_BUNDLE={ca_file.resolve()}" in printed
    assert "Traceback" not in printed


def test_ca_file_needs_tls() -> None:
    result = subprocess.run(cwsim_command("serve", "--ca-file", "x.pem"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--ca-file needs --tls" in result.stderr


def test_the_fault_proxy_and_the_mail_catcher_live_with_the_state(tmp_path: Path, server: str) -> None:
    """A connection fault set through the admin API breaks a request through the fault proxy, and mail sent to
    the catcher is read back from the API: both answer from the process holding the world."""
    process = start("cwsim", cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--companies", "3"), tmp_path)
    try:
        facts = process.facts
        assert facts["server"] == server
        headers = {"Authorization": basic_auth("cwsim", facts["publicKey"], facts["privateKey"]), "clientId": "x"}
        rule = {"method": "GET", "collection": "service/boards", "count": 1, "effect": {"kind": "connection_reset"}}
        requests.post(facts["url"] + "/_sim/faults", json=rule, timeout=5).raise_for_status()
        boards = f"{facts['fault_proxy_api_url']}/service/boards"
        with pytest.raises(requests.ConnectionError):
            requests.get(boards, headers=headers, timeout=5)
        assert requests.get(boards, headers=headers, timeout=5).status_code == 200  # the rule was used up
        with smtplib.SMTP(facts["smtp"]["host"], facts["smtp"]["port"], timeout=10) as smtp:
            smtp.sendmail("fleet@example.com", ["noc@example.com"], b"Subject: caught\r\n\r\nhello\r\n")
        caught = requests.get(facts["url"] + "/_sim/mail", timeout=5).json()
        assert [mail["subject"] for mail in caught] == ["caught"]
        stats = requests.get(facts["url"] + "/_sim/stats", timeout=5).json()
        assert stats["mail_caught"]["total"] == 1 and stats["requests"]["total"] >= 1
    finally:
        process.stop()


def test_granians_worker_stops_and_saves_the_state_when_the_main_process_is_killed(tmp_path: Path) -> None:
    """SIGKILL on `cwsim serve` cannot be passed on by granian: its worker notices it is orphaned and stops as on
    SIGTERM, so no process is left holding the ports, and the state it held is saved."""
    state = tmp_path / "state.json"
    command = cwsim_command("serve", "--server", "granian", "--port", "0", "--smtp-port", "0", "--state", str(state))
    process = start("cwsim", command, tmp_path)
    url = process.facts["url"]
    assert requests.get(url + "/_sim/health", timeout=5).ok
    process.process.kill()
    process.process.wait(timeout=15)
    deadline = time.monotonic() + 60
    while not (_gone(url) and state.exists()):
        assert time.monotonic() < deadline, "granian's worker outlived its main process"
        time.sleep(0.1)  # polling for the worker to go, with a deadline
    assert json.loads(state.read_text())["connectwise"]["tables"]
