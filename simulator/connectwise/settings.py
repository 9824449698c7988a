"""Tenant settings as JSON or YAML: one marshmallow schema shared by tenant files and state snapshots."""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from typing import Any

from marshmallow import Schema, fields, validate

from .auth import ApiKey
from .backend import TenantSettings

DEFAULTS = TenantSettings()
COMPANY_ID_PATTERN = r"^[^\s+:/]+$"  # it sits in Basic auth as `companyId+publicKey:privateKey`
CODEBASE_PATTERN = r"^[A-Za-z0-9_.-]+/?$"
VERSION_PATTERN = r"^v\d{4}\.\d+(\.\d+)?$"  # clients parse it as `vYYYY.N[.build]`


def _text(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1), **kwargs)


class ApiKeySchema(Schema):
    publicKey = _text(required=True)
    privateKey = _text(required=True)
    member = _text(required=True)


class SettingsSchema(Schema):
    """The settings both forms share (camelCase, as the rest of the ConnectWise JSON)."""

    companyId = fields.String(
        required=True,
        validate=validate.Regexp(COMPANY_ID_PATTERN, error="must be one word without +, : or /."),
    )
    companyName = _text(load_default=None)
    codebase = fields.String(
        load_default=DEFAULTS.codebase,
        validate=validate.Regexp(CODEBASE_PATTERN, error='must look like "v2025_1/".'),
    )
    version = fields.String(
        load_default=DEFAULTS.version,
        validate=validate.Regexp(VERSION_PATTERN, error='must look like "v2025.1.10431".'),
    )
    seed = fields.Integer(load_default=0, strict=True)
    apiKeys = fields.List(
        fields.Nested(ApiKeySchema),
        required=True,
        validate=validate.Length(min=1, error="at least one API key is needed."),
    )


class FileSettingsSchema(SettingsSchema):
    """A tenant file names its default board; the id is known once the boards are made."""

    defaultBoard = _text(load_default=None, allow_none=True)


class StateSettingsSchema(SettingsSchema):
    defaultBoardId = fields.Integer(load_default=None, allow_none=True, strict=True)


# Every TenantSettings field has a place in the schemas above (a test checks this list).
SETTINGS_FIELDS = {
    "company_id": "companyId",
    "company_name": "companyName",
    "codebase": "codebase",
    "version": "version",
    "api_keys": "apiKeys",
    "default_board_id": "defaultBoardId",
    "seed": "seed",
}


def settings_from(loaded: dict[str, Any]) -> TenantSettings:
    """TenantSettings from data a schema above has loaded (defaultBoard is left to the caller)."""
    codebase = loaded["codebase"]
    return TenantSettings(
        company_id=loaded["companyId"],
        company_name=loaded.get("companyName") or loaded["companyId"],
        codebase=codebase if codebase.endswith("/") else codebase + "/",
        version=loaded["version"],
        api_keys=[ApiKey(key["publicKey"], key["privateKey"], key["member"]) for key in loaded["apiKeys"]],
        default_board_id=loaded.get("defaultBoardId"),
        seed=loaded["seed"],
    )


def settings_as_json(settings: TenantSettings) -> dict[str, Any]:
    """The settings as a state snapshot holds them, credentials included (a restore needs them)."""
    return {
        "companyId": settings.company_id,
        "companyName": settings.company_name,
        "codebase": settings.codebase,
        "version": settings.version,
        "seed": settings.seed,
        "defaultBoardId": settings.default_board_id,
        "apiKeys": [
            {"publicKey": key.public_key, "privateKey": key.private_key, "member": key.member_identifier}
            for key in settings.api_keys
        ],
    }


def unmapped_settings_fields() -> set[str]:
    """TenantSettings fields the JSON forms above do not carry (should be empty)."""
    return {field.name for field in dataclass_fields(TenantSettings)} - set(SETTINGS_FIELDS)
