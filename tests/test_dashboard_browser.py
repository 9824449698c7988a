"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, against the `cwsim` server.

Without Chromium (or Playwright) these tests fail when `CI` is set and are skipped, with the reason,
otherwise. `CWSIM_DASHBOARD_SCREENSHOT=path/to/file.png` also saves the screenshot there.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # starts Chromium

CHROMIUM = Path(os.environ.get("CWSIM_CHROMIUM", "/usr/bin/chromium"))
# Headless as root in a sandbox: no setuid sandbox, no GPU, and nothing that calls out to the network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long the DOM may take to show a change (the page asks every 1.5 s), and any other wait on the
# browser: a deadline for a loaded machine, never a measurement.
DEADLINE_MS = 60_000
UPDATE = "**/_sim/dashboard/update*"
SCREENSHOT_VARIABLE = "CWSIM_DASHBOARD_SCREENSHOT"


def not_run(reason: str) -> None:
    """Chromium cannot be had: in CI that is a failure, elsewhere the tests are reported as not run."""
    if os.environ.get("CI"):
        pytest.fail(f"the dashboard's browser tests must run in CI: {reason}", pytrace=False)
    pytest.skip(f"the dashboard's browser tests did not run: {reason}")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Chromium with a fresh profile for this module's tests."""
    if importlib.util.find_spec("playwright") is None:
        not_run("Playwright is not installed (pip install -e '.[dev]')")
    if not os.access(CHROMIUM, os.X_OK):
        not_run(f"no Chromium at {CHROMIUM} (make test installs Debian's chromium when run as root)")
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")),  # the fresh --user-data-dir
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1400, "height": 1000},
            )
        except Error as error:
            not_run(f"Chromium at {CHROMIUM} did not start: {error}")
        context.set_default_timeout(DEADLINE_MS)
        yield context
        context.close()


@pytest.fixture
def page(browser: Any, cwsim: Any) -> Iterator[Any]:
    """A tab on the dashboard of a freshly reset server, marked so that a reload would show."""
    tab = browser.new_page()
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.dialogs = dialogs
    tab.goto(cwsim.url + "/")
    tab.evaluate("window.cwsimNotReloaded = true")
    yield tab
    tab.close()


def not_reloaded(tab: Any) -> bool:
    return tab.evaluate("window.cwsimNotReloaded === true")


def test_a_ticket_created_through_the_api_appears_without_a_reload(cwsim: Any, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#tickets")).to_contain_text("No tickets yet.")
    expect(page.locator("#live")).to_contain_text("live", timeout=DEADLINE_MS)
    summary = "Backup failed on DC01 <script>alert(1)</script>"
    created = cwsim.session().post("service/tickets", json={"summary": summary, "company": {"id": 1}})
    assert created.status_code == 201
    row = page.locator(f'tr.ticket[data-ticket="{created.json()["id"]}"]')
    expect(row).to_contain_text(summary, timeout=DEADLINE_MS)  # shown as text, not run
    expect(page.locator("#tickets .ticket-total")).to_have_text("1")
    assert not_reloaded(page) and page.dialogs == []
    screenshot(page, tmp_path)


def test_the_journal_filter(cwsim: Any, page: Any) -> None:
    from playwright.sync_api import expect

    api = cwsim.session()
    assert api.get("service/tickets").status_code == 200
    assert api.get("service/tickets/999").status_code == 404
    assert api.post("service/tickets", json={"summary": "Filter me", "company": {"id": 1}}).status_code == 201
    entries = page.locator("#journal tr.entry")
    expect(entries).to_have_count(3, timeout=DEADLINE_MS)
    page.fill("#journal-filter input[name=status]", "404")
    page.click("#journal-filter button[type=submit]")
    expect(entries).to_have_count(1, timeout=DEADLINE_MS)
    expect(entries.first).to_contain_text("/service/tickets/999")
    assert "status=404" in page.url and not_reloaded(page)
    page.fill("#journal-filter input[name=status]", "")
    page.select_option("#journal-filter select[name=method]", "POST")
    page.click("#journal-filter button[type=submit]")
    expect(entries).to_have_count(1, timeout=DEADLINE_MS)
    expect(entries.first.locator(".method")).to_have_text("POST")
    assert not_reloaded(page)


def test_polling_stops_while_the_tab_is_hidden(cwsim: Any, browser: Any) -> None:
    """With the page's clock in our hands, a hidden tab lets its polling interval pass without asking."""
    tab = browser.new_page()
    try:
        tab.clock.install()
        tab.goto(cwsim.url + "/")
        with tab.expect_request(UPDATE):
            tab.clock.run_for(1600)
        updates: list[str] = []
        tab.on("request", lambda request: updates.append(request.url) if "/dashboard/update" in request.url else None)
        tab.evaluate(
            "Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'))"
        )
        tab.clock.run_for(10_000)
        with tab.expect_request("**/_sim/health"):  # requests are reported in order: any update came before this
            tab.evaluate("fetch('/_sim/health')")
        assert updates == []
        with tab.expect_request(UPDATE):  # shown again: it asks at once
            tab.evaluate(
                "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
                "document.dispatchEvent(new Event('visibilitychange'))"
            )
    finally:
        tab.close()


def screenshot(tab: Any, tmp_path: Path) -> Path:
    """The whole page, into the test's tmp_path, and where CWSIM_DASHBOARD_SCREENSHOT asks (for the README)."""
    shot = tmp_path / "dashboard.png"
    tab.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    wanted = os.environ.get(SCREENSHOT_VARIABLE)
    if wanted:
        Path(wanted).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, wanted)
    return shot
