"""`cwsim record`'s proxy: forwards each request to the upstream and keeps the exchange, saved on stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import waitress.server
from waitress import wasyncore
from werkzeug.wrappers import Request

from .clock import format_iso
from .recording import HOP_BY_HOP, exchange, write_recording

log = logging.getLogger("cwsim.record")
LOOP_WAKEUP_SECONDS = 0.2  # how soon the serving loop notices stop()
DEFAULT_LIMIT = 10_000  # exchanges kept; past it requests are still forwarded, not recorded
UPSTREAM_TIMEOUT = (10.0, 120.0)  # connect, read: a slow upstream is waited for, a dead one is not
SHUTDOWN_SECONDS = 10.0  # requests in flight when stopping are given this long
JSON_TYPE = "application/json; charset=utf-8"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class RecordingProxy:
    """A loopback HTTP server that relays every request to `upstream` and records the exchanges.

    Raises OSError (a port in use) when made; `run()` serves until `stop()` and then writes `out`.
    """

    def __init__(
        self, upstream: str, out: Path, host: str = "127.0.0.1", port: int = 0, limit: int = DEFAULT_LIMIT
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.out = Path(out)
        self.limit = limit
        self.started = format_iso(datetime.now(UTC))
        self.exchanges: list[dict[str, Any]] = []
        self.skipped = 0  # past the limit
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._http = requests.Session()  # honours REQUESTS_CA_BUNDLE (a `cwsim serve --tls` upstream) and proxies
        self.server = waitress.server.create_server(self.app, host=host, port=port, threads=4, ident="cwsim-record")
        self.host = host

    @property
    def port(self) -> int:
        return int(self.server.effective_port)  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        body = request.get_data(cache=True)
        # The request target as the client wrote it (still percent-encoded), so the upstream sees the same.
        target = self.upstream + environ.get("REQUEST_URI", request.full_path.rstrip("?"))
        headers = {name: value for name, value in request.headers.items() if name.casefold() not in HOP_BY_HOP}
        try:
            answer = self._http.request(
                request.method,
                target,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=UPSTREAM_TIMEOUT,
            )
        except requests.RequestException as error:
            log.warning("%s %s: the upstream did not answer: %s", request.method, request.path, type(error).__name__)
            message = f'{{"code":"BadGateway","message":"cwsim record: {self.upstream} did not answer","errors":null}}'
            start_response("502 Bad Gateway", [("Content-Type", JSON_TYPE)])
            return [message.encode()]
        content = answer.content
        log.info("%s %s -> %s", request.method, request.path, answer.status_code)  # no query: it may hold a secret
        self._keep(
            exchange(
                request.method,
                request.path,
                request.args.items(multi=True),
                request.headers.items(),
                body,
                answer.status_code,
                answer.headers.items(),
                content,
            )
        )
        relayed = [(name, value) for name, value in answer.headers.items() if name.casefold() not in HOP_BY_HOP]
        relayed.append(("Content-Length", str(len(content))))  # the body as decoded, whatever the upstream's encoding
        start_response(f"{answer.status_code} {answer.reason or ''}".strip(), relayed)
        return [content]

    def _keep(self, recorded: dict[str, Any]) -> None:
        with self._lock:
            if len(self.exchanges) < self.limit:
                self.exchanges.append(recorded)
            else:
                self.skipped += 1

    def facts(self) -> dict[str, Any]:
        """What `--ready-file` holds."""
        return {"url": self.url, "host": self.host, "port": self.port, "upstream": self.upstream, "out": str(self.out)}

    def run(self) -> None:
        """Serve until `stop()`, then write the file (OSError when it cannot be written)."""
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=LOOP_WAKEUP_SECONDS, map=self.server._map, count=1)
        finally:
            self._close()
        self.save()

    def save(self) -> None:
        with self._lock:
            kept = list(self.exchanges)
        write_recording(self.out, self.upstream, self.started, kept)

    def stop(self) -> None:
        """Ask the serving loop to finish (safe from a signal handler)."""
        self._stopping.set()

    def _close(self) -> None:
        for channel in list(self.server._map.values()):
            if channel is self.server:
                channel.close()
            else:
                channel.handle_close()
        self.server.task_dispatcher.shutdown(timeout=SHUTDOWN_SECONDS)
        self._http.close()


def upstream_problem(url: str) -> str | None:
    """Why `url` cannot be an upstream (not http(s), no host), or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--upstream must be an http:// or https:// URL with a host, not {url!r}"
    if parts.query or parts.fragment:
        return f"--upstream is a site (scheme, host, port and an optional base path), not {url!r}"
    return None
