"""End to end in a real headless browser: open the app, narrow the February audience, download it, check the file.

Needs Debian's chromium (installed by .ci/run); skips, saying why, only when no browser can be found.
"""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect, sync_playwright

from elt import pipeline
from elt.config import PROJECT_ROOT
from elt.lock import RUN_LOCK_KEY
from tests.conftest import FIXTURES, query
from tests.harness import command_line_run_in_progress

BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
STARTUP_SECONDS = 60


def _browser() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _export_path(tmp_path: Path) -> Path:
    """Where the served app's Rerun ELT expects the orders export."""
    return tmp_path / "exports" / "orders_small.csv"


@pytest.fixture
def app_url(settings, spark, database_url, tmp_path):
    """The real app served on localhost over a database with the app fixture published."""
    pipeline.run(settings, str(FIXTURES / "orders_app.csv"), report=lambda line: None, spark=spark)
    port = _free_port()
    # Rerun ELT reads ELT_INPUT: a copy of the small fixture where exports arrive, with its rejects allowed.
    export = _export_path(tmp_path)
    export.parent.mkdir()
    shutil.copyfile(FIXTURES / "orders_small.csv", export)
    env = {**os.environ, "DATABASE_URL": database_url, "ELT_INPUT": str(export), "ELT_MAX_REJECT_SHARE": "0.5"}
    env.pop("ELT_ADMIN_PASSWORD", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=PROJECT_ROOT, env=env, stdout=(tmp_path / "server.log").open("wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        server.kill()
        pytest.fail("streamlit did not start: " + (tmp_path / "server.log").read_text())
    yield url
    server.terminate()
    server.wait(timeout=20)


@pytest.fixture
def page():
    """A page of a real headless Chromium (the test skips, saying why, only when no browser can be found)."""
    browser_path = _browser()
    if browser_path is None:
        pytest.skip("no chromium found (install Debian's chromium, or set CHROMIUM=/path/to/chrome)")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=BROWSER_FLAGS)
        yield browser.new_page(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        browser.close()


def _pick(page, label: str, option: str) -> None:
    """Choose an option in a Streamlit multiselect by its label, as a user does: click, type, Enter."""
    widget = page.get_by_test_id("stMultiSelect").filter(has_text=label)
    widget.locator("input").click()
    page.keyboard.type(option)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")


def test_marketer_downloads_opted_in_dutch_february_2024_audience(app_url, database_url, tmp_path, page):
    # A shared link is the first request this server gets: it must open in the app's own navigation.
    page.goto(f"{app_url}/february")
    expect(page.get_by_role("link", name="February customers")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Rerun ELT")).to_be_visible()
    size = page.get_by_test_id("stMetric").filter(has_text="Customers in this audience")
    expect(size).to_contain_text("3", timeout=30_000)  # opted in, any year: K1, K2, K5

    _pick(page, "Bought in year", "2024")
    _pick(page, "Country", "NL")
    expect(size).to_contain_text("2", timeout=30_000)
    assert "year=2024" in page.url and "country=NL" in page.url  # the link reproduces this audience
    page.screenshot(path=str(tmp_path / "february.png"), full_page=True)

    with page.expect_download(timeout=30_000) as download_info:
        page.get_by_role("button", name="Download 2 customers as CSV").click()
    download = download_info.value
    payload = Path(download.path()).read_bytes()
    today_in_amsterdam = datetime.now(ZoneInfo("Europe/Amsterdam")).date()  # the default business time zone
    assert download.suggested_filename == f"customers_february_2024_NL_{today_in_amsterdam.isoformat()}.csv"

    assert payload.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(payload[3:].decode("utf-8"))))
    expected = query(
        database_url,
        "select m.customer_id, m.first_name, sum(o.amount)::text from mrt.customers_february m "
        "join dwh.orders o on o.customer_id = m.customer_id and o.is_purchase "
        "and o.order_month_of_year = 2 and o.order_year = 2024 "
        "where m.country = 'NL' and m.marketing_opt_in "
        "group by m.customer_id, m.first_name order by sum(o.amount) desc, m.customer_id",
    )
    assert [(row["customer_id"], row["revenue_eur"]) for row in rows] == [(cid, revenue) for cid, _, revenue in expected]
    names = {row["customer_id"]: row["first_name"] for row in rows}
    assert names == {"K2": "<b>Bold</b>", "K1": "'=HYPERLINK(\"http://x\")"}


def test_an_open_page_shows_the_data_a_command_line_run_publishes(app_url, settings, spark, page):
    page.goto(app_url)
    purchases = page.get_by_test_id("stMetric").filter(has_text="Purchases").get_by_test_id("stMetricValue")
    expect(purchases).to_have_text("6", timeout=30_000)  # orders_app.csv: six purchases
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Data from run 1")
    # The data team publishes another export from the command line; the page is left alone meanwhile.
    pipeline.run(replace(settings, max_reject_share=0.5), str(FIXTURES / "orders_small.csv"),
                 report=lambda line: None, spark=spark)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Data from run 2", timeout=15_000)
    expect(purchases).to_have_text("9")  # orders_small.csv: nine purchases
    expect(page.get_by_test_id("stMain")).to_contain_text("orders_small.csv")


def test_data_team_reruns_the_elt_from_the_sidebar(app_url, page):
    page.goto(app_url)
    purchases = page.get_by_test_id("stMetric").filter(has_text="Purchases").get_by_test_id("stMetricValue")
    expect(purchases).to_have_text("6", timeout=30_000)  # orders_app.csv: six purchases
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("A rerun reads orders_small.csv")
    expect(sidebar).to_contain_text("the data shown came from orders_app.csv")
    sidebar.get_by_role("button", name="Rerun ELT").click()
    # While the run goes on: a status with a spinner, named after the run's stage and its seconds so far.
    status = sidebar.get_by_test_id("stExpander").locator("summary")
    expect(status).to_contain_text(re.compile(r"Running the ELT · [a-z]+ · \d+ s"), timeout=15_000)
    expect(sidebar.get_by_test_id("stExpanderIconSpinner")).to_have_count(1)
    # Still so after the sidebar's 5-s look for runs has come round (an app-wide rerun would lose the spinner).
    expect(status).to_contain_text(re.compile(r"Running the ELT · [a-z]+ · ([6-9]|\d\d+) s"), timeout=30_000)
    expect(sidebar.get_by_test_id("stExpanderIconSpinner")).to_have_count(1)
    # Then every page shows the new data, and the sidebar says how the run went.
    expect(sidebar).to_contain_text("Data from run 2", timeout=180_000)
    expect(sidebar.get_by_test_id("stAlert")).to_contain_text("Run 2 succeeded")
    expect(purchases).to_have_text("9")  # orders_small.csv: nine purchases
    expect(sidebar.get_by_role("button", name="Rerun ELT")).to_be_enabled()
    expect(sidebar).to_contain_text("unchanged since run 2 read it")
    assert page.get_by_test_id("stException").count() == 0


def test_the_sidebar_notices_the_export_going_and_arriving_without_a_click(app_url, tmp_path, page):
    export = _export_path(tmp_path)
    page.goto(app_url)
    sidebar = page.get_by_test_id("stSidebar")
    rerun_button = sidebar.get_by_role("button", name="Rerun ELT")
    expect(sidebar).to_contain_text("A rerun reads orders_small.csv", timeout=30_000)
    expect(rerun_button).to_be_enabled()
    # Nobody touches the page from here on: the sidebar's look every 5 s finds the file gone, then back.
    export.rename(tmp_path / "elsewhere.csv")
    warning = sidebar.get_by_test_id("stAlert")
    expect(warning).to_contain_text(f"A rerun would fail: input file not found: {export}", timeout=15_000)
    expect(rerun_button).to_be_disabled()
    (tmp_path / "elsewhere.csv").rename(export)
    expect(sidebar).to_contain_text("A rerun reads orders_small.csv", timeout=15_000)
    expect(warning).to_have_count(0)
    expect(rerun_button).to_be_enabled()
    assert page.get_by_test_id("stException").count() == 0


def test_data_team_follows_a_command_line_run_on_the_data_pipeline_page(app_url, database_url, page):
    page.goto(f"{app_url}/data_pipeline")
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=30_000)
    # A run starts from the command line after the page was drawn; nobody touches the page from here on.
    with command_line_run_in_progress(database_url) as (holder, run_id):
        _follow_the_run(page, holder, run_id)


def _follow_the_run(page, holder, run_id: int) -> None:
    """What the page and its sidebar show while the run goes on (the run's stage moved by hand), and after."""
    started = f"Run {run_id}, started from the command line"
    banner = page.get_by_test_id("stMain").get_by_test_id("stAlert").filter(has_text=started)
    notice = page.get_by_test_id("stSidebar").get_by_test_id("stAlert").filter(has_text=started)
    rerun_button = page.get_by_test_id("stSidebar").get_by_role("button", name="Rerun ELT")
    expect(banner).to_contain_text("is in its extract stage after", timeout=15_000)
    expect(notice).to_contain_text("is in its extract stage after")
    expect(rerun_button).to_be_disabled()
    # The run moves on: the page and the sidebar follow without being reloaded.
    with holder.cursor() as cur:
        cur.execute("update meta.elt_runs set current_stage = 'load' where run_id = %s", (run_id,))
    expect(banner).to_contain_text("is in its load stage after", timeout=15_000)
    expect(notice).to_contain_text("is in its load stage after", timeout=15_000)
    # The run ends: banner and notice go, the history shows how it ended (not as killed), reruns are possible.
    with holder.cursor() as cur:
        cur.execute("update meta.elt_runs set status = 'succeeded', finished_at = now(), current_stage = null "
                    "where run_id = %s", (run_id,))
        cur.execute("select pg_advisory_unlock(%s)", (RUN_LOCK_KEY,))
    expect(banner).to_have_count(0, timeout=15_000)
    expect(notice).to_have_count(0)
    expect(rerun_button).to_be_enabled()
    newest = page.get_by_test_id("stDataFrame").first.locator("table tbody tr").first
    expect(newest.locator("td").nth(0)).to_have_text(str(run_id))
    expect(newest.locator("td").nth(1)).to_have_text("succeeded")
