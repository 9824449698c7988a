"""A connection to one served fake, in this process or started elsewhere: its facts, sessions, reset and errors.

Everything here speaks HTTP to the admin API (`/_sim`), so a test behaves the same whether the
pytest plugin started the server or attached to one a CI pipeline started (`--cwsim-url`, or the
ready file of `cwsim serve --ready-file`). It imports neither pytest nor the server.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .client import ApiSession, admin_headers, basic_auth
from .testing import Admin

if TYPE_CHECKING:
    from .world import World


class ServedFake(Protocol):
    """What a Cwsim needs of a server: its facts, its admin token, and (in-process only) its world."""

    world: World | None
    admin_token: str | None

    def facts(self) -> dict[str, Any]: ...


class AttachedServer:
    """A `cwsim serve` this process did not start: known by its facts (the ready file's, or GET /_sim/facts)."""

    world: World | None = None

    def __init__(self, facts: dict[str, Any], admin_token: str | None = None) -> None:
        self._facts = facts
        self.admin_token = admin_token

    def facts(self) -> dict[str, Any]:
        return self._facts

    @classmethod
    def from_url(cls, url: str, admin_token: str | None = None, timeout: float = 30.0) -> AttachedServer:
        """Ask the server at `url` for its facts, retrying until it answers or `timeout` passes."""
        admin = ApiSession(url.rstrip("/") + "/_sim", admin_headers(admin_token))
        facts = _poll_until(lambda: _answer_json(admin, "facts"), timeout, f"cwsim at {url} to answer GET /_sim/facts")
        return cls(facts, admin_token)

    @classmethod
    def from_ready_file(cls, path: str | Path, admin_token: str | None = None, timeout: float = 60.0) -> AttachedServer:
        """The server whose ready file is `path`, waiting (with a deadline) for the file to be written."""
        ready = Path(path)
        facts = _poll_until(lambda: _read_ready_file(ready), timeout, f"the cwsim ready file {ready}")
        return cls(facts, admin_token)


class InProcessServer:
    """A RunningServer this process started, seen as a ServedFake."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.world = server.world
        self.admin_token = server.options.admin_token

    def facts(self) -> dict[str, Any]:
        return self.server.facts()

    def __getattr__(self, name: str) -> Any:
        """Everything else is the RunningServer's (`url`, `options`, ...), as `cwsim_server` was before."""
        return getattr(self.server, name)


class Cwsim:
    """What a test gets from the `cwsim` fixture: URLs, credentials, sessions and the admin API.

    `world` and `server` are the live objects when the plugin started the server in this process,
    and None when it attached to one started elsewhere.
    """

    def __init__(self, server: ServedFake | Any) -> None:
        """`server`: an AttachedServer, an InProcessServer, or a RunningServer of this process."""
        served: ServedFake = server if isinstance(server, AttachedServer | InProcessServer) else InProcessServer(server)
        self.served = served
        self.server = getattr(served, "server", None)
        self.world = served.world
        self.admin_token = served.admin_token
        self.facts = served.facts()
        self.url: str = self.facts["url"]
        self.api_url: str = self.facts["api_url"]
        self.fault_proxy_url: str = self.facts["fault_proxy_url"]
        self.fault_proxy_api_url: str = self.facts["fault_proxy_api_url"]
        self.company_id: str = self.facts["companyId"]

    def headers(self, integrator: bool = False) -> dict[str, str]:
        """Request headers for the API member (default) or the integrator login."""
        if integrator:
            login = self.facts["integrator"]
            return {
                "Authorization": basic_auth(self.company_id, login["username"], login["password"]),
                "clientId": self.facts["clientId"],
                "x-cw-usertype": "integrator",
            }
        return {
            "Authorization": basic_auth(self.company_id, self.facts["publicKey"], self.facts["privateKey"]),
            "clientId": self.facts["clientId"],
        }

    def session(self, integrator: bool = False, through_fault_proxy: bool = False) -> ApiSession:
        """A session on the ConnectWise API: `session().get("service/boards")`; through the fault
        proxy (where connection faults happen) if asked."""
        return ApiSession(self.fault_proxy_api_url if through_fault_proxy else self.api_url, self.headers(integrator))

    def admin(self) -> ApiSession:
        """A session on the admin API: `admin().get("health")` (with the admin token, if the server has one)."""
        return ApiSession(self.url + "/_sim", admin_headers(self.admin_token))

    @property
    def helpers(self) -> Admin:
        """Typed helpers over the admin API: `.fleet`, `.clock`, `.mail`, `.journal`."""
        return Admin(self.url, self.admin_token)


class FakeControl:
    """What the `cwsim` fixture does around a test, over the admin API: reset, pick a tenant, read errors."""

    def __init__(self, served: ServedFake) -> None:
        self.url = served.facts()["url"]
        self.admin = ApiSession(self.url + "/_sim", admin_headers(served.admin_token))

    def reset_to_startup(self) -> None:
        """Back to the tenant the server started with, in its seed state."""
        self._call("POST", "reset", json={"startup": True})

    def use_tenant(self, name_or_path: str | Path) -> None:
        """Serve a tenant file (a path here, sent as text; its `base:` may name only a built-in tenant)
        or a built-in tenant (by name)."""
        path = Path(name_or_path)
        if path.is_file():
            self._call("POST", "tenant", params={"name": str(name_or_path)}, data=path.read_bytes())
        else:
            self._call("POST", "tenant", params={"builtin": str(name_or_path)})

    def use_seed(self, seed: int) -> None:
        """A generated tenant and fleet from `seed` (until the next reset to startup)."""
        self._call("POST", "seed", json={"seed": seed})

    def error_count(self) -> int:
        """How many unexpected server errors (500s) the server has had."""
        return self._call("GET", "errors", params={"since": 0, "limit": 0})["count"]

    def errors_since(self, count: int) -> list[str]:
        """The tracebacks of the server errors after the first `count`."""
        return self._call("GET", "errors", params={"since": count})["errors"]

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.admin.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(
                f"cwsim at {self.url}: {method} /_sim/{path} answered {response.status_code}: {response.text[:500]}"
            )
        return response.json() if response.content else None


def _answer_json(admin: ApiSession, path: str) -> dict[str, Any] | None:
    import requests

    try:
        response = admin.get(path, timeout=5.0)
    except requests.ConnectionError:
        return None
    if response.status_code >= 400:
        raise RuntimeError(f"{admin.base_url}{path} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def _read_ready_file(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):  # not written yet (it is written atomically)
        return None


def _poll_until(read: Any, timeout: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:g} s for {what}")
        time.sleep(0.1)  # polling a file or a server with a deadline
