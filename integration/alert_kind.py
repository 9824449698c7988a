"""Which device and type an alert payload is about: one rule for its ticket, email hold-back and mail order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["alert_type", "device_serial"]


def alert_type(payload: Mapping[str, Any]) -> str:
    """The alert's type: `alertType`, else its `code`, else its `label`, else its `alertKey`.

    The fleet and the portal poller always send `alertType`; the rest is for other senders,
    whose payloads may carry only some of the documented fields (docs/alerts.md). The last
    resort is the alert's own key, so alerts nobody typed never share one hour's email hold-back.
    """
    for name in ("alertType", "code", "label", "alertKey"):
        value = payload.get(name)
        if value:
            return str(value)
    return ""


def device_serial(payload: Mapping[str, Any]) -> str:
    """The appliance's serial number, upper case (the intake accepts either case; one device is one key)."""
    return str(payload.get("serialNumber") or "").upper()
