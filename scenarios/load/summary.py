"""A load test's summary as a person reads it: offered next to achieved, the lag, the backlog, the knee, the gates."""

from __future__ import annotations

from typing import Any


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def alerts_summary_lines(summary: dict[str, Any]) -> list[str]:
    """The alert load test's summary (and, when `cwsim load` added it, the accounting after the drain)."""
    posted, achieved, lag = summary["posted"], summary["achieved_per_second"], summary["lag_seconds"]
    steps = summary["mode"] == "steps"
    how = "stepped offered rate" if steps else "constant offered rate"
    lines = [
        f"alerts: {summary['appliances']} appliances x {summary['user_rate']:g} alerts/s for {summary['seconds']:.1f} s"
        f" ({how}) against {summary['host']}",
        f"  {'':22}{'offered':>10}{'achieved':>11}",
        f"  {'alerts posted /s':22}{_number(summary['offered_per_second']):>10}{_number(posted['per_second']):>11}"
        f"   {posted['acknowledged']:,} acknowledged, {posted['failures']:,} failed",
        f"  {'accepted /s':22}{'':>10}{_number(achieved['accepted']):>11}   by the intake",
        f"  {'delivered /s':22}{'':>10}{_number(achieved['delivered']):>11}   by the integration's workers",
    ]
    if achieved.get("tickets") is not None:
        lines.append(f"  {'tickets created /s':22}{'':>10}{_number(achieved['tickets']):>11}   in the fake ConnectWise")
    lines.append(
        f"  alert→ticket lag      p50 {_seconds(lag['p50'])}   p95 {_seconds(lag['p95'])}   p99 {_seconds(lag['p99'])}"
        f"   max {_seconds(lag['max'])}   ({lag['count']:,} alerts; {summary['emailed_only']:,} email only;"
        f" {summary['failed_deliveries']:,} failed)"
    )
    final = summary.get("final") or {}
    lines.append(f"  backlog when the load stopped: {final.get('depth', '-')}")
    if summary["steps"]:
        lines.append(f"  {'step offered':>14}{'accepted':>10}{'delivered':>11}{'backlog':>13}")
        for step in summary["steps"]:
            verdict = "keeps up" if step["keeping_up"] else f"does not keep up: {step['reason']}"
            lines.append(
                f"  {_number(step['offered']):>14}{_number(step['accepted_per_second']):>10}"
                f"{_number(step['delivered_per_second']):>11}{step['backlog_slope']:>+11.1f}/s  {verdict}"
            )
    if summary.get("knee") is not None:
        lines.append("  knee: " + describe_knee(summary["knee"]))
    drain = summary.get("after_drain")
    if drain is not None:
        lines.extend(_drain_lines(drain))
    if summary.get("workers"):
        each = ", ".join(f"{counts['alerts']:,}" for counts in summary["workers"].values())
        lines.append(f"  workers: {len(summary['workers'])} (alerts posted by each: {each})")
    lines.extend(_gate_lines(summary))
    return lines


def describe_knee(knee: dict[str, Any]) -> str:
    sustained = "no step" if knee["sustained"] is None else f"{knee['sustained']:g} alerts/s"
    if knee["breaks_at"] is None:
        return f"kept up with every step, up to {sustained}"
    return f"keeps up to {sustained}; at {knee['breaks_at']:g} alerts/s {knee['reason']}"


def _drain_lines(drain: dict[str, Any]) -> list[str]:
    if drain["drained"]:
        head = f"  after the drain ({drain['seconds']:.1f} s):"
    else:
        head = f"  NOT drained after {drain['seconds']:.1f} s ({drain['depth']:,} left):"
    lines = [
        f"{head} {drain['delivered']:,} delivered, {drain['failed']:,} failed, {drain['skipped']:,} skipped"
        f" of {drain['acknowledged']:,} acknowledged; lost {drain['lost']:,}"
    ]
    if drain.get("tickets_created") is not None:
        if drain.get("missing_tickets") is None:
            gap = "not comparable until the backlog is drained and nothing failed"
        else:
            gap = f"{drain['missing_tickets']:,} missing, {drain['extra_tickets']:,} extra"
        lines.append(
            f"  tickets: {drain['tickets_created']:,} created for {drain['tickets_expected']:,} alerts that make one"
            f" ({gap}); mail caught {drain.get('mail_caught', 0):,}"
        )
    return lines


def _gate_lines(summary: dict[str, Any]) -> list[str]:
    lines = []
    for index, line in enumerate(summary.get("gate_lines", [])):
        lines.append(("  gates: " if index == 0 else "         ") + line)
    return lines


def connectwise_summary_lines(summary: dict[str, Any]) -> list[str]:
    """The fake ConnectWise's load test: each kind of call, offered next to achieved."""
    offered = summary["offered_per_second"]
    lines = [
        f"connectwise: {summary['users']} integration users"
        + (f" x {summary['user_rate']:g} requests/s" if summary["user_rate"] else ", each as fast as answered")
        + f" for {summary['seconds']:.1f} s against {summary['host']}",
        f"  {'':34}{'offered':>9}{'achieved':>10}{'p50':>9}{'p95':>9}{'failed':>8}",
    ]
    for row in [*summary["requests"], summary["total"]]:
        lines.append(
            f"  {row['name'][:34]:34}{_number(row.get('offered_per_second')):>9}{_number(row['per_second']):>10}"
            f"{_number(row['p50_ms'], 0):>7}ms{_number(row['p95_ms'], 0):>7}ms{row['failures']:>8,}"
        )
    if offered is None:
        lines.append("  (offered: as fast as the fake answers, so achieved is its throughput under locust)")
    lines.extend(_gate_lines(summary))
    return lines
