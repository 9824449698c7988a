"""pyconnectwise from PyPI, unmodified but for the reference's two-method subclass that uses http.

Every response it gets is validated against its pydantic models, so this also checks that the
fake's records carry the fields, enums and `_info` strings real clients require.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyconnectwise import ConnectWiseManageAPIClient
from pyconnectwise.exceptions import MalformedRequestException, NotFoundException

from cwsim.simulator.pytest_plugin import Cwsim
from cwsim.simulator.server import RunningServer, ServeOptions
from cwsim.simulator.world import WorldOptions


class LocalCW(ConnectWiseManageAPIClient):
    """connectwise-api.md §7 option B: pyconnectwise hard-codes https; these two methods use http."""

    def _get_url(self) -> str:
        return f"http://{self.manage_url}/{self.codebase.strip('/')}/apis/3.0"

    def _try_get_codebase_from_api(self, manage_url: str, company_name: str, headers: dict[str, str]) -> str:
        url = f"http://{manage_url}/login/companyinfo/{company_name}"
        return self._make_request("GET", url, headers=headers).json().get("Codebase")


def client_for(facts: dict) -> LocalCW:
    host = facts["url"].removeprefix("http://")
    return LocalCW(facts["companyId"], host, facts["clientId"], facts["publicKey"], facts["privateKey"])


@pytest.fixture
def cw(cwsim: Cwsim) -> LocalCW:
    return client_for(cwsim.facts)


@pytest.fixture(scope="module")
def big_tenant() -> Iterator[RunningServer]:
    server = RunningServer(ServeOptions(port=0, world=WorldOptions(companies=2500))).start(timeout=120)
    yield server
    server.stop()


def test_it_looks_up_the_codebase_and_lists_boards(cw: LocalCW) -> None:
    assert cw.codebase.endswith("/")
    boards = cw.service.boards.get(params={"conditions": "inactiveFlag=false", "orderBy": "name asc"})
    assert [board.name for board in boards] == ["Datto Alerts", "Help Desk", "Professional Services"]


def test_it_creates_a_ticket_and_reads_its_notes(cw: LocalCW) -> None:
    board = cw.service.boards.get(params={"conditions": 'name="Datto Alerts"'})[0]
    ticket = cw.service.tickets.post(
        data={
            "summary": "Datto SIRIS 00012E94105B: Backup failed - FS01",
            "board": {"id": board.id},
            "company": {"id": 2},
            "initialDescription": "Backup of FS01 failed at 02:00.",
        }
    )
    assert ticket.id and ticket.status.name == "New" and ticket.company.id == 2
    notes = cw.service.tickets.id(ticket.id).notes.get()
    assert [note.text for note in notes] == ["Backup of FS01 failed at 02:00."]


def test_it_patches_a_ticket_to_a_closed_status_and_counts_tickets(cw: LocalCW) -> None:
    ticket = cw.service.tickets.post(data={"summary": "Backup failed", "company": {"id": 1}, "board": {"id": 2}})
    closed = next(s for s in cw.service.boards.id(2).statuses.get() if s.closed_status)
    patched = cw.service.tickets.id(ticket.id).patch(data=[{"op": "replace", "path": "status/id", "value": closed.id}])
    assert patched.closed_flag is True and patched.closed_date is not None
    assert cw.service.tickets.count.get(params={"conditions": "closedFlag=true"}).count == 1
    assert cw.service.tickets.count.get().count == 1


def test_its_typed_exceptions_fire_on_the_fakes_errors(cw: LocalCW) -> None:
    with pytest.raises(NotFoundException):
        cw.service.tickets.id(9999).get()
    with pytest.raises(MalformedRequestException):
        cw.service.tickets.post(data={"summary": "no company"})


@pytest.mark.slow
def test_it_pages_through_2500_companies_with_the_link_header(big_tenant: RunningServer) -> None:
    cw = client_for(big_tenant.facts())
    companies = list(cw.company.companies.paginated(1, 1000).all())
    assert len(companies) == 2500
    assert len({company.id for company in companies}) == 2500
    contacts = cw.company.contacts.paginated(1, 1000, {"conditions": "company/id <= 10"}).all()
    assert {contact.company.id for contact in contacts} == set(range(1, 11))


def test_every_record_of_every_collection_validates_against_its_models(cw: LocalCW) -> None:
    """pydantic rejects missing required fields, wrong enums and non-string `_info` values."""
    cw.service.tickets.post(data={"summary": "x", "company": {"id": 1}, "initialDescription": "note"})
    assert cw.company.companies.get(params={"pageSize": 1000})
    assert cw.company.contacts.get(params={"pageSize": 1000})
    assert cw.system.members.get()
    assert cw.system.info.get().version
    for board in cw.service.boards.get():
        assert cw.service.boards.id(board.id).statuses.get()
        assert cw.service.boards.id(board.id).types.get()
        cw.service.boards.id(board.id).subtypes.get()
        cw.service.boards.id(board.id).items.get()
    for ticket in cw.service.tickets.get():
        assert cw.service.tickets.id(ticket.id).notes.get()
