"""Where fault rules meet requests: Flask hooks in front of the app, and the answers they give."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from flask import Flask, Response, g, request

from .connectwise.model import Collection
from .connectwise.resources import json_response
from .connectwise.routing import Router
from .faults import FaultAnswer, FaultBook, FaultRequest, Lineage, client_of, is_admin_path

FAULT_HEADER = "X-Cwsim-Fault"  # the id of the rule that touched a response, for whoever debugs a client


def collection_lineage(router: Router, collections: Iterable[Collection]) -> Lineage:
    """A function from a ConnectWise API path to its collection's table and its parents' tables."""
    by_table: Mapping[str, Collection] = {collection.table: collection for collection in collections}

    def lineage(api_path: str) -> tuple[str, ...]:
        route = router.resolve(api_path)
        tables: list[str] = []
        collection = route.collection if route is not None else None
        while collection is not None:
            tables.append(collection.table.casefold())
            collection = by_table.get(collection.parent.collection) if collection.parent else None
        return tuple(tables)

    return lineage


def fault_response(answer: FaultAnswer) -> Response:
    return json_response(answer.body(), answer.status, dict(answer.headers))


def spoil(response: Response) -> Response:
    """The same answer with its JSON cut in the middle; an empty answer becomes a lone `{`."""
    body = response.get_data()
    response.set_data(body[: len(body) // 2] if len(body) > 1 else b"{")
    if response.status_code == 204:
        response.status_code = 200
    response.content_type = "application/json; charset=utf-8"
    return response


def _request_client() -> str:
    return client_of(request.headers.get("Authorization"), request.remote_addr)


def _request_body() -> bytes:
    return request.get_data(cache=True)


def install_fault_hooks(app: Flask, book: FaultBook, lineage: Lineage) -> None:
    """Register the fault hooks; call after the journal's, so the journal times and records faults."""

    @app.before_request
    def fault_in_front() -> Response | None:
        if not book.rules:
            return None
        path = request.path
        if is_admin_path(path):
            return None
        decision = book.decide(FaultRequest(request.method, path, lineage, _request_client, _request_body))
        if decision is None:
            return None
        g.cwsim_fault = decision
        if decision.delay_s > 0:
            time.sleep(decision.delay_s)
        answer = decision.answer_now
        if answer is not None:
            return fault_response(answer)
        if decision.waits_for_commit:
            g.cwsim_fault_watch = book.watch_commits(decision)
        return None

    @app.after_request
    def fault_behind(response: Response) -> Response:
        decision = g.get("cwsim_fault")
        if decision is None:
            return response
        if decision.committed and 200 <= response.status_code < 300:
            response = fault_response(decision.rule.effect.answer)
        elif decision.spoils_answer:
            response = spoil(response)
        response.headers[FAULT_HEADER] = str(decision.rule.id)
        return response

    @app.teardown_request
    def stop_watching_commits(error: BaseException | None) -> None:
        token = g.pop("cwsim_fault_watch", None)
        if token is not None:
            book.stop_watching(token)
