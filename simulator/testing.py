"""Test helpers over the admin API of a running `cwsim serve`: the fleet, the clock, the mail, the journal, stubs.

They speak HTTP only, so they work the same against the pytest plugin's server and against one
started elsewhere (`cwsim serve --ready-file ready.json` in CI): `Admin.from_ready_file(path)`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

DEFAULT_TIMEOUT = 30.0
# How long a test waits for something that happens in the background (a mail, a drained backlog):
# a deadline, not a measurement, generous enough for a loaded machine several times slower than a
# quiet one. Waiting polls, so a quiet machine never waits longer than the thing takes.
WAIT_SECONDS = 60.0
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class ConnectWiseConfig:
    """What a ConnectWise client needs to reach the fake: hand it to your own client's constructor."""

    site: str  # scheme://host:port (pyconnectwise's manage_url is this without the scheme)
    api_url: str  # .../v4_6_release/apis/3.0
    company_id: str
    public_key: str
    private_key: str
    client_id: str
    integrator_username: str | None
    integrator_password: str | None

    @classmethod
    def from_facts(cls, facts: dict[str, Any]) -> ConnectWiseConfig:
        login = facts.get("integrator") or {}
        return cls(
            site=facts["url"],
            api_url=facts["api_url"],
            company_id=facts["companyId"],
            public_key=facts["publicKey"],
            private_key=facts["privateKey"],
            client_id=facts["clientId"],
            integrator_username=login.get("username"),
            integrator_password=login.get("password"),
        )

    @property
    def manage_url(self) -> str:
        """Host and port, as pyconnectwise's `manage_url` wants it."""
        return self.site.split("://", 1)[1]


class AdminError(AssertionError):
    """The admin API refused a call; the message holds its answer. (An AssertionError, so a test reads it as one.)"""


class _Api:
    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.http = requests.Session()
        self.http.headers.update(headers or {})

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
        response = self.http.request(method, urljoin(self.base_url, path.lstrip("/")), **kwargs)
        if response.status_code >= 400:
            raise AdminError(f"{method} /_sim/{path} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None


class Fleet(_Api):
    """The simulated appliances: `devices()`, `patch(serial, ...)`, `incident(...)`, `events()`, `truth()`."""

    def summary(self) -> dict[str, Any]:
        return self.call("GET", "fleet")

    def devices(self, family: str | None = None) -> list[dict[str, Any]]:
        return self.call("GET", "fleet/devices", params={"family": family} if family else None)

    def device(self, serial: str) -> dict[str, Any]:
        return self.call("GET", f"fleet/devices/{serial}")

    def patch(self, serial: str, **changes: Any) -> dict[str, Any]:
        """Set up an exact case: `patch(serial, offsiteUsedBytes=..., emails={"critical": []})`."""
        return self.call("PATCH", f"fleet/devices/{serial}", json=changes)

    def incident(self, kind: str, serial: str, **detail: Any) -> dict[str, Any]:
        return self.call("POST", "fleet/incidents", json={"kind": kind, "serialNumber": serial, **detail})

    def generate(self, **spec: Any) -> dict[str, Any]:
        return self.call("POST", "fleet", json=spec)

    def events(self, since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        params = {"since": since, **({"limit": limit} if limit else {})}
        return self.call("GET", "fleet/events", params=params)

    def truth(self, **filters: Any) -> dict[str, Any]:
        return self.call("GET", "truth", params=filters or None)

    def send_alerts_to(self, url: str | None, **options: Any) -> dict[str, Any]:
        return self.call("POST", "fleet/sink", json={"url": url, **options})


class Clock(_Api):
    """The simulated clock: `advance("PT6H")` returns once the fleet has produced the events up to then."""

    def now(self) -> str:
        return self.call("GET", "clock")["now"]

    def state(self) -> dict[str, Any]:
        return self.call("GET", "clock")

    def advance(self, duration: str) -> dict[str, Any]:
        return self.call("POST", "clock", json={"advance": duration})

    def set(self, moment: str) -> dict[str, Any]:
        return self.call("POST", "clock", json={"set": moment})

    def stepped(self) -> dict[str, Any]:
        return self.call("POST", "clock", json={"mode": "stepped"})


class Mail(_Api):
    """Mail the catcher caught."""

    def messages(self, to: str | None = None, subject: str | None = None) -> list[dict[str, Any]]:
        params = {key: value for key, value in (("to", to), ("subject", subject)) if value}
        return self.call("GET", "mail", params=params)

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS, **filters: Any) -> list[dict[str, Any]]:
        """Poll (with a deadline) until at least `count` messages match; mail is sent asynchronously."""
        found: list[dict[str, Any]] = []

        def enough() -> bool:
            found[:] = self.messages(**filters)
            return len(found) >= count

        wait_until(enough, timeout, lambda: f"{count} mail(s) matching {filters}; got {found!r}")
        return found

    def clear(self) -> None:
        self.call("DELETE", "mail")


class Journal(_Api):
    """The request journal, with assertions a test can read."""

    def requests(self, method: str | None = None, path: str | None = None, status: int | None = None) -> list[dict]:
        params = {k: v for k, v in (("method", method), ("path", path), ("status", status)) if v is not None}
        return self.call("GET", "requests", params=params)

    def posts(self, path: str, where: Callable[[Any], bool] | None = None) -> list[dict[str, Any]]:
        """POSTs to a path (e.g. `/service/tickets`, exactly, not its children) whose body passes `where`."""
        wanted = "/" + path.strip("/")
        found = []
        for entry in self.requests(method="POST", path=wanted):
            if entry["path"].split("/apis/3.0", 1)[-1].rstrip("/").casefold() != wanted.casefold():
                continue
            if where is None or where(entry["body"]):
                found.append(entry)
        return found

    def assert_one_post(self, path: str, containing: str | None = None) -> dict[str, Any]:
        """Exactly one POST to `path` (whose body mentions `containing`, e.g. a serial number)."""

        def mentions(body: Any) -> bool:
            return containing is None or containing in json.dumps(body)

        found = self.posts(path, mentions)
        about = f" mentioning {containing!r}" if containing else ""
        assert len(found) == 1, f"expected exactly one POST to {path}{about}, found {len(found)}: {found}"
        return found[0]

    def clear(self) -> None:
        self.call("DELETE", "requests")


class Stubs(_Api):
    """Stubs (docs/stubs.md): `add({"match": {...}, "respond": {...}})` answers matching requests ahead of the fake.

    `added` holds the ids of the stubs added through this object (the `cwsim_stubs` fixture deletes them).
    """

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(base_url, headers)
        self.added: list[str] = []

    def add(self, *stubs: dict[str, Any]) -> list[dict[str, Any]]:
        """Add stubs after those in place; returns them with their ids."""
        found = self.call("POST", "stubs", json=list(stubs))
        self.added += [stub["id"] for stub in found]
        return found

    def listed(self) -> list[dict[str, Any]]:
        """Every stub in the order they are tried, with `hits` and `exhausted`."""
        return self.call("GET", "stubs")

    def get(self, stub_id: str) -> dict[str, Any]:
        return self.call("GET", f"stubs/{stub_id}")

    def remove(self, stub_id: str) -> None:
        self.call("DELETE", f"stubs/{stub_id}")

    def remove_added(self) -> None:
        """Delete the stubs this object added that are still in place."""
        present = {stub["id"] for stub in self.listed()}
        for stub_id in self.added:
            if stub_id in present:
                self.remove(stub_id)
        self.added = []

    def clear(self) -> None:
        """Delete every stub, those of the tenant file and `--replay` too (until the next reset)."""
        self.call("DELETE", "stubs")


class Admin(_Api):
    """The admin API of one `cwsim serve`: `.fleet`, `.clock`, `.mail`, `.journal` and `.stubs`."""

    def __init__(self, url: str, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        super().__init__(url.rstrip("/") + "/_sim", headers)
        self.fleet = Fleet(self.base_url, headers)
        self.clock = Clock(self.base_url, headers)
        self.mail = Mail(self.base_url, headers)
        self.journal = Journal(self.base_url, headers)
        self.stubs = Stubs(self.base_url, headers)

    @classmethod
    def from_ready_file(cls, path: str | Path) -> Admin:
        facts = json.loads(Path(path).read_text())
        return cls(facts["url"], facts.get("admin_token"))

    def reset(self) -> None:
        self.call("POST", "reset")

    def faults(self, *rules: dict[str, Any]) -> list[dict[str, Any]]:
        """Add fault rules (see docs/faults.md); returns them with their ids."""
        return self.call("POST", "faults", json=list(rules))


def wait_until(
    predicate: Callable[[], Any], timeout: float = WAIT_SECONDS, what: str | Callable[[], str] = "the condition"
) -> Any:
    """Poll `predicate` until it returns something true, and return that; AssertionError at the deadline.

    The one way a test waits for something that happens in the background: never a bare sleep.
    `what` (or a function giving it, read only on failure) says what was awaited.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"waited {timeout:g} s for {said}"[:2000])
        time.sleep(POLL_SECONDS)  # polling, with a deadline
