"""The fake ConnectWise alone, under the mix of calls an integration makes: open-ticket searches by conditions,
ticket creates, notes and patches, each user at an offered rate.

    locust -f connectwise.py --host http://127.0.0.1:8642 --cw-company cwsim --cw-public-key K --cw-private-key S \\
        --headless -u 8 -r 8 --user-rate 50 -t 30s --p95 0.2 --summary-file summary.json

`--user-rate 0` sends each user's next call as soon as the last is answered (the server's throughput under
locust); `--tags create` runs only the ticket creates (the benchmark compares those with a bare Flask app).
Run by locust only: it patches the standard library through gevent, so cwsim never imports this.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections import Counter, deque
from typing import Any

from locust import FastHttpUser, constant, constant_throughput, events, tag, task
from locust.env import Environment

from cwsim.scenarios.load.gates import Gate, exit_code
from cwsim.scenarios.load.quitting import report_on_quitting
from cwsim.scenarios.load.summary import connectwise_summary_lines

SEARCH = "GET /service/tickets?conditions"
CREATE = "POST /service/tickets"
NOTE = "POST /service/tickets/{id}/notes"
PATCH = "PATCH /service/tickets/{id}"
KEPT_TICKETS = 50  # each user's newest tickets, the ones it searches for, notes and patches
RUN = uuid.uuid4().hex[:8]


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--cw-company", env_var="CWSIM_CW_COMPANY", default="cwsim", help="the companyId")
    parser.add_argument("--cw-public-key", env_var="CWSIM_CW_PUBLIC_KEY", default="cwsim-public")
    parser.add_argument("--cw-private-key", env_var="CWSIM_CW_PRIVATE_KEY", default="cwsim-private", is_secret=True)
    parser.add_argument("--cw-client-id", env_var="CWSIM_CW_CLIENT_ID", default="cwsim-load")
    parser.add_argument("--cw-api-path", default="/v4_6_release/apis/3.0", help="the API's path on --host")
    parser.add_argument("--cw-companies", type=int, default=10, help="tickets go to companies 1..N")
    parser.add_argument("--cw-board", default="Datto Alerts", help="the board new tickets go on")
    parser.add_argument("--user-rate", type=float, default=0.0, help="calls/s each user offers (0: no wait)")
    parser.add_argument("--fail-ratio", type=float, default=None, help="gate: most failed requests, 0-1")
    parser.add_argument("--p95", type=float, default=None, help="gate: p95 response time of all calls, seconds")
    parser.add_argument("--summary-file", default="", help="write the summary here as JSON")


_user_numbers = itertools.count()


class Integration(FastHttpUser):
    """An integration's worker: finds the open ticket of an alert, creates tickets, adds notes, closes them."""

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.pace = constant_throughput(options.user_rate) if options.user_rate > 0 else constant(0)
        self.api = options.cw_api_path.rstrip("/")
        login = f"{options.cw_company}+{options.cw_public_key}:{options.cw_private_key}"
        self.headers = {
            "Authorization": "Basic " + base64.b64encode(login.encode()).decode(),
            "clientId": options.cw_client_id,
        }
        self.companies = max(1, options.cw_companies)
        self.board = options.cw_board
        self.number = next(_user_numbers)
        self.made = 0
        self.tickets: deque[tuple[int, str]] = deque(maxlen=KEPT_TICKETS)

    def wait_time(self) -> float:
        return self.pace(self)

    def _ticket(self) -> tuple[int, str] | None:
        """One of this user's tickets (made now if it has none yet)."""
        if not self.tickets:
            self.create_ticket()
        return self.tickets[self.made % len(self.tickets)] if self.tickets else None

    @tag("search")
    @task(4)
    def search_open_ticket(self) -> None:
        """The look-up before every delivery: the open ticket with the alert's externalXRef (half of them miss)."""
        known = self.tickets and self.made % 2 == 0
        xref = self.tickets[-1][1] if known else f"Datto:L{RUN}-none-{self.made}"
        self.made += 1
        conditions = f'externalXRef="{xref}" and closedFlag=false'
        self.client.get(
            f"{self.api}/service/tickets",
            params={"conditions": conditions, "orderBy": "id desc", "fields": "id", "pageSize": 1},
            headers=self.headers,
            name=SEARCH,
        )

    @tag("create")
    @task(2)
    def create_ticket(self) -> None:
        self.made += 1
        xref = f"Datto:L{RUN}u{self.number}t{self.made}"
        body = {
            "summary": f"Datto SIRIS 00012E94105B: Backup failed - FS{self.made % 100:02d}",
            "company": {"id": self.made % self.companies + 1},
            "board": {"name": self.board},
            "externalXRef": xref,
            "initialDescription": f"Backup failed on FS{self.made % 100:02d}.\nDatto event: {xref}:raise:1",
        }
        with self.client.post(
            f"{self.api}/service/tickets", json=body, headers=self.headers, name=CREATE, catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {(response.text or '')[:200]}")
                return
            try:
                self.tickets.append((int(response.json()["id"]), xref))
            except (ValueError, KeyError, TypeError):
                response.failure("the answer has no ticket id")

    @tag("note")
    @task(2)
    def add_note(self) -> None:
        ticket = self._ticket()
        if ticket is None:
            return
        self.made += 1
        body = {
            "text": f"Backup failed again (seen {self.made} times).\nDatto event: {ticket[1]}:repeat:{self.made}",
            "detailDescriptionFlag": True,
            "internalAnalysisFlag": False,
            "resolutionFlag": False,
        }
        self.client.post(f"{self.api}/service/tickets/{ticket[0]}/notes", json=body, headers=self.headers, name=NOTE)

    @tag("patch")
    @task(1)
    def patch_ticket(self) -> None:
        """What a clear does with close on clear: move the ticket to a closed status (a replace, safe to repeat)."""
        ticket = self._ticket()
        if ticket is None:
            return
        self.made += 1
        operations = [{"op": "replace", "path": "status", "value": {"name": "Closed"}}]
        self.client.patch(f"{self.api}/service/tickets/{ticket[0]}", json=operations, headers=self.headers, name=PATCH)


TASK_NAMES = {
    "search_open_ticket": SEARCH,
    "create_ticket": CREATE,
    "add_note": NOTE,
    "patch_ticket": PATCH,
}


@events.quitting.add_listener
def _on_quitting(environment: Environment, **kwargs: Any) -> None:
    report_on_quitting(environment, summarize, connectwise_summary_lines)


def summarize(environment: Environment) -> dict[str, Any]:
    """Each kind of call: offered (its share of users x rate) next to achieved, its latency and failures; the gates."""
    options = environment.parsed_options
    stats = environment.stats
    seconds = max(1e-9, (stats.total.last_request_timestamp or 0) - stats.total.start_time)
    users = int(options.num_users or 1)
    total_offered = users * options.user_rate if options.user_rate > 0 else None
    weights = Counter(TASK_NAMES.get(getattr(job, "__name__", ""), "") for job in Integration.tasks)
    share = {name: count / sum(weights.values()) for name, count in weights.items()}

    def row(entry: Any, name: str, offered: float | None) -> dict[str, Any]:
        return {
            "name": name,
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "offered_per_second": offered,
            "per_second": round(entry.num_requests / seconds, 3),
            "p50_ms": entry.get_response_time_percentile(0.5) if entry.num_requests else None,
            "p95_ms": entry.get_response_time_percentile(0.95) if entry.num_requests else None,
        }

    requests = [
        row(stats.get(name, name.split()[0]), name, total_offered * share[name] if total_offered else None)
        for name in (SEARCH, CREATE, NOTE, PATCH)
        if stats.get(name, name.split()[0]).num_requests or name in share
    ]
    total = stats.total
    p95 = total.get_response_time_percentile(0.95) / 1000 if total.num_requests else None
    failure_ratio = total.fail_ratio if total.num_requests else None
    gates = []
    if options.fail_ratio is not None:
        gates.append(Gate("failure ratio", options.fail_ratio, failure_ratio, "%"))
    if options.p95 is not None:
        gates.append(Gate("p95 response time", options.p95, p95, "s"))
    return {
        "locustfile": "connectwise",
        "host": environment.host,
        "seconds": round(seconds, 3),
        "users": users,
        "user_rate": options.user_rate,
        "offered_per_second": total_offered,
        "requests": requests,
        "total": row(total, "all calls", total_offered),
        "failure_ratio": failure_ratio,
        "gates": [gate.as_json() for gate in gates],
        "gate_lines": [gate.describe() for gate in gates],
        "exit_code": exit_code(gates),
    }
