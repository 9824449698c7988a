"""The request journal: what was asked of the fakes and what they answered, in a bounded ring buffer."""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import format_cw_datetime

REDACTED = "***"
SECRET_KEYS = {
    "password",
    "privatekey",
    "private_key",
    "secret",
    "secretkey",
    "globalloginpassword",
    "portalpassword",
    "token",
    "authorization",
    "api_secret_key",
}
DEFAULT_BODY_LIMIT = 2048


def redact(value: Any) -> Any:
    """A copy of a JSON value with every secret-looking field masked, JSON-Patch values of secret paths too."""
    if isinstance(value, dict):
        masked = {key: REDACTED if str(key).casefold() in SECRET_KEYS else redact(item) for key, item in value.items()}
        if _patches_a_secret(value) and "value" in masked:
            masked["value"] = REDACTED
        return masked
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _patches_a_secret(operation: dict[str, Any]) -> bool:
    path = operation.get("path")
    return isinstance(path, str) and path.strip("/").rsplit("/", 1)[-1].casefold() in SECRET_KEYS


SECRET_IN_TEXT = re.compile(r'("(?:' + "|".join(SECRET_KEYS) + r')"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|\\?$)', re.IGNORECASE)
# A JSON-Patch operation on a secret, in text cut short: its "value" after a secret "path".
PATCHED_SECRET_IN_TEXT = re.compile(
    r'("path"\s*:\s*"/?(?:' + "|".join(SECRET_KEYS) + r')"[^{}]*?"value"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|\\?$)',
    re.IGNORECASE,
)


SECRET_IN_QUERY = re.compile(r"(?:^|(?<=&))(" + "|".join(SECRET_KEYS) + r")=[^&]*", re.IGNORECASE)


def redact_query(query: str) -> str:
    """A query string with the values of secret-looking parameters masked."""
    return SECRET_IN_QUERY.sub(lambda match: f"{match.group(1)}={REDACTED}", query) if "=" in query else query


def journal_body(raw: bytes, limit: int = DEFAULT_BODY_LIMIT, full_size: int | None = None) -> Any:
    """A request body as the journal shows it: parsed and redacted, or redacted text cut at `limit`."""
    if not raw:
        return None
    full_size = len(raw) if full_size is None else full_size
    if full_size <= limit:
        try:
            return redact(json.loads(raw))
        except (ValueError, UnicodeDecodeError):
            pass
    text = raw[:limit].decode("utf-8", errors="replace")
    for pattern in (SECRET_IN_TEXT, PATCHED_SECRET_IN_TEXT):
        text = pattern.sub(lambda match: f'{match.group(1)}"{REDACTED}"', text)
    return text + ("…(truncated)" if full_size > limit else "")


@dataclass
class JournalEntry:
    """One request. The body is kept raw (cut past the limit) and parsed and redacted when read."""

    seq: int
    moment: datetime  # by the fakes' clock
    method: str
    path: str
    query: str
    status: int
    request_bytes: int
    response_bytes: int
    duration_ms: float
    raw_body: bytes
    body_limit: int
    fault: int | None = None  # the fault rule that touched it
    stub: str | None = None  # the stub that answered it

    @property
    def body(self) -> Any:
        return journal_body(self.raw_body, self.body_limit, self.request_bytes)

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": format_cw_datetime(self.moment),
            "method": self.method,
            "path": self.path,
            "query": redact_query(self.query),
            "status": self.status,
            "request_bytes": self.request_bytes,
            "response_bytes": self.response_bytes,
            "duration_ms": round(self.duration_ms, 3),
            "body": self.body,
            **({"fault": self.fault} if self.fault is not None else {}),
            **({"stub": self.stub} if self.stub is not None else {}),
        }


@dataclass
class JournalFilter:
    method: str | None = None
    path: str | None = None  # substring, case-insensitive
    status: int | None = None
    since: int | None = None  # sequence number: entries after it

    def matches(self, entry: JournalEntry) -> bool:
        if self.method and entry.method != self.method.upper():
            return False
        if self.path and self.path.casefold() not in entry.path.casefold():
            return False
        if self.status is not None and entry.status != self.status:
            return False
        return self.since is None or entry.seq > self.since


class Journal:
    """A thread-safe ring buffer of the last `size` requests."""

    def __init__(self, size: int = 10_000, body_limit: int = DEFAULT_BODY_LIMIT) -> None:
        self.size = size
        self.body_limit = body_limit
        self._entries: deque[JournalEntry] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._seq = 0

    def record(
        self,
        moment: datetime,
        method: str,
        path: str,
        query: str,
        status: int,
        response_bytes: int,
        duration_ms: float,
        raw_body: bytes,
        fault: int | None = None,
        stub: str | None = None,
    ) -> None:
        kept = raw_body[: self.body_limit]
        with self._lock:
            self._seq += 1
            self._entries.append(
                JournalEntry(
                    self._seq,
                    moment,
                    method,
                    path,
                    query,
                    status,
                    len(raw_body),
                    response_bytes,
                    duration_ms,
                    kept,
                    self.body_limit,
                    fault,
                    stub,
                )
            )

    def entries(self, where: JournalFilter | None = None) -> list[JournalEntry]:
        with self._lock:
            snapshot: Iterable[JournalEntry] = list(self._entries)
        return [entry for entry in snapshot if where is None or where.matches(entry)]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
