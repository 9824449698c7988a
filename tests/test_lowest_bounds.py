"""The declared floors work: a fresh venv at the lowest versions pyproject.toml allows runs a smoke subset.

uv installs every direct dependency at its floor (`--resolution lowest-direct`; their own
dependencies at the newest that fit), the sdist and the wheel are built with the lowest setuptools
the build allows, and then this checkout's tests for serving, a pyconnectwise flow, one built-in
scenario and the generated-data digest run against that install. The scenario is
misconfigured-integrator: it runs the integration's doctor and onboarding against the fake, and is
among the quickest.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from .venvkit import ROOT, Venv, uv

pytestmark = pytest.mark.slow

SMOKE = [
    "tests/test_serve_cli.py::test_the_ready_file_tells_a_client_everything_it_needs",
    "tests/test_pyconnectwise.py::test_it_creates_a_ticket_and_reads_its_notes",
    "tests/test_scenarios.py::test_the_scenario_passes[misconfigured-integrator]",
    "tests/test_generated_digest.py",
]
# What the smoke subset needs of the dev extra, at its floors too.
SMOKE_DEV = ("pytest", "pyconnectwise")


def floors() -> dict[str, Version]:
    """Each core dependency's declared floor, and the build's setuptools floor."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = {}
    for text in [*project["project"]["dependencies"], *project["build-system"]["requires"]]:
        requirement = Requirement(text)
        (low,) = [spec.version for spec in requirement.specifier if spec.operator in (">=", "==")]
        found[requirement.name.lower()] = Version(low)
    return found


def smoke_dev_requirements() -> list[str]:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    return [text for text in dev if Requirement(text).name.lower() in SMOKE_DEV]


def test_the_lowest_allowed_versions_pass_the_smoke_subset(tmp_path: Path) -> None:
    wanted = floors()
    # The lowest setuptools release the build allows (uv picks it), pinned for the build of the
    # sdist and of the wheel from it.
    build_requires = tmp_path / "build-requires.in"
    build_requires.write_text(f"setuptools>={wanted.pop('setuptools')}\n")
    build_floor = tmp_path / "build-constraints.txt"
    uv(
        "pip",
        "compile",
        "--quiet",
        "--resolution",
        "lowest",
        "--no-header",
        "--no-annotate",
        build_requires,
        "-o",
        build_floor,
    )
    uv("build", "--quiet", "--build-constraint", build_floor, "--out-dir", tmp_path / "dist", ROOT)
    (wheel,) = (tmp_path / "dist").glob("cwsim-*.whl")

    venv = Venv(tmp_path / "venv")
    requirements = ["-r", str(ROOT / "pyproject.toml"), *smoke_dev_requirements()]
    venv.install(*requirements, options=("--resolution", "lowest-direct"))
    venv.install(wheel, options=("--no-deps",))

    installed = {
        name: Version(
            venv.run(
                str(venv.python), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"
            ).stdout.strip()
        )
        for name in wanted
    }
    for name, floor in wanted.items():
        # The floor itself, or its first release uv could install (a yanked x.y.0 gives x.y.1).
        same_minor = (installed[name].major, installed[name].minor) == (floor.major, floor.minor)
        assert same_minor, f"{name}: {installed[name]} for a floor of {floor}"

    result = venv.run(
        str(venv.python), "-m", "pytest", "-p", "no:cacheprovider", "-q", *SMOKE, cwd=ROOT, timeout=1200, check=False
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    # 7: the ready-file test on both servers, the pyconnectwise flow, the scenario, the three digest tests.
    assert re.search(r"\b7 passed", result.stdout) and "failed" not in result.stdout, result.stdout[-2000:]
