"""The default tenant: a ConnectWise company generated with Faker from a seed, ready for Datto."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from faker import Faker

from ..clock import Clock
from .auth import SYSTEM, ApiKey
from .backend import Backend, TenantSettings
from .collections import COLLECTIONS
from .schemas import API_FLAGS

COMPANY_ID = "cwsim"
PUBLIC_KEY = "cwsim-public"
PRIVATE_KEY = "cwsim-private"
API_MEMBER = "cwsim-api"
INTEGRATOR_USERNAME = "dattoCW"
INTEGRATOR_PASSWORD = "cwsim-integrator"
DEFAULT_COMPANIES = 36
DATTO_BOARD = "Datto Alerts"
HELP_DESK_BOARD = "Help Desk"
LOCATION = {"id": 1, "name": "Main"}
DEPARTMENT = {"id": 1, "name": "Services"}


@dataclass(frozen=True)
class BoardPlan:
    name: str
    statuses: tuple[tuple[str, bool, bool], ...]  # (name, default, closed)
    types: tuple[str, ...]


BOARDS = (
    BoardPlan(
        HELP_DESK_BOARD,
        (("New", True, False), ("In Progress", False, False), ("Completed", False, True)),
        ("Incident", "Request"),
    ),
    BoardPlan(
        DATTO_BOARD,
        (("New", True, False), ("In Progress", False, False), ("Waiting", False, False), ("Closed", False, True)),
        ("Device", "Agent"),
    ),
)


def company_identifier(name: str, taken: set[str]) -> str:
    """A ConnectWise company ID from a name: letters and digits, at most 30, unique."""
    base = re.sub(r"[^A-Za-z0-9]", "", name)[:25] or "Company"
    identifier, suffix = base, 2
    while identifier.casefold() in taken:
        identifier = f"{base}{suffix}"
        suffix += 1
    taken.add(identifier.casefold())
    return identifier


def default_tenant(seed: int = 0, companies: int = DEFAULT_COMPANIES, clock: Clock | None = None) -> Backend:
    """A tenant as the README describes it, the same for the same seed and size."""
    settings = TenantSettings(
        company_id=COMPANY_ID,
        company_name="cwsim Managed Services",
        api_keys=[ApiKey(PUBLIC_KEY, PRIVATE_KEY, API_MEMBER)],
        seed=seed,
    )
    backend = Backend(COLLECTIONS, clock=clock, settings=settings)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    _add_members(backend, fake)
    _add_integrator_login(backend)
    for plan in BOARDS:
        board_id = _add_board(backend, plan)
        if plan.name == HELP_DESK_BOARD:
            settings.default_board_id = board_id
    _add_companies(backend, fake, rng, companies)
    return backend


def _add_members(backend: Backend, fake: Faker) -> None:
    members = backend.collection("system/members")
    backend.create(
        members, {"identifier": API_MEMBER, "firstName": "cwsim", "lastName": "API", "licenseClass": "X"}, SYSTEM
    )
    taken = {API_MEMBER}
    for _ in range(6):
        first, last = fake.first_name(), fake.last_name()
        identifier = (first[0] + last).lower()[:15]
        if identifier in taken:
            continue
        taken.add(identifier)
        backend.create(
            members,
            {
                "identifier": identifier,
                "firstName": first,
                "lastName": last,
                "officeEmail": f"{identifier}@cwsim.example",
                "title": "Service Technician",
                "licenseClass": "F",
            },
            SYSTEM,
        )


def _add_integrator_login(backend: Backend) -> None:
    login = {
        "username": INTEGRATOR_USERNAME,
        "password": INTEGRATOR_PASSWORD,
        "canAccessAllRecordsFlag": True,
        "canAccessAllApisFlag": False,
        "inactiveFlag": False,
        **{flag: True for flag in API_FLAGS},
    }
    backend.create(backend.collection("system/integratorlogins"), login, SYSTEM)


def _add_board(backend: Backend, plan: BoardPlan) -> int:
    board = backend.create(
        backend.collection("service/boards"),
        {"name": plan.name, "location": LOCATION, "department": DEPARTMENT},
        SYSTEM,
    )
    statuses = backend.collection("service/boards/statuses")
    for order, (name, default, closed) in enumerate(plan.statuses):
        backend.create(
            statuses,
            {"name": name, "defaultFlag": default, "closedStatus": closed, "sortOrder": order},
            SYSTEM,
            parent_id=board["id"],
        )
    types = backend.collection("service/boards/types")
    for name in plan.types:
        backend.create(types, {"name": name, "category": "Reactive"}, SYSTEM, parent_id=board["id"])
    return board["id"]


def _add_companies(backend: Backend, fake: Faker, rng: random.Random, count: int) -> None:
    companies = backend.collection("company/companies")
    contacts = backend.collection("company/contacts")
    taken: set[str] = set()
    names_seen: set[str] = set()
    while len(names_seen) < count:
        name = fake.company()[:50]
        if name.casefold() in names_seen:
            continue
        names_seen.add(name.casefold())
        company = backend.create(
            companies,
            {
                "identifier": company_identifier(name, taken),
                "name": name,
                "addressLine1": fake.street_address()[:50],
                "city": fake.city()[:50],
                "state": fake.state_abbr(),
                "zip": fake.zipcode(),
                "phoneNumber": fake.numerify("###-###-####"),
                "website": fake.domain_name(),
            },
            SYSTEM,
        )
        domain = company["website"]
        for index in range(rng.randint(1, 3)):
            first, last = fake.first_name(), fake.last_name()
            backend.create(
                contacts,
                {
                    "firstName": first,
                    "lastName": last,
                    "company": {"id": company["id"]},
                    "title": fake.job()[:100],
                    "defaultFlag": index == 0,
                    "communicationItems": [
                        {
                            "type": {"id": 1, "name": "Email"},
                            "value": f"{first}.{last}@{domain}".lower(),
                            "communicationType": "Email",
                            "defaultFlag": True,
                        }
                    ],
                },
                SYSTEM,
            )
