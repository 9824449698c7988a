"""Where stubs meet HTTP: the hook that answers a matching request, and /_sim/stubs to list, add and delete them."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, g, request

from .connectwise.errors import CwError, FieldProblem, invalid_object
from .connectwise.resources import json_response, read_json
from .faults import is_admin_path
from .stub_schema import load_stubs
from .stubs import Stub, StubBook, StubConflict, StubRequest


def stub_response(stub: Stub) -> Response:
    answer = stub.spec.respond
    response = Response(answer.content(), answer.status)
    content_type = answer.content_type()
    if content_type is not None:
        response.headers["Content-Type"] = content_type
    elif not answer.content():
        response.headers.pop("Content-Type", None)
    for name, value in answer.headers:
        response.headers[name] = value
    return response


def install_stub_hook(app: Flask, book: StubBook) -> None:
    """Answer from the first matching stub, ahead of the fake (and of its auth); after the fault hooks,
    so an outage or a throttle still reaches a stubbed path. The journal records the stub's id."""

    @app.before_request
    def stubbed_answer() -> Response | None:
        if not book:
            return None
        path = request.path
        if is_admin_path(path):  # the control plane is never stubbed: it is how stubs are removed
            return None
        found = StubRequest(
            request.method,
            path,
            request.args.items(multi=True),
            request.headers,
            lambda: request.get_data(cache=True),
        )
        stub = book.answer_for(found)
        if stub is None:
            return None
        g.cwsim_stub = stub.id
        return stub_response(stub)


def add_stub_routes(blueprint: Blueprint, book: StubBook) -> None:
    """GET/POST/DELETE /_sim/stubs and GET/DELETE /_sim/stubs/<id>."""

    @blueprint.get("/stubs")
    def stubs_list() -> Response:
        return json_response(book.describe())

    @blueprint.post("/stubs")
    def stubs_add() -> Response:
        document = read_json()
        try:
            added = book.add(load_stubs(document))
        except StubConflict as error:
            raise invalid_object("stub", [FieldProblem(error.field, str(error))]) from error
        described = book.describe(added)
        return json_response(described if isinstance(document, list) else described[0], 201)

    @blueprint.get("/stubs/<stub_id>")
    def stubs_one(stub_id: str) -> Response:
        stub = book.find(stub_id)
        if stub is None:
            raise CwError(404, "NotFound", f"Stub {stub_id} not found")
        return json_response(book.describe([stub])[0])

    @blueprint.delete("/stubs/<stub_id>")
    def stubs_remove(stub_id: str) -> Response:
        if not book.remove(stub_id):
            raise CwError(404, "NotFound", f"Stub {stub_id} not found")
        return json_response(None, 204)

    @blueprint.delete("/stubs")
    def stubs_clear() -> Response:
        book.clear()
        return json_response(None, 204)
