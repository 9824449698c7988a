"""ConnectWise's actions (`/copy`, `/merge`, `/default`, conversions, approvals, bulk): each one's effect."""

from __future__ import annotations

from typing import Any

import pytest

from cwsim.simulator.connectwise.bundles import BUNDLE_ACTIONS
from cwsim.simulator.connectwise.conversions import CONVERSION_ACTIONS
from cwsim.simulator.connectwise.examples import create_example
from cwsim.simulator.connectwise.operations import action_table
from cwsim.simulator.connectwise.record_actions import ACTIONS
from cwsim.simulator.connectwise.unserved_actions import UNSERVED

from .conftest import Api


def example(api: Api, table: str, **overrides: Any) -> dict[str, Any]:
    backend = api.world.backend
    return create_example(backend, backend.collection(table), f"Example {table.rsplit('/', 1)[-1]}", overrides)


def count(api: Api, path: str) -> int:
    return api.get(f"{path}/count").get_json()["count"]


def ticket(api: Api, summary: str, note: str | None = None) -> int:
    body: dict[str, Any] = {"summary": summary, "company": {"id": 1}}
    if note:
        body["initialDescription"] = note
    answer = api.post("service/tickets", body)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


# -- /default --------------------------------------------------------------------------------


def test_a_default_is_a_new_record_as_the_server_fills_it_in_and_nothing_is_stored(api: Api) -> None:
    before = count(api, "company/companies")
    answer = api.get("company/companies/default")
    assert answer.status_code == 200
    company = answer.get_json()
    default_status = next(s for s in api.get("company/companies/statuses").get_json() if s.get("defaultFlag"))
    assert company["status"]["id"] == default_status["id"]
    assert "id" not in company and company.get("deletedFlag") is False
    assert count(api, "company/companies") == before
    for path in ("company/contacts", "sales/opportunities", "procurement/rmaTags", "system/apiMembers"):
        answer = api.get(f"{path}/default")
        assert answer.status_code == 200 and "id" not in answer.get_json(), path


# -- /copy -----------------------------------------------------------------------------------


def test_copying_a_ticket_makes_a_new_ticket_with_its_fields(api: Api) -> None:
    original = ticket(api, "Printer jams")
    answer = api.post(f"service/tickets/{original}/copy")
    assert answer.status_code in (200, 201), answer.get_json()
    copy = answer.get_json()
    assert copy["id"] != original and copy["summary"] == "Printer jams" and copy["company"]["id"] == 1
    assert api.get(f"service/tickets/{copy['id']}").get_json()["summary"] == "Printer jams"
    assert api.post("service/tickets/99999/copy").status_code == 404


def test_copying_a_board_by_body_copies_its_statuses_under_the_new_name(api: Api) -> None:
    board = api.get("service/boards").get_json()[0]
    statuses = api.get(f"service/boards/{board['id']}/statuses").get_json()
    assert statuses, "the default tenant's board has statuses"
    answer = api.post("service/boards/copy", {"id": board["id"], "name": "Copied board"})
    assert answer.status_code in (200, 201), answer.get_json()
    copy = answer.get_json()
    assert copy["name"] == "Copied board" and copy["id"] != board["id"]
    copied = api.get(f"service/boards/{copy['id']}/statuses").get_json()
    assert sorted(s["name"] for s in copied) == sorted(s["name"] for s in statuses)
    missing_name = api.post("service/boards/copy", {"id": board["id"]})
    assert missing_name.status_code == 400 and missing_name.get_json()["code"] == "InvalidObject"


def test_copying_a_unique_catalog_item_gives_the_copy_a_free_identifier(api: Api) -> None:
    item = api.get("procurement/catalog").get_json()[0]
    copy = api.post(f"procurement/catalog/{item['id']}/copy").get_json()
    again = api.post(f"procurement/catalog/{item['id']}/copy").get_json()
    # The suffix fits inside the identifier's 25 characters, cutting the original's name if it must.
    assert copy["identifier"].endswith(" (copy)") and again["identifier"].endswith(" (copy 2)")
    assert item["identifier"].startswith(again["identifier"][: -len(" (copy 2)")])
    assert max(len(copy["identifier"]), len(again["identifier"])) <= 25


@pytest.mark.parametrize(
    "table",
    [
        "schedule/calendars",
        "finance/taxCodes",
        "service/surveys",
        "system/surveys",
        "system/workflows",
        "finance/agreements",
        "finance/agreements/types",
    ],
)
def test_copy_by_path_makes_one_more_record_with_the_same_name(api: Api, table: str) -> None:
    original = example(api, table)
    path = {"finance/agreements/types": f"finance/agreements/types{original['id']}/copy"}.get(
        table, f"{table}/{original['id']}/copy"
    )
    before = count(api, table)
    answer = api.post(path)
    assert answer.status_code in (200, 201), answer.get_json()
    assert count(api, table) == before + 1
    label = "name" if "name" in original else "identifier"
    assert answer.get_json()[label].startswith(original[label][:10])


def test_copying_a_child_record_keeps_it_under_its_parent(api: Api) -> None:
    question = example(api, "service/surveys/questions")
    survey_id = question["surveyId"]
    before = count(api, f"service/surveys/{survey_id}/questions")
    answer = api.post(f"service/surveys/{survey_id}/questions/{question['id']}/copy")
    assert answer.status_code in (200, 201), answer.get_json()
    assert count(api, f"service/surveys/{survey_id}/questions") == before + 1
    event = example(api, "system/workflows/events")
    workflow_id = event["parentId"]  # an event holds its workflow's id in parentId
    answer = api.post(f"system/workflows/{workflow_id}/events/{event['id']}/copy")
    assert answer.status_code in (200, 201), answer.get_json()


@pytest.mark.parametrize(
    ("path", "table", "model"),
    [
        ("company/configurations/types/copy", "company/configurations/types", "ConfigurationTypeCopy"),
        ("schedule/holidayLists/copy", "schedule/holidayLists", "HolidayList"),
        ("company/portalConfigurations/copy", "company/portalConfigurations", "PortalConfiguration"),
    ],
)
def test_copy_by_body_names_the_copy(api: Api, path: str, table: str, model: str) -> None:
    original = example(api, table)
    answer = api.post(path, {"id": original["id"], "name": "Second"})
    assert answer.status_code in (200, 201), answer.get_json()
    assert answer.get_json()["name"] == "Second"
    assert any(r["name"] == "Second" for r in api.get(table, query_string={"pageSize": 1000}).get_json())


# -- /merge and bundles ----------------------------------------------------------------------


def test_merging_a_company_moves_its_contacts_and_removes_it(api: Api) -> None:
    contacts = api.get("company/contacts", query_string={"conditions": "company/id = 2"}).get_json()
    assert contacts, "company 2 has contacts in the default tenant"
    answer = api.post("company/companies/2/merge", {"toCompanyId": 3})
    assert answer.status_code in (200, 201), answer.get_json()
    assert answer.get_json()["success"] is True
    assert api.get("company/companies/2").status_code == 404
    for contact in contacts:
        assert api.get(f"company/contacts/{contact['id']}").get_json()["company"]["id"] == 3
    assert api.post("company/companies/3/merge", {"toCompanyId": 3}).status_code == 400
    assert api.post("company/companies/3/merge", {}).status_code == 400


def test_merging_tickets_closes_them_into_the_parent_whose_all_notes_show_theirs(api: Api) -> None:
    parent = ticket(api, "Parent", "parent note")
    child = ticket(api, "Child", "child note")
    board = api.get(f"service/tickets/{child}").get_json()["board"]["id"]
    closed = next(s for s in api.get(f"service/boards/{board}/statuses").get_json() if s.get("closedStatus"))
    answer = api.post(f"service/tickets/{parent}/merge", {"mergeTicketIds": [child], "status": {"id": closed["id"]}})
    assert answer.status_code in (200, 201), answer.get_json()
    merged = api.get(f"service/tickets/{child}").get_json()
    assert merged["status"]["id"] == closed["id"] and merged["mergedParentTicket"]["id"] == parent
    assert api.get(f"service/tickets/{parent}").get_json()["hasMergedChildTicketFlag"] is True
    notes = api.get(f"service/tickets/{parent}/allNotes").get_json()
    assert [(n["text"], n["mergedFlag"]) for n in notes] == [("parent note", False), ("child note", True)]
    no_status = api.post(f"service/tickets/{parent}/merge", {"mergeTicketIds": [child]})
    assert no_status.status_code == 400


def test_attaching_children_bundles_them_with_their_notes(api: Api) -> None:
    parent = ticket(api, "Bundle parent")
    child = ticket(api, "Bundled", "bundled note")
    answer = api.post(f"service/tickets/{parent}/attachChildren", {"childTicketIds": [child]})
    assert answer.status_code in (200, 201), answer.get_json()
    assert api.get(f"service/tickets/{child}").get_json()["parentTicketId"] == parent
    assert api.get(f"service/tickets/{parent}").get_json()["hasChildTicket"] is True
    notes = api.get(f"service/tickets/{parent}/allNotes").get_json()
    assert [(n["text"], n["bundledFlag"]) for n in notes] == [("bundled note", True)]
    assert api.post(f"service/tickets/{parent}/attachChildren", {"childTicketIds": [99999]}).status_code == 404


# -- approvals -------------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["time/sheets", "expense/reports"])
def test_a_sheet_moves_through_submit_approve_reject_and_reverse(api: Api, table: str) -> None:
    backend = api.world.backend
    sheet = backend.insert_internal(table, {"member": 1, "status": "Open", "year": 2026, "period": 1})
    path = f"{table}/{sheet['id']}"

    def step(name: str) -> int:
        return api.post(f"{path}/{name}").status_code

    def status() -> str:
        return api.get(path).get_json()["status"]

    assert step("approve") == 400 and status() == "Open"  # not submitted yet
    assert step("submit") in (200, 201) and status() == "PendingApproval"
    assert step("approve") in (200, 201) and status() == "ApprovedByTierOne"
    assert step("reject") in (200, 201) and status() == "Rejected"
    assert step("submit") in (200, 201) and step("reverse") in (200, 201) and status() == "Open"


def test_deactivating_a_member_makes_it_inactive(api: Api) -> None:
    member = next(m for m in api.get("system/members").get_json() if not m.get("inactiveFlag"))
    answer = api.post(f"system/members/{member['id']}/deactivate", {})
    assert answer.status_code in (200, 201), answer.get_json()
    after = api.get(f"system/members/{member['id']}").get_json()
    assert after["inactiveFlag"] is True and after.get("inactiveDate")


# -- conversions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "table"),
    [
        ("convertToServiceTicket", "service/tickets"),
        ("convertToProject", "project/projects"),
        ("convertToAgreement", "finance/agreements"),
        ("convertToSalesOrder", "sales/orders"),
    ],
)
def test_converting_an_opportunity_makes_a_record_for_its_company(api: Api, action: str, table: str) -> None:
    example(api, "sales/orders/statuses")  # the default tenant has none; a sales order needs one
    opportunity = api.get("sales/opportunities").get_json()[0]
    before = count(api, table)
    answer = api.post(f"sales/opportunities/{opportunity['id']}/{action}", {})
    assert answer.status_code in (200, 201), answer.get_json()
    made = answer.get_json()
    assert count(api, table) == before + 1
    assert api.get(f"{table}/{made['id']}").get_json()["company"]["id"] == opportunity["company"]["id"]
    assert api.post(f"sales/opportunities/99999/{action}", {}).status_code == 404


def test_converting_a_sales_order_makes_a_ticket_for_its_company(api: Api) -> None:
    example(api, "sales/orders/statuses")
    opportunity = api.get("sales/opportunities").get_json()[0]
    order = api.post(f"sales/opportunities/{opportunity['id']}/convertToSalesOrder", {}).get_json()
    answer = api.post(f"sales/orders/{order['id']}/convertToServiceTicket")
    assert answer.status_code in (200, 201), answer.get_json()
    made = answer.get_json()
    assert made["company"]["id"] == opportunity["company"]["id"] and str(order["id"]) in made["summary"]


# -- bulk ------------------------------------------------------------------------------------


def test_bulk_creates_replaces_and_deletes_configurations_each_on_its_own(api: Api) -> None:
    body = example_configuration(api)
    answer = api.post("company/configurations/bulk", [body, {**body, "name": "Second"}, {"name": None}])
    assert answer.status_code == 200, answer.get_json()
    results = answer.get_json()["payload"]
    assert [r["success"] for r in results] == [True, True, False] and results[2]["statusCode"] == 400
    ids = [r["data"]["id"] for r in results[:2]]
    replaced = api.put("company/configurations/bulk", [{**body, "id": ids[0], "name": "Renamed"}]).get_json()
    assert (
        replaced["payload"][0]["success"]
        and api.get(f"company/configurations/{ids[0]}").get_json()["name"] == "Renamed"
    )
    deleted = api.delete("company/configurations/bulk", json={"ids": [*ids, 99999]}).get_json()["payload"]
    assert [r["success"] for r in deleted] == [True, True, False]
    assert all(api.get(f"company/configurations/{i}").status_code == 404 for i in ids)


def example_configuration(api: Api) -> dict[str, Any]:
    from cwsim.simulator.connectwise.examples import example_body

    backend = api.world.backend
    return example_body(backend, backend.collection("company/configurations"), "Bulk")


def test_bulk_purchase_order_line_items_land_under_the_order(api: Api) -> None:
    from cwsim.simulator.connectwise.examples import example_body

    backend = api.world.backend
    order = api.get("procurement/purchaseorders").get_json()[0]
    body = example_body(backend, backend.collection("procurement/purchaseorders/lineitems"), "Line")
    answer = api.post(f"procurement/purchaseorders/{order['id']}/lineitems/bulk", [body, body])
    assert answer.status_code == 200, answer.get_json()
    assert all(r["success"] for r in answer.get_json()["payload"]), answer.get_json()
    assert count(api, f"procurement/purchaseorders/{order['id']}/lineitems") == 2
    assert (
        api.post("procurement/purchaseorders/99999/lineitems/bulk", [body]).get_json()["payload"][0]["statusCode"]
        == 404
    )


# -- the rest --------------------------------------------------------------------------------


def test_clearing_the_company_picker_empties_that_members_list(api: Api) -> None:
    item = example(api, "company/companyPickerItems")
    assert count(api, "company/companyPickerItems") >= 1
    member = item.get("member")
    answer = api.post("company/companyPickerItems/clear", {"member": {"id": member} if member else None})
    assert answer.status_code in (200, 201), answer.get_json()
    assert count(api, "company/companyPickerItems") == 0


def test_time_entry_defaults_fill_in_without_saving(api: Api) -> None:
    before = count(api, "time/entries")
    answer = api.post("time/entries/defaults", {"notes": "draft", "chargeToType": "ServiceTicket"})
    assert answer.status_code in (200, 201), answer.get_json()
    draft = answer.get_json()
    assert draft["notes"] == "draft" and "id" not in draft
    assert count(api, "time/entries") == before


def test_change_type_changes_only_a_configurations_type(api: Api) -> None:
    configuration = example(api, "company/configurations")
    new_type = example(api, "company/configurations/types", name="Other type")
    path = f"company/configurations/{configuration['id']}/changeType"
    answer = api.patch(path, [{"op": "replace", "path": "type", "value": {"id": new_type["id"]}}])
    assert answer.status_code == 200, answer.get_json()
    assert api.get(f"company/configurations/{configuration['id']}").get_json()["type"]["id"] == new_type["id"]
    assert api.patch(path, [{"op": "replace", "path": "name", "value": "x"}]).status_code == 400


def test_an_action_with_a_word_for_its_id_is_a_400(api: Api) -> None:
    answer = api.post("service/tickets/abc/copy")
    assert answer.status_code == 400 and "whole number" in answer.get_json()["message"]


def test_an_unserved_action_says_not_implemented_and_coverage_says_why(api: Api) -> None:
    answer = api.post("system/ldapConfigurations/testLink", {})
    assert answer.status_code == 404 and answer.get_json()["code"] == "NotImplementedByFake"
    served = {(a.method, a.template) for a in action_table().actions}
    assert not served & set(UNSERVED), "an operation is both served and listed as unserved"


def test_my_member_is_the_member_the_api_key_acts_as(api: Api) -> None:
    answer = api.get("system/myMembers")
    assert answer.status_code == 200, answer.get_json()
    key = api.world.backend.settings.api_keys[0]
    assert answer.get_json()["identifier"] == key.member_identifier


def test_a_projects_workplan_lists_its_phases(api: Api) -> None:
    phase = example(api, "project/projects/phases")
    project_id = phase["projectId"] if "projectId" in phase else phase["_parentId"]
    answer = api.get(f"project/projects/{project_id}/projectWorkplan")
    assert answer.status_code == 200, answer.get_json()
    workplan = answer.get_json()
    assert workplan["projectId"] == project_id and phase["id"] in [p["id"] for p in workplan["phases"]]
    assert api.get("project/projects/99999/projectWorkplan").status_code == 404


def test_portal_credentials_check_a_contacts_email_and_portal_password(api: Api) -> None:
    contact = api.get("company/contacts/1").get_json()
    email = next(i["value"] for i in contact["communicationItems"] if i["communicationType"] == "Email")
    patch = [{"op": "replace", "path": "portalPassword", "value": "s3cret"}]
    assert api.patch("company/contacts/1", patch).status_code == 200
    path = "company/contacts/validatePortalCredentials"
    good = api.post(path, {"email": email.upper(), "password": "s3cret"}).get_json()
    assert good == {"success": True, "contactId": 1}
    assert api.post(path, {"email": email, "password": "wrong"}).get_json() == {"success": False}
    disable = [{"op": "replace", "path": "disablePortalLoginFlag", "value": True}]
    assert api.patch("company/contacts/1", disable).status_code == 200
    assert api.post(path, {"email": email, "password": "s3cret"}).get_json() == {"success": False}
    assert api.post(path, {"email": email}).status_code == 400


def test_deleting_unused_time_sheets_leaves_those_with_hours_or_submitted(api: Api) -> None:
    backend = api.world.backend
    unused = backend.insert_internal("time/sheets", {"member": 2, "status": "Open", "year": 2026, "period": 1})
    worked = backend.insert_internal("time/sheets", {"member": 2, "status": "Open", "hours": 4.0, "period": 2})
    submitted = backend.insert_internal("time/sheets", {"member": 2, "status": "PendingApproval", "period": 3})
    other = backend.insert_internal("time/sheets", {"member": 3, "status": "Open", "year": 2026, "period": 1})
    assert api.delete("system/members/2/unusedTimeSheets").status_code == 204
    assert api.get(f"time/sheets/{unused['id']}").status_code == 404
    for kept in (worked, submitted, other):
        assert api.get(f"time/sheets/{kept['id']}").status_code == 200


# Which test shows each action's effect (the coverage report counts an action as served only with one).
TESTED_BY = {
    "/company/companies/default": "test_a_default_is_a_new_record_as_the_server_fills_it_in_and_nothing_is_stored",
    "/company/contacts/default": "test_a_default_is_a_new_record_as_the_server_fills_it_in_and_nothing_is_stored",
    "/sales/opportunities/default": "test_a_default_is_a_new_record_as_the_server_fills_it_in_and_nothing_is_stored",
    "/procurement/rmaTags/default": "test_a_default_is_a_new_record_as_the_server_fills_it_in_and_nothing_is_stored",
    "/system/apiMembers/default": "test_a_default_is_a_new_record_as_the_server_fills_it_in_and_nothing_is_stored",
    "/service/tickets/{id}/copy": "test_copying_a_ticket_makes_a_new_ticket_with_its_fields",
    "/schedule/calendars/{id}/copy": "test_copy_by_path_makes_one_more_record_with_the_same_name",
    "/finance/taxCodes/{id}/copy": "test_copy_by_path_makes_one_more_record_with_the_same_name",
    "/procurement/catalog/{id}/copy": "test_copying_a_unique_catalog_item_gives_the_copy_a_free_identifier",
    "/service/surveys/{id}/copy": "test_copy_by_path_makes_one_more_record_with_the_same_name",
    "/service/surveys/{parentId}/questions/{id}/copy": "test_copying_a_child_record_keeps_it_under_its_parent",
    "/system/surveys/{id}/copy": "test_copy_by_path_makes_one_more_record_with_the_same_name",
    "/system/workflows/{id}/copy": "test_copy_by_path_makes_one_more_record_with_the_same_name",
    "/system/workflows/{parentId}/events/{id}/copy": "test_copying_a_child_record_keeps_it_under_its_parent",
    "/finance/agreements/{parentId}/copy": "test_copy_by_path_makes_one_more_record_with_the_same_name",
    "/finance/agreements/types{id}/copy": "test_copy_by_path_makes_one_more_record_with_the_same_name",
    "/company/configurations/types/copy": "test_copy_by_body_names_the_copy",
    "/service/boards/copy": "test_copying_a_board_by_body_copies_its_statuses_under_the_new_name",
    "/schedule/holidayLists/copy": "test_copy_by_body_names_the_copy",
    "/company/portalConfigurations/copy": "test_copy_by_body_names_the_copy",
    "/company/companies/{id}/merge": "test_merging_a_company_moves_its_contacts_and_removes_it",
    "/service/tickets/{parentId}/merge": "test_merging_tickets_closes_them_into_the_parent_whose_all_notes_show_theirs",
    "/service/tickets/{parentId}/attachChildren": "test_attaching_children_bundles_them_with_their_notes",
    **{
        f"/{table}/{{id}}/{step}": "test_a_sheet_moves_through_submit_approve_reject_and_reverse"
        for table in ("time/sheets", "expense/reports")
        for step in ("submit", "approve", "reject", "reverse")
    },
    "/system/members/{id}/deactivate": "test_deactivating_a_member_makes_it_inactive",
    **{
        f"/sales/opportunities/{{id}}/{action}": "test_converting_an_opportunity_makes_a_record_for_its_company"
        for action in ("convertToServiceTicket", "convertToProject", "convertToAgreement", "convertToSalesOrder")
    },
    "/sales/orders/{id}/convertToServiceTicket": "test_converting_a_sales_order_makes_a_ticket_for_its_company",
    "/company/configurations/bulk": "test_bulk_creates_replaces_and_deletes_configurations_each_on_its_own",
    "/procurement/purchaseorders/{parentId}/lineitems/bulk": "test_bulk_purchase_order_line_items_land_under_the_order",
    "/company/companyPickerItems/clear": "test_clearing_the_company_picker_empties_that_members_list",
    "/time/entries/defaults": "test_time_entry_defaults_fill_in_without_saving",
    "/company/configurations/{id}/changeType": "test_change_type_changes_only_a_configurations_type",
    "/system/myMembers": "test_my_member_is_the_member_the_api_key_acts_as",
    "/project/projects/{id}/projectWorkplan": "test_a_projects_workplan_lists_its_phases",
    "/company/contacts/validatePortalCredentials": "test_portal_credentials_check_a_contacts_email_and_portal_password",
    "/system/members/{id}/unusedTimeSheets": "test_deleting_unused_time_sheets_leaves_those_with_hours_or_submitted",
    "/system/bundles": "test_a_bundle_answers_each_read_on_its_own",
    "/procurement/catalog/{catalogItemIdentifier}/quantityOnHand": "test_quantity_on_hand_sums_the_items_stock",
    "/system/bundles/count": "test_a_bundle_answers_each_read_on_its_own",
}


def test_every_declared_action_names_the_test_of_its_effect() -> None:
    """An action counts as served only with a test of its effect: each is mapped to one that exists here."""
    declared = {action.template for action in [*ACTIONS, *CONVERSION_ACTIONS, *BUNDLE_ACTIONS]}
    assert declared == set(TESTED_BY), declared ^ set(TESTED_BY)
    assert all(callable(globals().get(name)) for name in TESTED_BY.values())


def test_quantity_on_hand_sums_the_items_stock(api: Api) -> None:
    backend = api.world.backend
    item = api.get("procurement/catalog").get_json()[0]
    other = api.get("procurement/catalog").get_json()[1]
    for parent, on_hand in ((item["id"], 3), (item["id"], 4), (other["id"], 50)):
        backend.insert_internal("procurement/catalog/inventory", {"_parentId": parent, "onHand": on_hand})
    answer = api.get(f"procurement/catalog/{item['identifier']}/quantityOnHand")
    assert answer.status_code == 200 and answer.get_json() == {"count": 7}
    assert api.get("procurement/catalog/NO-SUCH-ITEM/quantityOnHand").status_code == 404


# -- bundles ---------------------------------------------------------------------------------


def test_a_bundle_answers_each_read_on_its_own(api: Api) -> None:
    requests = [
        {"SequenceNumber": 1, "ResourceType": "Company", "ApiRequest": {"Filters": {"conditions": "id = 2"}}},
        {"sequenceNumber": 2, "resourceType": "ticket", "apiRequest": {"id": 99999}},
        {"sequenceNumber": 3, "resourceType": "nosuchmodel", "apiRequest": {}},
        {"sequenceNumber": 4, "resourceType": "member", "apiRequest": {"page": {"pageSize": 2}, "fields": "id"}},
        {"sequenceNumber": 5, "resourceType": "boardStatus", "apiRequest": {"parentId": 1}},
    ]
    answer = api.post("system/bundles", {"requests": requests})
    assert answer.status_code in (200, 201), answer.get_json()
    results = answer.get_json()["results"]
    assert [r["sequenceNumber"] for r in results] == [1, 2, 3, 4, 5]
    assert results[0]["success"] and [e["id"] for e in results[0]["entities"]] == [2]
    assert results[0]["entities"][0]["name"] == api.get("company/companies/2").get_json()["name"]
    assert results[1]["statusCode"] == 404 and results[1]["error"]["code"] == "NotFound"
    assert results[2]["statusCode"] == 400 and not results[2]["success"]
    assert results[3]["entities"] == [{"id": 1}, {"id": 2}]
    statuses = api.get("service/boards/1/statuses", query_string={"pageSize": 1000}).get_json()
    assert results[4]["success"], results[4]
    assert sorted(e["id"] for e in results[4]["entities"]) == sorted(s["id"] for s in statuses)
    counted = api.post("system/bundles/count", {"requests": requests[:1]}).get_json()["results"][0]
    assert counted["count"] == 1 and counted["entities"] == []
    assert api.post("system/bundles", {"requests": []}).status_code == 400
