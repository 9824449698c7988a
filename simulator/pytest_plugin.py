"""pytest fixtures for the fakes: a session-scoped `cwsim serve` on a free port, reset for each test.

Registered through the `pytest11` entry point, so installing cwsim is enough:

    def test_ticket(cwsim):
        api = cwsim.session()
        api.post("service/tickets", json={"summary": "Backup failed", "company": {"id": 1}})

Given a server started elsewhere (`--cwsim-url URL`, or `--cwsim-ready-file PATH` / the
CWSIM_READY_FILE variable naming `cwsim serve --ready-file`'s file), the fixtures attach to it and
never start their own. Either way everything they do goes over HTTP, so server-side errors (a 500
from the fake) fail the test that caused them in both modes.

Importing this module costs almost nothing: pytest loads it in every run of an environment with
cwsim installed, so the server, Flask, Faker and requests are imported only inside the fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .connection import Cwsim, ServedFake
    from .testing import Clock, ConnectWiseConfig, Fleet, Journal, Mail, Stubs

READY_TIMEOUT_SECONDS = 60.0
READY_FILE_VARIABLE = "CWSIM_READY_FILE"
ADMIN_TOKEN_VARIABLE = "CWSIM_ADMIN_TOKEN"

# Names users import from here; each lives in a module without pytest, loaded on first use.
_REEXPORTS = {
    "ApiSession": "client",
    "basic_auth": "client",
    "Cwsim": "connection",
    "ConnectWiseConfig": "testing",
    "Admin": "testing",
    "Fleet": "testing",
    "Clock": "testing",
    "Mail": "testing",
    "Journal": "testing",
    "Stubs": "testing",
}


def __getattr__(name: str) -> Any:
    if name in _REEXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_REEXPORTS[name]}", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# (option, ini name, kind, default, help): each works on the command line and as an ini option.
_OPTIONS: list[tuple[str, str, str, Any, str]] = [
    ("--cwsim-seed", "cwsim_seed", "int", 0, "seed of the cwsim tenant (default 0)"),
    ("--cwsim-companies", "cwsim_companies", "int", None, "companies in the cwsim tenant (default 36)"),
    (
        "--cwsim-tenant",
        "cwsim_tenant",
        "str",
        None,
        "a tenant file (path or built-in name) instead of the generated tenant",
    ),
    ("--cwsim-url", "cwsim_url", "str", None, "attach to the cwsim serve at this URL instead of starting one"),
    (
        "--cwsim-ready-file",
        "cwsim_ready_file",
        "str",
        None,
        f"attach to the cwsim serve that wrote this ready file (default: ${READY_FILE_VARIABLE}); waits for it",
    ),
    (
        "--cwsim-admin-token",
        "cwsim_admin_token",
        "str",
        None,
        f"the admin token of an attached server started with one (default: ${ADMIN_TOKEN_VARIABLE})",
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cwsim")
    for flag, ini_name, kind, default, help_text in _OPTIONS:
        group.addoption(flag, dest=ini_name, type=int if kind == "int" else str, default=None, help=help_text)
        parser.addini(ini_name, help_text, default=None if default is None else str(default))


def setting(config: pytest.Config, name: str) -> Any:
    """An option's value: the command line first, then the ini file, then its default."""
    value = config.getoption(name)
    if value is None:
        value = config.getini(name)
    kind = next(option[2] for option in _OPTIONS if option[1] == name)
    if value in (None, ""):
        return None
    return int(value) if kind == "int" else str(value)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cwsim_seed(seed): the cwsim fake generates its tenant from this seed")
    config.addinivalue_line("markers", "cwsim_tenant(name_or_path): the cwsim fake serves this tenant file")


def attach_target(config: pytest.Config) -> tuple[str, str] | None:
    """("url", URL) or ("ready_file", PATH) when the run should attach to a server; None to start one."""
    url = setting(config, "cwsim_url")
    if url:
        return ("url", url)
    ready_file = setting(config, "cwsim_ready_file") or os.environ.get(READY_FILE_VARIABLE)
    return ("ready_file", ready_file) if ready_file else None


@pytest.fixture(scope="session")
def cwsim_server(pytestconfig: pytest.Config) -> Iterator[ServedFake]:
    """The session's fake: attached to one started elsewhere, or one `cwsim serve` on a free loopback port."""
    from .connection import AttachedServer, InProcessServer

    token = setting(pytestconfig, "cwsim_admin_token") or os.environ.get(ADMIN_TOKEN_VARIABLE) or None
    target = attach_target(pytestconfig)
    if target is not None:
        kind, where = target
        if kind == "url":
            yield AttachedServer.from_url(where, token, timeout=READY_TIMEOUT_SECONDS)
        else:
            yield AttachedServer.from_ready_file(where, token, timeout=READY_TIMEOUT_SECONDS)
        return
    from .server import RunningServer, ServeOptions
    from .world import WorldOptions

    world = {name: setting(pytestconfig, f"cwsim_{name}") for name in ("seed", "companies", "tenant")}
    options = ServeOptions(
        port=0, smtp_port=0, world=WorldOptions(**{name: value for name, value in world.items() if value is not None})
    )
    server = RunningServer(options).start(timeout=READY_TIMEOUT_SECONDS)
    try:
        yield InProcessServer(server)
    finally:
        server.stop()


@pytest.fixture
def cwsim(cwsim_server: ServedFake, request: pytest.FixtureRequest) -> Iterator[Cwsim]:
    """The session's fake, reset to its seed state before the test; fails the test on a server error.

    `@pytest.mark.cwsim_tenant("datto-ready")` or `@pytest.mark.cwsim_seed(7)` give one test
    another tenant; the next test gets the session's own back.
    """
    from .connection import Cwsim, FakeControl

    control = FakeControl(cwsim_server)
    control.reset_to_startup()
    tenant = request.node.get_closest_marker("cwsim_tenant")
    seed = request.node.get_closest_marker("cwsim_seed")
    if tenant is not None:
        control.use_tenant(tenant.args[0])
    elif seed is not None:
        control.use_seed(seed.args[0])
    errors_before = control.error_count()
    yield Cwsim(cwsim_server)
    new_errors = control.errors_since(errors_before)
    if new_errors:
        pytest.fail("cwsim served errors during this test:\n" + "\n\n".join(new_errors), pytrace=False)


@pytest.fixture
def cwsim_connectwise(cwsim: Cwsim) -> ConnectWiseConfig:
    """What your ConnectWise client needs to reach the fake (site, API URL, company, keys, clientId)."""
    from .testing import ConnectWiseConfig

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


@pytest.fixture
def cwsim_stubs(cwsim: Cwsim) -> Iterator[Stubs]:
    """Stubs on the fake: `cwsim_stubs.add({"match": {"path": "/v4_6_release/apis/3.0/service/tickets*"},
    "respond": {"json": [...]}})`. The stubs the test added are deleted after it (those of the tenant file stay)."""
    stubs = cwsim.helpers.stubs
    yield stubs
    stubs.remove_added()
