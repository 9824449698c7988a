"""The benchmarks wait for the CPU pressure to settle, with a deadline, and say what they found."""

from __future__ import annotations

from pathlib import Path

from benchmarks.quiet import cpu_pressure, wait_for_quiet

BUSY = "some avg10=37.50 avg60=40.00 avg300=41.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
QUIET = "some avg10=1.25 avg60=20.00 avg300=30.00 total=2\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"


def test_the_ten_second_average_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cpu"
    path.write_text(BUSY)
    assert cpu_pressure(path) == 37.5
    assert cpu_pressure(tmp_path / "missing") is None


def test_a_quiet_machine_is_not_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "cpu"
    path.write_text(QUIET)
    assert wait_for_quiet(5, path) == "CPU pressure 1.2%"


def test_a_busy_machine_is_waited_for_until_the_deadline_and_said_so(tmp_path: Path) -> None:
    path = tmp_path / "cpu"
    path.write_text(BUSY)
    said = wait_for_quiet(1.5, path)
    assert said.startswith("CPU pressure still 37.5% after") and "busy machine" in said


def test_a_kernel_without_pressure_information_is_said_so(tmp_path: Path) -> None:
    assert wait_for_quiet(1, tmp_path / "missing") == "CPU pressure not reported by this kernel"
