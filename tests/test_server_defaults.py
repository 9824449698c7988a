"""What the fake fills in when a client leaves it out, from the tenant's own rows, and the user-defined
fields every record of a screen shows."""

from __future__ import annotations

from cwsim.simulator.connectwise import server_defaults

from .conftest import Api


def row_named(api: Api, path: str, name: str) -> dict:
    return next(row for row in api.get(path, query_string={"pageSize": 1000}).get_json() if row.get("name") == name)


def test_a_time_entry_takes_the_overall_default_work_type_and_its_billing(api: Api) -> None:
    entry = api.post("time/entries", {"timeStart": "2026-01-05T09:00:00Z", "company": {"id": 1}}).get_json()
    default = row_named(api, "time/workTypes", "Remote Support")
    assert default["overallDefaultFlag"] is True
    assert entry["workType"]["id"] == default["id"] and entry["billableOption"] == default["billTime"]
    assert entry["status"] == "Open" and entry["enteredBy"] and entry["dateEntered"]
    admin = row_named(api, "time/workTypes", "Admin")
    chosen = {"timeStart": "2026-01-05T09:00:00Z", "company": {"id": 1}, "workType": {"id": admin["id"]}}
    assert api.post("time/entries", chosen).get_json()["billableOption"] == "NoCharge"
    # Negative control: with no work type marked the overall default, none is filled in.
    api.patch(f"time/workTypes/{default['id']}", [{"op": "replace", "path": "overallDefaultFlag", "value": False}])
    bare = api.post("time/entries", {"timeStart": "2026-01-05T09:00:00Z", "company": {"id": 1}}).get_json()
    assert "workType" not in bare and bare["billableOption"] == "Billable"


def test_owner_levels_come_from_the_writers_member_defaults(api: Api) -> None:
    body = {"name": "Defaults", "company": {"id": 1}, "contact": {"id": 1}, "primarySalesRep": {"id": 2}}
    opportunity = api.post("sales/opportunities", body).get_json()
    locations = api.get("system/locations", query_string={"orderBy": "id asc"}).get_json()
    assert opportunity["locationId"] == locations[0]["id"] and "businessUnitId" in opportunity
    assert opportunity["totalSalesTax"] == 0.0
    # The API member now says "Remote Office": the next record follows it.
    store = api.world.backend.store
    member_id = min(store.table("system/members").lookup("identifier", "cwsim-api"))
    remote = row_named(api, "system/locations", "Remote Office")
    store.replace("system/members", {**store.get("system/members", member_id), "defaultLocation": remote["id"]})
    assert api.post("sales/opportunities", body).get_json()["locationId"] == remote["id"]


def test_a_schedule_entry_has_hours_and_a_project_its_estimates_at_zero(api: Api) -> None:
    visit = {"type": {"id": 1}, "dateStart": "2026-01-05T09:00:00Z", "dateEnd": "2026-01-05T10:30:00Z"}
    assert api.post("schedule/entries", visit).get_json()["hours"] == 1.5
    project = api.get("project/projects", query_string={"orderBy": "id asc"}).get_json()[0]
    assert all(project[name] == 0.0 for name in server_defaults.ESTIMATES)


def test_records_show_their_screens_user_defined_fields_with_the_values_written(api: Api) -> None:
    ticket = api.post("service/tickets", {"summary": "UDF", "company": {"id": 1}}).get_json()
    captions = [field["caption"] for field in ticket["customFields"]]
    assert captions == ["Root Cause", "Customer Impact"] and all("value" not in f for f in ticket["customFields"])
    root_cause = ticket["customFields"][0]
    assert set(root_cause) >= {"id", "caption", "type", "entryMethod", "numberOfDecimals"}
    written = [{"id": root_cause["id"], "value": "Failed disk"}]
    api.patch(f"service/tickets/{ticket['id']}", [{"op": "replace", "path": "customFields", "value": written}])
    shown = api.get(f"service/tickets/{ticket['id']}").get_json()["customFields"]
    assert [field.get("value") for field in shown] == ["Failed disk", None]
    project = api.get("project/projects").get_json()[0]
    assert [field["caption"] for field in project["customFields"]] == ["Go-Live Date"]
    # Negative control: without the definitions a record shows only the values written to it.
    definitions = api.world.backend.store.table("system/userDefinedFields")
    definitions.records.clear()
    definitions.version += 1
    assert api.get(f"service/tickets/{ticket['id']}").get_json()["customFields"] == written
