"""What every real ConnectWise tenant has set up, with the names a new tenant comes with.

Each row is posted through the same machinery as any client write, on top of an example body
built from the model (examples.py), so only what matters is written here.
"""

from __future__ import annotations

from typing import Any

from .backend import Backend
from .examples import create_example

Rows = list[dict[str, Any]]
LABELS = ("name", "description", "identifier", "caption", "title", "color", "probability")
FIRST_PROJECT_TICKET_ID = 1001
BUSINESS_HOURS = {
    f"{day}{edge}Time": hour
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
    for edge, hour in (("Start", "08:00:00"), ("End", "17:00:00"))
}

SETUP: dict[str, Rows] = {
    "system/locations": [{"name": "Main"}, {"name": "Remote Office"}],
    "system/departments": [
        {"identifier": "Services", "name": "Services"},
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
    "company/noteTypes": [
        {"identifier": "General", "name": "General", "defaultFlag": True},
        {"identifier": "Meeting", "name": "Meeting"},
        {"identifier": "FollowUp", "name": "Follow Up"},
    ],
    "company/communicationTypes": [
        {"description": "Email", "emailFlag": True, "defaultFlag": True},
        {"description": "Direct", "phoneFlag": True},
        {"description": "Cell", "phoneFlag": True},
        {"description": "Fax", "faxFlag": True},
    ],
    "company/teamRoles": [{"name": "Account Manager", "accountManagerFlag": True}, {"name": "Technician"}],
    "time/workTypes": [
        {
            "name": "Remote Support",
            "billTime": "Billable",
            "rateType": "Multiplier",
            "rate": 1.0,
            "overallDefaultFlag": True,
        },
        {"name": "Onsite Support", "billTime": "Billable", "rateType": "Multiplier", "rate": 1.0},
        {"name": "Admin", "billTime": "NoCharge", "rateType": "Multiplier", "rate": 0.0},
    ],
    "time/workRoles": [
        {"name": "Technician", "hourlyRate": 125.0},
        {"name": "Engineer", "hourlyRate": 165.0},
        {"name": "Project Manager", "hourlyRate": 150.0},
    ],
    "sales/activities/statuses": [
        {"name": "Open", "defaultFlag": True},
        {"name": "Closed", "closedFlag": True},
    ],
    "sales/activities/types": [
        {"name": "Call", "points": 2, "defaultFlag": True},
        {"name": "Email", "points": 1, "emailFlag": True},
        {"name": "Meeting", "points": 5},
        {"name": "Quote Follow-up", "points": 3},
    ],
    "schedule/statuses": [{"name": "Firm", "defaultFlag": True}, {"name": "Tentative"}],
    "schedule/types": [
        {"name": "Service", "identifier": "S"},
        {"name": "Activity", "identifier": "C"},
        {"name": "Project", "identifier": "P"},
    ],
    "schedule/holidayLists": [{"name": "US Holidays"}],
    "schedule/calendars": [
        {"name": "Standard Business Hours", "holidayList": {"name": "US Holidays"}, **BUSINESS_HOURS}
    ],
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
    "sales/stages": [
        {"name": "Prospect", "sequenceNumber": 1},
        {"name": "Qualification", "sequenceNumber": 2},
        {"name": "Proposal", "sequenceNumber": 3},
        {"name": "Negotiation", "sequenceNumber": 4},
    ],
    "sales/opportunities/types": [{"description": "New Business"}, {"description": "Renewal"}],
    "sales/probabilities": [{"probability": 10}, {"probability": 50}, {"probability": 90}],
    "project/securityRoles": [
        {"name": "Project Manager", "managerRoleFlag": True},
        {"name": "Team Member"},
        {"name": "Customer Contact", "defaultContactFlag": True},
    ],
    "system/standardNotes": [
        {"name": "Password reset", "contents": "Reset the user's password and confirmed they can sign in."},
        {"name": "Remote session", "contents": "Connected remotely with the user's permission to investigate."},
        {"name": "Awaiting customer", "contents": "Waiting on a reply from the customer before continuing."},
    ],
    # The tenant's user-defined fields, one set per screen; records of the screen show them (custom_fields.py).
    "system/userDefinedFields": [
        {
            "caption": "Root Cause",
            "screenId": "Service Ticket",
            "podId": 1,
            "sequenceNumber": 1,
            "fieldTypeIdentifier": "Text",
            "entryTypeIdentifier": "EntryField",
        },
        {
            "caption": "Customer Impact",
            "screenId": "Service Ticket",
            "podId": 1,
            "sequenceNumber": 2,
            "fieldTypeIdentifier": "Number",
            "entryTypeIdentifier": "EntryField",
            "numberDecimals": 0,
        },
        {
            "caption": "Go-Live Date",
            "screenId": "Project",
            "podId": 2,
            "sequenceNumber": 1,
            "fieldTypeIdentifier": "Date",
            "entryTypeIdentifier": "Date",
        },
        {
            "caption": "Follow-up Needed",
            "screenId": "Activity",
            "podId": 3,
            "sequenceNumber": 1,
            "fieldTypeIdentifier": "Checkbox",
            "entryTypeIdentifier": "EntryField",
        },
        {
            "caption": "Competitor",
            "screenId": "Opportunity",
            "podId": 4,
            "sequenceNumber": 1,
            "fieldTypeIdentifier": "Text",
            "entryTypeIdentifier": "EntryField",
        },
    ],
}


# The rest of a tenant's setup lists, as a new tenant has them (in this order: later rows name earlier ones).
MORE_SETUP: dict[str, Rows] = {
    "finance/currencies": [
        {"currencyIdentifier": "USD", "name": "US Dollar", "symbol": "$", "numberOfDecimals": 2},
        {"currencyIdentifier": "CAD", "name": "Canadian Dollar", "symbol": "$", "numberOfDecimals": 2},
    ],
    "company/countries": [
        {"name": "United States", "currency": {"name": "US Dollar"}, "defaultFlag": True, "countryCode": "US"},
        {"name": "Canada", "currency": {"name": "Canadian Dollar"}, "countryCode": "CA"},
    ],
    "company/states": [
        {"identifier": "WA", "name": "Washington", "country": {"name": "United States"}},
        {"identifier": "OR", "name": "Oregon", "country": {"name": "United States"}},
        {"identifier": "CA", "name": "California", "country": {"name": "United States"}},
        {"identifier": "ON", "name": "Ontario", "country": {"name": "Canada"}},
    ],
    "finance/billingTerms": [
        {"name": "Net 30 days", "dueDays": 30, "defaultFlag": True},
        {"name": "Net 15 days", "dueDays": 15},
        {"name": "Due on receipt", "dueDays": 0},
    ],
    "finance/billingCycles": [
        {"identifier": "MON", "name": "Monthly", "billingOptions": "Monthly", "defaultFlag": True},
        {"identifier": "QTR", "name": "Quarterly", "billingOptions": "Quarterly"},
        {"identifier": "YR", "name": "Yearly", "billingOptions": "Yearly"},
    ],
    "finance/billingStatuses": [
        {"name": "Open", "sortOrder": 1, "defaultFlag": True},
        {"name": "Sent", "sortOrder": 2, "sentFlag": True},
        {"name": "Paid", "sortOrder": 3, "closedFlag": True},
    ],
    "finance/deliveryMethods": [{"name": "Email", "defaultFlag": True}, {"name": "Mail"}],
    "finance/taxCodes": [
        {
            "identifier": "STATE",
            "description": "State sales tax",
            "invoiceCaption": "Sales Tax",
            "effectiveDate": "2026-01-01T00:00:00Z",
            "defaultFlag": True,
            "levelOneRate": 6.5,
            "levelOneRateType": "Percent",
        },
        {
            "identifier": "EXEMPT",
            "description": "Tax exempt",
            "invoiceCaption": "Exempt",
            "effectiveDate": "2026-01-01T00:00:00Z",
        },
    ],
    "finance/invoiceTemplates": [{"name": "Standard Invoice"}, {"name": "Agreement Invoice"}],
    "finance/invoiceEmailTemplates": [
        {"name": "Standard invoice email", "subject": "Your invoice from cwsim Managed Services"}
    ],
    "marketing/campaigns/statuses": [{"name": "Active", "defaultFlag": True}, {"name": "Completed"}],
    "marketing/campaigns/types": [{"name": "Email"}, {"name": "Event"}, {"name": "Webinar"}],
    "sales/opportunities/ratings": [
        {"name": "Hot", "sortOrder": 1},
        {"name": "Warm", "sortOrder": 2},
        {"name": "Cold", "sortOrder": 3},
    ],
    "sales/roles": [{"name": "Sales Rep"}, {"name": "Sales Manager"}],
    "sales/orders/statuses": [
        {"name": "New", "defaultFlag": True, "sortOrder": 1},
        {"name": "Approved", "sortOrder": 2},
        {"name": "Invoiced", "sortOrder": 3, "closedFlag": True},
    ],
    "service/SLAs": [
        {"name": "Standard SLA", "basedOn": "MyCalendar", "defaultFlag": True},
        {"name": "24x7 SLA", "basedOn": "AllHours"},
    ],
    "service/impacts": [{"description": "High"}, {"description": "Medium"}, {"description": "Low"}],
    "service/severities": [{"description": "High"}, {"description": "Medium"}, {"description": "Low"}],
    "service/codes": [{"name": "HW", "description": "Hardware"}, {"name": "SW", "description": "Software"}],
    "service/teams": [{"name": "Service Desk"}, {"name": "Field Services"}],
    "service/knowledgeBaseCategories": [{"name": "Backup and Recovery"}, {"name": "Networking"}],
    "service/knowledgeBaseSubCategories": [
        {"name": "Datto appliances", "category": {"name": "Backup and Recovery"}},
        {"name": "Firewalls", "category": {"name": "Networking"}},
    ],
    "service/knowledgeBaseArticles": [
        {
            "title": "A Datto backup fails with a locked volume",
            "issue": "Backups fail because another process holds the volume.",
            "resolution": "Restart the VSS writers on the protected machine, then retry the backup.",
        }
    ],
    "service/surveys": [{"name": "Ticket close survey"}],
    "procurement/categories": [{"name": "Hardware"}, {"name": "Software"}, {"name": "Services"}],
    "procurement/subcategories": [
        {"name": "Backup appliances", "category": {"name": "Hardware"}},
        {"name": "Licensing", "category": {"name": "Software"}},
        {"name": "Managed services", "category": {"name": "Services"}},
    ],
    "procurement/types": [{"name": "Hardware"}, {"name": "Software"}, {"name": "Service"}],
    "procurement/manufacturers": [{"name": "Datto"}, {"name": "Dell"}, {"name": "Microsoft"}, {"name": "Cisco"}],
    "procurement/unitOfMeasures": [{"name": "Each"}, {"name": "Hour"}, {"name": "Month"}],
    "procurement/shipmentmethods": [{"name": "UPS Ground"}, {"name": "FedEx Overnight"}],
    "procurement/warehouses": [
        {
            "name": "Main Warehouse",
            "location": {"name": "Main"},
            "department": {"name": "Services"},
            "overallDefaultFlag": True,
        }
    ],
    "procurement/warehouseBins": [{"name": "Shelf A", "warehouse": {"name": "Main Warehouse"}}],
    "procurement/purchaseorderstatuses": [
        {"name": "Open", "defaultFlag": True, "sortOrder": 1},
        {"name": "Ordered", "sortOrder": 2},
        {"name": "Closed", "closedFlag": True, "sortOrder": 3},
    ],
    "procurement/rmaStatuses": [{"name": "Open", "defaultFlag": True}, {"name": "Closed", "closedFlag": True}],
    "procurement/rmaActions": [{"name": "Repair"}, {"name": "Replace"}],
    "procurement/RMADispositions": [{"name": "Return to vendor"}, {"name": "Scrap"}],
    "procurement/pricingschedules": [{"name": "Standard pricing", "defaultFlag": True}],
    "company/ownershipTypes": [{"name": "Private"}, {"name": "Public"}, {"name": "Non-Profit"}],
    "company/marketDescriptions": [{"name": "Healthcare"}, {"name": "Legal"}, {"name": "Manufacturing"}],
    "company/contacts/departments": [{"name": "IT"}, {"name": "Finance"}, {"name": "Operations"}],
    "company/contacts/relationships": [{"name": "Decision Maker"}, {"name": "Influencer"}],
    "company/tracks": [{"name": "New client onboarding"}],
    "company/portalConfigurations": [{"name": "Default portal", "defaultFlag": True, "language": "English"}],
    "expense/classifications": [{"name": "Reimbursable"}, {"name": "Non-Reimbursable"}],
    "expense/types": [
        {
            "name": "Mileage",
            "amountCaption": "Miles",
            "billExpenses": "Billable",
            "invoiceMarkupOption": "Mile",
            "mileageFlag": True,
            "reimbursementRate": 0.7,
        },
        {"name": "Meals", "amountCaption": "Amount", "billExpenses": "DoNotBill", "invoiceMarkupOption": "Amount"},
    ],
    "expense/paymentTypes": [
        {"name": "Cash", "classification": {"name": "Reimbursable"}},
        {"name": "Company credit card", "classification": {"name": "Non-Reimbursable"}},
    ],
    "system/skillCategories": [{"name": "Backup"}, {"name": "Networking"}],
    "system/skills": [
        {"name": "Datto BCDR", "category": {"name": "Backup"}},
        {"name": "Firewall configuration", "category": {"name": "Networking"}},
    ],
    "system/members/types": [{"name": "Employee"}, {"name": "Contractor"}],
    "system/securityroles": [{"name": "Admin", "adminFlag": True}, {"name": "Technician"}, {"name": "Sales"}],
    "system/inOutTypes": [{"description": "Vacation"}, {"description": "Sick"}, {"description": "Training"}],
    "system/reportCards": [{"name": "Technician scorecard"}],
    "system/surveys": [{"name": "Customer satisfaction"}],
    "system/links": [{"name": "Datto partner portal", "url": "https://portal.dattobackup.com"}],
    "schedule/reminderTimes": [{"name": "15 minutes", "time": 15, "defaultFlag": True}, {"name": "1 hour", "time": 60}],
    "schedule/colors": [
        {"startPercent": 0, "endPercent": 50, "color": "#5CB85C"},
        {"startPercent": 51, "endPercent": 100, "color": "#D9534F"},
    ],
    "project/statusIndicators": [{"identifier": "OnTrack", "name": "On track", "color": "Green"}],
    "system/cwTimeZones": [
        {"name": "Pacific Time", "offset": -8.0, "daylightSavingsFlag": True},
        {"name": "Eastern Time", "offset": -5.0, "daylightSavingsFlag": True},
    ],
}


def add_setup(backend: Backend) -> None:
    """The setup tables above, each row on top of its model's example body; unknown fields are ignored."""
    for table, rows in (*SETUP.items(), *MORE_SETUP.items()):
        if table not in backend.collections:
            continue
        collection = backend.collection(table)
        for row in rows:
            label = str(next(row[key] for key in LABELS if row.get(key) is not None))
            create_example(backend, collection, label, row)


def add_board_teams(backend: Backend, board_id: int, leader_id: int) -> None:
    teams = backend.collection("service/boards/teams")
    for name, default in (("Tier 1", True), ("Tier 2", False)):
        team = {"parentId": board_id, "name": name, "teamLeader": {"id": leader_id}, "defaultFlag": default}
        create_example(backend, teams, name, team)


def add_work(backend: Backend, company_ids: list[int]) -> None:
    """Sites and account teams, service board setup, projects with a phase, team and tickets, opportunities
    with notes and activities, time and schedule entries, holidays: so syncs find records."""
    for company_id in company_ids:
        _add_site(backend, company_id)
        _add_account_team(backend, company_id)
    _add_contact_communications(backend)
    for board_id in sorted(backend.store.table("service/boards").records):
        _add_board_items(backend, board_id)
    _add_calendar_setup(backend)
    # Project tickets share the ticket id space (store.share_ids); numbering them from here leaves a fresh
    # tenant's service tickets starting at 1, as a tenant without project work has them.
    backend.store.table("project/tickets").next_id = FIRST_PROJECT_TICKET_ID
    for number, company_id in enumerate(company_ids[:3], start=1):
        ticket_id = _add_project(backend, number, company_id)
        opportunity_id = _add_opportunity(backend, number, company_id)
        activity_id = _add_activity(backend, number, company_id, opportunity_id)
        _add_time_entry(backend, number, company_id, ticket_id)
        _add_schedule_entry(backend, number, activity_id)


def _member_ids(backend: Backend) -> list[int]:
    """The technicians (every member but the API member, who is the first)."""
    return sorted(backend.store.table("system/members").records)[1:]


def _row_named(backend: Backend, table: str, name: str) -> int:
    """The id of a setup row by its name (or description), which the setup tables above made."""
    for row_id, row in backend.store.table(table).records.items():
        if name in (row.get("name"), row.get("description")):
            return row_id
    raise KeyError(f"{table}: no row named {name!r}")


def _add_site(backend: Backend, company_id: int) -> None:
    company = backend.store.get("company/companies", company_id) or {}
    site = {key: company[key] for key in ("addressLine1", "city", "zip", "phoneNumber") if company.get(key)}
    sites = backend.collection("company/companies/sites")
    create_example(backend, sites, "Main", {**site, "parentId": company_id, "name": "Main", "primaryAddressFlag": True})


def _add_account_team(backend: Backend, company_id: int) -> None:
    """Each company's account manager, a technician picked by the company's id."""
    members = _member_ids(backend)
    team = {
        "parentId": company_id,
        "teamRole": {"id": _row_named(backend, "company/teamRoles", "Account Manager")},
        "member": {"id": members[company_id % len(members)]},
        "accountManagerFlag": True,
    }
    create_example(backend, backend.collection("company/companies/teams"), "Account Manager", team)


def _add_contact_communications(backend: Backend) -> None:
    """Each contact's communication items, also listed under the contact as ConnectWise lists them."""
    communications = backend.collection("company/contacts/communications")
    email = _row_named(backend, "company/communicationTypes", "Email")
    for contact_id, contact in sorted(backend.store.table("company/contacts").records.items()):
        for item in contact.get("communicationItems") or []:
            row = {
                "parentId": contact_id,
                "type": {"id": email},
                "value": item["value"],
                "communicationType": item.get("communicationType", "Email"),
                "defaultFlag": bool(item.get("defaultFlag")),
            }
            create_example(backend, communications, "Email", row)


BOARD_ITEMS = {
    "subtypes": ("Email", "Printing", "Network", "Backup"),
    "items": ("Workstation", "Server", "Firewall", "Appliance"),
}


def _add_board_items(backend: Backend, board_id: int) -> None:
    """Subtypes and items of a board, and which of them go with each of its types."""
    made: dict[str, list[int]] = {}
    for kind, names in BOARD_ITEMS.items():
        collection = backend.collection(f"service/boards/{kind}")
        made[kind] = [
            create_example(backend, collection, name, {"parentId": board_id, "name": name})["id"] for name in names
        ]
    types = sorted(backend.store.table("service/boards/types").lookup("board", board_id))
    associations = backend.collection("service/boards/typeSubTypeItemAssociations")
    for index, type_id in enumerate(types):
        row = {
            "parentId": board_id,
            "type": {"id": type_id},
            "subType": {"id": made["subtypes"][index % len(made["subtypes"])]},
            "item": {"id": made["items"][index % len(made["items"])]},
        }
        create_example(backend, associations, "Association", row)


HOLIDAYS_2026 = (
    ("New Year's Day", "2026-01-01"),
    ("Memorial Day", "2026-05-25"),
    ("Independence Day", "2026-07-03"),
    ("Labor Day", "2026-09-07"),
    ("Thanksgiving Day", "2026-11-26"),
    ("Christmas Day", "2026-12-25"),
)


def _add_calendar_setup(backend: Backend) -> None:
    """The holiday list's holidays, and the company-wide settings that name the default calendar."""
    holiday_list = _row_named(backend, "schedule/holidayLists", "US Holidays")
    holidays = backend.collection("schedule/holidayLists/holidays")
    for name, date in HOLIDAYS_2026:
        create_example(
            backend, holidays, name, {"parentId": holiday_list, "name": name, "date": date, "allDayFlag": True}
        )
    calendar = _row_named(backend, "schedule/calendars", "Standard Business Hours")
    other = {
        "defaultCalendar": {"id": calendar},
        "defaultFromAddress": "support@cwsim.example",
        "portalUrlOverride": "https://portal.cwsim.example",
        "siteUrl": "https://cwsim.example",
        "locale": {"id": 1, "name": "English (United States)"},
    }
    create_example(backend, backend.collection("system/myCompany/other"), "Company settings", other)


def _add_project(backend: Backend, number: int, company_id: int) -> int:
    """A project with a planning phase, its manager and a technician on the team, and one ticket; the ticket's id."""
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
    phase = create_example(backend, phases, "Planning", {"parentId": project["id"], "description": "Planning"})
    members = _member_ids(backend)
    team = backend.collection("project/projects/teamMembers")
    for role, member in (("Project Manager", members[0]), ("Team Member", members[number % len(members)])):
        row = {
            "parentId": project["id"],
            "member": {"id": member},
            "projectRole": {"id": _row_named(backend, "project/securityRoles", role)},
            "workRole": {
                "id": _row_named(
                    backend, "time/workRoles", "Project Manager" if role == "Project Manager" else "Engineer"
                )
            },
            "startDate": "2026-02-02T00:00:00Z",
        }
        create_example(backend, team, role, row)
    board_id = next(
        i for i, board in sorted(backend.store.table("service/boards").records.items()) if board.get("projectFlag")
    )
    statuses = backend.store.table("service/boards/statuses")
    status_id = min(i for i in statuses.lookup("board", board_id) if statuses.records[i].get("defaultFlag"))
    ticket = {
        "summary": f"Inventory current servers ({number})",
        "board": {"id": board_id},
        "status": {"id": status_id},
        "project": {"id": project["id"]},
        "phase": {"id": phase["id"]},
        "company": {"id": company_id},
        "budgetHours": 4.0,
    }
    return create_example(backend, backend.collection("project/tickets"), "Project ticket", ticket)["id"]


def _add_opportunity(backend: Backend, number: int, company_id: int) -> int:
    opportunity = create_example(
        backend,
        backend.collection("sales/opportunities"),
        f"Opportunity {number}",
        {
            "name": f"Backup expansion {number}",
            "company": {"id": company_id},
            "primarySalesRep": {"id": _member_ids(backend)[0]},
            "type": {"id": _row_named(backend, "sales/opportunities/types", "New Business")},
            "stage": {"id": _row_named(backend, "sales/stages", "Proposal")},
            "probability": {"id": sorted(backend.store.table("sales/probabilities").records)[1]},
            "source": "Referral",
            "expectedCloseDate": f"2026-0{number + 3}-30T00:00:00Z",
        },
    )
    notes = backend.collection("sales/opportunities/notes")
    text = "Customer wants offsite retention for a year; sending a quote."
    create_example(backend, notes, "Note", {"parentId": opportunity["id"], "text": text})
    return opportunity["id"]


def _add_activity(backend: Backend, number: int, company_id: int, opportunity_id: int) -> int:
    activity = {
        "name": f"Follow up on backup quote {number}",
        "company": {"id": company_id},
        "opportunity": {"id": opportunity_id},
        "assignTo": {"id": _member_ids(backend)[0]},
        "type": {"id": _row_named(backend, "sales/activities/types", "Quote Follow-up")},
        "dateStart": f"2026-01-{number + 11}T15:00:00Z",
        "dateEnd": f"2026-01-{number + 11}T15:30:00Z",
        "notes": "Call to walk through the quote.",
    }
    return create_example(backend, backend.collection("sales/activities"), "Activity", activity)["id"]


def _add_time_entry(backend: Backend, number: int, company_id: int, ticket_id: int) -> None:
    entry = {
        "company": {"id": company_id},
        "chargeToType": "ProjectTicket",
        "chargeToId": ticket_id,
        "member": {"id": _member_ids(backend)[number % len(_member_ids(backend))]},
        "timeStart": f"2026-01-0{number + 4}T09:00:00Z",
        "timeEnd": f"2026-01-0{number + 4}T10:00:00Z",
        "actualHours": 1.0,
        "notes": "Listed the servers and their roles.",
    }
    create_example(backend, backend.collection("time/entries"), "Time entry", entry)


def _add_schedule_entry(backend: Backend, number: int, activity_id: int) -> None:
    entry = {
        "name": f"Follow up on backup quote {number}",
        "objectId": activity_id,
        "type": {"id": _row_named(backend, "schedule/types", "Activity")},
        "member": {"id": _member_ids(backend)[0]},
        "dateStart": f"2026-01-{number + 11}T15:00:00Z",
        "dateEnd": f"2026-01-{number + 11}T15:30:00Z",
    }
    create_example(backend, backend.collection("schedule/entries"), "Schedule entry", entry)
