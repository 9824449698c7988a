"""ConnectWise-shaped errors: what went wrong, where, and the status code to answer with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

REQUIRED_MESSAGES = {"Missing data for required field.", "Field may not be null."}


@dataclass
class FieldProblem:
    """One entry of a ConnectWise error body's `errors` list."""

    field: str
    message: str
    code: str = "InvalidField"
    resource: str = ""

    def as_json(self, resource: str) -> dict[str, str]:
        return {
            "code": self.code,
            "message": self.message,
            "resource": self.resource or resource,
            "field": self.field,
        }


@dataclass
class CwError(Exception):
    """An error answered with a ConnectWise body: `{"code", "message", "errors"}`."""

    status: int
    code: str
    message: str
    errors: list[dict[str, str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "errors": self.errors}


def field_problems(messages: Any, prefix: str = "") -> Iterable[FieldProblem]:
    """marshmallow's nested error dict -> ConnectWise `errors` entries."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}/{key}" if prefix else str(key)
            yield from field_problems(value, name)
        return
    for message in messages if isinstance(messages, list) else [messages]:
        if isinstance(message, dict):
            yield from field_problems(message, prefix)
        elif message in REQUIRED_MESSAGES:
            yield FieldProblem(prefix, f"{prefix} is required.", "MissingRequiredField")
        else:
            yield FieldProblem(prefix, f"{prefix}: {message}")


def invalid_object(resource: str, problems: list[FieldProblem]) -> CwError:
    """400 InvalidObject: `"{resource} object is invalid"` with one entry per bad field."""
    return CwError(
        400,
        "InvalidObject",
        f"{resource} object is invalid",
        [problem.as_json(resource) for problem in problems],
    )


def not_found(resource: str, record_id: object) -> CwError:
    """404 NotFound: `"Ticket 17 not found"`."""
    label = resource[:1].upper() + resource[1:]
    return CwError(404, "NotFound", f"{label} {record_id} not found")


def bad_request(message: str, field_name: str | None = None, code: str = "InvalidField") -> CwError:
    """400 for a bad query parameter or request shape (not a bad object)."""
    errors = None
    if field_name is not None:
        errors = [{"code": code, "message": message, "resource": "request", "field": field_name}]
    return CwError(400, "BadRequest", message, errors)


def unauthorized(reason: str) -> CwError:
    """401 as ConnectWise sends it; the reason goes in `errors` so a developer can act on it."""
    return CwError(
        401,
        "Unauthorized",
        "UserNotAuthenticated",
        [{"code": "Unauthorized", "message": reason, "resource": "authentication", "field": "Authorization"}],
    )


def forbidden(message: str) -> CwError:
    return CwError(403, "Forbidden", message)


def not_implemented(method: str, path: str) -> CwError:
    """404 for a real ConnectWise endpoint that this fake does not serve: loud, never silent."""
    return CwError(
        404,
        "NotImplementedByFake",
        f"{method} {path} is a real ConnectWise endpoint that is not implemented by the cwsim fake",
    )


def unknown_path(method: str, path: str) -> CwError:
    return CwError(404, "NotFound", f"{method} {path} is not a ConnectWise API endpoint")


def method_not_allowed(method: str, path: str, allowed: list[str]) -> CwError:
    return CwError(
        405,
        "MethodNotAllowed",
        f"{method} is not allowed on {path}; allowed: {', '.join(sorted(allowed))}",
        headers={"Allow": ", ".join(sorted(allowed))},
    )


def flatten_messages(messages: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """marshmallow's nested error messages as (path of keys and indexes, message) pairs."""
    found: list[tuple[tuple[Any, ...], str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            found += flatten_messages(value, path if key == "_schema" else (*path, key))
    elif isinstance(messages, list):
        for item in messages:
            found += flatten_messages(item, path)
    else:
        found.append((path, str(messages)))
    return found
