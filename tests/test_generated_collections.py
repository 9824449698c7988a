"""A sweep over every served collection: create from a body built from the model, read it back, patch a
field, find it by a condition on that field, delete it; every list answers and the default tenant fills them."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
from marshmallow import validate

from cwsim.simulator.connectwise.collections import ALL_COLLECTIONS
from cwsim.simulator.connectwise.endpoints import endpoint_index
from cwsim.simulator.connectwise.errors import CwError
from cwsim.simulator.connectwise.examples import any_record, example_body
from cwsim.simulator.connectwise.fields import Text
from cwsim.simulator.connectwise.model import Collection
from cwsim.simulator.connectwise.routing import Route, Router

from .conftest import Api

PATCHED = "Patched by the sweep"


def patchable_text(collection: Collection) -> str | None:
    """A free-text field the sweep can set and search for (no enum, room for the marker)."""
    for name, schema_field in collection.loader.fields.items():
        if not isinstance(schema_field, Text) or schema_field.dump_only or schema_field.load_only:
            continue
        if name in collection.transient_fields or name in collection.refs:
            continue
        limits = [v.max for v in schema_field.validators if isinstance(v, validate.Length) and v.max]
        if any(isinstance(v, validate.OneOf) for v in schema_field.validators) or (limits and min(limits) < 25):
            continue
        return name
    return None


def read_through_other_paths(
    api: Api, router: Router, collection: Collection, parent_id: int | None, record_id: int, views: list[Collection]
) -> list[str]:
    """The new record, read through every other path that shows its table: aliases and views across parents."""
    backend = api.world.backend
    problems = []
    for path in collection.aliases:
        base = backend.concrete_path(collection, parent_id, path)
        if "GET" in router.allowed_methods(Route(collection, parent_id, 1, None, path)):
            read = api.get(f"{base}/{record_id}")
            if read.status_code != 200 or read.get_json().get("id") != record_id:
                problems.append(f"GET {base}/{record_id} (an alias): {read.status_code}")
        if "GET" in router.allowed_methods(Route(collection, parent_id, None, None, path)):
            listed = api.get(base, query_string={"pageSize": 1000})
            if listed.status_code != 200 or record_id not in [item["id"] for item in listed.get_json()]:
                problems.append(f"GET {base} (an alias): the new record is not listed")
    own = backend.concrete_path(collection, parent_id)
    if router.allowed_methods(Route(collection, parent_id, record_id, "info")):
        info = api.get(f"{own}/{record_id}/info")
        if info.status_code != 200 or info.get_json().get("id") != record_id:
            problems.append(f"GET {own}/{record_id}/info: {info.status_code}")
    for view in views:
        base = backend.concrete_path(view, parent_id if view.parent is not None else None)
        listed = api.get(base, query_string={"pageSize": 1000})
        if listed.status_code != 200 or record_id not in [item["id"] for item in listed.get_json()]:
            problems.append(f"GET {base} (a view of its table): the new record is not listed")
        if "GET" in router.allowed_methods(Route(view, parent_id, record_id, None)):
            one = api.get(f"{base}/{record_id}")
            if one.status_code != 200 or one.get_json().get("id") != record_id:
                problems.append(f"GET {base}/{record_id} (a view of its table): {one.status_code}")
    return problems


def sweep_one(api: Api, router: Router, collection: Collection, views: list[Collection] = ()) -> list[str]:
    """What fails for one collection (empty when everything does what the real API does)."""
    backend = api.world.backend
    parent_id = any_record(backend, collection.parent.collection) if collection.parent else None
    base = backend.concrete_path(collection, parent_id)
    listing = router.allowed_methods(Route(collection, parent_id, None, None))
    by_id = router.allowed_methods(Route(collection, parent_id, 1, None))
    problems: list[str] = []
    if "GET" not in listing:
        return problems
    if "POST" not in listing:
        response = api.get(base)
        if response.status_code != 200:
            problems.append(f"GET {base}: {response.status_code} {response.get_json()}")
        return problems
    try:
        body = example_body(backend, collection, "Sweep example")
    except (ValueError, CwError) as error:
        return [f"no example body: {error}"]
    created = api.post(base, body)
    if created.status_code not in (200, 201):  # the real API answers some creates 200
        return [f"POST {base} {body}: {created.status_code} {created.get_json()}"]
    record_id = created.get_json()["id"]
    if "GET" in by_id:
        read = api.get(f"{base}/{record_id}")
        if read.status_code != 200 or read.get_json().get("id") != record_id:
            problems.append(f"GET {base}/{record_id}: {read.status_code}")
    listed = api.get(base, query_string={"pageSize": 1000})
    if listed.status_code != 200 or record_id not in [item["id"] for item in listed.get_json()]:
        problems.append(f"GET {base}: the new record is not listed")
    problems += read_through_other_paths(api, router, collection, parent_id, record_id, list(views))
    field = patchable_text(collection)
    if field is not None and "PATCH" in by_id:
        patched = api.patch(f"{base}/{record_id}", [{"op": "replace", "path": field, "value": PATCHED}])
        if patched.status_code != 200 or patched.get_json().get(field) != PATCHED:
            problems.append(f"PATCH {base}/{record_id} {field}: {patched.status_code} {patched.get_json()}")
        found = api.get(base, query_string={"conditions": f'{field}="{PATCHED}"', "pageSize": 1000})
        if found.status_code != 200 or record_id not in [item["id"] for item in found.get_json()]:
            problems.append(f"GET {base}?conditions={field}=...: {found.status_code} not found")
    if "DELETE" in by_id:
        deleted = api.delete(f"{base}/{record_id}")
        gone = api.get(f"{base}/{record_id}") if "GET" in by_id else None
        if deleted.status_code not in (200, 204) or (gone is not None and gone.status_code != 404):
            problems.append(f"DELETE {base}/{record_id}: {deleted.status_code}")
    return problems


def sweep(api: Api, collections: list[Collection]) -> dict[str, list[str]]:
    router = Router([*collections, *ALL_COLLECTIONS], endpoint_index())
    views: dict[str, list[Collection]] = {}
    for view in ALL_COLLECTIONS:
        if view.view_of is not None:
            views.setdefault(view.view_of, []).append(view)
    failures = {}
    for collection in collections:
        if collection.link_field is not None:
            continue  # configuration links: tests/test_configurations_and_finance.py
        problems = sweep_one(api, router, collection, views.get(collection.table, []))
        if problems:
            failures[collection.path] = problems
    return failures


def test_every_served_collection_creates_reads_patches_finds_and_deletes(api: Api) -> None:
    failures = sweep(api, ALL_COLLECTIONS)
    assert not failures, "\n".join(f"{path}: {problems}" for path, problems in failures.items())


def test_the_sweep_catches_a_collection_that_loses_a_patched_field(api: Api, monkeypatch: Any) -> None:
    """Negative control: a collection whose PATCH silently drops the change fails the sweep."""
    priorities = api.world.backend.collection("service/priorities")
    original = type(api.world.backend).patch

    def forgetful_patch(self: Any, collection: Collection, record_id: int, *args: Any, **kwargs: Any) -> Any:
        if collection is priorities:
            return self.get(collection, record_id)
        return original(self, collection, record_id, *args, **kwargs)

    monkeypatch.setattr(type(api.world.backend), "patch", forgetful_patch)
    failures = sweep(api, [priorities])
    assert list(failures) == ["service/priorities"]


def test_the_default_tenant_fills_the_collections_every_real_tenant_has(api: Api) -> None:
    backend = api.world.backend
    for table in (
        "service/priorities",
        "service/sources",
        "service/locations",
        "service/boards/teams",
        "company/companies/statuses",
        "company/companies/types",
        "company/contacts/types",
        "company/noteTypes",
        "company/communicationTypes",
        "system/locations",
        "system/departments",
        "time/workTypes",
        "time/workRoles",
        "sales/activities/statuses",
        "sales/activities/types",
        "schedule/statuses",
        "schedule/types",
        "schedule/holidayLists",
        "schedule/calendars",
        "project/statuses",
        "project/phaseStatuses",
        "project/projectTypes",
        "sales/opportunities/statuses",
        "sales/stages",
        "sales/opportunities/types",
        "sales/probabilities",
        "project/projects",
        "sales/opportunities",
        "time/entries",
        "schedule/entries",
    ):
        assert backend.store.table(table).records, f"{table} is empty"
    defaults = [p for p in backend.store.table("service/priorities").records.values() if p.get("defaultFlag")]
    assert len(defaults) == 1


@pytest.mark.parametrize(
    "path",
    [
        "service/tickets/abc",
        "company/companies/abc/sites",
        "service/boards/x/teams/1",
        "service/boards/1/statuses/x/notifications",
        "system/myAccount/abc/skills",
        "company/noteTypes/abc/info",
    ],
)
def test_a_word_where_a_path_takes_an_id_is_a_400_saying_so(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 400, response.get_json()
    assert "must be a whole number" in response.get_json()["message"]


def test_a_missing_record_or_parent_is_a_404_not_found(api: Api) -> None:
    assert api.get("service/tickets/99999").get_json()["code"] == "NotFound"
    assert api.get("service/boards/99999/teams").get_json()["code"] == "NotFound"
    assert api.get("service/priorities/99999").get_json()["code"] == "NotFound"


def test_a_ticket_comes_back_shaped_as_connectwise_shapes_it(api: Api) -> None:
    ticket = api.post("service/tickets", {"summary": "Shape", "company": {"id": 1}}).get_json()
    assert ticket["customerUpdatedFlag"] is False and ticket["approved"] is False
    assert {"id", "name", "sort", "level"} <= set(ticket["priority"]) and ticket["priority"]["name"].startswith(
        "Priority 3"
    )
    assert ticket["source"]["name"] == "Phone" and ticket["serviceLocation"]["name"] == "Remote"
    default_contact = [
        c
        for c in api.get("company/contacts", query_string={"conditions": "company/id=1"}).get_json()
        if c["defaultFlag"]
    ]
    assert ticket["contact"]["id"] == default_contact[0]["id"]
    bad = api.post("service/tickets", {"summary": "x", "company": {"id": 1}, "priority": {"id": None}})
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "priority"
    missing = api.post("service/tickets", {"summary": "x", "company": {"id": 1}, "priority": {"id": 999}})
    assert missing.status_code == 400
    company = api.get("company/companies/1").get_json()
    assert company["status"]["name"] == "Active" and company["types"][0]["name"] == "Client"


def test_all_notes_shows_service_notes_and_time_entry_notes(api: Api) -> None:
    ticket = api.post("service/tickets", {"summary": "Notes", "company": {"id": 1}, "initialDescription": "first"})
    ticket_id = ticket.get_json()["id"]
    entry = {
        "timeStart": "2026-01-05T09:00:00Z",
        "timeEnd": "2026-01-05T10:00:00Z",
        "chargeToId": ticket_id,
        "chargeToType": "ServiceTicket",
        "notes": "worked on it",
    }
    assert api.post("time/entries", entry).status_code == 201
    notes = api.get(f"service/tickets/{ticket_id}/allNotes").get_json()
    assert [(n["noteType"], n["text"]) for n in notes] == [("TicketNote", "first"), ("TimeEntryNote", "worked on it")]
    assert notes[1]["timeStart"] == "2026-01-05T09:00:00Z" and notes[0]["ticket"]["id"] == ticket_id
    assert api.get("service/tickets/99999/allNotes").status_code == 404


def test_usages_count_the_records_that_refer_to_a_record(api: Api) -> None:
    before = {u["typeKey"]: u["count"] for u in api.get("service/priorities/3/usages").get_json()}
    assert api.post("service/tickets", {"summary": "Uses P3", "company": {"id": 1}}).status_code == 201
    after = {u["typeKey"]: u["count"] for u in api.get("service/priorities/3/usages").get_json()}
    assert after["service/tickets"] == before.get("service/tickets", 0) + 1
    assert api.get("service/priorities/3/usages/list").status_code == 200
    assert api.get("service/priorities/99999/usages").status_code == 404


def test_info_projections_show_the_base_records_with_fewer_fields(api: Api) -> None:
    statuses = api.get("service/boards/1/statuses").get_json()
    listed = api.get("service/boards/1/statuses/info").get_json()
    assert [s["id"] for s in listed] == [s["id"] for s in statuses]
    one = api.get(f"service/boards/1/statuses/{statuses[0]['id']}/info").get_json()
    assert one["name"] == statuses[0]["name"] and "escalationStatus" not in one
    assert api.get("service/boards/1/statuses/99999/info").status_code == 404
    assert api.get("system/info/members/count").get_json()["count"] == len(api.get("system/members").get_json())


def test_a_named_path_parameter_is_not_taken_for_an_id(api: Api) -> None:
    """`system/reports/{reportName}` takes a word: no 400 about whole numbers there."""
    response = api.get("system/reports/ConnectWiseHostedApiScreen")
    assert response.get_json()["code"] == "NotImplementedByFake"


def test_a_tickets_time_and_schedule_entries_are_the_records_that_point_at_it(api: Api) -> None:
    ticket_id = api.post("service/tickets", {"summary": "Views", "company": {"id": 1}}).get_json()["id"]
    entry = {"timeStart": "2026-01-05T09:00:00Z", "chargeToId": ticket_id, "chargeToType": "ServiceTicket"}
    entry_id = api.post("time/entries", entry).get_json()["id"]
    visit_id = api.post("schedule/entries", {"objectId": ticket_id, "type": {"id": 1}}).get_json()["id"]
    assert [e["id"] for e in api.get(f"service/tickets/{ticket_id}/timeentries").get_json()] == [entry_id]
    assert [e["id"] for e in api.get(f"service/tickets/{ticket_id}/scheduleentries").get_json()] == [visit_id]
    assert api.get(f"service/tickets/{ticket_id}/timeentries/count").get_json() == {"count": 1}
    assert api.get("service/tickets/99999/timeentries").status_code == 404


def test_a_grandchild_lives_under_its_parent_and_grandparent_and_404s_when_either_is_wrong(
    api: Api, monkeypatch: Any
) -> None:
    """`/service/boards/{grandparentId}/statuses/{parentId}/notifications`: the chain of ids is checked."""
    boards = [board["id"] for board in api.get("service/boards").get_json()]
    board, other_board = boards[0], boards[1]
    status = api.get(f"service/boards/{board}/statuses").get_json()[0]["id"]
    base = f"service/boards/{board}/statuses/{status}/notifications"
    notifications = api.world.backend.collection("service/boards/statuses/notifications")
    created = api.post(base, example_body(api.world.backend, notifications, "Chain"))
    assert created.status_code == 201, created.get_json()
    note_id = created.get_json()["id"]
    assert [n["id"] for n in api.get(base).get_json()] == [note_id]
    assert api.get(f"{base}/count").get_json() == {"count": 1}
    wrong_board = api.get(f"service/boards/{other_board}/statuses/{status}/notifications/{note_id}")
    assert wrong_board.status_code == 404 and wrong_board.get_json()["code"] == "NotFound"
    assert api.get(f"service/boards/99999/statuses/{status}/notifications").get_json()["code"] == "NotFound"
    assert api.get(f"service/boards/{board}/statuses/99999/notifications").get_json()["code"] == "NotFound"
    not_an_id = api.get(f"service/boards/abc/statuses/{status}/notifications")
    assert not_an_id.status_code == 400 and "grandparentId must be a whole number" in not_an_id.get_json()["message"]
    # Negative control: without the chain check, the status is found under a board it does not belong to.
    monkeypatch.setattr(type(api.world.backend), "check_ancestors", lambda *args, **kwargs: None)
    assert api.get(f"service/boards/{other_board}/statuses/{status}/notifications/{note_id}").status_code == 200


def test_a_record_written_through_one_path_is_seen_through_every_path_that_shows_it(api: Api) -> None:
    """`system/myAccount/{id}/skills` is the member's skills; `system/workflows/events/actions` lists the actions
    of every event; `company/companies/{id}/tracks` the contact tracks that name the company."""
    backend = api.world.backend
    member = api.get("system/members").get_json()[0]["id"]
    body = example_body(backend, backend.collection("system/members/skills"), "Alias")
    created = api.post(f"system/myAccount/{member}/skills", body)
    assert created.status_code == 201, created.get_json()
    record_id = created.get_json()["id"]
    assert api.get(f"system/members/{member}/skills/{record_id}").get_json()["id"] == record_id
    patched = api.patch(
        f"system/members/{member}/skills/{record_id}", [{"op": "replace", "path": "yearsExperience", "value": 7}]
    )
    assert patched.status_code == 200, patched.get_json()
    assert api.get(f"system/myAccount/{member}/skills/{record_id}").get_json()["yearsExperience"] == 7
    assert api.get("system/myAccount/99999/skills").get_json()["code"] == "NotFound"

    actions = backend.collection("system/workflows/events/actions")
    workflow_id, event_id = backend.path_ids(actions, any_record(backend, "system/workflows/events"))
    action = api.post(
        f"system/workflows/{workflow_id}/events/{event_id}/actions", example_body(backend, actions, "Alias")
    )
    assert action.status_code == 201, action.get_json()
    assert action.get_json()["id"] in [a["id"] for a in api.get("system/workflows/events/actions").get_json()]
    assert event_id in [e["id"] for e in api.get("system/workflows/events").get_json()]


def test_the_sweep_catches_an_alias_that_shows_another_table(api: Api) -> None:
    """Negative control: a collection whose alias path shows another table's records fails the read-through."""
    skills = api.world.backend.collection("system/members/skills")
    assert skills.aliases == ("system/myAccount/{parentId}/skills",)
    assert sweep(api, [skills]) == {}
    broken = dataclasses.replace(skills, aliases=("system/members/{parentId}/certifications",))
    failures = sweep(api, [broken])
    assert list(failures) == [skills.path] and "(an alias)" in failures[skills.path][0]


def test_views_across_parents_and_info_counts(api: Api) -> None:
    """`project/projectTemplates/projectTemplatePhases` lists every template's phases; `x/count/info` counts
    the `/info` projection; `/info` spelled `section/info/x` shows the base records."""
    backend = api.world.backend
    phases = backend.collection("project/projectTemplates/projectTemplatePhases")
    template_id = any_record(backend, "project/projectTemplates")
    created = api.post(
        f"project/projectTemplates/{template_id}/projectTemplatePhases", example_body(backend, phases, "Across")
    )
    assert created.status_code == 201, created.get_json()
    listed = [p["id"] for p in api.get("project/projectTemplates/projectTemplatePhases").get_json()]
    assert created.get_json()["id"] in listed
    note_types = api.get("company/noteTypes").get_json()
    assert api.get("company/noteTypes/count/info").get_json() == {"count": len(note_types)}
    types = api.get("company/companies/types").get_json()
    assert [t["id"] for t in api.get("company/companies/info/types").get_json()] == [t["id"] for t in types]
    assert api.get(f"company/companies/info/types/{types[0]['id']}").get_json()["name"] == types[0]["name"]


def test_fixed_lists_answer_connectwise_s_own_records_read_only(api: Api) -> None:
    """Locales, currency codes and document types: lists with no table a tenant edits, with count and by id."""
    locales = api.get("system/info/locales").get_json()
    assert {"name": "English (United States)", "localeCode": "en-US"}.items() <= locales[0].items()
    assert api.get("system/info/locales/count").get_json() == {"count": len(locales)}
    assert api.get(f"system/info/locales/{locales[1]['id']}").get_json()["localeCode"] == locales[1]["localeCode"]
    assert api.get("system/info/locales/99999").status_code == 404
    codes = api.get("finance/info/currencyCodes", query_string={"conditions": 'name="USD"'}).get_json()
    assert [code["name"] for code in codes] == ["USD"]
    assert api.get(f"finance/info/currencyCodes/{codes[0]['id']}").get_json()["name"] == "USD"
    pdf = api.get("system/documentTypes/info", query_string={"conditions": 'fileExtension="pdf"'}).get_json()
    assert pdf[0]["mimeType"] == "application/pdf"
    assert api.get(f"system/documentTypes/{pdf[0]['id']}/info").get_json()["fileExtension"] == "pdf"
    total = api.get("system/documentTypes/info/count").get_json()["count"]
    assert total == len(api.get("system/documentTypes/info", query_string={"pageSize": 1000}).get_json()) > 1
    assert api.post("system/info/locales", {"name": "Klingon", "localeCode": "tlh"}).status_code in (404, 405)
    assert api.get("system/documentTypes").status_code == 404  # the `{id}/info` spelling is no list of its own
    view = api.world.backend.collection("system/info/locales").view
    view(api.world.backend, None)[0]["name"] = "changed by a caller"  # a caller's copy, not the list itself
    assert api.get("system/info/locales").get_json()[0]["name"] == "English (United States)"


def test_the_plural_changeorders_count_counts_the_singular_change_order_list(api: Api) -> None:
    """`/procurement/changeorders/count` is the count of `/procurement/changeorder` (the index lists no plural list)."""
    backend = api.world.backend
    before = api.get("procurement/changeorders/count").get_json()["count"]
    assert before == len(api.get("procurement/changeorder", query_string={"pageSize": 1000}).get_json())
    body = example_body(backend, backend.collection("procurement/changeorder"), "Count")
    assert api.post("procurement/changeorder", body).status_code in (200, 201)
    assert api.get("procurement/changeorders/count").get_json() == {"count": before + 1}
    assert api.get("procurement/changeorders").status_code == 404  # no such list in the real API either


def test_a_tickets_documents_are_the_uploads_attached_to_it(api: Api) -> None:
    """`/service/tickets/{id}/documents`: the documents uploaded with `recordType` Ticket and the ticket's id."""
    ticket_id = api.post("service/tickets", {"summary": "Documents", "company": {"id": 1}}).get_json()["id"]
    other_id = api.post("service/tickets", {"summary": "No documents", "company": {"id": 1}}).get_json()["id"]

    def upload(record_type: str, record_id: int, title: str) -> int:
        form = {"file": (io.BytesIO(b"log"), f"{title}.txt", "text/plain"), "recordType": record_type}
        form |= {"recordId": str(record_id), "title": title}
        answer = api.post("system/documents", data=form, content_type="multipart/form-data")
        assert answer.status_code in (200, 201), answer.get_json()
        return answer.get_json()["id"]

    first, second = upload("Ticket", ticket_id, "Backup log"), upload("Ticket", ticket_id, "Screenshot")
    upload("Ticket", other_id, "Elsewhere")
    listed = api.get(f"service/tickets/{ticket_id}/documents").get_json()
    assert [(d["id"], d["name"]) for d in listed] == [(first, "Backup log"), (second, "Screenshot")]
    assert api.get(f"service/tickets/{ticket_id}/documents/count").get_json() == {"count": 2}
    assert api.get("service/tickets/99999/documents").status_code == 404
    # A project ticket's documents are the uploads naming a ProjectTicket, never a service ticket of the same id.
    project_id = min(api.world.backend.store.table("project/tickets").records)  # the default tenant has some
    before = api.get(f"project/tickets/{project_id}/documents/count").get_json()["count"]
    upload("ProjectTicket", project_id, "Plan")
    assert api.get(f"project/tickets/{project_id}/documents/count").get_json() == {"count": before + 1}
    upload("Ticket", project_id, "A service ticket's")
    assert api.get(f"project/tickets/{project_id}/documents/count").get_json() == {"count": before + 1}


def test_an_info_list_without_a_list_of_its_own_reads_one_record_at_its_id_info(api: Api) -> None:
    """`x/info` beside `x/{id}/info` with no list at `x` (`/service/scheduling/members`, `/service/priority`): the
    record at `x/{id}/info` is the one `x/info` lists; a missing record is a 404."""
    backend = api.world.backend
    spelled = [c for c in ALL_COLLECTIONS if c.view_of is not None and c.path.removesuffix("/info") in c.aliases]
    assert {"service/scheduling/members/info", "service/priority/info"} <= {c.path for c in spelled}
    checked = []
    for view in spelled:
        parent_id = any_record(backend, view.parent.collection) if view.parent else None
        base, bare = backend.collection(view.view_of), view.path.removesuffix("/info")
        if not api.get(backend.concrete_path(view, parent_id)).get_json():
            api.post(backend.concrete_path(base, parent_id), example_body(backend, base, "Info"))
        listed = api.get(backend.concrete_path(view, parent_id)).get_json()
        assert listed, view.path
        one = api.get(f"{backend.concrete_path(view, parent_id, bare)}/{listed[0]['id']}/info")
        assert one.status_code == 200 and one.get_json() == listed[0], (view.path, one.get_json())
        missing = api.get(f"{backend.concrete_path(view, parent_id, bare)}/99999/info")
        assert missing.status_code == 404, view.path
        checked.append(view.path)
    assert len(checked) == len(spelled)
    members = api.get("service/scheduling/members/info", query_string={"pageSize": 1000}).get_json()
    assert [m["id"] for m in members] == [
        m["id"] for m in api.get("system/members", query_string={"pageSize": 1000}).get_json()
    ]
    assert api.get("service/scheduling/members/info/count").get_json() == {"count": len(members)}
    assert "licenseClass" not in members[0] and members[0]["identifier"]


@pytest.mark.parametrize(
    ("misfiled", "listed"),
    [
        ("company/expenseTypes/info", "expense/types/info"),
        ("company/paymentTypes/info", "expense/paymentTypes/info"),
        ("sales/schedule/holidaylists/info", "schedule/holidaylists/info"),
        ("sales/service/priority/info", "service/priority/info"),
    ],
)
def test_an_info_count_the_index_files_elsewhere_counts_its_info_list(api: Api, misfiled: str, listed: str) -> None:
    """The index has no `/info/count` beside these `/info` lists; it files their count under another spelling."""
    view = next(c for c in ALL_COLLECTIONS if c.path == listed)
    backend = api.world.backend
    base = backend.collection(view.view_of)
    before = api.get(f"{misfiled}/count").get_json()["count"]
    assert before == len(api.get(listed, query_string={"pageSize": 1000}).get_json())
    assert api.post(base.path, example_body(backend, base, "Counted")).status_code in (200, 201)
    assert api.get(f"{misfiled}/count").get_json() == {"count": before + 1}
    assert api.get(misfiled).status_code == 404  # a count only: the index lists nothing else there


def test_a_holiday_lists_info_count_filed_under_sales_counts_that_lists_holidays(api: Api) -> None:
    backend = api.world.backend
    holidays = backend.collection("schedule/holidayLists/holidays")
    lists = [api.post("schedule/holidaylists", {"name": f"Counted {n}"}).get_json()["id"] for n in (1, 2)]
    body = example_body(backend, holidays, "Counted")
    assert api.post(f"schedule/holidaylists/{lists[0]}/holidays", body).status_code in (200, 201)
    assert api.get(f"sales/schedule/holidaylists/{lists[0]}/holidays/info/count").get_json() == {"count": 1}
    assert api.get(f"sales/schedule/holidaylists/{lists[1]}/holidays/info/count").get_json() == {"count": 0}
    assert api.get("sales/schedule/holidaylists/99999/holidays/info/count").status_code == 404
