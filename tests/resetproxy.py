"""A loopback TCP proxy that resets some connections just as the answer comes back (the request was processed).

For tests of a client's handling of lost answers until the fake's own fault proxy lands: a reset
there is the worst case, because the server has done the work and the client cannot know it.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from contextlib import suppress

CHUNK = 65536


class ResetProxy:
    """Forwards 127.0.0.1:port to `upstream`; each answer is cut by a TCP reset with probability `share`."""

    def __init__(self, upstream: tuple[str, int], share: float, seed: int = 1) -> None:
        self.upstream = upstream
        self.share = share
        self.resets = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closing = threading.Event()
        threading.Thread(target=self._accept, name="reset-proxy", daemon=True).start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _cut(self) -> bool:
        with self._lock:
            if self._random.random() < self.share:
                self.resets += 1
                return True
            return False

    def _pump(self, source: socket.socket, target: socket.socket, answers: bool) -> None:
        # The other direction's thread is blocked in recv() on one of these sockets, and on Linux a
        # close() does not wake it (nor really close the socket): shutdown() first, always.
        cut = False
        try:
            while data := source.recv(CHUNK):
                if answers and self._cut():
                    cut = True
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            if cut:  # target is the client: a reset, with no FIN before it
                with suppress(OSError):
                    target.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    target.shutdown(socket.SHUT_RD)
            for sock in (source, target):
                with suppress(OSError):
                    if not (cut and sock is target):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
