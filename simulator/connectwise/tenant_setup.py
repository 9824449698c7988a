"""What every real ConnectWise tenant has set up, with the names a new tenant comes with.

Each row is posted through the same machinery as any client write, on top of an example body
built from the model (examples.py), so only what matters is written here.
"""

from __future__ import annotations

from typing import Any

from .backend import Backend
from .examples import create_example

Rows = list[dict[str, Any]]

SETUP: dict[str, Rows] = {
    "system/locations": [{"name": "Main", "defaultFlag": True}, {"name": "Remote Office"}],
    "system/departments": [
        {"identifier": "Services", "name": "Services", "defaultFlag": True},
        {"identifier": "Sales", "name": "Sales"},
        {"identifier": "Admin", "name": "Administration"},
    ],
    "service/priorities": [
        {"name": "Priority 1 - Emergency Response", "color": "Red", "sortOrder": 1, "level": "Priority 1"},
        {"name": "Priority 2 - Quick Response", "color": "Orange", "sortOrder": 2, "level": "Priority 2"},
        {
            "name": "Priority 3 - Normal Response",
            "color": "Yellow",
            "sortOrder": 3,
            "level": "Priority 3",
            "defaultFlag": True,
        },
        {"name": "Priority 4 - Schedule Maintenance", "color": "Green", "sortOrder": 4, "level": "Priority 4"},
        {"name": "Do Not Respond", "color": "Gray", "sortOrder": 5, "level": "Not Assigned"},
    ],
    "service/sources": [
        {"name": "Email"},
        {"name": "Phone", "defaultFlag": True},
        {"name": "Portal"},
        {"name": "Walk-In"},
        {"name": "Email Connector"},
    ],
    "service/locations": [
        {"name": "On-Site", "where": "OnSite"},
        {"name": "Remote", "where": "Remote", "defaultFlag": True},
        {"name": "In-house", "where": "InHouse"},
    ],
    "company/companies/statuses": [
        {"name": "Active", "defaultFlag": True},
        {"name": "Inactive", "inactiveFlag": True},
        {"name": "Not-Approved"},
        {"name": "Credit Hold", "disallowSavingFlag": True},
    ],
    "company/companies/types": [
        {"name": "Client", "defaultFlag": True},
        {"name": "Prospect"},
        {"name": "Vendor", "vendorFlag": True},
        {"name": "Partner"},
    ],
    "company/contacts/types": [
        {"description": "Primary", "defaultFlag": True},
        {"description": "Billing"},
        {"description": "Technical"},
    ],
    "company/noteTypes": [{"identifier": "General", "name": "General", "defaultFlag": True}, {"name": "Meeting"}],
    "company/communicationTypes": [
        {"description": "Email", "emailFlag": True, "defaultFlag": True},
        {"description": "Direct", "phoneFlag": True},
        {"description": "Cell", "phoneFlag": True},
        {"description": "Fax", "faxFlag": True},
    ],
    "company/teamRoles": [{"name": "Account Manager", "accountManagerFlag": True}, {"name": "Technician"}],
    "time/workTypes": [
        {"name": "Remote Support", "billTime": "Billable", "rateType": "Multiplier", "rate": 1.0, "defaultFlag": True},
        {"name": "Onsite Support", "billTime": "Billable", "rateType": "Multiplier", "rate": 1.0},
        {"name": "Admin", "billTime": "NoCharge", "rateType": "Multiplier", "rate": 0.0},
    ],
    "time/workRoles": [
        {"name": "Technician", "hourlyRate": 125.0, "defaultFlag": True},
        {"name": "Engineer", "hourlyRate": 165.0},
        {"name": "Project Manager", "hourlyRate": 150.0},
    ],
    "sales/activities/statuses": [
        {"name": "Open", "defaultFlag": True},
        {"name": "Closed", "closedFlag": True},
    ],
    "sales/activities/types": [{"name": "Call", "defaultFlag": True}, {"name": "Email"}, {"name": "Meeting"}],
    "schedule/statuses": [{"name": "Firm", "defaultFlag": True}, {"name": "Tentative"}],
    "schedule/types": [
        {"name": "Service", "identifier": "S", "defaultFlag": True},
        {"name": "Activity", "identifier": "C"},
        {"name": "Project", "identifier": "P"},
    ],
    "schedule/holidayLists": [{"name": "US Holidays"}],
    "schedule/calendars": [{"name": "Standard Business Hours", "defaultFlag": True}],
    "project/statuses": [
        {"name": "Open", "defaultFlag": True},
        {"name": "In Progress"},
        {"name": "Completed", "closedFlag": True},
    ],
    "project/phaseStatuses": [{"name": "Open", "defaultFlag": True}, {"name": "Closed", "closedFlag": True}],
    "project/projectTypes": [{"name": "Implementation", "defaultFlag": True}, {"name": "Migration"}],
    "sales/opportunities/statuses": [
        {"name": "Open", "defaultFlag": True},
        {"name": "Won", "wonFlag": True, "closedFlag": True},
        {"name": "Lost", "lostFlag": True, "closedFlag": True},
    ],
    "sales/stages": [{"name": "Prospect", "seqNumber": 1}, {"name": "Proposal", "seqNumber": 2}],
    "sales/opportunities/types": [{"description": "New Business", "defaultFlag": True}, {"description": "Renewal"}],
    "sales/probabilities": [{"probability": 10}, {"probability": 50}, {"probability": 90}],
}


def add_setup(backend: Backend) -> None:
    """The setup tables above, each row on top of its model's example body; unknown fields are ignored."""
    for table, rows in SETUP.items():
        if table not in backend.collections:
            continue
        collection = backend.collection(table)
        for row in rows:
            label = str(row.get("name") or row.get("description") or row.get("probability"))
            create_example(backend, collection, label, row)


def add_board_teams(backend: Backend, board_id: int, leader_id: int) -> None:
    teams = backend.collection("service/boards/teams")
    for name, default in (("Tier 1", True), ("Tier 2", False)):
        team = {"parentId": board_id, "name": name, "teamLeader": {"id": leader_id}, "defaultFlag": default}
        create_example(backend, teams, name, team)


def add_work(backend: Backend, company_ids: list[int]) -> None:
    """Sites, projects with a phase, opportunities, time and schedule entries, so syncs find records."""
    sites = backend.collection("company/companies/sites")
    for company_id in company_ids:
        company = backend.store.get("company/companies", company_id) or {}
        site = {key: company[key] for key in ("addressLine1", "city", "zip", "phoneNumber") if company.get(key)}
        create_example(
            backend, sites, "Main", {**site, "parentId": company_id, "name": "Main", "primaryAddressFlag": True}
        )
    for number, company_id in enumerate(company_ids[:3], start=1):
        project = create_example(
            backend,
            backend.collection("project/projects"),
            f"Project {number}",
            {
                "name": f"Server migration {number}",
                "company": {"id": company_id},
                "estimatedStart": "2026-02-02T09:00:00Z",
                "estimatedEnd": "2026-03-27T17:00:00Z",
            },
        )
        phases = backend.collection("project/projects/phases")
        create_example(backend, phases, "Planning", {"parentId": project["id"], "description": "Planning"})
        create_example(
            backend,
            backend.collection("sales/opportunities"),
            f"Opportunity {number}",
            {"name": f"Backup expansion {number}", "company": {"id": company_id}},
        )
        create_example(
            backend,
            backend.collection("time/entries"),
            "Time entry",
            {
                "company": {"id": company_id},
                "timeStart": f"2026-01-0{number + 4}T09:00:00Z",
                "timeEnd": f"2026-01-0{number + 4}T10:00:00Z",
                "notes": "Quarterly backup review",
            },
        )
        create_example(
            backend,
            backend.collection("schedule/entries"),
            "Schedule entry",
            {"name": f"Site visit {number}", "dateStart": "2026-01-06T09:00:00Z", "dateEnd": "2026-01-06T10:00:00Z"},
        )
