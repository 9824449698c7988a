"""marshmallow schemas of the fleet's admin requests; the settings' schemas are built from their dataclasses."""

from __future__ import annotations

import dataclasses
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..clock import parse_duration
from .catalog import EMAIL_LISTS, PlanKind
from .settings import FleetRates, FleetSpec, PortalSettings, camel
from .simulation import ASSET_INCIDENTS, DEVICE_INCIDENTS


class Duration(fields.Field):
    """An ISO-8601 duration (`PT6H`, `P1D`), loaded as whole seconds."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return int(parse_duration(value).total_seconds())
        except ValueError as error:
            raise ValidationError(str(error)) from error


def _setting_field(item: dataclasses.Field[Any]) -> fields.Field:
    """A marshmallow field for one setting: its type from its default, its bounds from its metadata."""
    default = item.default
    meta = item.metadata
    key = camel(item.name)
    if isinstance(default, bool):
        return fields.Boolean(data_key=key)
    if isinstance(default, str):
        choices = meta.get("choices")
        return fields.String(data_key=key, validate=validate.OneOf(choices) if choices else validate.Length(min=1))
    low, high = meta.get("low"), meta.get("high")
    bounds = validate.Range(min=low, max=high)
    if isinstance(default, int):
        return fields.Integer(data_key=key, strict=True, validate=bounds)
    return fields.Float(data_key=key, allow_nan=False, validate=bounds)


def settings_schema(cls: type) -> type[Schema]:
    """A schema whose load gives the changed settings of `cls` by their Python names."""
    declared = {
        item.name: _setting_field(item)
        for item in dataclasses.fields(cls)
        if item.default is not dataclasses.MISSING and item.name != "rates"
    }
    return Schema.from_dict(declared, name=f"{cls.__name__}Schema")


FleetRatesSchema = settings_schema(FleetRates)
PortalSettingsSchema = settings_schema(PortalSettings)


class FleetSpecSchema(settings_schema(FleetSpec)):  # type: ignore[misc]
    """`POST /_sim/fleet`: counts per family, shares, seed; `rates` overrides; `quiet` zeroes every incident rate."""

    rates = fields.Nested(FleetRatesSchema)
    quiet = fields.Boolean()

    @validates_schema
    def some_devices(self, data: dict[str, Any], **kwargs: Any) -> None:
        if sum(data.get(name, getattr(FleetSpec, name)) for name in ("siris", "alto", "cloud")) > 100_000:
            raise ValidationError("at most 100,000 devices in all", "siris")


def load_fleet_spec(body: Any, base: FleetSpec) -> FleetSpec:
    """A spec from a request body: what it names replaces `base`'s settings."""
    data = FleetSpecSchema().load(body if body is not None else {})
    rates = dataclasses.replace(base.rates, **data.pop("rates", {}))
    if data.pop("quiet", False):
        rates = rates.quiet()
    return dataclasses.replace(base, rates=rates, **data)


class PlanSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf([kind.value for kind in PlanKind]))
    included_offsite_bytes = fields.Integer(
        data_key="includedOffsiteBytes", strict=True, validate=validate.Range(min=0)
    )
    tbr_years = fields.Integer(data_key="tbrYears", strict=True, validate=validate.Range(min=1, max=20))


class AssetPatchSchema(Schema):
    paused = fields.Boolean()
    archived = fields.Boolean()


# The appliance's recipient lists; each given list replaces the device's (`[]` empties it).
EmailListsSchema = Schema.from_dict(
    {name: fields.List(fields.Email(), validate=validate.Length(max=50)) for name in EMAIL_LISTS},
    name="EmailListsSchema",
)


class DevicePatchSchema(Schema):
    """`PATCH /_sim/fleet/devices/{serial}`: set up an exact case on one device."""

    local_used_bytes = fields.Integer(data_key="localUsedBytes", strict=True, validate=validate.Range(min=0))
    local_capacity_bytes = fields.Integer(data_key="localCapacityBytes", strict=True, validate=validate.Range(min=1))
    offsite_used_bytes = fields.Integer(data_key="offsiteUsedBytes", strict=True, validate=validate.Range(min=0))
    plan = fields.Nested(PlanSchema)
    paused = fields.Boolean()
    archived = fields.Boolean()
    assets = fields.Dict(keys=fields.String(), values=fields.Nested(AssetPatchSchema))
    emails = fields.Nested(EmailListsSchema)
    in_service = fields.Boolean(data_key="inService")
    hidden = fields.Boolean()
    client_company_name = fields.String(data_key="clientCompanyName", validate=validate.Length(min=1, max=100))


class SinkSchema(Schema):
    """`POST /_sim/fleet/sink`: where the fleet's alert events go (`url: null` stops sending)."""

    url = fields.Url(required=True, allow_none=True, require_tld=False, schemes={"http", "https"})
    batch_size = fields.Integer(data_key="batchSize", strict=True, load_default=100, validate=validate.Range(1, 10_000))
    queue_size = fields.Integer(
        data_key="queueSize", strict=True, load_default=10_000, validate=validate.Range(1, 1_000_000)
    )
    max_attempts = fields.Integer(data_key="maxAttempts", strict=True, load_default=4, validate=validate.Range(1, 20))
    backoff = fields.Float(data_key="backoffSeconds", load_default=0.2, validate=validate.Range(0, 60))
    timeout = fields.Float(data_key="timeoutSeconds", load_default=10.0, validate=validate.Range(0.01, 300))
    include_usage = fields.Boolean(data_key="includeUsage", load_default=False)
    headers = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)


class IncidentSchema(Schema):
    """`POST /_sim/fleet/incidents`: start an incident now, on a device (or its site) or one of its assets."""

    kind = fields.String(required=True, validate=validate.OneOf(sorted(ASSET_INCIDENTS | DEVICE_INCIDENTS)))
    serial_number = fields.String(data_key="serialNumber", required=True, validate=validate.Length(min=1, max=40))
    volume = fields.String(validate=validate.Length(min=1, max=64))
    duration_seconds = Duration(data_key="duration")
    attempts = fields.Integer(strict=True, validate=validate.Range(1, 1000))
    failures = fields.Integer(strict=True, validate=validate.Range(1, 1000))
    reboot = fields.Boolean()
    true_positive = fields.Boolean(data_key="truePositive")

    @validates_schema
    def asset_named(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("kind") in ASSET_INCIDENTS and not data.get("volume"):
            raise ValidationError(f"a {data['kind']} incident happens to an asset: give its volume", "volume")
        if data.get("duration_seconds") == 0:
            raise ValidationError("the duration must be longer than zero", "duration")
