"""Running wrk against a URL and reading its requests/s."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

WRK_ARGS = ["-t2", "-c16", "-d10s"]


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    non_2xx: int
    errors: str
    output: str


def post_script(body: str, headers: dict[str, str]) -> Path:
    """A wrk Lua script that POSTs `body` with `headers`."""
    lines = ['wrk.method = "POST"', f"wrk.body = [[{body}]]"]
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    path = Path(tempfile.mkstemp(suffix=".lua")[1])
    path.write_text("\n".join(lines) + "\n")
    return path


def get_script(headers: dict[str, str]) -> Path:
    lines = [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    path = Path(tempfile.mkstemp(suffix=".lua")[1])
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(url: str, script: Path, arguments: list[str] = WRK_ARGS) -> WrkResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    output = subprocess.run(
        [wrk, *arguments, "-s", str(script), url], capture_output=True, text=True, check=True
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    return WrkResult(
        float(rate.group(1)) if rate else 0.0,
        int(non_2xx.group(1)) if non_2xx else 0,
        errors.group(0) if errors else "",
        output,
    )
