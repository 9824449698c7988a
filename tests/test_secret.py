"""`Secret`: its text leaves only through `reveal()`, whatever route it takes out of the process."""

from __future__ import annotations

import copy
import json
import logging
import pickle
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from cwsim.integration.settings import Secret, load_settings, redacted

TEXT = "hunter2-7c1f"


class OldSecret(str):
    """The class before: a `str` subclass that masked only `str`, `repr` and `format`."""

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def reveal(self) -> str:
        return str.__str__(self)


# Every way a value commonly leaves: each either shows a mask or refuses.
ROUTES: dict[str, Callable[[Any], Any]] = {
    "str": str,
    "repr": repr,
    "f-string": lambda s: f"{s}",
    "f-string with a spec": lambda s: f"{s:>20}",
    "str.format": lambda s: "{}".format(s),  # noqa: UP032
    "format()": format,
    "% s": lambda s: "%s" % s,  # noqa: UP031
    "% r": lambda s: "%r" % (s,),  # noqa: UP031
    "+ after": lambda s: "password=" + s,
    "+ before": lambda s: s + "@host",
    "join": lambda s: ":".join(["user", s]),
    "json.dumps": json.dumps,
    "json.dumps in a dict": lambda s: json.dumps({"password": s}),
    "orjson.dumps": orjson.dumps,
    "pickle": pickle.dumps,
    "pickle protocol 0": lambda s: pickle.dumps(s, protocol=0),
    "slice": lambda s: s[0:],
    "upper": lambda s: s.upper(),
    "encode": lambda s: s.encode(),
    "bytes": bytes,
    "list": list,
}


def leaks(secret: Any) -> list[str]:
    """The routes by which the secret's text came out."""
    found = []
    for name, route in ROUTES.items():
        try:
            out = route(secret)
        except (TypeError, AttributeError):
            continue  # refused: nothing came out
        text = (
            out.decode("latin-1") if isinstance(out, bytes) else str(out) if not isinstance(out, list) else "".join(out)
        )
        if TEXT in text or (isinstance(out, bytes) and TEXT.encode() in out):
            found.append(name)
    return found


def test_no_route_but_reveal_gives_the_text() -> None:
    secret = Secret(TEXT)
    assert leaks(secret) == []
    assert secret.reveal() == TEXT


def test_negative_control_the_old_str_subclass_leaks() -> None:
    found = leaks(OldSecret(TEXT))
    assert {"+ after", "+ before", "json.dumps", "orjson.dumps", "pickle", "slice", "join"} <= set(found)


def test_masks_and_refusals() -> None:
    secret = Secret(TEXT)
    shown = (str(secret), repr(secret), f"{secret}", "%s" % secret)  # noqa: UP031
    assert shown == ("***", "Secret('***')", "***", "***")
    with pytest.raises(TypeError):
        _ = "x" + secret  # type: ignore[operator]
    with pytest.raises(TypeError, match="not JSON serializable"):
        json.dumps(secret)
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(secret)


def test_a_secret_behaves_as_a_value() -> None:
    secret = Secret(TEXT)
    assert secret == Secret(TEXT) and secret != Secret("other") and secret != TEXT  # never equal to its text
    assert bool(secret) and not Secret("") and Secret(secret).reveal() == TEXT
    assert copy.copy(secret) is secret and copy.deepcopy({"k": secret})["k"] is secret
    with pytest.raises(AttributeError):
        secret._text = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Secret(1234)  # type: ignore[arg-type]


def test_settings_with_secrets_log_and_dump_only_masks(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(environ={"CWSIM_SMTP_PASSWORD": TEXT, "CWSIM_INTAKE_TOKEN": TEXT})
    assert settings.smtp.password.reveal() == TEXT
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings %s %r", settings, settings)
    assert TEXT not in caplog.text + json.dumps(redacted(settings)) + repr(copy.deepcopy(settings))
    with pytest.raises(TypeError):
        pickle.dumps(settings)  # refuses rather than writing the secret to disk
