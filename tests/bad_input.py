"""The bad-input table: requests no server of ours may answer with a traceback, and what each should get.

Reusable by any JSON-over-HTTP face (the fake's ConnectWise API, the Datto portal API, the
integration's alert intake): each case is a method, a body as raw bytes, headers and the status
expected; a face's test sends each one to its own URL and checks the status and the error shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

JSON = {"Content-Type": "application/json"}
SCRIPT = '<script>alert("x")</script>'
SQL = "'; DROP TABLE tickets; --"
VERBATIM_STRINGS = (
    SCRIPT,
    SQL,
    '" OR 1=1 --',
    "Robert'); DELETE FROM companies WHERE ('1'='1",
    "{{7*7}} ${7*7} %s %n",
    "../../etc/passwd",
    "a\u0000b",
    "emoji 🦆 and RTL \u202e",
)


@dataclass(frozen=True)
class BadInput:
    """One bad request: sent to the face's target URL (with `suffix` appended, for query strings)."""

    name: str
    method: str
    body: bytes | None
    expected: int
    headers: dict[str, str] = field(default_factory=dict)
    suffix: str = ""

    def __str__(self) -> str:
        return self.name


def nested(depth: int) -> bytes:
    return b'{"summary": "deep", "customFields": ' + b"[" * depth + b"1" + b"]" * depth + b"}"


def json_body_cases(limit: int, method: str = "POST") -> list[BadInput]:
    """Bodies a JSON write endpoint must refuse cleanly; `limit` is its body size limit in bytes."""
    return [
        BadInput("malformed JSON", method, b'{"summary": "cut', 400, JSON),
        BadInput("not JSON at all", method, b"summary=cut", 400, JSON),
        BadInput("a JSON array, not an object", method, b"[1, 2, 3]", 400, JSON),
        BadInput("a JSON null", method, b"null", 400, JSON),
        BadInput("an empty body", method, b"", 400, JSON),
        BadInput("wrong content type: text/plain", method, b'{"summary": "x"}', 415, {"Content-Type": "text/plain"}),
        BadInput(
            "wrong content type: a form",
            method,
            b"summary=x",
            415,
            {"Content-Type": "application/x-www-form-urlencoded"},
        ),
        BadInput("a body over the size limit", method, b'{"summary": "' + b"x" * limit + b'"}', 413, JSON),
        BadInput("nesting 100 deep", method, nested(100), 400, JSON),
        BadInput("nesting 100,000 deep", method, nested(100_000), 400, JSON),
        BadInput("invalid UTF-8", method, b'{"summary": "\xff\xfe\xfa"}', 400, JSON),
        BadInput("a lone surrogate escape", method, b'{"summary": "\\ud800"}', 400, JSON),
        BadInput("an infinite number", method, b'{"summary": "x", "id": 1e400, "company": {"id": 1e400}}', 400, JSON),
        BadInput("NaN", method, b'{"summary": "x", "company": {"id": NaN}}', 400, JSON),
        BadInput(
            "a 20-digit integer in a free-form field",
            method,
            b'{"summary": "x", "company": {"id": 1}, "customFields": [{"id": 99999999999999999999}]}',
            400,
            JSON,
        ),
        BadInput("a 400-digit number", method, b'{"summary": "x", "company": {"id": ' + b"9" * 400 + b"}}", 400, JSON),
    ]


def connectwise_list_cases() -> list[BadInput]:
    """Query strings a ConnectWise list endpoint must answer without a 5xx."""
    return [
        BadInput("a negative pageSize", "GET", None, 400, suffix="?pageSize=-1"),
        BadInput("a zero page", "GET", None, 400, suffix="?page=0"),
        BadInput("a huge pageSize (capped at 1000)", "GET", None, 200, suffix="?pageSize=" + "9" * 40),
        BadInput("a huge page (empty)", "GET", None, 200, suffix="?page=" + "9" * 40),
        BadInput("a pageSize that is not a number", "GET", None, 400, suffix="?pageSize=ten"),
        BadInput("a fractional pageSize", "GET", None, 400, suffix="?pageSize=2.5"),
        BadInput("a huge pageId", "GET", None, 200, {"pagination-type": "forward-only"}, "?pageId=" + "9" * 40),
        BadInput("conditions of random text", "GET", None, 400, suffix="?conditions=%27%3B%20DROP%20TABLE"),
        BadInput("conditions with invalid UTF-8", "GET", None, 200, suffix="?conditions=summary%3D%22%FF%FE%22"),
        BadInput("an orderBy of three words", "GET", None, 400, suffix="?orderBy=id%20asc%20please"),
        BadInput("an orderBy of an unknown field", "GET", None, 400, suffix="?orderBy=nosuchfield"),
        BadInput("fields that do not exist", "GET", None, 200, suffix="?fields=nosuch,%3Cscript%3E"),
        # Where the path takes an id, a word there is a 400 saying so (a missing record is a 404).
        BadInput("a script in the path", "GET", None, 400, suffix="/%3Cscript%3E"),
        BadInput("invalid UTF-8 in the path", "GET", None, 400, suffix="/%FF%FE"),
        BadInput("a huge id", "GET", None, 404, suffix="/" + "9" * 40),
    ]


def portal_cases() -> list[BadInput]:
    """Requests the Datto portal API (`/v1/bcdr/device`) must answer cleanly."""
    return [
        BadInput("a negative _perPage", "GET", None, 400, suffix="?_perPage=-1"),
        BadInput("a zero _page", "GET", None, 400, suffix="?_page=0"),
        BadInput("a huge _perPage (capped)", "GET", None, 200, suffix="?_perPage=" + "9" * 40),
        BadInput("a huge _page", "GET", None, 400, suffix="?_page=" + "9" * 40),
        BadInput("a _page past the last", "GET", None, 200, suffix="?_page=100000"),
        BadInput("a _page that is not a number", "GET", None, 400, suffix="?_page=one"),
        BadInput("showHiddenDevices of random text", "GET", None, 400, suffix="?showHiddenDevices=%27%3B--"),
        BadInput("a script as the serial", "GET", None, 404, suffix="/%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
        BadInput("SQL as the serial", "GET", None, 404, suffix="/%27%3B%20DROP%20TABLE%20devices%3B--"),
        BadInput("invalid UTF-8 as the serial", "GET", None, 404, suffix="/%FF%FE"),
        BadInput("a write to a read-only API", "POST", b'{"serialNumber": "x"}', 405, JSON),
        BadInput("a malformed JSON write", "PUT", b'{"serialNumber": ', 405, JSON),
        BadInput("a body over the size limit", "POST", b"x" * (4 * 1024 * 1024 + 1), 413, JSON),
    ]
