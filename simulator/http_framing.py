"""Where HTTP/1.1 messages begin and end on a byte stream: a small, strict parser for the fault proxy.

It reads requests (method, target, headers, a body by Content-Length or `Transfer-Encoding:
chunked`) on the client's stream and response heads (status, Content-Length or chunked) on the
server's, keep-alive included. Anything it does not understand for certain (another transfer
coding, both a length and chunked, `Expect`, upgrades, oversized heads or bodies, a malformed
line) raises `Unframed`, and the proxy relays the rest of that connection unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEAD_END = b"\r\n\r\n"
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 8 * 1024 * 1024  # a request buffered whole for its fault decision; larger ones go raw
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
REQUEST_LINE = re.compile(rb"(" + TOKEN.pattern + rb") (\S+) HTTP/1\.[01]")
STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3})(?: .*)?")
NO_BODY_STATUSES = frozenset({204, 304})
# chunk-size [; extensions]; 16 hex digits is far beyond any body this parser would hold
CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
MAX_CHUNK_LINE = 4096
# A body is walked again as each piece arrives; bounding its chunks bounds that work (more: raw relay).
MAX_CHUNKS = 100_000


class Unframed(ValueError):
    """A message the parser cannot delimit for certain; the connection is relayed raw from here."""


@dataclass(frozen=True)
class Head:
    """A parsed message head: the start line's parts, headers (lower-case names) and its size."""

    start: tuple[str, ...]
    headers: dict[str, str]
    size: int  # bytes, the blank line included

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def parse_head(buffer: bytes | bytearray, start_line: re.Pattern[bytes]) -> Head | None:
    """The head at the start of `buffer`, or None if it is not complete yet."""
    end = buffer.find(HEAD_END)
    if end < 0:
        if len(buffer) > MAX_HEAD_BYTES:
            raise Unframed("head too large")
        return None
    if end > MAX_HEAD_BYTES:
        raise Unframed("head too large")
    try:
        lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    except UnicodeDecodeError as error:  # pragma: no cover - latin-1 decodes any byte
        raise Unframed("undecodable head") from error
    match = start_line.fullmatch(lines[0].encode("latin-1"))
    if match is None:
        raise Unframed("not a request or status line")  # never echoed: it may hold a secret
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not TOKEN.fullmatch(name.encode("latin-1")):
            raise Unframed("a malformed header line")
        key = name.lower()
        if key in headers and key in ("content-length", "transfer-encoding", "host"):
            raise Unframed(f"repeated {key}")
        headers[key] = value.strip()
    return Head(tuple(part.decode("latin-1") for part in match.groups()), headers, end + len(HEAD_END))


def is_chunked(head: Head) -> bool:
    """Whether the body is chunked; any other transfer coding, or chunked beside a length, is Unframed."""
    coding = head.header("transfer-encoding")
    if coding is None:
        return False
    if coding.strip().lower() != "chunked":
        raise Unframed("a transfer coding other than chunked alone")
    if head.header("content-length") is not None:
        raise Unframed("both Content-Length and Transfer-Encoding")  # ambiguous: the smuggler's favourite
    return True


def chunked_end(buffer: bytes | bytearray, start: int) -> int | None:
    """Where a chunked body that begins at `start` ends (its trailers and last CRLF included); None until it has."""
    position = start
    body = 0
    for _ in range(MAX_CHUNKS + 1):
        line_end = buffer.find(b"\r\n", position, position + MAX_CHUNK_LINE)
        if line_end < 0:
            if len(buffer) - position >= MAX_CHUNK_LINE:
                raise Unframed("a chunk size line too long")
            return None
        match = CHUNK_SIZE_LINE.fullmatch(buffer, position, line_end)
        if match is None:
            raise Unframed("a malformed chunk size line")
        size = int(match[1], 16)
        position = line_end + 2
        if size == 0:
            break
        body += size
        if body > MAX_BODY_BYTES:
            raise Unframed("body too large to hold for a decision")
        if len(buffer) < position + size + 2:
            return None
        if buffer[position + size : position + size + 2] != b"\r\n":
            raise Unframed("a chunk without its CRLF")
        position += size + 2
    else:
        raise Unframed("too many chunks")
    trailers = position
    while True:  # trailer fields, then the empty line
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            if len(buffer) - trailers > MAX_HEAD_BYTES:
                raise Unframed("trailers too large")
            return None
        if line_end - trailers > MAX_HEAD_BYTES:
            raise Unframed("trailers too large")
        if line_end == position:
            return line_end + 2
        if b":" not in buffer[position:line_end]:
            raise Unframed("a malformed trailer line")
        position = line_end + 2


def dechunk(data: bytes) -> bytes:
    """The payload of a whole chunked body (as `chunked_end` delimited it), without sizes or trailers."""
    payload = bytearray()
    position = 0
    while True:
        line_end = data.index(b"\r\n", position)
        size = int(data[position:line_end].split(b";", 1)[0].strip(), 16)  # chunked_end checked the line
        if size == 0:
            return bytes(payload)
        payload += data[line_end + 2 : line_end + 2 + size]
        position = line_end + 2 + size + 2


def content_length(head: Head) -> int | None:
    """The declared body length; None when there is none (or it is chunked: see `is_chunked`)."""
    text = head.header("content-length")
    if text is None:
        return None
    if not text.isdigit():
        raise Unframed("a Content-Length that is not a number")
    return int(text)


@dataclass(frozen=True)
class RequestFrame:
    """One whole request as it came: method, target, headers, the raw bytes (head and body) and the body's payload."""

    method: str
    target: str
    headers: dict[str, str]
    raw: bytes
    body: bytes = b""  # without chunked framing

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]


def take_request(buffer: bytearray) -> RequestFrame | None:
    """Remove and return the first whole request in `buffer`; None until it has all arrived."""
    head = parse_head(buffer, REQUEST_LINE)
    if head is None:
        return None
    method, target = head.start
    if not target.startswith("/"):
        raise Unframed("not an origin-form target")
    if head.header("expect") is not None or head.header("upgrade") is not None:
        raise Unframed("Expect or Upgrade")
    if is_chunked(head):
        total = chunked_end(buffer, head.size)
        if total is None:
            return None
        raw = bytes(buffer[:total])
        body = dechunk(raw[head.size :])
    else:
        length = content_length(head) or 0
        if length > MAX_BODY_BYTES:
            raise Unframed("body too large to hold for a decision")
        total = head.size + length
        if len(buffer) < total:
            return None
        raw = bytes(buffer[:total])
        body = raw[head.size :]
    del buffer[:total]
    return RequestFrame(method.upper(), target, head.headers, raw, body)


def response_size(buffer: bytes | bytearray, request_method: str) -> int | None:
    """The byte size of the whole response at the start of `buffer` (once its head is in), or None.

    An interim 1xx answer is Unframed: the proxy does not expect one (it refuses `Expect`).
    """
    head = parse_head(buffer, STATUS_LINE)
    if head is None:
        return None
    status = int(head.start[0])
    if status < 200:
        raise Unframed("interim response")
    if request_method == "HEAD" or status in NO_BODY_STATUSES:
        return head.size
    if is_chunked(head):
        return chunked_end(buffer, head.size)
    length = content_length(head)
    if length is None:
        raise Unframed("a body that ends when the connection closes")
    return head.size + length
