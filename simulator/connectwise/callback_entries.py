"""What a `system/callbacks` registration is: a loopback URL, a record type and a level; which writes it
watches, and the body ConnectWise POSTs for one. No HTTP here (simulator/callbacks.py delivers)."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import FieldProblem, invalid_object
from .model import Record, WriteContext

if TYPE_CHECKING:
    from .backend import Backend

CALLBACKS = "system/callbacks"
LOOPBACK = "127.0.0.1"
# A callback's `type` -> the tables whose records it reports (ConnectWise's callback types).
TYPE_TABLES: dict[str, tuple[str, ...]] = {
    "ticket": ("service/tickets", "project/tickets"),
    "company": ("company/companies",),
    "contact": ("company/contacts",),
    "schedule": ("schedule/entries",),
    "activity": ("sales/activities",),
    "opportunity": ("sales/opportunities",),
    "project": ("project/projects",),
    "agreement": ("finance/agreements",),
    "configuration": ("company/configurations",),
    "member": ("system/members",),
    "invoice": ("finance/invoices",),
    "purchaseorder": ("procurement/purchaseorders",),
    "productcatalog": ("procurement/catalog",),
    "time": ("time/entries",),
    "expense": ("expense/entries",),
}
ACTIONS = {"insert": "added", "update": "updated", "delete": "deleted"}


def callback_url_on_loopback(ctx: WriteContext) -> None:
    """A rule of `system/callbacks`: the fake calls back only to 127.0.0.1, and only a type it reports."""
    url = ctx.record.get("url") or ""
    parts = urlsplit(url)
    problems = []
    if parts.scheme not in ("http", "https") or parts.hostname != LOOPBACK:
        problems.append(FieldProblem("url", f"The fake calls back only to http://{LOOPBACK}:<port>/..., not {url!r}."))
    kind = str(ctx.record.get("type") or "").casefold()
    if kind not in TYPE_TABLES:
        known = ", ".join(sorted(TYPE_TABLES))
        problems.append(FieldProblem("type", f"type must be one of {known}, not {ctx.record.get('type')!r}."))
    if problems:
        raise invalid_object("callbackEntry", problems)


def watches(callback: Record, table: str, record: Record) -> bool:
    """Whether a registration reports a write of `record` in `table`: its type names the table, and its level
    (`owner`: all; the type itself: one record; `board`, `status`, `company`...: records pointing there) fits."""
    if callback.get("inactiveFlag"):
        return False
    kind = str(callback.get("type") or "").casefold()
    if table not in TYPE_TABLES.get(kind, ()):
        return False
    level = str(callback.get("level") or "owner").casefold()
    if level == "owner":
        return True
    wanted = callback.get("objectId")
    if level == kind:
        return record.get("id") == wanted
    value = next((v for name, v in record.items() if name.casefold() == level), None)
    return value == wanted


def callback_body(
    backend: Backend,
    callback: Record,
    action: str,
    table: str,
    record: Record,
    rendered: dict[str, Any] | None,
    base_url: str,
) -> dict[str, Any]:
    """The POST body ConnectWise sends: who and what changed, the record itself as a JSON string in `Entity`."""
    return {
        "MessageId": str(uuid.uuid4()),
        "FromUrl": base_url.split("/", 3)[2] if "://" in base_url else base_url,
        "CompanyId": backend.settings.company_id,
        "MemberId": record.get("_updatedBy") or record.get("_enteredBy"),
        "Action": action,
        "Type": callback.get("type"),
        "ID": record["id"],
        "ProductInstanceId": None,
        "PartnerId": None,
        "Entity": json.dumps(rendered) if rendered is not None else None,
        "Metadata": {"key_url": f"{base_url}/{table}/{record['id']}"},
        "CallbackObjectRecId": callback["id"],
    }


def delivery_url(callback: Record, record_id: int) -> str:
    """Where to POST: a URL ending in `=` (`.../callback?id=`) gets the record's id appended, as registered by
    clients that read it from the query string."""
    url = str(callback["url"])
    return f"{url}{record_id}" if url.endswith("=") else url
