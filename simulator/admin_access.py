"""Who may use the admin API: anyone on loopback, or, with an admin token, only who sends it.

`cwsim serve` binds to 127.0.0.1 unless told otherwise. Binding anywhere else exposes `/_sim`
(reset, state with credentials, faults) to the network, so it is refused before anything is
bound unless an admin token is given; with a token, on any address, every `/_sim` request must
carry it (`Authorization: Bearer TOKEN` or `X-Cwsim-Admin-Token: TOKEN`).
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Flask, Response, request

from .client import TOKEN_HEADER
from .client import admin_headers as admin_headers  # its home is the client side; server code imports it here
from .connectwise.resources import json_response
from .faults import is_admin_path

LOOPBACK_NAMES = frozenset({"localhost"})


class UnsafeBind(ValueError):
    """A non-loopback address without an admin token: refused before binding."""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or `localhost`; a wildcard (0.0.0.0, ::) or any other name is not."""
    if host.strip().casefold() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, admin_token: str | None) -> None:
    if not is_loopback(host) and not admin_token:
        raise UnsafeBind(
            f"refusing to listen on {host}: it is not a loopback address, and the admin API (/_sim: reset, "
            "state with credentials, faults) would be open to the network. Give --admin-token TOKEN (or "
            "CWSIM_ADMIN_TOKEN) to require it on /_sim, or listen on 127.0.0.1."
        )


def given_token() -> str | None:
    token = request.headers.get(TOKEN_HEADER)
    if token:
        return token
    scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
    return value.strip() if scheme.casefold() == "bearer" and value.strip() else None


def require_admin_token(app: Flask, token: str) -> None:
    """Every /_sim request must carry `token`; register before any other hook."""
    expected = token.encode()

    @app.before_request
    def admin_token_required() -> Response | None:
        if not is_admin_path(request.path):
            return None
        given = given_token()
        if given is not None and hmac.compare_digest(given.encode(), expected):
            return None
        reason = "was wrong" if given is not None else "is missing"
        body = {
            "code": "Unauthorized",
            "message": f"The admin API needs the server's admin token, and it {reason}.",
            "errors": [
                {
                    "code": "Unauthorized",
                    "message": f"Send it as 'Authorization: Bearer TOKEN' or '{TOKEN_HEADER}: TOKEN'.",
                    "resource": "admin",
                    "field": "Authorization",
                }
            ],
        }
        return json_response(body, 401, {"WWW-Authenticate": 'Bearer realm="cwsim admin"'})
