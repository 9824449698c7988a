"""Recordings: HTTP exchanges as a YAML or JSON file with secrets masked, and their replay as stubs.

A recording is a mapping with `recording` (where and when) and `exchanges`, each a `request`
(method, path, query, headers, json or body) and a `response` (status, headers, json or body).
A response body is kept as `json` when writing that JSON compactly gives back the very bytes
received, and as `body` (its text) otherwise, so a replay answers byte for byte either way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
import yaml

from .connectwise.errors import CwError
from .stub_schema import load_stubs
from .stubs import StubSpec, literal_glob

MASK = "***"
# Names that suggest a secret, after dropping case, "-" and "_": masked wherever they appear (headers,
# query parameters, JSON fields at any depth). Broader than the journal's list of known field names,
# since a recording holds whatever an unknown upstream and its clients sent.
SECRET_WORDS = ("password", "passwd", "secret", "token", "authorization", "cookie", "apikey", "privatekey", "session")
SECRET_ENDINGS = ("key", "pwd", "pass")
# Request headers a replay needs no record of, and response headers the replaying server sets itself.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers"}
    | {"transfer-encoding", "upgrade", "content-length", "content-encoding", "host"}
)
UNRECORDED_REQUEST_HEADERS = HOP_BY_HOP | {"accept-encoding", "user-agent"}
UNRECORDED_RESPONSE_HEADERS = HOP_BY_HOP | {"date", "server"}


class RecordingFileError(ValueError):
    """A recording that cannot be replayed; the message names the file, the exchange and the field."""


def looks_secret(name: str) -> bool:
    """Whether a header, parameter or field name suggests a secret (a key, a password, a token)."""
    folded = name.casefold().replace("-", "").replace("_", "")
    return any(word in folded for word in SECRET_WORDS) or folded.endswith(SECRET_ENDINGS)


def mask(value: Any) -> Any:
    """A copy of a JSON value with the value of every secret-looking field masked, at any depth.

    A JSON-Patch operation on a secret-looking path (`{"op": "replace", "path": "password", ...}`, how
    ConnectWise clients change a login's password) has its `value` masked too.
    """
    if isinstance(value, dict):
        patched = value.get("path") if "op" in value else None
        if isinstance(patched, str) and looks_secret(patched.rstrip("/").rsplit("/", 1)[-1]) and "value" in value:
            return {key: MASK if key == "value" else mask(item) for key, item in value.items()}
        return {key: MASK if looks_secret(str(key)) else mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask(item) for item in value]
    return value


def mask_header(name: str, value: str) -> str:
    """`Basic ***` for an Authorization header (the scheme says how the client signed in); `***` for others."""
    if not looks_secret(name):
        return value
    scheme, _, credentials = value.partition(" ")
    return f"{scheme} {MASK}" if credentials and name.casefold() == "authorization" else MASK


def recorded_headers(headers: Iterable[tuple[str, str]], unrecorded: frozenset[str]) -> dict[str, str]:
    """Headers worth keeping, secrets masked; repeated ones joined with ", "."""
    kept: dict[str, str] = {}
    for name, value in headers:
        if name.casefold() in unrecorded:
            continue
        shown = mask_header(name, value)
        kept[name] = f"{kept[name]}, {shown}" if name in kept else shown
    return kept


def recorded_query(pairs: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    """Query parameters in order; a repeated one as a list of its values; secrets masked."""
    found: dict[str, str | list[str]] = {}
    for name, value in pairs:
        shown = MASK if looks_secret(name) else value
        if name not in found:
            found[name] = shown
        else:
            earlier = found[name]
            found[name] = [*earlier, shown] if isinstance(earlier, list) else [earlier, shown]
    return found


def recorded_body(raw: bytes) -> dict[str, Any]:
    """`{"json": ...}` when re-writing the parsed JSON (masked) gives back `raw`; else `{"body": text}`; `{}` if empty.

    A body whose secrets were masked is kept as `json`: it differs from what was received, on purpose.
    """
    if not raw:
        return {}
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {"body": raw.decode("utf-8", errors="replace")}
    masked = mask(document)
    if masked != document:
        return {"json": masked}
    try:
        faithful = orjson.dumps(document) == raw
    except (TypeError, orjson.JSONEncodeError):  # integers past 64 bits
        faithful = False
    return {"json": document} if faithful else {"body": raw.decode("utf-8", errors="replace")}


def recorded_request_body(raw: bytes) -> dict[str, Any]:
    """A request body as replay matches it: `{"json": ...}` (masked) whenever it is JSON, whatever its
    spacing (clients send `json.dumps`'s, not a compact writer's); a form body with its secret fields
    masked; other text as it came; `{}` if empty."""
    if not raw:
        return {}
    try:
        return {"json": mask(json.loads(raw))}
    except (ValueError, UnicodeDecodeError):
        pass
    text = raw.decode("utf-8", errors="replace")
    try:
        fields = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return {"body": text}
    if any(looks_secret(name) for name, _ in fields):
        text = urlencode([(name, MASK if looks_secret(name) else value) for name, value in fields])
    return {"body": text}


def exchange(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    request_headers: Iterable[tuple[str, str]],
    request_body: bytes,
    status: int,
    response_headers: Iterable[tuple[str, str]],
    response_body: bytes,
) -> dict[str, Any]:
    """One exchange as the file holds it."""
    request: dict[str, Any] = {"method": method.upper(), "path": path}
    found_query = recorded_query(query)
    if found_query:
        request["query"] = found_query
    request["headers"] = recorded_headers(request_headers, UNRECORDED_REQUEST_HEADERS)
    request.update(recorded_request_body(request_body))
    response: dict[str, Any] = {"status": status}
    response["headers"] = recorded_headers(response_headers, UNRECORDED_RESPONSE_HEADERS)
    response.update(recorded_body(response_body) if status not in (204, 304) else {})
    return {"request": request, "response": response}


def write_recording(path: Path, upstream: str, started: str, exchanges: list[dict[str, Any]]) -> None:
    """The file: JSON when its name ends in .json, YAML otherwise; written whole, then moved into place."""
    document = {"recording": {"upstream": upstream, "started": started, "exchanges": len(exchanges)}}
    document["exchanges"] = exchanges  # type: ignore[assignment]
    if path.suffix.casefold() == ".json":
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    else:
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def read_recording(path: Path) -> list[dict[str, Any]]:
    """The exchanges of a recording file; RecordingFileError when it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RecordingFileError(f"{path}: cannot read it: {error}") from error
    try:
        document = json.loads(text) if Path(path).suffix.casefold() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        language = "JSON" if Path(path).suffix.casefold() == ".json" else "YAML"
        raise RecordingFileError(f"{path}: not valid {language}: {' '.join(str(error).split())}") from error
    exchanges = document.get("exchanges") if isinstance(document, dict) else None
    if not isinstance(exchanges, list):
        raise RecordingFileError(f"{path}: expected a mapping with a list of exchanges (from `cwsim record`)")
    return exchanges


def replay_stubs(exchanges: list[Any], source: str = "recording") -> list[StubSpec]:
    """The exchanges as stubs, in recorded order: each answers its own request (same method, path, query
    and JSON body; headers are not compared). The first recorded answer to a request comes first; a
    request made again gets the next recorded answer, and the last one from then on."""
    documents = []
    keys = []
    for position, item in enumerate(exchanges):
        where = f"{source}: exchange {position + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("request"), dict):
            raise RecordingFileError(f"{where}: expected a mapping with request and response")
        if not isinstance(item.get("response"), dict):
            raise RecordingFileError(f"{where}: expected a mapping with request and response")
        documents.append(_stub_document(item["request"], item["response"], where))
        keys.append(_request_key(item["request"]))
    last = {key: position for position, key in enumerate(keys)}
    for position, key in enumerate(keys):
        if last[key] != position:
            documents[position]["times"] = 1
    specs = []
    for position, document in enumerate(documents):
        try:
            specs += load_stubs(document)
        except CwError as error:
            details = "; ".join(f"{_field(problem['field'])}: {problem['message']}" for problem in error.errors or [])
            raise RecordingFileError(f"{source}: exchange {position + 1}: {details}") from error
    return specs


def load_replay(path: Path) -> list[StubSpec]:
    """`cwsim serve --replay FILE`: the recording's exchanges as stubs."""
    return replay_stubs(read_recording(path), str(path))


def _stub_document(request: Mapping[str, Any], response: Mapping[str, Any], where: str) -> dict[str, Any]:
    method, path = request.get("method"), request.get("path")
    if not isinstance(method, str) or not isinstance(path, str):
        raise RecordingFileError(f"{where}: request needs a method and a path")
    query = request.get("query") or {}
    if not isinstance(query, dict):
        raise RecordingFileError(f"{where}: request.query must be a mapping of names and values")
    masked = [name for name, value in query.items() if value == MASK]
    match: dict[str, Any] = {
        "method": method,
        "path": literal_glob(path),
        "query": {name: value for name, value in query.items() if name not in masked},
        "strict": not masked and "body" not in request,
    }
    if "json" in request:
        body = request["json"]
        if isinstance(body, dict) and _holds_mask(body):
            body = {name: value for name, value in body.items() if not _holds_mask(value)}
            match["strict"] = False
        match["json"] = body
    respond = {name: response[name] for name in ("status", "headers", "json", "body") if name in response}
    return {"match": match, "respond": respond}


def _holds_mask(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_mask(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_mask(item) for item in value)
    return value == MASK


def _request_key(request: Mapping[str, Any]) -> str:
    """What makes two recorded requests the same request, as replay matches them."""
    return orjson.dumps(
        [
            str(request.get("method", "")).upper(),
            str(request.get("path", "")).rstrip("/").casefold(),
            {str(name).casefold(): value for name, value in (request.get("query") or {}).items()},
            request.get("json"),
        ],
        option=orjson.OPT_SORT_KEYS,
        default=str,
    ).decode()


def _field(name: str) -> str:
    """A stub's field as the recording names it: `match.query` is `request.query`, `respond` is `response`."""
    head, _, rest = name.partition(".")
    renamed = {"match": "request", "respond": "response"}.get(head, head)
    return f"{renamed}.{rest}" if rest else renamed
