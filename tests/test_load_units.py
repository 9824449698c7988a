"""The plain-Python side of the load tests: steps and the knee, gates, durations, payloads, bad input; and the rule
that only the locustfiles import locust (none of this starts locust)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cwsim.scenarios import cli
from cwsim.scenarios.load.gates import (
    GATE_FAILED_EXIT_CODE,
    AlertLimits,
    Gate,
    alert_gates,
    default_max_backlog_growth,
    drain_gates,
    exit_code,
)
from cwsim.scenarios.load.knee import Sample, Step, figures, knee, parse_steps, plan, slope
from cwsim.scenarios.load_commands import UsageError, add_drain_gates, alert_limits, parse_duration
from cwsim.scenarios.load_payloads import LoadFleet, draw_alerts, read_payloads, write_payloads

ROOT = Path(__file__).resolve().parent.parent


def samples(rate_in: float, rate_out: float, seconds: int, start: float = 0.0, depth: int = 0) -> list[Sample]:
    """A second-by-second record of an intake taking `rate_in` and workers delivering `rate_out`."""
    found = []
    for second in range(seconds + 1):
        accepted = int(rate_in * second)
        delivered = int(min(rate_in, rate_out) * second)
        found.append(Sample(start + second, accepted, depth + accepted - delivered, delivered, 0, delivered))
    return found


def test_a_step_that_keeps_up_and_one_whose_backlog_grows() -> None:
    steps = plan([100, 200], 10)
    assert steps == [Step(100, 0, 10), Step(200, 10, 20)]
    record = samples(100, 150, 10) + samples(200, 150, 10, start=11)
    calm, busy = (figures(record, step) for step in steps)
    assert calm is not None and busy is not None
    assert calm.keeping_up and calm.accepted_per_second == pytest.approx(100) and calm.backlog_slope == 0
    assert not busy.keeping_up and busy.backlog_slope == pytest.approx(50) and "backlog grew" in busy.reason
    assert busy.delivered_per_second == pytest.approx(150) and busy.tickets_per_second == pytest.approx(150)
    assert knee([calm, busy]) == {"sustained": 100, "breaks_at": 200, "reason": busy.reason}
    assert knee([calm])["breaks_at"] is None


def test_an_intake_that_takes_less_than_offered_is_a_knee_too() -> None:
    short = figures(samples(60, 1000, 10), Step(100, 0, 10))
    assert short is not None and not short.keeping_up and "took 60 of 100" in short.reason


def test_a_little_backlog_growth_is_noise_and_too_few_samples_judge_nothing() -> None:
    wobble = [Sample(t, 100 * t, 10 + (t % 2) * 4, 100 * t, 0) for t in range(11)]
    assert figures(wobble, Step(100, 0, 10)).keeping_up  # type: ignore[union-attr]
    assert figures(wobble[:2], Step(100, 0, 10)) is None
    assert slope([(0, 0), (1, 2), (2, 4)]) == 2 and slope([(1, 5)]) == 0 and slope([(1, 5), (1, 7)]) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [("100,abc", "separated by commas"), ("", "at least one"), ("0,100", "above 0"), ("200,100", "must rise")],
)
def test_bad_steps_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_steps(text)
    assert parse_steps("100, 200,300") == [100, 200, 300]


def test_gates_pass_at_their_limit_and_fail_past_it_or_unmeasured() -> None:
    ratio = Gate("failure ratio", 0.01, 0.01, "%")
    lag = Gate("p95 alert→ticket lag", 1.0, 1.2, "s")
    unmeasured = Gate("backlog at the end", 10, None)
    assert ratio.passed and not lag.passed and not unmeasured.passed
    assert ratio.describe() == "failure ratio 1.00% (limit 1.00%): pass"
    assert lag.describe() == "p95 alert→ticket lag 1.200 s (limit 1.000 s): FAIL"
    assert unmeasured.describe() == "backlog at the end not measured (limit 10): FAIL"
    assert exit_code([]) is None and exit_code([ratio]) == 0
    assert exit_code([ratio, lag]) == GATE_FAILED_EXIT_CODE


def measured_run(rate_in: float, rate_out: float, lag: float, failure_ratio: float = 0.0) -> dict[str, float | None]:
    """What a constant-rate run of 30 s measures when the intake takes `rate_in` and the workers deliver `rate_out`."""
    step = figures(samples(rate_in, rate_out, 30), Step(rate_in, 0, 30))
    assert step is not None
    return {"failure_ratio": failure_ratio, "p95_lag": lag, "backlog_growth": step.backlog_slope, "backlog_at_end": 0}


def cli_limits(*arguments: str, rate: float | None = 200) -> AlertLimits:
    args = cli.build_parser().parse_args(["load", "alerts", *arguments])
    return alert_limits(args, rate)


def verdicts(gates: list[Gate]) -> dict[str, bool]:
    return {gate.name: gate.passed for gate in gates}


def test_cwsim_load_alerts_holds_a_run_to_lag_and_backlog_growth_by_default() -> None:
    """The run of the issue: 200 alerts/s offered, the workers 50/s short, p95 lag 15 s, no request failed."""
    defaults = cli_limits()
    assert defaults == AlertLimits(fail_ratio=0.01, p95_lag=1.0, max_backlog_growth=10.0, max_backlog=None)
    behind = alert_gates(defaults, **measured_run(200, 150, lag=15.0))
    assert verdicts(behind) == {"failure ratio": True, "p95 alert→ticket lag": False, "backlog growth": False}
    assert exit_code(behind) == GATE_FAILED_EXIT_CODE
    keeping_up = alert_gates(defaults, **measured_run(200, 250, lag=0.3))
    assert all(verdicts(keeping_up).values()) and exit_code(keeping_up) == 0
    # the negative control: the failure ratio alone (the old default) passed the run that fell behind
    assert exit_code(alert_gates(AlertLimits(fail_ratio=0.01), **measured_run(200, 150, lag=15.0))) == 0


def test_each_limit_is_set_by_its_option_and_off_leaves_a_gate_out() -> None:
    limits = cli_limits("--p95-lag", "20s", "--max-backlog-growth", "60", "--max-backlog", "5000", "--fail-ratio", "0")
    assert limits == AlertLimits(fail_ratio=0, p95_lag=20.0, max_backlog_growth=60, max_backlog=5000)
    assert all(verdicts(alert_gates(limits, **measured_run(200, 150, lag=15.0))).values())  # within the looser limits
    off = cli_limits("--p95-lag", "off", "--max-backlog-growth", "none")
    assert off.p95_lag is None and off.max_backlog_growth is None
    assert set(verdicts(alert_gates(off, **measured_run(200, 150, lag=15.0)))) == {"failure ratio"}
    assert cli_limits(rate=40).max_backlog_growth == default_max_backlog_growth(40) == 3  # at least 3 alerts/s
    # a knee search outruns the integration on purpose: only the gates asked for
    assert cli_limits(rate=None) == AlertLimits(fail_ratio=0.01)
    assert cli_limits("--p95-lag", "2s", rate=None) == AlertLimits(fail_ratio=0.01, p95_lag=2.0)


def test_a_backlog_that_grows_past_its_limit_fails_and_one_within_it_passes() -> None:
    limits = AlertLimits(max_backlog_growth=10.0)
    assert verdicts(alert_gates(limits, **measured_run(200, 195, lag=0.1))) == {"backlog growth": True}  # 5/s
    assert verdicts(alert_gates(limits, **measured_run(200, 180, lag=0.1))) == {"backlog growth": False}  # 20/s
    unmeasured = alert_gates(limits, failure_ratio=0, p95_lag=0.1, backlog_growth=None, backlog_at_end=0)
    assert unmeasured[0].describe() == "backlog growth not measured (limit +10.0/s): FAIL"


def after_drain(**changes: int | None) -> dict[str, int | bool | None]:
    drained = {"drained": True, "depth": 0, "lost": 0, "missing_tickets": 0, "extra_tickets": 0}
    return {**drained, **changes}


def test_the_accounting_after_the_drain_fails_on_lost_alerts_tickets_or_a_backlog_left() -> None:
    assert all(verdicts(drain_gates(after_drain(), 0, 0)).values())
    assert verdicts(drain_gates(after_drain(lost=2), 0, 0))["alerts lost"] is False
    assert verdicts(drain_gates(after_drain(missing_tickets=1), 0, 0))["alerts lost"] is False
    assert verdicts(drain_gates(after_drain(missing_tickets=1), 1, 0))["alerts lost"] is True  # --max-lost 1
    assert verdicts(drain_gates(after_drain(extra_tickets=1), 0, 0))["extra tickets"] is False
    assert verdicts(drain_gates(after_drain(extra_tickets=1), 0, 1))["extra tickets"] is True  # --max-extra 1
    not_drained = drain_gates(after_drain(drained=False, depth=40, missing_tickets=None, extra_tickets=None), 0, 0)
    assert verdicts(not_drained) == {"left after the drain": False, "alerts lost": True}


def test_the_drain_gates_join_locusts_in_the_summary_and_name_the_failures() -> None:
    summary = {
        "gates": [Gate("failure ratio", 0.01, 0.0, "%").as_json()],
        "gate_lines": ["failure ratio 0.00% (limit 1.00%): pass"],
        "after_drain": after_drain(lost=3),
    }
    assert add_drain_gates(summary, 0, 0) == ["alerts lost"]
    assert [gate["name"] for gate in summary["gates"]] == [
        "failure ratio",
        "left after the drain",
        "alerts lost",
        "extra tickets",
    ]
    assert summary["gate_lines"][2] == "alerts lost 3 (limit 0): FAIL"


@pytest.mark.parametrize(
    ("text", "seconds"), [("60s", 60), ("2m", 120), ("1m30s", 90), ("500ms", 0.5), ("90", 90), ("1h", 3600)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["abc", "", "-5", "0", "10x", "25h", "m"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_payloads_are_raises_drawn_from_the_fleet_the_same_every_time(tmp_path: Path) -> None:
    fleet = LoadFleet(seed=3, siris=4, alto=2, days=7)
    first = write_payloads(fleet, tmp_path / "a.json")
    write_payloads(fleet, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()  # the same on every worker
    alerts = read_payloads(tmp_path / "a.json")
    assert {alert["event"] for alert in alerts} == {"raise"}
    assert sum(first["categories"].values()) == len(alerts) and first["appliances"] <= 6
    assert all(isinstance(alert["category"], str) and alert["recipients"] for alert in alerts)
    assert draw_alerts(LoadFleet(seed=4, siris=4, alto=2, days=7)) != alerts


# -- the command's bad input: a clear message, exit 2, no traceback, nothing started -----------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["alerts", "--rate", "-5"], "--rate must be above 0"),
        (["alerts", "--users", "many"], "--users must be a whole number"),
        (["alerts", "--duration", "soon"], "is not a duration"),
        (["alerts", "--fail-ratio", "2"], "--fail-ratio must be at least 0 and at most 1"),
        (["alerts", "--p95-lag", "fast"], "is not a duration"),
        (["alerts", "--max-backlog-growth", "lots"], "--max-backlog-growth must be a number"),
        (["alerts", "--max-lost", "-1"], "--max-lost must be from 0"),
        (["alerts", "--max-extra", "x"], "--max-extra must be a whole number"),
        (["alerts", "--steps", "300,100"], "--steps: steps must rise"),
        (["alerts", "--steps", "100,200", "--rate", "50"], "leave out --users, --rate and --duration"),
        (["alerts", "--workers", "0"], "--workers must be from 1 to 64"),
        (["alerts", "--csv", "/tmp"], "is a folder"),
        (["connectwise", "--tasks", "create,delete"], "no such call delete"),
        (["connectwise", "--rate", "x"], "--rate must be a number"),
        (["connectwise", "--locust-workers", "-1"], "--locust-workers must be from 0 to 64"),
        (["locustfile", "nothing"], "no locustfile 'nothing'"),
    ],
)
def test_bad_input_is_a_clear_message(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main(["load", *arguments, *(["--workdir", str(tmp_path)] if arguments[0] != "locustfile" else [])]) == 2
    error = capsys.readouterr().err
    assert error.startswith("cwsim load: ") and message in error
    assert list(tmp_path.iterdir()) == []  # nothing was started


def test_the_locustfile_command_prints_an_installed_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["load", "locustfile", "alerts"]) == 0
    assert Path(capsys.readouterr().out.strip()) == ROOT / "scenarios" / "load" / "alerts.py"


# -- locust stays out of cwsim ---------------------------------------------------------------------------


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


IMPORTS_QUITTING = re.compile(r"^\s*from \S*load(\.quitting import| import quitting)|^\s*from \.quitting import", re.M)


def test_only_the_locustfiles_import_locust_or_gevent() -> None:
    importers = {
        path.relative_to(ROOT).as_posix()
        for part in ("simulator", "integration", "scenarios", "benchmarks")
        for path in (ROOT / part).rglob("*.py")
        if imports_of(path) & {"locust", "gevent"}
    }
    # quitting.py is the locustfiles' shared quitting listener, imported by them alone (checked next).
    assert importers == {"scenarios/load/alerts.py", "scenarios/load/connectwise.py", "scenarios/load/quitting.py"}
    quitting_importers = {
        path.relative_to(ROOT).as_posix()
        for part in ("simulator", "integration", "scenarios", "benchmarks")
        for path in (ROOT / part).rglob("*.py")
        if IMPORTS_QUITTING.search(path.read_text())
    }
    assert quitting_importers == {"scenarios/load/alerts.py", "scenarios/load/connectwise.py"}


def test_the_locustfiles_need_nothing_of_the_simulator_or_the_integration() -> None:
    for name in ("alerts", "connectwise", "gates", "knee", "summary", "quitting"):
        tree = ast.parse((ROOT / "scenarios" / "load" / f"{name}.py").read_text())
        modules = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not [module for module in modules if "simulator" in module or "integration" in module], name


def test_the_cwsim_command_never_loads_locust() -> None:
    probe = "import sys, cwsim.scenarios.cli; print(sorted(m for m in ('locust', 'gevent') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
