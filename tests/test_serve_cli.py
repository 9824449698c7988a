"""`cwsim serve` as a user runs it: ready file, printed facts, clean shutdown, clear errors."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from cwsim.scenarios.processes import ProcessFailed, cwsim_command, start


@pytest.fixture
def served(tmp_path: Path):
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


def test_it_prints_the_same_facts_in_one_readable_block(served) -> None:
    served.stop()
    printed = served.log()
    for fact in (served.facts["url"], served.facts["api_url"], "cwsim-public", "cwsim-private", "dattoCW"):
        assert fact in printed


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_it_shuts_down_cleanly_on_sigint_and_sigterm(tmp_path: Path, sent: signal.Signals) -> None:
    process = start(
        "cwsim", cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--companies", "3"), workdir=tmp_path
    )
    process.process.send_signal(sent)
    assert process.process.wait(timeout=15) == 0
    assert "stopped" in process.log()
    assert "Traceback" not in process.log()


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
