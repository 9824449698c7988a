"""django-connectwise (pinned, unmodified, in its own Python 3.12+ venv) syncs from the fake: a ratchet.

Every `cwsync` step runs against the plugin's `cwsim serve` (the default tenant, plus a few tickets
with notes made through the API as a user's would be). A step outside KNOWN_GAPS must succeed and
create at least one record; a step in KNOWN_GAPS must still fail or create nothing, so when the fake
closes a gap the test says to remove its line. The same holds for the library's ticket create,
update and close path and KNOWN_TICKET_PATH_GAPS. The venv and its migrated SQLite database are
built once per machine and cached (see tests/djcwkit.py; why SQLite: tests/djcw/settings.py).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from cwsim.simulator.pytest_plugin import Cwsim

from .djcwkit import (
    REQUIREMENTS,
    Harness,
    StepResult,
    ensure_harness,
    find_python,
    interpreter_candidates,
    parse_step,
    parse_steps,
    pins,
    ratchet_problems,
    stale_reasons,
)

# The steps that do not sync, each with what the fake lacks (read from the step's error and from
# djconnectwise/sync.py); none today: every step stores at least one record. A step that stops syncing
# goes back here with its reason, worded like these so stale_reasons can check the unserved ones.
# Remove a line when the fake serves it: the test fails until you do.
EMPTY = "{} is served, but the default tenant holds none"
NOT_SERVED = "GET {} is not served by the fake (NotImplementedByFake, which the library reads as 404)"
KNOWN_GAPS: dict[str, str] = {}

# Stages of the ticket path that fail today, with the reason (none since the fake's tickets carry
# customerUpdatedFlag); each stage's request reaches the fake, whose record the test checks either way.
KNOWN_TICKET_PATH_GAPS: dict[str, str] = {}

TICKETS = 3


@pytest.fixture(scope="module")
def harness() -> Harness:
    python = find_python()
    if python is None:
        message = (
            "django-connectwise needs Python 3.12 or newer and none of these runs: "
            + ", ".join(interpreter_candidates() or ["(no candidates)"])
            + " (install one, e.g. `pyenv install 3.12`)"
        )
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return ensure_harness(python)


def seed_tickets(cwsim: Cwsim) -> list[int]:
    """A few tickets, each with its initial description and one more note, as a user's tenant has."""
    api = cwsim.session()
    board = api.get("service/boards", params={"orderBy": "id asc"}).json()[0]
    companies = api.get("company/companies", params={"orderBy": "id asc", "pageSize": TICKETS}).json()
    ids = []
    for number, company in enumerate(companies, start=1):
        ticket = api.post(
            "service/tickets",
            json={
                "summary": f"Harness ticket {number}",
                "board": {"id": board["id"]},
                "company": {"id": company["id"]},
                "initialDescription": f"Seeded for the django-connectwise harness ({number}).",
            },
        )
        ticket.raise_for_status()
        ids.append(ticket.json()["id"])
        note = {"text": f"Follow-up {number}", "detailDescriptionFlag": True}
        api.post(f"service/tickets/{ids[-1]}/notes", json=note).raise_for_status()
    return ids


def sync(harness: Harness, cwsim: Cwsim, database: Path, steps: list[str]) -> list[StepResult]:
    run = harness.run("sync_steps.py", steps, database, cwsim.facts)
    assert run.returncode == 0, run.stderr[-4000:]
    return parse_steps(run.stdout)


@pytest.mark.slow
def test_every_cwsync_step_syncs_or_is_a_known_gap(harness: Harness, cwsim: Cwsim, tmp_path: Path) -> None:
    seed_tickets(cwsim)
    results = sync(harness, cwsim, harness.fresh_database(tmp_path), [])
    report = "\n".join(result.describe() for result in results)
    print(report)
    assert len(results) > 50, report
    assert ratchet_problems(results, KNOWN_GAPS) == [], report
    assert stale_reasons(results, KNOWN_GAPS) == [], report
    # Negative controls on the same results: forgetting any one known gap breaks the ratchet, and so does
    # any step that stored nothing or failed.
    for step in KNOWN_GAPS:
        assert ratchet_problems(results, {name: why for name, why in KNOWN_GAPS.items() if name != step})
    for index, result in enumerate(results):
        if result.step not in KNOWN_GAPS:
            for broken in (StepResult(result.step, created=0), StepResult(result.step, error="Resource not found")):
                assert ratchet_problems([*results[:index], broken, *results[index + 1 :]], KNOWN_GAPS), broken


@pytest.mark.slow
def test_its_ticket_create_update_and_close_path(harness: Harness, cwsim: Cwsim, tmp_path: Path) -> None:
    database = harness.fresh_database(tmp_path)
    needed = sync(harness, cwsim, database, ["member", "board", "board_status", "company"])
    assert all(result.synced for result in needed), [result.describe() for result in needed]
    run = harness.run("ticket_path.py", [], database, cwsim.facts)
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=1))
    assert report["board_id"] and report["company_id"] and report["closed_status_id"], report
    stages = {stage["stage"]: stage["error"] for stage in report["stages"]}
    for name in ("create", "update", "close"):
        if name in KNOWN_TICKET_PATH_GAPS:
            assert stages.get(name, "not reached") is not None, f"{name} works now: remove it from the known gaps"
        else:
            assert name in stages and stages[name] is None, report
    # What reached the fake, whatever the library made of the answers.
    assert report["ticket_id"] is not None, report
    ticket = cwsim.session().get(f"service/tickets/{report['ticket_id']}").json()
    assert ticket["company"]["id"] == report["company_id"] and ticket["board"]["id"] == report["board_id"]
    assert ticket["summary"] == "harness ticket, updated"
    assert ticket["status"]["id"] == report["closed_status_id"] and ticket["closedFlag"] is True
    if "close" not in KNOWN_TICKET_PATH_GAPS:
        assert report["stored_closed_flag"] is True


@pytest.mark.slow
def test_the_harness_reports_a_step_the_fake_fails(harness: Harness, cwsim: Cwsim, tmp_path: Path) -> None:
    rule = {"collection": "service/boards", "effect": {"kind": "status", "status": 400, "message": "harness fault"}}
    cwsim.admin().post("faults", json=rule).raise_for_status()
    results = sync(harness, cwsim, harness.fresh_database(tmp_path), ["board"])
    assert [result.step for result in results] == ["board"]
    assert results[0].error is not None and "harness fault" in results[0].error
    assert ratchet_problems(results, {}) == [results[0].describe()]
    assert ratchet_problems(results, {"board": "boards answer 400 here"}) == []


# Units of the harness: no venv needed.


def record(step: str, stdout: str = "", stderr: str = "", crash: str | None = None, warnings=()) -> dict:
    return {"step": step, "stdout": stdout, "stderr": stderr, "crash": crash, "warnings": list(warnings)}


def test_a_step_is_read_from_its_summary_its_failure_or_its_crash() -> None:
    synced = parse_step(record("board", "Board Sync Summary - Created: 2, Updated: 0, Skipped: 0\n"))
    assert (synced.created, synced.error, synced.synced) == (2, None, True)
    empty = parse_step(record("ticket", "Ticket Sync Summary - Created: 0, Updated: 0, Skipped: 0\n", warnings=["w"]))
    assert (empty.created, empty.synced) == (0, False) and "warnings: w" in empty.describe()
    failed = parse_step(record("priority", stderr="Failed to sync Priority: Resource not found: http://x/priorities\n"))
    assert failed.error == "Resource not found: http://x/priorities" and not failed.synced
    crashed = parse_step(record("team", crash="Traceback ...\nKeyError: 'customerUpdatedFlag'\n"))
    assert crashed.error == "crashed: KeyError: 'customerUpdatedFlag'"
    silent = parse_step(record("item"))
    assert silent.error is not None and silent.error.startswith("no summary line")


def test_the_ratchet_catches_a_failure_an_empty_step_a_fixed_gap_and_a_stale_gap() -> None:
    board = StepResult("board", created=2)
    failing = StepResult("priority", error="Resource not found")
    empty = StepResult("ticket", created=0)
    assert ratchet_problems([board], {}) == []
    assert ratchet_problems([board, failing, empty], {"priority": "p", "ticket": "t"}) == []
    assert ratchet_problems([board, failing], {}) == ["priority: failed: Resource not found"]
    assert ratchet_problems([board, empty], {}) == ["ticket: created 0"]
    assert ratchet_problems([board], {"board": "b"}) == ["board: now syncs 2; remove it from KNOWN_GAPS"]
    assert ratchet_problems([board], {"nosuch": "n"}) == ["nosuch: in KNOWN_GAPS but no such step ran"]


def test_a_gap_that_blames_an_unserved_path_must_still_fail_on_that_path() -> None:
    team = StepResult("team", error="Resource not found: http://x/apis/3.0/service/boards/1/teams/?page=1")
    reason = {"team": "GET service/boards/{id}/teams is not served by the fake"}
    assert stale_reasons([team], reason) == []
    served_but_empty = StepResult("team", created=0)
    assert stale_reasons([served_but_empty], reason) == [
        "team: KNOWN_GAPS says service/boards/{id}/teams is not served, but: team: created 0"
    ]
    other_path = StepResult("team", error="Resource not found: http://x/apis/3.0/service/priorities")
    assert stale_reasons([other_path], reason) != []
    assert stale_reasons([served_but_empty], {"team": "the tenant has no teams"}) == []


def test_python_is_found_by_running_the_candidates(tmp_path: Path) -> None:
    def script(name: str, body: str) -> str:
        path = tmp_path / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
        return str(path)

    shim = script("python3.12", 'echo "pyenv: python3.12: command not found" >&2; exit 127')
    old = script("python3.11", "echo 3 11")
    new = script("python3.13", "echo 3 13")
    garbled = script("python3.14", "echo Python 3.14")
    assert find_python([shim, old, str(tmp_path / "missing"), garbled, new]) == new
    assert find_python([shim, old]) is None


def test_the_requirements_pin_the_library_and_django_exactly() -> None:
    pinned = pins(REQUIREMENTS.read_text())
    assert pinned["django-connectwise"] == "1.31.0" and pinned["django"].startswith("5.2.")
    with pytest.raises(ValueError, match="not an exact pin"):
        pins("django>=5.2\n")
    with pytest.raises(ValueError, match="not an exact pin"):
        pins("requests\n")
