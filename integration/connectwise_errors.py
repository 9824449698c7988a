"""The exceptions a ConnectWise call raises, built from ConnectWise's `{code, message, errors}` bodies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from .transport import retry_after_seconds


@dataclass(frozen=True)
class FieldError:
    """One entry of a ConnectWise error body's `errors` list."""

    code: str
    message: str
    resource: str = ""
    field: str = ""


class ConnectWiseError(Exception):
    """A call to ConnectWise failed; `status` is None when no answer arrived."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        errors: Sequence[FieldError] = (),
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.errors = list(errors)
        self.method = method
        self.url = url
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        answer = f"{self.status} {self.code}".strip() if self.status is not None else "no answer"
        text = f"{self.method} {self.url} -> {answer}: {self.message}"
        for error in self.errors:
            where = "/".join(part for part in (error.resource, error.field) if part)
            text += f"; {where or 'request'}: {error.code} {error.message}".rstrip()
        return text


class BadRequest(ConnectWiseError):
    """400: the request itself is wrong (a bad condition, a malformed body)."""


class InvalidObject(BadRequest):
    """400 InvalidObject: the record failed validation; `errors` names each bad field."""


class ObjectExists(InvalidObject):
    """400 InvalidObject with an ObjectExists field error (e.g. a company identifier already in use)."""


class AuthenticationError(ConnectWiseError):
    """401: wrong or missing credentials or clientId."""


class PermissionDenied(ConnectWiseError):
    """403: the credentials are valid but may not do this (a security role or integrator API flag)."""


class NotFound(ConnectWiseError):
    """404: no such record (or endpoint)."""


class RateLimited(ConnectWiseError):
    """429 after the transport's retries ran out; `retry_after` is the server's hint in seconds."""


class ServerError(ConnectWiseError):
    """5xx. For a POST, the record may or may not have been created."""


class TransportError(ConnectWiseError):
    """No answer: the connection failed, broke or timed out."""


class ConnectionFailed(TransportError):
    """The request never reached ConnectWise (refused, unresolvable, connect timeout): safe to send again."""


class ResponseLost(TransportError):
    """The request went out but no answer came back: it may or may not have been applied."""


_BY_STATUS: dict[int, type[ConnectWiseError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    429: RateLimited,
}


def error_from_response(response: requests.Response, method: str) -> ConnectWiseError:
    """The typed error for a non-2xx answer, read from ConnectWise's `{code, message, errors}` body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"message": response.text.strip()[:300] or response.reason or ""}
    errors = [
        FieldError(
            str(item.get("code") or ""),
            str(item.get("message") or ""),
            str(item.get("resource") or ""),
            str(item.get("field") or ""),
        )
        for item in body.get("errors") or []
        if isinstance(item, dict)
    ]
    code = str(body.get("code") or "")
    status = response.status_code
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else ConnectWiseError)
    if kind is BadRequest and code == "InvalidObject":
        kind = ObjectExists if any(error.code == "ObjectExists" for error in errors) else InvalidObject
    return kind(
        str(body.get("message") or response.reason or ""),
        status=status,
        code=code,
        errors=errors,
        method=method,
        url=response.url,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )


# What requests raises when no whole answer came back: no connection, a timeout, or an answer cut
# short (its body ended early: ChunkedEncodingError, whatever the transfer encoding).
TRANSPORT_FAILURES = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


def transport_error(error: requests.RequestException, method: str, url: str) -> TransportError:
    reason = getattr(error.args[0], "reason", None) if error.args else None
    never_sent = isinstance(error, requests.ConnectTimeout) or isinstance(
        reason, NewConnectionError | ConnectTimeoutError
    )
    kind = ConnectionFailed if never_sent else ResponseLost
    return kind(f"{type(error).__name__}: {error}", method=method, url=url)
