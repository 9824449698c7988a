"""pytest fixtures for the fakes: a session-scoped `cwsim serve` on a free port, reset for each test.

Registered through the `pytest11` entry point, so installing cwsim is enough:

    def test_ticket(cwsim):
        api = cwsim.session()
        api.post("service/tickets", json={"summary": "Backup failed", "company": {"id": 1}})

Server-side errors (a 500 from the fake) fail the test that caused them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from .admin_access import admin_headers
from .connectwise.tenant_file import load_tenant_file
from .server import RunningServer, ServeOptions
from .testing import Admin, Clock, ConnectWiseConfig, Fleet, Journal, Mail
from .world import WorldOptions

READY_TIMEOUT_SECONDS = 60.0


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
    token = base64.b64encode(f"{company_id}+{user}:{secret}".encode()).decode()
    return f"Basic {token}"


class Cwsim:
    """What a test gets from the `cwsim` fixture: URLs, credentials, sessions, and the live world."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.world = server.world
        self.facts = server.facts()
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
        return ApiSession(self.url + "/_sim", admin_headers(self.server.options.admin_token))

    @property
    def helpers(self) -> Admin:
        """Typed helpers over the admin API: `.fleet`, `.clock`, `.mail`, `.journal`."""
        return Admin(self.url)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cwsim")
    group.addoption("--cwsim-seed", type=int, default=0, help="seed of the cwsim tenant (default 0)")
    group.addoption("--cwsim-companies", type=int, default=WorldOptions.companies, help="companies in the cwsim tenant")
    group.addoption(
        "--cwsim-tenant", default=None, help="a tenant file (path or built-in name) instead of the generated tenant"
    )


@pytest.fixture(scope="session")
def cwsim_server(pytestconfig: pytest.Config) -> Iterator[RunningServer]:
    """One `cwsim serve` for the session, on a free loopback port, ready before the first test."""
    options = ServeOptions(
        port=0,
        smtp_port=0,
        world=WorldOptions(
            seed=pytestconfig.getoption("cwsim_seed"),
            companies=pytestconfig.getoption("cwsim_companies"),
            tenant=pytestconfig.getoption("cwsim_tenant"),
        ),
    )
    server = RunningServer(options).start(timeout=READY_TIMEOUT_SECONDS)
    yield server
    server.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cwsim_seed(seed): the cwsim fake generates its tenant from this seed")
    config.addinivalue_line("markers", "cwsim_tenant(name_or_path): the cwsim fake serves this tenant file")


@pytest.fixture
def cwsim(cwsim_server: RunningServer, request: pytest.FixtureRequest) -> Iterator[Cwsim]:
    """The session's fake, reset to its seed state before the test; fails the test on a server error.

    `@pytest.mark.cwsim_tenant("datto-ready")` or `@pytest.mark.cwsim_seed(7)` give one test
    another tenant; the next test gets the session's own back.
    """
    world = cwsim_server.world
    world.reset(startup=True)
    tenant = request.node.get_closest_marker("cwsim_tenant")
    seed = request.node.get_closest_marker("cwsim_seed")
    if tenant is not None:
        world.load_tenant(load_tenant_file(tenant.args[0], world.clock))
    elif seed is not None:
        world.use_seed(seed.args[0])
    errors_before = len(cwsim_server.world.errors)
    yield Cwsim(cwsim_server)
    new_errors = cwsim_server.world.errors[errors_before:]
    if new_errors:
        pytest.fail("cwsim served errors during this test:\n" + "\n\n".join(new_errors), pytrace=False)


@pytest.fixture
def cwsim_connectwise(cwsim: Cwsim) -> ConnectWiseConfig:
    """What your ConnectWise client needs to reach the fake (site, API URL, company, keys, clientId)."""
    return ConnectWiseConfig.from_facts(cwsim.facts)


@pytest.fixture
def cwsim_fleet(cwsim: Cwsim) -> Fleet:
    """The simulated appliances: devices, exact cases (`patch`), incidents, events, the truth."""
    return cwsim.helpers.fleet


@pytest.fixture
def cwsim_clock(cwsim: Cwsim) -> Clock:
    """The simulated clock, switched to stepped mode: time moves only when the test says so."""
    clock = cwsim.helpers.clock
    clock.stepped()
    return clock


@pytest.fixture
def cwsim_mail(cwsim: Cwsim) -> Mail:
    """Mail caught by the fake's SMTP server (`cwsim.facts["smtp"]`)."""
    return cwsim.helpers.mail


@pytest.fixture
def cwsim_journal(cwsim: Cwsim) -> Journal:
    """The request journal, with `assert_one_post("/service/tickets", containing=serial)`."""
    return cwsim.helpers.journal
