"""The mail catcher: an SMTP server on loopback that keeps what it is sent, for tests to read."""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from .clock import Clock, format_cw_datetime
from .connectwise.fields import parse_datetime
from .state_problems import StateProblems

DEFAULT_LIMIT = 10_000


@dataclass
class CaughtMail:
    """One message as the catcher received it."""

    seq: int
    moment: datetime  # by the fakes' clock
    mail_from: str
    recipients: list[str]
    subject: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": format_cw_datetime(self.moment),
            "from": self.mail_from,
            "to": self.recipients,
            "subject": self.subject,
            "body": self.body,
            "headers": self.headers,
        }


@dataclass
class MailFilter:
    to: str | None = None  # a recipient, case-insensitive
    subject: str | None = None  # a substring, case-insensitive
    since: int | None = None

    def matches(self, mail: CaughtMail) -> bool:
        if self.to and self.to.casefold() not in (r.casefold() for r in mail.recipients):
            return False
        if self.subject and self.subject.casefold() not in mail.subject.casefold():
            return False
        return self.since is None or mail.seq > self.since


class Mailbox:
    """Caught mail, newest last, bounded; thread-safe."""

    def __init__(self, clock: Clock, limit: int = DEFAULT_LIMIT) -> None:
        self.clock = clock
        self._mail: deque[CaughtMail] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._seq = 0
        self.listeners: list[Callable[[CaughtMail], None]] = []  # told of each message caught (stats)

    def deliver(self, mail_from: str, recipients: list[str], raw: bytes) -> CaughtMail:
        message = message_from_bytes(raw, policy=policy.default)
        body_part = message.get_body(preferencelist=("plain", "html"))
        body = body_part.get_content() if body_part is not None else ""
        with self._lock:
            self._seq += 1
            mail = CaughtMail(
                self._seq,
                self.clock.now(),
                mail_from,
                list(recipients),
                str(message.get("Subject", "")),
                body,
                {name: str(value) for name, value in message.items()},
            )
            self._mail.append(mail)
        for listener in self.listeners:
            listener(mail)
        return mail

    def messages(self, where: MailFilter | None = None) -> list[CaughtMail]:
        with self._lock:
            mail = list(self._mail)
        return [m for m in mail if where is None or where.matches(m)]

    def clear(self) -> None:
        with self._lock:
            self._mail.clear()

    def replace(self, mail: list[CaughtMail]) -> None:
        with self._lock:
            self._mail.clear()
            self._mail.extend(mail)
            self._seq = max((m.seq for m in mail), default=0)


class MailState:
    """The mailbox's part of the World's state (`GET/PUT /_sim/state`)."""

    name = "mail"

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    def dump(self) -> list[dict[str, Any]]:
        return [mail.as_json() for mail in self.mailbox.messages()]

    def view(self) -> list[dict[str, Any]]:
        return self.dump()

    def prepare(self, data: Any) -> Callable[[], None]:
        if not isinstance(data, list):
            raise StateProblems(["mail: must be a list of caught messages, as GET /_sim/state returns it."])
        problems, restored = [], []
        for index, item in enumerate(data):
            try:
                restored.append(
                    CaughtMail(
                        int(item["seq"]),
                        parse_datetime(item["time"]),
                        str(item["from"]),
                        [str(to) for to in item["to"]],
                        str(item["subject"]),
                        str(item["body"]),
                        {str(k): str(v) for k, v in (item.get("headers") or {}).items()},
                    )
                )
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                problems.append(f"mail[{index}]: not a caught message ({type(error).__name__}: {error}).")
        if problems:
            raise StateProblems(problems)
        return lambda: self.mailbox.replace(restored)


class _MailboxHandler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        self.mailbox.deliver(envelope.mail_from or "", list(envelope.rcpt_tos), raw)
        return "250 Message accepted for delivery"


class _BoundController(Controller):
    """aiosmtpd's controller serving a socket bound beforehand (its own would bind host:port in its thread)."""

    def __init__(self, bound: socket.socket, handler: _MailboxHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._bound = bound

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._bound, ssl=self.ssl_context)


class SmtpCatcher:
    """An SMTP server on `host:port` (0 = a free port) delivering into a Mailbox.

    The listening socket is bound in the constructor, so the port is known and a port in use fails at once;
    `start()` serves it from a thread (in whichever process calls it: a forked server worker inherits the socket).
    """

    def __init__(self, mailbox: Mailbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = socket.create_server((host, port))
        self._handler = _MailboxHandler(mailbox)
        self._controller: _BoundController | None = None
        self.host = host
        self.port = int(self._socket.getsockname()[1])

    def start(self) -> SmtpCatcher:
        self._controller = _BoundController(self._socket, self._handler, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
        self._socket.close()
