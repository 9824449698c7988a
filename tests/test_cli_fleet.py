"""`cwsim fleet generate` / `cwsim fleet run` and the fleet options of `cwsim serve`: results, and clear errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from cwsim.scenarios.cli import build_parser, main


def run(capsys, *arguments: str) -> tuple[int, str, str]:
    try:
        code = main(list(arguments))
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_generate_then_run(tmp_path: Path, capsys) -> None:
    fleet, events, truth = tmp_path / "fleet.json", tmp_path / "events.jsonl", tmp_path / "truth.json"
    code, out, _ = run(capsys, "fleet", "generate", "--siris", "8", "--alto", "3", "--seed", "4", "--out", str(fleet))
    assert code == 0 and "11 appliances" in out
    document = orjson.loads(fleet.read_bytes())
    assert document["format"] == "cwsim-fleet/1" and len(document["devices"]) == 11
    code, out, _ = run(
        capsys, "fleet", "run", "--fleet", str(fleet), "--days", "5", "--out", str(events), "--truth", str(truth),
        "--workers", "1",
    )  # fmt: skip
    assert code == 0 and "usage" in out and "total" in out
    lines = [orjson.loads(line) for line in events.read_bytes().splitlines()]
    assert sum(line["event"] == "usage" for line in lines) == 11 * 5
    assert {"incidents", "alerts"} <= set(orjson.loads(truth.read_bytes()))


def test_client_names_from_a_file(tmp_path: Path, capsys) -> None:
    names = tmp_path / "clients.txt"
    names.write_text("Acme Inc\nGlobex LLC\n\n")
    out = tmp_path / "fleet.json"
    code, _, _ = run(capsys, "fleet", "generate", "--siris", "4", "--clients", str(names), "--unmatched-share", "0",
                     "--out", str(out))  # fmt: skip
    assert code == 0
    assert {org["name"] for org in orjson.loads(out.read_bytes())["organizations"]} == {"Acme Inc", "Globex LLC"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["fleet", "generate", "--siris", "-1", "--out", "f.json"], "a count is a whole number"),
        (["fleet", "generate", "--siris", "0", "--alto", "0", "--out", "f.json"], "at least one appliance"),
        (["fleet", "generate", "--unmatched-share", "2", "--out", "f.json"], "a share is a number from 0 to 1"),
        (["fleet", "generate", "--start", "soon", "--out", "f.json"], "not an ISO-8601 date-time"),
        (["fleet", "generate", "--siris", "1"], "--out"),
        (["fleet", "generate", "--siris", "1", "--clients", "missing.txt", "--out", "f.json"], "cannot read --clients"),
        (["fleet", "generate", "--siris", "1", "--out", "no/such/dir/f.json"], "cannot write"),
        (["fleet", "run", "--fleet", "missing.json", "--days", "1", "--out", "e.jsonl"], "cannot read it"),
        (["fleet", "run", "--fleet", "bad.json", "--days", "1", "--out", "e.jsonl"], "not JSON"),
        (["fleet", "run", "--fleet", "other.json", "--days", "1", "--out", "e.jsonl"], "not a cwsim fleet file"),
        (["fleet", "run", "--fleet", "bad.json", "--days", "0", "--out", "e.jsonl"], "--days must be from 1"),
        (["fleet", "run", "--fleet", "bad.json", "--days", "x", "--out", "e.jsonl"], "invalid int value"),
        (["fleet", "run", "--fleet", "bad.json", "--days", "1", "--out", "e.jsonl", "--shards", "0"], "--shards"),
        (["serve", "--portal-rate-limit", "-5"], "--portal-rate-limit"),
        (["serve", "--clock", "sideways"], "invalid choice"),
        (["serve", "--clock-rate", "0"], "--clock-rate"),
        (["serve", "--fleet-sink", "localhost:9000"], "--fleet-sink must be an http"),
        (["serve", "--siris", "many"], "a count is a whole number"),
    ],
)
def test_bad_input_is_a_clear_message_never_a_traceback(tmp_path: Path, capsys, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    code, _, err = run(capsys, *arguments)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_serve_takes_fleet_portal_and_clock_options() -> None:
    args = build_parser().parse_args(
        ["serve", "--siris", "3", "--alto", "2", "--fleet-seed", "9", "--portal-rate-limit", "120", "--portal-quirks",
         "--clock", "stepped", "--clock-start", "2026-02-01T00:00:00Z", "--portal-public-key", "pk"]
    )  # fmt: skip
    from cwsim.scenarios.cli import _fleet_options

    options = _fleet_options(args)
    assert (options["fleet"].siris, options["fleet"].alto, options["fleet"].seed) == (3, 2, 9)
    assert options["portal"].rate_limit == 120 and options["portal"].asset_list_as_object
    assert options["portal"].public_key == "pk" and options["clock_mode"] == "stepped"


@pytest.mark.slow
def test_cwsim_serve_with_a_fleet_announces_the_portal(tmp_path: Path) -> None:
    import requests

    from cwsim.scenarios.processes import cwsim_command, start

    command = ["serve", "--port", "0", "--siris", "2", "--alto", "1", "--clock", "stepped"]
    server = start("cwsim", cwsim_command(*command, "--clock-start", "2026-02-02T09:00:00Z"), workdir=tmp_path)
    try:
        portal = server.facts["portal"]
        listing = requests.get(f"{portal['url']}/device", auth=(portal["publicKey"], portal["secretKey"]), timeout=10)
        assert listing.json()["pagination"]["count"] == 3
        clock = requests.get(f"{server.facts['url']}/_sim/clock", timeout=10).json()
        assert clock["now"] == "2026-02-02T09:00:00+00:00" and clock["mode"] == "stepped"
    finally:
        assert server.stop() in (0, -2)
