"""Alert throughput, end to end: appliances post alerts to the integration's intake at an offered rate; a poller turns
each finished delivery into an alert→ticket lag measurement; a step shape finds the knee.

    locust -f alerts.py --host http://127.0.0.1:8650 --payloads payloads.json --sim-url http://127.0.0.1:8642 \\
        --headless -u 20 -r 21 --user-rate 5 -t 60s --p95-lag 1 --max-backlog 100 --summary-file summary.json

`--host` is the integration's intake; `-u` counts appliances (the poller comes on top); the offered rate is
`-u` x `--user-rate` alerts/s. With `--rate-steps 100,200,300 --step-seconds 15` the shape steps the offered
rate instead and stops at the first step the integration cannot keep up with. Payloads come from a file of
alerts drawn from the fleet simulator (`cwsim load payloads`); every post is a new alert (a fresh alertKey and
eventId). Run by locust only: it patches the standard library through gevent, so cwsim never imports this.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import requests
from locust import FastHttpUser, LoadTestShape, User, constant_pacing, constant_throughput, events, task
from locust.env import Environment
from locust.runners import WorkerRunner
from requests.auth import AuthBase

from cwsim.scenarios.load.gates import AlertLimits, alert_gates, exit_code
from cwsim.scenarios.load.knee import Sample, Step, figures, knee, parse_steps, plan
from cwsim.scenarios.load.quitting import report_on_quitting
from cwsim.scenarios.load.summary import alerts_summary_lines

log = logging.getLogger("cwsim.load.alerts")

LAG_NAME = "alert→ticket"
EMAIL_NAME = "alert→email"
E2E = "E2E"
COUNTERS_MESSAGE = "cwsim-counters"
POLL_SECONDS = 1.0
HTTP_TIMEOUT = 5.0
FINISHED_PAGE = 5000
FINISHED_PAGES = 5  # per poll: at most 25,000 deliveries a second
REORDER_MARGIN = 1.0  # workers stamp finished_at just before they commit; ask again from this far back
EVALUATE_AFTER = 1.5  # a step is judged this long after it ends, once its last samples are in
RUN = uuid.uuid4().hex[:8]  # this process's mark in every alert key, so runs and workers never collide


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser  # locust's own add_argument (an argument group's does not take is_secret)
    group.add_argument(
        "--payloads", env_var="CWSIM_LOAD_PAYLOADS", default="", help="alerts drawn from the fleet (JSON file)"
    )
    group.add_argument(
        "--sim-url", env_var="CWSIM_LOAD_SIM_URL", default="", help="the fake's origin, for /_sim/stats (optional)"
    )
    group.add_argument(
        "--sim-admin-token", env_var="CWSIM_ADMIN_TOKEN", default="", is_secret=True, help="the fake's admin token"
    )
    group.add_argument(
        "--intake-token", env_var="CWSIM_INTAKE_TOKEN", default="", is_secret=True, help="the intake's token, if set"
    )
    group.add_argument("--user-rate", type=float, default=1.0, help="alerts/s each appliance offers")
    group.add_argument("--rate-steps", default="", help="offered alerts/s per step, e.g. 100,200,300 (knee search)")
    group.add_argument("--step-seconds", type=float, default=15.0, help="length of each step")
    group.add_argument("--fail-ratio", type=float, default=None, help="gate: most failed requests/deliveries, 0-1")
    group.add_argument("--p95-lag", type=float, default=None, help="gate: p95 alert→ticket lag, seconds")
    group.add_argument(
        "--max-backlog-growth", type=float, default=None, help="gate: most alerts/s the backlog may grow while offered"
    )
    group.add_argument("--max-backlog", type=float, default=None, help="gate: most alerts left when the load stops")
    group.add_argument("--summary-file", default="", help="write the summary here as JSON")


# -- payloads -------------------------------------------------------------------------------------


class Payloads:
    """The alert templates, grouped by appliance (serial number) in a stable order."""

    _loaded: dict[str, Payloads] = {}

    def __init__(self, alerts: list[dict[str, Any]]) -> None:
        by_serial: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for alert in alerts:
            by_serial[alert["serialNumber"]].append(alert)
        self.appliances = [by_serial[serial] for serial in sorted(by_serial)]

    @classmethod
    def load(cls, path: str) -> Payloads:
        if path not in cls._loaded:
            if not path:
                raise SystemExit("cwsim alerts: give --payloads FILE (make one with `cwsim load payloads --out FILE`)")
            try:
                document = json.loads(Path(path).read_bytes())
                alerts = document["alerts"]
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise SystemExit(
                    f"cwsim alerts: cannot read the payloads {path} ({error}); make them with "
                    "`cwsim load payloads --out FILE`, at the same path on every worker"
                ) from error
            if not alerts:
                raise SystemExit(f"cwsim alerts: {path} holds no alerts")
            cls._loaded[path] = cls(alerts)
        return cls._loaded[path]


def fresh_alert(template: dict[str, Any], mark: str) -> dict[str, Any]:
    """The template as a new alert: its own alertKey and eventId, raised for the first time."""
    key = f"{template['alertKey']}-{mark}"
    return {**template, "event": "raise", "alertKey": key, "eventId": f"{key}:raise:1", "numberSeen": 1}


_appliance_numbers = itertools.count()


class Appliance(FastHttpUser):
    """One appliance posting its own alerts, each a new one, at `--user-rate` alerts/s (a closed model: it waits for
    each answer, so a slow intake lowers what it manages to offer)."""

    weight = 1

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.pace = constant_throughput(options.user_rate)
        payloads = Payloads.load(options.payloads)
        self.number = next(_appliance_numbers)
        self.alerts = payloads.appliances[self.number % len(payloads.appliances)]
        self.sent = 0
        self.headers = {"Authorization": f"Bearer {options.intake_token}"} if options.intake_token else {}

    def wait_time(self) -> float:
        return self.pace(self)

    @task
    def post_alert(self) -> None:
        template = self.alerts[self.sent % len(self.alerts)]
        self.sent += 1
        alert = fresh_alert(template, f"L{RUN}a{self.number}n{self.sent}")
        name = f"/alerts [{alert['category']}]"
        with self.client.post("/alerts", json=alert, headers=self.headers, name=name, catch_response=True) as response:
            if response.status_code != 202:
                response.failure(f"{response.status_code}: {(response.text or '')[:200]}")
            elif b'"new":1' not in (response.content or b""):
                response.failure(f"not stored as a new alert: {(response.text or '')[:200]}")


# -- the poller -----------------------------------------------------------------------------------


class DeliveryFailed(Exception):
    """The integration gave up on a delivery (its reason is in the outbox)."""


def read_counters(session: requests.Session, host: str, sim_url: str) -> dict[str, Any]:
    """The integration's /status and, when given, the fake's /_sim/stats, as one flat sample."""
    status = session.get(f"{host}/status", timeout=HTTP_TIMEOUT)
    status.raise_for_status()
    body = status.json()
    sample = {
        "accepted": body["accepted"] - body["duplicates"],
        "depth": body["depth"],
        "delivered": body["delivered"],
        "failed": body["failed"],
        "skipped": body["skipped"],
        "held": body["held"],
        "tickets": None,
        "sim_requests": None,
    }
    if sim_url:
        stats = session.get(f"{sim_url}/_sim/stats", timeout=HTTP_TIMEOUT)
        stats.raise_for_status()
        sim = stats.json()
        sample["tickets"] = sim["tickets_created"]["total"]
        sample["sim_requests"] = sim["requests"]["total"]
    return sample


def backlog(sample: dict[str, Any]) -> int:
    """What the integration still has to deliver: the outbox's depth less what is held for an unmapped device."""
    return int(sample["depth"]) - int(sample.get("held") or 0)


class BearerTokens(AuthBase):
    """The fake's admin token on calls to the fake, the intake token on calls to the integration."""

    def __init__(self, sim_url: str, sim_token: str, intake_token: str) -> None:
        self.sim_url, self.sim_token, self.intake_token = sim_url.rstrip("/"), sim_token, intake_token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        to_sim = bool(self.sim_url) and str(request.url).lower().startswith(self.sim_url.lower() + "/")
        token = self.sim_token if to_sim else self.intake_token
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        return request


def http_session(options: Any) -> requests.Session:
    session = requests.Session()
    session.auth = BearerTokens(options.sim_url, options.sim_admin_token, options.intake_token)
    return session


class CounterPoller(User):
    """Once a second: every delivery the integration finished since the last poll becomes an E2E request event (its
    lag, or a failure), and the counters of both sides go to the master for the steps, the knee and the gates."""

    fixed_count = 1
    wait_time = constant_pacing(POLL_SECONDS)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.http = http_session(options)
        self.host = self.environment.host.rstrip("/")
        self.sim_url = options.sim_url.rstrip("/")
        self.errors = 0
        self.seen: dict[int, float] = {}  # id -> finished_at, for the ones inside the reorder margin
        self.floor = self.cursor = self._integration_now()

    def _integration_now(self) -> float:
        """The integration's clock: deliveries are stamped by it, and only those after the start count."""
        for _ in range(10):
            try:
                response = self.http.get(f"{self.host}/status/finished", params={"after": 1e18}, timeout=HTTP_TIMEOUT)
                return float(response.json()["now"])
            except (requests.RequestException, ValueError, KeyError):
                self.errors += 1
                time.sleep(0.5)  # the intake is not answering yet: try again, ten times at most
        return time.time()

    def on_stop(self) -> None:
        """What finished by the time the load stopped is measured too."""
        try:
            self._take_finished()
        except (requests.RequestException, ValueError, KeyError) as error:
            log.warning("the last poll failed: %s", error)

    @task
    def poll(self) -> None:
        try:
            self._take_finished()
            sample = read_counters(self.http, self.host, self.sim_url)
        except (requests.RequestException, ValueError, KeyError) as error:
            self.errors += 1
            log.warning("polling the counters failed: %s", error)
            return
        sample["poll_errors"] = self.errors
        self.environment.runner.send_message(COUNTERS_MESSAGE, sample)

    def _take_finished(self) -> None:
        after = max(self.floor, self.cursor - REORDER_MARGIN)
        fire = self.environment.events.request.fire
        for _ in range(FINISHED_PAGES):
            response = self.http.get(
                f"{self.host}/status/finished", params={"after": after, "limit": FINISHED_PAGE}, timeout=HTTP_TIMEOUT
            )
            response.raise_for_status()
            rows = response.json()["rows"]
            for delivery_id, finished_at, lag, state, ticket in rows:
                if delivery_id in self.seen or state == "skipped":
                    continue
                self.seen[delivery_id] = finished_at
                self.cursor = max(self.cursor, finished_at)
                failure = DeliveryFailed(f"delivery {delivery_id} failed") if state == "failed" else None
                fire(
                    request_type=E2E,
                    name=LAG_NAME if ticket or failure else EMAIL_NAME,
                    response_time=lag * 1000,
                    response_length=0,
                    exception=failure,
                    context={},
                )
            if len(rows) < FINISHED_PAGE:
                break
            after = rows[-1][1]
        horizon = self.cursor - REORDER_MARGIN
        self.seen = {key: moment for key, moment in self.seen.items() if moment >= horizon}


# -- the master's view: samples, steps, the knee ----------------------------------------------------


class Monitor:
    """On the master (or the only process): the poller's samples on this process's clock, the steps, the workers."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.stopped_at: float | None = None
        self.samples: list[Sample] = []
        self.latest: dict[str, Any] = {}
        self.final: dict[str, Any] | None = None
        self.workers: dict[str, dict[str, int]] = {}
        self.judged: dict[int, bool] = {}

    def start(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return 0.0 if self.started is None else time.monotonic() - self.started

    def record(self, data: dict[str, Any]) -> None:
        self.latest = data
        self.samples.append(
            Sample(self.elapsed(), data["accepted"], backlog(data), data["delivered"], data["failed"], data["tickets"])
        )

    def steps(self, options: Any) -> list[Step]:
        """The offered rate over time: the steps, or one step of `-u` appliances for the run time."""
        if options.rate_steps:
            return plan(parse_steps(options.rate_steps), options.step_seconds)
        end = float(options.run_time) if options.run_time else math.inf
        return [Step(appliances(options) * options.user_rate, 0.0, end)]

    def broke(self, options: Any, now: float) -> bool:
        """Whether a finished step could not keep up (judged once its last samples are in)."""
        for index, step in enumerate(self.steps(options)):
            if step.end + EVALUATE_AFTER > now or index in self.judged:
                continue
            result = figures(self.samples, step)
            self.judged[index] = result is None or result.keeping_up
        return not all(self.judged.values())


MONITOR = Monitor()


def appliances(options: Any) -> int:
    return max(1, int(options.num_users or 1))


def appliances_for(rate: float, user_rate: float) -> int:
    return max(1, math.ceil(rate / user_rate - 1e-9))


class OfferedAlertRate(LoadTestShape):
    """`-u` appliances for `-t`; or, with `--rate-steps`, each offered rate in turn, stopping at the knee."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options
        now = self.get_run_time()
        steps = MONITOR.steps(options)
        current = next((step for step in steps if step.start <= now < step.end), None)
        if options.rate_steps:
            if MONITOR.broke(options, now):
                return None
            if current is None:  # past the last step: wait until it is judged, then stop
                return None if now >= steps[-1].end + EVALUATE_AFTER else (self.get_current_user_count(), 1)
            users = appliances_for(current.offered, options.user_rate)
            return users + 1, users + 1
        if current is None:
            return None
        return appliances(options) + 1, float(options.spawn_rate or appliances(options) + 1)


# -- events: start, stop, the summary and the gates ---------------------------------------------------


@events.init.add_listener
def _on_init(environment: Environment, **kwargs: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    options = environment.parsed_options
    if options is not None:
        if options.rate_steps:
            try:
                parse_steps(options.rate_steps)
            except ValueError as error:
                raise SystemExit(f"cwsim alerts: --rate-steps: {error}") from error
        if options.user_rate <= 0:
            raise SystemExit("cwsim alerts: --user-rate must be above 0")
        Payloads.load(options.payloads)  # a bad file stops the run now, not in every user
    if environment.runner is not None:
        environment.runner.register_message(COUNTERS_MESSAGE, lambda environment, msg, **kw: MONITOR.record(msg.data))


@events.test_start.add_listener
def _on_test_start(environment: Environment, **kwargs: Any) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        MONITOR.start()


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **kwargs: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or MONITOR.started is None:
        return
    MONITOR.stopped_at = MONITOR.elapsed()
    options = environment.parsed_options
    try:
        MONITOR.final = read_counters(http_session(options), environment.host.rstrip("/"), options.sim_url.rstrip("/"))
    except (requests.RequestException, ValueError, KeyError) as error:
        log.warning("could not read the counters at the end (%s); using the last sample", error)
        MONITOR.final = MONITOR.latest or None


@events.worker_report.add_listener
def _on_worker_report(client_id: str, data: dict[str, Any], **kwargs: Any) -> None:
    counts = MONITOR.workers.setdefault(client_id, {"requests": 0, "alerts": 0})
    counts["requests"] += data["stats_total"]["num_requests"]
    counts["alerts"] += sum(entry["num_requests"] for entry in data["stats"] if entry["method"] == "POST")


@events.quitting.add_listener
def _on_quitting(environment: Environment, **kwargs: Any) -> None:
    report_on_quitting(environment, summarize, alerts_summary_lines)


def summarize(environment: Environment) -> dict[str, Any]:
    """What was offered and what got through, step by step; the lag; the backlog at the end; the gates."""
    options = environment.parsed_options
    stats = environment.stats
    seconds = MONITOR.stopped_at or MONITOR.elapsed()
    posts = [
        entry for (name, method), entry in stats.entries.items() if method == "POST" and name.startswith("/alerts")
    ]
    acknowledged = sum(entry.num_requests - entry.num_failures for entry in posts)
    by_category = {entry.name.split("[")[-1].rstrip("]"): entry.num_requests - entry.num_failures for entry in posts}
    lag = stats.get(LAG_NAME, E2E)
    emailed = stats.get(EMAIL_NAME, E2E)
    steps = MONITOR.steps(options)
    if not options.rate_steps:
        steps = [Step(steps[0].offered, 0.0, seconds)]
    results = [result for step in steps if (result := figures(MONITOR.samples, step)) is not None]
    final = MONITOR.final or {}
    failure_ratio = stats.total.fail_ratio if stats.total.num_requests else None
    p95 = lag.get_response_time_percentile(0.95) / 1000 if lag.num_requests else None
    limits = AlertLimits(options.fail_ratio, options.p95_lag, options.max_backlog_growth, options.max_backlog)
    gates = alert_gates(
        limits,
        failure_ratio=failure_ratio,
        p95_lag=p95,
        # the whole run's one step (constant mode only: a knee search outruns the integration on purpose)
        backlog_growth=results[0].backlog_slope if results and not options.rate_steps else None,
        backlog_at_end=backlog(final) if final else None,
    )
    first, last = (MONITOR.samples[0], MONITOR.samples[-1]) if len(MONITOR.samples) >= 2 else (None, None)
    span = (last.at - first.at) if first and last else 0.0

    def rate(field: str) -> float | None:
        if not span or first is None or last is None or getattr(first, field) is None:
            return None
        return round((getattr(last, field) - getattr(first, field)) / span, 3)

    return {
        "locustfile": "alerts",
        "host": environment.host,
        "seconds": round(seconds, 3),
        "mode": "steps" if options.rate_steps else "constant",
        "appliances": max((appliances_for(step.offered, options.user_rate) for step in steps), default=0)
        if options.rate_steps
        else appliances(options),
        "user_rate": options.user_rate,
        "offered_per_second": steps[-1].offered if steps else None,
        "posted": {
            "requests": sum(entry.num_requests for entry in posts),
            "acknowledged": acknowledged,
            "failures": sum(entry.num_failures for entry in posts),
            "per_second": round(acknowledged / seconds, 3) if seconds else None,
            "by_category": by_category,
        },
        "achieved_per_second": {
            "accepted": rate("accepted"),
            "delivered": rate("delivered"),
            "tickets": rate("tickets"),
        },
        "lag_seconds": {
            "count": lag.num_requests - lag.num_failures,
            **{
                name: (lag.get_response_time_percentile(point) / 1000 if lag.num_requests else None)
                for name, point in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
            },
            "max": lag.max_response_time / 1000 if lag.num_requests else None,
        },
        "emailed_only": emailed.num_requests,
        "failed_deliveries": lag.num_failures,
        "failure_ratio": failure_ratio,
        "final": final,
        "steps": [result.as_json() for result in results],
        "knee": knee(results) if options.rate_steps else None,
        "gates": [gate.as_json() for gate in gates],
        "gate_lines": [gate.describe() for gate in gates],
        "exit_code": exit_code(gates),
        "workers": MONITOR.workers,
        "samples": len(MONITOR.samples),
        "poll_errors": MONITOR.latest.get("poll_errors", 0),
    }
