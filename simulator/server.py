"""One WSGI app on one port (ConnectWise API, Datto portal API, admin API), served by waitress with threads."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import waitress.server
from flask import Flask, Response, g, request

from .admin import admin_blueprint
from .connectwise.endpoints import endpoint_index
from .connectwise.errors import CwError
from .connectwise.resources import ConnectWiseApi, connectwise_blueprint, error_response, json_response
from .connectwise.routing import Router
from .connectwise.tenant import INTEGRATOR_PASSWORD, INTEGRATOR_USERNAME, PRIVATE_KEY, PUBLIC_KEY
from .datto.portal import portal_blueprint
from .world import World, WorldOptions

log = logging.getLogger("cwsim.server")
DEFAULT_PORT = 8642
DEFAULT_THREADS = 8
CLIENT_ID = "cwsim-client"
UNJOURNALED_PREFIXES = ("/_sim",)


def create_app(world: World) -> Flask:
    """The Flask app for one world: every face of the fake, on one origin."""
    app = Flask(__name__)
    app.url_map.strict_slashes = False
    app.extensions["cwsim.world"] = world
    api = ConnectWiseApi(lambda: world.backend, Router(world.backend.collections.values(), endpoint_index()))
    app.register_blueprint(connectwise_blueprint(api))
    app.register_blueprint(portal_blueprint(lambda: world.fleet, world.portal))
    app.register_blueprint(admin_blueprint(world))
    _add_journal(app, world)

    @app.errorhandler(CwError)
    def cw_error(error: CwError) -> Response:
        return error_response(error)

    @app.errorhandler(404)
    def not_found(error: Exception) -> Response:
        return json_response(
            {"code": "NotFound", "message": f"{request.method} {request.path} is not served here", "errors": None}, 404
        )

    @app.errorhandler(405)
    def wrong_method(error: Exception) -> Response:
        return json_response(
            {
                "code": "MethodNotAllowed",
                "message": f"{request.method} is not allowed on {request.path}",
                "errors": None,
            },
            405,
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        world.errors.append(f"{request.method} {request.path}\n{traceback.format_exc()}")
        body = {
            "code": "ConnectWiseApi",
            "message": f"An unexpected error occurred in the fake: {type(error).__name__}",
            "errors": None,
        }
        return json_response(body, 500)

    return app


def _add_journal(app: Flask, world: World) -> None:
    @app.before_request
    def start_timer() -> None:
        g.cwsim_started = time.perf_counter()

    @app.after_request
    def journal(response: Response) -> Response:
        if request.path.startswith(UNJOURNALED_PREFIXES):
            return response
        started = getattr(g, "cwsim_started", time.perf_counter())
        raw = request.get_data(cache=True)
        world.journal.record(
            world.clock.now(),
            request.method,
            request.path,
            request.query_string.decode("utf-8", errors="replace"),
            response.status_code,
            response.calculate_content_length() or 0,
            (time.perf_counter() - started) * 1000,
            raw,
        )
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s -> %s", request.method, request.full_path.rstrip("?"), response.status_code)
        return response


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    threads: int = DEFAULT_THREADS
    ready_file: Path | None = None
    world: WorldOptions = field(default_factory=WorldOptions)


class RunningServer:
    """A bound `cwsim serve`: run it in the foreground, or start it in a thread (tests)."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.world = World(options.world)
        self.app = create_app(self.world)
        self.server = waitress.server.create_server(
            self.app, host=options.host, port=options.port, threads=options.threads, ident="cwsim"
        )
        self.ready = threading.Event()
        self.on_ready: Callable[[dict[str, Any]], None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self.options.host}:{self.port}"

    def facts(self) -> dict[str, Any]:
        """What a client needs to talk to this server: the ready file's contents."""
        settings = self.world.backend.settings
        return {
            "url": self.url,
            "api_url": f"{self.url}/v4_6_release/apis/3.0",
            "host": self.options.host,
            "port": self.port,
            "companyId": settings.company_id,
            "publicKey": PUBLIC_KEY,
            "privateKey": PRIVATE_KEY,
            "clientId": CLIENT_ID,
            "integrator": {"username": INTEGRATOR_USERNAME, "password": INTEGRATOR_PASSWORD},
            "portal": {
                "url": f"{self.url}/v1/bcdr",
                "publicKey": self.world.portal.settings.public_key,
                "secretKey": self.world.portal.settings.secret_key,
            },
            "clock": {"mode": str(self.world.clock.mode), "rate": self.world.clock.rate},
            "fleet": {"devices": len(self.world.fleet.fleet.devices), "seed": self.world.fleet.fleet.spec.seed},
            "pid": os.getpid(),
        }

    def run(self) -> None:
        """Serve in this thread until SIGINT/SIGTERM (raised as KeyboardInterrupt/SystemExit)."""
        threading.Thread(target=self._announce_when_answering, name="cwsim-ready", daemon=True).start()
        self.world.start()
        self.server.run()

    def start(self, timeout: float = 30.0) -> RunningServer:
        """Serve in a background thread; returns once the server answers (or raises on timeout)."""
        self._thread = threading.Thread(target=self.run, name="cwsim-serve", daemon=True)
        self._thread.start()
        if not self.ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"cwsim serve did not answer on {self.url} within {timeout} s")
        return self

    def stop(self) -> None:
        """Close every connection and the worker threads; the serving loop then returns."""
        logging.getLogger("waitress").setLevel(logging.CRITICAL)
        while self.server._map:
            for channel in list(self.server._map.values()):
                channel.handle_close()
        self.server.task_dispatcher.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.world.close()

    def _announce_when_answering(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/_sim/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.02)  # polling our own port with a deadline; not a readiness sleep in a test
        else:
            log.error("cwsim serve did not answer its own health check within %s s", timeout)
            return
        if self.options.ready_file is not None:
            write_json_atomically(self.options.ready_file, self.facts())
        if self.on_ready is not None:
            self.on_ready(self.facts())
        self.ready.set()


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that a reader sees the old file or the whole new one, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.replace(temporary, path)


def describe(facts: dict[str, Any]) -> str:
    """The block `cwsim serve` prints on start: the same facts as the ready file."""
    integrator, portal, fleet = facts["integrator"], facts["portal"], facts["fleet"]
    lines = [
        "cwsim is serving a fake ConnectWise Manage",
        f"  URL            {facts['url']}",
        f"  API            {facts['api_url']}",
        f"  companyId      {facts['companyId']}",
        f"  API keys       public {facts['publicKey']}  private {facts['privateKey']}",
        f"  clientId       any non-empty value, e.g. {facts['clientId']}",
        f"  integrator     {integrator['username']} / {integrator['password']}  (header x-cw-usertype: integrator)",
        f"  admin API      {facts['url']}/_sim/health",
        f"  Datto portal   {portal['url']}  keys {portal['publicKey']} / {portal['secretKey']}",
        f"  fleet          {fleet['devices']} appliances, seed {fleet['seed']}; clock {facts['clock']['mode']}",
    ]
    return "\n".join(lines)
