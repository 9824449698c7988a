"""`cwsim verify --allow-writes`: the same write flow on the ConnectWise and on the fake, every answer compared.

A ticket with a note, patched, closed and deleted; a configuration attached to an agreement that
gets an addition, then all removed again. Everything is made on the sandbox company, found by its
identifier on both sides, and what a side created is deleted even when a later step fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from .verify import Answer, Side, compare

Progress = Callable[[str], None]
SUMMARY = "cwsim verify write flow"


class FlowStopped(Exception):
    """A step of the flow failed on this side; the steps after it cannot run."""


@dataclass
class Flow:
    """One side's run of the write flow: each step's answer, and what to delete at the end."""

    side: Side
    steps: dict[str, Answer] = field(default_factory=dict)
    cleanup: list[str] = field(default_factory=list)  # paths to DELETE, last made first

    def call(self, step: str, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        client = self.side.client
        try:
            response = client.session.request(
                method, client.url(path), json=body, params=params, timeout=client.timeout
            )
        except requests.RequestException as error:
            self.steps[step] = Answer(None, error=f"no answer: {type(error).__name__}")
            raise FlowStopped(step) from error
        try:
            parsed = response.json() if response.content else None
        except ValueError:
            parsed = None
        headers = {name.lower(): value for name, value in response.headers.items()}
        records = [parsed] if isinstance(parsed, dict) else (parsed if isinstance(parsed, list) else [])
        self.steps[step] = Answer(response.status_code, headers, records, None)
        if not response.ok:
            raise FlowStopped(step)
        return parsed

    def first(self, step: str, path: str, conditions: str | None = None) -> dict[str, Any]:
        params = {"pageSize": 1, "orderBy": "id asc", **({"conditions": conditions} if conditions else {})}
        found = self.call(step, "GET", path, params=params)
        if not found:
            self.steps[step].error = f"nothing found at {path}"
            raise FlowStopped(step)
        return found[0]


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_flow(flow: Flow, company_identifier: str, names: dict[str, str]) -> None:
    """The flow on one side; `names` picks the same board, types and product on both (by the site's names)."""
    company = flow.first("find the company", "company/companies", f"identifier={_quoted(company_identifier)}")
    board = flow.first("find the board", "service/boards", f"name={_quoted(names['board'])}")
    closed = flow.first("find a closed status", f"service/boards/{board['id']}/statuses", "closedStatus=true")
    ticket = flow.call(
        "create a ticket",
        "POST",
        "service/tickets",
        {"summary": SUMMARY, "company": {"id": company["id"]}, "board": {"id": board["id"]}},
    )
    flow.cleanup.append(f"service/tickets/{ticket['id']}")
    flow.call(
        "add a note",
        "POST",
        f"service/tickets/{ticket['id']}/notes",
        {"text": "Added by cwsim verify.", "detailDescriptionFlag": True},
    )
    patch = [{"op": "replace", "path": "summary", "value": SUMMARY + " (patched)"}]
    flow.call("patch the ticket", "PATCH", f"service/tickets/{ticket['id']}", patch)
    close = [{"op": "replace", "path": "status", "value": {"id": closed["id"]}}]
    flow.call("close the ticket", "PATCH", f"service/tickets/{ticket['id']}", close)
    flow.call("delete the ticket", "DELETE", f"service/tickets/{ticket['id']}")
    flow.cleanup.remove(f"service/tickets/{ticket['id']}")

    config_type = flow.first("find the configuration type", "company/configurations/types", _named(names, "type"))
    agreement_type = flow.first("find the agreement type", "finance/agreements/types", _named(names, "agreement"))
    product = flow.first("find the product", "procurement/catalog", f"identifier={_quoted(names['product'])}")
    contact = flow.first("find a contact", "company/contacts", f"company/id={company['id']}")
    configuration = flow.call(
        "create a configuration",
        "POST",
        "company/configurations",
        {"name": "cwsim-verify", "type": {"id": config_type["id"]}, "company": {"id": company["id"]}},
    )
    flow.cleanup.append(f"company/configurations/{configuration['id']}")
    agreement = flow.call(
        "create an agreement",
        "POST",
        "finance/agreements",
        {
            "name": "cwsim verify agreement",
            "type": {"id": agreement_type["id"]},
            "company": {"id": company["id"]},
            "contact": {"id": contact["id"]},
            "startDate": "2026-01-01T00:00:00Z",
        },
    )
    flow.cleanup.insert(0, f"finance/agreements/{agreement['id']}")
    agreement_path = f"finance/agreements/{agreement['id']}"
    flow.call("attach the configuration", "POST", f"{agreement_path}/configurations", {"id": configuration["id"]})
    addition = flow.call(
        "add an addition",
        "POST",
        f"{agreement_path}/additions",
        {"product": {"id": product["id"]}, "billCustomer": "Billable", "quantity": 1},
    )
    flow.call("delete the addition", "DELETE", f"{agreement_path}/additions/{addition['id']}")
    flow.call("detach the configuration", "DELETE", f"{agreement_path}/configurations/{configuration['id']}")


def _named(names: dict[str, str], key: str) -> str:
    return f"name={_quoted(names[key])}"


def _clean_up(flow: Flow) -> None:
    """Delete what the flow made (best effort: a record already gone is fine)."""
    client = flow.side.client
    for path in reversed(flow.cleanup):
        try:
            client.session.delete(client.url(path), timeout=client.timeout)
        except requests.RequestException:
            continue


def names_on_site(site: Side, sandbox_company: str) -> tuple[str, dict[str, str]]:
    """The sandbox company's identifier and the names of the board, types and product both flows use."""
    probe = Flow(site)
    if sandbox_company.isdigit():
        company = probe.call("find the company", "GET", f"company/companies/{sandbox_company}")
    else:
        company = probe.first("find the company", "company/companies", f"identifier={_quoted(sandbox_company)}")
    names = {
        "board": probe.first("find the board", "service/boards")["name"],
        "type": probe.first("find the configuration type", "company/configurations/types")["name"],
        "agreement": probe.first("find the agreement type", "finance/agreements/types")["name"],
        "product": probe.first("find the product", "procurement/catalog")["identifier"],
    }
    return company["identifier"], names


def write_flow(site: Side, fake: Side, sandbox_company: str, progress: Progress) -> dict[str, Any]:
    """Run the flow on both sides and compare each step's answers; {"steps": [...], "differences": [...]}."""
    try:
        identifier, names = names_on_site(site, sandbox_company)
    except FlowStopped as stopped:
        return {"steps": [], "differences": [{"endpoint": f"write: {stopped}", "kind": "setup", "site": None}]}
    flows = [Flow(site), Flow(fake)]
    for flow in flows:
        progress(f"write flow on the {flow.side.name} (company {identifier})")
        try:
            run_flow(flow, identifier, names)
        except FlowStopped:
            pass
        finally:
            _clean_up(flow)
    site_flow, fake_flow = flows
    steps, differences = [], []
    for step in dict.fromkeys([*site_flow.steps, *fake_flow.steps]):
        site_answer = site_flow.steps.get(step) or Answer(None, error="not reached")
        fake_answer = fake_flow.steps.get(step) or Answer(None, error="not reached")
        steps.append({"step": step, "site": site_answer.status, "fake": fake_answer.status})
        differences.extend(compare(f"write: {step}", site_answer, fake_answer, None))
    return {"steps": steps, "differences": differences}
