"""verify against real-shaped answers: django-connectwise's fixtures (copies of real ConnectWise responses)
replayed by `cwsim serve --replay` stand in for the real ConnectWise, the generated fake is the other side.

The replay file is made by tests/djcw/fixture_replay.py (docs/stubs.md says how).
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cwsim.scenarios.cli import main
from cwsim.scenarios.processes import ManagedProcess, cwsim_command, start
from cwsim.simulator.recording import load_replay, read_recording
from tests.djcw import fixture_replay

REPLAY = Path(__file__).parent / "djcw" / "fixtures-replay.json"
CLIENT_ID = "djcw-fixture-replay"
# The fixtures file in the django-connectwise venv test_django_connectwise.py builds, when it is there.
CACHED_FIXTURES = "~/.cache/cwsim/django-connectwise-*/lib/python3*/site-packages/djconnectwise/tests/fixtures.py"


def test_the_replay_file_holds_a_stub_for_each_request_verify_makes_and_is_small() -> None:
    exchanges = read_recording(REPLAY)
    assert len(load_replay(REPLAY)) == len(exchanges)
    requested = {(item["request"]["path"], json.dumps(item["request"].get("query", {}))) for item in exchanges}
    assert len(requested) == len(exchanges)  # each request once: no answer shadows another
    assert ("/v2017_3/apis/3.0/service/tickets", '{"pageSize": "25"}') in requested
    assert ("/v2017_3/apis/3.0/service/boards", '{"pageSize": "1", "orderBy": "id asc"}') in requested
    assert REPLAY.stat().st_size < 300_000


@pytest.mark.parametrize("statement", ["X = len(Y)", "X = open('f')", "X = Y.keys()", "X = {**Y}"])
def test_the_fixture_reader_runs_nothing_and_leaves_out_what_is_not_data(tmp_path: Path, statement: str) -> None:
    source = tmp_path / "fixtures.py"
    source.write_text(
        f"from django.conf import settings\nY = {{'a': [1, -2.5, None]}}\nZ = Y['a'] + [3]\n{statement}\n"
    )
    assert fixture_replay.read_fixtures(source) == {"Y": {"a": [1, -2.5, None]}, "Z": [1, -2.5, None, 3]}


@pytest.mark.skipif(not glob.glob(str(Path(CACHED_FIXTURES).expanduser())), reason="no django-connectwise venv")
def test_the_committed_replay_is_what_the_generator_makes_of_the_pinned_fixtures(tmp_path: Path) -> None:
    source = Path(sorted(glob.glob(str(Path(CACHED_FIXTURES).expanduser())))[-1])
    out = tmp_path / "replay.json"
    assert fixture_replay.main([str(source), str(out)]) == 0
    assert out.read_text() == REPLAY.read_text()


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ManagedProcess, ManagedProcess]]:
    """(the fixtures replayed as "the real ConnectWise", a generated fake with one ticket)."""
    workdir = tmp_path_factory.mktemp("djcw-replay")
    serve = ("serve", "--port", "0", "--smtp-port", "0")
    site = start("fixtures", cwsim_command(*serve, "--replay", str(REPLAY)), workdir=workdir)
    try:
        fake = start("fake", cwsim_command(*serve, "--companies", "3"), workdir=workdir)
        try:
            # The generated tenant has no service ticket; one made through the API gives verify a record to compare.
            made = requests.post(
                f"{fake.facts['api_url']}/service/tickets",
                json={"summary": "Printer offline", "company": {"id": 1}, "board": {"id": 1}},
                auth=(f"{fake.facts['companyId']}+{fake.facts['publicKey']}", fake.facts["privateKey"]),
                headers={"clientId": CLIENT_ID},
                timeout=30,
            )
            assert made.status_code == 201, made.text
            yield site, fake
        finally:
            fake.stop()
    finally:
        site.stop()


def run_verify(sides: tuple[ManagedProcess, ManagedProcess], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    site, fake = sides
    keys = ["--public-key", fake.facts["publicKey"], "--private-key", fake.facts["privateKey"]]
    fake_keys = ["--fake-public-key", fake.facts["publicKey"], "--fake-private-key", fake.facts["privateKey"]]
    arguments = ["verify", "--site", site.facts["url"], "--company", fake.facts["companyId"], "--fake"]
    arguments += [fake.facts["url"], *keys, *fake_keys, "--client-id", CLIENT_ID, "--json", "-"]
    for endpoint in fixture_replay.FIXTURE_LISTS:
        arguments += ["--only", endpoint]
    assert main(arguments) == 1  # something differs
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    report["text"] = captured.err
    return report


def journal(site: ManagedProcess) -> list[dict[str, Any]]:
    response = requests.get(f"{site.facts['url']}/_sim/requests", params={"limit": 1000}, timeout=30)
    assert response.status_code == 200
    return response.json()


def replayed_answer(path: str) -> Any:
    """What the replay file answers verify's GET of a list path."""
    for item in read_recording(REPLAY):
        if item["request"]["path"] == path and item["request"].get("query") == {"pageSize": "25"}:
            return item["response"]["json"]
    raise AssertionError(f"{path} is not in {REPLAY.name}")


def fake_tickets(fake: ManagedProcess) -> list[dict[str, Any]]:
    response = requests.get(
        f"{fake.facts['api_url']}/service/tickets",
        params={"pageSize": 25},
        auth=(f"{fake.facts['companyId']}+{fake.facts['publicKey']}", fake.facts["privateKey"]),
        headers={"clientId": CLIENT_ID},
        timeout=30,
    )
    assert response.status_code == 200
    return response.json()


@pytest.mark.slow  # two servers, then 61 endpoints on each
def test_verify_against_the_replayed_fixtures_names_the_real_fields_the_fake_lacks(
    sides: tuple[ManagedProcess, ManagedProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    site, fake = sides
    requests.post(f"{site.facts['url']}/_sim/reset", timeout=30)  # an empty journal
    report = run_verify(sides, capsys)
    assert report["probed"] == len(fixture_replay.FIXTURE_LISTS)
    assert report["site"].endswith("/v2017_3/apis/3.0/")  # the fixtures' companyinfo chose the codebase

    # Every request verify sent "the real ConnectWise" was answered by a fixture, none by the fake beneath.
    api_calls = [entry for entry in journal(site) if not entry["path"].startswith("/_sim")]
    assert len(api_calls) > len(fixture_replay.FIXTURE_LISTS)
    assert [entry["path"] for entry in api_calls if not entry.get("stub")] == []

    # service/tickets: exactly the top-level fields of the real ticket the fake's ticket does not have.
    real_ticket = replayed_answer("/v2017_3/apis/3.0/service/tickets")[0]
    expected = set(real_ticket) - {name for ticket in fake_tickets(fake) for name in ticket}
    tickets = [d for d in report["differences"] if d["endpoint"] == "service/tickets"]
    missing = {d["field"] for d in tickets if d["kind"] == "missing-field" and "/" not in d["field"]}
    assert missing == expected and "contactEmailAddress" in missing
    assert "service/tickets\n" in report["text"] and "contactEmailAddress: the site sends it" in report["text"]


@pytest.mark.slow
def test_negative_control_a_request_verify_does_not_make_is_not_answered_by_the_fixtures(
    sides: tuple[ManagedProcess, ManagedProcess],
) -> None:
    """Replayed stubs are strict: another page size falls through to the fake, so the journal check above bites."""
    site, _ = sides
    requests.post(f"{site.facts['url']}/_sim/reset", timeout=30)
    requests.get(f"{site.facts['url']}/v2017_3/apis/3.0/service/tickets", params={"pageSize": 10}, timeout=30)
    requests.get(f"{site.facts['url']}/v2017_3/apis/3.0/service/tickets", params={"pageSize": 25}, timeout=30)
    stubs = [entry.get("stub") for entry in journal(site) if not entry["path"].startswith("/_sim")]
    assert len(stubs) == 2 and stubs[0] is None and stubs[1]


def test_endpoints_lists_the_covered_list_paths_for_verifys_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert fixture_replay.main(["--endpoints"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == list(fixture_replay.FIXTURE_LISTS) and "service/tickets" in listed
