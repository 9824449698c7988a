"""Opening a ConnectWise ticket for a failed backup, the way this example MSP's tool does it."""

from __future__ import annotations

import base64

import requests


class Psa:
    """A minimal ConnectWise client: one session, API member keys, the clientId header."""

    def __init__(self, api_url: str, company_id: str, public_key: str, private_key: str, client_id: str) -> None:
        self.api_url = api_url.rstrip("/")
        token = base64.b64encode(f"{company_id}+{public_key}:{private_key}".encode()).decode()
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Basic {token}", "clientId": client_id})

    def open_backup_ticket(self, company_identifier: str, serial: str, what: str) -> int:
        """One ticket per appliance and problem: an open one is reused, never duplicated."""
        xref = f"backup:{serial}"
        found = self.session.get(
            f"{self.api_url}/service/tickets",
            params={"conditions": f'externalXRef="{xref}" and closedFlag=false', "fields": "id"},
            timeout=30,
        )
        found.raise_for_status()
        if found.json():
            return found.json()[0]["id"]
        created = self.session.post(
            f"{self.api_url}/service/tickets",
            json={
                "summary": f"Backup failed on {serial}: {what}"[:100],
                "company": {"identifier": company_identifier},
                "board": {"name": "Datto Alerts"},
                "externalXRef": xref,
            },
            timeout=30,
        )
        created.raise_for_status()
        return created.json()["id"]
