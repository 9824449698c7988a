"""Derives `data/cw-manage-schema.json`, the fake's compact copy of ConnectWise's models and list paths.

`python -m cwsim.simulator.connectwise.derive_schema INDEX > simulator/connectwise/data/cw-manage-schema.json`
where INDEX is a machine-readable index of the real API (every operation and model, derived from
the client OpenAPI Generator makes from ConnectWise's OpenAPI document). Kept from it: each
model's fields (type, referenced model, max length, required, required on updates, post-only,
nullable), each list path (item model, methods, POST, `/count`, its `{id}` child), and a reviewed
table of which collection each `*Reference` model points at. Enum values come from pyconnectwise's
pydantic models (the same OpenAPI document, with the enums the Go client drops) when installed.
"""

from __future__ import annotations

import datetime
import json
import sys
import typing
from collections import defaultdict
from typing import Any

FLAG_KEYS = {
    "maxLength": "max",
    "required": "req",
    "requiredOnUpdates": "upd",
    "postOnly": "post",
    "nullable": "null",
}
# Reference models whose collection the name alone does not give (reviewed by hand against the
# models: each target's records carry the fields the reference shows).
REFERENCE_TARGETS: dict[str, str | None] = {
    "TimeZoneReference": None,  # a time zone is a fixed list, not a table (timeZoneSetups refer to one)
    "ServiceStatusReference": "/service/boards/{parentId}/statuses",
    "ServiceTypeReference": "/service/boards/{parentId}/types",
    "ServiceSubTypeReference": "/service/boards/{parentId}/subtypes",
    "ServiceItemReference": "/service/boards/{parentId}/items",
    "ServiceTeamReference": "/service/boards/{parentId}/teams",
    "GenericBoardTeamReference": "/service/boards/{parentId}/teams",
    "ServiceSourceReference": "/service/sources",
    "SiteReference": "/company/companies/{parentId}/sites",
    "SystemLocationReference": "/system/locations",
    "SystemDepartmentReference": "/system/departments",
    "NoteTypeReference": "/company/noteTypes",
    "ProductReference": "/procurement/products",
    "ConfigurationReference": "/company/configurations",
    "ProjectBoardReference": "/service/boards",
    "ProductCategoryReference": "/procurement/categories",
    "ProductSubCategoryReference": "/procurement/subcategories/",
    "CurrencyReference": "/finance/currencies",
    "OpportunityProbabilityReference": "/sales/probabilities",
    "ServiceCodeReference": "/system/serviceCodes",
    "CalendarSetupReference": "/schedule/calendars",
    "EmailTemplateReference": "/system/emailTemplates",
    "OpportunitySalesRoleReference": "/sales/roles",
    "SalesOrderReference": "/sales/orders",
    "DocumentReference": "/system/documents",
    "BillingTermsReference": "/finance/billingTerms",
    "PaymentMethodReference": "/expense/paymentTypes",
    "ExpenseTaxTypeReference": "/expense/types",
    "KBCategoryReference": "/service/knowledgeBaseCategories",
    "ManagementSolutionReference": "/company/managedDevicesIntegrations",
    "BatchReference": "/finance/accounting/batches",
    "SicCodeReference": "/company/marketDescriptions",
    "ImapSetupReference": "/system/imaps",
    "LocaleReference": "/system/locales",
    "ReminderReference": "/schedule/reminderTimes",
    "ScheduleSpanReference": "/schedule/calendars",
    "CampaignSubTypeReference": "/marketing/campaigns/types",
    "ConversionTypeReference": "/sales/opportunities/statuses",
    "InvoiceTemplateDetailReference": "/finance/invoiceTemplates",
    "BillingDeliveryReference": "/finance/billingSetups",
    "OwnerLevelReference": "/system/locations",
    "BillingUnitReference": "/system/departments",
}
PROJECTIONS = ("/info", "/usages", "/usages/list")


def compact_field(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"t": spec["type"]}
    for key in ("ref", "items", "values"):
        if key in spec:
            out[key] = spec[key]
    for key, short in FLAG_KEYS.items():
        if key in spec:
            out[short] = spec[key]
    return out


def is_item_path(path: str) -> bool:
    """A list path of records of its own: not an `/info` projection, not `/usages`, no id at the end."""
    if any(path.endswith(suffix) for suffix in PROJECTIONS) or "/info/" in path:
        return False
    return not path.rstrip("/").endswith("}")


def home_paths(paths: dict[str, Any], models: dict[str, Any]) -> dict[str, str]:
    """The path that owns each item model's table: writable first, then the fewest ids, then the shortest."""
    by_model: dict[str, list[str]] = defaultdict(list)
    for path, entry in paths.items():
        item = entry["item"]
        if is_item_path(path) and item in models and not item.endswith("Reference") and path.count("{") <= 1:
            by_model[item].append(path)
    return {
        model: min(candidates, key=lambda p: ("POST" not in paths[p]["methods"], p.count("{"), len(p), p))
        for model, candidates in by_model.items()
    }


def reference_targets(models: dict[str, Any], homes: dict[str, str], paths: dict[str, Any]) -> dict[str, str | None]:
    targets: dict[str, str | None] = {}
    for name in sorted(models):
        if not name.endswith("Reference"):
            continue
        target = REFERENCE_TARGETS[name] if name in REFERENCE_TARGETS else homes.get(name[: -len("Reference")])
        targets[name] = target if target in paths else None
    return targets


def pyconnectwise_facts() -> dict[str, dict[str, dict[str, Any]]]:
    """Per model and field, what pyconnectwise's pydantic models add: enum values, `fmt: date` (a date
    without a time), `resp` (a response without it fails validation). Empty when not installed."""
    try:
        import pyconnectwise.models.manage as manage  # a derivation-time extra
    except ImportError:
        return {}
    facts: dict[str, dict[str, dict[str, Any]]] = {}
    for name in dir(manage):
        model = getattr(manage, name)
        for field_name, info in getattr(model, "model_fields", {}).items():
            found: dict[str, Any] = {}
            values = _literal_values(info.annotation)
            if values:
                found["enum"] = values
            if _is_date(info.annotation):
                found["fmt"] = "date"
            if info.is_required():
                found["resp"] = True
            if found:
                facts.setdefault(name, {})[info.alias or field_name] = found
    return facts


def _is_date(annotation: Any) -> bool:
    if annotation is datetime.date:
        return True
    return any(_is_date(arg) for arg in typing.get_args(annotation))


def _literal_values(annotation: Any) -> list[str]:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(value) for value in typing.get_args(annotation)]
    for arg in typing.get_args(annotation):
        values = _literal_values(arg)
        if values:
            return values
    return []


def derive(index: dict[str, Any]) -> dict[str, Any]:
    models, paths = index["models"], index["paths"]
    facts = pyconnectwise_facts()
    homes = home_paths(paths, models)
    compact_models = {}
    for name, model in models.items():
        fields = {}
        for field_name, spec in model["fields"].items():
            if field_name == "_info":
                continue
            field = compact_field(spec)
            known = facts.get(name, {}).get(field_name, {})
            if spec["type"] == "string":
                field.update({key: value for key, value in known.items() if key in ("enum", "fmt")})
            if known.get("resp"):
                field["resp"] = True
            fields[field_name] = field
        compact_models[name] = fields
    return {
        "_about": (
            "ConnectWise Manage 2025.1 models and list paths, derived by derive_schema.py. models: field -> "
            "t (type), ref (model), items/values (element type), max (max length), req (required on POST), "
            "upd (required on PUT), post (POST only), null (nullable), enum, fmt (date: a day, no time), resp "
            "(pyconnectwise requires it in a response). paths: list path -> item model, "
            "methods, post, count, byId, byIdMethods. homes: item model -> the path that owns its table. "
            "references: *Reference model -> the list path of the records it names (null: a plain value)."
        ),
        "models": compact_models,
        "paths": paths,
        "homes": dict(sorted(homes.items())),
        "references": reference_targets(models, homes, paths),
    }


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as source:
        derived = derive(json.load(source))
    print(json.dumps(derived, separators=(",", ":"), sort_keys=False))
