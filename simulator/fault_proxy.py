"""The fault proxy: a loopback proxy in front of the server that resets, empties or dribbles answers.

WSGI never sees the socket, so connection faults live here. For every request on a connection
(keep-alive included) the relay reads the whole request, asks the fault book for a decision on
the connection-level rules only (`decide(..., connection=True)`), and then:

- none: relays the request, and its answer unchanged;
- `connection_reset` / `empty_response` at `request`: never relays it; resets (RST) or closes (FIN);
- the same at `response`: relays it (the fake handles it, a write commits), waits for the whole
  answer, and resets or closes instead of delivering it;
- `dribble`: relays it, and delivers the answer in pieces spread over the rule's duration.

A request the framing parser cannot delimit for certain makes the rest of that connection a plain
relay: never a fault by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .faults import REQUEST, ConnectionFault, Dribble, FaultDecision
from .http_framing import RequestFrame, Unframed, response_size, take_request
from .proxy import Relay

log = logging.getLogger("cwsim.fault_proxy")

# decide(request, peer) -> the decision on the connection-level rules, or None
Decide = Callable[[RequestFrame, str], FaultDecision | None]
# lost(request, decision): a request the fake never saw (faulted at `request`), for the journal
Lost = Callable[[RequestFrame, FaultDecision], None]


class ConnectionFaulted(ConnectionError):
    """Raised to end a relay's pumps once it has reset or closed the client's connection."""


@dataclass
class Pending:
    """A relayed request whose answer is on its way back, and what to do with it."""

    method: str
    decision: FaultDecision | None


class FaultRelay(Relay):
    """One client connection through the fault proxy."""

    def __init__(self, client: asyncio.StreamWriter, decide: Decide, lost: Lost | None = None) -> None:
        super().__init__(client)
        self.decide = decide
        self.lost = lost
        peer = client.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else "unknown"
        self.requests = bytearray()
        self.responses = bytearray()
        self.pending: deque[Pending] = deque()
        self.raw = False  # the requests could not be framed: relay everything unchanged from here
        self.raw_responses = False

    # -- client -> server -------------------------------------------------------------------

    async def to_upstream(self, data: bytes, upstream: asyncio.StreamWriter) -> None:
        if self.raw:
            await super().to_upstream(data, upstream)
            return
        self.requests += data
        while True:
            try:
                frame = take_request(self.requests)
            except Unframed as why:
                log.debug("relaying a connection unchanged: %s", why)
                self.raw = True
                rest, self.requests = bytes(self.requests), bytearray()
                await super().to_upstream(rest, upstream)
                return
            if frame is None:
                return
            await self._forward(frame, upstream)

    async def _forward(self, frame: RequestFrame, upstream: asyncio.StreamWriter) -> None:
        decision = self.decide(frame, self.peer)
        effect = decision.effect if decision is not None else None
        if decision is not None and isinstance(effect, ConnectionFault) and effect.at == REQUEST:
            if self.lost is not None:
                self.lost(frame, decision)
            await self._break(decision)
        self.pending.append(Pending(frame.method, decision))
        await super().to_upstream(frame.raw, upstream)

    # -- server -> client -------------------------------------------------------------------

    async def to_client(self, data: bytes, client: asyncio.StreamWriter) -> None:
        if self.raw_responses:
            await super().to_client(data, client)
            return
        self.responses += data
        while self.responses:
            if not self.pending:
                # An answer to no request we framed (after a raw switch, or the server's own error).
                await self._go_raw(client)
                return
            expected = self.pending[0]
            try:
                size = response_size(self.responses, expected.method)
            except Unframed as why:
                log.debug("relaying answers unchanged: %s", why)
                await self._go_raw(client)
                return
            if size is None or len(self.responses) < size:
                return  # answers are passed on whole: they are small, and a fault needs the whole one
            answer, self.responses = bytes(self.responses[:size]), self.responses[size:]
            self.pending.popleft()
            await self._deliver(answer, expected.decision, client)

    async def _deliver(self, answer: bytes, decision: FaultDecision | None, client: asyncio.StreamWriter) -> None:
        if decision is None:
            await super().to_client(answer, client)
            return
        effect = decision.effect
        if isinstance(effect, Dribble):
            await self._dribble(answer, effect, client)
            return
        await self._break(decision)

    async def _dribble(self, answer: bytes, effect: Dribble, client: asyncio.StreamWriter) -> None:
        pieces = min(effect.chunks, len(answer))
        size = -(-len(answer) // pieces)
        pause = effect.duration_ms / 1000 / max(1, pieces - 1)
        for start in range(0, len(answer), size):
            if start:
                await asyncio.sleep(pause)
            client.write(answer[start : start + size])
            await client.drain()

    async def _break(self, decision: FaultDecision) -> None:
        """Reset (RST) or close (FIN, nothing sent) the client's connection, after the rule's delay."""
        if decision.delay_s > 0:
            await asyncio.sleep(decision.delay_s)
        transport = self.client.transport
        if decision.effect.kind == "connection_reset":
            sock = self.client.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    # Linger on with a zero timeout: close() sends RST, not FIN.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
        raise ConnectionFaulted(decision.effect.kind)

    async def _go_raw(self, client: asyncio.StreamWriter) -> None:
        self.raw_responses = True
        rest, self.responses = bytes(self.responses), bytearray()
        await super().to_client(rest, client)
