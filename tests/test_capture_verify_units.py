"""verify's comparison of two answers for one endpoint (each kind of difference, and nothing else), and capture's
treatment of single records; no server needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cwsim.scenarios import capture_commands
from cwsim.scenarios.capture import Capture, CaptureReport, is_secret_field
from cwsim.scenarios.cli import main
from cwsim.scenarios.verify import Answer, compare, field_types, list_endpoints, report_lines

BOARD = {"id": 1, "name": "Help Desk", "inactiveFlag": False, "location": {"id": 1, "name": "Main"}}
HEADERS = {"content-type": "application/json", "link": '<http://x/y?page=2>; rel="next"', "date": "today"}


def answer(records: list[dict], headers: dict[str, str] | None = None, status: int = 200, count: int = 1) -> Answer:
    return Answer(status, dict(HEADERS if headers is None else headers), records, count)


def kinds(site: Answer, fake: Answer, model: str | None = None) -> list[tuple[str, str | None]]:
    return [(d["kind"], d.get("field")) for d in compare("service/boards", site, fake, model)]


def test_the_same_answers_have_no_difference_and_the_model_knows_every_field() -> None:
    assert compare("service/boards", answer([BOARD]), answer([dict(BOARD)]), "Board") == []


def test_a_field_the_fake_drops_is_missing_and_one_it_adds_is_extra() -> None:
    fake_board = {key: value for key, value in BOARD.items() if key != "inactiveFlag"} | {"color": "red"}
    assert kinds(answer([BOARD]), answer([fake_board])) == [("missing-field", "inactiveFlag"), ("extra-field", "color")]


def test_nested_fields_are_compared_by_path() -> None:
    fake_board = dict(BOARD, location={"id": 1})
    assert kinds(answer([BOARD]), answer([fake_board])) == [("missing-field", "location/name")]


def test_a_type_that_differs_is_reported_but_an_integral_number_is_not() -> None:
    assert kinds(answer([BOARD]), answer([dict(BOARD, inactiveFlag="false")])) == [("type", "inactiveFlag")]
    assert kinds(answer([{"id": 1, "price": 2.5}]), answer([{"id": 1, "price": 2}])) == []


def test_a_status_that_differs_is_reported_alone() -> None:
    found = compare("service/boards", answer([BOARD]), answer([], status=403), None)
    assert found == [{"endpoint": "service/boards", "kind": "status", "site": 200, "fake": 403, "detail": ""}]


def test_a_header_the_fake_does_not_send_and_paging_rels_that_differ() -> None:
    fake_headers = {"content-type": "application/json"}
    found = kinds(answer([BOARD], {**HEADERS, "x-request-id": "1"}), answer([BOARD], fake_headers))
    assert found == [("header", "link"), ("header", "x-request-id"), ("paging", None)]
    assert kinds(answer([BOARD], {**HEADERS, "server": "IIS"}), answer([BOARD], HEADERS)) == []  # transport headers


def test_counts_and_page_lengths() -> None:
    assert kinds(answer([BOARD, BOARD], count=2), answer([BOARD], count=1)) == [("count", None), ("page", None)]


def test_fields_the_schema_does_not_declare_or_types_it_does_not_say() -> None:
    site_board = dict(BOARD, madeUp=1)
    fake_board = dict(BOARD, madeUp=1, name=5)
    found = kinds(answer([site_board]), answer([fake_board]), "Board")
    assert found == [
        ("type", "name"),
        ("schema-unknown-field", "madeUp"),
        ("schema-unknown-field", "madeUp"),
        ("schema-type", "name"),
    ]


def test_field_types_walks_objects_and_lists() -> None:
    types = field_types([{"a": {"b": None, "c": [{"d": 1}]}, "e": True}])
    assert types == {"a": {"object"}, "a/b": set(), "a/c": {"array"}, "a/c[]": {"object"}, "a/c[]/d": {"integer"},
                     "e": {"boolean"}}  # fmt: skip


def test_list_endpoints_filters_and_sets_aside_paths_that_need_ids() -> None:
    probed, skipped = list_endpoints(["service/boards*"])
    assert "/service/boards" in probed and "/service/boards/{parentId}/statuses" in probed
    assert "/service/boards/{grandparentId}/items/{parentId}/associations" in skipped
    everything, _ = list_endpoints()
    assert len(everything) > 400


def test_the_text_report_groups_differences_by_endpoint() -> None:
    report = {
        "site": "https://site/apis/3.0/",
        "fake": "http://127.0.0.1:1/apis/3.0/",
        "probed": 2,
        "readable": 2,
        "skipped": [],
        "differences": compare("service/boards", answer([BOARD]), answer([dict(BOARD, inactiveFlag="no")]), None),
    }
    assert report_lines(report) == [
        "verify: https://site/apis/3.0/ against http://127.0.0.1:1/apis/3.0/",
        "2 list endpoints probed, 2 readable on both sides, 0 not probed (they need ids), 1 difference",
        "service/boards",
        "  type                   inactiveFlag: site boolean, fake string",
    ]


# -- capture's treatment of one record (no server: a client answering canned lists) -------------------


class CannedClient:
    """Answers `iterate` from canned lists by path (every other path is empty) and `get("system/info")`."""

    page_size = 1000

    def __init__(self, lists: dict[str, list[dict]]) -> None:
        self.lists = lists

    def iterate(self, path: str, **options: object) -> Iterator[dict]:
        yield from self.lists.get(path, [])

    def get(self, path: str) -> dict:
        return {"version": "v2025.1.1"}


def test_capture_keeps_references_to_captured_records_and_drops_the_others() -> None:
    companies = [{"id": 7, "identifier": "Near", "name": "Near Co", "_info": {"lastUpdated": "x"}}]
    catalog = [
        {"id": 1, "identifier": "P-NEAR", "description": "d", "vendor": {"id": 7, "identifier": "Near"}},
        {"id": 2, "identifier": "P-FAR", "description": "d", "vendor": {"id": 99, "identifier": "FarAway"}},
    ]
    members = [{"id": 3, "identifier": "api", "firstName": "A", "lastName": "B", "licenseClass": "X"}]
    client = CannedClient({"company/companies": companies, "procurement/catalog": catalog, "system/members": members})
    run = Capture(client, "acme", {"Codebase": "v2025_1/"}, companies=1)  # type: ignore[arg-type]
    document = run.run()
    assert document["catalog"][0]["vendor"] == {"identifier": "Near"}
    assert "vendor" not in document["catalog"][1]
    assert run.report.dropped == {"procurement/catalog": {"vendor"}}
    assert document["companies"] == [{"identifier": "Near", "name": "Near Co"}]  # no id, no _info
    assert document["settings"]["apiKeys"][0]["member"] == "api"


def test_secret_fields_are_text_named_like_a_secret() -> None:
    assert is_secret_field("password", "x") and is_secret_field("privateKey", "x")
    assert not is_secret_field("timebasedOneTimePasswordActivated", False)
    assert not is_secret_field("name", "password")


def test_capture_says_which_entries_the_fake_would_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document = {
        "settings": {"companyId": "acme", "apiKeys": [{"publicKey": "a", "privateKey": "b", "member": "api"}]},
        "members": [{"identifier": "api", "firstName": "A", "lastName": "B", "licenseClass": "X"}],
        "priorities": [{"name": "P1", "color": "Red"}, {"name": "Odd", "color": "Red", "notAField": 1}],
    }
    monkeypatch.setattr(capture_commands, "capture", lambda *arguments, **options: (document, CaptureReport()))
    out = tmp_path / "acme.yaml"
    arguments = ["capture", "--site", "http://127.0.0.1:9", "--company", "acme", "--out", str(out)]
    code = main([*arguments, "--public-key", "p", "--private-key", "q", "--client-id", "c"])
    stderr = capsys.readouterr().err
    assert code == 1 and out.exists()
    assert "the fake refuses 1 of the file's entries" in stderr
    assert f"{out}:" in stderr and 'priorities[1] ("Odd"): notAField: unknown field' in stderr, stderr

    document["priorities"].pop()  # negative control: the same capture without the odd entry is fine
    assert main([*arguments, "--public-key", "p", "--private-key", "q", "--client-id", "c"]) == 0


@pytest.mark.parametrize("site", ["ftp://example.com", "https://example.com:99999", "https://"])
def test_a_site_that_is_not_one_is_a_usage_error_not_a_traceback(site: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["capture", "--site", site, "--company", "x", "--out", "unused.yaml"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "is not a site" in err and "Traceback" not in err
