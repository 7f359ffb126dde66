"""The backfill launched from the Prefect UI: Run -> Custom run, fill the form, submit, see it complete.

Headless Chromium from Debian's `chromium` package, driven by Playwright through
`executable_path` (no browser download). `tests/run.sh` installs the package when apt is
there; without the browser this test skips and says why.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import query

CHROMIUM = os.environ.get("NEWSDEDUP_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"no browser at {CHROMIUM}: install Debian's chromium package (tests/run.sh does it with apt)"),
]



@pytest.fixture
def page():
    playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            # kept for failure messages: what the UI asked the server and did not get
            page.failures = []
            page.on("response", lambda r: r.status >= 400 and page.failures.append(f"{r.status} {r.request.method} {r.url}"))
            page.on("requestfailed", lambda r: page.failures.append(f"failed {r.method} {r.url}: {r.failure}"))
            yield page
        finally:
            browser.close()


def field(page, label: str):
    """One property of the schema form, found by its title."""
    return page.locator(".schema-form-property").filter(
        has=page.locator(".schema-form-property__label", has_text=re.compile(rf"^{re.escape(label)}$"))).last


def json_input(page, label: str, value: str) -> None:
    """Switch a property to its JSON input (the form's own menu item) and type a JSON value."""
    prop = field(page, label)
    prop.locator(".schema-form-property-menu button").first.click()
    page.get_by_text("Use JSON input", exact=True).click()
    editor = prop.locator("textarea").first
    editor.fill(value)


def test_backfill_custom_run_from_the_ui(prefect_server, page, tmp_path: Path, seed_bytes: bytes):
    from playwright.sync_api import expect

    day = tmp_path / "dumps" / "2024-03-02" / "wire"
    day.mkdir(parents=True)
    (day / "hamas.txt").write_bytes(seed_bytes)
    (day / "hamas-copy.txt").write_bytes(seed_bytes)
    db = tmp_path / "ui.duckdb"

    page.goto(f"{prefect_server.url}/deployments/deployment/{prefect_server.deployments['backfill']}")
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Custom run").click()
    expect(field(page, "Path template (Optional)")).to_be_visible()

    json_input(page, "Path template (Optional)", json.dumps(str(tmp_path / "dumps" / "{date:%Y-%m-%d}")))
    json_input(page, "First day", '"2024-03-01"')
    json_input(page, "Last day", '"2024-03-02"')
    json_input(page, "Database path (Optional)", f'"{db}"')
    # the UI confirms with a toast linking to the new flow run; follow it to the run's page. The
    # UI does not retry a 503 (the server's SQLite was busy: nothing was created), so we do.
    created = page.locator(".toast-flow-run-create__button", has_text="View run").first
    for attempt in range(3):
        page.failures.clear()
        page.get_by_role("button", name="Submit").click()
        try:
            created.wait_for(state="attached", timeout=20_000)
            break
        except Exception:
            if not any(f.startswith("503 ") for f in page.failures) or attempt == 2:
                page.screenshot(path=str(tmp_path / "ui-failure.png"), full_page=True)
                raise AssertionError(f"no run created; screenshot {tmp_path / 'ui-failure.png'}; "
                                     f"failed requests {page.failures}") from None
    # the UI also routes to the deployment's Runs tab after a submit; on a busy machine that
    # route can land after the toast's click and replace the run's page, so click again then;
    # if the toast is gone by then, follow the run link it showed, as a user would
    run_link = page.locator("a[href*='/runs/flow-run/']").first
    href = run_link.get_attribute("href") if run_link.count() else None
    for attempt in range(3):
        if created.count():
            created.dispatch_event("click")
        elif href:
            page.goto(href if href.startswith("http") else prefect_server.url + href)
        try:
            expect(page).to_have_url(re.compile(r"/runs/flow-run/"), timeout=10_000)
            break
        except AssertionError:
            if attempt == 2 or not (created.count() or href):
                raise
    run_id = page.url.rstrip("/").split("/")[-1].split("?")[0]
    run = prefect_server.wait_run(run_id, timeout=240)
    assert run["state_type"] == "COMPLETED", prefect_server.run_logs(run_id)
    assert run["parameters"]["request"]["start_date"] == "2024-03-01"
    page.reload()
    expect(page.get_by_text("Completed").first).to_be_visible(timeout=30_000)
    page.locator("li.p-tab", has_text="Artifacts").click()
    expect(page.get_by_text("backfill-summary").first).to_be_visible(timeout=30_000)

    assert query(db, "SELECT count(*), count(*) FILTER (WHERE is_canonical) FROM articles") == [(2, 1)]
