"""Stubs from tenant files and scenario files, and the `cwsim_stubs` fixture."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import requests

from cwsim.scenarios.runner import RunOptions, ScenarioRun
from cwsim.scenarios.scenario import ScenarioError, parse_scenario
from cwsim.simulator.connectwise.tenant_file import TenantFileError, TenantSource, load_tenant
from cwsim.simulator.pytest_plugin import Cwsim, Stubs
from cwsim.simulator.server import create_app
from cwsim.simulator.world import World, WorldOptions

from .conftest import API, MEMBER_HEADERS

TENANT_WITH_STUBS = """\
base: default
stubs:
  - id: pinned-board
    match: {method: GET, path: /v4_6_release/apis/3.0/service/boards/1}
    respond:
      status: 200
      json: {id: 1, name: Pinned by the tenant file}
  - match: {path: /legacy/*}
    respond: {status: 410, json: {code: Gone}}
    times: 1
"""


def test_a_tenant_files_stubs_are_served_and_come_back_after_a_reset(tmp_path: Path) -> None:
    (tmp_path / "pinned.yaml").write_text(TENANT_WITH_STUBS)
    world = World(WorldOptions(tenant=tmp_path / "pinned.yaml"))
    client = create_app(world).test_client()
    assert client.get(f"{API}/service/boards/1").get_json()["name"] == "Pinned by the tenant file"
    assert client.get(f"{API}/service/boards/2", headers=MEMBER_HEADERS).status_code == 200, "the rest is the fake"
    assert client.get("/legacy/x").status_code == 410
    assert client.get("/legacy/x").status_code == 404, "times: 1"
    client.delete("/_sim/stubs")
    assert client.get(f"{API}/service/boards/1", headers=MEMBER_HEADERS).get_json()["name"] != (
        "Pinned by the tenant file"
    )
    client.post("/_sim/reset")
    assert [stub["id"] for stub in client.get("/_sim/stubs").get_json()] == ["pinned-board", "stub-1"]
    assert client.get("/legacy/x").status_code == 410


def test_a_tenant_posted_to_the_admin_api_brings_its_stubs() -> None:
    world = World(WorldOptions(seed=1, companies=2))
    client = create_app(world).test_client()
    assert client.get("/_sim/stubs").get_json() == []
    loaded = client.post("/_sim/tenant", data=TENANT_WITH_STUBS.encode(), query_string={"name": "posted"})
    assert loaded.status_code == 200, loaded.get_json()
    assert len(client.get("/_sim/stubs").get_json()) == 2
    client.post("/_sim/reset", json={"startup": True})
    assert client.get("/_sim/stubs").get_json() == [], "back to the startup tenant, which pins nothing"


def test_a_bad_stub_in_a_tenant_file_is_reported_at_its_line() -> None:
    text = textwrap.dedent(
        """\
        base: default
        stubs:
          - match: {path: /ok}
            respond: {json: 1}
          - match:
              method: GET
              path: service/tickets
            respond:
              status: 99
        """
    )
    with pytest.raises(TenantFileError) as caught:
        load_tenant(TenantSource(text, "t.yaml"))
    assert [str(problem) for problem in caught.value.problems] == [
        "t.yaml:7: stubs[1]: match.path: A path glob starts with / or *, e.g. /v4_6_release/apis/3.0/service/tickets*.",
        "t.yaml:9: stubs[1]: respond.status: Must be greater than or equal to 200 and less than or equal to 599.",
    ]


SCENARIO = """\
name: stubbed
clock: {start: 2026-10-01T00:00:00Z, duration: P1D}
stubs:
  - match: {method: GET, path: /v4_6_release/apis/3.0/system/info}
    respond: {json: {version: v2099.1}}
expect: [tickets]
"""


def test_a_scenarios_stubs_are_checked_and_kept_as_json() -> None:
    scenario = parse_scenario(SCENARIO, "stubbed.yaml")
    assert scenario.stubs == [
        {
            "match": {"method": "GET", "path": "/v4_6_release/apis/3.0/system/info"},
            "respond": {"json": {"version": "v2099.1"}},
        }
    ]
    assert type(scenario.stubs[0]["match"]) is dict, "plain JSON, ready to post"
    bad = SCENARIO.replace("respond: {json: {version: v2099.1}}", "respond: {json: 1, body: x}")
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(bad, "stubbed.yaml")
    assert str(caught.value) == "stubbed.yaml:5: stubs/0/respond/body: Give json or body, not both."


def test_the_runner_puts_a_scenarios_stubs_in_place(cwsim: Cwsim, tmp_path: Path) -> None:
    run = ScenarioRun(parse_scenario(SCENARIO, "stubbed.yaml"), RunOptions(workdir=tmp_path))
    run.put_stubs(cwsim.helpers)
    assert requests.get(f"{cwsim.api_url}/system/info", timeout=30).json() == {"version": "v2099.1"}
    assert run.log == ["stubs: 1 in place"]


def test_the_fixtures_helper_removes_only_what_it_added(cwsim: Cwsim) -> None:
    admin = cwsim.helpers
    kept = admin.stubs.add({"id": "kept", "match": {"path": "/kept"}, "respond": {"json": 1}})
    helper = Stubs(admin.base_url, admin.http.headers)
    helper.add({"match": {"path": "/mine"}, "respond": {"json": 2}}, {"match": {"path": "/also"}, "respond": {}})
    assert requests.get(f"{cwsim.url}/mine", timeout=30).json() == 2
    helper.remove_added()
    assert [stub["id"] for stub in admin.stubs.listed()] == [kept[0]["id"]]


def test_the_cwsim_stubs_fixture_pins_an_answer(cwsim_stubs: Stubs, cwsim: Cwsim) -> None:
    cwsim_stubs.add({"match": {"path": f"{API}/service/tickets/count"}, "respond": {"json": {"count": 123}}})
    assert cwsim.session().get("service/tickets/count").json() == {"count": 123}
    assert cwsim.helpers.journal.requests(path="/service/tickets/count")[-1]["stub"] == cwsim_stubs.added[0]


def test_two_stubs_with_one_id_in_a_tenant_file_are_reported_at_the_second_not_a_traceback() -> None:
    text = textwrap.dedent(
        """\
        base: default
        stubs:
          - {id: pinned, match: {path: /a}, respond: {json: 1}}
          - {id: other, match: {path: /b}, respond: {json: 2}}
          - {id: pinned, match: {path: /c}, respond: {json: 3}}
        """
    )
    with pytest.raises(TenantFileError) as caught:
        load_tenant(TenantSource(text, "t.yaml"))
    assert [str(problem) for problem in caught.value.problems] == [
        't.yaml:5: stubs[2]: id: "pinned" is already the id of stubs[0]'
    ]
    distinct = text.replace("{id: pinned, match: {path: /c}", "{id: third, match: {path: /c}")
    assert len(load_tenant(TenantSource(distinct, "t.yaml")).stubs) == 3  # control: distinct ids load
