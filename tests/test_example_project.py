"""The example user project (examples/msp-sync) passes its tests using only cwsim's pytest plugins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs the example project's own test suite in a subprocess

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "msp-sync"


def test_the_example_projects_tests_pass_with_only_the_plugins() -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("CWSIM_", "PYTEST_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout
    assert not (EXAMPLE / "conftest.py").exists() and not (EXAMPLE / "tests" / "conftest.py").exists()
