"""The wheel on its own: installed (not editable) in a fresh venv, with only the core dependencies.

The commands, the built-in tenants and scenarios, the dashboard's files and the pytest plugins must
all work from it; the core install must bring neither locust nor pytest. One venv for the module,
made by uv at the lock's versions (seconds with a warm cache).
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from .venvkit import LOCK, Venv, wait_for_file

pytestmark = pytest.mark.slow

LOAD_ONLY = {"locust", "gevent", "pyzmq", "geventhttpclient", "flask-login", "python-socketio"}


@pytest.fixture(scope="module")
def venv(built_dist: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Venv:
    _, wheel = built_dist
    env = Venv(tmp_path_factory.mktemp("wheel") / "venv")
    env.install(wheel, options=("--constraints", str(LOCK)))
    return env


def test_the_core_install_has_neither_locust_nor_pytest_nor_a_pytest_cap(venv: Venv) -> None:
    installed = venv.distributions()
    assert "cwsim" in installed
    assert not (set(installed) & (LOAD_ONLY | {"pytest"})), sorted(installed)
    caps = [f"{name}: {req}" for name, reqs in installed.items() for req in reqs if req.lower().startswith("pytest")]
    assert not [cap for cap in caps if "extra ==" not in cap], caps
    core = [req for req in installed["cwsim"] if "extra ==" not in req]
    assert core and not any(req.lower().startswith(("locust", "pytest")) for req in core), core
    # The cwsim package came from the wheel, not from this checkout.
    where = venv.run(str(venv.python), "-c", "import cwsim.simulator as s; print(s.__file__)", cwd=venv.path).stdout
    assert str(venv.path) in where


def test_the_version_flags_and_python_m_cwsim(venv: Venv) -> None:
    version = venv.run(str(venv.python), "-c", "import importlib.metadata as m; print(m.version('cwsim'))").stdout
    version = version.strip()
    assert venv.run(venv.bin("cwsim"), "--version").stdout.strip() == f"cwsim {version}"
    assert venv.run(venv.bin("cwsim-integration"), "--version").stdout.strip() == f"cwsim-integration {version}"
    assert venv.run(str(venv.python), "-m", "cwsim", "--version", cwd=venv.path).stdout.strip() == f"cwsim {version}"


def test_cwsim_load_without_the_load_extra_says_what_to_install_in_one_line(venv: Venv) -> None:
    result = venv.run(venv.bin("cwsim"), "load", "connectwise", "--duration", "1s", check=False)
    assert result.returncode == 2
    expected = "cwsim load: locust is not installed (the core install leaves it out): pip install 'cwsim[load]'"
    assert result.stderr.strip() == expected


def test_serve_the_dashboard_files_a_built_in_tenant_and_the_integrations_doctor(venv: Venv, tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    server = subprocess.Popen(
        [venv.bin("cwsim"), "serve", "--port", "0", "--ready-file", str(ready), "--companies", "4"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        facts = wait_for_file(ready, server)
        url = facts["url"]
        page = requests.get(url + "/", timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower()
        for name in ("dashboard.js", "dashboard.css"):
            static = requests.get(f"{url}/_sim/dashboard/static/{name}", timeout=30)
            assert static.status_code == 200 and len(static.content) > 100, name
        loaded = requests.post(f"{url}/_sim/tenant", params={"builtin": "datto-ready"}, timeout=30)
        assert loaded.status_code == 200, loaded.text
        facts = requests.get(f"{url}/_sim/facts", timeout=30).json()
        settings = tmp_path / "settings.yaml"
        login = facts["integrator"]
        settings.write_text(
            yaml.safe_dump(
                {
                    "connectwise": {
                        "site": url,
                        "company_id": facts["companyId"],
                        "client_id": "wheel-test",
                        "integrator_username": login["username"],
                        "integrator_password": login["password"],
                        "public_key": facts["publicKey"],
                        "private_key": facts["privateKey"],
                    },
                    "datto": {
                        "url": facts["portal"]["url"].removesuffix("/bcdr"),
                        "public_key": facts["portal"]["publicKey"],
                        "secret_key": facts["portal"]["secretKey"],
                    },
                    "state_dir": str(tmp_path / "state"),
                }
            )
        )
        doctor = venv.run(venv.bin("cwsim-integration"), "--settings", str(settings), "doctor", check=False)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def test_cwsim_demo_runs_the_built_in_quickstart_scenario(venv: Venv, tmp_path: Path) -> None:
    result = venv.run(venv.bin("cwsim"), "demo", "--report", str(tmp_path / "report.json"), cwd=tmp_path, timeout=900)
    assert "scenario quickstart: PASSED" in result.stdout, result.stdout + result.stderr


def test_the_pytest_plugins_work_from_the_wheel_and_bring_no_locust_fixtures(venv: Venv, tmp_path: Path) -> None:
    venv.install("pytest", options=("--constraints", str(LOCK)))
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_user.py").write_text(
        "def test_a_ticket(cwsim, cwsim_journal):\n"
        "    api = cwsim.session()\n"
        "    assert api.post('service/tickets', json={'summary': 'w', 'company': {'id': 1}}).status_code == 201\n"
        "    cwsim_journal.assert_one_post('/service/tickets', containing='w')\n"
    )
    ran = venv.run(str(venv.python), "-m", "pytest", "-p", "no:cacheprovider", "--cwsim-companies", "3", cwd=project)
    assert "1 passed" in ran.stdout
    collected = venv.run(str(venv.python), "-m", "pytest", "--co", "--fixtures", "-p", "no:cacheprovider", cwd=project)
    assert "cwsim_scenario" in collected.stdout and "cwsim_journal" in collected.stdout
    assert "fastsession" not in collected.stdout and "locust" not in collected.stdout.lower()
    # Negative control: with the load extra's locust installed, the same listing shows its fixtures.
    venv.install("locust", options=("--constraints", str(LOCK)))
    with_locust = venv.run(
        str(venv.python), "-m", "pytest", "--co", "--fixtures", "-p", "no:cacheprovider", cwd=project
    )
    assert "fastsession" in with_locust.stdout
