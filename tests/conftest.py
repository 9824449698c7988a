"""Shared test helpers: an in-process app (Flask test client) beside the plugin's real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from cwsim.simulator.pytest_plugin import Cwsim, basic_auth
from cwsim.simulator.server import create_app
from cwsim.simulator.world import World, WorldOptions

API = "/v4_6_release/apis/3.0"
MEMBER_HEADERS = {"Authorization": basic_auth("cwsim", "cwsim-public", "cwsim-private"), "clientId": "tests"}
INTEGRATOR_HEADERS = {
    "Authorization": basic_auth("cwsim", "dattoCW", "cwsim-integrator"),
    "clientId": "tests",
    "x-cw-usertype": "integrator",
}


class Api:
    """The ConnectWise API of an in-process app, as the API member."""

    def __init__(self, client: FlaskClient, world: World) -> None:
        self.client = client
        self.world = world

    def call(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any):
        return self.client.open(f"{API}/{path.lstrip('/')}", method=method, headers=headers or MEMBER_HEADERS, **kwargs)

    def get(self, path: str, **kwargs: Any):
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any):
        return self.call("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any):
        return self.call("PUT", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any):
        return self.call("PATCH", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any):
        return self.call("DELETE", path, **kwargs)


@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldOptions(seed=7, companies=12))


@pytest.fixture
def api(world: World) -> Iterator[Api]:
    """A fresh (reset) in-process fake, driven through Flask's test client."""
    world.reset(startup=True)
    world.errors.clear()
    yield Api(create_app(world).test_client(), world)
    assert world.errors == [], "the fake raised an unexpected error"


@pytest.fixture
def admin(cwsim: Cwsim) -> requests.Session:
    """The plugin server's admin API (`/_sim/...`)."""
    return cwsim.admin()


@pytest.fixture
def cw(cwsim: Cwsim) -> requests.Session:
    """The plugin server's ConnectWise API as the API member (a module may define its own `cw`)."""
    return cwsim.session()


@pytest.fixture(scope="session")
def built_dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """cwsim's sdist and wheel, built once per session (the wheel from the sdist) for the packaging tests."""
    from .venvkit import build_dist

    return build_dist(tmp_path_factory.mktemp("dist"))
