"""`cwsim capture` and `cwsim verify`: a real ConnectWise's setup into a tenant file, and the fake measured against it.

CWSIM_CAPTURE_PUBLIC_KEY=... CWSIM_CAPTURE_PRIVATE_KEY=... CWSIM_CAPTURE_CLIENT_ID=... \\
  cwsim capture --site api-na.myconnectwise.net --company acme --out acme.yaml --companies 20
cwsim verify --site api-na.myconnectwise.net --company acme --tenant acme.yaml --json report.json

The keys come from the options or the variables and go nowhere but the Authorization header:
not into the file, the progress lines, the report or an error message.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from ..integration.connectwise import ApiKey
from ..simulator.atomic_files import write_atomically
from ..simulator.connectwise.tenant_file import TenantFileError, TenantSource, load_tenant
from .anonymize import anonymize
from .capture import CaptureError, capture
from .verify import VerifyError, report_lines, verify

PUBLIC_KEY_VARIABLE = "CWSIM_CAPTURE_PUBLIC_KEY"
PRIVATE_KEY_VARIABLE = "CWSIM_CAPTURE_PRIVATE_KEY"
CLIENT_ID_VARIABLE = "CWSIM_CAPTURE_CLIENT_ID"
HEADER = (
    "# Captured by `cwsim capture` from {site} (company {company}). Serve it: cwsim serve --tenant {out}\n"
    "# The API keys below are placeholders for the fake; the source's keys and passwords are not in this file.\n"
)


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `capture` and `verify` to the `cwsim` command."""
    capture_parser = commands.add_parser("capture", help="read a ConnectWise's setup into a tenant file")
    _add_site_options(capture_parser)
    capture_parser.add_argument("--out", type=Path, required=True, help="the tenant file to write (YAML)")
    capture_parser.add_argument(
        "--companies",
        type=_count,
        default=0,
        help="also the first N companies with contacts, configurations, agreements",
    )
    capture_parser.add_argument("--anonymize", action="store_true", help="replace names, emails and phones")
    capture_parser.add_argument("--seed", type=int, default=0, help="the seed of --anonymize's stand-ins (default 0)")
    capture_parser.add_argument("--page-size", type=_page_size, default=1000, help="records per page (1-1000)")
    capture_parser.set_defaults(handler=run_capture)

    verify_parser = commands.add_parser("verify", help="compare the fake with a ConnectWise, endpoint by endpoint")
    _add_site_options(verify_parser)
    target = verify_parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--tenant", help="start a fake serving this tenant file (a capture) for the comparison")
    target.add_argument("--fake", help="compare with this running fake (its URL) instead")
    verify_parser.add_argument("--fake-public-key", default=None, help="the fake's public key (--fake)")
    verify_parser.add_argument("--fake-private-key", default=None, help="the fake's private key (--fake)")
    verify_parser.add_argument("--only", action="append", default=[], help="only list paths matching this glob")
    verify_parser.add_argument("--page-size", type=_page_size, default=25, help="records compared per endpoint")
    verify_parser.add_argument("--concurrency", type=_count, default=8, help="endpoints probed at once (default 8)")
    verify_parser.add_argument(
        "--json",
        type=Path,
        help="also write the report as JSON here ('-': stdout, the text going to stderr)",
    )
    verify_parser.add_argument("--allow-writes", action="store_true", help="also run the write flow on both sides")
    verify_parser.add_argument("--sandbox-company", help="the company (id or identifier) the write flow may use")
    verify_parser.set_defaults(handler=run_verify)


def _add_site_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--site", required=True, type=_site, help="the ConnectWise site (https://api-na.myconnectwise.net)"
    )
    parser.add_argument("--company", required=True, help="the ConnectWise company id you log in with")
    parser.add_argument("--public-key", help=f"the API member's public key (or ${PUBLIC_KEY_VARIABLE})")
    parser.add_argument("--private-key", help=f"the API member's private key (or ${PRIVATE_KEY_VARIABLE})")
    parser.add_argument("--client-id", help=f"your clientId (or ${CLIENT_ID_VARIABLE})")


def _site(text: str) -> str:
    """A site as http(s)://host[:port], or a bare host (https is assumed); anything else is a usage error."""
    parsed = urlsplit(text.strip() if "://" in text else f"https://{text.strip()}")
    try:
        port_ok = parsed.port is None or 0 < parsed.port < 65536
    except ValueError:
        port_ok = False
    if parsed.scheme not in ("http", "https") or not parsed.hostname or not port_ok:
        raise argparse.ArgumentTypeError(f"{text!r} is not a site: give https://host[:port] or a host name")
    return text


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _page_size(text: str) -> int:
    value = _count(text)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value


def _fail(command: str, message: str) -> int:
    print(f"cwsim {command}: {message}", file=sys.stderr)
    return 2


def _credentials(command: str, args: argparse.Namespace) -> tuple[ApiKey, str] | str:
    """The source's API key and clientId, or the one-line reason they are missing."""
    public = args.public_key or os.environ.get(PUBLIC_KEY_VARIABLE)
    private = args.private_key or os.environ.get(PRIVATE_KEY_VARIABLE)
    client_id = args.client_id or os.environ.get(CLIENT_ID_VARIABLE)
    missing = [
        f"--{option} or ${variable}"
        for option, variable, value in (
            ("public-key", PUBLIC_KEY_VARIABLE, public),
            ("private-key", PRIVATE_KEY_VARIABLE, private),
            ("client-id", CLIENT_ID_VARIABLE, client_id),
        )
        if not value
    ]
    if missing:
        return "missing " + ", ".join(missing)
    return ApiKey(args.company, public, private), client_id  # type: ignore[arg-type]


def _progress(command: str) -> Any:
    def show(line: str) -> None:
        print(f"cwsim {command}: {line}", file=sys.stderr, flush=True)

    return show


def run_capture(args: argparse.Namespace) -> int:
    found = _credentials("capture", args)
    if isinstance(found, str):
        return _fail("capture", found)
    credentials, client_id = found
    try:
        document, report = capture(
            args.site,
            args.company,
            credentials,
            client_id,
            companies=args.companies,
            page_size=args.page_size,
            progress=_progress("capture"),
        )
    except CaptureError as error:
        return _fail("capture", str(error))
    if args.anonymize:
        document = anonymize(document, args.seed)
    text = HEADER.format(site=args.site, company=args.company, out=args.out)
    text += yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
    try:
        write_atomically(args.out, text.encode("utf-8"))
    except OSError as error:
        return _fail("capture", f"cannot write {args.out}: {error.strerror or error}")
    for table, names in sorted(report.dropped.items()):
        _progress("capture")(f"{table}: left out {', '.join(sorted(names))} (unknown to the fake, or secret)")
    total = sum(report.counts.values())
    _progress("capture")(f"wrote {args.out}: {total} records")
    return _check_loads(args.out, text)


def _check_loads(out: Path, text: str) -> int:
    """Load the file as `cwsim serve --tenant` would; each record the fake refuses is a line on stderr (exit 1)."""
    try:
        load_tenant(TenantSource(text, str(out)))
    except TenantFileError as error:
        _progress("capture")(
            f"the fake refuses {len(error.problems)} of the file's entries; edit them or leave them out:"
        )
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    return 0


def run_verify(args: argparse.Namespace) -> int:
    found = _credentials("verify", args)
    if isinstance(found, str):
        return _fail("verify", found)
    credentials, client_id = found
    if args.allow_writes and not args.sandbox_company:
        return _fail("verify", "--allow-writes needs --sandbox-company (the company the write flow may use)")
    try:
        report = verify(
            args.site,
            credentials,
            client_id,
            tenant=args.tenant,
            fake=args.fake,
            fake_keys=(args.fake_public_key, args.fake_private_key),
            only=args.only,
            page_size=args.page_size,
            concurrency=max(1, args.concurrency),
            sandbox_company=args.sandbox_company if args.allow_writes else None,
            progress=_progress("verify"),
        )
    except VerifyError as error:
        return _fail("verify", str(error))
    json_to_stdout = args.json is not None and str(args.json) == "-"
    text_out = sys.stderr if json_to_stdout else sys.stdout  # stdout stays one JSON document
    for line in report_lines(report):
        print(line, file=text_out)
    if args.json is not None:
        text = json.dumps(report, indent=2, sort_keys=True) + "\n"
        if json_to_stdout:
            sys.stdout.write(text)
        else:
            try:
                write_atomically(args.json, text.encode("utf-8"))
            except OSError as error:
                return _fail("verify", f"cannot write {args.json}: {error.strerror or error}")
    return 1 if report["differences"] else 0
