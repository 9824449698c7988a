"""Writes as ConnectWise answers them: statuses, validation errors, references, PATCH, ticket rules."""

from __future__ import annotations

import re
import uuid

import pytest

from .conftest import Api

CW_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def new_ticket(api: Api, **fields) -> dict:
    response = api.post("service/tickets", {"summary": "Backup failed", "company": {"id": 1}, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def problems(response) -> list[tuple[str, str]]:
    body = response.get_json()
    assert body["code"] == "InvalidObject"
    return [(error["code"], error["field"]) for error in body["errors"]]


def test_post_is_201_get_put_patch_are_200_delete_is_204_with_no_body(api: Api) -> None:
    ticket = new_ticket(api)
    assert api.get(f"service/tickets/{ticket['id']}").status_code == 200
    put = api.put(f"service/tickets/{ticket['id']}", {"summary": "Replaced", "company": {"id": 2}})
    assert put.status_code == 200 and put.get_json()["summary"] == "Replaced"
    patch = api.patch(f"service/tickets/{ticket['id']}", [{"op": "replace", "path": "summary", "value": "P"}])
    assert patch.status_code == 200 and patch.get_json()["summary"] == "P"
    delete = api.delete(f"service/tickets/{ticket['id']}")
    assert delete.status_code == 204 and delete.get_data() == b""
    assert api.get(f"service/tickets/{ticket['id']}").status_code == 404


def test_a_missing_record_is_a_404_that_names_it(api: Api) -> None:
    response = api.get("service/tickets/17")
    assert response.status_code == 404
    assert response.get_json() == {"code": "NotFound", "message": "Ticket 17 not found", "errors": None}


def test_a_child_of_a_missing_parent_is_a_404_naming_the_parent(api: Api) -> None:
    response = api.get("service/tickets/999/notes")
    assert response.status_code == 404
    assert response.get_json()["message"] == "Ticket 999 not found"
    assert api.get("service/tickets/999/notes/count").status_code == 404


def test_validation_errors_are_invalid_object_with_one_entry_per_field(api: Api) -> None:
    response = api.post("service/tickets", {"summary": "x" * 101, "severity": "Catastrophic"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["message"] == "ticket object is invalid"
    assert sorted(problems(response)) == [
        ("InvalidField", "severity"),
        ("InvalidField", "summary"),
        ("MissingRequiredField", "company"),
    ]
    assert all(error["resource"] == "ticket" for error in body["errors"])


def test_a_reference_to_something_that_does_not_exist_is_a_400_naming_the_field(api: Api) -> None:
    response = api.post("service/tickets", {"summary": "x", "company": {"id": 999}})
    assert response.status_code == 400
    assert problems(response) == [("InvalidField", "company")]
    assert "999" in response.get_json()["errors"][0]["message"]


def test_a_duplicate_company_identifier_is_object_exists(api: Api) -> None:
    (first,) = api.get("company/companies", query_string={"pageSize": 1}).get_json()
    response = api.post("company/companies", {"identifier": first["identifier"].upper(), "name": "Dup", "city": "X"})
    assert response.status_code == 400
    assert problems(response) == [("ObjectExists", "identifier")]


def test_a_new_company_needs_an_address_field(api: Api) -> None:
    response = api.post("company/companies", {"identifier": "NoAddress", "name": "No Address"})
    assert problems(response) == [("MissingRequiredField", "addressLine1")]
    assert api.post("company/companies", {"identifier": "Ok", "name": "Ok", "zip": "12345"}).status_code == 201


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"a string"', "JSON object"),
    ],
)
def test_bodies_that_are_not_objects_are_a_400(api: Api, body: bytes, expected: str) -> None:
    response = api.call("POST", "service/tickets", data=body, content_type="application/json")
    assert response.status_code == 400
    assert expected in str(response.get_json())


def test_references_are_accepted_by_id_name_or_identifier_and_expanded(api: Api) -> None:
    (company,) = api.get("company/companies", query_string={"pageSize": 1}).get_json()
    ticket = new_ticket(
        api,
        company={"identifier": company["identifier"].lower()},
        board={"name": "datto alerts"},
        status={"name": "Waiting"},
        type={"name": "Device"},
    )
    assert ticket["company"]["id"] == company["id"]
    assert ticket["company"]["identifier"] == company["identifier"] and ticket["company"]["name"] == company["name"]
    assert ticket["board"]["name"] == "Datto Alerts"
    assert ticket["status"]["name"] == "Waiting" and ticket["type"]["name"] == "Device"
    href = ticket["status"]["_info"]["status_href"]
    assert href.endswith(f"/service/boards/{ticket['board']['id']}/statuses/{ticket['status']['id']}")
    assert ticket["company"]["_info"]["company_href"].endswith(f"/company/companies/{company['id']}")


def test_every_info_value_is_a_string_and_datetimes_are_cw_format(api: Api) -> None:
    ticket = new_ticket(api, status={"name": "Completed"})

    def infos(value):
        if isinstance(value, dict):
            if "_info" in value:
                yield value["_info"]
            for item in value.values():
                yield from infos(item)
        elif isinstance(value, list):
            for item in value:
                yield from infos(item)

    for info in infos(ticket):
        assert all(isinstance(v, str) for v in info.values()), info
    for value in (ticket["closedDate"], ticket["_info"]["dateEntered"], ticket["_info"]["lastUpdated"]):
        assert CW_DATETIME.match(value)
    assert uuid.UUID(ticket["mobileGuid"])


def test_server_set_fields_are_ignored_on_input(api: Api) -> None:
    ticket = new_ticket(api, id=999, closedFlag=True, closedBy="someone", _info={"x": 1}, mobileGuid="nope")
    assert ticket["id"] != 999 and ticket["closedFlag"] is False and "closedBy" not in ticket
    assert ticket["mobileGuid"] != "nope"


def test_a_ticket_defaults_to_the_default_board_and_its_default_status(api: Api) -> None:
    ticket = new_ticket(api)
    assert (ticket["board"]["name"], ticket["status"]["name"]) == ("Help Desk", "New")
    on_datto = new_ticket(api, board={"name": "Datto Alerts"})
    assert on_datto["status"]["name"] == "New" and on_datto["status"]["id"] != ticket["status"]["id"]


@pytest.mark.parametrize("field", ["status", "type"])
def test_status_and_type_must_belong_to_the_tickets_board(api: Api, field: str) -> None:
    other_board = api.get("service/boards/2/statuses" if field == "status" else "service/boards/2/types").get_json()
    response = api.post(
        "service/tickets",
        {"summary": "x", "company": {"id": 1}, "board": {"id": 1}, field: {"id": other_board[0]["id"]}},
    )
    assert response.status_code == 400
    assert problems(response) == [("InvalidField", field)]
    assert "does not belong to board" in response.get_json()["errors"][0]["message"]


def test_a_name_is_looked_up_on_the_tickets_own_board(api: Api) -> None:
    """Both boards have a "New" status; the name finds the one on the ticket's board."""
    ticket = new_ticket(api, board={"id": 2}, status={"name": "new"})
    assert ticket["status"]["_info"]["status_href"].endswith(f"/service/boards/2/statuses/{ticket['status']['id']}")


def test_moving_to_a_closed_status_closes_and_moving_out_reopens(api: Api) -> None:
    ticket = new_ticket(api, board={"name": "Datto Alerts"})
    closed = api.patch(
        f"service/tickets/{ticket['id']}", [{"op": "replace", "path": "status", "value": {"name": "Closed"}}]
    )
    body = closed.get_json()
    assert body["closedFlag"] is True and body["closedBy"] == "cwsim-api" and CW_DATETIME.match(body["closedDate"])
    reopened = api.patch(
        f"service/tickets/{ticket['id']}", [{"op": "replace", "path": "status/name", "value": "In Progress"}]
    )
    assert reopened.get_json()["closedFlag"] is False
    assert "closedDate" not in reopened.get_json() and "closedBy" not in reopened.get_json()


def test_a_patch_that_leaves_the_status_alone_keeps_the_closing_facts(api: Api) -> None:
    ticket = new_ticket(api, board={"id": 2}, status={"name": "Closed"})
    patched = api.patch(f"service/tickets/{ticket['id']}", [{"op": "replace", "path": "summary", "value": "later"}])
    assert patched.get_json()["closedDate"] == ticket["closedDate"]


def test_initial_description_becomes_the_first_note_and_is_never_echoed(api: Api) -> None:
    ticket = new_ticket(api, initialDescription="The backup of FS01 failed.", initialInternalAnalysis="Check agent")
    assert "initialDescription" not in ticket and "initialInternalAnalysis" not in ticket
    notes = api.get(f"service/tickets/{ticket['id']}/notes").get_json()
    assert [(n["text"], n["detailDescriptionFlag"], n["internalAnalysisFlag"]) for n in notes] == [
        ("The backup of FS01 failed.", True, False),
        ("Check agent", False, True),
    ]
    assert api.get(f"service/tickets/{ticket['id']}").get_json().get("initialDescription") is None


def test_notes_need_text_and_a_kind(api: Api) -> None:
    ticket = new_ticket(api)
    response = api.post(f"service/tickets/{ticket['id']}/notes", {"text": "hello"})
    assert problems(response) == [("MissingRequiredField", "detailDescriptionFlag")]
    note = api.post(f"service/tickets/{ticket['id']}/notes", {"text": "hello", "internalAnalysisFlag": True})
    assert note.status_code == 201
    assert note.get_json()["ticketId"] == ticket["id"] and note.get_json()["createdBy"] == "cwsim-api"
    assert api.get(f"service/tickets/{ticket['id']}/notes/count").get_json() == {"count": 1}


def test_a_note_is_only_found_under_its_own_ticket(api: Api) -> None:
    first, second = new_ticket(api), new_ticket(api)
    note = api.post(f"service/tickets/{first['id']}/notes", {"text": "a", "detailDescriptionFlag": True}).get_json()
    assert api.get(f"service/tickets/{second['id']}/notes/{note['id']}").status_code == 404
    assert api.get(f"service/tickets/{first['id']}/notes/{note['id']}").status_code == 200


def test_deleting_a_ticket_deletes_its_notes(api: Api) -> None:
    ticket = new_ticket(api, initialDescription="first")
    api.delete(f"service/tickets/{ticket['id']}")
    assert api.world.backend.store.table("service/tickets/notes").records == {}


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "/status/id", "value": "{closed}"},
        {"op": "replace", "path": "status/id", "value": "{closed}"},
        {"op": "replace", "path": "status", "value": {"id": "{closed}"}},
        {"op": "add", "path": "status", "value": {"name": "Closed"}},
    ],
)
def test_patch_accepts_every_path_form_real_clients_send(api: Api, operation: dict) -> None:
    ticket = new_ticket(api, board={"id": 2})
    closed_id = next(s["id"] for s in api.get("service/boards/2/statuses").get_json() if s["name"] == "Closed")
    value = operation["value"]
    if isinstance(value, str):
        value = value.format(closed=closed_id)
    elif "id" in value:
        value = {"id": str(closed_id)}
    response = api.patch(f"service/tickets/{ticket['id']}", [{**operation, "value": value}])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"]["name"] == "Closed"


def test_patch_coerces_string_scalars_like_djconnectwise_sends(api: Api) -> None:
    ticket = new_ticket(api)
    response = api.patch(
        f"service/tickets/{ticket['id']}",
        [
            {"op": "replace", "path": "budgetHours", "value": "2.5"},
            {"op": "replace", "path": "automaticEmailContactFlag", "value": "True"},
            {"op": "replace", "path": "parentTicketId", "value": ""},
        ],
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["budgetHours"] == 2.5 and body["automaticEmailContactFlag"] is True


def test_patch_is_all_or_nothing(api: Api) -> None:
    ticket = new_ticket(api)
    response = api.patch(
        f"service/tickets/{ticket['id']}",
        [
            {"op": "replace", "path": "summary", "value": "changed"},
            {"op": "replace", "path": "severity", "value": "Nope"},
        ],
    )
    assert response.status_code == 400
    assert api.get(f"service/tickets/{ticket['id']}").get_json()["summary"] == "Backup failed"


def test_patch_remove_clears_an_optional_field_and_refuses_a_required_one(api: Api) -> None:
    ticket = new_ticket(api, externalXRef="abc")
    cleared = api.patch(f"service/tickets/{ticket['id']}", [{"op": "remove", "path": "externalXRef"}])
    assert "externalXRef" not in cleared.get_json()
    refused = api.patch(f"service/tickets/{ticket['id']}", [{"op": "remove", "path": "summary"}])
    assert problems(refused) == [("MissingRequiredField", "summary")]


@pytest.mark.parametrize(
    "body",
    [
        {"op": "replace", "path": "summary", "value": "x"},
        [],
        [{"op": "move", "path": "summary", "value": "x"}],
        [{"op": "replace", "value": "x"}],
        [{"op": "replace", "path": "nosuchfield", "value": "x"}],
        [{"op": "replace", "path": "summary"}],
        ["not an object"],
    ],
)
def test_malformed_patch_bodies_are_a_400(api: Api, body) -> None:
    ticket = new_ticket(api)
    response = api.patch(f"service/tickets/{ticket['id']}", body)
    assert response.status_code == 400
    assert response.get_json()["code"] == "InvalidObject"


def test_moving_a_ticket_to_another_board_takes_that_boards_default_status(api: Api) -> None:
    ticket = new_ticket(api)
    moved = api.patch(f"service/tickets/{ticket['id']}", [{"op": "replace", "path": "board", "value": {"id": 2}}])
    body = moved.get_json()
    assert body["board"]["id"] == 2 and body["status"]["name"] == "New"
    assert body["status"]["_info"]["status_href"].endswith(f"/boards/2/statuses/{body['status']['id']}")


def test_put_is_a_full_replace(api: Api) -> None:
    ticket = new_ticket(api, externalXRef="abc", severity="High")
    replaced = api.put(f"service/tickets/{ticket['id']}", {"summary": "new", "company": {"id": 1}}).get_json()
    assert "externalXRef" not in replaced and replaced["severity"] == "Medium"
    assert replaced["_info"]["dateEntered"] == ticket["_info"]["dateEntered"]


def test_making_a_status_the_default_takes_the_flag_from_the_others(api: Api) -> None:
    statuses = api.get("service/boards/2/statuses").get_json()
    waiting = next(s for s in statuses if s["name"] == "Waiting")
    api.patch(f"service/boards/2/statuses/{waiting['id']}", [{"op": "replace", "path": "defaultFlag", "value": True}])
    defaults = [s["name"] for s in api.get("service/boards/2/statuses").get_json() if s["defaultFlag"]]
    assert defaults == ["Waiting"]
    assert new_ticket(api, board={"id": 2})["status"]["name"] == "Waiting"


def test_unicode_script_and_sql_looking_strings_are_stored_verbatim(api: Api) -> None:
    summary = "<script>alert('x')</script>'; DROP TABLE tickets;-- ✓ Ünïcødé"
    ticket = new_ticket(api, summary=summary)
    assert api.get(f"service/tickets/{ticket['id']}").get_json()["summary"] == summary


@pytest.mark.parametrize("reference", [True, [1], {"id": True}, {"nothing": 1}, {"name": 5}])
def test_a_malformed_reference_is_a_400_naming_the_field(api: Api, reference) -> None:
    response = api.post("service/tickets", {"summary": "x", "company": reference})
    assert response.status_code == 400
    (error,) = response.get_json()["errors"]
    assert error["field"] == "company" and "reference like" in error["message"]
