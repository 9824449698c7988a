"""A loopback TCP proxy in front of waitress: terminates TLS and relays bytes, connection by connection.

waitress cannot serve TLS, and WSGI cannot reach the socket; this proxy can. It listens on the
public port (with TLS when given a context) and relays each client connection to waitress on
an internal 127.0.0.1 port, on one asyncio loop in its own thread.

Connection-level faults plug in through `Relay`: one is made per client connection and every
chunk passes through `to_upstream` / `to_client`, so a subclass can reset the connection
(`abort()` the client transport), answer nothing (close before relaying the response), or
dribble the body (write small pieces with pauses). The factory given to `LoopbackProxy`
chooses the relay per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("cwsim.proxy")
CHUNK = 64 * 1024
HANDSHAKE_SECONDS = 10.0
CLOSE_SECONDS = 2.0
STOP_SECONDS = 10.0


class Relay:
    """How one client connection is relayed: unchanged, by default."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client  # its transport can be aborted (a reset) or closed early (no answer)

    async def to_upstream(self, data: bytes, upstream: asyncio.StreamWriter) -> None:
        upstream.write(data)
        await upstream.drain()

    async def to_client(self, data: bytes, client: asyncio.StreamWriter) -> None:
        client.write(data)
        await client.drain()


RelayFactory = Callable[[asyncio.StreamWriter], Relay]


class LoopbackProxy:
    """Accepts on (host, port), optionally with TLS, and relays every connection to `upstream`.

    The listening socket is bound in the constructor, so the port is known (port 0 picks a free
    one) and a port in use fails at once. `start()` serves in a thread; `stop()` closes the
    listener and every open connection and waits for the thread.
    """

    def __init__(
        self,
        host: str,
        port: int,
        upstream: tuple[str, int],
        ssl_context: ssl.SSLContext | None = None,
        relay: RelayFactory = Relay,
    ) -> None:
        self.upstream = upstream
        self.ssl_context = ssl_context
        self.relay = relay
        self._socket = socket.create_server((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    def start(self) -> LoopbackProxy:
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), name="cwsim-proxy", daemon=True)
        self._thread.start()
        self._started.wait(STOP_SECONDS)
        return self

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop finished meanwhile
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(STOP_SECONDS)
        self._socket.close()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(_quiet_exceptions)
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(
            self._handle,
            sock=self._socket,
            ssl=self.ssl_context,
            ssl_handshake_timeout=HANDSHAKE_SECONDS if self.ssl_context else None,
            limit=CHUNK,
        )
        self._started.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await server.wait_closed()

    async def _handle(self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        """Relay one client connection until either side closes; the task never ends in an error."""
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.upstream, limit=CHUNK)
            relay = self.relay(client)
            pumps = [
                asyncio.create_task(_pump(client_reader, upstream, relay.to_upstream)),
                asyncio.create_task(_pump(upstream_reader, client, relay.to_client)),
            ]
            try:
                # Either side closing ends the exchange: HTTP clients do not half-close.
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
        except asyncio.CancelledError:
            pass  # the proxy is stopping
        except OSError as error:
            log.warning("cannot reach the server behind the proxy at %s:%s: %s", *self.upstream, error)
        finally:
            await _close_all(upstream, client)
            self._connections.discard(task)


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, send: Callable[..., Any]) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
        while data := await source.read(CHUNK):
            await send(data, sink)


async def _close_all(*writers: asyncio.StreamWriter | None) -> None:
    """Close both ends politely, but never wait long: a peer that never finishes the TLS close is cut off."""
    open_writers = [writer for writer in writers if writer is not None]
    for writer in open_writers:
        writer.close()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(writer.wait_closed() for writer in open_writers), return_exceptions=True), CLOSE_SECONDS
        )
    except (TimeoutError, asyncio.CancelledError):
        for writer in open_writers:
            writer.transport.abort()


def _quiet_exceptions(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Failed handshakes (a client that does not trust the CA) are the client's problem, and a close cut short
    while the proxy stops (its server gone first, as granian's is) is the stop: log them quietly."""
    error = context.get("exception")
    if isinstance(error, ssl.SSLError | ConnectionError | TimeoutError | asyncio.CancelledError):
        log.debug("connection failed: %s", context.get("message"), exc_info=error)
        return
    loop.default_exception_handler(context)
