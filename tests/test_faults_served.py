"""Fault rules on a real `cwsim serve` (the plugin's fixture): over sockets, under threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from cwsim.simulator.pytest_plugin import Cwsim

TICKET = {"summary": "Backup failed", "company": {"id": 1}}


def test_commit_then_fail_over_http_leaves_the_ticket_behind(cwsim: Cwsim) -> None:
    admin, api = cwsim.admin(), cwsim.session()
    rule = {"method": "POST", "collection": "service/tickets", "count": 1, "effect": {"kind": "commit_then_fail"}}
    assert admin.post("faults", json=rule).status_code == 201
    response = api.post("service/tickets", json=TICKET)
    assert response.status_code == 500
    assert response.json() == {
        "code": "ConnectWiseApi",
        "message": "An error occurred while processing the request.",
        "errors": None,
    }
    assert api.get("service/tickets/count").json() == {"count": 1}
    assert api.post("service/tickets", json=TICKET).status_code == 201
    assert admin.get("faults").json()[0]["state"] == "spent"


def test_a_throttle_and_latency_over_http(cwsim: Cwsim) -> None:
    admin, api = cwsim.admin(), cwsim.session()
    rules = [
        {"method": "GET", "path": "service/boards", "count": 1, "effect": {"kind": "throttle", "retry_after": 12}},
        {"method": "GET", "path": "service/boards", "effect": {"kind": "latency", "latency_ms": 25}},
    ]
    assert [rule["id"] for rule in admin.post("faults", json=rules).json()] == [1, 2]
    throttled = api.get("service/boards")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "12"
    assert throttled.json()["code"] == "TooManyRequests"
    slow = api.get("service/boards")
    assert slow.status_code == 200 and slow.headers["X-Cwsim-Fault"] == "2"
    journal = admin.get("requests", params={"path": "service/boards"}).json()
    assert [entry["status"] for entry in journal] == [429, 200]
    assert journal[1]["duration_ms"] >= 25


def test_concurrent_writes_under_a_count_of_one_fail_exactly_once(cwsim: Cwsim) -> None:
    admin = cwsim.admin()
    rule = {"collection": "service/tickets", "count": 1, "effect": {"kind": "commit_then_fail", "status": 503}}
    admin.post("faults", json=rule).raise_for_status()

    def create(number: int) -> int:
        with cwsim.session() as api:
            return api.post("service/tickets", json={**TICKET, "summary": f"Ticket {number}"}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(create, range(40)))
    assert sorted(statuses) == [201] * 39 + [503]
    assert cwsim.session().get("service/tickets/count").json() == {"count": 40}
    [described] = admin.get("faults").json()
    assert described["fired"] == 1


def test_the_admin_api_answers_through_a_total_outage(cwsim: Cwsim) -> None:
    admin, api = cwsim.admin(), cwsim.session()
    admin.post("faults", json={"effect": {"kind": "outage"}, "window": {"duration_s": 3600, "clock": "wall"}})
    assert api.get("system/info").status_code == 503
    assert admin.get("health").status_code == 200
    assert admin.delete("faults").status_code == 204
    assert api.get("system/info").status_code == 200
