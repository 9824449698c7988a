"""The company typeahead against the fake: it types on while the drop-down is full, escapes LIKE, never guesses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cwsim.integration.connections import integrator_client
from cwsim.integration.typeahead import CompanyTypeahead
from tests.integrationkit import integration_settings


@pytest.fixture
def typeahead(cwsim) -> Iterator[CompanyTypeahead]:
    with integrator_client(integration_settings(cwsim)) as client:
        yield CompanyTypeahead(client, dropdown_size=10)


def add_company(cwsim, identifier: str, name: str) -> int:
    answer = cwsim.session().post("company/companies", json={"identifier": identifier, "name": name, "city": "Leeds"})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_it_types_on_while_the_drop_down_is_full(cwsim, typeahead) -> None:
    ids = {n: add_company(cwsim, f"Zenith{n:02d}", f"Zenith Partners {n:02d}") for n in range(25)}
    result = typeahead.match("Zenith Partners 17")
    assert result.company is not None and result.company.id == ids[17]
    assert result.queries > 1  # "Zen" showed a full drop-down of ten: it had to type more


def test_wildcards_in_names_are_literal(cwsim, typeahead) -> None:
    add_company(cwsim, "Percent", "100% Backup_[Co]")
    add_company(cwsim, "Percentx", "100x Backupx")
    result = typeahead.match("100% backup_[co]")
    assert result.company is not None and result.company.identifier == "Percent"
    assert typeahead.match("100% Backup").company is None  # the start of a name is not the name


def test_two_companies_of_one_name_are_not_a_match(cwsim, typeahead) -> None:
    add_company(cwsim, "Twin1", "Twin Peaks Ltd")
    add_company(cwsim, "Twin2", "Twin  Peaks  LTD")
    result = typeahead.match("Twin Peaks Ltd")
    assert result.company is None
    assert result.reason == '2 companies are named "Twin Peaks Ltd"'
    assert {c.identifier for c in result.candidates} == {"Twin1", "Twin2"}


def test_a_misspelt_name_shows_where_the_drop_down_emptied(cwsim, typeahead) -> None:
    add_company(cwsim, "Quokka", "Quokka Systems")
    result = typeahead.match("Quokak Systems")
    assert result.company is None and result.reason == 'no company name starts with "Quoka"'
    assert [c.identifier for c in result.candidates] == ["Quokka"]
    assert typeahead.match("").reason == "the Datto portal gives this device no client name"
