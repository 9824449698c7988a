"""A seed's generated tenant and fleet have a known digest, so a change in what a seed makes fails loudly.

"The same seed makes the same tenant and fleet" must hold on every machine. Faker promises the same
output for a seed only within one version; pyproject.toml holds faker to the versions this digest
has been seen with (docs/determinism.md). When this test fails after a change to the generators or
a new Faker: if the change is meant, record the new digest here and say so in the changelog of the
change; if Faker changed it, keep Faker's bound below that version.

Run as a script (`python tests/test_generated_digest.py`) it prints the digests, for checking
another Faker version in a venv of its own.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import orjson

from cwsim.simulator.clock import ClockMode, SimClock
from cwsim.simulator.connectwise.tenant import default_tenant
from cwsim.simulator.datto.fleet import generate_fleet
from cwsim.simulator.datto.offline import fleet_to_json
from cwsim.simulator.datto.settings import FleetSpec
from cwsim.simulator.world import company_names

SEED = 11
START = datetime(2026, 1, 5, tzinfo=UTC)

# sha256 of the canonical JSON of seed 11's tenant (36 companies) and of its fleet.
KNOWN_TENANT_DIGEST = "c99f341f3e06472764e30f1ebcb636a6c999688a1bff334a78ed913a1c41dd24"
KNOWN_FLEET_DIGEST = "f99857d39032af16ff831dde858f82ffdc6fd31a8f3b05eaeb87b89f5e441585"


def stopped_clock() -> SimClock:
    """Generated records carry the clock's time: a stepped clock at START keeps them the same."""
    return SimClock(ClockMode.STEPPED, START)


def tenant_digest(seed: int = SEED) -> str:
    backend = default_tenant(seed, clock=stopped_clock())
    # The records a seed makes; an empty table is the API's shape, not the seed's output (new collections
    # add empty tables without changing what a seed makes).
    tables = {
        name: [table.records[i] for i in sorted(table.records)]
        for name, table in backend.store.tables.items()
        if table.records
    }
    return hashlib.sha256(orjson.dumps(tables, option=orjson.OPT_SORT_KEYS)).hexdigest()


def fleet_digest(seed: int = SEED) -> str:
    fleet = generate_fleet(FleetSpec(seed=seed), company_names(default_tenant(seed, clock=stopped_clock())), START)
    return hashlib.sha256(orjson.dumps(fleet_to_json(fleet), option=orjson.OPT_SORT_KEYS)).hexdigest()


def test_a_seeds_generated_tenant_has_its_known_digest() -> None:
    assert tenant_digest() == KNOWN_TENANT_DIGEST, "seed 11's generated tenant changed (see this module's docstring)"


def test_a_seeds_generated_fleet_has_its_known_digest() -> None:
    assert fleet_digest() == KNOWN_FLEET_DIGEST, "seed 11's generated fleet changed (see this module's docstring)"


def test_the_digest_sees_a_one_name_change(monkeypatch) -> None:
    """Negative control: a different name from Faker changes the tenant digest."""
    from faker.providers.company import Provider

    from cwsim.simulator.connectwise import tenant

    original = Provider.company
    monkeypatch.setattr(Provider, "company", lambda self: original(self) + " X")
    monkeypatch.setattr(tenant, "_BUILT", {})  # built anew, not the process's cached copy
    assert tenant_digest() != KNOWN_TENANT_DIGEST


if __name__ == "__main__":
    print(tenant_digest(), fleet_digest())
