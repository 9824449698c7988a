"""connectpyse from PyPI, unmodified: trailing-slash collection URLs, junk query parameters, and
exact success statuses (it raises unless POST is 201, GET/PATCH 200 and DELETE 204)."""

from __future__ import annotations

from connectpyse.service import boards_api, ticket, ticket_note, ticket_notes_api, tickets_api

from cwsim.simulator.pytest_plugin import Cwsim


def connection(cwsim: Cwsim) -> dict:
    return {"url": cwsim.api_url, "auth": cwsim.headers()}


def test_connectpyse_lists_boards_with_conditions(cwsim: Cwsim) -> None:
    boards = boards_api.BoardsAPI(**connection(cwsim))
    boards.conditions = 'name="Datto Alerts"'
    boards.pageSize = 100
    (board,) = list(boards.get_boards())
    assert board.name == "Datto Alerts"


def test_connectpyse_creates_updates_counts_and_deletes_a_ticket(cwsim: Cwsim) -> None:
    api = tickets_api.TicketsAPI(**connection(cwsim))
    created = api.create_ticket(ticket.Ticket({"summary": "Backup failed", "board": {"id": 2}, "company": {"id": 2}}))
    assert created.id and created.status["name"] == "New"
    updated = api.update_ticket(created.id, "summary", "Backup failed twice")
    assert updated.summary == "Backup failed twice"
    assert api.get_tickets_count() == 1
    notes = ticket_notes_api.TicketNotesAPI(ticket_id=created.id, **connection(cwsim))
    notes.create_ticket_note(ticket_note.TicketNote({"text": "seen again", "detailDescriptionFlag": True}))
    assert [note.text for note in notes.get_ticket_notes()] == ["seen again"]
    api.delete_ticket_by_id(created.id)
    assert api.get_tickets_count() == 0


def test_connectpyse_junk_parameters_are_ignored(cwsim: Cwsim) -> None:
    api = tickets_api.TicketsAPI(**connection(cwsim))
    api.conditions = "company/id=1"
    assert list(api.get_tickets()) == []
    journal = cwsim.admin().get("requests", params={"path": "service/tickets"}).json()
    assert "recordId" in journal[-1]["query"] and journal[-1]["status"] == 200
