"""The admin API: health, reset to the seed state, and the request journal."""

from __future__ import annotations

from cwsim.simulator.server import create_app
from cwsim.simulator.world import World, WorldOptions

from .conftest import INTEGRATOR_HEADERS, MEMBER_HEADERS, Api


def test_health_answers_ok(api: Api) -> None:
    body = api.client.get("/_sim/health").get_json()
    assert body["status"] == "ok" and body["companyId"] == "cwsim"


def test_reset_restores_the_seed_state(api: Api) -> None:
    before = api.get("company/companies", query_string={"pageSize": 1000}).get_json()
    api.post("service/tickets", {"summary": "x", "company": {"id": 1}})
    api.patch(f"company/companies/{before[0]['id']}", [{"op": "replace", "path": "name", "value": "Renamed"}])
    assert api.client.post("/_sim/reset").status_code == 200
    assert api.get("service/tickets/count").get_json() == {"count": 0}
    after = api.get("company/companies", query_string={"pageSize": 1000}).get_json()
    assert [c["name"] for c in after] == [c["name"] for c in before]
    assert api.post("service/tickets", {"summary": "y", "company": {"id": 1}}).get_json()["id"] == 1


def journal(api: Api, **params) -> list[dict]:
    return api.client.get("/_sim/requests", query_string=params).get_json()


def test_the_journal_records_method_path_query_status_sizes_time_and_body(api: Api) -> None:
    api.get("service/boards", query_string={"conditions": 'name="Help Desk"'})
    api.post("service/tickets", {"summary": "x", "company": {"id": 1}})
    first, second = journal(api)
    assert (first["method"], first["path"], first["status"]) == ("GET", "/v4_6_release/apis/3.0/service/boards", 200)
    assert first["query"] == "conditions=name%3D%22Help+Desk%22"
    assert first["response_bytes"] > 0 and first["body"] is None
    assert second["body"] == {"summary": "x", "company": {"id": 1}}
    assert second["request_bytes"] > 0 and second["status"] == 201 and second["time"].endswith("Z")
    assert second["seq"] > first["seq"] and second["duration_ms"] >= 0


def test_secrets_never_reach_the_journal(api: Api) -> None:
    login = {"username": "other", "password": "hunter2-secret", "companyApiFlag": True}
    api.post("system/integratorlogins", login, headers=INTEGRATOR_HEADERS)
    text = api.client.get("/_sim/requests").get_data(as_text=True)
    assert "hunter2-secret" not in text
    assert "cwsim-integrator" not in text and "Basic " not in text
    assert journal(api)[-1]["body"]["password"] == "***"


def test_a_large_body_is_cut_and_still_redacted(api: Api) -> None:
    body = {"username": "big", "password": "hunter2-secret", "serviceBoardCallbackUrl": "x" * 5000}
    api.post("system/integratorlogins", body)
    entry = journal(api)[-1]
    assert isinstance(entry["body"], str) and entry["body"].endswith("…(truncated)")
    assert "hunter2" not in entry["body"] and len(entry["body"]) < 2200
    assert entry["request_bytes"] > 5000


def test_the_journal_filters_by_method_path_status_and_since(api: Api) -> None:
    api.get("service/boards")
    api.get("service/tickets/999")
    api.post("service/tickets", {"summary": "x", "company": {"id": 1}})
    assert [e["method"] for e in journal(api, method="post")] == ["POST"]
    assert [e["status"] for e in journal(api, status=404)] == [404]
    assert len(journal(api, path="/service/tickets")) == 2
    first_seq = journal(api)[0]["seq"]
    assert len(journal(api, since=first_seq)) == 2
    assert api.client.get("/_sim/requests/count", query_string={"path": "tickets"}).get_json() == {"count": 2}
    assert api.client.get("/_sim/requests", query_string={"since": "abc"}).status_code == 400


def test_the_admin_api_is_not_journaled_and_delete_clears(api: Api) -> None:
    api.get("service/boards")
    api.client.get("/_sim/health")
    assert len(journal(api)) == 1
    assert api.client.delete("/_sim/requests").status_code == 204
    assert journal(api) == []


def test_the_journal_is_a_bounded_ring_buffer() -> None:
    world = World(WorldOptions(companies=2, journal_size=5))
    client = create_app(world).test_client()
    for _ in range(12):
        client.get("/v4_6_release/apis/3.0/service/boards", headers=MEMBER_HEADERS)
    entries = client.get("/_sim/requests").get_json()
    assert len(entries) == 5
    assert [e["seq"] for e in entries] == list(range(8, 13))
