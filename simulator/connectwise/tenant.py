"""The default tenant: a ConnectWise company generated with Faker from a seed, ready for Datto."""

from __future__ import annotations

import copy
import random
import re
from dataclasses import dataclass
from typing import Any

from faker import Faker

from ..clock import Clock
from .auth import SYSTEM, ApiKey
from .backend import Backend, TenantSettings
from .collections import ALL_COLLECTIONS as COLLECTIONS
from .permissions import API_FLAGS
from .tenant_setup import add_board_teams, add_setup, add_work

COMPANY_ID = "cwsim"
PUBLIC_KEY = "cwsim-public"
PRIVATE_KEY = "cwsim-private"
API_MEMBER = "cwsim-api"
INTEGRATOR_USERNAME = "dattoCW"
INTEGRATOR_PASSWORD = "cwsim-integrator"
DEFAULT_COMPANIES = 36
DATTO_BOARD = "Datto Alerts"
HELP_DESK_BOARD = "Help Desk"
DATTO_CONFIGURATION_TYPE = "Datto Appliance"
MANAGED_AGREEMENT_TYPE = "Managed Services"
OVERAGE_AGREEMENT_TYPE = "Datto Offsite Overage"
SIRIS_OVERAGE_PRODUCT = "DATTO-SIRIS-OVG-TB"
ALTO_OVERAGE_PRODUCT = "DATTO-ALTO-OVG-500GB"
MANAGED_DEVICES_INTEGRATION = "Datto BCDR"
LOCATION = {"id": 1, "name": "Main"}
DEPARTMENT = {"id": 1, "name": "Services"}


@dataclass(frozen=True)
class BoardPlan:
    name: str
    statuses: tuple[tuple[str, bool, bool], ...]  # (name, default, closed)
    types: tuple[str, ...]
    project: bool = False  # a project board: project tickets live on it


PROJECT_BOARD = "Professional Services"
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
    BoardPlan(
        PROJECT_BOARD,
        (("New", True, False), ("Scheduled", False, False), ("In Progress", False, False), ("Completed", False, True)),
        ("Project Task",),
        project=True,
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


Snapshot = dict[str, tuple[dict[int, dict[str, Any]], int]]
# Built tenants by (seed, companies): settings and a store snapshot. A reset (every test does one)
# restores a copy instead of posting a few hundred records through the machinery again.
_BUILT: dict[tuple[int, int], tuple[TenantSettings, Snapshot]] = {}
MAX_CACHED_TENANTS = 8
STAMPS = ("_dateEntered", "_lastUpdated")


def default_tenant(seed: int = 0, companies: int = DEFAULT_COMPANIES, clock: Clock | None = None) -> Backend:
    """A tenant as the README describes it, the same for the same seed and size (built once per process,
    then copied, its records stamped with the clock's now as a fresh build would be)."""
    cached = _BUILT.get((seed, companies))
    if cached is None:
        backend = _build_default_tenant(seed, companies, clock)
        if len(_BUILT) >= MAX_CACHED_TENANTS:
            _BUILT.clear()
        _BUILT[(seed, companies)] = (copy.deepcopy(backend.settings), backend.store.snapshot())
        return backend
    settings, snapshot = cached
    backend = Backend(COLLECTIONS, clock=clock, settings=copy.deepcopy(settings))
    now = backend.now()
    backend.store.restore(
        {
            name: ({i: {**r, **dict.fromkeys(STAMPS, now)} for i, r in records.items()}, next_id)
            for name, (records, next_id) in snapshot.items()
        }
    )
    return backend


def _build_default_tenant(seed: int, companies: int, clock: Clock | None) -> Backend:
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
    add_setup(backend)  # first: members name their default location and department
    _add_members(backend, fake)
    _add_integrator_login(backend)
    for plan in BOARDS:
        board_id = _add_board(backend, plan)
        add_board_teams(backend, board_id, leader_id=2)
        if plan.name == HELP_DESK_BOARD:
            settings.default_board_id = board_id
    _add_companies(backend, fake, rng, companies)
    _add_datto_setup(backend)
    _add_agreements(backend, rng)
    _add_records_for_the_other_apis(backend)
    add_work(backend, sorted(backend.store.table("company/companies").records))
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
                "defaultLocation": {"name": "Main"},
                "defaultDepartment": {"name": "Services"},
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
        **{flag: True for flag in API_FLAGS.values()},
    }
    backend.create(backend.collection("system/integratorlogins"), login, SYSTEM)


def _add_board(backend: Backend, plan: BoardPlan) -> int:
    board = backend.create(
        backend.collection("service/boards"),
        {"name": plan.name, "location": LOCATION, "department": DEPARTMENT, "projectFlag": plan.project},
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


def _add_datto_setup(backend: Backend) -> None:
    """What the Datto setup guide asks for: a configuration type, the overage agreement type and
    products, and a managed-device integration for the dattoCW login, set up exactly as it says."""
    create = backend.create
    config_type = create(backend.collection("company/configurations/types"), {"name": DATTO_CONFIGURATION_TYPE}, SYSTEM)
    statuses = backend.collection("company/configurations/statuses")
    create(statuses, {"description": "Active", "defaultFlag": True}, SYSTEM)
    create(statuses, {"description": "Inactive", "closedFlag": True}, SYSTEM)
    agreement_types = backend.collection("finance/agreements/types")
    create(agreement_types, {"name": MANAGED_AGREEMENT_TYPE, "defaultFlag": True}, SYSTEM)
    overage_type = create(agreement_types, {"name": OVERAGE_AGREEMENT_TYPE, "billTime": "DoNotBill"}, SYSTEM)
    catalog = backend.collection("procurement/catalog")
    products = {}
    for identifier, description, price, cost in (
        (SIRIS_OVERAGE_PRODUCT, "Datto SIRIS offsite overage, per TB", 120.0, 70.0),
        (ALTO_OVERAGE_PRODUCT, "Datto ALTO offsite overage, per 500 GB", 45.0, 25.0),
    ):
        products[identifier] = create(
            catalog,
            {
                "identifier": identifier,
                "description": description,
                "customerDescription": description,
                "subcategory": {"id": 1, "name": "Backup"},
                "type": {"id": 1, "name": "Service"},
                "productClass": "Service",
                "price": price,
                "cost": cost,
            },
            SYSTEM,
        )
    integration = create(
        backend.collection("company/managedDevicesIntegrations"),
        {
            "name": MANAGED_DEVICES_INTEGRATION,
            "solution": "Datto",
            "portalUrl": "https://portal.dattobackup.com",
            "loginBy": "Global",
            "defaultBillingLevel": "Detail",
            "integratorLogin": {"name": INTEGRATOR_USERNAME},
            "configBillCustomerFlag": True,
            "matchOnSerialNumberFlag": True,
            "disableNewCrossReferencesFlag": False,
        },
        SYSTEM,
    )
    cross_references = backend.collection("company/managedDevicesIntegrations/crossReferences")
    for vendor_type, product in (("SIRIS", SIRIS_OVERAGE_PRODUCT), ("ALTO", ALTO_OVERAGE_PRODUCT)):
        create(
            cross_references,
            {
                "vendorType": vendor_type,
                "vendorLevel": "Device",
                "configurationType": {"id": config_type["id"]},
                "agreementType": {"id": overage_type["id"]},
                "product": {"id": products[product]["id"]},
            },
            SYSTEM,
            parent_id=integration["id"],
        )


def _add_agreements(backend: Backend, rng: random.Random) -> None:
    """Most companies have a managed-services agreement; some have none, some also an overage one."""
    agreements = backend.collection("finance/agreements")
    contacts = backend.store.table("company/contacts")
    for company in list(backend.store.table("company/companies").records.values()):
        roll = rng.random()
        if roll < 0.15:
            continue
        contact_id = min(contacts.lookup("company", company["id"]))
        kinds = [MANAGED_AGREEMENT_TYPE] + ([OVERAGE_AGREEMENT_TYPE] if roll > 0.8 else [])
        for kind in kinds:
            backend.create(
                agreements,
                {
                    "name": f"{company['name'][:60]} - {kind}",
                    "type": {"name": kind},
                    "company": {"id": company["id"]},
                    "contact": {"id": contact_id},
                    "startDate": "2026-01-01T00:00:00Z",
                },
                SYSTEM,
            )


def _add_records_for_the_other_apis(backend: Backend) -> None:
    """A few rows for the APIs the Datto login needs but nothing else here uses, so each flag can be probed."""
    create = backend.create
    create(
        backend.collection("sales/activities"),
        {"name": "Quarterly review", "company": {"id": 1}, "assignTo": {"id": 2}},
        SYSTEM,
    )
    create(
        backend.collection("finance/invoices"),
        {"invoiceNumber": "INV-1001", "company": {"id": 1}, "total": 1200.0},
        SYSTEM,
    )
    create(backend.collection("marketing/groups"), {"name": "Newsletter"}, SYSTEM)
    create(backend.collection("procurement/purchaseorders"), {"poNumber": "PO-5001", "total": 899.0}, SYSTEM)
    create(backend.collection("system/reports"), {"name": "Service Tickets Opened"}, SYSTEM)
