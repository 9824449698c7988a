"""The fake ConnectWise against a bare Flask app on the same server: ticket creation and a ticket query.

Targets (foundation issue): creation >= 0.6 of the bare-Flask rate; the query >= 0.3.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import requests

from cwsim.scenarios.processes import ManagedProcess, cwsim_command, start

from .wrk import get_script, post_script, run_wrk

TICKETS = 10_000
QUERY_COMPANY = 8
CONDITIONS = f'board/name="Datto Alerts" and status/name!="Closed" and company/id={QUERY_COMPANY}'
QUERY = f"conditions={quote(CONDITIONS)}&orderBy={quote('id desc')}&pageSize=25"
TICKET_BODY = {"summary": "Datto SIRIS 00012E94105B: Backup failed - FS01", "company": {"id": 3}, "board": {"id": 2}}
TARGETS = {"ticket creation": 0.6, "ticket query": 0.3}


def cw_headers(facts: dict) -> dict[str, str]:
    token = base64.b64encode(f"{facts['companyId']}+{facts['publicKey']}:{facts['privateKey']}".encode()).decode()
    return {"Authorization": f"Basic {token}", "clientId": "bench", "Content-Type": "application/json"}


def start_cwsim() -> ManagedProcess:
    return start("cwsim", cwsim_command("serve", "--port", "0", "--smtp-port", "0"))


def start_bare() -> ManagedProcess:
    return start("bare-flask", [sys.executable, "-m", "benchmarks.bare_flask", "--port", "0"])


def seed_tickets(api_url: str, headers: dict[str, str], companies: int, tickets: int = TICKETS) -> None:
    """10,000 tickets (or `tickets`) over every company: most on Datto Alerts, a third of those closed."""

    def create(chunk: range) -> None:
        with requests.Session() as session:
            session.headers.update(headers)
            for number in chunk:
                datto = number % 10 < 7
                body = {
                    "summary": f"Ticket {number}",
                    "company": {"id": number % companies + 1},
                    "board": {"name": "Datto Alerts" if datto else "Help Desk"},
                }
                if datto and number % 3 == 0:
                    body["status"] = {"name": "Closed"}
                session.post(f"{api_url}/service/tickets", json=body, timeout=30).raise_for_status()

    chunks = [range(start, tickets, 4) for start in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, chunks))


def seed_bare(url: str, headers: dict[str, str]) -> None:
    with requests.Session() as session:
        for number in range(TICKETS):
            body = {"summary": f"Ticket {number}", "company": {"id": number % 36 + 1}}
            session.post(f"{url}/v4_6_release/apis/3.0/service/tickets", json=body, headers=headers, timeout=30)


ROUNDS = 2  # runs alternate cwsim / bare so a passing load on the machine hits both alike


def alternate(ours: tuple[str, Path], theirs: tuple[str, Path]) -> tuple[float, float]:
    """The best of ROUNDS alternating wrk runs against each server."""
    best_ours = best_theirs = 0.0
    for _ in range(ROUNDS):
        for target, is_ours in ((ours, True), (theirs, False)):
            result = run_wrk(*target)
            if result.non_2xx or result.errors:
                print(f"  warning: {'cwsim' if is_ours else 'bare'}: {result.non_2xx} non-2xx {result.errors}")
            if is_ours:
                best_ours = max(best_ours, result.requests_per_second)
            else:
                best_theirs = max(best_theirs, result.requests_per_second)
    return best_ours, best_theirs


def measure_creation() -> tuple[float, float]:
    cwsim, bare = start_cwsim(), start_bare()
    try:
        headers = cw_headers(cwsim.facts)
        script = post_script(json.dumps(TICKET_BODY), headers)
        return alternate(
            (f"{cwsim.facts['api_url']}/service/tickets", script),
            (f"{bare.facts['url']}/v4_6_release/apis/3.0/service/tickets", script),
        )
    finally:
        cwsim.stop()
        bare.stop()


def measure_query() -> tuple[float, float]:
    cwsim, bare = start_cwsim(), start_bare()
    try:
        headers = cw_headers(cwsim.facts)
        seed_tickets(cwsim.facts["api_url"], headers, companies=36)
        seed_bare(bare.facts["url"], headers)
        check = requests.get(f"{cwsim.facts['api_url']}/service/tickets?{QUERY}", headers=headers, timeout=30)
        check.raise_for_status()
        assert len(check.json()) == 25, "the benchmark query should fill a page"
        script = get_script(headers)
        return alternate(
            (f"{cwsim.facts['api_url']}/service/tickets?{QUERY}", script),
            (f"{bare.facts['url']}/v4_6_release/apis/3.0/service/tickets?{QUERY}&company={QUERY_COMPANY}", script),
        )
    finally:
        cwsim.stop()
        bare.stop()


def main() -> int:
    print(
        f"API benchmark: wrk -t2 -c16 -d10s (best of {ROUNDS}, alternating), waitress with 8 threads,\n"
        f"  on {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()})"
    )
    failed = False
    for label, measure in (("ticket creation", measure_creation), ("ticket query", measure_query)):
        ours, theirs = measure()
        ratio = ours / theirs if theirs else 0.0
        verdict = "ok" if ratio >= TARGETS[label] else "BELOW TARGET"
        failed |= ratio < TARGETS[label]
        print(
            f"  {label:16} cwsim {ours:8.0f} req/s   bare Flask {theirs:8.0f} req/s   "
            f"ratio {ratio:.2f} (target >= {TARGETS[label]})  {verdict}"
        )
    return 1 if failed else 0
