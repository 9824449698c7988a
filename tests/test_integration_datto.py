"""The Datto portal client against a small stub portal: paging, the real API's quirks, 429s and the rate limiter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import urllib3.util.retry
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from cwsim.integration.datto import DattoError, DattoPortalClient, Device, RateLimiter, storage_bytes
from cwsim.integration.transport import retry_policy

PUBLIC, SECRET = "portal-public", "portal-secret"

GB = {"units": "GB"}
DEVICES = [
    {"serialNumber": "00012E94105B", "name": "acme-siris", "model": "S4P6", "servicePlan": "Infinite Cloud Retention",
     "offsiteStorageUsed": {"size": 1.5, "units": "TB"}, "localStorageUsed": {"size": "512", **GB},
     "agentCount": 3, "alertCount": 1, "organizationId": 11, "clientCompanyName": "Acme"},
    {"serialNumber": "00012E94105C", "name": "beta-alto", "model": "ALTO3", "offsiteStorageUsed": [],
     "localStorageUsed": None, "agentCount": None},
    {"serialNumber": "00012E94105D", "name": "cloud-siris", "model": "SIRIS Cloud", "offsiteStorageUsed": None,
     "localStorageAvailable": {"size": None, "units": None}},
    {"serialNumber": "00012E94105E", "name": "gamma", "model": "S4E4", "offsiteStorageUsed": {"size": 500, **GB},
     "hidden": True},
    {"serialNumber": "00012E94105F", "name": "delta", "model": "S4E4",
     "offsiteStorageUsed": {"size": 1, "units": "GiB"}},
    {"serialNumber": "000000000006", "name": "epsilon", "model": "ALTO4",
     "offsiteStorageUsed": {"size": 0, "units": "B"}},
    {"serialNumber": "000000000007", "name": "zeta", "model": "ALTO4",
     "offsiteStorageUsed": [{"size": 2, "units": "MB"}]},
]  # fmt: skip
ASSETS = [{"name": "FS01", "assetId": 1, "type": "agent"}, {"name": "share", "assetId": 2, "type": "share"}]
NOT_SEEN = {"type": "Device Not Seen Alert", "unit": "Minutes"}
ALERTS = [
    {**NOT_SEEN, "threshold": 60, "dateTriggered": "2026-01-31T12:00:00+00:00"},
    {**NOT_SEEN, "threshold": 120, "dateTriggered": "2026-01-31T13:00:00+00:00"},
    {"type": "Backup Failed", "threshold": 1, "unit": "Count", "dateTriggered": "2026-01-31T14:00:00+00:00"},
]


class StubPortal:
    """A Datto portal that serves DEVICES, ASSETS and ALERTS, counts requests, and answers 429 on demand."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.rate_limited = 0  # answer this many more requests with 429
        self.app = self._app()

    def _app(self) -> Flask:
        app = Flask(__name__)

        @app.before_request
        def gate() -> object:
            self.hits.append(request.full_path)
            auth = request.authorization
            if auth is None or (auth.username, auth.password) != (PUBLIC, SECRET):
                return jsonify({"code": 401, "message": "Invalid credentials"}), 401
            if self.rate_limited:
                self.rate_limited -= 1
                return jsonify({"code": 429, "message": "Too many requests"}), 429, {"Retry-After": "3"}
            return None

        @app.get("/v1/bcdr/device")
        def devices() -> object:
            return jsonify(page_of(DEVICES))

        @app.get("/v1/bcdr/device/<serial>")
        def device(serial: str) -> object:
            for item in DEVICES:
                if item["serialNumber"] == serial:
                    return jsonify(item)
            return jsonify({"code": 404, "message": f"Device {serial} not found"}), 404

        @app.get("/v1/bcdr/device/<serial>/asset")
        def assets(serial: str) -> object:
            if serial.endswith("B"):
                return jsonify(ASSETS)  # a plain array
            return jsonify({str(n): asset for n, asset in enumerate(ASSETS)})  # the index-keyed object

        @app.get("/v1/bcdr/device/<serial>/alert")
        def alerts(serial: str) -> object:
            return jsonify(page_of(ALERTS))

        return app


def page_of(items: list[dict]) -> dict:
    page, per_page = int(request.args.get("_page", 1)), int(request.args.get("_perPage", 100))
    total_pages = max(1, -(-len(items) // per_page))
    return {
        "pagination": {"page": page, "perPage": per_page, "totalPages": total_pages, "count": len(items)},
        "items": items[(page - 1) * per_page : page * per_page],
    }


@pytest.fixture
def portal() -> Iterator[tuple[StubPortal, str]]:
    stub = StubPortal()
    server = make_server("127.0.0.1", 0, stub.app, threaded=True)  # listening once made: no wait for readiness
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield stub, f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """urllib3's waits between retries, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(urllib3.util.retry, "time", SimpleNamespace(sleep=slept.append, time=__import__("time").time))
    return slept


class FakeClock:
    """A clock that moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def client_for(url: str, **options: object) -> DattoPortalClient:
    options.setdefault("rate_limiter", RateLimiter(clock=FakeClock(), sleep=lambda seconds: None))
    options.setdefault("retry", retry_policy(attempts=3, backoff=0.0, jitter=0.0, methods={"GET"}))
    return DattoPortalClient(url, PUBLIC, SECRET, **options)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the portal


def test_devices_are_read_page_by_page(portal: tuple[StubPortal, str]) -> None:
    stub, url = portal
    devices = list(client_for(url, per_page=3).devices())
    assert [device.serial_number for device in devices] == [item["serialNumber"] for item in DEVICES]
    assert stub.hits == [f"/v1/bcdr/device?_page={n}&_perPage=3" for n in (1, 2, 3)]


def test_device_sizes_are_normalised_to_bytes_whatever_the_shape(portal: tuple[StubPortal, str]) -> None:
    _, url = portal
    devices = {device.serial_number: device for device in client_for(url).devices()}
    acme = devices["00012E94105B"]
    assert acme.offsite_used_bytes == 1_500_000_000_000 and acme.local_used_bytes == 512_000_000_000
    assert (acme.agent_count, acme.alert_count, acme.organization_id, acme.client_company_name) == (3, 1, 11, "Acme")
    assert devices["00012E94105C"].offsite_used_bytes is None  # the [] quirk
    assert devices["00012E94105C"].local_used_bytes is None and devices["00012E94105C"].agent_count is None
    assert devices["00012E94105D"].offsite_used_bytes is None  # cloud devices send nulls
    assert devices["00012E94105D"].local_available_bytes is None
    assert devices["00012E94105E"].offsite_used_bytes == 500 * 10**9 and devices["00012E94105E"].hidden
    assert devices["00012E94105F"].offsite_used_bytes == 2**30
    assert devices["000000000006"].offsite_used_bytes == 0
    assert devices["000000000007"].offsite_used_bytes == 2 * 10**6

    binary = {device.serial_number: device for device in client_for(url, binary_units=True).devices()}
    assert binary["00012E94105E"].offsite_used_bytes == 500 * 2**30


def test_one_device_and_its_alerts(portal: tuple[StubPortal, str]) -> None:
    _, url = portal
    client = client_for(url, per_page=2)
    device = client.device("00012E94105B")
    assert isinstance(device, Device) and device.model == "S4P6" and device.raw["servicePlan"]
    assert client.alerts("00012E94105B") == ALERTS


def test_assets_arrive_as_a_list_either_way(portal: tuple[StubPortal, str]) -> None:
    _, url = portal
    client = client_for(url)
    assert client.assets("00012E94105B") == ASSETS  # plain array
    assert client.assets("00012E94105C") == ASSETS  # {"0": ..., "1": ...}


def test_errors_carry_the_portal_code_and_message(portal: tuple[StubPortal, str]) -> None:
    _, url = portal
    with pytest.raises(DattoError) as raised:
        client_for(url).device("NOPE")
    assert (raised.value.status, raised.value.message) == (404, "Device NOPE not found")
    wrong = DattoPortalClient(url, PUBLIC, "wrong-secret", rate_limiter=RateLimiter(sleep=lambda s: None))
    with pytest.raises(DattoError) as raised:
        wrong.device("00012E94105B")
    assert raised.value.status == 401
    assert "wrong-secret" not in str(raised.value) + repr(wrong)


def test_a_429_waits_for_retry_after_and_each_retry_takes_a_token(
    portal: tuple[StubPortal, str], sleeps: list[float]
) -> None:
    stub, url = portal
    taken: list[float] = []
    limiter = RateLimiter(clock=FakeClock(), sleep=lambda seconds: None)
    original = limiter.acquire
    limiter.acquire = lambda: taken.append(original()) or 0.0  # type: ignore[method-assign]
    stub.rate_limited = 2

    assert client_for(url, rate_limiter=limiter).device("00012E94105B").name == "acme-siris"

    assert len(stub.hits) == 3 and sleeps == [3, 3]
    assert len(taken) == len(stub.hits)  # every attempt, the retries too, went through the limiter


def test_a_429_that_outlasts_the_retries_raises(portal: tuple[StubPortal, str]) -> None:
    stub, url = portal
    stub.rate_limited = 10
    with pytest.raises(DattoError) as raised:
        client_for(url, retry=retry_policy(attempts=1, backoff=0.0, jitter=0.0, methods={"GET"})).device("X")
    assert raised.value.status == 429 and len(stub.hits) == 2


# --------------------------------------------------------------------------- sizes and the limiter


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ([], None),
        ({}, None),
        ({"size": None, "units": "GB"}, None),
        ({"size": 2, "units": "kb"}, 2000),
        ({"size": "1.25", "units": "TB"}, 1_250_000_000_000),
        ({"size": 3, "units": "TiB"}, 3 * 2**40),
        ([{"size": 1, "units": "MB"}], 10**6),
        (4096, 4096),
    ],
)
def test_storage_sizes(value: object, expected: int | None) -> None:
    assert storage_bytes(value) == expected


@pytest.mark.parametrize("value", [{"size": 1, "units": "furlongs"}, {"size": "lots", "units": "GB"}, [1, 2], True])
def test_unreadable_storage_sizes_are_loud(value: object) -> None:
    with pytest.raises(ValueError):
        storage_bytes(value)


def test_the_limiter_never_grants_more_than_the_limit_in_any_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(requests=120, per_seconds=60.0, burst=10, clock=clock, sleep=clock.sleep)
    grants = []
    for _ in range(400):
        limiter.acquire()
        grants.append(clock.now)
    for start in grants:
        assert sum(1 for moment in grants if start <= moment < start + 60.0) <= 120
    assert grants[9] == 0.0 and grants[10] > 0.0  # the burst goes at once, then the refill rate
    assert grants[-1] == pytest.approx((400 - 10) * 60.0 / 110)


def test_the_limiter_hands_out_each_token_once_across_threads() -> None:
    clock = FakeClock()  # frozen: nobody's sleep moves it, so each reservation queues behind the last
    limiter = RateLimiter(requests=20, per_seconds=1.0, burst=4, clock=clock, sleep=lambda seconds: None)
    waits: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def take() -> None:
        start.wait()
        for _ in range(50):
            waited = limiter.acquire()
            with lock:
                waits.append(waited)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    expected = [0.0] * 4 + [n / 16 for n in range(1, 400 - 4 + 1)]
    assert sorted(waits) == pytest.approx(expected)
