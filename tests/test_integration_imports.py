"""The integration's modules load neither the simulator, the scenarios nor Faker (the project's one layering rule)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cwsim.integration

MODULES = sorted(path.stem for path in Path(cwsim.integration.__file__).parent.glob("*.py") if path.stem != "__init__")
FORBIDDEN = ("cwsim.simulator", "cwsim.scenarios", "faker")
SHOW = "import sys; print('\\n'.join(sorted(sys.modules)))"


def loaded_by(code: str) -> list[str]:
    return subprocess.run(
        [sys.executable, "-c", f"{code}; {SHOW}"], capture_output=True, text=True, check=True
    ).stdout.split()


def test_the_integration_modules_stand_alone() -> None:
    loaded = loaded_by("; ".join(f"import cwsim.integration.{module}" for module in MODULES))
    assert [name for name in loaded if name.startswith(FORBIDDEN)] == []
    assert {"cwsim.integration.outbox", "cwsim.integration.service", "cwsim.integration.intake"} <= set(loaded)


def test_the_run_command_loads_no_simulator() -> None:
    """What `cwsim-integration run` imports: the command's parser (every subcommand) and the service it runs."""
    loaded = loaded_by(
        "import cwsim.integration.cli as cli; cli.build_parser().parse_args(['run', '--intake-port', '0']);"
        " import cwsim.integration.service"
    )
    assert [name for name in loaded if name.startswith(FORBIDDEN)] == []
    assert {"cwsim.integration.service", "cwsim.integration.workers", "cwsim.integration.poller"} <= set(loaded)
