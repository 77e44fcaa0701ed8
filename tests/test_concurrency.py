"""Reruns started together from the command line and the app: one runs, the others are refused at once.

The expected marts are worked out by hand from tests/fixtures/orders_app.csv (business time zone Amsterdam).
"""
from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import data, rerun
from elt import pipeline
from elt.config import PROJECT_ROOT
from tests.conftest import query
from tests.harness import (
    APP_INPUT,
    SMALL_INPUT,
    dashboard_on,
    elt_env,
    fault,
    run_lock_holders,
    start_elt,
    wait_for,
)

CLI_RUNS = 4
RUN_TIMEOUT = 300
REFUSED = re.compile(
    r"^another ELT run is in progress since \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}; "
    r"try again when it has finished$"
)
FEBRUARY = [
    ("K1", "k1@example.nl", '=HYPERLINK("http://x")', "Jansen", "NL", True, 1, Decimal("10.00"), [2024]),
    ("K2", "-minus@example.nl", "<b>Bold</b>", "**Stars**", "NL", True, 2, Decimal("12.25"), [2024, 2025]),
    ("K3", "@at@example.de", "Zoë", "Müller-Lüdenscheidt", "DE", False, 1, Decimal("100.00"), [2024]),
    ("K5", "k5@example.fr", "Chloé", "Dubois", "FR", True, 1, Decimal("7.77"), [2023]),
]
DECEMBER = [("K4", "k4@example.be", "+Plus", "Tab", "BE", True, 1, Decimal("6.00"), [2024])]
# Months with purchases; the other 21 of Feb 2023 .. Feb 2025 are zeros.
MONTHS_WITH_PURCHASES = [
    (date(2023, 2, 1), 1, 1, Decimal("7.77")),
    (date(2024, 2, 1), 3, 3, Decimal("121.00")),
    (date(2024, 12, 1), 1, 1, Decimal("6.00")),
    (date(2025, 2, 1), 1, 1, Decimal("1.25")),
]
AUDIENCE = (
    "select customer_id, email, first_name, last_name, country, marketing_opt_in, order_count, revenue, years "
    "from {} order by customer_id"
)


@pytest.fixture
def app_environment(database_url, tmp_path, monkeypatch):
    """The environment the app (and so the ELT it starts) runs in; its server-wide job record starts empty."""
    env = elt_env(database_url, tmp_path / "data")
    for name in ("DATABASE_URL", "ELT_DATA_DIR", "SPARK_MASTER", "SPARK_DRIVER_MEMORY"):
        monkeypatch.setenv(name, env[name])
    st.cache_resource.clear()
    yield env
    st.cache_resource.clear()


@pytest.mark.reliability(
    "Concurrency", "five reruns started at the same moment: four `python -m elt run` and the app's Rerun ELT",
    "exactly one runs and publishes what a single run publishes; the other four are refused at once (exit 5) with "
    "one line: `another ELT run is in progress since …; try again when it has finished`",
)
def test_five_reruns_at_once_one_runs_the_others_are_refused(database_url, app_environment, tmp_path):
    outputs = [tmp_path / f"cli-{number}.log" for number in range(CLI_RUNS)]
    started: dict[str, object] = {}
    together = threading.Barrier(CLI_RUNS + 1)

    def from_cli(number: int) -> None:
        together.wait()
        started[f"cli-{number}"] = start_elt(app_environment, APP_INPUT, outputs[number])

    def from_app() -> None:
        together.wait()
        started["app"] = rerun.start(APP_INPUT, database_url)

    # The run that gets the lock waits at its COPY until the other four have ended, so all of them meet it.
    with fault(database_url, "copy", "wait", "raw_next.orders_part_1") as gate:
        threads = [threading.Thread(target=from_cli, args=(n,)) for n in range(CLI_RUNS)]
        threads.append(threading.Thread(target=from_app))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        processes = {name: getattr(job, "process", job) for name, job in started.items()}

        def ended() -> int:
            return sum(process.poll() is not None for process in processes.values())

        try:
            wait_for(lambda: ended() == len(processes) or (ended() == CLI_RUNS and gate.waiting()),
                     timeout=RUN_TIMEOUT, what="four runs refused and one waiting in its load")
            assert ended() == CLI_RUNS, "no run got as far as its load"
            gate.release()
            codes = {name: process.wait(timeout=RUN_TIMEOUT) for name, process in processes.items()}
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.kill()

    assert sorted(codes.values()) == [0, 5, 5, 5, 5], codes
    winner = next(name for name, code in codes.items() if code == 0)
    for name, code in codes.items():
        if code == 5:
            lines = rerun.output(started[name]) if name == "app" else outputs[int(name[4:])].read_text().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), lines
            assert REFUSED.match(rerun.error_line(lines)), lines
    assert query(database_url, "select status, triggered_by from meta.elt_runs") == [
        ("succeeded", "app" if winner == "app" else "cli")
    ]
    assert query(database_url, "select run_id, order_count from mrt.publication") == [(1, 7)]
    assert query(database_url, AUDIENCE.format("mrt.customers_february")) == FEBRUARY
    assert query(database_url, AUDIENCE.format("mrt.customers_december")) == DECEMBER
    months = query(
        database_url, "select month, order_count, customer_count, revenue from mrt.orders_by_month order by 1"
    )
    assert len(months) == 25
    assert [month for month in months if month[1]] == MONTHS_WITH_PURCHASES
    assert run_lock_holders(database_url) == 0


@pytest.mark.reliability(
    "Concurrency", "a run publishes between two reads of one dashboard page view",
    "the view notices (each read checks which run is published) and starts again on the new run: every number on "
    "the page is of one run, and nothing of the new run is cached under the old run's id",
)
def test_a_publish_in_the_middle_of_a_page_view_starts_the_view_again(
    settings, spark, database_url, tmp_path, monkeypatch
):
    run_settings = replace(settings, data_dir=tmp_path / "data")
    pipeline.run(run_settings, APP_INPUT, spark=spark, report=lambda line: None)
    with dashboard_on(database_url):
        before = data.publication()
    pipeline.run(replace(run_settings, max_reject_share=0.5), SMALL_INPUT, spark=spark, report=lambda line: None)

    # The view read "run 1 is published" just before run 2's commit; its next read comes after it.
    restarts: list[tuple[int, int]] = []
    start_again, publication = data._start_again, data.publication

    def noting_the_restart(version: int, published: int) -> None:
        restarts.append((version, published))
        start_again(version, published)

    monkeypatch.setattr(data, "_start_again", noting_the_restart)
    monkeypatch.setattr(data, "publication", lambda: before if not restarts else publication())
    monkeypatch.setenv("DATABASE_URL", database_url)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(PROJECT_ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert restarts == [(1, 2)]
    metrics = {metric.label: metric.value for metric in at.metric}
    # orders_small.csv, by hand: 9 purchases, EUR 180.91; February C1 and C5; December C3.
    assert metrics == {
        "Customers": "5", "Purchases": "9", "Revenue": "€ 180.91", "February audience": "2 customers",
        "December audience": "1 customers",
    }
    assert "run 2)" in at.info[0].value
    with pytest.raises(data.Republished):
        data.headline(1)  # asked for run 1 now that run 2 is published: refused, so nothing is cached for run 1
    st.cache_resource.clear()
