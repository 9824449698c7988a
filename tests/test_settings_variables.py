"""`CWSIM_` variables: a setting's name is read, any other cwsim reads is known, and a typo draws a warning."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from cwsim.integration import settings as settings_module
from cwsim.integration.cli import main
from cwsim.integration.settings import SettingsError, known_variables, load_settings, unknown_variable_warnings

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"CWSIM_[A-Z0-9_]*[A-Z0-9](?:_\*)?")  # `CWSIM_CW_*` in the docs names a family
PLACEHOLDERS = {"CWSIM_SECTION_NAME"}  # the README's pattern for a setting's variable, not a variable
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".json", ".sh", ".txt", ""}
SKIPPED_DIRECTORIES = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "cwsim.egg-info"}


def names_in_the_repository() -> dict[str, str]:
    """Every `CWSIM_...` name written in the project's code, tests and docs -> one file that has it."""
    found: dict[str, str] = {}
    for folder, directories, files in os.walk(ROOT):
        directories[:] = [name for name in directories if name not in SKIPPED_DIRECTORIES]
        for file_name in files:
            path = Path(folder, file_name)
            if path.suffix not in SUFFIXES or path == Path(__file__).resolve():  # this file's typos are on purpose
                continue
            try:
                text = path.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            for name in NAME.findall(text):
                found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def is_known(name: str, known: set[str]) -> bool:
    if name.endswith("_*"):
        return any(variable.startswith(name[:-1]) for variable in known)
    return name in known | PLACEHOLDERS


def unknown_names() -> dict[str, str]:
    known = known_variables()
    return {name: where for name, where in names_in_the_repository().items() if not is_known(name, known)}


def test_every_variable_the_project_reads_or_documents_is_known() -> None:
    found = names_in_the_repository()
    assert len(found) > 40 and "CWSIM_CW_*" in found  # the scan finds names, and families
    assert unknown_names() == {}
    assert not is_known("CWSIM_NOPE_*", known_variables())


def test_negative_control_a_variable_missing_from_the_list_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    others = {name: who for name, who in settings_module.OTHER_VARIABLES.items() if name != "CWSIM_ADMIN_TOKEN"}
    monkeypatch.setattr(settings_module, "OTHER_VARIABLES", others)
    assert "CWSIM_ADMIN_TOKEN" in unknown_names()


def test_known_variables_draw_no_warning() -> None:
    environ = {name: "1" for name in known_variables()} | {"PATH": "/bin", "CWSIMPLE": "x"}
    assert unknown_variable_warnings(environ) == []


@pytest.mark.parametrize(
    ("variable", "nearest"),
    [
        ("CWSIM_ALERTS_WORKER", "CWSIM_ALERTS_WORKERS"),
        ("CWSIM_INTAKE_TOKN", "CWSIM_INTAKE_TOKEN"),
        ("CWSIM_CONECTWISE_SITE", "CWSIM_CONNECTWISE_SITE"),
        ("CWSIM_ADMIN_TOKN", "CWSIM_ADMIN_TOKEN"),
        ("CWSIM_alerts_workers", "CWSIM_ALERTS_WORKERS"),
    ],
)
def test_a_typo_is_warned_of_naming_the_nearest_known_variable(variable: str, nearest: str) -> None:
    assert unknown_variable_warnings({variable: "2"}) == [
        f'{variable} is not a variable cwsim reads (ignored); did you mean "{nearest}"?'
    ]


def test_a_name_near_nothing_is_warned_of_without_a_guess() -> None:
    assert unknown_variable_warnings({"CWSIM_ZZZ": "1"}) == ["CWSIM_ZZZ is not a variable cwsim reads (ignored)"]


def test_the_command_warns_once_on_stderr(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("CWSIM_ALERTS_WORKER", "2")
    assert main(["--settings", "/nonexistent/settings.yaml", "doctor"]) == 2  # stops at the file, after warning
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if "CWSIM_ALERTS_WORKER " in line]
    assert warnings == [
        "cwsim-integration: warning: CWSIM_ALERTS_WORKER is not a variable cwsim reads (ignored); "
        'did you mean "CWSIM_ALERTS_WORKERS"?'
    ]
    assert load_settings(environ={"CWSIM_ALERTS_WORKER": "2"}).alerts.workers == 4  # ignored indeed


def test_a_file_key_typo_names_the_nearest_setting_too(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("alerts:\n  worker: 2\n")
    with pytest.raises(SettingsError, match=r'alerts\.worker: unknown setting; did you mean "workers"\?'):
        load_settings(path, environ={})
