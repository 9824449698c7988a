"""One WSGI app on one port (ConnectWise API, Datto portal API, admin API), served by waitress or granian;
behind a TLS proxy with --tls, and always also reachable through the fault proxy."""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import requests
import waitress.server
from flask import Flask, Response, g, request
from waitress import wasyncore
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .admin import admin_blueprint
from .admin_access import admin_headers, check_bind, require_admin_token
from .admin_state import state_blueprint
from .atomic_files import write_json_atomically
from .connectwise.auth import INTEGRATOR_LOGINS
from .connectwise.endpoints import endpoint_index
from .connectwise.errors import CwError
from .connectwise.resources import ConnectWiseApi, connectwise_blueprint, error_response, json_response
from .connectwise.routing import Router
from .dashboard import dashboard_blueprint
from .datto.portal import portal_blueprint
from .fault_hooks import collection_lineage, install_fault_hooks
from .fault_proxy import FaultRelay
from .faults import FaultDecision, FaultRequest, Lineage, client_of, is_admin_path
from .granian_serving import GranianServing, https_scheme
from .http_framing import RequestFrame
from .journal import redact_query
from .mail import SmtpCatcher
from .proxy import LoopbackProxy
from .state import read_state_file, save_state_file
from .stub_hooks import install_stub_hook
from .tls import LocalTls, local_tls
from .world import World, WorldOptions

log = logging.getLogger("cwsim.server")
DEFAULT_PORT = 8642
DEFAULT_SMTP_PORT = 8025
DEFAULT_THREADS = 8
SERVERS = ("waitress", "granian")
# The command line's server: granian answered the fake's ticket POSTs 1.1-2.4 times as fast as waitress in
# every round measured on the project's 2-CPU VM (benchmarks/bench_servers.py; docs/load-testing.md).
# In-process servers (the pytest plugin, tests) are always waitress: granian serves only from a main thread,
# in a process of its own.
DEFAULT_SERVER = "granian"
SERVER_VARIABLE = "CWSIM_SERVER"  # `cwsim serve --server`'s default, so demo, run and load choose for their fake
LOOP_WAKEUP_SECONDS = 0.2  # how soon the serving loop notices stop(); not a wait for readiness
CLIENT_ID = "cwsim-client"
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024  # ASP.NET's default request limit, which ConnectWise runs on
MAX_ADMIN_BODY_BYTES = 256 * 1024 * 1024  # a whole state or tenant document


class CwsimFlask(Flask):
    """Flask, asking once per function whether a hook or view is a coroutine function.

    Flask asks `inspect.iscoroutinefunction` for every hook and view on every request (seven times
    per API request here); the answer never changes for a function, and none of ours is async.
    """

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        known = self._sync_functions.get(func)
        if known is None:
            known = self._sync_functions[func] = super().ensure_sync(func)
        return known

    @cached_property
    def _sync_functions(self) -> dict[Callable[..., Any], Callable[..., Any]]:
        return {}


def create_app(world: World, admin_token: str | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Flask:
    """The Flask app for one world: every face of the fake, on one origin.

    With `admin_token`, every /_sim request must carry it. Request bodies past `max_body_bytes`
    (past MAX_ADMIN_BODY_BYTES on /_sim) are answered 413.
    """
    app = CwsimFlask(__name__)
    app.url_map.strict_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.extensions["cwsim.world"] = world
    if admin_token:
        require_admin_token(app, admin_token)
    collections = list(world.backend.collections.values())
    router = Router(collections, endpoint_index())
    api = ConnectWiseApi(lambda: world.backend, router)
    app.register_blueprint(connectwise_blueprint(api))
    app.register_blueprint(portal_blueprint(lambda: world.fleet, world.portal))
    app.register_blueprint(admin_blueprint(world))
    app.register_blueprint(state_blueprint(world))
    app.register_blueprint(dashboard_blueprint(world))
    lineage = collection_lineage(router, collections)
    app.extensions["cwsim.lineage"] = lineage

    admin_limit = max(MAX_ADMIN_BODY_BYTES, max_body_bytes)

    @app.before_request
    def body_limit() -> None:
        """Admin documents (a whole state) may be larger; an oversized body is refused before it is read.

        Reads the WSGI environ directly: this runs on every request, and the request's properties cost more.
        """
        environ = request.environ
        limit = max_body_bytes
        if is_admin_path(environ.get("PATH_INFO", "")):
            request.max_content_length = limit = admin_limit
        length = environ.get("CONTENT_LENGTH")
        if length and length.isdigit() and int(length) > limit:
            raise RequestEntityTooLarge()
        g.cwsim_started = time.perf_counter()  # the journal's timer, from here (one hook fewer per request)

    _add_journal(app, world)
    install_fault_hooks(app, world.faults, lineage)
    install_stub_hook(app, world.stubs)

    @app.errorhandler(CwError)
    def cw_error(error: CwError) -> Response:
        return error_response(error)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> Response:
        limit = request.max_content_length
        return json_response(
            {
                "code": "RequestTooLarge",
                "message": f"The request body is larger than the {limit}-byte limit of this server.",
                "errors": [
                    {
                        "code": "InvalidField",
                        "message": f"At most {limit} bytes.",
                        "resource": "request",
                        "field": "body",
                    }
                ],
            },
            413,
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 400
        return json_response(
            {"code": (error.name or "Error").replace(" ", ""), "message": error.description, "errors": None}, status
        )

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
    """Journal every request but /_sim's; its timer starts in the body-limit hook (create_app)."""

    @app.after_request
    def journal(response: Response) -> Response:
        # The request and g are read once each: every read through Flask's proxies looks up the context.
        current = request._get_current_object()  # type: ignore[attr-defined]
        path = current.path
        if is_admin_path(path):  # the control plane and the dashboard: not what a client asked
            return response
        world.stats.requests.add()
        context = g._get_current_object()  # type: ignore[attr-defined]
        started = getattr(context, "cwsim_started", None) or time.perf_counter()
        try:
            raw = current.get_data(cache=True)
        except RequestEntityTooLarge:
            raw = b""  # refused unread; the journal keeps the request without its body
        query = current.query_string.decode("utf-8", errors="replace")
        decision = getattr(context, "cwsim_fault", None)
        world.journal.record(
            world.clock.now(),
            current.method,
            path,
            query,
            response.status_code,
            response.calculate_content_length() or 0,
            (time.perf_counter() - started) * 1000,
            raw,
            decision.rule.id if decision is not None else None,
            getattr(context, "cwsim_stub", None),
        )
        if log.isEnabledFor(logging.INFO):
            shown = redact_query(query)
            log.info("%s %s%s -> %s", current.method, path, f"?{shown}" if shown else "", response.status_code)
        return response


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    smtp_port: int = DEFAULT_SMTP_PORT
    threads: int = DEFAULT_THREADS
    ready_file: Path | None = None
    world: WorldOptions = field(default_factory=WorldOptions)
    state_file: Path | None = None  # loaded at start when it exists, saved on a clean stop
    tls: bool = False
    ca_file: Path | None = None  # where --tls writes its CA certificate (default: a new temp dir)
    fault_proxy_port: int = 0  # the fault proxy's port (0: a free one); it always runs
    admin_token: str | None = None  # required on /_sim when given; needed to listen beyond loopback
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    server: str = "waitress"  # the WSGI server: waitress (in this process) or granian (in its forked worker)


INTERNAL_HOST = "127.0.0.1"  # the WSGI server's address behind the TLS proxy


class RunningServer:
    """A bound `cwsim serve`: run it in the foreground, or start it in a thread (tests; waitress only).

    Raises UnsafeBind (a non-loopback address without an admin token), TenantFileError (a bad
    --tenant), StateProblems (a bad --state file) or OSError (a port in use) before anything is served.

    With granian the world, the app and every listening socket are made here, in the process that
    checks the options, and granian forks its one worker from it: the worker inherits them, starts
    what runs in threads (the proxies, the mail catcher, the fleet's clock, the ready check) and
    saves the state file when it stops, since the state lives there.
    """

    def __init__(self, options: ServeOptions) -> None:
        check_bind(options.host, options.admin_token)
        if options.server not in SERVERS:
            raise ValueError(f"no server {options.server!r}; choose from {', '.join(SERVERS)}")
        self.options = options
        self.world = World(options.world)
        self.state_notes: list[str] = []  # what an older state file could not restore
        if options.state_file is not None and Path(options.state_file).exists():
            self.state_notes = self.world.state.restore(read_state_file(options.state_file))
        self.app = create_app(self.world, options.admin_token, options.max_body_bytes)
        self.app.extensions["cwsim.facts"] = self.facts  # GET /_sim/facts: attaching given only the URL
        self.tls: LocalTls | None = local_tls(options.ca_file) if options.tls else None
        self.server: waitress.server.BaseWSGIServer | None = None
        self.granian: GranianServing | None = None
        http_host = INTERNAL_HOST if self.tls else options.host
        if options.server == "granian":
            self.granian = GranianServing(http_host, 0 if self.tls else options.port, options.threads, self.tls)
            http_port = self.granian.port
        else:
            self.server = waitress.server.create_server(
                self.app,
                host=http_host,
                port=0 if self.tls else options.port,
                threads=options.threads,
                ident="cwsim",
                url_scheme="https" if self.tls else "http",
                max_request_body_size=max(MAX_ADMIN_BODY_BYTES, options.max_body_bytes),
            )
            http_port = int(self.server.effective_port)
        self.serving_pid = os.getpid()  # the process to signal (granian's worker is its child)
        self.proxy: LoopbackProxy | None = None
        self.fault_proxy: LoopbackProxy | None = None
        try:
            ssl_context = self.tls.context if self.tls is not None else None
            upstream = (INTERNAL_HOST if self.tls else _reachable(options.host), http_port)
            if self.tls is not None:
                self.proxy = LoopbackProxy(options.host, options.port, upstream, ssl_context)
            decide = connection_decider(self.world, self.app.extensions["cwsim.lineage"])
            self.fault_proxy = LoopbackProxy(
                options.host,
                options.fault_proxy_port,
                upstream,
                ssl_context,
                relay=lambda client: FaultRelay(client, decide, self._journal_lost),
            )
            self.smtp = SmtpCatcher(self.world.mailbox, options.host, options.smtp_port)
        except OSError:
            for proxy in (self.proxy, self.fault_proxy):
                if proxy is not None:
                    proxy.stop()
            if self.server is not None:
                self.server.close()
                self.server.task_dispatcher.shutdown()
            raise
        self.world.callbacks.base_url = f"{self.url}/v4_6_release/apis/3.0"  # what callback bodies link to
        self.ready = threading.Event()
        self._stopping = threading.Event()
        self.on_ready: Callable[[dict[str, Any]], None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self.proxy is not None:
            return self.proxy.port
        return self.granian.port if self.granian is not None else int(self.server.effective_port)  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{_url_host(self.options.host)}:{self.port}"

    @property
    def fault_proxy_url(self) -> str:
        assert self.fault_proxy is not None
        return f"{'https' if self.tls else 'http'}://{_url_host(self.options.host)}:{self.fault_proxy.port}"

    def _journal_lost(self, frame: RequestFrame, decision: FaultDecision) -> None:
        """A request the fault proxy broke before the fake saw it: journaled with status 0."""
        body = frame.body
        self.world.journal.record(
            self.world.clock.now(), frame.method, frame.path, frame.query, 0, 0, 0.0, body, decision.rule.id
        )

    def facts(self) -> dict[str, Any]:
        """What a client needs to talk to this server: the ready file's contents."""
        backend = self.world.backend
        settings = backend.settings
        key = settings.api_keys[0] if settings.api_keys else None
        return {
            "url": self.url,
            "api_url": f"{self.url}/v4_6_release/apis/3.0",
            "dashboard": f"{self.url}/",
            "fault_proxy_url": self.fault_proxy_url,
            "fault_proxy_api_url": f"{self.fault_proxy_url}/v4_6_release/apis/3.0",
            "host": self.options.host,
            "port": self.port,
            "companyId": settings.company_id,
            "publicKey": key.public_key if key else None,
            "privateKey": key.private_key if key else None,
            "clientId": CLIENT_ID,
            "integrator": _integrator_login(self.world),
            "smtp": {"host": self.options.host, "port": self.smtp.port},
            "tls": self.tls is not None,
            "ca_file": str(self.tls.ca_file) if self.tls else None,
            "tenant": str(self.options.world.tenant) if self.options.world.tenant is not None else None,
            "state_file": str(self.options.state_file) if self.options.state_file is not None else None,
            "portal": {
                "url": f"{self.url}/v1/bcdr",
                "publicKey": self.world.portal.settings.public_key,
                "secretKey": self.world.portal.settings.secret_key,
            },
            "clock": {"mode": str(self.world.clock.mode), "rate": self.world.clock.rate},
            "fleet": {"devices": len(self.world.fleet.fleet.devices), "seed": self.world.fleet.fleet.spec.seed},
            # The token itself is never written: whoever started the server gave it.
            "admin": {
                "token_required": bool(self.options.admin_token),
                "headers": ["Authorization: Bearer TOKEN", "X-Cwsim-Admin-Token: TOKEN"],
            },
            "pid": self.serving_pid,
            "server": self.options.server,
        }

    def _start_beside(self) -> None:
        """Start what serves next to the WSGI server, in the process that holds the world."""
        if self.proxy is not None:
            self.proxy.start()
        if self.fault_proxy is not None:
            self.fault_proxy.start()
        self.smtp.start()
        threading.Thread(target=self._announce_when_answering, name="cwsim-ready", daemon=True).start()
        self.world.start()

    def run(self) -> None:
        """Serve in this thread until `stop()` (from another thread or a signal handler; with granian, SIGINT or
        SIGTERM, which granian takes). Raises OSError when the state file cannot be saved, WorkerFailed when
        granian's worker stopped by itself."""
        if self.granian is not None:
            self.granian.serve(self._granian_worker_app)
            return
        self._start_beside()
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=LOOP_WAKEUP_SECONDS, map=self.server._map, count=1)  # type: ignore[union-attr]
        finally:
            self._close()
        if self.options.state_file is not None:
            save_state_file(self.options.state_file, self.world.state)

    def _granian_worker_app(self) -> Callable[..., Any]:
        """In granian's worker: start everything that runs beside the app; close it and save the state at exit."""
        self._start_beside()
        assert self.granian is not None
        self.granian.at_worker_exit(self._close_in_worker)
        return https_scheme(self.app) if self.tls is not None else self.app

    def _close_in_worker(self) -> None:
        self._close()
        if self.options.state_file is not None:
            save_state_file(self.options.state_file, self.world.state)

    def start(self, timeout: float = 30.0) -> RunningServer:
        """Serve in a background thread; returns once the server answers (or raises on timeout)."""
        if self.granian is not None:
            raise ValueError("granian serves from the main thread of its own process: start waitress in a thread")
        self._thread = threading.Thread(target=self.run, name="cwsim-serve", daemon=True)
        self._thread.start()
        if not self.ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"cwsim serve did not answer on {self.url} within {timeout} s")
        return self

    def stop(self) -> None:
        """Ask the serving loop to finish; waits for it when it runs in a thread of ours."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _close(self) -> None:
        for proxy in (self.proxy, self.fault_proxy):
            if proxy is not None:
                proxy.stop()
        if self.server is not None:
            for channel in list(self.server._map.values()):
                if channel is self.server:
                    channel.close()  # the listener: its handle_close would only log "unhandled close event"
                else:
                    channel.handle_close()
            self.server.task_dispatcher.shutdown()
        self.smtp.stop()
        self.world.close()  # stops the fleet and lets its sink deliver (or count) what it holds

    def _announce_when_answering(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                verify: str | bool = str(self.tls.ca_file) if self.tls else True
                headers = admin_headers(self.options.admin_token)
                if requests.get(f"{self.url}/_sim/health", headers=headers, timeout=1, verify=verify).ok:
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


def connection_decider(world: World, lineage: Lineage) -> Callable[[RequestFrame, str], FaultDecision | None]:
    """How the fault proxy asks the world's fault book about one request (connection rules only)."""
    book = world.faults

    def decide(frame: RequestFrame, peer: str) -> FaultDecision | None:
        if not book.rules or is_admin_path(frame.path):
            return None
        client = lambda: client_of(frame.headers.get("authorization"), peer)  # noqa: E731
        return book.decide(FaultRequest(frame.method, frame.path, lineage, client, lambda: frame.body), connection=True)

    return decide


def _reachable(host: str) -> str:
    """Where the proxies reach waitress: a wildcard address is reached on loopback."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _integrator_login(world: World) -> dict[str, str] | None:
    """The tenant's first active integrator login (the Datto one in the default tenant)."""
    logins = world.backend.store.table(INTEGRATOR_LOGINS).records
    for _, login in sorted(logins.items()):
        if not login.get("inactiveFlag"):
            return {"username": login["username"], "password": login.get("password") or ""}
    return None


def describe(facts: dict[str, Any]) -> str:
    """The block `cwsim serve` prints on start: the ready file's facts, less every secret.

    Private keys and passwords are only in the ready file and in GET /_sim/state; logs keep none.
    """
    integrator, portal, fleet = facts["integrator"], facts["portal"], facts["fleet"]
    secrets_at = "secrets in the ready file (--ready-file) and GET /_sim/state"
    lines = [
        "cwsim is serving a fake ConnectWise Manage",
        f"  URL            {facts['url']}",
        f"  dashboard      {facts['dashboard']}",
        f"  API            {facts['api_url']}",
        f"  fault proxy    {facts['fault_proxy_api_url']}  (connection faults: see docs/faults.md)",
        f"  companyId      {facts['companyId']}" + (f"  (tenant {facts['tenant']})" if facts.get("tenant") else ""),
        f"  API keys       public {facts['publicKey']}  ({secrets_at})",
        f"  clientId       any non-empty value, e.g. {facts['clientId']}",
    ]
    if integrator:
        lines.append(f"  integrator     {integrator['username']}  (header x-cw-usertype: integrator)")
    smtp = facts["smtp"]
    lines.append(f"  mail catcher   SMTP {smtp['host']}:{smtp['port']}  (read it at {facts['url']}/_sim/mail)")
    if facts.get("ca_file"):
        lines.append(f"  TLS CA file    {facts['ca_file']}")
        lines.append(f"                 export REQUESTS_CA_BUNDLE={facts['ca_file']}")
    if facts.get("state_file"):
        lines.append(f"  state file     {facts['state_file']}  (saved on a clean stop)")
    lines.append(f"  Datto portal   {portal['url']}  key {portal['publicKey']}")
    clock = facts["clock"]["mode"]
    lines.append(f"  fleet          {fleet['devices']} appliances, seed {fleet['seed']}; clock {clock}")
    admin = f"  admin API      {facts['url']}/_sim/health"
    if facts["admin"]["token_required"]:
        admin += "  (needs the admin token: Authorization: Bearer TOKEN)"
    lines.append(admin)
    return "\n".join(lines)
