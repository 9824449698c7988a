"""The django-connectwise harness: a Python 3.12+ to run it, its cached venv, its runs, and the ratchet.

django-connectwise (pinned in tests/djcw/requirements.txt, unmodified) needs Python 3.12 or newer,
newer than the project's own. Its venv and a migrated SQLite database are built once per machine in
a cache folder keyed by the pins' hash and the interpreter's version, and reused by later runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parent / "djcw"
REQUIREMENTS = PROJECT / "requirements.txt"
MINIMUM = (3, 12)
BUILD_TIMEOUT_SECONDS = 1800  # pip install plus 200 migrations, on a loaded 2-core machine
RUN_TIMEOUT_SECONDS = 900
TEMPLATE_DATABASE = "migrated.sqlite3"
STAMP = ".complete"

SUMMARY = re.compile(r"^(?P<label>.+) Sync Summary - Created: (?P<created>\d+), Updated: (?P<updated>\d+)", re.M)
FAILURE = re.compile(r"^Failed to sync (?P<label>.+?): (?P<error>.*)$", re.M)


def interpreter_candidates() -> list[str]:
    """Where a Python 3.12+ may be: this one, pyenv's versions (newest first), then the names on PATH."""
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    versions = glob.glob(os.path.join(pyenv_root, "versions", "3.*", "bin", "python"))
    versions.sort(key=lambda path: _version_key(Path(path).parent.parent.name), reverse=True)
    on_path = [shutil.which(name) for name in ("python3.14", "python3.13", "python3.12", "python3")]
    return [sys.executable, *versions, *(path for path in on_path if path)]


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)[:3])


def interpreter_version(path: str) -> tuple[int, int] | None:
    """The (major, minor) a candidate reports when run, or None when it does not run (a pyenv shim
    for a version not selected exits 127)."""
    try:
        result = subprocess.run(
            [path, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = result.stdout.split()
    if result.returncode != 0 or len(parts) != 2 or not all(part.isdigit() for part in parts):
        return None
    return int(parts[0]), int(parts[1])


def find_python(candidates: list[str] | None = None) -> str | None:
    """The first candidate that runs and is Python 3.12 or newer."""
    for path in candidates if candidates is not None else interpreter_candidates():
        version = interpreter_version(path)
        if version is not None and version >= MINIMUM:
            return path
    return None


def pins(text: str) -> dict[str, str]:
    """name -> version of a requirements file that pins everything with `==` (raises on anything else)."""
    found = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, separator, version = line.partition("==")
            if not separator or not version or any(mark in line for mark in "<>~!;[ "):
                raise ValueError(f"not an exact pin: {line!r}")
            found[name.lower()] = version
    return found


def cache_root() -> Path:
    """$CWSIM_CACHE_DIR, else ~/.cache/cwsim (or under $XDG_CACHE_HOME)."""
    if os.environ.get("CWSIM_CACHE_DIR"):
        return Path(os.environ["CWSIM_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))) / "cwsim"


def environment_key(python: str) -> str:
    """What the cached venv depends on: the pins and the interpreter's version."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(repr(interpreter_version(python)).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Harness:
    """A built venv (its Python) and the migrated database new runs copy."""

    python: Path
    template_database: Path

    def environment(self, database: Path, facts: Mapping) -> dict[str, str]:
        """The variables the harness project's settings read, pointing at one fake."""
        keep = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
        return {
            **keep,
            "DJCW_DATABASE": str(database),
            "DJCW_SERVER_URL": facts["url"],
            "DJCW_COMPANY_ID": facts["companyId"],
            "DJCW_PUBLIC_KEY": facts["publicKey"],
            "DJCW_PRIVATE_KEY": facts["privateKey"],
            "DJCW_CLIENT_ID": facts["clientId"],
        }

    def run(self, script: str, args: list[str], database: Path, facts: Mapping) -> subprocess.CompletedProcess:
        """Runs one of the harness project's scripts in the venv against the fake in `facts`."""
        return subprocess.run(
            [str(self.python), str(PROJECT / script), *args],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
            env=self.environment(database, facts),
            cwd=PROJECT,
        )

    def fresh_database(self, folder: Path) -> Path:
        """A copy of the migrated database, for one run."""
        database = folder / "djconnectwise.sqlite3"
        shutil.copyfile(self.template_database, database)
        return database


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_harness(python: str, root: Path | None = None) -> Harness:
    """The cached venv and migrated database for these pins, built first if missing or incomplete.

    A lock keeps two test processes from building the same folder at once; the stamp, written
    last, tells a complete build from one that was interrupted.
    """
    folder = (root or cache_root()) / f"django-connectwise-{environment_key(python)}"
    harness = Harness(folder / "bin" / "python", folder / TEMPLATE_DATABASE)
    with _locked(folder.with_suffix(".lock")):
        if (folder / STAMP).exists():
            return harness
        shutil.rmtree(folder, ignore_errors=True)
        _check([python, "-m", "venv", str(folder)], "create the venv")
        # --no-deps: only what the file pins is installed; pip check then says if a pin is missing.
        install = [str(harness.python), "-m", "pip", "install", "--quiet", "--no-deps", "-r", str(REQUIREMENTS)]
        _check(install, "install the pins")
        _check([str(harness.python), "-m", "pip", "check"], "find every dependency pinned")
        environment = harness.environment(harness.template_database, _NO_FAKE)
        _check([str(harness.python), str(PROJECT / "manage.py"), "migrate", "--no-input"], "migrate", environment)
        (folder / STAMP).write_text(REQUIREMENTS.read_text())
    return harness


_NO_FAKE = {"url": "http://127.0.0.1:9", "companyId": "", "publicKey": "", "privateKey": "", "clientId": ""}


def _check(command: list[str], what: str, environment: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS, env=environment, cwd=PROJECT
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"django-connectwise harness: could not {what}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )


@dataclass
class StepResult:
    """One cwsync step as the command reported it."""

    step: str
    created: int | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def synced(self) -> bool:
        return self.error is None and bool(self.created)

    def describe(self) -> str:
        if self.error is not None:
            return f"{self.step}: failed: {self.error}"
        detail = f" (warnings: {'; '.join(self.warnings)})" if self.warnings and not self.created else ""
        return f"{self.step}: created {self.created}{detail}"


def parse_step(record: Mapping) -> StepResult:
    """A StepResult from one line of sync_steps.py: the summary line, else the failure or the crash."""
    result = StepResult(record["step"], warnings=list(record.get("warnings") or []))
    summary = SUMMARY.search(record.get("stdout") or "")
    failure = FAILURE.search(record.get("stderr") or "")
    if record.get("crash"):
        result.error = "crashed: " + record["crash"].strip().splitlines()[-1]
    elif failure is not None:
        result.error = failure["error"].strip()
    elif summary is None:
        result.error = "no summary line: " + ((record.get("stdout") or "") + (record.get("stderr") or ""))[-500:]
    if summary is not None:
        result.created = int(summary["created"])
    return result


def parse_steps(output: str) -> list[StepResult]:
    """Every step of a sync_steps.py run's output."""
    return [parse_step(json.loads(line)) for line in output.splitlines() if line.startswith("{")]


def ratchet_problems(results: list[StepResult], known_gaps: Mapping[str, str]) -> list[str]:
    """What breaks the ratchet: a step outside the known gaps that failed or synced nothing, a known
    gap that now syncs (remove it from the table), a gap naming no step, a step that never ran."""
    problems = []
    seen = {result.step for result in results}
    for result in results:
        if result.step in known_gaps:
            if result.synced:
                problems.append(f"{result.step}: now syncs {result.created}; remove it from KNOWN_GAPS")
        elif not result.synced:
            problems.append(result.describe())
    problems += [f"{step}: in KNOWN_GAPS but no such step ran" for step in known_gaps if step not in seen]
    return problems


UNSERVED = re.compile(r"^GET (?P<path>\S+) is not served")


def stale_reasons(results: list[StepResult], known_gaps: Mapping[str, str]) -> list[str]:
    """Gaps that say a path is not served while the step's error names no such path: the fake may
    serve it now, and the step fails or stays empty for another reason the table should say."""
    problems = []
    for result in results:
        match = UNSERVED.match(known_gaps.get(result.step, ""))
        if match is not None:
            pieces = [piece for piece in match["path"].split("{id}") if piece]
            if result.error is None or not all(piece in result.error for piece in pieces):
                problems.append(
                    f"{result.step}: KNOWN_GAPS says {match['path']} is not served, but: {result.describe()}"
                )
    return problems
