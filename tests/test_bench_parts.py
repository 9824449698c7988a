"""The cheap parts of issue 16's benchmarks (the benchmarks themselves run in `make bench`, not here): the figures'
format, the process tree's CPU and memory, and the baseline commit's checkout."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from benchmarks.bench_query import BASELINE, baseline_checkout
from benchmarks.bench_startup import cpu_seconds, memory_mib, process_tree
from benchmarks.rounds import median_worst

REPOSITORY = Path(__file__).resolve().parent.parent


def test_a_figure_is_the_median_and_the_worst_of_its_rounds() -> None:
    assert median_worst([3.0, 1.0, 2.0]) == "2.00 (worst 1.00 of 3)"
    assert median_worst([1.5, 9.25, 2.0], max) == "2.00 (worst 9.25 of 3)"
    assert median_worst([1200.0, 3100.4, 2900.0], digits=0) == "2,900 (worst 1,200 of 3)"


def test_the_process_tree_its_cpu_and_memory_are_read_from_proc() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        tree = process_tree(os.getpid())
        assert tree[0] == os.getpid() and child.pid in tree
        assert cpu_seconds([os.getpid()]) > 0
        rss, pss = memory_mib([os.getpid()])
        assert rss > 1 and (pss is None or 0 < pss <= rss + 1)
    finally:
        child.kill()
        child.wait()


def _worktrees() -> str:
    return subprocess.run(
        ["git", "-C", str(REPOSITORY), "worktree", "list"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(not (REPOSITORY / ".git").exists(), reason="not a git checkout")
def test_the_baseline_is_a_temporary_worktree_of_the_commit_before_issue_16() -> None:
    with baseline_checkout() as path:
        server = path / "cwsim" / "simulator" / "server.py"
        assert server.is_file()
        assert "granian" not in server.read_text()  # before the issue's server work
        worktree = server.resolve().parent.parent
        assert str(worktree) in _worktrees()
        head = subprocess.run(
            ["git", "-C", str(worktree), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout
        assert head.startswith(BASELINE)
    assert not path.exists() and str(worktree) not in _worktrees()
