"""A replay file of real-shaped ConnectWise answers, made from django-connectwise's test fixtures.

django-connectwise's `djconnectwise/tests/fixtures.py` holds copies of real ConnectWise responses.
This turns its list responses into the exchanges `cwsim verify` asks for (each list with `pageSize`,
a parent's first record with `pageSize=1&orderBy=id asc`, `/count` where the schema has one), so
`cwsim serve --replay FILE` stands in for "the real ConnectWise" on the endpoints the fixtures cover.

    python tests/djcw/fixture_replay.py path/to/djconnectwise/tests/fixtures.py tests/djcw/fixtures-replay.json
    python tests/djcw/fixture_replay.py --endpoints    # the list paths it covers, one a line
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

from cwsim.scenarios.verify import PARENT, list_endpoints
from cwsim.simulator.connectwise.schema_index import schema_index

PAGE_SIZE = 25  # verify's default --page-size: the replay's strict stubs match only that
COMPANY_INFO = "API_COMPANY_INFO"
FAKE_COMPANY = "cwsim"  # the company id of a generated tenant (`cwsim serve --companies N`)
# verify's list path -> the fixture holding a real answer for it (names as django-connectwise 1.31.0 has them).
FIXTURE_LISTS = {
    "company/companies": "API_COMPANY_LIST",
    "company/companies/statuses": "API_COMPANY_STATUS_LIST",
    "company/companies/types": "API_COMPANY_TYPES_LIST",
    "company/companies/{parentId}/sites": "API_COMPANY_SITE_LIST",
    "company/companies/{parentId}/teams": "API_COMPANY_TEAM_LIST",
    "company/contacts": "API_COMPANY_CONTACT_LIST",
    "company/contacts/types": "API_CONTACT_TYPE_LIST",
    "company/contacts/{parentId}/communications": "API_CONTACT_COMMUNICATION_LIST",
    "company/communicationTypes": "API_COMMUNICATION_TYPE_LIST",
    "company/noteTypes": "API_COMPANY_NOTE_TYPE_LIST",
    "company/teamRoles": "API_COMPANY_TEAM_ROLE_LIST",
    "company/configurations/types": "API_CONFIGURATION_TYPES",
    "company/configurations/statuses": "API_CONFIGURATION_STATUS",
    "finance/agreements": "API_AGREEMENT_LIST",
    "finance/agreements/types": "API_AGREEMENT_TYPE_LIST",
    "project/projects": "API_PROJECT_LIST",
    "project/projects/{parentId}/phases": "API_PROJECT_PHASE_LIST",
    "project/projects/{parentId}/teamMembers": "API_PROJECT_TEAM_MEMBER_LIST",
    "project/statuses": "API_PROJECT_STATUSES",
    "project/phaseStatuses": "API_PROJECT_PHASE_STATUSES",
    "project/projectTypes": "API_PROJECT_TYPES",
    "project/securityRoles": "API_PROJECT_ROLE",
    "project/tickets": "API_PROJECT_TICKET_LIST",
    "sales/opportunities": "API_SALES_OPPORTUNITIES",
    "sales/opportunities/types": "API_SALES_OPPORTUNITY_TYPES",
    "sales/opportunities/statuses": "API_SALES_OPPORTUNITY_STATUSES",
    "sales/opportunities/{parentId}/notes": "API_SALES_OPPORTUNITY_NOTE_LIST",
    "sales/probabilities": "API_SALES_PROBABILITY_LIST",
    "sales/stages": "API_SALES_OPPORTUNITY_STAGES",
    "sales/activities": "API_SALES_ACTIVITIES",
    "sales/activities/statuses": "API_SALES_ACTIVITY_STATUSES",
    "sales/activities/types": "API_SALES_ACTIVITY_TYPES",
    "schedule/entries": "API_SCHEDULE_ENTRIES",
    "schedule/types": "API_SCHEDULE_TYPE_LIST",
    "schedule/statuses": "API_SCHEDULE_STATUS_LIST",
    "schedule/calendars": "API_SCHEDULE_CALENDAR_LIST",
    "schedule/holidayLists": "API_SCHEDULE_HOLIDAY_LIST_LIST",
    "schedule/holidayLists/{parentId}/holidays": "API_SCHEDULE_HOLIDAY_MODEL_LIST",
    "service/boards": "API_BOARD_LIST",
    "service/boards/{parentId}/statuses": "API_BOARD_STATUS_LIST",
    "service/boards/{parentId}/teams": "API_SERVICE_TEAM_LIST",
    "service/boards/{parentId}/types": "API_TYPE_LIST",
    "service/boards/{parentId}/subtypes": "API_SUBTYPE_LIST",
    "service/boards/{parentId}/items": "API_ITEM_LIST",
    "service/boards/{parentId}/typeSubTypeItemAssociations": "API_TYPE_SUBTYPE_ITEM_ASSOCIATION_LIST",
    "service/tickets": "API_SERVICE_TICKET_LIST",
    "service/tickets/{parentId}/notes": "API_SERVICE_NOTE_LIST",
    "service/priorities": "API_SERVICE_PRIORITY_LIST",
    "service/locations": "API_SERVICE_LOCATION_LIST",
    "service/sources": "API_SOURCE_LIST",
    "service/SLAs": "API_SERVICE_SLA_LIST",
    "service/SLAs/{parentId}/priorities": "API_SERVICE_SLA_PRIORITY_LIST",
    "system/members": "API_MEMBER_LIST",
    "system/locations": "API_SYSTEM_LOCATION_LIST",
    "system/departments": "API_DEPARTMENT_LIST",
    "system/standardNotes": "API_STANDARD_NOTE_LIST",
    "system/myCompany/other": "API_SYSTEM_OTHER_LIST",
    "system/connectwisehostedsetups": "API_HOSTED_SETUPS",
    "time/entries": "API_TIME_ENTRY_LIST",
    "time/workRoles": "API_WORK_ROLE_LIST",
    "time/workTypes": "API_WORK_TYPE_LIST",
}
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class FixtureError(ValueError):
    """The fixtures file is not what this expects; the message names the name or statement."""


def read_fixtures(path: Path) -> dict[str, Any]:
    """The fixtures module's data, without running it: each `NAME = literal` (names of earlier ones allowed).

    Statements that are not plain data (imports, `len(...)`) are left out.
    """
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    found: dict[str, Any] = {}
    for statement in tree.body:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
            continue
        target = statement.targets[0]
        if not isinstance(target, ast.Name):
            continue
        try:
            found[target.id] = _data(statement.value, found)
        except FixtureError:
            continue
    return found


def _data(node: ast.expr, known: dict[str, Any]) -> Any:
    """A literal, a container of them, an earlier name, `name[key]` or `a + b`; FixtureError for anything else."""
    if isinstance(node, ast.Name):
        if node.id not in known:
            raise FixtureError(f"unknown name {node.id}")
        return known[node.id]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_data(item, known) for item in node.elts]
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise FixtureError("a ** in a dict")
        return {_data(key, known): _data(value, known) for key, value in zip(node.keys, node.values, strict=True)}  # type: ignore[arg-type]
    if isinstance(node, ast.Subscript):
        return _data(node.value, known)[_data(node.slice, known)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # 'https://...' + 'apis/3.0/...'
        return _data(node.left, known) + _data(node.right, known)
    try:
        return ast.literal_eval(node)
    except ValueError as error:
        raise FixtureError(f"not data: {ast.dump(node)[:60]}") from error


def _exchange(path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"method": "GET", "path": path}
    if query:
        request["query"] = query
    request["headers"] = {}
    return {"request": request, "response": {"status": 200, "headers": dict(JSON_HEADERS), "json": body}}


def _first_by_id(records: list[Any]) -> Any:
    return min(records, key=lambda record: record.get("id", 0))


def build_exchanges(fixtures: dict[str, Any], page_size: int = PAGE_SIZE) -> tuple[str, list[dict[str, Any]]]:
    """(the company id, the exchanges verify's requests meet) from the fixtures' data."""
    info = fixtures[COMPANY_INFO]
    company = info["CompanyID"]
    api = f"/{info['Codebase'].strip('/')}/apis/3.0/"
    # Also answered for the company id `cwsim serve` generates, so one --company serves both sides of verify.
    exchanges = [_exchange(f"/login/companyinfo/{name}", {}, info) for name in (company, FAKE_COMPANY)]
    index = schema_index()["paths"]
    probed, _ = list_endpoints()
    served = {path.strip("/") for path in probed}
    for endpoint, name in FIXTURE_LISTS.items():
        if endpoint not in served:
            raise FixtureError(f"{endpoint}: verify does not probe it")
        records = fixtures[name]
        if not isinstance(records, list) or not records:
            raise FixtureError(f"{name}: expected a list of records")
        path = endpoint
        if PARENT in f"/{endpoint}":
            parent = endpoint.split("/{parentId}", 1)[0]
            first = _first_by_id(fixtures[FIXTURE_LISTS[parent]])
            exchanges.append(_exchange(api + parent, {"pageSize": "1", "orderBy": "id asc"}, [first]))
            path = endpoint.replace("{parentId}", str(first["id"]))
        exchanges.append(_exchange(api + path, {"pageSize": str(page_size)}, records[:page_size]))
        if index[f"/{endpoint}"].get("count"):
            exchanges.append(_exchange(f"{api}{path}/count", {}, {"count": len(records)}))
    return company, _unique(exchanges)


def _unique(exchanges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each request once (a parent lookup is the same for all its children)."""
    seen: set[str] = set()
    kept = []
    for item in exchanges:
        key = repr((item["request"]["path"], sorted(item["request"].get("query", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def write_replay(fixtures_file: Path, out: Path, page_size: int = PAGE_SIZE) -> str:
    """Write the replay file for a fixtures file; the company id the fixtures' site answers for."""
    company, exchanges = build_exchanges(read_fixtures(fixtures_file), page_size)
    head = {"upstream": "django-connectwise test fixtures", "started": "", "exchanges": len(exchanges)}
    lines = [json.dumps(item, separators=(",", ":"), ensure_ascii=False) for item in exchanges]
    # One compact exchange a line: a third of indented JSON's size, and a diff shows which answer changed.
    out.write_text(
        '{"recording":' + json.dumps(head) + ',\n"exchanges":[\n' + ",\n".join(lines) + "\n]}\n", encoding="utf-8"
    )
    return company


def main(argv: list[str]) -> int:
    if argv == ["--endpoints"]:  # the list paths the file covers, for verify's --only
        print("\n".join(FIXTURE_LISTS))
        return 0
    if len(argv) != 2:
        print("usage: fixture_replay.py FIXTURES_PY OUT.json | --endpoints", file=sys.stderr)
        return 2
    try:
        company = write_replay(Path(argv[0]), Path(argv[1]))
    except (OSError, SyntaxError, KeyError, FixtureError) as error:
        print(f"fixture_replay: {error}", file=sys.stderr)
        return 1
    print(f"wrote {argv[1]} (company {company})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
