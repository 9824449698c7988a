"""`cwsim verify`: a read-only probe of every list endpoint on a ConnectWise and on the fake, compared.

Each side answers the same GETs (the list paths of the schema index, a parent's first record
standing in for `{parentId}`): status, paging (`Link` rels), a header the fake does not send,
the count, and every field of the records (with its JSON type) are compared between the sides
and with the schema index's model. `--allow-writes` adds a write flow (writes.py) run on both.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import requests

from ..integration.connectwise import ApiKey, ConnectWiseClient, ConnectWiseError, Credentials
from ..simulator.connectwise.schema_index import model_fields, schema_index
from .capture import CAPTURED_PRIVATE_KEY, CAPTURED_PUBLIC_KEY
from .processes import ProcessFailed, cwsim_command, start

Progress = Callable[[str], None]
# Headers that say how this one answer travelled, not what the API is: never compared.
TRANSPORT_HEADERS = frozenset(
    {"date", "server", "content-length", "transfer-encoding", "connection", "keep-alive", "set-cookie"}
)
SCHEMA_TYPES = {"reference": "object", "map": "object", "datetime": "string"}
_LINK_REL = re.compile(r'rel="?([A-Za-z]+)"?')
PARENT = "/{parentId}"
MAX_DEPTH = 4  # nested objects compared this deep (field paths like board/_info/board_href)


class VerifyError(RuntimeError):
    """Verify cannot run; the message is one line for the user."""


@dataclass
class Answer:
    """What one side answered for one list endpoint."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    records: list[Any] = field(default_factory=list)
    count: int | None = None
    error: str = ""


@dataclass(frozen=True)
class Side:
    """One side of the comparison: a name and a client."""

    name: str
    client: ConnectWiseClient


def json_type(value: Any) -> str:
    """The JSON type of a value: null, boolean, integer, number, string, array or object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _compatible(first: set[str], second: set[str]) -> bool:
    """Whether two sets of types could be the same field's (an integral number reads as integer)."""
    widen = {"integer": "number"}
    return bool({widen.get(t, t) for t in first} & {widen.get(t, t) for t in second}) or not (first and second)


def field_types(records: Iterable[Any]) -> dict[str, set[str]]:
    """Every field path of the records (`board/name`, `items[]`) -> the JSON types seen there (nulls left out)."""
    found: dict[str, set[str]] = {}

    def walk(value: Any, path: str, depth: int) -> None:
        if isinstance(value, dict) and depth < MAX_DEPTH:
            for key, item in value.items():
                walk(item, f"{path}/{key}" if path else key, depth + 1)
            if path:
                found.setdefault(path, set()).add("object")
            return
        if value is None:
            found.setdefault(path, set())
            return
        found.setdefault(path, set()).add(json_type(value))
        if isinstance(value, list) and value and depth < MAX_DEPTH:
            walk(value[0], f"{path}[]", depth + 1)

    for record in records:
        if isinstance(record, dict):
            for key, value in record.items():
                walk(value, key, 1)
    return found


def link_rels(headers: dict[str, str]) -> set[str]:
    """The rels a `Link` header offers (next, prev, first, last)."""
    return {rel.lower() for rel in _LINK_REL.findall(headers.get("link", ""))}


def list_endpoints(only: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """(list paths verify probes, paths it cannot: they need ids it does not pick), filtered by `only` globs."""
    paths = schema_index()["paths"]
    patterns = [pattern.strip("/") for pattern in only]
    probed, skipped = [], []
    for path in sorted(paths):
        if "GET" not in paths[path].get("methods", []):
            continue
        if patterns and not any(fnmatch.fnmatch(path.strip("/"), pattern) for pattern in patterns):
            continue
        placeholders = re.findall(r"\{[^}]*\}", path)
        parent = path.split(PARENT, 1)[0]
        if not placeholders or (placeholders == ["{parentId}"] and parent in paths):
            probed.append(path)
        else:
            skipped.append(path)
    return probed, skipped


class Probe:
    """Reads the list endpoints on one side, a parent's first record standing in for `{parentId}`."""

    def __init__(self, side: Side, page_size: int) -> None:
        self.side = side
        self.page_size = page_size
        self._parents: dict[str, int | None] = {}
        self._lock = threading.Lock()

    def _get(self, path: str, params: dict[str, Any]) -> requests.Response:
        client = self.side.client
        return client.session.get(client.url(path.lstrip("/")), params=params, timeout=client.timeout)

    def parent_id(self, parent: str) -> int | None:
        with self._lock:
            if parent in self._parents:
                return self._parents[parent]
        try:
            response = self._get(parent, {"pageSize": 1, "orderBy": "id asc"})
            records = response.json() if response.status_code == 200 else []
            found = records[0].get("id") if isinstance(records, list) and records else None
        except (requests.RequestException, ValueError):
            found = None
        with self._lock:
            self._parents[parent] = found if isinstance(found, int) else None
        return self._parents[parent]

    def answer(self, path: str, has_count: bool) -> Answer:
        if PARENT in path:
            parent_id = self.parent_id(path.split(PARENT, 1)[0])
            if parent_id is None:
                return Answer(None, error="no parent record to list under")
            path = path.replace("{parentId}", str(parent_id))
        try:
            response = self._get(path, {"pageSize": self.page_size})
        except requests.RequestException as error:
            return Answer(None, error=f"no answer: {type(error).__name__}")
        answer = Answer(response.status_code, {name.lower(): value for name, value in response.headers.items()})
        if response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                return Answer(response.status_code, answer.headers, error="the body is not JSON")
            answer.records = body if isinstance(body, list) else [body]
            if has_count:
                answer.count = self._count(path)
        return answer

    def _count(self, path: str) -> int | None:
        try:
            response = self._get(f"{path.rstrip('/')}/count", {})
            value = response.json().get("count") if response.status_code == 200 else None
        except (requests.RequestException, ValueError, AttributeError):
            return None
        return value if isinstance(value, int) else None


def compare(endpoint: str, site: Answer, fake: Answer, model: str | None) -> list[dict[str, Any]]:
    """Every difference between the two sides' answers for one endpoint (and with the schema's model)."""
    found: list[dict[str, Any]] = []

    def add(kind: str, **detail: Any) -> None:
        found.append({"endpoint": endpoint, "kind": kind, **detail})

    if site.status != fake.status:
        add("status", site=site.status, fake=fake.status, detail=site.error or fake.error or "")
        return found
    if site.status is None or not 200 <= site.status < 300:
        return found
    for name in sorted(set(site.headers) - set(fake.headers) - TRANSPORT_HEADERS):
        add("header", field=name, site=site.headers[name], fake=None)
    if link_rels(site.headers) != link_rels(fake.headers):
        add("paging", site=sorted(link_rels(site.headers)), fake=sorted(link_rels(fake.headers)))
    if site.count != fake.count:
        add("count", site=site.count, fake=fake.count)
    if len(site.records) != len(fake.records):
        add("page", site=len(site.records), fake=len(fake.records))
    site_fields, fake_fields = field_types(site.records), field_types(fake.records)
    if site.records and fake.records:
        for name in sorted(set(site_fields) - set(fake_fields)):
            add("missing-field", field=name, site=sorted(site_fields[name]), fake=None)
        for name in sorted(set(fake_fields) - set(site_fields)):
            add("extra-field", field=name, site=None, fake=sorted(fake_fields[name]))
        for name in sorted(set(site_fields) & set(fake_fields)):
            if not _compatible(site_fields[name], fake_fields[name]):
                add("type", field=name, site=sorted(site_fields[name]), fake=sorted(fake_fields[name]))
    declared = model_fields(model) if model else {}
    if declared:
        for side, fields in (("site", site_fields), ("fake", fake_fields)):
            for name, types in sorted(fields.items()):
                if "/" in name or "[" in name or name == "_info":
                    continue
                spec = declared.get(name)
                if spec is None:
                    add("schema-unknown-field", field=name, side=side, types=sorted(types))
                    continue
                expected = SCHEMA_TYPES.get(spec.get("t", ""), spec.get("t", ""))
                if expected and not _compatible(types, {expected}):
                    add("schema-type", field=name, side=side, types=sorted(types), schema=expected)
    return found


def report_lines(report: dict[str, Any]) -> list[str]:
    """The report as text: a summary line, then each endpoint's differences."""
    differences = report["differences"]
    lines = [
        f"verify: {report['site']} against {report['fake']}",
        f"{report['probed']} list endpoints probed, {report['readable']} readable on both sides, "
        f"{len(report['skipped'])} not probed (they need ids), {_plural(len(differences), 'difference')}",
    ]
    by_endpoint: dict[str, list[dict[str, Any]]] = {}
    for difference in differences:
        by_endpoint.setdefault(difference["endpoint"], []).append(difference)
    for endpoint, items in by_endpoint.items():
        lines.append(endpoint)
        for item in items:
            lines.append(f"  {item['kind']:<22} {_describe(item)}")
    return lines


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _describe(item: dict[str, Any]) -> str:
    kind = item["kind"]
    name = item.get("field", "")
    if kind == "missing-field":
        return f"{name}: the site sends it ({'/'.join(item['site'])}), the fake does not"
    if kind == "extra-field":
        return f"{name}: the fake sends it ({'/'.join(item['fake'])}), the site does not"
    if kind == "type":
        return f"{name}: site {'/'.join(item['site'])}, fake {'/'.join(item['fake'])}"
    if kind == "header":
        return f"{name}: the fake does not send it (site: {item['site'][:60]!r})"
    if kind == "schema-unknown-field":
        return f"{name}: the {item['side']} sends a field the schema does not declare"
    if kind == "schema-type":
        return f"{name}: the {item['side']} sends {'/'.join(item['types'])}, the schema says {item['schema']}"
    detail = f" ({item['detail']})" if item.get("detail") else ""
    return f"site {item.get('site')}, fake {item.get('fake')}{detail}"


def probe_all(
    site: Side, fake: Side, only: Iterable[str], page_size: int, concurrency: int, progress: Progress
) -> dict[str, Any]:
    """Probe every list endpoint on both sides (at most `concurrency` at once) and compare them."""
    paths, skipped = list_endpoints(only)
    index = schema_index()["paths"]
    probes = Probe(site, page_size), Probe(fake, page_size)
    done = 0
    lock = threading.Lock()

    def one(path: str) -> tuple[str, Answer, Answer]:
        nonlocal done
        has_count = bool(index[path].get("count"))
        answers = [probe.answer(path, has_count) for probe in probes]
        with lock:
            done += 1
            if done % 50 == 0 or done == len(paths):
                progress(f"{done}/{len(paths)} endpoints")
        return path, answers[0], answers[1]

    differences: list[dict[str, Any]] = []
    readable = 0
    unreadable: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for path, site_answer, fake_answer in pool.map(one, paths):
            endpoint = path.strip("/")
            if site_answer.status == fake_answer.status == 200:
                readable += 1
            elif site_answer.status == fake_answer.status:
                unreadable.append(endpoint)
            differences.extend(compare(endpoint, site_answer, fake_answer, index[path].get("item")))
    return {
        "probed": len(paths),
        "readable": readable,
        "unreadable": unreadable,
        "skipped": [path.strip("/") for path in skipped],
        "differences": differences,
    }


def verify(
    site_url: str,
    credentials: Credentials,
    client_id: str,
    *,
    tenant: str | None = None,
    fake: str | None = None,
    fake_keys: tuple[str | None, str | None] = (None, None),
    only: Iterable[str] = (),
    page_size: int = 25,
    concurrency: int = 8,
    sandbox_company: str | None = None,
    progress: Progress = lambda line: None,
) -> dict[str, Any]:
    """Compare a ConnectWise with the fake (started with `tenant`, or running at `fake`); the report as JSON data."""
    with ExitStack() as stack:
        try:
            site_client = stack.enter_context(ConnectWiseClient.for_site(site_url, credentials, client_id))
            fake_client = stack.enter_context(_fake_client(stack, credentials, client_id, tenant, fake, fake_keys))
        except ConnectWiseError as error:
            raise VerifyError(f"cannot reach {error.url or site_url}: {error.message}") from error
        progress(f"site {site_client.api_url}, fake {fake_client.api_url}")
        site, fake_side = Side("site", site_client), Side("fake", fake_client)
        report = {"site": site_client.api_url, "fake": fake_client.api_url}
        report.update(probe_all(site, fake_side, only, page_size, concurrency, progress))
        if sandbox_company is not None:
            from .verify_writes import write_flow  # it builds on this module: imported when asked for

            writes = write_flow(site, fake_side, sandbox_company, progress)
            report["writes"] = writes["steps"]
            report["differences"].extend(writes["differences"])
        return report


def _fake_client(
    stack: ExitStack,
    credentials: Credentials,
    client_id: str,
    tenant: str | None,
    fake: str | None,
    fake_keys: tuple[str | None, str | None],
) -> ConnectWiseClient:
    if fake is not None:
        public, private = fake_keys
        keys = ApiKey(credentials.company_id, public or CAPTURED_PUBLIC_KEY, private or CAPTURED_PRIVATE_KEY)
        return ConnectWiseClient.for_site(fake, keys, client_id)
    assert tenant is not None
    command = cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--tenant", tenant)
    try:
        served = start("verify-fake", command)
    except ProcessFailed as error:
        raise VerifyError(f"the fake did not start with {tenant}: {_first_problem(str(error))}") from error
    stack.callback(served.stop)
    facts = served.facts
    keys = ApiKey(facts["companyId"], facts["publicKey"], facts["privateKey"])
    return ConnectWiseClient(facts["api_url"], keys, client_id)


def _first_problem(text: str) -> str:
    """The line of a failed start's output that says what is wrong (a tenant file's first problem)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if ": " in line and not line.startswith(("verify-fake", "cwsim serve:")):
            return line
    return lines[-1] if lines else text
