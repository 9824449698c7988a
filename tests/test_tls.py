"""HTTPS through the loopback TLS proxy: pyconnectwise from PyPI, unmodified, with REQUESTS_CA_BUNDLE.

The acceptance journey is a list of steps sharing what they found, so the issue's full list
(configurations, agreements) is the basic one plus a few more steps once those collections are
served: see DATTO_JOURNEY, skipped until then.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pyconnectwise import ConnectWiseManageAPIClient

from cwsim.simulator.connectwise.collections import COLLECTIONS
from cwsim.simulator.fault_schema import load_fault_rules
from cwsim.simulator.proxy import LoopbackProxy, Relay
from cwsim.simulator.pytest_plugin import basic_auth
from cwsim.simulator.server import RunningServer, ServeOptions
from cwsim.simulator.tls import local_tls
from cwsim.simulator.world import WorldOptions

Step = Callable[[ConnectWiseManageAPIClient, dict[str, Any]], None]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    server = RunningServer(ServeOptions(port=0, tls=True, ca_file=ca_file, world=WorldOptions(companies=5)))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def facts(tls_server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    tls_server.world.reset(startup=True)
    facts = tls_server.facts()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", facts["ca_file"])
    return facts


def unmodified_client(facts: dict[str, Any]) -> ConnectWiseManageAPIClient:
    """pyconnectwise as its README shows it: https is its own; the fake is just another host."""
    return ConnectWiseManageAPIClient(
        facts["companyId"], f"127.0.0.1:{facts['port']}", facts["clientId"], facts["publicKey"], facts["privateKey"]
    )


# -- the journey's steps ----------------------------------------------------------------------


def looks_up_the_codebase(cw: ConnectWiseManageAPIClient, seen: dict[str, Any]) -> None:
    assert cw.codebase == "v2025_1/"  # the client's constructor fetched it from /login/companyinfo


def lists_boards(cw: ConnectWiseManageAPIClient, seen: dict[str, Any]) -> None:
    boards = cw.service.boards.get(params={"conditions": "inactiveFlag=false", "orderBy": "name asc"})
    assert [board.name for board in boards] == ["Datto Alerts", "Help Desk", "Professional Services"]
    seen["board"] = boards[0]
    assert boards[0].info["statuses_href"].startswith(f"https://127.0.0.1:{seen['port']}/")


def creates_a_ticket(cw: ConnectWiseManageAPIClient, seen: dict[str, Any]) -> None:
    company = cw.company.companies.get(params={"pageSize": 1})[0]
    ticket = cw.service.tickets.post(
        data={
            "summary": "Datto SIRIS 00012E94105B: Backup failed",
            "board": {"id": seen["board"].id},
            "company": {"id": company.id},
            "initialDescription": "Backup of FS01 failed at 02:00.",
        }
    )
    assert ticket.status.name == "New" and ticket.closed_flag is False
    seen["ticket"] = ticket


def closes_the_ticket(cw: ConnectWiseManageAPIClient, seen: dict[str, Any]) -> None:
    statuses = cw.service.boards.id(seen["board"].id).statuses.get()
    closed = next(status for status in statuses if status.closed_status)
    ticket = cw.service.tickets.id(seen["ticket"].id).patch(
        data=[{"op": "replace", "path": "status/id", "value": closed.id}]
    )
    assert ticket.closed_flag is True and ticket.closed_date is not None


def lists_configuration_types(cw: ConnectWiseManageAPIClient, seen: dict[str, Any]) -> None:
    types = cw.company.configurations.types.get()
    seen["configuration_type"] = next(t for t in types if "datto" in t.name.lower())


def creates_a_configuration_with_a_serial_number(cw: ConnectWiseManageAPIClient, seen: dict[str, Any]) -> None:
    agreement = cw.finance.agreements.get(params={"conditions": "agreementStatus='Active'"})[0]
    seen["agreement"] = agreement
    configuration = cw.company.configurations.post(
        data={
            "name": "SIRIS 00012E94105B",
            "type": {"id": seen["configuration_type"].id},
            "company": {"id": agreement.company.id},
            "serialNumber": "00012E94105B",
        }
    )
    seen["configuration"] = configuration


def finds_it_by_serial_number(cw: ConnectWiseManageAPIClient, seen: dict[str, Any]) -> None:
    found = cw.company.configurations.get(params={"conditions": 'serialNumber="00012E94105B"'})
    assert [c.id for c in found] == [seen["configuration"].id]


def attaches_it_to_an_agreement(cw: ConnectWiseManageAPIClient, seen: dict[str, Any]) -> None:
    agreement_id = seen["agreement"].id
    cw.finance.agreements.id(agreement_id).configurations.post(data={"id": seen["configuration"].id})
    attached = cw.finance.agreements.id(agreement_id).configurations.get()
    assert seen["configuration"].id in [reference.id for reference in attached]


def adds_an_agreement_addition(cw: ConnectWiseManageAPIClient, seen: dict[str, Any]) -> None:
    product = cw.procurement.catalog.get()[0]
    addition = cw.finance.agreements.id(seen["agreement"].id).additions.post(
        data={"product": {"id": product.id}, "quantity": 2, "billCustomer": "Billable"}
    )
    assert addition.quantity == 2


def creates_a_ticket_linked_to_it(cw: ConnectWiseManageAPIClient, seen: dict[str, Any]) -> None:
    seen["board"] = cw.service.boards.get(params={"conditions": 'name="Datto Alerts"'})[0]
    creates_a_ticket(cw, seen)
    cw.service.tickets.id(seen["ticket"].id).configurations.post(data={"id": seen["configuration"].id})
    linked = cw.service.tickets.id(seen["ticket"].id).configurations.get()
    assert [reference.id for reference in linked] == [seen["configuration"].id]


BASIC_JOURNEY: list[Step] = [looks_up_the_codebase, lists_boards, creates_a_ticket, closes_the_ticket]
DATTO_JOURNEY: list[Step] = [
    looks_up_the_codebase,
    lists_configuration_types,
    creates_a_configuration_with_a_serial_number,
    finds_it_by_serial_number,
    attaches_it_to_an_agreement,
    adds_an_agreement_addition,
    creates_a_ticket_linked_to_it,
    closes_the_ticket,
]
DATTO_TABLES = {"company/configurations", "company/configurations/types", "finance/agreements", "procurement/catalog"}


def walk(journey: list[Step], facts: dict[str, Any]) -> None:
    cw = unmodified_client(facts)
    seen: dict[str, Any] = {"port": facts["port"]}
    for step in journey:
        step(cw, seen)


def test_pyconnectwise_unmodified_over_tls(facts: dict[str, Any]) -> None:
    assert facts["url"] == f"https://127.0.0.1:{facts['port']}" and facts["tls"] is True
    walk(BASIC_JOURNEY, facts)


def test_pyconnectwise_unmodified_over_tls_through_the_datto_setup(facts: dict[str, Any]) -> None:
    missing = DATTO_TABLES - {collection.table for collection in COLLECTIONS}
    assert not missing, f"the fake no longer declares {sorted(missing)}"
    walk(DATTO_JOURNEY, facts)


# -- the certificate and the proxy ------------------------------------------------------------


def test_the_ca_file_is_where_it_was_asked_and_the_certificate_names_localhost(facts: dict[str, Any]) -> None:
    assert Path(facts["ca_file"]).name == "ca.pem" and "BEGIN CERTIFICATE" in Path(facts["ca_file"]).read_text()
    localhost_url = facts["url"].replace("127.0.0.1", "localhost")
    assert requests.get(f"{localhost_url}/_sim/health", timeout=5, verify=facts["ca_file"]).ok


def test_a_client_that_does_not_trust_the_ca_is_refused_and_the_server_keeps_serving(facts: dict[str, Any]) -> None:
    with requests.Session() as untrusting, pytest.raises(requests.exceptions.SSLError):
        untrusting.trust_env = False  # REQUESTS_CA_BUNDLE is set for this test
        untrusting.get(f"{facts['url']}/_sim/health", timeout=5)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(facts["url"].replace("https:", "http:") + "/_sim/health", timeout=5)
    assert requests.get(f"{facts['url']}/_sim/health", timeout=5).json()["status"] == "ok"


def test_many_concurrent_clients_are_relayed(facts: dict[str, Any]) -> None:
    failures: list[BaseException] = []

    def client() -> None:
        try:
            with requests.Session() as session:
                for _ in range(5):
                    assert session.get(f"{facts['url']}/_sim/health", timeout=10).ok
        except BaseException as error:  # collected for the assertion below
            failures.append(error)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []


def test_a_default_ca_file_goes_to_a_new_temp_dir() -> None:
    tls = local_tls()
    assert tls.ca_file.is_file() and tls.ca_file.parent.name.startswith("cwsim-tls-")


class CountingRelay(Relay):
    """A relay as connection faults will subclass it: sees every chunk each way."""

    chunks = 0

    async def to_client(self, data: bytes, client: Any) -> None:
        CountingRelay.chunks += 1
        await super().to_client(data, client)


def echo_server() -> tuple[socket.socket, threading.Thread]:
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                while data := connection.recv(1024):
                    connection.sendall(data.upper())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def test_the_proxy_relays_plain_tcp_through_a_relay_and_closes_everything_on_stop() -> None:
    listener, _ = echo_server()
    proxy = LoopbackProxy("127.0.0.1", 0, listener.getsockname()[:2], relay=CountingRelay).start()
    try:
        client = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        client.sendall(b"hello")
        assert client.recv(1024) == b"HELLO"
        assert CountingRelay.chunks == 1 and proxy.open_connections == 1
    finally:
        proxy.stop()
        listener.close()
    assert proxy.open_connections == 0
    assert client.recv(1024) == b""  # the proxy closed its side
    client.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2)


def test_the_proxy_with_tls_and_an_upstream_that_is_gone() -> None:
    tls = local_tls()
    unused = socket.create_server(("127.0.0.1", 0))
    gone = unused.getsockname()[:2]
    unused.close()
    proxy = LoopbackProxy("127.0.0.1", 0, gone, tls.context).start()
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file))
        with (
            socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as client,
        ):
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(1024) == b""  # closed: nothing to relay to
    finally:
        proxy.stop()
    assert proxy.open_connections == 0


def test_a_port_in_use_fails_when_the_proxy_is_made() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken, pytest.raises(OSError):
        LoopbackProxy("127.0.0.1", taken.getsockname()[1], ("127.0.0.1", 1))


def test_the_fault_proxy_speaks_tls_too_and_resets_through_it(tls_server: RunningServer, facts: dict[str, Any]) -> None:
    assert facts["fault_proxy_url"].startswith("https://127.0.0.1:")
    health = requests.get(facts["fault_proxy_url"] + "/_sim/health", timeout=5, verify=facts["ca_file"])
    assert health.ok, "negative control: answered through the proxy"
    tls_server.world.faults.add(
        load_fault_rules(
            {"path": "system/info", "effect": {"kind": "connection_reset"}}, [c.table for c in COLLECTIONS]
        )
    )
    headers = {
        "Authorization": basic_auth(facts["companyId"], facts["publicKey"], facts["privateKey"]),
        "clientId": "t",
    }
    with pytest.raises(requests.ConnectionError):
        requests.get(facts["fault_proxy_api_url"] + "/system/info", headers=headers, timeout=5, verify=facts["ca_file"])
    assert requests.get(facts["api_url"] + "/system/info", headers=headers, timeout=5, verify=facts["ca_file"]).ok
