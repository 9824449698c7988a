"""Alert throughput under locust, end to end, and the fake's ticket creation against a bare Flask app under locust.

- the knee: the alerts locustfile steps the offered rate (10 s a step) until the integration stops keeping up;
- sustained: 60 s at the target rate (300 alerts/s; at the knee when that is lower), on fresh processes; every alert
  accounted for after the drain (none lost, no ticket missing or extra), the alert→ticket lag from one measurement
  per alert, and the CPU each process spent (the fake, the integration's delivery and intake processes, locust);
  then 60 s the same way at the aim (400 alerts/s), reported; then the first minute again with the intake as it was
  before it had a process of its own (waitress, in the run process), for the ratio in the same run;
- the fake alone: the connectwise locustfile's ticket-create task (the same FastHttpUser, as fast as answered)
  against `cwsim serve` and against `benchmarks/bare_flask.py`, alternating, best of each.

Targets (performance issue): >= 300 alerts/s end to end for a minute (aim for 400) with p95 lag <= 1 s and none lost;
ticket creation >= 0.5 of the bare Flask rate under locust. Everything shares the machine's cores: the fake, the
integration and locust, which is why the CPU each spends per alert is printed: it says how far the cores can go.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cwsim.scenarios.load.knee import parse_steps
from cwsim.scenarios.load.summary import alerts_summary_lines, describe_knee
from cwsim.scenarios.load_payloads import LoadFleet
from cwsim.scenarios.load_runner import (
    AlertStack,
    Counters,
    LocustRun,
    account,
    drain,
    run_locust,
    start_alert_stack,
    start_fake,
)
from cwsim.scenarios.processes import start

from . import cpu_split
from .bench_alerts import machine
from .quiet import wait_for_quiet

KNEE_STEPS = "150,200,225,250,275,300,325,350,400,450,500"
STEP_SECONDS = 10.0
USER_RATE = 10.0  # alerts/s per appliance user
SUSTAINED_SECONDS = 60.0
WORKERS = 8  # the integration's delivery threads
CREATE_USERS = 8
CREATE_SECONDS = 10.0
# Alternating fake / bare rounds, so a passing load on the machine hits both alike; best of each. On
# these VMs one configuration measured 844-1,431 creates/s from run to run: two rounds were too few.
ROUNDS = 4
TARGETS = {"alerts/s": 300.0, "p95 lag": 1.0, "creation ratio": 0.5}
KEPT_UP = 0.99  # delivered / offered over the minute
AIM = 400.0  # alerts/s: the aim beyond the target, run and reported
OLD_INTAKE = "waitress"  # the intake as it was: waitress threads in the run process, beside the workers


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def alerts_run(stack: AlertStack, workdir: Path, users: int, seconds: float, **options: Any) -> LocustRun:
    return LocustRun(
        "alerts",
        stack.intake,
        users=users,
        spawn_rate=users + 1,
        seconds=seconds,
        workdir=workdir,
        options={"payloads": stack.payloads, "sim_url": stack.fake_url, "fail_ratio": 0.01, **options},
        csv_prefix=workdir / "alerts",
    )


def find_knee(workdir: Path) -> dict[str, Any]:
    stack = start_alert_stack(workdir, LoadFleet(), WORKERS)
    try:
        steps = parse_steps(KNEE_STEPS)
        users = int(-(-steps[-1] // USER_RATE))
        run = alerts_run(
            stack, workdir, users, STEP_SECONDS * len(steps) + 5, user_rate=USER_RATE, rate_steps=KNEE_STEPS
        )
        run.options["step_seconds"] = STEP_SECONDS
        result = run_locust(run)
        if result.summary is None:
            raise SystemExit(f"the knee run failed (exit {result.exit_code}):\n{result.log[-3000:]}")
        return result.summary
    finally:
        stack.stop()


def sustain(workdir: Path, rate: float, intake_server: str | None = None) -> dict[str, Any]:
    """The minute at `rate`; its summary, with the accounting after the drain and the CPU each process spent."""
    stack = start_alert_stack(workdir, LoadFleet(), WORKERS, intake_server)
    try:
        users = max(1, round(rate / USER_RATE))
        before = Counters.read(stack)
        run = alerts_run(stack, workdir, users, SUSTAINED_SECONDS, user_rate=rate / users, p95_lag=TARGETS["p95 lag"])
        cpu_before = cpu_split.sample(stack)
        result = run_locust(run)
        cpu_window = cpu_split.sample(stack)
        if result.summary is None:
            raise SystemExit(f"the sustained run failed (exit {result.exit_code}):\n{result.log[-3000:]}")
        drained, waited = drain(stack, 120)
        result.summary["after_drain"] = account(result.summary, before, Counters.read(stack), drained, waited)
        result.summary["cpu"] = {
            "window": cpu_split.grown(cpu_before, cpu_window),
            "whole": cpu_split.grown(cpu_before, cpu_split.sample(stack)),
        }
        return result.summary
    finally:
        stack.stop()


def create_rate(workdir: Path, host: str, facts: dict[str, Any]) -> float:
    run = LocustRun(
        "connectwise",
        host,
        users=CREATE_USERS,
        spawn_rate=CREATE_USERS,
        seconds=CREATE_SECONDS,
        workdir=workdir,
        options={
            "cw_company": facts.get("companyId", "cwsim"),
            "cw_public_key": facts.get("publicKey", "cwsim-public"),
            "cw_private_key": facts.get("privateKey", "cwsim-private"),
            "user_rate": 0,
        },
        tags=["create"],
    )
    result = run_locust(run)
    if result.summary is None or result.summary["total"]["failures"]:
        raise SystemExit(f"the ticket-create run against {host} failed:\n{result.log[-3000:]}")
    return float(result.summary["total"]["per_second"])


def compare_creation(workdir: Path) -> tuple[list[float], list[float]]:
    """Creates/s of each round: the fake's and the bare app's, alternating."""
    fake = start_fake(workdir / "fake")
    bare = start("bare-flask", [sys.executable, "-m", "benchmarks.bare_flask", "--port", "0"], workdir / "bare")
    try:
        ours: list[float] = []
        theirs: list[float] = []
        for round_number in range(ROUNDS):
            ours.append(create_rate(workdir / f"fake-{round_number}", fake.facts["url"], fake.facts))
            theirs.append(create_rate(workdir / f"bare-{round_number}", bare.facts["url"], {}))
        return ours, theirs
    finally:
        fake.stop()
        bare.stop()


@dataclass
class Minute:
    """What a minute under load came to."""

    delivered: float  # alerts/s delivered over the minute
    p95: float | None  # seconds, intake to ticket
    lost: int
    backlog: int  # alerts left when the load stopped
    integration_ms: float  # the integration's CPU (both its processes) per alert, to the drain


def report_minute(workdir: Path, rate: float, intake_server: str | None = None) -> Minute:
    """Sustain `rate` for the minute and print its summary and its CPU split.

    Lost counts alerts never delivered and tickets missing or extra; when the tickets could not be
    counted, every alert counts as lost.
    """
    print(f"  before the minute at {rate:g} alerts/s: {wait_for_quiet()}")
    summary = sustain(workdir, rate, intake_server)
    drain_figures = summary["after_drain"]
    which = f" (intake: {intake_server})" if intake_server else ""
    print(f"  sustained, {SUSTAINED_SECONDS:g} s at {rate:g} alerts/s offered{which}:")
    for line in alerts_summary_lines(summary):
        print("  " + line)
    cpu, alerts = summary["cpu"], drain_figures["acknowledged"]
    for line in cpu_split.split_lines(cpu["window"], SUSTAINED_SECONDS, cpu["whole"], alerts):
        print("  " + line)
    integration = cpu["whole"]["integration: delivery"] + cpu["whole"]["integration: intake"]
    if drain_figures["missing_tickets"] is None:
        lost = drain_figures["acknowledged"]
    else:
        lost = drain_figures["lost"] + drain_figures["missing_tickets"] + (drain_figures["extra_tickets"] or 0)
    backlog = int(summary["final"]["depth"]) if summary.get("final") else drain_figures["acknowledged"]
    delivered = summary["achieved_per_second"]["delivered"] or 0.0
    per_alert = 1000 * integration / alerts if alerts else 0.0
    return Minute(delivered, summary["lag_seconds"]["p95"], lost, backlog, per_alert)


def per_second(rates: list[float]) -> str:
    return ", ".join(f"{rate:,.0f}/s" for rate in rates)


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def fraction(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "-"


def verdict(met: bool) -> str:
    return "ok" if met else "BELOW TARGET"


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="cwsim-bench-load-"))
    print(f"Load benchmark (locust headless, one process, FastHttpUser) on {machine()}")
    print(f"  load average before: {load_average()}; files in {workdir}")

    knee_summary = find_knee(workdir / "knee")
    knee = knee_summary["knee"]
    print(f"  knee ({STEP_SECONDS:g} s steps of {KNEE_STEPS} alerts/s): {describe_knee(knee)}")
    for step in knee_summary["steps"]:
        print(
            f"    offered {step['offered']:6.0f}  accepted {step['accepted_per_second']:6.1f}"
            f"  delivered {step['delivered_per_second']:6.1f}  backlog {step['backlog_slope']:+7.1f}/s"
            f"  {'keeps up' if step['keeping_up'] else 'does not keep up'}"
        )

    # The knee is capacity over 10 s; the target is a rate held for a minute with a low lag, so the
    # minute runs at the target rate (or at the knee, when the knee is lower); then a minute at the aim.
    rate = min(knee["sustained"] or parse_steps(KNEE_STEPS)[0], TARGETS["alerts/s"])
    held = report_minute(workdir / "sustained", rate)
    # Offered exactly the target, a minute delivers a hair under it when its last posts are
    # delivered after the window closes; kept up means that hair and a backlog under a second's worth.
    alerts_met = (
        held.delivered >= KEPT_UP * TARGETS["alerts/s"] and held.backlog <= TARGETS["alerts/s"] and held.lost == 0
    )
    lag_met = held.p95 is not None and held.p95 <= TARGETS["p95 lag"]
    print(
        f"  => held {held.delivered:.1f} alerts/s delivered of {rate:g} offered, backlog {held.backlog} at the stop,"
        f" {held.lost} lost (target: {TARGETS['alerts/s']:.0f} kept up, none lost) {verdict(alerts_met)};"
        f" p95 lag {seconds(held.p95)} (target <= {TARGETS['p95 lag']:g} s) {verdict(lag_met)}"
    )
    aim = report_minute(workdir / "aim", AIM)
    print(
        f"  => at the aim: {aim.delivered:.0f} alerts/s delivered of {AIM:g} offered, backlog {aim.backlog} at the"
        f" stop, {aim.lost} lost; p95 lag {seconds(aim.p95)} (reported, not a target)"
    )
    old = report_minute(workdir / "old-intake", rate, OLD_INTAKE)
    print(
        f"  => the old intake ({OLD_INTAKE} in the run process) at {rate:g} offered: {old.delivered:.1f} alerts/s"
        f" delivered, p95 lag {seconds(old.p95)}, {old.lost} lost;"
        f" integration CPU per alert {old.integration_ms:.2f} ms, now {held.integration_ms:.2f} ms"
        f" (then / now {fraction(old.integration_ms, held.integration_ms)});"
        f" delivered/s now / then {fraction(held.delivered, old.delivered)}"
    )

    print(f"  before ticket creation: {wait_for_quiet()}")
    rounds, bare_rounds = compare_creation(workdir / "create")
    ours, theirs = max(rounds), max(bare_rounds)
    ratio = ours / theirs if theirs else 0.0
    ratio_met = ratio >= TARGETS["creation ratio"]
    print(
        f"  ticket creation under locust ({CREATE_USERS} FastHttpUsers, no wait, {CREATE_SECONDS:g} s a round, best of"
        f" {ROUNDS}): cwsim {ours:.0f}/s, bare Flask {theirs:.0f}/s, ratio {ratio:.2f}"
        f" (target >= {TARGETS['creation ratio']}) {verdict(ratio_met)}"
    )
    print(f"    rounds: cwsim {per_second(rounds)}; bare Flask {per_second(bare_rounds)}")
    print(f"  load average after: {load_average()}")
    return 0 if alerts_met and lag_met and ratio_met else 1


if __name__ == "__main__":
    sys.exit(main())
