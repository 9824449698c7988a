"""The integration's ConnectWise client against the real fake: codebase, auth, paging, CRUD and typed errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from cwsim.integration.conditions import starts_with, where
from cwsim.integration.connectwise import (
    DEFAULT_CODEBASE,
    ApiKey,
    AuthenticationError,
    BadRequest,
    ConnectWiseClient,
    ConnectWiseError,
    IntegratorLogin,
    InvalidObject,
    NotFound,
    ObjectExists,
    lookup_codebase,
)
from cwsim.simulator.journal import JournalFilter

EXTRA_COMPANIES = 104


def api_key(cwsim) -> ApiKey:
    return ApiKey(cwsim.company_id, cwsim.facts["publicKey"], cwsim.facts["privateKey"])


def integrator_login(cwsim, password: str | None = None) -> IntegratorLogin:
    login = cwsim.facts["integrator"]
    return IntegratorLogin(cwsim.company_id, login["username"], password or login["password"])


@pytest.fixture
def client(cwsim) -> Iterator[ConnectWiseClient]:
    with ConnectWiseClient(cwsim.api_url, api_key(cwsim), cwsim.facts["clientId"]) as client:
        yield client


def add_companies(client: ConnectWiseClient, count: int, prefix: str = "Paging Co") -> list[int]:
    return [
        client.post(
            "company/companies", {"identifier": f"PagingCo{n:03d}", "name": f"{prefix} {n:03d}", "city": "Leeds"}
        )["id"]
        for n in range(count)
    ]


def company_requests(cwsim) -> int:
    return len(cwsim.world.journal.entries(JournalFilter(method="GET", path="/company/companies")))


# --------------------------------------------------------------------------- codebase and auth


def test_the_codebase_comes_from_the_anonymous_companyinfo_lookup(cwsim) -> None:
    advertised = cwsim.world.backend.settings.codebase
    assert advertised != DEFAULT_CODEBASE
    assert lookup_codebase(cwsim.url, cwsim.company_id) == advertised
    assert lookup_codebase(cwsim.url, "no-such-company") == DEFAULT_CODEBASE

    client = ConnectWiseClient.for_site(cwsim.url, api_key(cwsim), cwsim.facts["clientId"])
    assert client.api_url == f"{cwsim.url}/{advertised}apis/3.0/"
    assert client.get("system/info")["version"].startswith("v")


def test_api_keys_and_integrator_logins_both_authenticate(cwsim, client: ConnectWiseClient) -> None:
    assert client.get("system/info")["version"]
    integrator = ConnectWiseClient(cwsim.api_url, integrator_login(cwsim), cwsim.facts["clientId"])
    assert integrator.get("service/boards")


def test_wrong_credentials_raise_authentication_error_with_the_reason(cwsim) -> None:
    wrong = ConnectWiseClient(cwsim.api_url, integrator_login(cwsim, "not-the-password"), cwsim.facts["clientId"])
    with pytest.raises(AuthenticationError) as raised:
        wrong.get("service/boards")
    error = raised.value
    assert (error.status, error.code, error.message) == (401, "Unauthorized", "UserNotAuthenticated")
    assert error.errors and error.errors[0].field == "Authorization"
    assert "wrong password" in error.errors[0].message
    assert (error.method, error.url) == ("GET", f"{cwsim.api_url}/service/boards")


def test_a_client_id_is_required() -> None:
    with pytest.raises(ValueError, match="clientId"):
        ConnectWiseClient("http://127.0.0.1:1/v4_6_release/apis/3.0", ApiKey("c", "p", "s"), "")


# --------------------------------------------------------------------------- paging


def test_navigable_paging_reads_every_page_and_stops_at_the_short_one(cwsim, client: ConnectWiseClient) -> None:
    add_companies(client, EXTRA_COMPANIES)
    total = client.count("company/companies")
    assert total >= 100 + 25
    cwsim.world.journal.clear()

    ids = [company["id"] for company in client.iterate("company/companies", page_size=25, order_by="id desc")]

    assert len(ids) == len(set(ids)) == total
    assert ids == sorted(ids, reverse=True)
    assert company_requests(cwsim) == -(-total // 25)  # a short last page, or a Link without next, ends it


def test_forward_only_paging_follows_page_id(cwsim, client: ConnectWiseClient) -> None:
    add_companies(client, EXTRA_COMPANIES)
    total = client.count("company/companies")
    cwsim.world.journal.clear()

    ids = [company["id"] for company in client.iterate("company/companies", page_size=25, forward_only=True)]

    assert len(ids) == total and ids == sorted(set(ids))
    queries = [entry.query for entry in cwsim.world.journal.entries(JournalFilter(path="/company/companies"))]
    assert "pageId" not in queries[0] and all("pageId=" in query for query in queries[1:])
    assert len(queries) == -(-total // 25)


def test_paging_with_conditions_and_fields(client: ConnectWiseClient) -> None:
    created = add_companies(client, 30)
    condition = where("name", "like", starts_with("Paging Co 0")) & where("id", ">=", created[5])

    rows = list(client.iterate("company/companies", conditions=condition, fields=["id", "name"], page_size=10))

    assert [row["id"] for row in rows] == created[5:]
    assert all(set(row) == {"id", "name"} for row in rows)
    assert client.count("company/companies", condition) == 25


def test_an_exactly_full_last_page_costs_one_empty_page(cwsim, client: ConnectWiseClient) -> None:
    add_companies(client, 50 - client.count("company/companies") % 50)
    total = client.count("company/companies")
    assert total % 50 == 0
    cwsim.world.journal.clear()
    assert len(list(client.iterate("company/companies", page_size=50))) == total
    assert company_requests(cwsim) == total // 50  # the Link header has no next on the last page


def test_forward_only_on_an_endpoint_without_it_is_refused_not_truncated(client: ConnectWiseClient) -> None:
    with pytest.raises(ConnectWiseError, match="does not page forward-only"):
        list(client.iterate("service/boards", page_size=1, forward_only=True))


# --------------------------------------------------------------------------- records and errors


def test_a_ticket_is_created_patched_and_deleted(cwsim, client: ConnectWiseClient) -> None:
    board = client.get("service/boards", {"conditions": str(where("name", "=", "Datto Alerts"))})[0]
    statuses = client.get(f"service/boards/{board['id']}/statuses")
    waiting = next(status for status in statuses if status["name"] == "Waiting")
    company = next(client.iterate("company/companies", page_size=1))

    ticket = client.post(
        "service/tickets",
        {"summary": "Datto SIRIS 00012E94105B: Backup failed - FS01", "company": {"id": company["id"]},
         "board": {"id": board["id"]}, "externalXRef": "alert:00012E94105B:1"},
    )  # fmt: skip
    path = f"service/tickets/{ticket['id']}"
    patched = client.patch(path, {"summary": "Backup failed twice", "status": {"id": waiting["id"]}})

    assert patched["summary"] == "Backup failed twice"
    assert patched["status"]["name"] == "Waiting"
    found = client.get("service/tickets", {"conditions": str(where("externalXRef", "=", "alert:00012E94105B:1"))})
    assert [t["id"] for t in found] == [ticket["id"]]

    client.delete(path)
    with pytest.raises(NotFound) as raised:
        client.get(path)
    assert raised.value.status == 404 and raised.value.message == f"Ticket {ticket['id']} not found"
    client.delete(path, missing_ok=True)
    with pytest.raises(NotFound):
        client.delete(path)


def test_a_json_patch_list_is_sent_as_given(client: ConnectWiseClient) -> None:
    company = next(client.iterate("company/companies", page_size=1))
    ticket = client.post("service/tickets", {"summary": "first", "company": {"id": company["id"]}})
    patched = client.patch(f"service/tickets/{ticket['id']}", [{"op": "replace", "path": "/summary", "value": "next"}])
    assert patched["summary"] == "next"


def test_an_invalid_ticket_raises_invalid_object_naming_each_field(client: ConnectWiseClient) -> None:
    with pytest.raises(InvalidObject) as raised:
        client.post("service/tickets", {"summary": "x" * 101})
    error = raised.value
    assert (error.status, error.code, error.message) == (400, "InvalidObject", "ticket object is invalid")
    fields = {(item.field, item.resource) for item in error.errors}
    assert {("summary", "ticket"), ("company", "ticket")} <= fields
    assert "summary" in str(error) and "company" in str(error)
    assert not isinstance(error, ObjectExists)


def test_a_duplicate_company_identifier_raises_object_exists(client: ConnectWiseClient) -> None:
    add_companies(client, 1)
    with pytest.raises(ObjectExists) as raised:
        add_companies(client, 1)
    assert isinstance(raised.value, InvalidObject)
    assert [(item.code, item.field) for item in raised.value.errors] == [("ObjectExists", "identifier")]


def test_a_malformed_condition_is_a_bad_request_not_an_invalid_object(client: ConnectWiseClient) -> None:
    with pytest.raises(BadRequest) as raised:
        client.get("service/tickets", {"conditions": 'summary = "unterminated'})
    assert not isinstance(raised.value, InvalidObject)
    assert raised.value.errors[0].field == "conditions"


def test_absolute_urls_outside_the_api_are_refused(client: ConnectWiseClient) -> None:
    with pytest.raises(ValueError, match="credentials go to that API only"):
        client.get("https://elsewhere.example/v4_6_release/apis/3.0/service/tickets")
    assert client.get(client.api_url + "system/info")["version"]


# --------------------------------------------------------------------------- threads


def test_each_thread_gets_its_own_session(cwsim, client: ConnectWiseClient) -> None:
    company = next(client.iterate("company/companies", page_size=1))
    sessions: dict[int, list[object]] = {}
    created: list[int] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        for n in range(5):
            ticket = client.post("service/tickets", {"summary": f"w{worker} t{n}", "company": {"id": company["id"]}})
            with lock:
                sessions.setdefault(worker, []).append(client.session)
                created.append(ticket["id"])

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(created) == len(set(created)) == 20
    per_thread = {worker: {id(s) for s in seen} for worker, seen in sessions.items()}
    assert all(len(ids) == 1 for ids in per_thread.values())
    assert len(set().union(*per_thread.values())) == 4
    assert client.session is client.session
