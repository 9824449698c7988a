"""Fresh virtual environments for the packaging tests, made by uv (seconds, one shared cache) from PyPI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from uv import find_uv_bin

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "dev.lock"
INSTALL_TIMEOUT = 900  # a cold cache on a slow machine; a warm one takes seconds


def uv(*arguments: str | Path, cwd: Path | None = None) -> str:
    """Run uv (the dev extra's) and return its output; a failure shows what uv said.

    Every call shares uv's own cache (UV_CACHE_DIR, or the user's), so a second venv costs links only.
    """
    result = subprocess.run(
        [find_uv_bin(), *map(str, arguments)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=INSTALL_TIMEOUT,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
    )
    assert result.returncode == 0, f"uv {' '.join(map(str, arguments))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def build_dist(out: Path) -> tuple[Path, Path]:
    """Build the sdist, then the wheel from it (so a file missing from the sdist fails here); (sdist, wheel)."""
    uv("build", "--quiet", "--out-dir", out, ROOT)
    (sdist,) = out.glob("cwsim-*.tar.gz")
    (wheel,) = out.glob("cwsim-*.whl")
    return sdist, wheel


class Venv:
    """One fresh venv with this interpreter's Python."""

    def __init__(self, path: Path) -> None:
        self.path = path
        uv("venv", "--quiet", "--python", sys.executable, path)
        self.python = path / "bin" / "python"

    def install(self, *requirements: str | Path, options: tuple[str, ...] = ()) -> str:
        return uv("pip", "install", "--python", self.python, *options, *requirements)

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)

    def run(self, *command: str, cwd: Path | None = None, timeout: float = 300, check: bool = True, **kw: Any):
        """Run a command with this venv's bin first on PATH, and no CWSIM_ variables of ours."""
        env = {key: value for key, value in os.environ.items() if not key.startswith(("CWSIM_", "PYTHON"))}
        env["PATH"] = f"{self.path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.path)
        result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env, **kw)
        if check:
            assert result.returncode == 0, (
                f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def distributions(self) -> dict[str, list[str]]:
        """Installed distributions (lower-case names) and each one's requirements, read from their metadata."""
        code = (
            "import json; from importlib import metadata\n"
            "print(json.dumps({d.metadata['Name'].lower(): d.requires or [] for d in metadata.distributions()}))"
        )
        return json.loads(self.run(str(self.python), "-c", code).stdout)


def wait_for_file(path: Path, process: subprocess.Popen, timeout: float = 120.0) -> dict[str, Any]:
    """A ready file's JSON, polling with a deadline; fails at once if the process died first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        assert process.poll() is None, f"it exited {process.returncode} before writing {path}"
        time.sleep(0.1)  # polling a file with a deadline
    raise AssertionError(f"no {path} after {timeout} s")
