"""The dashboard at `/` and its updates, through Flask's test client: sections, escaping, caps, no outside URLs."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from cwsim.simulator.dashboard.sections import JOURNAL_SHOWN, SECTIONS
from cwsim.simulator.server import describe

from .conftest import API, Api

SCRIPT = "<script>alert(1)</script>"
COMPANY = 'Evil "Corp" <img src=x onerror=alert(2)>'


class Links(HTMLParser):
    """Every URL the page would load or follow: src, href and action attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value or "" for name, value in attrs if name in {"src", "href", "action"}]


def page(api: Api, query: str = "") -> str:
    response = api.client.get("/" + query)
    assert response.status_code == 200 and response.mimetype == "text/html"
    return response.get_data(as_text=True)


def update(api: Api, **params: str) -> dict[str, dict[str, str]]:
    response = api.client.get("/_sim/dashboard/update", query_string=params)
    assert response.status_code == 200
    return response.get_json()["sections"]


def versions(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-section="([a-z]+)" data-version="([0-9a-f]+)"', html))


def test_every_section_renders_with_the_default_tenant(api: Api) -> None:
    html = page(api)
    for section in SECTIONS:
        assert f'id="{section.name}"' in html and section.title in html
    assert set(versions(html)) == {section.name for section in SECTIONS}
    assert "No tickets yet." in html and "No fault rules" in html and "No mail caught yet." in html
    devices = len(api.world.fleet.fleet.devices)
    assert f"Devices ({devices})" in html  # the fleet section, with the default fleet
    assert "Help Desk" in html  # the default tenant's board, with its statuses
    assert html.count('class="row') > 0  # the SVG bars of the fleet's charts


def test_values_from_requests_are_escaped(api: Api) -> None:
    api.patch("company/companies/1", [{"op": "replace", "path": "name", "value": COMPANY}])
    api.post("service/tickets", {"summary": SCRIPT, "company": {"id": 1}, "initialDescription": SCRIPT})
    api.get("service/<b>nowhere</b>")
    api.world.mailbox.deliver("a@example.com", ["b@example.com"], f"Subject: {SCRIPT}\n\n{SCRIPT}".encode())
    html = page(api)
    fragments = "".join(section["html"] for section in update(api).values())
    for text in (html, fragments):
        assert SCRIPT not in text and "<img src=x" not in text and "<b>nowhere" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "Evil &#34;Corp&#34; &lt;img src=x onerror=alert(2)&gt;" in text
        assert "&lt;b&gt;nowhere&lt;/b&gt;" in text


def section(html: str, name: str) -> str:
    return html.split(f'data-section="{name}"')[1].split("</section>")[0]


def test_configurations_meet_devices_by_serial_and_agreements_show_their_additions(api: Api) -> None:
    device = api.world.fleet.fleet.devices[0]
    configuration = {"name": "the appliance", "type": {"id": 1}, "company": {"id": 1}}
    api.post("company/configurations", {**configuration, "serialNumber": device.serial.lower()})
    api.post("company/configurations", {**configuration, "name": "a ghost", "serialNumber": "00012EFFFFFF"})
    ticket = api.post("service/tickets", {"summary": "Backup failed", "company": {"id": 1}}).get_json()
    api.post(f"service/tickets/{ticket['id']}/configurations", {"id": 1})
    addition = {"product": {"id": 1}, "quantity": 3, "billCustomer": "Billable", "serialNumber": device.serial}
    assert api.post("finance/agreements/2/additions", addition).status_code == 201
    html = page(api)
    configurations = section(html, "configurations")
    assert device.name in configurations and device.model in configurations
    assert "no device has this serial" in configurations
    assert f"{len(api.world.fleet.fleet.devices) - 1} of {len(api.world.fleet.fleet.devices)}" in configurations
    assert "the appliance" in section(html, "tickets")  # the configuration linked to the ticket
    agreements = section(html, "agreements")
    assert "1 addition<" in agreements and "DATTO-" in agreements and device.serial in agreements
    assert agreements.index('<td class="num">2</td>') < agreements.index('<td class="num">1</td>')  # additions first


def test_the_page_loads_nothing_from_elsewhere(api: Api) -> None:
    html = page(api)
    parser = Links()
    parser.feed(html)
    assert parser.urls
    for url in parser.urls:
        assert url.startswith(("#", "data:", "?")) or (url.startswith("/") and not url.startswith("//")), url
    for asset in ("dashboard.css", "dashboard.js"):
        response = api.client.get(f"/_sim/dashboard/static/{asset}")
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "http:" not in text and "https:" not in text and "@import" not in text
    policy = api.client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy


def test_long_lists_are_capped(api: Api) -> None:
    for number in range(60):
        api.post("service/tickets", {"summary": f"ticket {number}", "company": {"id": 1}})
    for _ in range(JOURNAL_SHOWN):
        api.client.get("/login/companyinfo/cwsim")
    html = page(api)
    assert "showing 50 of 60 tickets" in html
    assert f"showing {JOURNAL_SHOWN} of {60 + JOURNAL_SHOWN} requests" in html
    assert "ticket 59" in html and ">ticket 9<" not in html  # the newest are shown


def test_the_journal_filter(api: Api) -> None:
    api.get("service/tickets")
    api.get("service/tickets/999")
    api.post("service/tickets", {"summary": "a ticket", "company": {"id": 1}})
    html = page(api, "?status=404")
    journal = section(html, "journal")
    assert "/service/tickets/999" in journal and journal.count('class="entry') == 1
    assert 'value="404"' in html  # the form shows the filter back
    journal = section(page(api, "?method=post&path=TICKETS"), "journal")
    assert journal.count('class="entry') == 1
    html = page(api, "?status=abc")
    assert "status must be a whole number" in html and html.count('class="entry') == 3


def test_an_update_sends_only_the_sections_that_changed(api: Api) -> None:
    known = versions(page(api))
    assert set(update(api, **known)) <= {"clock"}  # a wall clock moves by itself
    api.post("service/tickets", {"summary": "new", "company": {"id": 1}})
    changed = update(api, **known)
    assert {"tickets", "activity", "journal"} <= set(changed) and "agreements" not in changed
    assert "new" in changed["tickets"]["html"]
    assert changed["tickets"]["version"] != known["tickets"]
    assert "journal" in update(api, **{**known, **{"journal": changed["journal"]["version"]}}, status="201")


def test_the_dashboard_is_neither_journaled_nor_faulted(api: Api) -> None:
    api.client.post("/_sim/faults", json={"effect": {"kind": "status", "status": 503}})
    assert api.get("service/tickets").status_code == 503
    assert api.client.get("/").status_code == 200
    assert api.client.get("/_sim/dashboard/update").status_code == 200
    assert api.client.get("/_sim/dashboard/static/dashboard.js").status_code == 200
    journal = api.client.get("/_sim/requests").get_json()
    assert [entry["path"] for entry in journal] == [f"{API}/service/tickets"]


@pytest.mark.parametrize("query", ["", "?method=GET&path=x&status=200"])
def test_the_page_is_not_cached(api: Api, query: str) -> None:
    assert api.client.get("/" + query).headers["Cache-Control"] == "no-store"
    assert api.client.get("/_sim/dashboard/update" + query).headers["Cache-Control"] == "no-store"


def test_the_server_tells_where_the_dashboard_is(cwsim) -> None:
    assert cwsim.facts["dashboard"] == cwsim.url + "/"
    assert f"dashboard      {cwsim.url}/" in describe(cwsim.facts)
