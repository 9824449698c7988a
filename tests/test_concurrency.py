"""16 threads making 500 mixed writes each against a running server: counts add up, ids are unique, no 5xx,
and the state snapshot taken at the end is consistent."""

from __future__ import annotations

import copy
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from cwsim.simulator.connectwise.collections import COLLECTIONS
from cwsim.simulator.connectwise.fields import Ref
from cwsim.simulator.connectwise.store import index_key
from cwsim.simulator.pytest_plugin import Cwsim

pytestmark = pytest.mark.slow  # 8,000 writes from 16 threads

THREADS = 16
WRITES = 500


@dataclass
class Writer:
    """One thread's writes and what it expects to be left of them."""

    number: int
    statuses: Counter[int] = field(default_factory=Counter)
    tickets: dict[int, int] = field(default_factory=dict)  # ticket id -> notes it holds (initial one included)
    deleted_tickets: list[int] = field(default_factory=list)
    configurations: list[int] = field(default_factory=list)
    deleted_configurations: list[int] = field(default_factory=list)
    created_notes: list[int] = field(default_factory=list)
    links: set[tuple[int, int]] = field(default_factory=set)
    unexpected: list[str] = field(default_factory=list)


def run_writer(cwsim: Cwsim, writer: Writer, configuration_type: int) -> Writer:
    rng = random.Random(writer.number)
    with cwsim.session() as api:

        def call(method: str, path: str, expected: int, body: Any = None) -> Any:
            response = api.request(method, path, json=body)
            writer.statuses[response.status_code] += 1
            if response.status_code != expected:
                writer.unexpected.append(f"{method} {path} -> {response.status_code}: {response.text[:200]}")
                return None
            return response.json() if response.content else None

        for step in range(WRITES):
            roll = rng.random()
            open_tickets = list(writer.tickets)
            if roll < 0.3 or not open_tickets:
                body = {"summary": f"w{writer.number} #{step}", "company": {"id": rng.randint(1, 4)}}
                if rng.random() < 0.5:
                    body["initialDescription"] = "from the first post"
                created = call("POST", "service/tickets", 201, body)
                if created is not None:
                    writer.tickets[created["id"]] = 1 if "initialDescription" in body else 0
            elif roll < 0.5:
                ticket = rng.choice(open_tickets)
                operations = [{"op": "replace", "path": "summary", "value": f"w{writer.number} patched {step}"}]
                call("PATCH", f"service/tickets/{ticket}", 200, operations)
            elif roll < 0.7:
                ticket = rng.choice(open_tickets)
                note = call("POST", f"service/tickets/{ticket}/notes", 201, {"text": "n", "internalAnalysisFlag": True})
                if note is not None:
                    writer.tickets[ticket] += 1
                    writer.created_notes.append(note["id"])
            elif roll < 0.8:
                body = {"name": f"w{writer.number}-{step}", "type": {"id": configuration_type}, "company": {"id": 1}}
                created = call("POST", "company/configurations", 201, body)
                if created is not None:
                    writer.configurations.append(created["id"])
            elif roll < 0.87 and writer.configurations:
                ticket, configuration = rng.choice(open_tickets), rng.choice(writer.configurations)
                if (ticket, configuration) in writer.links:  # attached already: a second time is a 400
                    call(
                        "PATCH",
                        f"service/tickets/{ticket}",
                        200,
                        [{"op": "replace", "path": "budgetHours", "value": 1}],
                    )
                    continue
                if call("POST", f"service/tickets/{ticket}/configurations", 201, {"id": configuration}) is not None:
                    writer.links.add((ticket, configuration))
            elif roll < 0.93 and writer.configurations:
                configuration = writer.configurations.pop(rng.randrange(len(writer.configurations)))
                call("DELETE", f"company/configurations/{configuration}", 204)
                writer.deleted_configurations.append(configuration)
            else:
                ticket = rng.choice(open_tickets)
                call("DELETE", f"service/tickets/{ticket}", 204)
                del writer.tickets[ticket]
                writer.deleted_tickets.append(ticket)
    return writer


def state_problems(state: dict[str, Any]) -> list[str]:
    """What is wrong with a /_sim/state snapshot: references and parents pointing at nothing."""
    tables = {name: {record["id"]: record for record in table["records"]} for name, table in state["tables"].items()}
    problems = []
    for collection in COLLECTIONS:
        refs = {name: f.target for name, f in collection.loader.fields.items() if isinstance(f, Ref)}
        if collection.parent is not None:
            refs[collection.parent.field] = collection.parent.collection
        for record in tables[collection.table].values():
            for name, target in refs.items():
                value = record.get(name)
                if value is not None and value not in tables[target]:
                    problems.append(f"{collection.table} {record['id']}: {name} {value} is not in {target}")
        next_id = state["tables"][collection.table]["nextId"]
        if any(record_id >= next_id for record_id in tables[collection.table]):
            problems.append(f"{collection.table}: an id at or past nextId {next_id}")
    return problems


def test_sixteen_writers_leave_consistent_state(cwsim: Cwsim) -> None:
    api = cwsim.session()
    configuration_type = api.get("company/configurations/types").json()[0]["id"]
    before = {path: api.get(f"{path}/count").json()["count"] for path in ("service/tickets", "company/configurations")}
    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        writers = list(pool.map(lambda number: run_writer(cwsim, Writer(number), configuration_type), range(THREADS)))
    elapsed = time.monotonic() - started
    statuses = sum((writer.statuses for writer in writers), Counter())
    requests_made = sum(statuses.values())
    rate = requests_made / elapsed
    print(f"\n{requests_made} writes, {THREADS} threads, {elapsed:.1f} s ({rate:.0f}/s): {dict(statuses)}")
    assert requests_made == THREADS * WRITES  # how long they took is printed, never asserted
    assert not [status for status in statuses if status >= 500]
    assert not [line for writer in writers for line in writer.unexpected]

    created_tickets = [t for w in writers for t in (*w.tickets, *w.deleted_tickets)]
    created_configurations = [c for w in writers for c in (*w.configurations, *w.deleted_configurations)]
    notes = [n for w in writers for n in w.created_notes]
    for ids in (created_tickets, created_configurations, notes):
        assert len(ids) == len(set(ids)), "no id given twice"

    open_tickets = {t: n for w in writers for t, n in w.tickets.items()}
    assert api.get("service/tickets/count").json()["count"] == before["service/tickets"] + len(open_tickets)
    kept_configurations = sum(len(w.configurations) for w in writers)
    assert (
        api.get("company/configurations/count").json()["count"]
        == before["company/configurations"] + kept_configurations
    )
    for ticket, expected_notes in list(open_tickets.items())[:40]:
        assert api.get(f"service/tickets/{ticket}/notes/count").json()["count"] == expected_notes, ticket

    state = cwsim.admin().get("state").json()["connectwise"]
    assert state_problems(state) == []
    tables = state["tables"]
    assert {r["id"] for r in tables["service/tickets"]["records"]} >= set(open_tickets)
    assert not {r["id"] for r in tables["service/tickets"]["records"]} & {t for w in writers for t in w.deleted_tickets}
    store = cwsim.world.backend.store
    with store.lock:
        for name, table in store.tables.items():
            scanned: dict[str, dict[Any, set[int]]] = {f: {} for f in table.indexes}
            for record in table.records.values():
                for index_field in table.indexes:
                    scanned[index_field].setdefault(index_key(record.get(index_field)), set()).add(record["id"])
            assert table.indexes == scanned, f"the indexes of {name} agree with a full scan"


def test_the_consistency_check_finds_a_dangling_reference(cwsim: Cwsim) -> None:
    state = cwsim.admin().get("state").json()["connectwise"]
    assert state_problems(state) == []
    broken = copy.deepcopy(state)
    broken["tables"]["company/companies"]["records"] = broken["tables"]["company/companies"]["records"][1:]
    assert any("is not in company/companies" in problem for problem in state_problems(broken))
