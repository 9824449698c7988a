"""Installing cwsim puts one `cwsim` package on the path, never bare `simulator`/`integration`/`scenarios`."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # every test reads the wheel that pip builds once for the module


@pytest.fixture(scope="module")
def wheel(built_dist: tuple[Path, Path]) -> zipfile.ZipFile:
    return zipfile.ZipFile(built_dist[1])


def test_the_wheel_holds_only_the_cwsim_package_and_its_metadata(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert tops == {"cwsim", next(t for t in tops if t.endswith(".dist-info"))}
    assert not any(name.startswith("tests/") or "/tests/" in name for name in wheel.namelist())


def test_the_three_parts_are_subpackages_of_cwsim(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for part in ("simulator", "integration", "scenarios"):
        assert f"cwsim/{part}/__init__.py" in names
    assert "cwsim/__init__.py" not in names, "cwsim is a namespace package"
    assert "cwsim/__main__.py" in names, "python -m cwsim"
    assert "cwsim/simulator/connectwise/data/cw-manage-endpoints.json" in names
    for tenant in ("default", "datto-ready", "datto-login-wrong-case", "datto-integration-no-serial-match"):
        assert f"cwsim/simulator/tenants/{tenant}.yaml" in names


def test_the_console_script_and_the_pytest_plugin_are_registered(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith("entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "cwsim = cwsim.scenarios.cli:main" in text
    assert "[pytest11]" in text and "cwsim.simulator.pytest_plugin" in text
    assert "cwsim-integration = cwsim.integration.cli:main" in text


def test_locust_and_pytest_are_extras_not_core_requirements(wheel: zipfile.ZipFile) -> None:
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    requires = [
        line.split(":", 1)[1].strip()
        for line in wheel.read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    core = [r for r in requires if "extra ==" not in r]
    assert not [r for r in core if r.lower().startswith(("locust", "pytest"))], core
    assert any(r.startswith("locust") and 'extra == "load"' in r for r in requires), requires


def test_the_sdist_holds_the_sources_the_wheel_is_built_from(built_dist: tuple[Path, Path]) -> None:
    with tarfile.open(built_dist[0]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"pyproject.toml", "setup.py", "README.md", "cwsim/__main__.py", "simulator/pytest_plugin.py"} <= names


def test_the_dashboard_ships_its_templates_and_static_files(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    dashboard = ROOT / "simulator" / "dashboard"
    shipped = sorted(
        path.relative_to(dashboard).as_posix()
        for path in dashboard.rglob("*")
        if path.suffix in {".html", ".css", ".js"}
    )
    assert {"templates/dashboard/page.html", "static/dashboard.js", "static/dashboard.css"} <= set(shipped)
    for name in shipped:
        assert f"cwsim/simulator/dashboard/{name}" in names
