"""Installing cwsim puts one `cwsim` package on the path, never bare `simulator`/`integration`/`scenarios`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # every test reads the wheel that pip builds once for the module


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("cwsim-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_holds_only_the_cwsim_package_and_its_metadata(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert tops == {"cwsim", next(t for t in tops if t.endswith(".dist-info"))}
    assert not any(name.startswith("tests/") or "/tests/" in name for name in wheel.namelist())


def test_the_three_parts_are_subpackages_of_cwsim(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for part in ("simulator", "integration", "scenarios"):
        assert f"cwsim/{part}/__init__.py" in names
    assert "cwsim/__init__.py" not in names, "cwsim is a namespace package"
    assert "cwsim/simulator/connectwise/data/cw-manage-endpoints.json" in names
    for tenant in ("default", "datto-ready", "datto-login-wrong-case", "datto-integration-no-serial-match"):
        assert f"cwsim/simulator/tenants/{tenant}.yaml" in names


def test_the_console_script_and_the_pytest_plugin_are_registered(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith("entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "cwsim = cwsim.scenarios.cli:main" in text
    assert "[pytest11]" in text and "cwsim.simulator.pytest_plugin" in text


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
