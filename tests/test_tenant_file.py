"""Tenant files: sections from the declarations, loading through the collections' rules, errors by line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from cwsim.simulator.connectwise.collections import ALL_COLLECTIONS, COLLECTIONS
from cwsim.simulator.connectwise.tenant_file import (
    TenantFileError,
    TenantSource,
    builtin_tenants,
    load_tenant,
    load_tenant_file,
    tenant_source,
)
from cwsim.simulator.connectwise.tenant_sections import SectionPlan, section_name
from cwsim.simulator.server import create_app
from cwsim.simulator.world import World, WorldOptions

from .conftest import API, MEMBER_HEADERS

SETTINGS = """\
settings:
  companyId: acme
  apiKeys:
    - {publicKey: acme-pub, privateKey: acme-priv, member: api}
members:
  - {identifier: api, firstName: Acme, lastName: API}
"""


def load(text: str, name: str = "t.yaml"):
    return load_tenant(TenantSource(textwrap.dedent(text), name))


def problems(text: str, name: str = "t.yaml") -> list[str]:
    with pytest.raises(TenantFileError) as caught:
        load(text, name)
    return [str(problem) for problem in caught.value.problems]


def rows(backend, table: str) -> list[dict]:
    return list(backend.store.table(table).records.values())


# -- sections come from the declarations -------------------------------------------------------


def test_every_declared_collection_has_a_section_or_nests_in_its_parent() -> None:
    plan = SectionPlan(COLLECTIONS)
    for collection in COLLECTIONS:
        if collection.parent is None:
            assert plan.sections[section_name(collection)] is collection
            assert plan.section(collection.table) == section_name(collection)
        else:
            parent = next(c for c in COLLECTIONS if c.table == collection.parent.collection)
            assert section_name(collection) in plan.nestings(parent)


@pytest.mark.parametrize(
    ("path", "resource", "expected"),
    [
        ("company/companies", "company", "companies"),
        ("company/configurations/types", "type", "configurationTypes"),
        ("finance/agreements/types", "agreementType", "agreementTypes"),
        ("company/managedDevicesIntegrations", "managedDevicesIntegration", "managedDevicesIntegrations"),
        ("procurement/catalog", "catalogItem", "catalog"),
        ("system/integratorlogins", "integratorLogin", "integratorLogins"),
        ("finance/agreements/{parentId}/additions", "addition", "additions"),
    ],
)
def test_section_names_follow_the_paths(path: str, resource: str, expected: str) -> None:
    from cwsim.simulator.connectwise.model import Collection, Parent
    from cwsim.simulator.connectwise.schemas import CwSchema

    parent = Parent("agreementId", "finance/agreements") if "{parentId}" in path else None
    assert section_name(Collection(path, resource, CwSchema, "Agreement", parent=parent)) == expected


# -- what loads ------------------------------------------------------------------------------


def test_the_example_default_file_loads_with_its_references_resolved() -> None:
    backend = load_tenant_file("default")
    settings = backend.settings
    assert (settings.company_id, settings.codebase, settings.version) == ("cwsim", "v2025_1/", "v2025.1.10431")
    assert [(k.public_key, k.private_key, k.member_identifier) for k in settings.api_keys] == [
        ("cwsim-public", "cwsim-private", "cwsim-api")
    ]
    boards = {board["name"]: board["id"] for board in rows(backend, "service/boards")}
    assert settings.default_board_id == boards["Help Desk"]
    companies = {company["identifier"]: company for company in rows(backend, "company/companies")}
    contacts = {f"{c['firstName']} {c['lastName']}": c for c in rows(backend, "company/contacts")}
    assert contacts["Anne Dodsworth"]["company"] == companies["Northwind"]["id"]
    assert contacts["Maria Garcia"]["company"] == companies["Fabrikam"]["id"]
    # A reference to a record made later in the file (a company's default contact) is set at the end.
    assert companies["Northwind"]["defaultContact"] == contacts["Anne Dodsworth"]["id"]
    (login,) = rows(backend, "system/integratorlogins")
    assert login["username"] == "dattoCW" and login["canAccessAllRecordsFlag"] and login["managedServicesApiFlag"]


def test_a_loaded_tenant_serves_with_its_own_credentials() -> None:
    world = World(WorldOptions(tenant="default"))
    client = create_app(world).test_client()
    boards = client.get(f"{API}/service/boards", headers=MEMBER_HEADERS).get_json()
    assert [board["name"] for board in boards] == ["Help Desk", "Datto Alerts"]
    ticket = client.post(
        f"{API}/service/tickets", json={"summary": "x", "company": {"identifier": "Contoso"}}, headers=MEMBER_HEADERS
    ).get_json()
    assert ticket["board"]["name"] == "Help Desk" and ticket["status"]["name"] == "New"


def test_sections_load_in_dependency_order_whatever_the_file_order() -> None:
    backend = load(
        SETTINGS
        + """\
tickets:
  - summary: Backup failed
    company: {identifier: Acme}
    board: {name: Alerts}
    status: {name: Closed}
    notes:
      - {text: first, detailDescriptionFlag: true}
contacts:
  - {firstName: Jo, company: {identifier: Acme}}
companies:
  - {identifier: Acme, name: Acme Inc, city: Springfield}
boards:
  - name: Alerts
    location: {id: 1}
    department: {id: 1}
    statuses: [{name: New, defaultFlag: true}, {name: Closed, closedStatus: true}]
"""
    )
    (ticket,) = rows(backend, "service/tickets")
    assert ticket["closedFlag"] is True and ticket["company"] == 1
    assert [note["text"] for note in rows(backend, "service/tickets/notes")] == ["first"]
    assert rows(backend, "company/contacts")[0]["company"] == 1


def test_table_paths_work_as_section_names_and_dates_stay_text() -> None:
    backend = load(
        """\
settings:
  companyId: acme
  apiKeys: [{publicKey: p, privateKey: q, member: api}]
system/members:
  - {identifier: api, firstName: A, lastName: B, hireDate: 2020-02-03}
"""
    )
    (member,) = rows(backend, "system/members")
    assert member["hireDate"].isoformat() == "2020-02-03T00:00:00+00:00"


def test_a_json_tenant_loads_too() -> None:
    document = {
        "settings": {"companyId": "acme", "apiKeys": [{"publicKey": "p", "privateKey": "q", "member": "api"}]},
        "members": [{"identifier": "api", "firstName": "A", "lastName": "B"}],
    }
    backend = load(json.dumps(document, indent=2), "t.json")
    assert backend.settings.company_id == "acme" and backend.settings.company_name == "acme"


# -- errors name the file, the line, the entry and the field --------------------------------------


def test_a_record_the_fake_refuses_is_reported_at_its_field() -> None:
    found = problems(
        SETTINGS
        + """\
companies:
  - {identifier: ACME, name: Acme, city: X}
  - {identifier: Beta, name: Beta, city: Y}
  - identifier: Gamma
    name: Gamma
  - name: Acme again
    identifier: acme
    city: Z
"""
    )
    assert found == [
        't.yaml:10: companies[2] ("Gamma"): addressLine1: At least one address field is required: addressLine1, '
        "addressLine2, city, state, zip, country.",
        't.yaml:13: companies[3] ("acme"): identifier: "acme" is already in use.',
    ]


def test_shape_problems_are_all_reported_at_once_with_suggestions() -> None:
    found = problems(
        """\
settings:
  companyId: acme
  companyID: x
  apiKeys:
    - {publicKey: p, privateKey: q}
companise:
  - identifier: A
companies:
  - identifer: B
    name: Beta
    contacts:
      - firstName: Z
        company: {identifier: B}
      - 5
  - id: 7
boards: {name: x}
"""
    )
    assert found == [
        't.yaml:3: settings: companyID: unknown field; did you mean "companyId"?',
        "t.yaml:5: settings: apiKeys[0].member: is required.",
        't.yaml:6: unknown section "companise"; did you mean "companies"?',
        't.yaml:9: companies[0] ("Beta"): identifer: unknown field; did you mean "identifier"?',
        't.yaml:13: companies[0] ("Beta").contacts[0] ("Z"): company: is set by the entry it is under.',
        't.yaml:14: companies[0] ("Beta").contacts[1]: must be a mapping of field: value.',
        "t.yaml:15: companies[1]: id: ids are given in file order; refer to records by name or identifier.",
        "t.yaml:16: boards: must be a list of entries, each starting with -.",
    ]


def test_a_reference_to_nothing_names_the_field_and_its_line() -> None:
    found = problems(
        SETTINGS
        + """\
contacts:
  - firstName: Jo
    lastName: Bloggs
    company: {identifier: Nowhere}
"""
    )
    assert found == ['t.yaml:10: contacts[0] ("Jo Bloggs"): company: identifier "Nowhere" does not exist.']


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("settings: [1\n", "t.yaml:2: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
        ("settings: {companyId: a}\nsettings: {}\n", 't.yaml:2: key "settings" appears twice in one mapping'),
        ("- just a list\n", "t.yaml:1: a tenant file is a mapping: settings, then sections"),
        ("", "t.yaml:1: a tenant file is a mapping: settings, then sections"),
        ("members: []\n", "t.yaml:1: settings: is required."),
        ("settings: {companyId: a+b, apiKeys: []}\n", "t.yaml:1: settings: apiKeys: at least one API key is needed."),
        (
            "settings: {companyId: a, apiKeys: [{publicKey: p, privateKey: q, member: m}], version: '2025'}\n",
            't.yaml:1: settings: version: must look like "v2025.1.10431".',
        ),
    ],
)
def test_file_level_problems_are_explained(text: str, expected: str) -> None:
    assert any(found.startswith(expected) for found in problems(text)), problems(text)


def test_settings_that_refer_to_missing_records_are_reported() -> None:
    found = problems(
        """\
settings:
  companyId: acme
  defaultBoard: Nope
  apiKeys:
    - {publicKey: p, privateKey: q, member: nobody}
"""
    )
    assert found == [
        't.yaml:3: settings: defaultBoard: no board is named "Nope".',
        't.yaml:5: settings: apiKeys[0].member: no member has identifier "nobody" (add it under members).',
    ]


def test_an_unknown_tenant_name_lists_the_built_in_ones(tmp_path: Path) -> None:
    with pytest.raises(TenantFileError, match="no such file, and no built-in tenant of that name") as caught:
        tenant_source("nope.yaml", tmp_path)
    assert "datto-ready" in str(caught.value) and "default" in str(caught.value)
    assert {"default", "datto-ready"} <= set(builtin_tenants())


# -- base: a file that builds on another ----------------------------------------------------------


def test_a_file_builds_on_a_base_replacing_whole_sections(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        SETTINGS + "companies:\n  - {identifier: One, name: One, city: X}\n  - {identifier: Two, name: Two, city: Y}\n"
    )
    (tmp_path / "child.yaml").write_text("base: base.yaml\ncompanies:\n  - {identifier: Three, name: Three, city: Z}\n")
    backend = load_tenant_file(tmp_path / "child.yaml")
    assert [c["identifier"] for c in rows(backend, "company/companies")] == ["Three"]
    assert backend.settings.company_id == "acme"


def test_errors_in_a_base_or_a_child_name_their_own_file(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(SETTINGS + "companiez: []\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\n\nboardz: []\n")
    with pytest.raises(TenantFileError) as caught:
        load_tenant_file(tmp_path / "child.yaml")
    assert [str(p) for p in caught.value.problems] == [
        f'{tmp_path / "child.yaml"}:3: unknown section "boardz"; did you mean "boards"?',
        'base.yaml:7: unknown section "companiez"; did you mean "companies"?',
    ]


def test_a_base_cycle_and_a_missing_base_are_explained(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(TenantFileError, match=r"b\.yaml:1: base: a\.yaml builds on this file again"):
        load_tenant_file(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("base: missing.yaml\n")
    with pytest.raises(TenantFileError, match=r"c.yaml:1: base: no such file"):
        load_tenant_file(tmp_path / "c.yaml")


def test_a_tenant_without_a_directory_may_only_build_on_built_in_tenants(tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text(SETTINGS)
    with pytest.raises(TenantFileError, match="base: no built-in tenant of that name"):
        load_tenant(TenantSource(f"base: {tmp_path / 'secret.yaml'}\n", "posted"))
    backend = load_tenant(
        TenantSource("base: default\nmembers:\n  - {identifier: cwsim-api, firstName: a, lastName: b}\n", "posted")
    )
    assert len(rows(backend, "system/members")) == 1 and len(rows(backend, "company/companies")) == 3


def test_links_by_device_identifier_wait_for_the_configurations_they_name() -> None:
    backend = load(
        SETTINGS
        + """\
tickets:
  - summary: SIRIS backup failed
    company: {identifier: Acme}
    configurations:
      - {deviceIdentifier: "00012E94105B"}
boards:
  - {name: Alerts, location: {id: 1}, department: {id: 1}, statuses: [{name: New, defaultFlag: true}]}
configurationTypes:
  - {name: Datto Appliance}
companies:
  - identifier: Acme
    name: Acme Inc
    city: Springfield
    contacts: [{firstName: Jo}]
    configurations:
      - {name: SIRIS, type: {name: Datto Appliance}, deviceIdentifier: "00012E94105B", serialNumber: "00012E94105B"}
    agreements:
      - name: Managed
        type: {name: Managed Services}
        contact: {name: Jo}
        configurations: [{deviceIdentifier: "00012E94105B"}]
agreementTypes:
  - {name: Managed Services}
"""
    )
    (configuration,) = rows(backend, "company/configurations")
    (ticket_link,) = rows(backend, "service/tickets/configurations")
    (agreement_link,) = rows(backend, "finance/agreements/configurations")
    assert ticket_link["configuration"] == agreement_link["configuration"] == configuration["id"]


def test_generated_collections_get_sections_that_never_take_a_name() -> None:
    plan = SectionPlan(ALL_COLLECTIONS)
    hand = SectionPlan(COLLECTIONS)
    assert {name: c.table for name, c in hand.sections.items()} == {
        name: plan.sections[name].table for name in hand.sections
    }, "every existing section name still means what it meant"
    assert plan.section("priorities") == "priorities" and plan.sections["priorities"].table == "service/priorities"
    assert plan.sections["timeEntries"].table == "time/entries"  # `entries` is schedule's or time's: neither takes it
    assert "settings" not in plan.sections  # the file's own section (system/settings goes by its table path)


def test_a_tenant_file_fills_a_generated_collection() -> None:
    backend = load(SETTINGS + "priorities:\n  - {name: Urgent, color: Red, defaultFlag: true}\n")
    assert [p["name"] for p in rows(backend, "service/priorities")] == ["Urgent"]
