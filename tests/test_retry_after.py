"""`Retry-After`, read the same way on both sides of the layering rule: the fleet's HTTP sink and the integration.

Each side has one parser (they may share no code); both are run through the same cases here.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests

from cwsim.integration import connectwise_errors, transport
from cwsim.simulator.datto import sinks
from cwsim.simulator.datto.sinks import HttpSink

from .test_sinks import Receiver, events

NOW = datetime(2026, 12, 3, 13, 0, 0, tzinfo=UTC)
PARSERS = {"fleet sink": sinks.retry_after_seconds, "integration": transport.retry_after_seconds}


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)  # `Thu, 03 Dec 2026 13:00:30 GMT`


CASES: list[tuple[str | None, float | None]] = [
    ("7", 7.0),
    (" 7 ", 7.0),
    ("0", 0.0),
    ("1.5", 1.5),
    (http_date(NOW + timedelta(seconds=30)), 30.0),
    ("Thu, 03 Dec 2026 13:02:00 -0000", 120.0),  # RFC 5322's "UTC, no zone known"
    ("Thursday, 03-Dec-26 13:00:45 GMT", 45.0),  # the obsolete RFC 850 form a recipient must still read
    (http_date(NOW - timedelta(hours=1)), 0.0),  # a date gone by: try now
    (None, None),
    ("", None),
    ("soon", None),
    ("-5", None),
    ("7 seconds", None),
    ("\u0667", None),  # an Arabic-Indic seven: float() would take it, a header may not
]


@pytest.mark.parametrize("side", sorted(PARSERS))
@pytest.mark.parametrize(("value", "seconds"), CASES)
def test_both_sides_read_delta_seconds_and_http_dates(side: str, value: str | None, seconds: float | None) -> None:
    assert PARSERS[side](value, now=NOW) == seconds


def old_sink_parser(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def old_connectwise_parser(value: str | None) -> float | None:
    value = (value or "").strip()
    return float(value) if value.isdigit() else None


@pytest.mark.parametrize("old", [old_sink_parser, old_connectwise_parser])
def test_negative_control_the_old_parsers_missed_the_date(old: Any) -> None:
    assert old(http_date(NOW + timedelta(seconds=30))) is None


class RecordingEvent(threading.Event):
    """The sink's `closing` event, recording how long each retry would wait, and not waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None:
            self.waits.append(timeout)
        return super().wait(0)


def sink_waits(retry_after: str) -> list[float]:
    receiver = Receiver([429, 200], {"Retry-After": retry_after})
    receiver.thread.start()
    sink = HttpSink(receiver.url, backoff=50, backoff_max=600, max_attempts=3)
    sink.closing = RecordingEvent()
    try:
        sink.deliver(events(1))
        assert sink.flush(timeout=30)
        assert sink.stats()["delivered"] == 1
        return sink.closing.waits
    finally:
        sink.close()
        receiver.server.shutdown()


def test_the_sink_waits_until_the_date_retry_after_gives() -> None:
    [gone_by] = sink_waits(http_date(datetime.now(UTC) - timedelta(hours=1)))
    assert gone_by == 0.0  # not the 50 s backoff
    [ahead] = sink_waits(http_date(datetime.now(UTC) + timedelta(seconds=300)))
    assert 200 <= ahead <= 300  # whole seconds, less however long the test took to get there


def test_negative_control_the_old_sink_parser_falls_back_to_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sinks, "retry_after_seconds", lambda value: old_sink_parser(value))
    assert sink_waits(http_date(datetime.now(UTC) - timedelta(hours=1))) == [50]


class Answer:
    def __init__(self, retry_after: str) -> None:
        self.headers = {"Retry-After": retry_after}


def test_the_integration_s_retry_policy_and_its_errors_read_the_date() -> None:
    ahead = http_date(datetime.now(UTC) + timedelta(seconds=100))
    waits = transport.retry_policy().get_retry_after(Answer(ahead))  # type: ignore[arg-type]
    assert waits is not None and 50 <= waits <= 100
    assert transport.retry_policy().get_retry_after(Answer("86400")) == 120.0  # capped  # type: ignore[arg-type]
    assert transport.retry_policy().get_retry_after(Answer("soon")) is None  # type: ignore[arg-type]  # backoff


def test_a_connectwise_429_error_carries_the_date_s_wait() -> None:
    response = requests.Response()
    response.status_code = 429
    response._content = b'{"code": "TooManyRequests", "message": "slow down"}'
    response.headers["Retry-After"] = http_date(datetime.now(UTC) + timedelta(seconds=100))
    error = connectwise_errors.error_from_response(response, "POST")
    assert isinstance(error, connectwise_errors.RateLimited)
    assert error.retry_after is not None and 50 <= error.retry_after <= 100
