"""The baseline: a bare Flask app doing the least a fake could do, on the same WSGI server.

Its POST parses the JSON body and stores it in a dict under a lock; its GET returns 25 stored
records found by one dict lookup. `python -m benchmarks.bare_flask --port 0 --ready-file F [--server granian]`
(with granian the ready file is written before its worker answers: poll the URL).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import threading
from pathlib import Path

import waitress.server
from flask import Flask, Response, request

JSON_TYPE = "application/json; charset=utf-8"


def create_app() -> Flask:
    app = Flask(__name__)
    lock = threading.Lock()
    ids = itertools.count(1)
    tickets: dict[int, dict] = {}
    by_company: dict[int, list[dict]] = {}

    @app.post("/v4_6_release/apis/3.0/service/tickets")
    def create() -> Response:
        ticket = json.loads(request.get_data())
        with lock:
            ticket["id"] = next(ids)
            tickets[ticket["id"]] = ticket
            company = ticket.get("company", {}).get("id", 0)
            by_company.setdefault(company, []).append(ticket)
        return Response(json.dumps(ticket), 201, content_type=JSON_TYPE)

    @app.get("/v4_6_release/apis/3.0/service/tickets")
    def listing() -> Response:
        company = int(request.args.get("company", "1"))
        page = by_company.get(company, [])[-25:]
        return Response(json.dumps(page), 200, content_type=JSON_TYPE)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--server", choices=("waitress", "granian"), default="waitress")
    args = parser.parse_args()
    if args.server == "granian":
        serve_on_granian(args.port, args.threads, args.ready_file)
        return
    server = waitress.server.create_server(create_app(), host="127.0.0.1", port=args.port, threads=args.threads)
    args.ready_file.write_text(json.dumps({"url": f"http://127.0.0.1:{server.effective_port}"}))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()


def serve_on_granian(port: int, threads: int, ready_file: Path) -> None:
    """The same app on granian, one worker and `threads` Python threads, as `cwsim serve --server granian`."""
    from cwsim.simulator.granian_serving import GranianServing

    serving = GranianServing("127.0.0.1", port, threads)
    ready_file.write_text(json.dumps({"url": f"http://127.0.0.1:{serving.port}"}))
    serving.serve(create_app)


if __name__ == "__main__":
    main()
