"""List queries: conditions, orderBy, fields, paging with the Link header, forward-only, /count."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cwsim.simulator.connectwise.auth import SYSTEM

from .conftest import MEMBER_HEADERS, Api

LINK = re.compile(r'<([^>]*)>; rel="(\w+)"')


def links(response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}


def add_tickets(api: Api, count: int, **fields) -> list[int]:
    tickets = api.world.backend.collection("service/tickets")
    return [
        api.world.backend.create(tickets, {"summary": f"Ticket {n}", "company": {"id": 1 + n % 3}, **fields}, SYSTEM)[
            "id"
        ]
        for n in range(count)
    ]


def test_the_default_page_size_is_25_and_paging_is_one_based(api: Api) -> None:
    add_tickets(api, 30)
    first = api.get("service/tickets").get_json()
    second = api.get("service/tickets", query_string={"page": 2}).get_json()
    assert len(first) == 25 and len(second) == 5
    assert [t["id"] for t in first + second] == sorted(t["id"] for t in first + second)


def test_page_size_is_capped_at_1000_and_a_page_past_the_end_is_an_empty_list(api: Api) -> None:
    add_tickets(api, 3)
    assert len(api.get("service/tickets", query_string={"pageSize": 5000}).get_json()) == 3
    past = api.get("service/tickets", query_string={"page": 9})
    assert past.status_code == 200 and past.get_data() == b"[]"


@pytest.mark.parametrize(
    ("params", "field"), [({"pageSize": 0}, "pageSize"), ({"page": "abc"}, "page"), ({"pageSize": -5}, "pageSize")]
)
def test_bad_paging_parameters_are_a_400_naming_them(api: Api, params: dict, field: str) -> None:
    response = api.get("service/tickets", query_string=params)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == field


def test_the_link_header_names_first_prev_next_last_with_page_last_and_commas_encoded(api: Api) -> None:
    add_tickets(api, 10)
    params = {"pageSize": 3, "page": 2, "orderBy": "company/id asc,id desc", "conditions": "id > 0"}
    response = api.get("service/tickets", query_string=params)
    found = links(response)
    assert set(found) == {"first", "prev", "next", "last"}
    for rel, expected_page in {"first": "1", "prev": "1", "next": "3", "last": "4"}.items():
        url = found[rel]
        assert url.endswith(f"&page={expected_page}")
        assert "," not in url, "commas in Link URLs must be percent-encoded"
        query = dict(parse_qsl(urlsplit(url).query))
        assert query["orderBy"] == "company/id asc,id desc" and query["pageSize"] == "3"


def test_pyconnectwise_style_link_parsing_finds_every_page_number(api: Api) -> None:
    """pycw splits the header on ',' and reads `page=(\\d+)>; rel="(.*?)"` from each piece."""
    add_tickets(api, 10)
    header = api.get("service/tickets", query_string={"pageSize": 3, "orderBy": "id asc,summary desc"}).headers["Link"]
    pages = {}
    for piece in header.split(","):
        match = re.search(r'page=(\d+)>; rel="(.*?)"', piece)
        assert match, piece
        pages[match.group(2)] = int(match.group(1))
    assert pages == {"next": 2, "last": 4}


def test_the_last_page_has_no_next_link(api: Api) -> None:
    add_tickets(api, 4)
    assert set(links(api.get("service/tickets", query_string={"pageSize": 2, "page": 2}))) == {"first", "prev"}


def test_forward_only_paging_walks_by_page_id_and_ends_with_an_empty_link(api: Api) -> None:
    headers = {**MEMBER_HEADERS, "Pagination-Type": "forward-only"}
    seen: list[int] = []
    url_params = {"pageSize": 5}
    for _ in range(10):
        response = api.get("company/companies", headers=headers, query_string=url_params)
        seen += [company["id"] for company in response.get_json()]
        link = response.headers["Link"]
        if not link:
            break
        (next_url,) = LINK.findall(link)
        assert next_url[1] == "next"
        url_params = dict(parse_qsl(urlsplit(next_url[0]).query))
        assert list(url_params)[-1] == "pageId"
    assert seen == list(range(1, 13))


def test_count_applies_the_same_filters_as_the_list(api: Api) -> None:
    add_tickets(api, 9)
    condition = {"conditions": "company/id = 1"}
    assert api.get("service/tickets/count", query_string=condition).get_json() == {"count": 3}
    assert len(api.get("service/tickets", query_string=condition).get_json()) == 3
    assert api.get("service/boards/2/statuses/count").get_json() == {"count": 4}


def test_order_by_several_keys(api: Api) -> None:
    add_tickets(api, 6)
    rows = api.get("service/tickets", query_string={"orderBy": "company/id desc, id asc"}).get_json()
    assert [(t["company"]["id"], t["id"]) for t in rows] == sorted(
        ((t["company"]["id"], t["id"]) for t in rows), key=lambda pair: (-pair[0], pair[1])
    )


def test_order_by_a_joined_name(api: Api) -> None:
    rows = api.get("company/contacts", query_string={"orderBy": "company/name asc", "pageSize": 100}).get_json()
    names = [row["company"]["name"].casefold() for row in rows]
    assert names == sorted(names)


def test_a_bad_order_by_is_a_400(api: Api) -> None:
    assert api.get("service/tickets", query_string={"orderBy": "id sideways"}).status_code == 400
    assert api.get("service/tickets", query_string={"orderBy": "nosuchfield asc"}).status_code == 400


def test_fields_keeps_only_the_named_paths_nested_ones_rebuilt(api: Api) -> None:
    add_tickets(api, 1)
    (row,) = api.get("service/tickets", query_string={"fields": "id,summary,company/id"}).get_json()
    assert row == {"id": row["id"], "summary": "Ticket 0", "company": {"id": 1}}
    single = api.get(f"service/tickets/{row['id']}", query_string={"fields": "board/name"}).get_json()
    assert single == {"board": {"name": "Help Desk"}}


def test_query_parameter_names_are_case_insensitive_and_unknown_ones_ignored(api: Api) -> None:
    add_tickets(api, 5)
    params = {
        "PAGESIZE": 2,
        "Conditions": "company/id=1",
        "recordId": "<connectpyse.restapi.Endpoint object at 0x7f>",
        "recordType": "<x>",
    }
    rows = api.get("service/tickets", query_string=params).get_json()
    assert [row["company"]["id"] for row in rows] == [1, 1]


REAL_CLIENT_CONDITIONS = [
    ("service/tickets", "lastUpdated>[2020-05-01T10:00:00.123456]", 3),
    ("service/tickets", "lastUpdated>[2020-05-01T10:00:00+00:00]", 3),
    ("service/tickets", "_info/lastUpdated >= [2026-01-01T00:00:00Z]", 3),
    ("service/tickets", "closedDate = null", 2),
    ("service/tickets", "closedDate != null", 1),
    ("service/tickets", 'status/name in ("New","In Progress")', 2),
    ("service/tickets", 'board/name="Datto Alerts" and status/name!="Closed" and company/id=1', 1),
    ("service/tickets", "company/id=1", 2),
    ("service/tickets", "id > 1000", 0),
    ("service/tickets", 'summary contains "backup"', 1),
    ("service/tickets", "status/id not in (1,2,3)", 2),
    ("company/companies", "deletedFlag=False", 12),
    ("company/companies", 'name like "%a%"', None),
    ("service/boards", "inactiveFlag=false", 3),
    ("service/boards", 'name="Help Desk"', 1),
    ("service/boards/2/statuses", "inactive=False", 4),
    ("system/members", 'identifier="cwsim-api"', 1),
]


@pytest.mark.parametrize(("path", "condition", "expected"), REAL_CLIENT_CONDITIONS)
def test_conditions_real_clients_send(api: Api, path: str, condition: str, expected: int | None) -> None:
    backend = api.world.backend
    tickets = backend.collection("service/tickets")
    backend.create(
        tickets, {"summary": "Backup failed", "company": {"id": 1}, "board": {"name": "Datto Alerts"}}, SYSTEM
    )
    backend.create(tickets, {"summary": "Printer", "company": {"id": 1}, "status": {"name": "In Progress"}}, SYSTEM)
    backend.create(
        tickets, {"summary": "Old", "company": {"id": 2}, "board": {"id": 2}, "status": {"name": "Closed"}}, SYSTEM
    )
    response = api.get(path, query_string={"conditions": condition, "pageSize": 1000})
    assert response.status_code == 200, response.get_json()
    if expected is not None:
        assert len(response.get_json()) == expected
    else:
        assert all("a" in row["name"].casefold() for row in response.get_json())


MALFORMED = [
    'summary = "unterminated',
    "(company/id = 1",
    "company/id = 1)",
    "company/id 1",
    "company/id =",
    'name ~ "x"',
    'name not = "x"',
    "company/id = 1 company/id = 2",
    "company/id = 1 and",
    "status/id in ()",
    'summary = ("a","b")',
    "lastUpdated > [2020-13-45]",
    "lastUpdated > []",
    "company//id = 1",
    "company/ = 1",
    "nosuchfield = 1",
    'company/id = "abc"',
    "closedFlag = 7",
    "summary > null",
]


@pytest.mark.parametrize("condition", MALFORMED)
def test_malformed_conditions_are_a_400_naming_the_position(api: Api, condition: str) -> None:
    response = api.get("service/tickets", query_string={"conditions": condition})
    assert response.status_code == 400, condition
    body = response.get_json()
    assert body["code"] == "BadRequest"
    assert re.search(r"position \d+", body["message"]), body["message"]


def test_child_conditions_match_when_any_element_matches(api: Api) -> None:
    rows = api.get("company/contacts", query_string={"pageSize": 100}).get_json()
    email = rows[0]["communicationItems"][0]["value"]
    child = f'communicationItems/value = "{email}" and communicationItems/communicationType = "Email"'
    found = api.get("company/contacts", query_string={"childConditions": child}).get_json()
    assert [row["id"] for row in found] == [rows[0]["id"]]


def test_custom_field_conditions_match_custom_field_elements(api: Api) -> None:
    backend = api.world.backend
    tickets = backend.collection("service/tickets")
    custom = [{"id": 1, "caption": "Serial", "type": "Text", "entryMethod": "EntryField", "value": "123"}]
    wanted = backend.create(tickets, {"summary": "a", "company": {"id": 1}, "customFields": custom}, SYSTEM)
    backend.create(tickets, {"summary": "b", "company": {"id": 1}}, SYSTEM)
    found = api.get("service/tickets", query_string={"customFieldConditions": 'caption="Serial" AND value="123"'})
    assert [row["id"] for row in found.get_json()] == [wanted["id"]]


def test_search_takes_conditions_in_the_body_and_answers_200(api: Api) -> None:
    add_tickets(api, 6)
    response = api.post("service/tickets/search", {"conditions": "company/id = 2", "orderBy": "id desc"})
    assert response.status_code == 200
    ids = [row["id"] for row in response.get_json()]
    assert ids == sorted(ids, reverse=True) and len(ids) == 2


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True
)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_random_condition_text_never_makes_a_server_error(api: Api, text: str) -> None:
    response = api.get("service/tickets", query_string={"conditions": text})
    assert response.status_code in (200, 400), (text, response.get_data(as_text=True))
    if response.status_code == 400:
        assert set(response.get_json()) == {"code", "message", "errors"}


def test_link_urls_decode_back_to_the_original_conditions(api: Api) -> None:
    add_tickets(api, 4)
    condition = 'summary like "Ticket%" and company/id in (1,2,3)'
    response = api.get("service/tickets", query_string={"conditions": condition, "pageSize": 1})
    query = urlsplit(links(response)["next"]).query
    assert unquote(dict(q.split("=", 1) for q in query.split("&"))["conditions"]) == condition
