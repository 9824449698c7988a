"""The workers' doorbell: a ring wakes one idle worker, a full claim passes it on, a stop wakes them all."""

from __future__ import annotations

import threading
import time

import pytest

from cwsim.integration.workers import Doorbell
from cwsim.simulator.testing import wait_until

LONG = 60.0  # no waiter times out during a test: only a ring can wake it
SETTLE_SECONDS = 0.3  # for "nobody else woke": a slower machine only makes that easier to pass


def waiters(doorbell: Doorbell, count: int) -> tuple[list[threading.Thread], list[int]]:
    woke: list[int] = []
    seen = doorbell.rings

    def wait(number: int) -> None:
        doorbell.wait(seen, LONG)
        woke.append(number)

    threads = [threading.Thread(target=wait, args=(number,), daemon=True) for number in range(count)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(doorbell._condition._waiters) == count, what="every waiter waiting")  # type: ignore[attr-defined]
    return threads, woke


def test_a_ring_wakes_one_idle_worker_and_another_ring_the_next() -> None:
    doorbell = Doorbell()
    threads, woke = waiters(doorbell, 3)
    doorbell.ring()
    wait_until(lambda: len(woke) == 1, what="one worker woken")
    time.sleep(SETTLE_SECONDS)  # a check that nothing more happens: nobody else may wake
    assert len(woke) == 1
    doorbell.ring()  # as a worker that claimed a full batch does
    wait_until(lambda: len(woke) == 2, what="the next worker woken")
    doorbell.ring_all()
    wait_until(lambda: len(woke) == 3, what="the rest woken")
    for thread in threads:
        thread.join(LONG)


def test_negative_control_waking_everyone_on_each_ring_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    doorbell = Doorbell()
    monkeypatch.setattr(doorbell, "ring", doorbell.ring_all)  # the old behaviour: notify_all on every ring
    _, woke = waiters(doorbell, 3)
    doorbell.ring()
    wait_until(lambda: len(woke) == 3, what="every worker woken by one ring")
    assert len(woke) != 1  # what the test above asserts fails here


def test_a_ring_before_the_wait_is_not_missed() -> None:
    doorbell = Doorbell()
    seen = doorbell.rings
    doorbell.ring()  # no one waiting yet: the count tells the late waiter
    started = time.monotonic()
    doorbell.wait(seen, LONG)
    assert time.monotonic() - started < LONG
