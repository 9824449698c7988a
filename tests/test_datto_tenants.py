"""The built-in Datto tenants: one set up as the guide says, four that get one thing wrong.

They need the finance, configuration and managed-device collections. Each check runs twice:
- against stand-in declarations written here from the field names of issue 3 and
  connectwise-api.md §5-6 (so the files and the generic loader are tested now, and adding a
  collection is shown to need nothing in the tenant loader);
- against the collections the fake declares, skipped while they are not declared yet.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cwsim.simulator.connectwise import collections as declared
from cwsim.simulator.connectwise.fields import CwDateTime, Nested, Ref
from cwsim.simulator.connectwise.model import Collection, Parent
from cwsim.simulator.connectwise.schemas import API_FLAGS, CwSchema, flag, number, required_text, text
from cwsim.simulator.connectwise.tenant_file import load_tenant, tenant_source

NEEDED = (
    "company/configurations/statuses",
    "company/configurations/types",
    "finance/agreements/types",
    "procurement/catalog",
    "finance/agreements",
    "company/managedDevicesIntegrations",
    "company/managedDevicesIntegrations/crossReferences",
)
LOGINS = "system/integratorlogins"
INTEGRATIONS = "company/managedDevicesIntegrations"


class ConfigurationStatusStandIn(CwSchema):
    description = required_text(50)
    closedFlag = flag()
    defaultFlag = flag()


class ConfigurationTypeStandIn(CwSchema):
    name = required_text(50)
    inactiveFlag = flag()


class AgreementTypeStandIn(CwSchema):
    name = required_text(50)
    employeeCompRate = text()
    employeeCompNotExceed = text()
    invoicingCycle = text()
    billTime = text()
    billExpenses = text()
    billProducts = text()


class CatalogItemStandIn(CwSchema):
    identifier = required_text(25)
    description = required_text(60)
    customerDescription = text()
    subcategory = Nested(allow_none=True)
    type = Nested(allow_none=True)
    productClass = text()
    price = number()
    cost = number()


class AgreementStandIn(CwSchema):
    name = required_text(100)
    type = Ref("finance/agreements/types", required=True)
    company = Ref("company/companies", required=True)
    contact = Ref("company/contacts", required=True)
    agreementStatus = text()
    startDate = CwDateTime(allow_none=True)


class ManagedDevicesIntegrationStandIn(CwSchema):
    name = required_text(50)
    solution = required_text(50)
    portalUrl = text()
    integratorLogin = Ref(LOGINS)
    configBillCustomerFlag = flag()
    matchOnSerialNumberFlag = flag()
    disableNewCrossReferencesFlag = flag()
    loginBy = text()
    defaultBillingLevel = text()


class CrossReferenceStandIn(CwSchema):
    vendorType = text()
    vendorLevel = text()
    configurationType = Ref("company/configurations/types")
    agreementType = Ref("finance/agreements/types")
    product = Ref("procurement/catalog")


STAND_IN_DECLARATIONS = [
    Collection(
        "company/configurations/statuses",
        "status",
        ConfigurationStatusStandIn,
        "Configuration",
        lookup=("description",),
        display=lambda r: {"name": r.get("description")},
    ),
    Collection("company/configurations/types", "type", ConfigurationTypeStandIn, "Configuration"),
    Collection("finance/agreements/types", "agreementType", AgreementTypeStandIn, "Agreement"),
    Collection(
        "procurement/catalog",
        "catalogItem",
        CatalogItemStandIn,
        "Product",
        lookup=("identifier",),
        display=lambda r: {"identifier": r.get("identifier")},
    ),
    Collection("finance/agreements", "agreement", AgreementStandIn, "Agreement"),
    Collection(INTEGRATIONS, "managedDevicesIntegration", ManagedDevicesIntegrationStandIn, "ManagedServices"),
    Collection(
        f"{INTEGRATIONS}/{{parentId}}/crossReferences",
        "crossReference",
        CrossReferenceStandIn,
        "ManagedServices",
        parent=Parent("managedDevicesIntegration", INTEGRATIONS),
    ),
]


DECLARED_TABLES = {collection.table for collection in declared.COLLECTIONS}
# The fake's own declarations, plus a stand-in for each needed collection it does not declare yet.
STAND_INS = [*declared.COLLECTIONS, *(c for c in STAND_IN_DECLARATIONS if c.table not in DECLARED_TABLES)]


def declared_collections() -> list[Collection]:
    missing = sorted(set(NEEDED) - {collection.table for collection in declared.COLLECTIONS})
    assert not missing, f"the fake no longer declares {missing}"
    return declared.COLLECTIONS


COLLECTION_SETS: dict[str, Callable[[], list[Collection]]] = {
    "stand-ins": lambda: STAND_INS,
    "declared": declared_collections,
}


@pytest.fixture(params=list(COLLECTION_SETS))
def load(request: pytest.FixtureRequest) -> Callable[[str], dict[str, list[dict]]]:
    collections = COLLECTION_SETS[request.param]()

    def load_rows(name: str) -> dict[str, list[dict]]:
        backend = load_tenant(tenant_source(name), collections=collections)
        return {table: list(rows.records.values()) for table, rows in backend.store.tables.items()}

    return load_rows


def plain(record: dict) -> dict:
    return {key: value for key, value in record.items() if not key.startswith("_") and key != "mobileGuid"}


def difference(before: dict, after: dict) -> dict:
    return {
        key: (before.get(key), after.get(key))
        for key in before.keys() | after.keys()
        if before.get(key) != after.get(key)
    }


def test_the_datto_ready_tenant_is_set_up_as_the_guide_says(load) -> None:
    tables = load("datto-ready")
    (login,) = tables[LOGINS]
    assert login["username"] == "dattoCW" and login["canAccessAllRecordsFlag"] and not login["inactiveFlag"]
    assert all(login[api] for api in API_FLAGS)
    (integration,) = tables[INTEGRATIONS]
    assert integration["integratorLogin"] == login["id"]
    assert integration["configBillCustomerFlag"] and integration["matchOnSerialNumberFlag"]
    assert not integration["disableNewCrossReferencesFlag"]
    references = tables[f"{INTEGRATIONS}/crossReferences"]
    assert {(r["vendorType"], r["managedDevicesIntegration"]) for r in references} == {
        ("SIRIS", integration["id"]),
        ("ALTO", integration["id"]),
    }
    assert [t["name"] for t in tables["company/configurations/types"]] == ["Datto Appliance"]
    assert "Datto Offsite Overage" in [t["name"] for t in tables["finance/agreements/types"]]
    prices = {p["identifier"]: p["price"] for p in tables["procurement/catalog"]}
    assert prices == {"DATTO-SIRIS-OVG-TB": 120.0, "DATTO-ALTO-OVG-500GB": 45.0}
    companies = {c["id"]: c["identifier"] for c in tables["company/companies"]}
    per_company = [companies[a["company"]] for a in tables["finance/agreements"]]
    assert sorted(per_company) == ["Contoso", "Northwind", "Northwind"]  # Fabrikam has none


@pytest.mark.parametrize(
    ("name", "table", "expected"),
    [
        ("datto-login-wrong-case", LOGINS, {"username": ("dattoCW", "dattocw")}),
        ("datto-login-not-all-records", LOGINS, {"canAccessAllRecordsFlag": (True, False)}),
        ("datto-login-no-managed-services", LOGINS, {"managedServicesApiFlag": (True, False)}),
        ("datto-integration-no-serial-match", INTEGRATIONS, {"matchOnSerialNumberFlag": (True, False)}),
    ],
)
def test_each_misconfigured_tenant_gets_exactly_one_thing_wrong(load, name: str, table: str, expected: dict) -> None:
    ready, wrong = load("datto-ready"), load(name)
    (good,), (bad,) = ready[table], wrong[table]
    assert difference(plain(good), plain(bad)) == expected
    for other in ready:
        if other != table:
            assert [plain(r) for r in ready[other]] == [plain(r) for r in wrong[other]], other
