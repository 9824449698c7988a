"""Helpers for the integration's end-to-end tests: its settings for the plugin's fake, tenants, the request journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cwsim.integration.settings import Secret, Settings, load_settings


def integration_settings(
    cwsim, *, member_keys: bool = False, state_dir: Path | None = None, **sections: Any
) -> Settings:
    """The integration's settings for the fake the `cwsim` fixture serves (integrator login; member keys if asked).

    `sections` set settings by section: `billing={"binary_units": True}`.
    """
    settings = load_settings(environ={})
    cw = settings.connectwise
    cw.site = cwsim.url
    cw.company_id = cwsim.company_id
    cw.client_id = cwsim.facts["clientId"]
    cw.integrator_username = cwsim.facts["integrator"]["username"]
    cw.integrator_password = Secret(cwsim.facts["integrator"]["password"])
    if member_keys:
        cw.public_key = cwsim.facts["publicKey"]
        cw.private_key = Secret(cwsim.facts["privateKey"])
    portal = cwsim.facts["portal"]
    settings.datto.url = portal["url"].removesuffix("/bcdr")
    settings.datto.public_key = portal["publicKey"]
    settings.datto.secret_key = Secret(portal["secretKey"])
    if state_dir is not None:
        settings.state_dir = str(state_dir)
    for section, values in sections.items():
        for name, value in values.items():
            setattr(getattr(settings, section), name, value)
    return settings


def load_builtin_tenant(cwsim, name: str) -> None:
    """Serve a built-in tenant in place of the session's (the fixture puts the session's back before each test)."""
    response = cwsim.admin().post("tenant", data=f"base: {name}\n", params={"name": f"{name}.yaml"})
    assert response.status_code == 200, response.text


def writes(cwsim, prefix: str = "/v4_6_release/apis/3.0/") -> list[dict[str, Any]]:
    """The ConnectWise writes (POST, PUT, PATCH, DELETE) the fake's journal holds, oldest first."""
    entries = cwsim.admin().get("requests").json()
    return [
        entry
        for entry in entries
        if entry["method"] in ("POST", "PUT", "PATCH", "DELETE") and entry["path"].startswith(prefix)
    ]


def clear_journal(cwsim) -> None:
    cwsim.admin().delete("requests").raise_for_status()
