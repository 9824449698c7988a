"""Security: loopback by default, an admin token to go beyond it, secrets kept out of answers, journal and logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cwsim.scenarios.processes import cwsim_command, start
from cwsim.simulator import server as server_module
from cwsim.simulator.admin_access import UnsafeBind, is_loopback
from cwsim.simulator.pytest_plugin import Cwsim
from cwsim.simulator.server import RunningServer, ServeOptions
from cwsim.simulator.world import WorldOptions

from .conftest import INTEGRATOR_HEADERS, Api

TOKEN = "tok-3f9a1c-admin"
LOGIN_PASSWORD = "s3cret-login-pw"
DEVICE_PASSWORD = "s3cret-device-pw"
GLOBAL_PASSWORD = "s3cret-global-pw"


# -- where servers listen ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("10.0.0.1", False),
        ("cwsim.example", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_non_loopback_address_is_refused_before_anything_is_made_or_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_world(*args: Any) -> None:
        raise AssertionError("the world (and its sockets) must not be made")

    monkeypatch.setattr(server_module, "World", no_world)
    with pytest.raises(UnsafeBind, match="--admin-token"):
        RunningServer(ServeOptions(host="0.0.0.0", port=0, smtp_port=0))
    with pytest.raises(AssertionError, match="must not be made"):
        RunningServer(ServeOptions(host="0.0.0.0", port=0, smtp_port=0, admin_token=TOKEN))  # negative control


@pytest.mark.slow
def test_cwsim_serve_refuses_a_wildcard_address_without_a_token(tmp_path: Path) -> None:
    import subprocess

    result = subprocess.run(
        cwsim_command("serve", "--host", "0.0.0.0", "--port", "0", "--smtp-port", "0"),
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0" in result.stderr and "Traceback" not in result.stderr


def test_every_server_of_cwsim_serve_listens_on_loopback(cwsim: Cwsim) -> None:
    server = cwsim.server
    assert server.server.socket.getsockname()[0] == "127.0.0.1"
    assert server.fault_proxy is not None and server.fault_proxy.host == "127.0.0.1"
    assert cwsim.facts["smtp"]["host"] == "127.0.0.1"
    assert server.smtp.host == "127.0.0.1"
    assert {sock.getsockname()[0] for sock in server.smtp._controller.server.sockets} == {"127.0.0.1"}


# -- the admin token ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded() -> Iterator[RunningServer]:
    server = RunningServer(ServeOptions(port=0, smtp_port=0, admin_token=TOKEN, world=WorldOptions(companies=3)))
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("path", ["health", "state", "faults", "requests", "reset", "clock"])
def test_with_a_token_every_admin_request_needs_it(guarded: RunningServer, path: str) -> None:
    method = "POST" if path == "reset" else "GET"
    url = f"{guarded.url}/_sim/{path}"
    missing = requests.request(method, url, timeout=10)
    assert missing.status_code == 401
    assert missing.json()["code"] == "Unauthorized" and "missing" in missing.json()["message"]
    assert TOKEN not in missing.text
    wrong = requests.request(method, url, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401 and "wrong" in wrong.json()["message"]
    assert requests.request(method, url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).ok
    assert requests.request(method, url, headers={"X-Cwsim-Admin-Token": TOKEN}, timeout=10).ok


def test_with_a_token_the_apis_work_as_before_and_the_plugin_sends_it(guarded: RunningServer) -> None:
    cwsim = Cwsim(guarded)
    assert cwsim.session().get("service/boards").status_code == 200
    assert requests.get(f"{guarded.url}/_sim/health", timeout=10).status_code == 401
    assert cwsim.admin().get("health").status_code == 200
    through_proxy = requests.get(f"{guarded.fault_proxy_url}/_sim/health", timeout=10)
    assert through_proxy.status_code == 401, "the fault proxy is no way around the token"


def test_without_a_token_the_admin_api_is_open_on_loopback(cwsim: Cwsim) -> None:
    assert requests.get(cwsim.url + "/_sim/health", timeout=10).status_code == 200
    assert cwsim.facts["admin"]["token_required"] is False


@pytest.mark.slow
def test_the_ready_file_and_the_output_say_a_token_is_needed_but_never_show_it(tmp_path: Path) -> None:
    process = start(
        "cwsim",
        cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--companies", "3", "--verbose"),
        workdir=tmp_path,
        env={"CWSIM_ADMIN_TOKEN": TOKEN},
    )
    try:
        facts = process.facts
        assert facts["admin"]["token_required"] is True
        assert requests.get(facts["url"] + "/_sim/health", timeout=10).status_code == 401
        assert requests.get(facts["url"] + "/_sim/health", headers={"X-Cwsim-Admin-Token": TOKEN}, timeout=10).ok
    finally:
        process.stop()
    assert TOKEN not in (tmp_path / "cwsim.ready.json").read_text()
    assert TOKEN not in process.log() and "needs the admin token" in process.log()


# -- secrets in answers, the journal and logs -------------------------------------------------------


def created_with_secrets(api: Api) -> dict[str, Any]:
    login = api.post(
        "system/integratorlogins", json={"username": "probe", "password": LOGIN_PASSWORD, "canAccessAllApisFlag": True}
    )
    integration = api.patch(
        "company/managedDevicesIntegrations/1",
        json=[{"op": "replace", "path": "globalLoginPassword", "value": GLOBAL_PASSWORD}],
    )
    device_login = api.post(
        "company/managedDevicesIntegrations/1/logins",
        json={"username": "tech", "password": DEVICE_PASSWORD, "member": {"identifier": "cwsim-api"}},
    )
    return {"login": login, "integration": integration, "device_login": device_login}


SECRET_READS = [
    "system/integratorlogins",
    "system/integratorlogins?fields=password,username",
    "company/managedDevicesIntegrations",
    "company/managedDevicesIntegrations/1",
    "company/managedDevicesIntegrations/1?fields=globalLoginPassword",
    "company/managedDevicesIntegrations/1/logins",
    "company/managedDevicesIntegrations/1/logins?fields=password",
]


def test_the_connectwise_api_never_returns_a_password(api: Api) -> None:
    written = created_with_secrets(api)
    for name, response in written.items():
        assert response.status_code in (200, 201), (name, response.get_json())
        assert not {"password", "globalLoginPassword"} & set(response.get_json()), name
    login_id = written["login"].get_json()["id"]
    reads = [*SECRET_READS, f"system/integratorlogins/{login_id}"]
    for path in reads:
        response = api.get(path)
        assert response.status_code == 200, path
        for secret in (LOGIN_PASSWORD, DEVICE_PASSWORD, GLOBAL_PASSWORD, "cwsim-integrator"):
            assert secret.encode() not in response.data, (path, secret)
    probe = api.get("system/integratorlogins", query_string={"conditions": f'password="{LOGIN_PASSWORD}"'})
    assert probe.status_code == 400, "no password oracle through conditions"
    assert (
        api.get("company/managedDevicesIntegrations/1/logins", query_string={"orderBy": "password"}).status_code == 400
    )
    assert api.get("system/integratorlogins", headers={**INTEGRATOR_HEADERS, "clientId": "x"}).status_code in (200, 403)


def test_secrets_stay_out_of_the_journal_and_the_logs(cwsim: Cwsim, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = cwsim.session()
    api.post("system/integratorlogins", json={"username": "probe", "password": LOGIN_PASSWORD})
    api.patch(
        "company/managedDevicesIntegrations/1",
        json=[{"op": "replace", "path": "globalLoginPassword", "value": GLOBAL_PASSWORD}],
    )
    api.post(
        "company/managedDevicesIntegrations/1/logins",
        json={"username": "tech", "password": DEVICE_PASSWORD, "member": {"identifier": "cwsim-api"}},
    )
    api.get("service/boards", params={"password": LOGIN_PASSWORD})
    api.post(
        "service/tickets",
        data=b'{"summary": "cut", "password": "' + DEVICE_PASSWORD.encode(),
        headers={"Content-Type": "application/json"},
    )
    portal = cwsim.facts["portal"]
    requests.get(portal["url"] + "/device", auth=(portal["publicKey"], portal["secretKey"]), timeout=10)
    with cwsim.session(through_fault_proxy=True) as proxied:
        proxied.get("service/boards")
    journal = json.dumps(cwsim.admin().get("requests").json())
    assert "probe" in journal and "/v1/bcdr/device" in journal, "negative control: the requests are journaled"
    secrets = [LOGIN_PASSWORD, DEVICE_PASSWORD, GLOBAL_PASSWORD, cwsim.facts["privateKey"], portal["secretKey"]]
    ours = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("cwsim"))
    assert "service/boards" in ours, "negative control: the requests are logged"
    for secret in secrets:
        assert secret not in journal, secret
        assert secret not in ours, secret


def test_credentials_appear_only_in_the_ready_file_and_the_state(cwsim: Cwsim) -> None:
    secrets = [cwsim.facts["privateKey"], cwsim.facts["integrator"]["password"], cwsim.facts["portal"]["secretKey"]]
    admin = cwsim.admin()
    cwsim.session().get("service/boards")
    state = admin.get("state").text
    assert cwsim.facts["privateKey"] in state and cwsim.facts["integrator"]["password"] in state, "the state has them"
    for path in ("health", "requests", "faults", "clock", "mail", "fleet"):
        response = admin.get(path)
        assert response.status_code == 200, path
        for secret in secrets:
            assert secret not in response.text, (path, secret)
    for path in ("service/boards", "system/integratorlogins", "company/managedDevicesIntegrations", "system/info"):
        for secret in secrets:
            assert secret not in cwsim.session().get(path).text, (path, secret)
