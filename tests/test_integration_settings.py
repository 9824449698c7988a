"""The integration's settings: defaults, a file, CWSIM_ variables, clear errors, secrets never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cwsim.integration.settings import Secret, SettingsError, load_settings, redacted


def test_defaults_point_at_a_local_cwsim() -> None:
    settings = load_settings(environ={})
    assert settings.connectwise.site == "http://127.0.0.1:8642"
    assert settings.connectwise.integrator_username == "dattoCW"
    assert (settings.alerts.device_route, settings.alerts.agent_route) == ("both", "both")
    assert settings.alerts.close_on_clear is False and settings.alerts.email_holdback_minutes == 60


def test_a_file_then_environment_variables_override_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(
        "connectwise:\n  site: https://cw.example\n  integrator_password: from-file\nalerts:\n  workers: 2\n"
    )
    settings = load_settings(
        path, environ={"CWSIM_ALERTS_WORKERS": "6", "CWSIM_ALERTS_CLOSE_ON_CLEAR": "true", "CWSIM_STATE_DIR": "/tmp/x"}
    )
    assert settings.connectwise.site == "https://cw.example"
    assert settings.connectwise.integrator_password.reveal() == "from-file"
    assert settings.alerts.workers == 6 and settings.alerts.close_on_clear is True
    assert settings.state_dir == "/tmp/x"


@pytest.mark.parametrize(
    ("content", "environ", "message"),
    [
        ("alerts:\n  workers: many\n", {}, "alerts.workers: expected a whole number"),
        ("alerts:\n  nosuch: 1\n", {}, "alerts.nosuch: unknown setting"),
        ("nosection: {}\n", {}, "nosection: unknown setting"),
        ("alerts: 5\n", {}, "alerts: expected a mapping"),
        ("- a list\n", {}, "expected a mapping of settings sections"),
        ("alerts: [\n", {}, "not valid YAML"),
        ("", {"CWSIM_ALERTS_DEVICE_ROUTE": "sms"}, "a route must be one of ticket, email, both, none"),
        ("", {"CWSIM_INTAKE_PORT": "99999"}, "intake.port must be between 0 and 65535"),
        ("", {"CWSIM_ALERTS_CLOSE_ON_CLEAR": "perhaps"}, "expected true or false"),
    ],
)
def test_bad_settings_are_explained(tmp_path: Path, content: str, environ: dict, message: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(content)
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(path, environ=environ)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read the settings file"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_secrets_never_show_in_text_reprs_logs_or_the_redacted_view(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(environ={"CWSIM_CONNECTWISE_INTEGRATOR_PASSWORD": "hunter2", "CWSIM_SMTP_PASSWORD": "pw9"})
    secret = settings.connectwise.integrator_password
    assert isinstance(secret, Secret) and secret.reveal() == "hunter2"
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings %s %r %s", settings, settings, f"{secret}")
    shown = caplog.text + str(settings) + repr(settings) + str(redacted(settings))
    assert "hunter2" not in shown and "pw9" not in shown
    assert redacted(settings)["connectwise"]["integrator_password"] == "***"


def test_billing_prices_and_plans(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text('billing:\n  siris_price: 99.5\n  plans:\n    "SIRIS Gold": 2 TB\n    "SIRIS Bronze": none\n')
    settings = load_settings(path, environ={"CWSIM_BILLING_ALTO_PRICE": "40"})
    assert (settings.billing.siris_price, settings.billing.alto_price) == (99.5, 40.0)
    assert settings.billing.plans == {"SIRIS Gold": "2 TB", "SIRIS Bronze": "none"}
    from_variable = load_settings(environ={"CWSIM_BILLING_PLANS": '{"ALTO Silver": "500 GB"}'})
    assert from_variable.billing.plans == {"ALTO Silver": "500 GB"}
    with pytest.raises(SettingsError, match=r"billing\.plans: expected a mapping of text to text"):
        load_settings(environ={"CWSIM_BILLING_PLANS": "2 TB"})
    with pytest.raises(SettingsError, match=r"billing\.siris_price must be 0"):
        load_settings(environ={"CWSIM_BILLING_SIRIS_PRICE": "-1"})
