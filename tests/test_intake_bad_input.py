"""The bad-input table against the integration's alert intake, served by waitress as `run` serves it:
every bad body gets a clean JSON error and stores nothing; odd strings are stored verbatim."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import waitress.server
from waitress import wasyncore

from cwsim.integration.intake import create_intake_app
from cwsim.integration.outbox import Outbox
from cwsim.integration.settings import IntakeSettings

from .bad_input import JSON, VERBATIM_STRINGS, BadInput, json_body_cases
from .test_alerts_intake import event

BODY_LIMIT = 1024 * 1024
ERROR_KEYS = {"code", "message", "errors"}


@dataclass
class Intake:
    url: str
    outbox: Outbox


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[Intake]:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    app = create_intake_app(outbox, IntakeSettings(max_body_bytes=BODY_LIMIT))
    server = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=2)
    stopping = threading.Event()

    def serve() -> None:  # the loop IntegrationService serves with, so it can stop between rounds
        while not stopping.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, count=1)
        for channel in list(server._map.values()):
            channel.close()
        server.task_dispatcher.shutdown()

    serving = threading.Thread(target=serve, daemon=True)
    serving.start()
    try:
        yield Intake(f"http://127.0.0.1:{server.effective_port}", outbox)
    finally:
        stopping.set()
        serving.join(timeout=10)
        outbox.close()


def post(intake: Intake, body: bytes | None, headers: dict[str, str]) -> requests.Response:
    return requests.post(intake.url + "/alerts", data=body, headers=headers, timeout=30)


@pytest.mark.parametrize("case", json_body_cases(BODY_LIMIT), ids=str)
def test_bad_bodies_get_a_json_error_and_store_nothing(intake: Intake, case: BadInput) -> None:
    response = post(intake, case.body, case.headers)
    assert response.status_code == case.expected, response.text[:300]
    body = response.json()
    assert set(body) == ERROR_KEYS and body["message"] and "Traceback" not in response.text, body
    assert sum(intake.outbox.stats().states.values()) == 0


def test_negative_control_a_good_event_is_stored(intake: Intake) -> None:
    response = requests.post(intake.url + "/alerts", json=event(1), timeout=30)
    assert response.status_code == 202 and response.json()["new"] == 1
    assert sum(intake.outbox.stats().states.values()) == 1


@pytest.mark.parametrize("text", VERBATIM_STRINGS)
def test_script_and_sql_looking_strings_are_stored_verbatim(intake: Intake, text: str) -> None:
    sent = event(2, deviceName=text, assetName=text)
    response = requests.post(intake.url + "/alerts", json=sent, timeout=30)
    assert response.status_code == 202, response.text
    [stored] = intake.outbox.find(sent["alertKey"])
    assert stored.payload["deviceName"] == text and stored.payload["assetName"] == text


def test_a_wrong_method_and_an_unknown_path_get_json_errors(intake: Intake) -> None:
    for method, path, expected in (("GET", "/alerts", 405), ("POST", "/nowhere", 404), ("DELETE", "/status", 405)):
        response = requests.request(method, intake.url + path, data=b"{}", headers=JSON, timeout=30)
        assert response.status_code == expected and set(response.json()) == ERROR_KEYS, response.text
