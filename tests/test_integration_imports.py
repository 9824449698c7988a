"""The integration's modules load neither the simulator, the scenarios nor Faker (DESIGN.md's one rule)."""

from __future__ import annotations

import subprocess
import sys

MODULES = (
    "billing",
    "cli",
    "conditions",
    "connections",
    "connectwise",
    "datto",
    "doctor",
    "mapping_file",
    "onboarding",
    "outbox",
    "overage",
    "transport",
)
FORBIDDEN = ("cwsim.simulator", "cwsim.scenarios", "faker")


def test_the_integration_modules_stand_alone() -> None:
    imports = "; ".join(f"import cwsim.integration.{module}" for module in MODULES)
    show = "import sys; print('\\n'.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", f"{imports}; {show}"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [name for name in loaded if name.startswith(FORBIDDEN)] == []
    assert "cwsim.integration.outbox" in loaded
