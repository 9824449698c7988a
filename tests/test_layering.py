"""The layering rule, checked over the source tree's imports (relative ones resolved).

integration/ imports nothing of simulator/ or scenarios/; simulator/ nothing of integration/ or scenarios/.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("simulator", "integration", "scenarios")
FORBIDDEN = {
    "simulator": {"integration", "scenarios"},
    "integration": {"simulator", "scenarios", "faker"},
    "scenarios": set(),
}


def imported_modules(path: Path) -> set[str]:
    """Absolute names of everything a file imports, as `part.sub` or a top-level library name."""
    part = path.relative_to(ROOT).parts[0]
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
    return {name.removeprefix("cwsim.") for name in names if name} | {part}


def top_level(name: str) -> str:
    return name.split(".")[0]


def violations(part: str) -> list[str]:
    found = []
    for path in sorted((ROOT / part).rglob("*.py")):
        for name in sorted(imported_modules(path)):
            if top_level(name) in FORBIDDEN[part]:
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("part", PARTS)
def test_each_part_imports_only_what_the_layering_rule_allows(part: str) -> None:
    assert violations(part) == []


def test_the_check_catches_a_forbidden_relative_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: a relative import across parts is resolved and reported."""
    fake_root = tmp_path
    (fake_root / "simulator" / "deep").mkdir(parents=True)
    (fake_root / "simulator" / "deep" / "module.py").write_text("from ...integration import outbox\n")
    (fake_root / "integration").mkdir()
    (fake_root / "integration" / "x.py").write_text("import faker\nfrom cwsim.scenarios import cli\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)
    assert violations("simulator") == ["simulator/deep/module.py imports integration"]
    assert violations("integration") == ["integration/x.py imports faker", "integration/x.py imports scenarios"]
