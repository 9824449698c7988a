"""The managed-device integration ConnectWise keeps for Datto: which one is ours, and whether it bills the customer."""

from __future__ import annotations

from typing import Any

from .connectwise import ConnectWiseClient, ConnectWiseError
from .settings import Settings

__all__ = ["bill_customer_flag", "find_integration"]


def find_integration(integrations: list[dict[str, Any]], username: str, name: str = "") -> dict[str, Any] | None:
    """The managed-device integration named `name`, else the first whose integrator login is `username`."""
    if name:
        named = [i for i in integrations if str(i.get("name", "")).casefold() == name.casefold()]
        return named[0] if named else None
    for integration in integrations:
        login = (integration.get("integratorLogin") or {}).get("name")
        if str(login or "").casefold() == username.casefold():
            return integration
    return None


def bill_customer_flag(settings: Settings, member: ConnectWiseClient | None) -> tuple[bool, str]:
    """The configurations' billFlag: the integration's "Set Configuration to Bill the Customer", and where it came from.

    Reading the integration (a setup table) needs API member keys; without them, or when it
    cannot be found, `onboarding.bill_customer` decides.
    """
    fallback = settings.onboarding.bill_customer
    if member is None:
        return fallback, "onboarding.bill_customer (no API member keys to read the managed-device integration)"
    try:
        integrations = list(member.iterate("company/managedDevicesIntegrations"))
    except ConnectWiseError as error:
        return fallback, f"onboarding.bill_customer (the managed-device integrations cannot be read: {error.message})"
    cw = settings.connectwise
    integration = find_integration(
        integrations, cw.integrator_username, settings.onboarding.managed_devices_integration
    )
    if integration is None:
        return fallback, f"onboarding.bill_customer (no managed-device integration uses {cw.integrator_username})"
    return bool(integration.get("configBillCustomerFlag")), f"managed-device integration {integration.get('name')}"
