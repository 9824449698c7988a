"""A requests session on one fake ConnectWise: relative URLs, auth and clientId preset (no pytest, no server)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urljoin

import requests

TOKEN_HEADER = "X-Cwsim-Admin-Token"


class ApiSession(requests.Session):
    """A requests session for one fake ConnectWise: relative URLs, auth and clientId preset."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float = 30.0) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/") + "/"
        self.headers.update(headers)
        self.timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, urljoin(self.base_url, url.lstrip("/")), *args, **kwargs)


def basic_auth(company_id: str, user: str, secret: str) -> str:
    """ConnectWise's Basic credentials: `companyId+publicKey:privateKey`, base64-encoded."""
    token = base64.b64encode(f"{company_id}+{user}:{secret}".encode()).decode()
    return f"Basic {token}"


def admin_headers(token: str | None) -> dict[str, str]:
    """The header a client sends to the admin API (none without a token)."""
    return {TOKEN_HEADER: token} if token else {}
