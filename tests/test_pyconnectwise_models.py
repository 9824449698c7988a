"""Every served collection, filled with one record built from its model, validates with pyconnectwise's own
pydantic model of the same name, and each `/count` agrees with its list; on the default tenant as it is,
every such list holds a record or is listed with why it is empty."""

from __future__ import annotations

from pathlib import Path

import pyconnectwise.models.manage as models
import pydantic

from cwsim.simulator.connectwise.collections import ALL_COLLECTIONS
from cwsim.simulator.connectwise.endpoints import endpoint_index
from cwsim.simulator.connectwise.examples import create_example
from cwsim.simulator.connectwise.model import Collection
from cwsim.simulator.connectwise.routing import Route, Router

from .conftest import Api

# Records that must reach a pydantic model (about 40 generated models are newer than pyconnectwise 0.6.1.2,
# so their lists have no model to check against and are skipped).
MIN_VALIDATED = 450


def fill(api: Api, router: Router) -> None:
    """One example record in every writable collection the default tenant leaves empty."""
    backend = api.world.backend
    for collection in ALL_COLLECTIONS:
        if collection.link_field or collection.view or collection.view_of:
            continue
        if "POST" not in router.allowed_methods(Route(collection, 1 if collection.parent else None, None, None)):
            continue
        if not backend.store.table(collection.table).records:
            create_example(backend, collection, "Example", {})


def list_path(api: Api, collection: Collection) -> str | None:
    if collection.parent is None:
        return collection.path
    parents = api.world.backend.store.table(collection.parent.collection).records
    return api.world.backend.concrete_path(collection, min(parents)) if parents else None


def check(api: Api, collections: list[Collection]) -> tuple[int, dict[str, str]]:
    """(records validated, problems by path)."""
    router = Router(ALL_COLLECTIONS, endpoint_index())
    validated, problems = 0, {}
    for collection in collections:
        model = getattr(models, collection.model or "", None)
        path = list_path(api, collection)
        listing = router.allowed_methods(Route(collection, 1 if collection.parent else None, None, None))
        if model is None or path is None or "GET" not in listing or collection.link_field:
            continue
        response = api.get(path, query_string={"pageSize": 1000})
        if response.status_code != 200:
            problems[path] = f"{response.status_code} {response.get_json()}"
            continue
        items = response.get_json()
        for item in items:
            try:
                model.model_validate(item)
                validated += 1
            except pydantic.ValidationError as error:
                problems[path] = str(error)[:400]
                break
        if router.allowed_methods(Route(collection, 1 if collection.parent else None, None, "count")):
            count = api.get(path + "/count").get_json()
            if count != {"count": len(items)}:
                problems[path] = f"/count says {count}, the list has {len(items)}"
    return validated, problems


def test_every_served_list_validates_with_pyconnectwise_models_and_counts_agree(api: Api) -> None:
    router = Router(ALL_COLLECTIONS, endpoint_index())
    fill(api, router)
    validated, problems = check(api, ALL_COLLECTIONS)
    assert not problems, "\n".join(f"{path}: {problem}" for path, problem in problems.items())
    assert validated >= MIN_VALIDATED, "negative control on the sweep itself: it reached the records"


def test_the_check_catches_a_record_the_model_rejects(api: Api, monkeypatch) -> None:
    """Negative control: a priority answered without its required `color` fails the check."""
    backend = api.world.backend
    priorities = backend.collection("service/priorities")
    renderer = backend.renderer(priorities)
    original = renderer.render

    def without_color(record, base_url):
        return {key: value for key, value in original(record, base_url).items() if key != "color"}

    monkeypatch.setattr(renderer, "render", without_color)
    _, problems = check(api, [priorities])
    assert list(problems) == ["service/priorities"] and "color" in problems["service/priorities"]


# Why a served list stays empty on the default tenant (tests/pyconnectwise_empty_lists.txt names each one).
WHY_EMPTY = {
    "work": "records of work a tenant accumulates (tickets, notes, entries, orders, audits, stopwatches, "
    "postings): the default tenant's work is its seeded projects, opportunities and activities, and its "
    "tickets and configurations are what the Datto integration makes",
    "integration": "the setup of an integration, connector or sign-in the default tenant does not use "
    "(it has the Datto one only)",
    "setting": "a system, portal, accounting or workflow setting no new tenant is known to come with "
    "content in: left empty rather than invented",
    "detail": "an optional detail or association under a record (an agreement's work roles, a board's "
    "notifications, a member's skills...) that the default tenant's records do not use",
}
EMPTY_LISTS = Path(__file__).with_name("pyconnectwise_empty_lists.txt")


def listed_empty() -> dict[str, str]:
    """table -> reason key, from the file."""
    lines = [line.split() for line in EMPTY_LISTS.read_text().splitlines() if line and not line.startswith("#")]
    return {table: reason for table, reason in lines}


def empty_lists(api: Api) -> list[str]:
    """Served lists with a pyconnectwise model that answer no record on this tenant. Left out: lists
    computed from other tables' references (`/usages`, a ticket's `timeentries`, `allNotes`: the sweep in
    test_generated_collections covers them), `/info` views of an empty table, and lists under a parent
    the tenant has none of (the parent is listed itself)."""
    router = Router(ALL_COLLECTIONS, endpoint_index())
    store = api.world.backend.store
    empty = []
    for collection in ALL_COLLECTIONS:
        route = Route(collection, 1 if collection.parent else None, None, None)
        if getattr(models, collection.model or "", None) is None or collection.link_field or collection.view:
            continue
        if "GET" not in router.allowed_methods(route):
            continue
        if collection.view_of and not store.table(collection.view_of).records:
            continue
        path = list_path(api, collection)
        if path is not None and not api.get(path, query_string={"pageSize": 1}).get_json():
            empty.append(collection.table)
    return empty


def test_every_pyconnectwise_list_has_a_record_on_the_default_tenant_or_a_reason(api: Api) -> None:
    listed = listed_empty()
    assert set(listed.values()) <= set(WHY_EMPTY), "a reason key the test does not explain"
    empty = empty_lists(api)
    unexplained = sorted(set(empty) - set(listed))
    assert not unexplained, f"empty on the default tenant with no reason: {unexplained}"
    filled = sorted(set(listed) - set(empty))
    assert not filled, f"the default tenant fills these now: remove them from {EMPTY_LISTS.name}: {filled}"
    # Negative control: a list the default tenant fills, emptied, is caught.
    api.world.backend.store.table("service/priorities").records.clear()
    assert "service/priorities" in empty_lists(api)
