"""The pytest plugins attach to a server started elsewhere, over HTTP only, and cost almost nothing to import."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cwsim.simulator.server import RunningServer, ServeOptions
from cwsim.simulator.world import WorldOptions

pytest_plugins = ["pytester"]

HEAVY = ("flask", "faker", "marshmallow", "aiosmtpd", "cryptography", "requests")
TOKEN = "attach-token-123"


def heavy_modules_after(*imports: str) -> list[str]:
    """Heavy top-level modules in sys.modules of a fresh interpreter after importing `imports` (and pytest)."""
    code = (
        "import sys, pytest\n"
        + "".join(f"import {name}\n" for name in imports)
        + f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return eval(out)  # a printed list of strings


@pytest.mark.slow
def test_importing_both_plugins_loads_no_server_library() -> None:
    assert heavy_modules_after("cwsim.simulator.pytest_plugin", "cwsim.scenarios.pytest_plugin") == []
    # Negative control: the check sees a heavy import when there is one (the server, or the client helpers).
    assert "flask" in heavy_modules_after("cwsim.simulator.pytest_plugin", "cwsim.simulator.server")
    assert heavy_modules_after("cwsim.simulator.connection") == ["requests"]


def test_names_users_import_from_the_plugin_still_resolve() -> None:
    from cwsim.simulator import pytest_plugin
    from cwsim.simulator.client import ApiSession, basic_auth
    from cwsim.simulator.connection import Cwsim
    from cwsim.simulator.testing import ConnectWiseConfig

    assert (pytest_plugin.ApiSession, pytest_plugin.basic_auth) == (ApiSession, basic_auth)
    assert (pytest_plugin.Cwsim, pytest_plugin.ConnectWiseConfig) == (Cwsim, ConnectWiseConfig)
    with pytest.raises(AttributeError):
        pytest_plugin.NoSuchName  # noqa: B018


@pytest.fixture(scope="module")
def outside_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server this test module starts, as a CI pipeline would, with a ready file; the runs under test attach."""
    ready = tmp_path_factory.mktemp("attach") / "cwsim.json"
    options = ServeOptions(port=0, smtp_port=0, ready_file=ready, world=WorldOptions(companies=4))
    server = RunningServer(options).start(timeout=60.0)
    yield server
    server.stop()


ATTACHED_TESTS = """
import sys

def test_creates_a_ticket(cwsim):
    assert cwsim.server is None and cwsim.world is None, "attached: no server object in this process"
    assert "cwsim.simulator.server" not in sys.modules, "nothing here could have started a server"
    assert cwsim.url == "{url}"
    created = cwsim.session().post("service/tickets", json={{"summary": "first-{tag}", "company": {{"id": 1}}}})
    assert created.status_code == 201

def test_sees_a_fresh_fake_then_creates_one(cwsim, cwsim_journal):
    assert cwsim.session().get("service/tickets/count").json() == {{"count": 0}}
    assert cwsim_journal.requests(method="POST") == []
    created = cwsim.session().post("service/tickets", json={{"summary": "last-{tag}", "company": {{"id": 1}}}})
    assert created.status_code == 201
"""


def journal_posts(server: RunningServer, containing: str) -> list[dict]:
    return [e for e in server.world.journal.entries() if e.method == "POST" and containing in json.dumps(e.body)]


@pytest.mark.slow
def test_a_run_attaches_to_the_server_named_by_cwsim_ready_file(
    pytester: pytest.Pytester, outside_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(ATTACHED_TESTS.format(url=outside_server.url, tag="ready-file"))
    monkeypatch.setenv("CWSIM_READY_FILE", str(outside_server.options.ready_file))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    # The outside server's journal holds the run's requests (since the last test's reset, which
    # cleared the first test's POST): this server, not one of the run's own, served them.
    assert len(journal_posts(outside_server, "last-ready-file")) == 1
    assert journal_posts(outside_server, "first-ready-file") == []
    assert outside_server.world.backend.store.table("service/tickets").records, "the ticket is in this server"


@pytest.mark.slow
def test_a_run_attaches_by_url_set_as_an_ini_option(pytester: pytest.Pytester, outside_server: RunningServer) -> None:
    pytester.makeini(f"[pytest]\ncwsim_url = {outside_server.url}\n")
    pytester.makepyfile(
        f"""
        def test_keeps_its_ticket(cwsim):
            assert cwsim.world is None and cwsim.url == "{outside_server.url}"
            api = cwsim.session()
            assert api.post("service/tickets", json={{"summary": "by-url", "company": {{"id": 1}}}}).status_code == 201
        """
    )
    outside_server.world.journal.clear()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert len(journal_posts(outside_server, "by-url")) == 1, "the attached run's POST is in the server's journal"


@pytest.mark.slow
def test_a_server_error_fails_the_attached_test_that_caused_it(
    pytester: pytest.Pytester, outside_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom in the outside server")

    pytester.makepyfile(
        """
        def test_breaks_the_server(cwsim):
            assert cwsim.world is None
            assert cwsim.session().get("service/tickets").status_code == 500

        def test_next_one_is_clean(cwsim):
            assert cwsim.admin().get("health").status_code == 200
        """
    )
    monkeypatch.setattr(outside_server.world.backend, "query", explode)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--cwsim-url", outside_server.url)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*cwsim served errors during this test*", "*RuntimeError: boom in the outside server*"]
    )


@pytest.mark.slow
def test_a_server_with_an_admin_token_is_attached_with_cwsim_admin_token(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = tmp_path / "guarded.json"
    options = ServeOptions(port=0, smtp_port=0, ready_file=ready, admin_token=TOKEN, world=WorldOptions(companies=2))
    server = RunningServer(options).start(timeout=60.0)
    try:
        pytester.makepyfile(
            """
            def test_admin_calls_carry_the_token(cwsim, cwsim_fleet):
                assert cwsim.admin().get("health").status_code == 200
                assert cwsim_fleet.devices()
            """
        )
        monkeypatch.setenv("CWSIM_READY_FILE", str(ready))
        without = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        without.assert_outcomes(errors=1)  # negative control: the fixture's reset is refused without it
        without.stdout.fnmatch_lines(["*POST /_sim/reset answered 401*"])
        monkeypatch.setenv("CWSIM_ADMIN_TOKEN", TOKEN)
        pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    finally:
        server.stop()


@pytest.mark.slow
def test_ini_options_configure_the_plugins_own_server(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncwsim_companies = 3\ncwsim_seed = 5\n")
    pytester.makepyfile(
        """
        def test_its_tenant(cwsim):
            assert cwsim.world is not None and cwsim.world.options.seed == 5
            assert cwsim.session().get("company/companies/count").json() == {"count": 3}
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_admin_endpoints_the_fixtures_use_answer_bad_input_in_connectwise_shape(world) -> None:
    from cwsim.simulator.server import create_app

    client = create_app(world).test_client()
    for body in ({"seed": "seven"}, {"seed": True}, [7], None):
        answer = client.post("/_sim/seed", json=body)
        assert (
            answer.status_code == 400
            and answer.json["code"]
            and "seed must be a whole number" in answer.json["message"]
        ), (body, answer.json)
    unknown = client.post("/_sim/tenant", query_string={"builtin": "no-such-tenant"})
    assert unknown.status_code == 400 and "no built-in tenant of that name" in unknown.json["message"]
    traversal = client.post("/_sim/tenant", query_string={"builtin": "../../etc/passwd"})
    assert traversal.status_code == 400, "a built-in name never reads a path"
    assert client.get("/_sim/errors", query_string={"since": "x"}).status_code == 400
    assert client.get("/_sim/facts").status_code == 404, "an app not run by `cwsim serve` has no facts"


def test_errors_and_a_reset_to_startup_over_http(world) -> None:
    from cwsim.simulator.server import create_app

    client = create_app(world).test_client()
    before = client.get("/_sim/errors").json["count"]
    world.errors.append("GET /x\nTraceback: boom")
    try:
        assert client.get("/_sim/errors", query_string={"since": before}).json == {
            "count": before + 1,
            "errors": ["GET /x\nTraceback: boom"],
        }
        assert client.post("/_sim/seed", json={"seed": 3}).json["seed"] == 3
        assert world.fleet.fleet.spec.seed == 3
        assert client.post("/_sim/reset", json={"startup": True}).status_code == 200
        assert world.fleet.fleet.spec.seed == world.options.seed, "back to the startup tenant and fleet"
    finally:
        world.errors.pop()
