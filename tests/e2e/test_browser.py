"""A person's path through the Airflow UI in a real browser: log in, check our connection form, backfill the
ad-metrics DAG through Trigger -> Backfill, watch the grid, read the task's summary line in its log."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

AD_METRICS = "tiktok_ad_metrics"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = Path(
        os.environ.get("TIKTOK_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots")
    )
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def page(stack) -> Iterator:
    """A logged-in page of Debian's chromium, driven by Playwright (no browser download)."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing: run scripts/system_deps.sh (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(30_000)
        tab.goto(stack.api_url + "/")
        tab.locator("input[name=username]").fill("admin")
        tab.locator("input[name=password]").fill(stack.admin_password)
        tab.locator("button[type=submit]").click()
        tab.wait_for_url(stack.api_url + "/")
        yield tab
        browser.close()


def open_dialog(page):
    return page.locator("[role=dialog][data-state=open]")


def test_connection_form_shows_our_labelled_fields(stack, page, screenshots):
    page.goto(stack.api_url + "/connections")
    page.get_by_role("button", name="Edit Connection").first.click()
    dialog = open_dialog(page)
    dialog.get_by_text("Extra Fields", exact=True).click()
    for label in ("API base URL (empty = production)", "Access token", "App ID", "App secret", "Default advertiser ID"):
        assert dialog.get_by_text(label, exact=True).first.is_visible(), label
    assert dialog.get_by_text("Login", exact=True).count() == 0  # unused fields are hidden
    page.screenshot(path=str(screenshots / "connection_form.png"), full_page=True)


def pick(dialog, page, index: int, day: date) -> None:
    """Type a date into the n-th date-time picker of the backfill form (times are UTC)."""
    dialog.get_by_text("Select date and time").nth(index).click()
    page.get_by_placeholder("YYYY/MM/DD").last.fill(day.strftime("%Y/%m/%d"))
    page.get_by_placeholder("HH:mm").last.fill("00:00")
    page.keyboard.press("Escape")


def test_backfill_from_the_trigger_dialog_and_read_the_summary_in_the_log(stack, page, screenshots):
    stack.wait_for_dags([AD_METRICS])
    stack.unpause(AD_METRICS)
    before = {r["dag_run_id"] for r in stack.runs(AD_METRICS)}
    today = datetime.now(timezone.utc).date()
    start, end = today - timedelta(days=25), today - timedelta(days=23)

    page.goto(f"{stack.api_url}/dags/{AD_METRICS}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = open_dialog(page)
    dialog.get_by_text("Backfill", exact=True).first.click()
    pick(dialog, page, 0, start)
    dialog = open_dialog(page)
    pick(dialog, page, 0 if dialog.get_by_text("Select date and time").count() == 1 else 1, end)
    open_dialog(page).get_by_role("button", name="Run Backfill").click()

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        runs = [r for r in stack.runs(AD_METRICS) if r["dag_run_id"] not in before and r.get("run_type") == "backfill"]
        if len(runs) >= 2 and all(r["state"] in ("success", "failed") for r in runs):
            break
        time.sleep(2)
    assert len(runs) >= 2, "the UI backfill created no runs"
    assert all(r["state"] == "success" for r in runs), [(r["dag_run_id"], r["state"]) for r in runs]

    page.goto(f"{stack.api_url}/dags/{AD_METRICS}")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshots / "grid_after_backfill.png"), full_page=True)

    run_id = runs[0]["dag_run_id"]
    page.goto(f"{stack.api_url}/dags/{AD_METRICS}/runs/{run_id}/tasks/import_ad_metrics")
    summary = page.get_by_text("TikTok ad metrics of advertiser").first
    summary.wait_for()
    assert "API calls" in summary.inner_text()
    page.screenshot(path=str(screenshots / "task_log_summary.png"), full_page=True)
