"""`run`'s intake in a process of its own (granian) beside waitress in the run process: both take alerts the same
way; the intake process carries the token, goes when `run` is killed, and takes `run` down when it dies itself."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import psutil
import pytest
import requests

from cwsim.integration import intake_process
from cwsim.scenarios.integration_process import integration_command, write_settings
from cwsim.scenarios.processes import ManagedProcess, start
from cwsim.simulator.pytest_plugin import Cwsim
from cwsim.simulator.testing import wait_until

from .test_alerts_intake import event

TOKEN = "intake-process-token-for-tests"
OWN_RUN = {"device_route": "both", "agent_route": "both", "close_on_clear": False, "workers": 1, "settings": {}}


def run(cwsim: Cwsim, tmp_path: Path, server: str, token: str = "") -> ManagedProcess:
    settings = write_settings(tmp_path / "integration.yaml", cwsim.facts, tmp_path / "state", OWN_RUN)
    command = integration_command("--settings", str(settings), "run", "--intake-server", server)
    return start("integration", command, workdir=tmp_path, env={"CWSIM_INTAKE_TOKEN": token})


def intake_processes(integration: ManagedProcess) -> list[psutil.Process]:
    return psutil.Process(integration.process.pid).children(recursive=True)


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_each_intake_server_acknowledges_stores_once_and_reports(cwsim: Cwsim, tmp_path: Path, server: str) -> None:
    integration = run(cwsim, tmp_path, server)
    try:
        intake = integration.facts["intake_url"]
        first = requests.post(intake, json=[event(1), event(2)], timeout=10)
        again = requests.post(intake, json=event(1), timeout=10)
        bad = requests.post(intake, json={"alertKey": "k"}, timeout=10)
        assert (first.status_code, first.json()["new"]) == (202, 2)
        assert (again.status_code, again.json()["duplicates"]) == (202, 1)
        assert bad.status_code == 400 and bad.json()["code"] == "InvalidObject"
        status = requests.get(integration.facts["status_url"], params={"fresh": "1"}, timeout=10).json()
        assert (status["accepted"], status["duplicates"], status["rejected"]) == (3, 1, 1)
        assert status["depth"] == 2 and status["workers"] == 1  # the devices are not onboarded: held, not lost
        # The intake is its own process with granian, the run process's own threads with waitress.
        children = intake_processes(integration)
        assert bool(children) is (server == "granian")
    finally:
        assert integration.stop() == 0
    assert not any(alive(child) for child in children)  # a clean stop takes the intake process with it


def test_the_token_reaches_the_intake_process_and_never_its_command_line(cwsim: Cwsim, tmp_path: Path) -> None:
    integration = run(cwsim, tmp_path, "granian", token=TOKEN)
    try:
        status = integration.facts["status_url"]
        assert requests.get(status, timeout=10).status_code == 401
        assert requests.get(status, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).status_code == 200
        for child in intake_processes(integration):
            assert TOKEN not in " ".join(child.cmdline())
    finally:
        integration.stop()


def test_kill_9_of_run_takes_its_intake_process_with_it(cwsim: Cwsim, tmp_path: Path) -> None:
    integration = run(cwsim, tmp_path, "granian")
    children = intake_processes(integration)
    assert len(children) == 2  # granian's main process and its worker
    integration.process.kill()  # SIGKILL: run cleans nothing up
    integration.process.wait(10)
    wait_until(lambda: not any(alive(child) for child in children), what="the intake process and its worker to stop")
    with pytest.raises(requests.ConnectionError):
        requests.get(integration.facts["health_url"], timeout=5)


def test_run_stops_with_an_error_when_its_intake_process_dies(cwsim: Cwsim, tmp_path: Path) -> None:
    integration = run(cwsim, tmp_path, "granian")
    try:
        top = next(child for child in intake_processes(integration) if child.ppid() == integration.process.pid)
        os.kill(top.pid, signal.SIGKILL)
        assert integration.process.wait(60) == 1
        assert "the intake process stopped by itself" in integration.log()
    finally:
        integration.stop()


def test_a_full_doorbell_pipe_never_blocks_the_intake_and_every_read_rings(tmp_path: Path) -> None:
    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    ring = intake_process._ringer(writer)
    for _ in range(200_000):  # far beyond a pipe's buffer: the intake must never wait on the workers
        ring()
    os.close(writer)
    rings = 0
    with os.fdopen(reader, "rb", buffering=0) as pipe:
        while chunk := pipe.read(4096):
            rings += len(chunk)
    assert 0 < rings < 200_000  # the pipe took what it could hold; the rest were dropped, not waited for
    assert sys.platform != "linux" or rings >= 4096
