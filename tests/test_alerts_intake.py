"""The alert intake on its own: 202 once stored, a 400 naming each bad field and storing nothing, /status."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cwsim.integration.intake import create_intake_app
from cwsim.integration.outbox import Outbox
from cwsim.integration.settings import IntakeSettings

EVENT: dict[str, Any] = {
    "event": "repeat",
    "eventId": "00012E78D555:9ec6799381b492a2663a43cab4af057d:BAK0013:1767571200:repeat:2",
    "alertKey": "00012E78D555:9ec6799381b492a2663a43cab4af057d:BAK0013",
    "time": "2026-01-05T13:00:00+00:00",
    "serialNumber": "00012E78D555",
    "deviceName": "acme-siris",
    "model": "S5-2",
    "family": "SIRIS",
    "clientCompanyName": "Acme Manufacturing Inc",
    "assetName": "DC01",
    "assetType": "agent",
    "volume": "9ec6799381b492a2663a43cab4af057d",
    "alertType": "backup_failed",
    "code": "BAK0013",
    "label": "Backup failed",
    "category": "agent",
    "severity": "critical",
    "emailList": "critical",
    "dateTriggered": "2026-01-05T00:00:00+00:00",
    "lastSeen": "2026-01-05T13:00:00+00:00",
    "numberSeen": 2,
    "recipients": ["backup-alerts@cwsim.example"],
}
USAGE = {"event": "usage", "time": "2026-01-06T00:00:00+00:00", "serialNumber": "00012E78D555", "plan": "TBR"}


def event(number: int, **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(EVENT), "eventId": f"{EVENT['eventId']}-{number}", **changes}


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


@pytest.fixture
def rings() -> list[int]:
    return []


@pytest.fixture
def client(outbox: Outbox, rings: list[int]) -> FlaskClient:
    settings = IntakeSettings(max_batch=50, max_body_bytes=64 * 1024)
    return create_intake_app(outbox, settings, on_queued=lambda: rings.append(1)).test_client()


def stored(outbox: Outbox) -> int:
    return sum(outbox.stats().states.values())


def test_one_event_is_acknowledged_once_stored(client: FlaskClient, outbox: Outbox, rings: list[int]) -> None:
    response = client.post("/alerts", json=EVENT)
    assert response.status_code == 202
    assert response.json == {"accepted": 1, "new": 1, "duplicates": 0, "ignored": 0}
    (delivery,) = outbox.find(EVENT["alertKey"])
    assert (delivery.event, delivery.occurrence, delivery.payload) == ("repeat", EVENT["eventId"], EVENT)
    assert rings == [1]


def test_a_batch_with_usage_and_a_re_delivery(client: FlaskClient, outbox: Outbox) -> None:
    batch = [event(1), USAGE, event(2), event(1)]
    assert client.post("/alerts", json=batch).json == {"accepted": 3, "new": 2, "duplicates": 1, "ignored": 1}
    assert client.post("/alerts", json=batch).json == {"accepted": 3, "new": 0, "duplicates": 3, "ignored": 1}
    assert stored(outbox) == 2
    status = client.get("/status").json
    assert (status["accepted"], status["duplicates"], status["ignored"], status["depth"]) == (6, 4, 2, 2)
    assert set(status) >= {"states", "delivered", "failed", "held", "skipped", "mail", "lag_seconds", "rejected"}
    assert set(status["lag_seconds"]) == {"p50", "p90", "p95", "p99", "max"}


def test_status_finished_lists_finished_deliveries_after_a_moment(client: FlaskClient, outbox: Outbox) -> None:
    client.post("/alerts", json=[event(1), event(2)])
    (first,) = outbox.claim("w1")  # one alert: its second event waits for the first
    outbox.mark_skipped(first.id, "w1", "nowhere")
    body = client.get("/status/finished", query_string={"after": 0}).json
    assert body["columns"] == ["id", "finished_at", "lag_seconds", "state", "ticket"]
    ((delivery_id, finished_at, lag, state, ticket),) = body["rows"]
    assert (delivery_id, state, ticket) == (first.id, "skipped", False) and lag >= 0
    assert body["now"] >= finished_at
    assert client.get("/status/finished", query_string={"after": finished_at}).json["rows"] == []
    for bad in ({"after": "yesterday"}, {"limit": 0}, {"limit": "x"}, {"after": "nan"}):
        refused = client.get("/status/finished", query_string=bad)
        assert refused.status_code == 400 and refused.json["code"] == "BadRequest"


def test_a_bad_field_anywhere_in_a_batch_is_named_and_nothing_is_stored(client: FlaskClient, outbox: Outbox) -> None:
    batch = [
        event(1),
        event(2, numberSeen="two", recipients=["not an address"]),
        USAGE,
        event(3, category="printer", time="yesterday"),
        "a string",
        {k: v for k, v in event(5).items() if k != "serialNumber"},
    ]
    response = client.post("/alerts", json=batch)
    assert response.status_code == 400
    body = response.json
    assert body["code"] == "InvalidObject" and "nothing was stored" in body["message"]
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("[1].numberSeen", "InvalidField"),
        ("[1].recipients[0]", "InvalidField"),
        ("[3].category", "InvalidField"),
        ("[3].time", "InvalidField"),
        ("[4]", "InvalidField"),
        ("[5].serialNumber", "InvalidField"),
    }
    assert stored(outbox) == 0
    assert client.get("/status").json["rejected"] == 1


def test_a_single_event_names_its_fields_without_an_index(client: FlaskClient) -> None:
    response = client.post("/alerts", json={"event": "explode"})
    fields = {error["field"] for error in response.json["errors"]}
    assert response.status_code == 400
    assert fields == {"event", "eventId", "alertKey", "serialNumber", "category", "dateTriggered"}


LONG = "x" * 400
DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"\xff\xfe\xfa", "application/json", 400),
        (DEEP.encode(), "application/json", 400),
        (b"null", "application/json", 400),
        (b"42", "application/json", 400),
        (b'"raise"', "application/json", 400),
        (b"", "application/json", 400),
        (json.dumps([EVENT] * 51).encode(), "application/json", 400),
        (json.dumps(event(1, eventId=LONG)).encode(), "application/json", 400),
        (json.dumps(event(1, serialNumber="'; DROP TABLE deliveries; --")).encode(), "application/json", 400),
        (json.dumps([event(n) for n in range(40)] + [{"pad": LONG * 200}]).encode(), "application/json", 413),
        (b"event=raise", "application/x-www-form-urlencoded", 415),
        (json.dumps(EVENT).encode(), "text/plain", 415),
    ],
    ids=[
        "malformed",
        "invalid utf-8",
        "deep nesting",
        "null",
        "a number",
        "a string",
        "empty",
        "over the batch limit",
        "a too-long id",
        "sql in the serial",
        "over the size limit",
        "a form",
        "text",
    ],
)
def test_bad_input_is_a_4xx_with_an_error_body_never_a_traceback(
    client: FlaskClient, outbox: Outbox, body: bytes, content_type: str, status: int
) -> None:
    response = client.post("/alerts", data=body, content_type=content_type)
    assert response.status_code == status
    assert set(response.json) == {"code", "message", "errors"} and "Traceback" not in response.get_data(as_text=True)
    assert stored(outbox) == 0


def test_script_and_sql_looking_text_is_stored_verbatim(client: FlaskClient, outbox: Outbox) -> None:
    odd = event(1, assetName="<script>alert(1)</script>", label="'; DROP TABLE deliveries; --")
    assert client.post("/alerts", json=odd).status_code == 202
    assert outbox.find(EVENT["alertKey"])[0].payload == odd


def test_other_paths_and_methods_answer_in_json(client: FlaskClient) -> None:
    assert client.get("/alerts").status_code == 405
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.json["code"] == "NotFound"
    assert client.get("/health").json == {"status": "ok"}
