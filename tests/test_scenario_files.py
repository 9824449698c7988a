"""Scenario files: validated, with mistakes reported by file, line and what is expected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cwsim.scenarios.scenario import ScenarioError, builtin_names, load_scenario, parse_scenario

GOOD = """\
name: sample
seed: 3
clock:
  start: 2026-10-01T00:00:00Z
  duration: P2D
timeline:
  - at: P1D
    action: alert_storm
    params: {kind: backup_failure, devices: 3}
  - at: PT6H
    action: close_tickets
expect:
  - tickets
  - doctor: {failures: [managed_services_api]}
"""


def test_a_good_scenario_loads_with_defaults_and_a_sorted_timeline() -> None:
    scenario = parse_scenario(GOOD, "sample.yaml")
    assert scenario.name == "sample" and scenario.seed == 3
    assert scenario.start == datetime(2026, 10, 1, tzinfo=UTC) and scenario.duration == timedelta(days=2)
    assert scenario.step == timedelta(hours=6)
    assert [event["action"] for event in scenario.timeline] == ["close_tickets", "alert_storm"]
    assert [check.name for check in scenario.checks] == ["tickets", "doctor"]
    assert scenario.checks[1].params == {"failures": ["managed_services_api"]}
    assert scenario.integration["device_route"] == "both" and scenario.integration["map_unmatched"] is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("duration: P2D", "duration: two days"),
            "bad.yaml:5: clock/duration: expected an ISO-8601 duration",
        ),
        (GOOD.replace("action: alert_storm", "action: storm"), "bad.yaml:8: timeline/0/action: Must be one of"),
        (GOOD.replace("at: P1D", "at: P9D"), "bad.yaml:7: timeline/0/at: at 9 days, 0:00:00 is after the run ends"),
        (GOOD.replace("  - tickets\n", "  - tickerts\n"), "bad.yaml:13: expect/0: expected one of tickets"),
        (GOOD.replace("seed: 3", "sed: 3"), "bad.yaml:2: sed: Unknown field."),
        (GOOD.replace("  start: 2026-10-01T00:00:00Z\n", ""), "clock/start: Missing data for required field."),
        ("clock: [\n", "bad.yaml:2: YAML syntax error"),
        ("- a list\n", "bad.yaml:1: a scenario is a mapping"),
    ],
)
def test_mistakes_name_the_file_the_line_and_what_is_expected(text: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "bad.yaml")
    assert expected in str(caught.value), str(caught.value)


def test_built_in_scenarios_load_by_name_and_a_missing_one_is_explained(tmp_path: Path) -> None:
    assert "quickstart" in builtin_names()
    for name in builtin_names():
        assert load_scenario(name).name == name
    with pytest.raises(ScenarioError, match="no built-in scenario of that name"):
        load_scenario("nosuch")
    with pytest.raises(ScenarioError, match="cannot read it"):
        load_scenario(tmp_path / "missing.yaml")
