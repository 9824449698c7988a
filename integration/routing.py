"""Which way an alert goes: a ticket, an email, both or neither, by its category and its device's routes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .alerts import Alert
from .registry import DeviceMapping
from .settings import AlertSettings

__all__ = ["AlertRouter", "Route"]

ROUTE_PARTS = {"ticket": (True, False), "email": (False, True), "both": (True, True), "none": (False, False)}


@dataclass(frozen=True)
class Route:
    ticket: bool
    email: bool
    reason: str  # why, for the outbox row and the logs

    @property
    def nowhere(self) -> bool:
        return not (self.ticket or self.email)


class AlertRouter:
    """Routes by the rules of Datto's ConnectWise integration.

    - Screenshot alerts never make a ticket (the setup guide); they email their recipients
      (the screenshotFailed list) when `screenshot_email` is on.
    - Device and agent alerts follow the device's route for their category (onboarding's
      mapping, else the settings' defaults): ticket, email, both or none.
    - No email without recipients, and none for a clear (the appliance mails raises and repeats).
    """

    def __init__(self, settings: AlertSettings, mapping: Callable[[str], DeviceMapping | None]) -> None:
        self.settings = settings
        self.mapping = mapping

    def route(self, alert: Alert) -> Route:
        wants_mail = bool(alert.recipients) and alert.event != "clear"
        if alert.category == "screenshot":
            email = wants_mail and self.settings.screenshot_email
            return Route(False, email, "screenshot alerts never make tickets")
        mapping = self.mapping(alert.serial)
        if alert.category == "agent":
            choice = mapping.agent_route if mapping else self.settings.agent_route
        else:
            choice = mapping.device_route if mapping else self.settings.device_route
        ticket, email = ROUTE_PARTS.get(choice, ROUTE_PARTS["both"])
        source = "device mapping" if mapping else "default"
        return Route(ticket, email and wants_mail, f"{alert.category} alerts route to {choice} ({source})")
