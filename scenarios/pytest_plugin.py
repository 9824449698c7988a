"""pytest fixture that runs a scenario: `cwsim_scenario("quickstart")` -> the checked result.

Registered through its own `pytest11` entry point (beside the fakes' plugin), so a project that
installs cwsim can gate on a scenario in its own test suite:

    def test_quickstart(cwsim_scenario):
        result = cwsim_scenario("quickstart")
        assert result.passed, result.report()
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .runner import RunResult

# Importing this module must cost almost nothing (pytest loads it in every run where cwsim is
# installed): the runner is imported inside the fixture.
ScenarioRunner = Callable[..., "RunResult"]


@pytest.fixture
def cwsim_scenario(tmp_path: Path) -> ScenarioRunner:
    """Run a scenario (a built-in name or a file) in processes of its own; artifacts under tmp_path on failure."""

    from .runner import RunOptions, run_scenario
    from .scenario import load_scenario

    def run(name_or_path: str | Path, **settings: dict[str, object]) -> RunResult:
        scenario = load_scenario(name_or_path)
        options = RunOptions(
            report=tmp_path / f"{scenario.name}.report.json",
            artifacts=tmp_path / f"{scenario.name}.artifacts",
            workdir=tmp_path / scenario.name,
            extra_settings=settings,
        )
        return run_scenario(scenario, options)

    return run
