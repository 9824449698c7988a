"""The integration's settings: a YAML/JSON file, overridden by `CWSIM_<SECTION>_<NAME>` variables.

Secrets (keys, passwords) are `Secret` values: they print as `***` in logs, reprs and errors,
and only `reveal()` gives the real text.
"""

from __future__ import annotations

import difflib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, get_type_hints

import yaml

ROUTES = ("ticket", "email", "both", "none")
ENV_PREFIX = "CWSIM_"
# `CWSIM_` variables that are not settings of the integration, read by the rest of cwsim; they
# are known, so a shell that sets them for `cwsim serve` or a load test draws no warning here.
OTHER_VARIABLES = {
    "CWSIM_ADMIN_TOKEN": "`cwsim serve --admin-token` and the alert load test",
    "CWSIM_READY_FILE": "where a project's own tests find `cwsim serve`'s ready file (README)",
    "CWSIM_CW_COMPANY": "the ConnectWise load test",
    "CWSIM_CW_PUBLIC_KEY": "the ConnectWise load test",
    "CWSIM_CW_PRIVATE_KEY": "the ConnectWise load test",
    "CWSIM_CW_CLIENT_ID": "the ConnectWise load test",
    "CWSIM_LOAD_PAYLOADS": "the alert load test",
    "CWSIM_LOAD_SIM_URL": "the alert load test",
    "CWSIM_CHROMIUM": "cwsim's own dashboard browser test",
    "CWSIM_DASHBOARD_SCREENSHOT": "cwsim's own dashboard browser test",
    "CWSIM_CACHE_DIR": "where cwsim's own third-party client tests keep their venvs",
    "CWSIM_SERVER": "the HTTP server `cwsim serve` (and demo, run, load) runs the fake on",
    "CWSIM_BENCH_ROUNDS": "how many rounds `make bench`'s server benchmark measures",
    "CWSIM_CAPTURE_PUBLIC_KEY": "`cwsim capture` and `cwsim verify`: the source ConnectWise API member's public key",
    "CWSIM_CAPTURE_PRIVATE_KEY": "`cwsim capture` and `cwsim verify`: the source API member's private key",
    "CWSIM_CAPTURE_CLIENT_ID": "`cwsim capture` and `cwsim verify`: the clientId sent to the source",
    "CWSIM_FULL_SWEEP": "`make sweep`: the schemathesis run at full count over every generated operation",
    "CWSIM_INTAKE_PROCESS_TOKEN": "set by `cwsim-integration run` for its intake process (kept off its command line)",
}


class Secret:
    """Text that never shows itself by accident; only `reveal()` gives it.

    Not a `str`: a `str` subclass hands its text to `+`, `json.dumps`, orjson, slicing and every
    string method. This shows `***` in `str`, `repr`, f-strings and `%`; concatenation, JSON and
    pickling refuse it; it compares equal only to a `Secret` with the same text.
    """

    __slots__ = ("_text",)

    def __init__(self, text: str | Secret = "") -> None:
        if isinstance(text, Secret):
            text = text.reveal()
        if not isinstance(text, str):
            raise TypeError(f"a Secret holds text, not {type(text).__name__}")
        object.__setattr__(self, "_text", text)

    def reveal(self) -> str:
        return self._text

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Secret cannot be changed")

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._text)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._text.encode(), other._text.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._text))

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("a Secret is not pickled (that would write its text out); pickle secret.reveal() on purpose")

    def __copy__(self) -> Secret:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


NO_SECRET = Secret("")
DEFAULT_DATTO_SECRET = Secret("datto-secret")  # immutable, so sharing one default is safe


@dataclass
class ConnectWiseSettings:
    site: str = "http://127.0.0.1:8642"  # scheme and host; the codebase is looked up
    api_url: str = ""  # set to skip the codebase lookup (e.g. http://host/v4_6_release/apis/3.0)
    company_id: str = "cwsim"
    client_id: str = "cwsim-integration"
    integrator_username: str = "dattoCW"
    integrator_password: Secret = NO_SECRET
    public_key: str = ""  # API member keys: optional; the doctor uses them to read setup tables
    private_key: Secret = NO_SECRET
    timeout_seconds: float = 30.0
    retry_attempts: int = 4  # re-sends of a call that is safe to repeat (and of any 429) before it fails
    retry_backoff_seconds: float = 0.5  # between them: backoff x 2^n, jittered (a 429's Retry-After wins)


@dataclass
class DattoSettings:
    url: str = "http://127.0.0.1:8642/v1"
    public_key: str = "datto-public"
    secret_key: Secret = DEFAULT_DATTO_SECRET
    requests_per_minute: int = 120
    per_page: int = 100


@dataclass
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 8025
    sender: str = "noreply@datto.example"
    username: str = ""
    password: Secret = NO_SECRET
    starttls: bool = False
    timeout_seconds: float = 30.0


@dataclass
class AlertSettings:
    board: str = "Datto Alerts"
    status: str = "New"
    device_type: str = ""  # optional ticket type for device alerts
    agent_type: str = ""  # optional ticket type for agent alerts
    subtype: str = ""
    device_route: str = "both"  # ticket | email | both | none
    agent_route: str = "both"
    close_on_clear: bool = False
    closed_status: str = "Closed"
    email_holdback_minutes: int = 60  # per device and alert type, in alert time (dateTriggered)
    screenshot_email: bool = True  # screenshot alerts never ticket, but may email their screenshotFailed list
    workers: int = 4
    poll_interval_seconds: float = 0.0  # > 0: also poll the portal's alert lists
    retry_base_seconds: float = 1.0  # a transient failure waits base x 2^(attempt-1), jittered ...
    retry_max_seconds: float = 60.0  # ... up to this; it is retried until it succeeds, never dropped
    hold_retry_seconds: float = 60.0  # how often an alert of a device with no company is tried again
    # Finished deliveries are forgotten after this many days (0: kept for ever). An event re-sent
    # after that would be new again, so keep it well beyond any sender's retries.
    keep_days: float = 7.0
    # Before re-posting a create that may have happened, look the ticket (or note) up first. Only the
    # negative-control test turns this off, to show that commit-then-fail then makes a duplicate.
    lookup_before_post: bool = True


@dataclass
class OnboardingSettings:
    configuration_type: str = "Datto Appliance"
    mapping_file: str = ""  # YAML: serial or client name -> company, contact, agreement, product, board...
    default_contact: str = ""  # "" = the company's default contact; else a contact's name
    default_agreement: str = ""  # an agreement's name or an agreement type's name ("" = none)
    default_product: str = ""  # a catalog identifier: an addition of 1 per device on the agreement
    # The managed-device integration to follow ("" = the one whose integrator login is ours), and
    # what billFlag to set when it cannot be read (it needs API member keys).
    managed_devices_integration: str = ""
    bill_customer: bool = True


@dataclass
class BillingSettings:
    overage_agreement_type: str = "Datto Offsite Overage"
    siris_product: str = "DATTO-SIRIS-OVG-TB"
    alto_product: str = "DATTO-ALTO-OVG-500GB"
    binary_units: bool = False  # decimal (1 TB = 10^12 bytes) unless set
    bill_at_month_end: bool = True  # while `run` is running, by the wall clock
    siris_price: float = 0.0  # per unit; 0 = the catalog product's price
    alto_price: float = 0.0
    # servicePlan text -> included offsite ("500 GB", "2 TB") or "none" (no overage). The portal
    # names a plan but gives no allowance field; plans not listed here are read by billing's
    # built-in patterns, and a plan neither knows is reported, never billed.
    plans: dict[str, str] = field(default_factory=dict)


@dataclass
class IntakeSettings:
    host: str = "127.0.0.1"
    port: int = 8650
    max_batch: int = 1000  # alert events in one POST /alerts
    max_body_bytes: int = 8 * 1024 * 1024
    # Bearer token every call but /health must carry; required to listen beyond loopback.
    token: Secret = NO_SECRET


@dataclass
class Settings:
    connectwise: ConnectWiseSettings = field(default_factory=ConnectWiseSettings)
    datto: DattoSettings = field(default_factory=DattoSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    onboarding: OnboardingSettings = field(default_factory=OnboardingSettings)
    billing: BillingSettings = field(default_factory=BillingSettings)
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    state_dir: str = "cwsim-integration-state"  # the outbox and onboarding records live here


class SettingsError(ValueError):
    """Settings that cannot be used; the message says which and why."""


def _coerce(value: Any, kind: Any, where: str) -> Any:
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind is Secret:
            if value is None:  # `token:` left empty in YAML is no secret, never the text "None"
                return NO_SECRET
            return Secret(value.reveal() if isinstance(value, Secret) else str(value))
        if getattr(kind, "__origin__", None) is dict:
            return _text_table(value)
        if isinstance(value, dict | list):
            raise ValueError(value)
        return str(value)
    except ValueError as error:
        expected = {bool: "true or false", int: "a whole number", float: "a number"}.get(kind, "text")
        if getattr(kind, "__origin__", None) is dict:
            expected = "a mapping of text to text (in a variable: a JSON object)"
        raise SettingsError(f"{where}: expected {expected}, got {value!r}") from error


def _text_table(value: Any) -> dict[str, str]:
    """A mapping of text to text, from a file's mapping or a variable's JSON object."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    if not isinstance(value, Mapping) or any(isinstance(item, dict | list) for item in value.values()):
        raise ValueError(value)
    return {str(key): str(item) for key, item in value.items()}


def _apply(target: Any, values: Mapping[str, Any], where: str) -> None:
    hints = get_type_hints(type(target))
    known = {f.name for f in fields(target)}
    for name, value in values.items():
        if name not in known:
            hint = did_you_mean(str(name), known)
            raise SettingsError(f"{where}{name}: unknown setting{hint} (known: {', '.join(sorted(known))})")
        current = getattr(target, name)
        if is_dataclass(current):
            if not isinstance(value, Mapping):
                raise SettingsError(f"{where}{name}: expected a mapping of settings")
            _apply(current, value, f"{where}{name}.")
        else:
            setattr(target, name, _coerce(value, hints[name], f"{where}{name}"))


def _setting_variables(settings: Settings) -> dict[str, tuple[Any, str, str]]:
    """`CWSIM_SECTION_NAME` -> (the object holding the setting, its name, where an error says it is)."""
    found: dict[str, tuple[Any, str, str]] = {}
    for section in fields(settings):
        group = getattr(settings, section.name)
        if not is_dataclass(group):
            found[f"{ENV_PREFIX}{section.name.upper()}"] = (settings, section.name, "")
            continue
        for item in fields(group):
            variable = f"{ENV_PREFIX}{section.name.upper()}_{item.name.upper()}"
            found[variable] = (group, item.name, f"{variable} -> {section.name}.")
    return found


def _from_environment(settings: Settings, environ: Mapping[str, str]) -> None:
    for variable, (target, name, where) in _setting_variables(settings).items():
        if variable in environ:
            _apply(target, {name: environ[variable]}, where)


def known_variables() -> set[str]:
    """Every `CWSIM_` variable cwsim reads: the settings' and `OTHER_VARIABLES`."""
    return set(_setting_variables(Settings())) | set(OTHER_VARIABLES)


def unknown_variable_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    """A line for each `CWSIM_` variable set that nothing reads (a typo, most likely), naming the nearest known one."""
    environ = os.environ if environ is None else environ
    known = known_variables()
    lines = []
    for variable in sorted(name for name in environ if name.startswith(ENV_PREFIX) and name not in known):
        hint = did_you_mean(variable, known, ENV_PREFIX)
        lines.append(f"{variable} is not a variable cwsim reads (ignored){hint}")
    return lines


def did_you_mean(given: str, known: Iterable[str], prefix: str = "") -> str:
    """`; did you mean "X"?` for the nearest of `known` (compared without their shared `prefix`), or ""."""
    by_key = {name.removeprefix(prefix).casefold(): name for name in known}
    close = difflib.get_close_matches(given.removeprefix(prefix).casefold(), list(by_key), n=1, cutoff=0.6)
    return f'; did you mean "{by_key[close[0]]}"?' if close else ""


def _validate(settings: Settings) -> None:
    for route in (settings.alerts.device_route, settings.alerts.agent_route):
        if route not in ROUTES:
            raise SettingsError(f"alerts: a route must be one of {', '.join(ROUTES)}, not {route!r}")
    if settings.connectwise.retry_attempts < 0 or settings.connectwise.retry_backoff_seconds < 0:
        raise SettingsError("connectwise.retry_attempts and connectwise.retry_backoff_seconds cannot be negative")
    alerts = settings.alerts
    if alerts.workers < 1:
        raise SettingsError("alerts.workers must be at least 1")
    for name in ("retry_base_seconds", "retry_max_seconds", "hold_retry_seconds"):
        if not getattr(alerts, name) > 0:
            raise SettingsError(f"alerts.{name} must be more than 0, not {getattr(alerts, name)}")
    if alerts.retry_max_seconds < alerts.retry_base_seconds:
        raise SettingsError("alerts.retry_max_seconds must be at least alerts.retry_base_seconds")
    if alerts.poll_interval_seconds < 0 or alerts.email_holdback_minutes < 0 or alerts.keep_days < 0:
        raise SettingsError("alerts.poll_interval_seconds, email_holdback_minutes and keep_days cannot be negative")
    token = settings.intake.token.reveal()
    if token and (token != token.strip() or not token.isascii() or not token.isprintable()):
        raise SettingsError("intake.token must be printable ASCII without spaces at either end (it goes in a header)")
    if settings.intake.max_batch < 1 or settings.intake.max_body_bytes < 1024:
        raise SettingsError("intake.max_batch must be at least 1 and intake.max_body_bytes at least 1024")
    for name, port in (("intake.port", settings.intake.port), ("smtp.port", settings.smtp.port)):
        if not 0 <= port <= 65535:
            raise SettingsError(f"{name} must be between 0 and 65535, not {port}")
    for name, price in (
        ("billing.siris_price", settings.billing.siris_price),
        ("billing.alto_price", settings.billing.alto_price),
    ):
        if not price >= 0:
            raise SettingsError(f"{name} must be 0 (the catalog's price) or more, not {price}")


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the file (YAML or JSON), then `CWSIM_...` variables; checked."""
    settings = Settings()
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise SettingsError(f"{path}: cannot read the settings file: {error.strerror or error}") from error
        try:
            document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as error:
            raise SettingsError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}") from error
        if document is not None:
            if not isinstance(document, Mapping):
                raise SettingsError(f"{path}: expected a mapping of settings sections")
            _apply(settings, document, f"{path}: ")
    _from_environment(settings, os.environ if environ is None else environ)
    _validate(settings)
    return settings


def redacted(settings: Settings) -> dict[str, Any]:
    """The settings as a plain dict with every secret masked (for logs and `--show-settings`)."""

    def plain(value: Any) -> Any:
        if is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, Secret):
            return "***" if value.reveal() else ""
        return value

    return plain(settings)
