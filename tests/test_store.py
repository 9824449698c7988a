"""The store under concurrent writers, its snapshots, and the index planner's exactness."""

from __future__ import annotations

import contextlib
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cwsim.simulator.connectwise import conditions
from cwsim.simulator.connectwise.auth import SYSTEM
from cwsim.simulator.connectwise.backend import Backend
from cwsim.simulator.connectwise.query import FieldResolver, ListQuery
from cwsim.simulator.connectwise.tenant import default_tenant
from cwsim.simulator.testing import WAIT_SECONDS


def tickets_of(backend: Backend):
    return backend.collection("service/tickets")


def test_concurrent_creates_get_unique_increasing_ids_and_none_is_lost() -> None:
    backend = default_tenant(companies=3)
    tickets = tickets_of(backend)
    created: list[int] = []
    lock = threading.Lock()

    def create_many() -> None:
        ids = [backend.create(tickets, {"summary": "x", "company": {"id": 1}}, SYSTEM)["id"] for _ in range(200)]
        with lock:
            created.extend(ids)

    threads = [threading.Thread(target=create_many) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    project_ticket_ids = set(backend.store.table("project/tickets").records)  # one id space with them
    assert sorted(created) == [i for i in range(1, 3201 + len(project_ticket_ids)) if i not in project_ticket_ids]
    assert len(backend.store.table("service/tickets").records) == 3200


def patch_concurrently(backend: Backend, ticket_id: int, barrier: threading.Barrier | None, wait: float) -> None:
    """Two threads patch different fields of one ticket at the same time.

    Each waits (at most `wait` seconds) at the barrier between reading the ticket and writing it
    back. With the store's lock the second cannot arrive (it waits for the lock), so the first
    always gives up at the timeout; without it both arrive, on a slow machine too.
    """
    tickets = tickets_of(backend)
    original_as_input = backend.as_input

    def as_input_then_wait(collection, record):
        document = original_as_input(collection, record)
        if barrier is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=wait)
        return document

    backend.as_input = as_input_then_wait  # type: ignore[method-assign]
    threads = [
        threading.Thread(target=backend.patch, args=(tickets, ticket_id, [{"op": "replace", "path": path, "value": v}]))
        for path, v in (("summary", "changed"), ("severity", "High"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_concurrent_patches_of_different_fields_both_land() -> None:
    backend = default_tenant(companies=3)
    ticket = backend.create(tickets_of(backend), {"summary": "x", "company": {"id": 1}}, SYSTEM)
    patch_concurrently(backend, ticket["id"], threading.Barrier(2), wait=0.5)  # times out: the lock holds the other
    stored = backend.store.get("service/tickets", ticket["id"])
    assert (stored["summary"], stored["severity"]) == ("changed", "High")


def test_negative_control_without_the_lock_one_patch_is_lost() -> None:
    """Shows the previous test can fail: with the store lock removed, both read, then both write."""
    backend = default_tenant(companies=3)
    ticket = backend.create(tickets_of(backend), {"summary": "x", "company": {"id": 1}}, SYSTEM)
    backend.store.lock = contextlib.nullcontext()  # type: ignore[assignment]
    patch_concurrently(backend, ticket["id"], threading.Barrier(2), wait=WAIT_SECONDS)  # both arrive, however slow
    stored = backend.store.get("service/tickets", ticket["id"])
    assert (stored["summary"], stored["severity"]) != ("changed", "High")


def test_a_snapshot_restores_records_ids_and_indexes() -> None:
    backend = default_tenant(companies=3)
    tickets = tickets_of(backend)
    backend.create(tickets, {"summary": "kept", "company": {"id": 1}}, SYSTEM)
    snapshot = backend.store.snapshot()
    backend.create(tickets, {"summary": "dropped", "company": {"id": 2}}, SYSTEM)
    backend.store.restore(snapshot)
    table = backend.store.table("service/tickets")
    assert [r["summary"] for r in table.records.values()] == ["kept"]
    assert table.lookup("company", 2) == set()
    assert backend.create(tickets, {"summary": "next", "company": {"id": 2}}, SYSTEM)["id"] == 2
    assert table.lookup("company", 2) == {2}


BOARD_NAMES = ["Help Desk", "Datto Alerts", "help desk", "Nope"]
STATUS_NAMES = ["New", "Closed", "In Progress", "Waiting", "Completed"]
term = st.one_of(
    st.builds(lambda v: f"company/id = {v}", st.integers(0, 5)),
    st.builds(
        lambda vs: f"company/id in ({','.join(map(str, vs))})", st.lists(st.integers(0, 5), min_size=1, max_size=3)
    ),
    st.builds(lambda v: f'board/name = "{v}"', st.sampled_from(BOARD_NAMES)),
    st.builds(lambda v: f'board/name != "{v}"', st.sampled_from(BOARD_NAMES)),
    st.builds(lambda v: f'status/name = "{v}"', st.sampled_from(STATUS_NAMES)),
    st.builds(lambda v: f'status/name like "{v[:3]}%"', st.sampled_from(STATUS_NAMES)),
    st.builds(lambda v: f"status/id = {v}", st.integers(1, 8)),
    st.builds(lambda v: f'externalXRef = "{v}"', st.sampled_from(["a", "A", "b"])),
    st.just("externalXRef = null"),
    st.just("board/name = null"),
)
condition_text = st.recursive(
    term,
    lambda inner: st.builds(lambda a, op, b: f"({a} {op} {b})", inner, st.sampled_from(["and", "or"]), inner),
    max_leaves=5,
)


PLANNER_TENANT = default_tenant(companies=5)
PLANNER_SNAPSHOT = PLANNER_TENANT.store.snapshot()


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=condition_text,
    rows=st.lists(
        st.tuples(st.integers(1, 5), st.sampled_from([1, 2]), st.sampled_from([None, "a", "A", "b"]), st.booleans()),
        max_size=25,
    ),
)
@pytest.mark.slow
def test_indexes_and_join_rewriting_never_change_what_a_query_finds(text: str, rows: list) -> None:
    """The planned query equals a plain scan that evaluates the condition on every record."""
    backend = PLANNER_TENANT
    backend.store.restore(PLANNER_SNAPSHOT)
    tickets = tickets_of(backend)
    for company, board, xref, closed in rows:
        body = {"summary": "t", "company": {"id": company}, "board": {"id": board}, "externalXRef": xref}
        if closed:
            body["status"] = {"name": "Closed" if board == 2 else "Completed"}
        backend.create(tickets, body, SYSTEM)
    node = conditions.parse(text)
    found = [r["id"] for r in backend.query(tickets, ListQuery(conditions=node, page_size=1000)).items]
    scan = conditions.compile_condition(node, FieldResolver(backend, tickets))
    expected = [r["id"] for r in backend.store.table("service/tickets").records.values() if scan(r)]
    assert found == expected
