"""Drives django-connectwise's ticket create, update and close path against the fake; prints JSON.

Run with the django-connectwise venv's Python, after the sync steps filled the database with boards,
statuses and companies. Uses ServiceTicketSynchronizer's create and update, as an app built on the
library does. Each stage is reported with the library's error, if any. The library sends its request
before it stores the answer, so a stage whose storing fails has still reached ConnectWise: when create
raises, the ticket it made is looked up by its summary, so update and close still run and the test
can check all three in the fake's records.
"""

import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django

django.setup()

from djconnectwise import api, models, sync  # noqa: E402

SUMMARY = "django-connectwise harness ticket"
UPDATED_SUMMARY = "harness ticket, updated"


def attempt(report: dict, name: str, action):
    """Runs one stage, recording its error; returns its result or None."""
    try:
        value = action()
    except Exception as error:
        report["stages"].append({"stage": name, "error": "".join(traceback.format_exception_only(error)).strip()})
        return None
    report["stages"].append({"stage": name, "error": None})
    return value


def ticket_made_by_failed_create() -> "models.Ticket | None":
    """The ticket a create that raised after its POST left in ConnectWise, as an unsaved instance."""
    found = api.ServiceAPIClient().get_tickets(conditions=[f'summary="{SUMMARY}"'])
    return models.Ticket(id=found[-1]["id"]) if found else None


def main() -> None:
    report: dict = {"stages": [], "ticket_id": None}
    synchronizer = sync.ServiceTicketSynchronizer()
    board = models.ConnectWiseBoard.objects.filter(boardstatus__closed_status=True).order_by("id").first()
    closed = board.get_closed_status() if board else None  # the library's own choice of closed status
    company = models.Company.objects.order_by("id").first()
    report.update(
        board_id=board.id if board else None,
        company_id=company.id if company else None,
        closed_status_id=closed.id if closed else None,
    )
    created = attempt(
        report, "create", lambda: synchronizer.create({"summary": SUMMARY, "board": board, "company": company})
    )
    ticket = created[0] if created else ticket_made_by_failed_create()
    if ticket is not None:
        report["ticket_id"] = ticket.id
        updated = attempt(report, "update", lambda: synchronizer.update(ticket, {"summary": UPDATED_SUMMARY}))
        ticket = updated[0] if updated else ticket
        closed_ticket = attempt(report, "close", lambda: synchronizer.update(ticket, {"status": closed}))
        if closed_ticket:
            report["stored_closed_flag"] = models.Ticket.objects.get(pk=ticket.id).closed_flag
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
