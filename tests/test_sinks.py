"""The fleet's sinks: JSON Lines, a callback, and HTTP with batches, retries and honest counting of failures."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import orjson
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from cwsim.simulator.datto.simulation import FleetSimulation
from cwsim.simulator.datto.sinks import CallbackSink, HttpSink, JsonLinesSink
from cwsim.simulator.testing import WAIT_SECONDS

from .fleetkit import CLIENTS, START, quiet_spec


def events(count: int, kind: str = "raise") -> list[dict]:
    return [{"event": kind, "alertKey": f"SERIAL:device:CODE{number}", "numberSeen": 1} for number in range(count)]


class Receiver:
    """A loopback HTTP endpoint that records each POST and answers with the statuses it is given, in turn."""

    def __init__(self, statuses: list[int] | None = None, headers: dict[str, str] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.headers = headers or {}
        self.batches: list[list[dict]] = []
        self.requests = 0
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def app(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            self.requests += 1
            status = self.statuses.pop(0) if self.statuses else 202
            if status < 300:
                self.batches.append(json.loads(request.get_data()))
        return Response(b"{}", status, headers=self.headers)(environ, start_response)

    @property
    def received(self) -> list[dict]:
        return [event for batch in self.batches for event in batch]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/alerts"


def test_json_lines_sink_writes_one_object_a_line(tmp_path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonLinesSink(path)
    sink.deliver(events(3) + events(1, "usage"))
    sink.close()
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(line)["event"] for line in lines] == ["raise", "raise", "raise", "usage"]
    assert sink.stats()["delivered"] == 4


def test_json_lines_sink_can_leave_out_kinds(tmp_path) -> None:
    sink = JsonLinesSink(tmp_path / "alerts.jsonl", kinds={"raise", "clear"})
    sink.deliver(events(2) + events(2, "usage") + events(1, "clear"))
    sink.close()
    assert len((tmp_path / "alerts.jsonl").read_bytes().splitlines()) == 3
    assert sink.stats()["skipped"] == 2


def test_a_failing_callback_is_counted_not_hidden() -> None:
    seen = []

    def callback(event: dict) -> None:
        if event["alertKey"].endswith("1"):
            raise RuntimeError("boom")
        seen.append(event)

    sink = CallbackSink(callback)
    sink.deliver(events(3))
    stats = sink.stats()
    assert (len(seen), stats["delivered"], stats["failed"]) == (2, 2, 1)
    assert stats["lastError"] == "RuntimeError: boom"


def test_http_sink_posts_batches_and_skips_daily_usage(receiver: Receiver) -> None:
    sink = HttpSink(receiver.url, batch_size=3)
    sink.deliver(events(7) + events(2, "usage"))
    assert sink.flush(timeout=WAIT_SECONDS)
    sink.close()
    assert [event["alertKey"] for event in receiver.received] == [event["alertKey"] for event in events(7)]
    assert max(len(batch) for batch in receiver.batches) == 3
    stats = sink.stats()
    assert (stats["delivered"], stats["failed"], stats["dropped"], stats["skipped"]) == (7, 0, 0, 2)


def test_http_sink_retries_server_errors_and_429(receiver: Receiver) -> None:
    receiver.statuses = [503, 429, 200]
    receiver.headers = {"Retry-After": "0"}
    sink = HttpSink(receiver.url, backoff=0, max_attempts=4)
    sink.deliver(events(2))
    assert sink.flush(timeout=WAIT_SECONDS)
    stats = sink.stats()
    assert (stats["delivered"], stats["failed"], stats["retries"]) == (2, 0, 2)
    sink.close()


def test_http_sink_does_not_retry_a_rejection(receiver: Receiver) -> None:
    receiver.statuses = [400]
    sink = HttpSink(receiver.url, backoff=0, max_attempts=4)
    sink.deliver(events(2))
    assert sink.flush(timeout=WAIT_SECONDS)
    stats = sink.stats()
    assert (stats["delivered"], stats["failed"], receiver.requests) == (0, 2, 1)
    assert "HTTP 400" in stats["lastError"]
    sink.close()


def test_http_sink_counts_a_target_that_is_down() -> None:
    sink = HttpSink(closed_port_url(), backoff=0, max_attempts=3, timeout=5)
    sink.deliver(events(5))
    assert sink.flush(timeout=WAIT_SECONDS)
    stats = sink.stats()
    assert (stats["delivered"], stats["failed"], stats["retries"]) == (0, 5, 2)
    assert "ConnectionError" in stats["lastError"] and "gave up after 3 attempts" in stats["lastError"]
    assert len(sink.failures) == 5  # kept for a look
    sink.close()


def test_http_sink_counts_what_a_full_queue_turned_away() -> None:
    sink = HttpSink(closed_port_url(), queue_size=4, put_timeout=0, backoff=60, max_attempts=2)
    sink.deliver(events(10))
    stats = sink.stats()
    assert stats["dropped"] == 6
    assert "queue full" in stats["lastError"]
    sink.close(timeout=0)
    stats = sink.stats()
    assert stats["delivered"] == 0 and stats["failed"] + stats["dropped"] == 10  # every event accounted for


def test_an_advance_returns_once_the_http_target_has_the_events(receiver: Receiver) -> None:
    simulation = FleetSimulation(quiet_spec(), CLIENTS, START, sink=HttpSink(receiver.url, batch_size=2))
    device = simulation.fleet.devices[0]
    simulation.inject("backup_failure", device.serial, device.agents()[0].volume, {"attempts": 3})
    report = simulation.advance_to(simulation.now + 2 * 86400)
    assert report.flushed and report.sink["delivered"] == 4
    assert [event["event"] for event in receiver.received] == ["raise", "repeat", "repeat", "clear"]
    simulation.sink.close()


def test_an_advance_with_the_target_down_reports_the_failures() -> None:
    sink = HttpSink(closed_port_url(), backoff=0, max_attempts=2)
    simulation = FleetSimulation(quiet_spec(), CLIENTS, START, sink=sink)
    device = simulation.fleet.devices[0]
    simulation.inject("backup_failure", device.serial, device.agents()[0].volume, {"attempts": 1})
    report = simulation.advance_to(simulation.now + 86400)
    assert report.flushed and report.sink["failed"] == 2 and report.sink["delivered"] == 0
    sink.close()
