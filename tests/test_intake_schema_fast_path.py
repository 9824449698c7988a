"""The intake's fast check passes only events marshmallow passes, and the usual event takes it (or it saves nothing)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cwsim.integration import intake_schema
from cwsim.integration.intake_schema import _SCHEMA, check_batch, clearly_valid

from .test_alerts_intake import EVENT

MISSING = object()

# Per field: its usual value, and values near each rule (too long, empty, null, the wrong JSON type, a bad date).
ODD_VALUES = st.one_of(
    st.just(MISSING),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**10), max_value=10**10),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.text(alphabet="ab-_Z9 \n", min_size=0, max_size=70),
    st.sampled_from(["", "x" * 20, "x" * 21, "x" * 300, "x" * 301, "critical", "agent", "raise", "usage"]),
    st.sampled_from(["2026-01-05T13:00:00Z", "2026-01-05", "yesterday", "2026-13-05T13:00:00+00:00"]),
    st.lists(st.sampled_from(["ops@example.com", "not an address", "", "a@b", "x@example.com\n"]), max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event = dict(EVENT)
    for name in draw(st.sets(st.sampled_from(sorted(_SCHEMA.fields)), max_size=4)):
        value = draw(ODD_VALUES)
        if value is MISSING:
            event.pop(name, None)
        else:
            event[name] = value
    return event


def test_the_usual_event_takes_the_fast_path() -> None:
    assert intake_schema._PLAIN_CHECKS is not None
    assert clearly_valid(EVENT) and clearly_valid({**EVENT, "recipients": [], "time": None})


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_what_the_fast_path_passes_marshmallow_passes(event: dict[str, Any]) -> None:
    if clearly_valid(event):
        assert _SCHEMA.validate(event) == {}


@pytest.mark.parametrize(
    "changes",
    [{"eventId": "x" * 301}, {"numberSeen": True}, {"recipients": ["not an address"]}, {"dateTriggered": "soon"},
     {"serialNumber": "has space"}, {"category": "cloud"}, {"alertKey": None}, {"family": "x" * 21}],
)  # fmt: skip
def test_a_bad_field_is_answered_as_before(changes: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    event = {**EVENT, **changes}
    fast = check_batch([event], 10)
    monkeypatch.setattr(intake_schema, "_PLAIN_CHECKS", None)  # marshmallow alone, as before the fast path
    assert fast == check_batch([event], 10) and fast.problems and not fast.alerts


def test_negative_control_a_check_that_skips_a_rule_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    checks = dict(intake_schema._PLAIN_CHECKS or {})
    checks["eventId"] = (True, lambda value: isinstance(value, str))  # the length rule left out
    monkeypatch.setattr(intake_schema, "_PLAIN_CHECKS", checks)
    long_id = {**EVENT, "eventId": "x" * 301}
    assert clearly_valid(long_id) and _SCHEMA.validate(long_id) != {}  # the property above would fail on it
