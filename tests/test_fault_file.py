"""`cwsim serve --faults FILE`: rules from YAML or JSON, and errors that name the file, entry and field."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import pytest
import requests

from cwsim.scenarios.processes import cwsim_command, start
from cwsim.simulator.connectwise.collections import COLLECTIONS as DECLARED
from cwsim.simulator.fault_schema import FaultFileError, load_fault_file, load_fault_rules

DOCS = Path(__file__).resolve().parent.parent / "docs" / "faults.md"

COLLECTIONS = ["service/tickets", "service/boards"]
RULES_YAML = """\
# Tickets fail now and then; boards are slow.
- name: flaky tickets
  collection: service/tickets
  method: POST
  probability: 0.3
  seed: 7
  effect: {kind: status, status: 503}

- path: service/boards*
  effect:
    kind: latency
    latency_ms: 20
"""


def test_rules_load_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(RULES_YAML)
    flaky, slow = load_fault_file(path, COLLECTIONS)
    assert flaky.name == "flaky tickets" and flaky.probability == 0.3 and flaky.effect.kind == "status"
    assert slow.effect.kind == "latency" and slow.selector.path == "service/boards*"


def test_rules_load_from_json(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text(json.dumps([{"effect": {"kind": "throttle", "retry_after": 5}, "count": 3}]))
    [rule] = load_fault_file(path, COLLECTIONS)
    assert rule.effect.kind == "throttle" and rule.count == 3


def test_an_empty_file_is_no_rules(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("# nothing yet\n")
    assert load_fault_file(path, COLLECTIONS) == []


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "faults.yaml",
            RULES_YAML + "\n- name: broken\n  effect: {kind: status, status: 700}\n",
            "rule 3 (line 14) 'broken': effect.status: Must be between 400 and 599 for kind status.",
        ),
        ("faults.yaml", "- effect: {kind: outage}\n", "rule 1 (line 1): window: An outage needs"),
        ("faults.yaml", "- 3\n", "rule 1 (line 1): a fault rule must be a mapping, not int"),
        ("faults.yaml", "effect: {kind: outage}\n", "expected a list of fault rules, found dict"),
        ("faults.yaml", "- [unclosed\n", "not valid YAML"),
        ("faults.json", '[{"effect": {"kind": "latency"}}, ', "not valid JSON"),
        ("faults.json", '[{"effect": {"kind": "latency"}, "collection": "x/y"}]', "rule 1: effect.latency_ms: Kind"),
    ],
)
def test_an_error_names_the_file_the_entry_and_the_field(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(FaultFileError) as caught:
        load_fault_file(path, COLLECTIONS)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FaultFileError, match="cannot read it"):
        load_fault_file(tmp_path / "nope.yaml", COLLECTIONS)


@pytest.mark.slow
def test_serve_refuses_to_start_with_a_bad_faults_file(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("- collection: service/widgets\n  effect: {kind: status, status: 503}\n")
    result = subprocess.run(
        cwsim_command("serve", "--port", "0", "--faults", str(path)), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert f"cwsim serve: {path}: rule 1 (line 1): collection: 'service/widgets' is not a collection" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow
def test_serve_starts_with_the_rules_of_its_faults_file(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("- method: POST\n  collection: service/tickets\n  effect: {kind: status, status: 503}\n")
    served = start("cwsim", cwsim_command("serve", "--port", "0", "--companies", "3", "--faults", str(path)), tmp_path)
    try:
        facts = served.facts
        token = base64.b64encode(f"{facts['companyId']}+{facts['publicKey']}:{facts['privateKey']}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "clientId": "tests"}
        ticket = {"summary": "x", "company": {"id": 1}}
        assert (
            requests.post(f"{facts['api_url']}/service/tickets", json=ticket, headers=headers, timeout=10).status_code
            == 503
        )
        assert requests.get(f"{facts['api_url']}/service/tickets", headers=headers, timeout=10).status_code == 200
        [rule] = requests.get(f"{facts['url']}/_sim/faults", timeout=10).json()
        assert (rule["id"], rule["fired"]) == (1, 1)
    finally:
        served.stop()


def test_the_examples_in_the_docs_are_valid_rules(tmp_path: Path) -> None:
    text = DOCS.read_text()
    names = [collection.table for collection in DECLARED]
    bodies = re.findall(r"-d '(\{.*?\})'", text, re.DOTALL)
    assert len(bodies) >= 5
    for body in bodies:
        assert load_fault_rules(json.loads(body), names)
    path = tmp_path / "faults.yaml"
    path.write_text(re.search(r"```yaml\n(.*?)```", text, re.DOTALL).group(1))
    assert len(load_fault_file(path, names)) == 3
