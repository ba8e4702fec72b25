"""`leadsync ui` in a real headless Chromium (issue 16): every page loads with no console error
and is screenshotted; the overview and run pages show the numbers of the JSON run reports;
filters, search and the CSV export agree with `leadsync records --json`; values from Dotdigital
that are markup stay text."""

from __future__ import annotations

import csv
import io

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

OUTCOME_KEYS = (
    "seen",
    "created",
    "excluded_existing",
    "skipped_missing_fields",
    "failed",
    "pending",
)


def cell_numbers(row) -> dict[str, str]:
    return {
        c.get_attribute("data-count"): c.text
        for c in row.find_elements(By.CSS_SELECTOR, "[data-count]")
    }


def test_every_page_loads_without_console_errors_and_is_screenshotted(audit_world, page):
    run_id = audit_world.reports[0]["run_id"]
    pages = {
        "overview": ("", "Overview"),
        "runs": ("runs", "Runs"),
        "run": (f"runs/{run_id}", f"Run {run_id}"),
        "records": ("records", "Records"),
        "records-failed": ("records?state=failed", "Records"),
        "history": ("history", "History"),
    }
    for name, (path, heading) in pages.items():
        driver = page.open(audit_world.ui.url + path)
        assert driver.find_element(By.TAG_NAME, "h1").text == heading, name
        if name == "history":  # the applied config, opened as a reader would
            page.one("details.config summary").click()
        assert page.console_errors() == [], name
        shot = page.screenshot(name)
        assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_overview_shows_the_counts_of_the_json_report_of_the_same_run(audit_world, page):
    """Each book row names the run its numbers come from (the book's last run); they are that
    run's `sync --json` numbers. (Two runs started in the same second are ordered by run id,
    as `leadsync status` orders them, so which of them is "last" is not asserted here.)"""
    by_id = {r["run_id"]: r for r in audit_world.reports}
    page.open(audit_world.ui.url)
    assert page.one("[data-config]").get_attribute("data-config") == "matches"
    rows = page.css("tr[data-book-id][data-run-id]")
    assert {r.get_attribute("data-book-id") for r in rows} == {
        str(b["book_id"]) for b in audit_world.last["books"]
    }
    for row in rows:
        report = by_id[row.get_attribute("data-run-id")]
        book = next(
            b for b in report["books"] if str(b["book_id"]) == row.get_attribute("data-book-id")
        )
        shown = cell_numbers(row)
        for key in (*OUTCOME_KEYS, "campaign_members_added"):
            assert shown[key] == f"{book[key]:,}", (book["book"], key)
        calls = report["api_calls"]
        assert shown["api_calls"] == f"{calls['salesforce']} / {calls['dotdigital']}"
    card = page.one(".lastrun")
    report = by_id[card.get_attribute("data-run-id")]
    assert page.one('[data-last-run="seen"]').text == str(report["totals"]["seen"])
    # the all-time tiles are the ledger's counts, as `leadsync records` lists them
    for state in ("created", "excluded", "skipped", "failed", "pending"):
        tile = page.one(f'[data-total="{state}"] .tile-n')
        assert tile.text == str(len(audit_world.records(state))), state


def test_a_run_page_shows_that_runs_report(audit_world, page):
    first = audit_world.reports[0]
    page.open(f"{audit_world.ui.url}runs/{first['run_id']}")
    for book in first["books"]:
        shown = cell_numbers(page.one(f'tr[data-book-id="{book["book_id"]}"]'))
        assert {k: shown[k] for k in OUTCOME_KEYS} == {k: f"{book[k]:,}" for k in OUTCOME_KEYS}
    reasons = [c.text for c in page.css("a.chip")]
    assert any(r.startswith("MISSING_FIELDS") for r in reasons), reasons
    # the runs page lists both runs, newest first, with the report's totals
    page.open(audit_world.ui.url + "runs")
    rows = page.css("table.runs tr[data-run-id]")
    assert sorted(r.get_attribute("data-run-id") for r in rows) == sorted(
        r["run_id"] for r in audit_world.reports
    )
    assert len(page.css("svg.chart g")) == 2  # one bar per run


def submit(driver, control) -> None:
    """Submit the filter form with `control` (a button click or Enter in the search box) and
    wait until the browser has loaded the answer (the old page is gone)."""
    old = driver.find_element(By.TAG_NAME, "html")
    control()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def shown_emails(page) -> list[str]:
    return [r.get_attribute("data-email") for r in page.css("tr[data-email]")]


def test_filtering_and_search_work_as_a_person_uses_them(audit_world, page):
    driver = page.open(audit_world.ui.url + "records")
    Select(driver.find_element(By.NAME, "state")).select_by_value("failed")
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click)
    failed = {r["email"] for r in audit_world.records("failed")}
    assert set(shown_emails(page)) == failed and failed
    assert page.one('[data-tab="failed"] b').text == str(len(failed))

    driver = page.open(audit_world.ui.url + "records")
    box = driver.find_element(By.NAME, "q")
    box.send_keys("JANE")  # emails are stored lower-cased; the search ignores case
    submit(driver, lambda: box.send_keys(Keys.ENTER))
    assert shown_emails(page) == ["jane@example.com"]

    driver = page.open(audit_world.ui.url + "records")
    Select(driver.find_element(By.NAME, "reason")).select_by_value("MISSING_FIELDS")
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click)
    assert shown_emails(page) == [r["email"] for r in audit_world.records("skipped")]

    driver = page.open(audit_world.ui.url + "records")
    Select(driver.find_element(By.NAME, "book")).select_by_visible_text(audit_world.xss_book)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click)
    assert shown_emails(page) == ["partner@example.com"]
    assert page.console_errors() == []


def test_the_csv_export_holds_exactly_the_filtered_records(audit_world, page):
    for query, state in (
        ("records?state=failed", "failed"),
        ("records?state=created&q=example", "created"),
    ):
        page.open(audit_world.ui.url + query)
        href = page.one("[data-export]").get_attribute("href")
        assert "records.csv?" in href and f"state={state}" in href
        body = audit_world.ui.get(href.split("/", 3)[3])
        assert body.status_code == 200 and body.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(body.content.decode("utf-8-sig"))))
        expected = audit_world.records(state)
        assert [r["email"] for r in rows] == shown_emails(page)
        assert sorted((r["email"], r["reason_code"], r["lead_id"]) for r in rows) == sorted(
            (e["email"], e["reason_code"] or "", e["lead_id"] or "") for e in expected
        )


def test_markup_from_dotdigital_is_shown_as_text(audit_world, page):
    driver = page.open(audit_world.ui.url + "records?q=script%40")
    name = page.one('tr[data-email="script@example.com"] .name')
    assert name.text == f"{audit_world.xss_name} Tables"
    driver = page.open(audit_world.ui.url + "records?state=failed")
    reason = page.one('tr[data-email="latam@example.com"] .reason').text
    assert audit_world.xss_region in reason
    driver = page.open(audit_world.ui.url)
    assert audit_world.xss_book in [e.text for e in page.css(".book-name")]
    for path in ("", "records", "records?state=failed", "runs"):
        driver = page.open(audit_world.ui.url + path)
        assert driver.execute_script("return window.__xss") is None, path
        assert page.css("main script, main img") == [], path
    raw = audit_world.ui.get("records").text
    assert "&lt;script&gt;window.__xss=2&lt;/script&gt;" in raw and XSS_RAW not in raw


XSS_RAW = "<script>window.__xss"
