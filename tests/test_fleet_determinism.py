"""Determinism: the same seed and spec give byte-identical fleets and event logs, in any process."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cwsim.simulator.datto.fleet import generate_fleet
from cwsim.simulator.datto.offline import run_fleet, save_fleet
from cwsim.simulator.datto.settings import FleetSpec
from cwsim.simulator.datto.sinks import JsonLinesSink

from .fleetkit import CLIENTS, START, Run, quiet_spec

pytestmark = pytest.mark.slow  # each test generates whole fleets, most in several processes

DAY = 86400


def cwsim(*arguments: str, hash_seed: str, cwd: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "cwsim.scenarios.cli", *arguments],
        check=True,
        cwd=cwd,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        capture_output=True,
        timeout=300,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_event_log_is_byte_identical_across_processes_with_different_hash_seeds(tmp_path: Path) -> None:
    results = []
    for hash_seed in ("1", "2024"):
        folder = tmp_path / f"hash-{hash_seed}"
        folder.mkdir()
        cwsim("fleet", "generate", "--siris", "40", "--alto", "15", "--cloud", "3", "--seed", "17", "--out",
              "fleet.json", hash_seed=hash_seed, cwd=folder)  # fmt: skip
        cwsim("fleet", "run", "--fleet", "fleet.json", "--days", "14", "--out", "events.jsonl", "--truth",
              "truth.json", hash_seed=hash_seed, cwd=folder)  # fmt: skip
        results.append([digest(folder / name) for name in ("fleet.json", "events.jsonl", "truth.json")])
        assert (folder / "events.jsonl").stat().st_size > 100_000
    assert results[0] == results[1]


def run_into(path: Path, fleet, days: int, shards: int = 1, workers: int = 1) -> dict:
    sink = JsonLinesSink(path)
    report = run_fleet(fleet, days, sink, shards=shards, workers=workers)
    sink.close()
    return report


def test_shards_run_in_processes_or_in_one_give_the_same_bytes(tmp_path: Path) -> None:
    fleet = generate_fleet(FleetSpec(seed=5, siris=30, alto=10), CLIENTS, START)
    outputs = []
    for workers in (1, 2):
        report = run_into(tmp_path / f"events-{workers}.jsonl", fleet, 7, shards=2, workers=workers)
        outputs.append((digest(tmp_path / f"events-{workers}.jsonl"), report["events"]))
    assert outputs[0] == outputs[1]


def test_a_device_behaves_the_same_whatever_shard_it_is_in(tmp_path: Path) -> None:
    fleet = generate_fleet(FleetSpec(seed=5, siris=30, alto=10), CLIENTS, START)
    lines = []
    for shards in (1, 3):
        run_into(tmp_path / f"events-{shards}.jsonl", fleet, 7, shards=shards)
        lines.append(sorted((tmp_path / f"events-{shards}.jsonl").read_bytes().splitlines()))
    assert lines[0] == lines[1]


def test_a_fleet_file_runs_as_the_fleet_it_was_saved_from(tmp_path: Path) -> None:
    from cwsim.simulator.datto.offline import load_fleet

    fleet = generate_fleet(FleetSpec(seed=8, siris=10, alto=4), CLIENTS, START)
    save_fleet(fleet, tmp_path / "fleet.json")
    digests = []
    for source in (fleet, load_fleet(tmp_path / "fleet.json")):
        run_into(tmp_path / "events.jsonl", source, 5)
        digests.append(digest(tmp_path / "events.jsonl"))
    assert digests[0] == digests[1]


def test_a_reset_fleet_replays_the_same_events() -> None:
    spec = quiet_spec(rates=FleetSpec().rates)  # every rate at its default
    run = Run(spec)
    run.advance(5 * DAY)
    first = list(run.events)
    assert len(first) > 50
    run.simulation.restore()
    run.events.clear()
    run.advance(5 * DAY)
    assert run.events == first
