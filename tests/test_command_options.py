"""The options both commands share (--version, --log-level beside --verbose), and `cwsim load` without locust."""

from __future__ import annotations

import importlib.util
import logging

import pytest

from cwsim.integration.cli import build_parser as integration_parser
from cwsim.integration.command_options import chosen_level, installed_version
from cwsim.scenarios import load_runner
from cwsim.scenarios.cli import build_parser, main


def test_version_names_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    for parser, prog in ((build_parser(), "cwsim"), (integration_parser(), "cwsim-integration")):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(["--version"])
        assert exited.value.code == 0
        assert capsys.readouterr().out.strip() == f"{prog} {installed_version()}"
    assert installed_version() != "unknown"


@pytest.mark.parametrize(
    ("arguments", "level"),
    [
        ([], logging.WARNING),
        (["--verbose"], logging.INFO),
        (["--log-level", "debug"], logging.DEBUG),
        (["--verbose", "--log-level", "ERROR"], logging.ERROR),
    ],
)
def test_serve_log_level_beside_verbose(arguments: list[str], level: int) -> None:
    args = build_parser().parse_args(["serve", *arguments])
    assert chosen_level(args, usual=logging.WARNING, verbose=logging.INFO) == level


def test_the_integrations_run_has_both_too() -> None:
    args = integration_parser().parse_args(["run", "--log-level", "warning"])
    assert chosen_level(args, usual=logging.INFO, verbose=logging.DEBUG) == logging.WARNING
    assert chosen_level(integration_parser().parse_args(["run", "--verbose"]), logging.INFO, logging.DEBUG) == 10


def test_a_wrong_log_level_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["serve", "--log-level", "loud"])
    assert exited.value.code == 2 and "invalid choice: 'loud'" in capsys.readouterr().err


def test_cwsim_load_without_locust_says_what_to_install_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_runner.locust_missing() is None  # the dev environment has the load extra
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "locust" else real(name, *a))
    assert main(["load", "connectwise", "--duration", "1s"]) == 2
    err = capsys.readouterr().err
    assert err == "cwsim load: locust is not installed (the core install leaves it out): pip install 'cwsim[load]'\n"


def test_a_server_variable_naming_no_server_is_a_clear_error(monkeypatch, capsys) -> None:
    import pytest

    from cwsim.scenarios.cli import main

    monkeypatch.setenv("CWSIM_SERVER", "bogus")
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--port", "0"])
    assert exit_.value.code == 2
    assert "$CWSIM_SERVER is 'bogus'" in capsys.readouterr().err
