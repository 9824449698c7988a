"""GET/PUT /_sim/state and POST /_sim/tenant: snapshots that round-trip, and bad input that is explained."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from cwsim.simulator.connectwise.settings import unmapped_settings_fields
from cwsim.simulator.connectwise.snapshot import store_state
from cwsim.simulator.pytest_plugin import basic_auth
from cwsim.simulator.state import STATE_VERSION, WorldState
from cwsim.simulator.state_problems import StateProblems

from .conftest import MEMBER_HEADERS, Api


def state_of(api: Api) -> dict[str, Any]:
    response = api.client.get("/_sim/state")
    assert response.status_code == 200
    return response.get_json()


def put_state(api: Api, state: Any):
    return api.client.put("/_sim/state", json=state)


def busy(api: Api) -> None:
    """Records of several kinds: created, patched, closed, with notes, a deleted one, a new login."""
    first = api.post("service/tickets", {"summary": "a", "company": {"id": 1}, "initialDescription": "n1"}).get_json()
    second = api.post("service/tickets", {"summary": "b", "company": {"id": 2}, "board": {"name": "Datto Alerts"}})
    closed = api.get("service/boards/2/statuses", query_string={"conditions": "closedStatus=true"}).get_json()[0]
    api.patch(
        f"service/tickets/{second.get_json()['id']}", [{"op": "replace", "path": "status/id", "value": closed["id"]}]
    )
    api.post(f"service/tickets/{first['id']}/notes", {"text": "more", "internalAnalysisFlag": True})
    api.patch("company/companies/3", [{"op": "replace", "path": "name", "value": "Renamed"}])
    third = api.post("service/tickets", {"summary": "gone", "company": {"id": 1}}).get_json()
    api.delete(f"service/tickets/{third['id']}")
    api.post("system/integratorlogins", {"username": "other", "password": "pw", "companyApiFlag": True})


def everything(api: Api) -> dict[str, Any]:
    """What a client sees of every top-level table, plus the raw store."""
    seen = {
        path: api.get(path, query_string={"pageSize": 1000}).get_json()
        for path in ("service/tickets", "company/companies", "company/contacts", "system/integratorlogins")
    }
    seen["notes"] = api.get("service/tickets/1/notes").get_json()
    seen["store"] = api.world.backend.store.snapshot()
    return seen


def test_state_round_trips_ids_timestamps_and_references(api: Api) -> None:
    busy(api)
    before = everything(api)
    saved = state_of(api)
    api.client.post("/_sim/reset")
    assert api.get("service/tickets/count").get_json() == {"count": 0}
    response = put_state(api, saved)
    assert response.status_code == 200, response.get_json()
    assert everything(api) == before
    again = state_of(api)
    assert again["clock"]["mode"] == saved["clock"]["mode"] == "wall"  # the fixture's clock runs: it went on
    assert datetime.fromisoformat(again["clock"]["now"]) >= datetime.fromisoformat(saved["clock"]["now"])
    assert {**again, "clock": None} == {**saved, "clock": None}
    # ids go on where they left off (ticket 3 was deleted; the next is 4)
    assert api.post("service/tickets", {"summary": "next", "company": {"id": 1}}).get_json()["id"] == 4


def test_the_snapshot_holds_settings_with_credentials_and_every_table(api: Api) -> None:
    busy(api)
    state = state_of(api)
    assert state["version"] == STATE_VERSION
    settings = state["connectwise"]["settings"]
    assert settings["companyId"] == "cwsim" and settings["apiKeys"][0]["privateKey"] == "cwsim-private"
    tables = state["connectwise"]["tables"]
    assert set(tables) == set(api.world.backend.collections)
    tickets = tables["service/tickets"]
    assert tickets["nextId"] == 4 and [t["id"] for t in tickets["records"]] == [1, 2]
    closed = tickets["records"][1]
    assert closed["closedFlag"] is True and closed["closedDate"].endswith("Z") and closed["board"] == 2
    assert datetime.fromisoformat(closed["_dateEntered"]).tzinfo == UTC
    logins = tables["system/integratorlogins"]["records"]
    assert logins[-1]["password"] == "pw"  # a restore needs the secrets the API never shows


def test_restoring_keeps_reset_pointing_at_the_tenant(api: Api) -> None:
    busy(api)
    saved = state_of(api)
    api.client.post("/_sim/reset")
    put_state(api, saved)
    api.client.post("/_sim/reset")
    assert api.get("service/tickets/count").get_json() == {"count": 0}


def corrupt(change: Callable[[dict], None]) -> Callable[[dict], dict]:
    def apply(state: dict) -> dict:
        state = copy.deepcopy(state)
        change(state)
        return state

    return apply


def tickets(state: dict) -> dict:
    return state["connectwise"]["tables"]["service/tickets"]


BAD_STATES = [
    ("not an object", lambda s: [1, 2], "the state must be a JSON object"),
    ("wrong version", corrupt(lambda s: s.update(version=99)), "version: must be 1 or 2 (this server writes 2), not"),
    (
        "unknown part",
        corrupt(lambda s: s.update(gadgets={})),
        "gadgets: no such part (parts: connectwise, mail, clock, fleet).",
    ),
    ("missing part", corrupt(lambda s: s.pop("connectwise")), "connectwise: missing."),
    ("part not an object", corrupt(lambda s: s.update(connectwise=3)), "connectwise: must be an object"),
    ("no tables", corrupt(lambda s: s["connectwise"].pop("tables")), "connectwise.tables: Missing data"),
    (
        "unknown table",
        corrupt(lambda s: s["connectwise"]["tables"].update({"service/tickts": {"nextId": 1, "records": []}})),
        'connectwise.tables["service/tickts"]: no such table; did you mean "service/tickets"?',
    ),
    (
        "bad settings",
        corrupt(lambda s: s["connectwise"]["settings"].update(companyId="a+b", apiKeys=[])),
        "connectwise.settings.apiKeys: at least one API key is needed.",
    ),
    (
        "bad next id",
        corrupt(lambda s: tickets(s).update(nextId="x")),
        'connectwise.tables["service/tickets"].nextId: Not a valid integer.',
    ),
    (
        "bad datetime",
        corrupt(lambda s: tickets(s)["records"][0].update(closedDate="yesterday")),
        "connectwise.tables[\"service/tickets\"].records[0].closedDate: 'yesterday' is not an ISO 8601 datetime",
    ),
    (
        "reference not an id",
        corrupt(lambda s: tickets(s)["records"][0].update(company={"id": 1})),
        'connectwise.tables["service/tickets"].records[0].company: Not a valid integer.',
    ),
    (
        "duplicate id",
        corrupt(lambda s: tickets(s)["records"].append(tickets(s)["records"][0])),
        'connectwise.tables["service/tickets"].records[2].id: id 1 appears twice.',
    ),
    (
        "id past next id",
        corrupt(lambda s: tickets(s).update(nextId=2)),
        'connectwise.tables["service/tickets"].records[1].id: id 2 is not below nextId 2.',
    ),
    (
        "record without id",
        corrupt(lambda s: tickets(s)["records"][0].pop("id")),
        'connectwise.tables["service/tickets"].records[0].id: Missing data for required field.',
    ),
    (
        "unique clash",
        corrupt(
            lambda s: s["connectwise"]["tables"]["company/companies"]["records"][1].update(
                identifier=s["connectwise"]["tables"]["company/companies"]["records"][0]["identifier"].lower()
            )
        ),
        "is used by records 1 and 2; it must be unique.",
    ),
]


@pytest.mark.parametrize(("case", "spoil", "expected"), BAD_STATES, ids=[case for case, _, _ in BAD_STATES])
def test_a_malformed_snapshot_is_a_400_naming_what_is_wrong_and_changes_nothing(
    api: Api, case: str, spoil: Callable[[dict], Any], expected: str
) -> None:
    busy(api)
    saved = state_of(api)
    api.client.post("/_sim/reset")
    response = put_state(api, spoil(saved))
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "InvalidState"
    assert any(expected in error["message"] for error in body["errors"]), body["errors"]
    assert api.get("service/tickets/count").get_json() == {"count": 0}


def test_a_body_that_is_not_json_is_a_400(api: Api) -> None:
    response = api.client.put("/_sim/state", data=b"{nope", content_type="application/json")
    assert response.status_code == 400 and "not valid JSON" in response.get_json()["message"]


def test_every_tenant_setting_has_a_place_in_the_snapshot() -> None:
    assert unmapped_settings_fields() == set()


def test_a_datetime_in_an_undeclared_field_is_refused_loudly(api: Api) -> None:
    """Dumping must not lose a datetime a rule stored where restoring would not look for one."""
    backend = api.world.backend
    table = backend.store.table("company/companies")
    record = table.records[1]
    table.records[1] = {**record, "_invoiced": datetime(2026, 1, 1, tzinfo=UTC)}
    try:
        with pytest.raises(TypeError, match="_invoiced holds a datetime"):
            store_state(backend)
    finally:
        table.records[1] = record


class RecordingPart:
    """A part registered beside the ConnectWise one, as the fleet and mail parts will be."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.value: Any = {"n": 0}
        self.swapped: list[Any] = []

    def dump(self) -> Any:
        return self.value

    def prepare(self, data: Any):
        if self.fail:
            raise StateProblems([f"{self.name}: broken"])
        return lambda: self.swapped.append(data)


def test_a_part_is_added_by_registering_it_and_restoring_is_all_or_nothing() -> None:
    state = WorldState()
    good, bad = RecordingPart("fleet"), RecordingPart("mail", fail=True)
    state.register(good)
    assert state.dump() == {"version": STATE_VERSION, "fleet": {"n": 0}}
    state.restore({"version": STATE_VERSION, "fleet": {"n": 5}})
    assert good.swapped == [{"n": 5}]
    state.register(bad)
    with pytest.raises(StateProblems, match="mail: broken"):
        state.restore({"version": STATE_VERSION, "fleet": {"n": 6}, "mail": {}})
    assert good.swapped == [{"n": 5}]  # nothing swapped in when any part refuses
    with pytest.raises(ValueError, match="already registered"):
        state.register(RecordingPart("fleet"))


# -- POST /_sim/tenant ------------------------------------------------------------------------

ACME = """\
settings:
  companyId: acme
  apiKeys:
    - {publicKey: acme-pub, privateKey: acme-priv, member: api}
members:
  - {identifier: api, firstName: Acme, lastName: API}
companies:
  - {identifier: Acme, name: Acme Inc, city: Springfield}
"""
ACME_HEADERS = {"Authorization": basic_auth("acme", "acme-pub", "acme-priv"), "clientId": "tests"}


def test_a_posted_tenant_replaces_the_served_one(api: Api) -> None:
    api.get("service/boards")
    response = api.client.post("/_sim/tenant", data=ACME, content_type="application/yaml")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["companyId"] == "acme" and body["records"]["company/companies"] == 1
    assert api.client.get("/_sim/requests").get_json() == []  # the journal starts afresh
    assert api.get("company/companies").status_code == 401  # the old credentials are gone
    companies = api.get("company/companies", headers=ACME_HEADERS).get_json()
    assert [c["identifier"] for c in companies] == ["Acme"]
    assert api.client.get("/login/companyinfo/acme").get_json()["CompanyID"] == "acme"
    # reset now goes back to the new tenant, not the startup one
    api.post("company/companies", {"identifier": "New", "name": "New", "city": "X"}, headers=ACME_HEADERS)
    api.client.post("/_sim/reset")
    assert len(api.get("company/companies", headers=ACME_HEADERS).get_json()) == 1
    assert api.client.get("/_sim/state").get_json()["connectwise"]["settings"]["companyId"] == "acme"


def test_a_bad_posted_tenant_is_a_400_naming_lines_and_changes_nothing(api: Api) -> None:
    text = ACME + "  - {identifier: acme, name: Again, city: X}\nboardz: []\n"
    response = api.client.post("/_sim/tenant", query_string={"name": "acme.yaml"}, data=text)
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "InvalidTenant"
    assert [e["text"] for e in body["errors"]] == ['acme.yaml:10: unknown section "boardz"; did you mean "boards"?']
    assert body["errors"][0]["line"] == 10 and "acme.yaml:10" in body["message"]
    response = api.client.post("/_sim/tenant", data=text.replace("boardz: []\n", ""))
    assert [e["text"] for e in response.get_json()["errors"]] == [
        'tenant:9: companies[1] ("acme"): identifier: "acme" is already in use.'
    ]
    assert api.get("company/companies").status_code == 200  # still the old tenant


@pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"[1, 2]", b"settings: [", b'{"settings": 5}'])
def test_junk_posted_as_a_tenant_is_a_400(api: Api, body: bytes) -> None:
    response = api.client.post("/_sim/tenant", data=body)
    assert response.status_code == 400 and response.get_json()["errors"]


def test_a_posted_tenant_may_build_on_a_built_in_one(api: Api) -> None:
    response = api.client.post("/_sim/tenant", data="base: default\n", content_type="application/json")
    assert response.status_code == 200
    assert api.get("company/companies", headers=MEMBER_HEADERS).status_code == 200


def test_configurations_agreements_and_an_invoiced_addition_round_trip(api: Api) -> None:
    from .test_configurations_and_finance import first_agreement, new_configuration, overage_addition

    config = new_configuration(api)
    agreement = first_agreement(api)
    api.post(f"finance/agreements/{agreement['id']}/configurations", {"id": config["id"]})
    addition = overage_addition(api, agreement["id"])
    ticket = api.post("service/tickets", {"summary": "x", "company": {"id": config["company"]["id"]}}).get_json()
    api.post(f"service/tickets/{ticket['id']}/configurations", {"id": config["id"]})
    api.client.post(f"/_sim/additions/{addition['id']}/invoice")
    before = api.world.backend.store.snapshot()
    saved = state_of(api)
    api.client.post("/_sim/reset")
    assert put_state(api, saved).status_code == 200
    assert api.world.backend.store.snapshot() == before
    path = f"finance/agreements/{agreement['id']}/additions/{addition['id']}"
    assert api.patch(path, [{"op": "replace", "path": "quantity", "value": 9}]).status_code == 400  # still invoiced
