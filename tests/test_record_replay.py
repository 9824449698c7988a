"""`cwsim record` and `cwsim serve --replay`: a second `cwsim serve` plays the real ConnectWise; the replay
answers byte for byte what was recorded, and no secret reaches the file."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from cwsim.scenarios.processes import cwsim_command, start
from cwsim.simulator import recording
from cwsim.simulator.pytest_plugin import basic_auth
from cwsim.simulator.recording import (
    RecordingFileError,
    exchange,
    load_replay,
    recorded_body,
    replay_stubs,
    write_recording,
)
from cwsim.simulator.stubs import StubBook, StubRequest

API = "/v4_6_release/apis/3.0"
TIMEOUT = 60


def secrets_in(text: str, secrets: list[str]) -> list[str]:
    """The secrets that appear in `text` (give a Basic credential whole: its base64 holds the key)."""
    return [secret for secret in secrets if secret in text]


def credential(authorization: str) -> str:
    """The base64 part of a Basic Authorization header, checked to hold the key it should."""
    encoded = authorization.split(" ", 1)[1]
    assert ":" in base64.b64decode(encoded).decode()
    return encoded


def conversation(base: str, headers: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """What the client asks, in order: reads, paging, a write, a repeated read that changes, a 404, a secret."""
    return [
        ("GET", f"{base}{API}/service/boards", {}),
        ("GET", f"{base}{API}/company/companies", {"params": {"pageSize": "2", "page": "2"}}),
        ("GET", f"{base}{API}/company/companies", {"params": {"pageSize": "2", "conditions": 'name like "A%"'}}),
        ("GET", f"{base}{API}/service/tickets/count", {}),
        ("POST", f"{base}{API}/service/tickets", {"json": {"summary": "Backup failed", "company": {"id": 1}}}),
        ("GET", f"{base}{API}/service/tickets/count", {}),
        ("GET", f"{base}{API}/service/tickets/999999", {}),
        ("POST", f"{base}{API}/system/nowhere", {"json": {"name": "x", "password": "hunter2-secret"}}),
        ("GET", f"{base}/login/companyinfo/cwsim", {}),
    ]


def ask(base: str, headers: dict[str, str]) -> list[requests.Response]:
    answers = []
    for method, url, extra in conversation(base, headers):
        answers.append(requests.request(method, url, headers=headers, timeout=TIMEOUT, **extra))
    return answers


@pytest.mark.slow
def test_record_then_replay_reproduces_every_answer_byte_for_byte_and_keeps_no_secret(tmp_path: Path) -> None:
    upstream = start(
        "upstream",
        cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--companies", "6", "--server", "waitress"),
        workdir=tmp_path / "upstream",
    )
    try:
        facts = upstream.facts
        headers = {
            "Authorization": basic_auth(facts["companyId"], facts["publicKey"], facts["privateKey"]),
            "clientId": "record-test",
        }
        out = tmp_path / "recorded.yaml"
        recorder = start("record", cwsim_command("record", "--upstream", facts["url"], "--out", str(out)), tmp_path)
        try:
            recorded = ask(recorder.facts["url"], headers)
        finally:
            assert recorder.stop() == 0, recorder.log()
        assert "9 exchanges written" in recorder.log()
    finally:
        upstream.stop()

    assert [answer.status_code for answer in recorded][:7] == [200, 200, 200, 200, 201, 200, 404]
    assert recorded[3].json() != recorded[5].json(), "the repeated count changed between its two askings"
    text = out.read_text()
    assert secrets_in(text, [facts["privateKey"], credential(headers["Authorization"]), "hunter2-secret"]) == []
    assert "Basic ***" in text
    assert secrets_in(text, ["record-test"]) == ["record-test"], "the scan finds what is there (the clientId)"

    # "The real one" is gone; the replay server has another tenant, and its own keys (granian, the default server).
    replay = start(
        "replay",
        cwsim_command(
            "serve", "--port", "0", "--smtp-port", "0", "--seed", "9", "--companies", "2", "--replay", str(out)
        ),
        workdir=tmp_path / "replay",
    )
    try:
        assert replay.facts["server"] == "granian"
        replayed = ask(replay.facts["url"], headers)
        journal = requests.get(f"{replay.facts['url']}/_sim/requests", timeout=TIMEOUT).json()
        again = requests.get(f"{replay.facts['url']}{API}/service/tickets/count", timeout=TIMEOUT)
        pinned = {"match": {"path": "/added/on/granian"}, "respond": {"status": 418, "json": "added"}}
        added = requests.post(f"{replay.facts['url']}/_sim/stubs", json=pinned, timeout=TIMEOUT)
        answered = requests.get(f"{replay.facts['url']}/added/on/granian", timeout=TIMEOUT)
    finally:
        replay.stop()
    for before, after in zip(recorded, replayed, strict=True):
        assert (after.status_code, after.content) == (before.status_code, before.content), before.url
        assert after.headers.get("Link") == before.headers.get("Link")
        assert after.headers.get("Content-Type") == before.headers.get("Content-Type")
    assert all("stub" in entry for entry in journal), "every answer came from a replayed stub"
    assert again.content == recorded[5].content, "past the recorded answers, the last one stays"
    assert added.status_code == 201 and (answered.status_code, answered.json()) == (418, "added"), "stubs on granian"


@pytest.mark.slow
@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_the_recorder_stops_cleanly_on_a_signal_and_a_dead_upstream_is_a_502_not_recorded(
    tmp_path: Path, sent: signal.Signals
) -> None:
    with socket.socket() as closed:  # a port nothing listens on once this block ends
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    out = tmp_path / "recorded.json"
    recorder = start("record", cwsim_command("record", "--upstream", dead, "--out", str(out)), tmp_path)
    try:
        answer = requests.get(f"{recorder.facts['url']}{API}/service/boards", timeout=TIMEOUT)
        assert answer.status_code == 502 and answer.json()["code"] == "BadGateway"
        recorder.process.send_signal(sent)
        assert recorder.process.wait(TIMEOUT) == 0, recorder.log()
    finally:
        recorder.stop()
    document = json.loads(out.read_text())
    assert document["exchanges"] == [] and document["recording"]["upstream"] == dead
    assert "Traceback" not in recorder.log()


def test_the_secret_scan_catches_an_unmasked_recording(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: with masking off, the same exchange puts the key and the password in the file."""
    authorization = basic_auth("cwsim", "cwsim-public", "cwsim-private")

    def recorded_text() -> str:
        found = exchange(
            "POST",
            "/x",
            [("token", "query-secret")],
            [("Authorization", authorization), ("X-Api-Key", "header-secret"), ("clientId", "c")],
            json.dumps({"user": {"password": "body-secret"}}).encode(),
            200,
            [("Set-Cookie", "session=cookie-secret")],
            b'{"privateKey":"answer-secret"}',
        )
        return yaml.safe_dump(found)

    secrets = [credential(authorization), "query-secret", "header-secret", "body-secret", "cookie-secret"]
    secrets.append("answer-secret")
    text = recorded_text()
    assert secrets_in(text, secrets) == []
    assert "clientId: c" in text, "what is not a secret stays"
    monkeypatch.setattr(recording, "looks_secret", lambda name: False)
    assert secrets_in(recorded_text(), secrets) == secrets


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (b'{"a":1,"b":[true,null]}', {"json": {"a": 1, "b": [True, None]}}),
        (b'{"a": 1}', {"body": '{"a": 1}'}),  # spaces: compact JSON would not give these bytes back
        (b'{"price":1.50}', {"body": '{"price":1.50}'}),
        (b'{"n":123456789012345678901234}', {"body": '{"n":123456789012345678901234}'}),
        (b"<html>oops</html>", {"body": "<html>oops</html>"}),
        (b"", {}),
    ],
)
def test_a_body_is_kept_as_json_only_when_that_gives_back_its_bytes(raw: bytes, kept: dict[str, Any]) -> None:
    assert recorded_body(raw) == kept


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_replayed_body_is_the_recorded_bytes_and_the_check_that_keeps_it_so_matters(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = b'{"price": 1.50, "name": "caf\xc3\xa9"}'
    compact = b'{"price":2,"name":"caf\xc3\xa9","when":"2026-01-31","n":null}'

    def replayed(body: bytes) -> bytes:
        path = tmp_path / f"recorded{suffix}"
        write_recording(path, "http://upstream", "now", [exchange("GET", "/x", [], [], b"", 200, [], body)])
        (stub,) = load_replay(path)
        return stub.respond.content()

    assert replayed(raw) == raw
    assert replayed(compact) == compact, "kept as json, through the file, the same bytes"
    # Negative control: kept as parsed JSON whatever its bytes, the replay would answer other bytes.
    monkeypatch.setattr(recording, "recorded_body", lambda body: {"json": json.loads(body)} if body else {})
    assert replayed(raw) == b'{"price":1.5,"name":"caf\xc3\xa9"}' != raw


def replay_answers(exchanges: list[dict[str, Any]], asked: list[tuple[str, str, str, bytes]]) -> list[Any]:
    book = StubBook()
    book.add(replay_stubs(exchanges))
    answers = []
    for method, path, query, body in asked:
        pairs = [tuple(pair.split("=", 1)) for pair in query.split("&") if pair]
        stub = book.answer_for(StubRequest(method, path, pairs, {}, lambda body=body: body))
        answers.append(None if stub is None else stub.spec.respond.json)
    return answers


def recorded(method: str, path: str, answer: Any, query: dict[str, Any] | None = None, **request: Any) -> dict:
    return {"request": {"method": method, "path": path, "query": query or {}, **request}, "response": {"json": answer}}


def test_replay_answers_each_request_with_its_own_recorded_answers_in_order() -> None:
    exchanges = [
        recorded("GET", "/count", 0),
        recorded("GET", "/count", 0, {"page": "2"}),
        recorded("POST", "/tickets", "made", json={"summary": "x"}),
        recorded("GET", "/count", 1),
        recorded("PATCH", "/tickets/1", "patched", json=[{"op": "replace", "path": "summary", "value": "y"}]),
    ]
    for exchange_ in exchanges:
        exchange_["response"]["status"] = 200
    asked = [
        ("GET", "/count", "", b""),
        ("GET", "/count", "page=2", b""),
        ("POST", "/tickets", "", b'{"summary":"x"}'),
        ("POST", "/tickets", "", b'{"summary":"x","board":{"id":1}}'),
        ("GET", "/count", "", b""),
        ("GET", "/count", "", b""),
        ("GET", "/count", "page=3", b""),
        ("PATCH", "/tickets/1", "", b'[{"op":"replace","path":"summary","value":"y"}]'),
    ]
    assert replay_answers(exchanges, asked) == [0, 0, "made", None, 1, 1, None, "patched"]


def test_a_masked_field_does_not_stop_a_replay_from_matching() -> None:
    exchanges = [recorded("POST", "/login", "in", json={"user": "a", "password": "***"}, query={"token": "***"})]
    exchanges[0]["response"]["status"] = 200
    asked = [
        ("POST", "/login", "token=real", b'{"user":"a","password":"real"}'),
        ("POST", "/login", "", b'{"user":"b"}'),
    ]
    assert replay_answers(exchanges, asked) == ["in", None]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "expected a mapping with a list of exchanges"),
        ("exchanges: [1]", "exchange 1: expected a mapping with request and response"),
        ("exchanges: [{request: {method: GET}, response: {}}]", "exchange 1: request needs a method and a path"),
        (
            "exchanges: [{request: {method: GET, path: /x}, response: {status: 99}}]",
            "exchange 1: response.status: Must be greater than or equal to 200",
        ),
        ("exchanges: [{request: {method: GET, path: x}, response: {}}]", "exchange 1: request.path: A path glob"),
        ("exchanges: {", "not valid YAML"),
    ],
)
def test_a_bad_recording_is_one_line_naming_the_exchange_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RecordingFileError) as caught:
        load_replay(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(path))


@pytest.mark.slow  # each case runs the cwsim command
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["record", "--upstream", "ftp://x", "--out", "r.yaml"], "argument --upstream: must be an http:// or https://"),
        (["record", "--upstream", "http://127.0.0.1:9", "--out", "r.yaml", "--port", "70000"], "argument --port"),
        (
            ["record", "--upstream", "http://127.0.0.1:9", "--out", "/no/such/folder/r.yaml"],
            "no folder /no/such/folder",
        ),
        (
            ["serve", "--replay", "/no/such/recording.yaml"],
            "cwsim serve: --replay /no/such/recording.yaml: cannot read",
        ),
    ],
)
def test_bad_input_is_one_line_not_a_traceback(arguments: list[str], message: str) -> None:
    result = subprocess.run(cwsim_command(*arguments), capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_client_s_spaced_json_body_is_matched_on_replay_whatever_order_it_comes_in() -> None:
    """requests' `json=` and json.dumps write `{"summary": "a"}` with spaces: replay must still tell bodies apart."""
    bodies = [json.dumps({"summary": "a"}).encode(), json.dumps({"summary": "b"}).encode()]
    exchanges = [
        exchange("POST", "/tickets", [], [], body, 201, [("Content-Type", "application/json")], answer)
        for body, answer in zip(bodies, [b'"made a"', b'"made b"'], strict=True)
    ]
    assert all("json" in found["request"] for found in exchanges)
    asked = [("POST", "/tickets", "", b'{"summary":"b"}'), ("POST", "/tickets", "", b'{"summary":"a"}')]
    assert replay_answers(exchanges, asked) == ["made b", "made a"]
    # Negative control: bodies kept as text (the old rule for requests) answer in recorded order instead.
    as_text = [{**found, "request": {**found["request"], "body": "x"}} for found in exchanges]
    for found in as_text:
        del found["request"]["json"]
    assert replay_answers(as_text, asked) == ["made a", "made b"]


def test_a_password_sent_in_a_json_patch_or_a_form_is_masked() -> None:
    patch = json.dumps([{"op": "replace", "path": "password", "value": "patch-secret"}]).encode()
    form = b"username=dattoCW&password=form-secret"
    found = [exchange("PATCH", "/system/members/1", [], [], body, 200, [], b"{}") for body in (patch, form)]
    text = yaml.safe_dump(found)
    assert "patch-secret" not in text and "form-secret" not in text
    assert found[0]["request"]["json"] == [{"op": "replace", "path": "password", "value": "***"}]
    assert "username=dattoCW" in found[1]["request"]["body"]
    summary = exchange("PATCH", "/t/1", [], [], b'[{"op":"replace","path":"summary","value":"kept"}]', 200, [], b"{}")
    assert summary["request"]["json"][0]["value"] == "kept"  # control: only a secret path's value is masked
