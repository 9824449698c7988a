"""The layering rule for what the fleet added: nothing under simulator/ imports integration/ or scenarios/."""

from __future__ import annotations

import ast
from pathlib import Path

SIMULATOR = Path(__file__).resolve().parent.parent / "simulator"
FORBIDDEN = ("integration", "scenarios")


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.append(base)
    return names


def test_the_simulator_imports_neither_the_integration_nor_the_scenarios() -> None:
    offenders = []
    for path in sorted(SIMULATOR.rglob("*.py")):
        depth = len(path.relative_to(SIMULATOR).parts)  # relative imports climbing out of simulator/
        for name in imported_modules(path):
            stripped = name.lstrip(".")
            climbs_out = len(name) - len(stripped) > depth
            top = stripped.split(".")[1] if stripped.startswith("cwsim.") else stripped.split(".")[0]
            if top in FORBIDDEN and (climbs_out or not name.startswith(".")):
                offenders.append(f"{path.relative_to(SIMULATOR.parent)}: {name}")
    assert offenders == []
