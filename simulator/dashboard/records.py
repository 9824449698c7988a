"""The ConnectWise sections of the dashboard: tickets, configurations and agreements, from the store's view."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, cast

from ..state import ConnectWiseState
from ..world import World
from .capped import Capped

TICKETS = "service/tickets"
NOTES = "service/tickets/notes"
TICKET_LINKS = "service/tickets/configurations"
BOARDS = "service/boards"
STATUSES = "service/boards/statuses"
COMPANIES = "company/companies"
CONFIGURATIONS = "company/configurations"
CONFIGURATION_TYPES = "company/configurations/types"
CONFIGURATION_STATUSES = "company/configurations/statuses"
AGREEMENTS = "finance/agreements"
AGREEMENT_TYPES = "finance/agreements/types"
ADDITIONS = "finance/agreements/additions"
CATALOG = "procurement/catalog"

TICKET_TABLES = (TICKETS, NOTES, TICKET_LINKS, BOARDS, STATUSES, COMPANIES, CONFIGURATIONS)
CONFIGURATION_TABLES = (CONFIGURATIONS, CONFIGURATION_TYPES, CONFIGURATION_STATUSES, COMPANIES)
AGREEMENT_TABLES = (AGREEMENTS, AGREEMENT_TYPES, ADDITIONS, COMPANIES, CATALOG)

TICKETS_SHOWN = 50
NOTES_SHOWN = 10
CONFIGURATIONS_SHOWN = 100
AGREEMENTS_SHOWN = 50
ADDITIONS_SHOWN = 20
UNMAPPED_SERIALS_SHOWN = 20

Record = dict[str, Any]


def connectwise_tables(world: World, names: Iterable[str]) -> dict[str, list[Record]]:
    """Records of the tables `names`, through the ConnectWise part's view (a snapshot; secrets masked)."""
    part = cast(ConnectWiseState, world.state.views["connectwise"])
    return {name: table["records"] for name, table in part.view(names)["tables"].items()}


def table_versions(world: World, names: Iterable[str]) -> tuple[Any, ...]:
    """What changes whenever one of the tables does (a write, a reset, a restored or new tenant)."""
    backend = world.backend
    return (id(backend), *(backend.store.table(name).version for name in names))


def by_id(records: list[Record]) -> dict[int, Record]:
    return {record["id"]: record for record in records}


def serial_key(serial: Any) -> str:
    """Configurations and devices meet on the serial number, whatever its case or spaces."""
    return str(serial or "").strip().upper()


# -- tickets ----------------------------------------------------------------------------------


def tickets_model(world: World) -> dict[str, Any]:
    tables = connectwise_tables(world, TICKET_TABLES)
    tickets = tables[TICKETS]
    boards, statuses = by_id(tables[BOARDS]), by_id(tables[STATUSES])
    companies, configurations = by_id(tables[COMPANIES]), by_id(tables[CONFIGURATIONS])
    newest = Capped.of(tickets[::-1], TICKETS_SHOWN)
    shown_ids = {ticket["id"] for ticket in newest.items}
    notes: dict[int, list[Record]] = defaultdict(list)
    for note in tables[NOTES]:
        if note.get("ticketId") in shown_ids:
            notes[note["ticketId"]].append(note)
    links: dict[int, list[Record]] = defaultdict(list)
    for link in tables[TICKET_LINKS]:
        if link.get("ticketId") in shown_ids:
            links[link["ticketId"]].append(configurations.get(link.get("configuration")) or {"id": link.get("id")})
    rows = []
    for ticket in newest.items:
        status = statuses.get(ticket.get("status")) or {}
        ticket_notes = notes.get(ticket["id"], [])
        rows.append(
            {
                "id": ticket["id"],
                "summary": ticket.get("summary"),
                "company": name_of(companies.get(ticket.get("company"))),
                "board": name_of(boards.get(ticket.get("board"))),
                "status": status.get("name"),
                "closed": bool(ticket.get("closedFlag") or status.get("closedStatus")),
                "entered": ticket.get("_dateEntered"),
                "externalXRef": ticket.get("externalXRef"),
                "notes": Capped.of(ticket_notes[::-1], NOTES_SHOWN),
                "configurations": links.get(ticket["id"], []),
            }
        )
    closed = sum(1 for ticket in tickets if ticket.get("closedFlag"))
    return {
        "total": len(tickets),
        "open": len(tickets) - closed,
        "closed": closed,
        "boards": board_status_counts(tickets, boards, statuses),
        "tickets": Capped(rows, newest.total),
    }


def board_status_counts(
    tickets: list[Record], boards: dict[int, Record], statuses: dict[int, Record]
) -> list[dict[str, Any]]:
    """Each board with a count per status (every status of the board, in its order), open ones first."""
    counts = Counter((ticket.get("board"), ticket.get("status")) for ticket in tickets)
    per_board: dict[Any, list[Record]] = defaultdict(list)
    for status in statuses.values():
        per_board[status.get("board")].append(status)
    out = []
    for board_id in sorted(set(boards) | {board for board, _ in counts}, key=lambda b: (b is None, b or 0)):
        board_statuses = sorted(per_board.get(board_id, []), key=lambda s: (s.get("sortOrder") or 0, s["id"]))
        known = {status["id"] for status in board_statuses}
        rows = [
            {"name": s.get("name"), "closed": bool(s.get("closedStatus")), "count": counts[board_id, s["id"]]}
            for s in board_statuses
        ]
        rows += [
            {"name": f"status {status_id}", "closed": False, "count": count}
            for (board, status_id), count in sorted(counts.items(), key=lambda item: str(item[0]))
            if board == board_id and status_id not in known
        ]
        out.append(
            {
                "name": name_of(boards.get(board_id)) if board_id is not None else "(no board)",
                "total": sum(row["count"] for row in rows),
                "statuses": rows,
            }
        )
    return out


def name_of(record: Record | None) -> str | None:
    return None if record is None else record.get("name")


# -- configurations ---------------------------------------------------------------------------


def configurations_model(world: World, devices: list[Record]) -> dict[str, Any]:
    """Every configuration with the fleet device of its serial number; the devices no configuration maps."""
    tables = connectwise_tables(world, CONFIGURATION_TABLES)
    companies = by_id(tables[COMPANIES])
    types, statuses = by_id(tables[CONFIGURATION_TYPES]), by_id(tables[CONFIGURATION_STATUSES])
    fleet = {serial_key(device["serialNumber"]): device for device in devices}
    configurations = tables[CONFIGURATIONS]
    mapped_serials: set[str] = set()
    rows = []
    for configuration in configurations:
        serial = serial_key(configuration.get("serialNumber"))
        device = fleet.get(serial) if serial else None
        if device is not None:
            mapped_serials.add(serial)
        rows.append(
            {
                "id": configuration["id"],
                "name": configuration.get("name"),
                "company": name_of(companies.get(configuration.get("company"))),
                "type": name_of(types.get(configuration.get("type"))),
                "status": (statuses.get(configuration.get("status")) or {}).get("description"),
                "serialNumber": configuration.get("serialNumber"),
                "device": device,
            }
        )
    unmapped = [device for key, device in fleet.items() if key not in mapped_serials]
    return {
        "total": len(configurations),
        "mapped": sum(1 for row in rows if row["device"] is not None),
        "withoutSerial": sum(1 for row in rows if not serial_key(row["serialNumber"])),
        "configurations": Capped.of(rows[::-1], CONFIGURATIONS_SHOWN),
        "devicesWithout": Capped.of(unmapped, UNMAPPED_SERIALS_SHOWN),
        "devices": len(fleet),
    }


# -- agreements -------------------------------------------------------------------------------


def agreements_model(world: World) -> dict[str, Any]:
    """Each agreement with its additions, newest first; agreements with additions first."""
    tables = connectwise_tables(world, AGREEMENT_TABLES)
    companies, types, catalog = by_id(tables[COMPANIES]), by_id(tables[AGREEMENT_TYPES]), by_id(tables[CATALOG])
    additions: dict[int, list[Record]] = defaultdict(list)
    for addition in tables[ADDITIONS]:
        additions[addition.get("agreementId")].append(addition)
    rows = []
    for agreement in tables[AGREEMENTS]:
        own = additions.get(agreement["id"], [])
        rows.append(
            {
                "id": agreement["id"],
                "name": agreement.get("name"),
                "company": name_of(companies.get(agreement.get("company"))),
                "type": name_of(types.get(agreement.get("type"))),
                "status": agreement.get("agreementStatus"),
                "additions": Capped.of([addition_row(a, catalog) for a in own[::-1]], ADDITIONS_SHOWN),
            }
        )
    rows.sort(key=lambda row: (row["additions"].total == 0, row["id"]))
    return {
        "total": len(rows),
        "additions": len(tables[ADDITIONS]),
        "agreements": Capped.of(rows, AGREEMENTS_SHOWN),
    }


def addition_row(addition: Record, catalog: dict[int, Record]) -> dict[str, Any]:
    product = catalog.get(addition.get("product")) or {}
    return {
        "id": addition["id"],
        "product": product.get("identifier"),
        "description": addition.get("description") or product.get("description"),
        "serialNumber": addition.get("serialNumber"),
        "quantity": addition.get("quantity"),
        "lessIncluded": addition.get("lessIncluded"),
        "unitPrice": addition.get("unitPrice"),
        "effectiveDate": addition.get("effectiveDate"),
        "invoiced": bool(addition.get("_invoiced")),
    }
