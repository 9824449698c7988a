"""The default tenant: what the README promises is there, the same for the same seed."""

from __future__ import annotations

from cwsim.simulator.connectwise.auth import SYSTEM
from cwsim.simulator.connectwise.schemas import API_FLAGS
from cwsim.simulator.connectwise.tenant import DEFAULT_COMPANIES, company_identifier, default_tenant


def rows(backend, table: str) -> list[dict]:
    return list(backend.store.table(table).records.values())


def test_the_tenant_has_the_documented_identity_and_credentials() -> None:
    backend = default_tenant()
    settings = backend.settings
    assert settings.company_id == "cwsim"
    assert [(k.public_key, k.private_key) for k in settings.api_keys] == [("cwsim-public", "cwsim-private")]
    (login,) = rows(backend, "system/integratorlogins")
    assert login["username"] == "dattoCW" and login["password"] == "cwsim-integrator"
    assert login["canAccessAllRecordsFlag"] and not login["inactiveFlag"]
    assert all(login[flag] for flag in API_FLAGS) and len(API_FLAGS) == 13


def test_the_datto_alerts_board_has_the_documented_statuses_and_types() -> None:
    backend = default_tenant()
    boards = {board["name"]: board["id"] for board in rows(backend, "service/boards")}
    assert set(boards) == {"Help Desk", "Datto Alerts", "Professional Services"}
    statuses = [s for s in rows(backend, "service/boards/statuses") if s["board"] == boards["Datto Alerts"]]
    assert [(s["name"], s["defaultFlag"], s["closedStatus"]) for s in statuses] == [
        ("New", True, False),
        ("In Progress", False, False),
        ("Waiting", False, False),
        ("Closed", False, True),
    ]
    types = [t["name"] for t in rows(backend, "service/boards/types") if t["board"] == boards["Datto Alerts"]]
    assert types == ["Device", "Agent"]
    assert backend.settings.default_board_id == boards["Help Desk"]


def test_companies_have_contacts_and_there_are_members() -> None:
    backend = default_tenant(companies=20)
    companies = rows(backend, "company/companies")
    assert len(companies) == 20 == len({c["identifier"].casefold() for c in companies})
    with_contacts = {contact["company"] for contact in rows(backend, "company/contacts")}
    assert with_contacts == {c["id"] for c in companies}
    assert len(rows(backend, "system/members")) >= 3
    assert len(rows(default_tenant(), "company/companies")) == DEFAULT_COMPANIES


def test_the_same_seed_gives_the_same_tenant_and_another_seed_another() -> None:
    def names(seed: int) -> list[str]:
        return [c["name"] for c in rows(default_tenant(seed=seed, companies=10), "company/companies")]

    assert names(3) == names(3)
    assert names(3) != names(4)


def test_company_identifiers_are_short_unique_and_plain() -> None:
    taken: set[str] = set()
    first = company_identifier("Smith, Jones & Co.", taken)
    second = company_identifier("Smith Jones Co", taken)
    assert first == "SmithJonesCo" and second == "SmithJonesCo2"
    assert len(company_identifier("x" * 80, taken)) <= 30


def test_the_work_a_sync_pages_over_is_there_and_tied_together() -> None:
    """Project tickets with time entries, activities with schedule entries, opportunities with notes."""
    backend = default_tenant()
    project_tickets = {t["id"]: t for t in rows(backend, "project/tickets")}
    boards = {b["id"]: b for b in rows(backend, "service/boards")}
    assert project_tickets and all(boards[t["board"]]["projectFlag"] and t["phase"] for t in project_tickets.values())
    charged = [e for e in rows(backend, "time/entries") if e.get("chargeToType") == "ProjectTicket"]
    assert charged and all(e["chargeToId"] in project_tickets and e["billableOption"] for e in charged)
    activities = {a["id"] for a in rows(backend, "sales/activities") if a.get("assignTo")}
    types = {t["id"]: t["identifier"] for t in rows(backend, "schedule/types")}
    visits = [e for e in rows(backend, "schedule/entries") if types[e["type"]] == "C"]
    assert visits and all(e["objectId"] in activities and e["member"] for e in visits)
    opportunities = {o["id"] for o in rows(backend, "sales/opportunities") if o.get("expectedCloseDate")}
    assert opportunities == {n["opportunityId"] for n in rows(backend, "sales/opportunities/notes")}
    for table in (
        "project/securityRoles",
        "system/standardNotes",
        "company/companies/teams",
        "schedule/holidayLists/holidays",
        "system/myCompany/other",
        "service/boards/subtypes",
        "service/boards/items",
        "service/boards/typeSubTypeItemAssociations",
        "project/projects/teamMembers",
        "system/userDefinedFields",
        "company/contacts/communications",
    ):
        assert rows(backend, table), f"{table} is empty"


def test_a_service_ticket_never_takes_a_project_tickets_id() -> None:
    backend = default_tenant()
    project_ids = set(backend.store.table("project/tickets").records)
    backend.store.table("service/tickets").next_id = min(project_ids)  # as after that many service tickets
    made = [
        backend.create(backend.collection("service/tickets"), {"summary": f"t{n}", "company": {"id": 1}}, SYSTEM)
        for n in range(len(project_ids) + 1)
    ]
    assert not project_ids & {ticket["id"] for ticket in made}
    # Negative control: without the shared id space the same creates take the project tickets' ids.
    backend = default_tenant()
    tickets = backend.store.table("service/tickets")
    tickets.id_group = [tickets]
    tickets.next_id = min(project_ids)
    made = [backend.create(backend.collection("service/tickets"), {"summary": "t", "company": {"id": 1}}, SYSTEM)]
    assert made[0]["id"] in project_ids
