"""The dashboard as a user meets it, through Streamlit's AppTest, on a real PostgreSQL.

The numbers below were worked out by hand from tests/fixtures/orders_app.csv (business time zone Amsterdam).
"""
from __future__ import annotations

import csv
import io
import json
import re
import signal
import time
from dataclasses import replace

import pytest
import streamlit as st
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from dashboard import data, rerun
from dashboard.audience import AudienceFilter
from elt import db, pipeline
from elt.lock import RUN_LOCK_KEY
from elt.config import PROJECT_ROOT
from tests.conftest import CONTRACT_HEADER as EXPORT_CONTRACT_HEADER, FIXTURES
from tests.harness import app_test as _app, command_line_run_in_progress

SIDEBAR_ONLY = str(PROJECT_ROOT / "tests" / "apps" / "sidebar_only.py")
EXPORT_HEADER = [
    "customer_id", "email", "first_name", "last_name", "country", "marketing_opt_in", "order_count",
    "revenue_eur", "first_order_at", "last_order_at", "years",
]


@pytest.fixture
def published(settings, spark, database_url):
    """This test's database with the app fixture published."""
    pipeline.run(settings, str(FIXTURES / "orders_app.csv"), report=lambda line: None, spark=spark)
    return database_url


def _button(at: AppTest, label: str):
    return next(button for button in at.button if button.label == label)


def _metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def test_overview_shows_freshness_and_headline_numbers(published, monkeypatch):
    at = _app(published, monkeypatch)
    assert _metrics(at) == {
        "Customers": "5",
        "Purchases": "6",
        "Revenue": "€ 136.02",
        "February audience": "4 customers",
        "December audience": "1 customers",
    }
    assert "orders\\_app.csv" in at.info[0].value and "published just now" in at.info[0].value  # _ escaped
    assert any("3 of them opted in" in caption.value for caption in at.caption)


def test_february_filters_change_count_and_preview(published, monkeypatch):
    at = _app(published, monkeypatch, page="pages/february.py")
    # Opted-in only by default: K1, K2, K5 (K3 did not opt in).
    assert _metrics(at)["Customers in this audience"] == "3"
    assert list(at.dataframe[0].value.customer_id) == ["K2", "K1", "K5"]

    at.multiselect(key="year").set_value([2024]).run()
    at.multiselect(key="country").set_value(["NL"]).run()
    assert _metrics(at) == {"Customers in this audience": "2", "Their purchases": "2", "Their revenue": "€ 21.00"}
    preview = at.dataframe[0].value
    assert list(preview.customer_id) == ["K2", "K1"]
    assert [float(r) for r in preview.revenue] == [11.0, 10.0]  # 2024 only: K2's 2025 order is left out
    assert at.get("download_button")[0].label == "Download 2 customers as CSV"

    at.toggle(key="opted_in").set_value(False).run()
    at.multiselect(key="country").set_value(["DE"]).run()
    assert list(at.dataframe[0].value.customer_id) == ["K3"]


def test_several_years_add_up_each_customers_purchases_of_those_years(published, monkeypatch):
    at = _app(published, monkeypatch, page="pages/february.py")
    at.multiselect(key="year").set_value([2024, 2025]).run()
    # Opted in, February 2024 or 2025: K2 (B2 11.00 + B3 1.25), K1 (B1 10.00); K5's 2024 order was cancelled.
    assert _metrics(at) == {"Customers in this audience": "2", "Their purchases": "3", "Their revenue": "€ 22.25"}
    preview = at.dataframe[0].value
    assert list(preview.customer_id) == ["K2", "K1"]
    assert [list(years) for years in preview.years] == [[2024, 2025], [2024]]
    at.multiselect(key="year").set_value([2023, 2025]).run()
    assert list(at.dataframe[0].value.customer_id) == ["K5", "K2"]  # 7.77 (2023) before 1.25 (2025)


def test_data_built_by_an_older_version_asks_for_a_rerun_instead_of_failing(published, monkeypatch):
    with db.connection(published) as conn, conn.cursor() as cur:
        cur.execute("drop table mrt.overview")  # what a publish by the previous version lacks
        conn.commit()
    at = _app(published, monkeypatch)
    assert not at.exception
    assert "built by an older version of the pipeline and lacks mrt.overview" in at.warning[0].value
    assert not at.metric


def test_no_match_says_so_and_disables_download(published, monkeypatch):
    at = _app(published, monkeypatch, page="pages/february.py")
    at.text_input(key="q").set_value("nobody by that name").run()
    assert _metrics(at)["Customers in this audience"] == "0"
    assert "No customers match these filters" in at.info[0].value
    assert not at.dataframe
    button = at.get("download_button")[0]
    assert button.label == "Nothing to download" and button.proto.disabled


def test_search_is_literal_and_injection_safe(published, monkeypatch):
    at = _app(published, monkeypatch, page="pages/february.py")
    at.text_input(key="q").set_value("'; drop table mrt.customers_february; --").run()
    assert _metrics(at)["Customers in this audience"] == "0"
    at.text_input(key="q").set_value("%").run()  # a LIKE wildcard is searched for as a character
    assert _metrics(at)["Customers in this audience"] == "0"
    at.text_input(key="q").set_value("CHLOÉ").run()
    assert list(at.dataframe[0].value.customer_id) == ["K5"]


def test_filters_come_from_the_url(published, monkeypatch):
    at = _app(published, monkeypatch, page="pages/february.py", query={"year": "2024", "country": "NL"})
    assert _metrics(at)["Customers in this audience"] == "2"


def test_names_with_markup_stay_plain_text(published, monkeypatch):
    at = _app(published, monkeypatch, page="pages/february.py")
    preview = at.dataframe[0].value
    assert "<b>Bold</b>" in set(preview.first_name) and "**Stars**" in set(preview.last_name)
    rendered = " ".join(markdown.value for markdown in at.markdown)
    assert "<b>Bold</b>" not in rendered and "**Stars**" not in rendered


def test_a_missing_email_or_name_shows_as_an_empty_cell(published, monkeypatch):
    with db.connection(published) as conn, conn.cursor() as cur:
        cur.execute("update mrt.customers_february set email = null, last_name = null where customer_id = 'K5'")
        conn.commit()
    at = _app(published, monkeypatch, page="pages/february.py")
    preview = at.dataframe[0].value.set_index("customer_id")
    assert preview.loc["K5", "email"] == "" and preview.loc["K5", "last_name"] == ""
    assert preview.loc["K5", "first_name"] == "Chloé" and preview.loc["K1", "email"] == "k1@example.nl"


def _rows(payload: bytes, delimiter: str = ",") -> list[list[str]]:
    assert payload.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(payload[3:].decode("utf-8")), delimiter=delimiter))


def test_export_is_the_full_filtered_audience_with_formulas_neutralised(published, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", published)
    st.cache_resource.clear()
    audience = AudienceFilter(years=(2024,), countries=("NL",))
    rows = _rows(data.audience_csv("february", audience, "Europe/Amsterdam", semicolons=False))
    assert rows == [
        EXPORT_HEADER,
        ["K2", "'-minus@example.nl", "<b>Bold</b>", "**Stars**", "NL", "true", "1", "11.00",
         "2024-02-11 11:00:00", "2024-02-11 11:00:00", "2024"],
        ["K1", "k1@example.nl", "'=HYPERLINK(\"http://x\")", "Jansen", "NL", "true", "1", "10.00",
         "2024-02-10 11:00:00", "2024-02-10 11:00:00", "2024"],
    ]
    everyone = _rows(data.audience_csv("february", AudienceFilter(opted_in_only=False), "Europe/Amsterdam", semicolons=True), ";")
    assert [row[0] for row in everyone[1:]] == ["K3", "K2", "K1", "K5"]
    k3, k2 = everyone[1], everyone[2]
    assert k3[1] == "'@at@example.de" and k3[3] == "Müller-Lüdenscheidt" and k3[7] == "100,00"
    assert k2[6:8] == ["2", "12,25"] and k2[10] == "2024 2025"
    december = _rows(data.audience_csv("december", AudienceFilter(), "Europe/Amsterdam", semicolons=False))
    assert december[1][2] == "'+Plus" and december[1][7] == "6.00"


def test_orders_by_month_page(published, monkeypatch):
    at = _app(published, monkeypatch, page="pages/orders_by_month.py")
    table = at.dataframe[0].value
    # Feb 2023 .. Feb 2025: 25 months; purchases: Feb 2023 1, Feb 2024 3, Dec 2024 1, Feb 2025 1.
    assert len(table) == 25
    assert int(table.order_count.sum()) == 6
    assert at.get("download_button")


def test_data_pipeline_page_lists_runs(published, monkeypatch):
    at = _app(published, monkeypatch, page="pages/data_pipeline.py")
    runs = at.dataframe[0].value
    assert list(runs.status) == ["succeeded"] and int(runs.rows_read[0]) == 7
    assert any("rejected no rows" in success.value for success in at.success)


def test_data_pipeline_page_counts_every_reject_and_its_download_has_them_all(published, monkeypatch, settings, spark,
                                                                             tmp_path):
    header = "order_id,ordered_at,customer_id,email,first_name,last_name,country,product_category,quantity,unit_price,status,marketing_opt_in"
    good = [f"G{i},2024-02-1{i}T10:00:00Z,C{i},c{i}@example.com,Ann,Smit,NL,flowers,1,10.00,completed,true" for i in range(10)]
    bad = [f"B{i:03},2024-02-10T10:00:00Z,D{i},d{i}@example.com,Bob,Smit,NL,flowers,many,10.00,completed,true" for i in range(205)]
    formula = "=X1,2024-02-10T10:00:00Z,D9,d9@example.com,Bob,Smit,NL,flowers,lots,10.00,shipped,true"
    path = tmp_path / "orders_many_rejects.csv"
    path.write_text("\n".join([header, *good, *bad, formula]) + "\n")
    pipeline.run(replace(settings, max_reject_share=0.99), str(path), report=lambda line: None, spark=spark)

    at = _app(published, monkeypatch, page="pages/data_pipeline.py")
    _, reasons, shown = at.dataframe  # the run history, then the rejects by reason, then the rejected rows
    # Over all 206 rejected rows, not only the 200 shown: every B row and =X1 break the quantity rule, =X1 the status.
    assert list(zip(reasons.value.reason, reasons.value.rows)) == [
        ("quantity is not a whole number", 206), ("status is not completed, cancelled or refunded", 1),
    ]
    assert len(shown.value) == 200
    assert any(caption.value.startswith("The first 200 of 206 rejected rows") for caption in at.caption)
    assert at.get("download_button")[0].label == "Download 206 rejected rows as CSV"

    monkeypatch.setenv("DATABASE_URL", published)
    rows = _rows(data.rejects_csv(data.RejectedRows(int(at.dataframe[0].value.run_id[0]))))
    assert rows[0] == ["order_id", "reject_reason", "raw_record", "source_file"]
    by_id = {row[0]: row for row in rows[1:]}
    assert len(rows) == 207 and set(by_id) == {f"B{i:03}" for i in range(205)} | {"'=X1"}
    assert by_id["B007"][1:3] == ["quantity is not a whole number: 'many'", bad[7]]
    assert by_id["'=X1"][2] == "'" + formula  # the record as read, neutralised for spreadsheets
    assert by_id["B007"][3].endswith("orders_many_rejects.csv")


def _refused_run(settings, spark, tmp_path) -> tuple[str, list[str]]:
    """Run the ELT on an export of 10 good orders and 3 whose quantity is no number: 23 % rejected, over the default
    5 %, so the run is refused. Returns the file's path and its bad lines."""
    header = ",".join(EXPORT_CONTRACT_HEADER)
    good = [f"G{i},2024-02-1{i}T10:00:00Z,C{i},c{i}@example.com,Ann,Smit,NL,flowers,1,10.00,completed,true" for i in range(10)]
    bad = [f"B{i},2024-02-10T10:00:00Z,D{i},d{i}@example.com,Bob,Smit,NL,flowers,{word},10.00,completed,true"
           for i, word in enumerate(["one", "two", "three"])]
    path = tmp_path / "orders_broken.csv"
    path.write_text("\n".join([header, *good, *bad]) + "\n")
    with pytest.raises(pipeline.TooManyRejects):
        pipeline.run(settings, str(path), report=lambda line: None, spark=spark)
    return str(path), bad


def test_data_pipeline_page_shows_the_rows_of_a_refused_run_until_a_later_run_publishes(
    published, monkeypatch, settings, spark, tmp_path
):
    path, bad = _refused_run(settings, spark, tmp_path)

    at = _app(published, monkeypatch, page="pages/data_pipeline.py")
    runs = at.dataframe[0].value
    refused_run, published_run = int(runs.run_id[0]), int(runs.run_id[1])
    assert [header.value for header in at.main.subheader] == [
        f"Rejected rows of run {refused_run}, which was refused", "Rejected rows of the published run",
    ]
    assert at.main.warning[0].value.startswith(
        f"Run {refused_run} rejected 3 of its 13 rows (23.1%), more than the pipeline allows, and published nothing"
    )
    assert "The dashboard still shows the last good data" in at.main.warning[0].value
    _, reasons, shown = at.dataframe  # the run history, then the refused run's rules and rows
    assert list(zip(reasons.value.reason, reasons.value.rows)) == [("quantity is not a whole number", 3)]
    assert sorted(shown.value.order_id) == ["B0", "B1", "B2"]
    assert [button.label for button in at.get("download_button")] == ["Download 3 rejected rows as CSV"]
    assert any("rejected no rows" in success.value for success in at.success)  # the published run's
    monkeypatch.setenv("DATABASE_URL", published)
    rows = _rows(data.rejects_csv(data.RejectedRows(refused_run, refused=True)))
    source = f"file:{path}"  # as Spark names the file it read
    assert rows[1:] == [  # by reason, then order id
        ["B0", "quantity is not a whole number: 'one'", bad[0], source],
        ["B2", "quantity is not a whole number: 'three'", bad[2], source],
        ["B1", "quantity is not a whole number: 'two'", bad[1], source],
    ]
    assert refused_run > published_run

    pipeline.run(settings, str(FIXTURES / "orders_app.csv"), report=lambda line: None, spark=spark)
    data.refused_run.clear()
    at = _app(published, monkeypatch, page="pages/data_pipeline.py")
    assert [header.value for header in at.main.subheader] == ["Rejected rows of the published run"]
    assert not at.main.warning


def test_a_refused_first_run_shows_its_rows_though_nothing_is_published(database_url, monkeypatch, settings, spark,
                                                                      tmp_path):
    _refused_run(settings, spark, tmp_path)

    at = _app(database_url, monkeypatch, page="pages/data_pipeline.py")
    assert [header.value for header in at.main.subheader][0].startswith("Rejected rows of run ")
    assert "Nothing has been published yet" in at.main.warning[0].value
    assert [button.label for button in at.get("download_button")] == ["Download 3 rejected rows as CSV"]
    assert "No data has been published yet" in at.main.info[0].value


def test_data_pipeline_page_names_the_stage_of_a_run_in_progress_and_marks_a_dead_one(published, monkeypatch):
    with command_line_run_in_progress(published, seconds_ago=42) as (_, run_id):
        at = _app(published, monkeypatch, page="pages/data_pipeline.py")
        (banner,) = at.main.info
        assert re.fullmatch(rf"Run {run_id}, started from the command line, is in its \*\*extract\*\* stage after "
                            r"4[2-9] s\. This page follows it\.", banner.value), banner.value
        runs = at.dataframe[0].value
        assert list(runs.status) == ["running", "succeeded"]
        assert 42 <= runs.seconds[0] < 50  # so far
        # Its counts are not known yet: the table shows a dash for them, not the word "None".
        assert runs[["rows_read", "rows_loaded", "rows_rejected"]].iloc[0].isna().all()
        assert at.dataframe[0].proto.placeholder == "—"
    # Its process is gone (the lock with it) and the log still says running: killed, no banner.
    at = _app(published, monkeypatch, page="pages/data_pipeline.py")
    assert not at.info
    assert list(at.dataframe[0].value.status) == ["interrupted", "succeeded"]


def _number_formats(at: AppTest) -> dict[str, str]:
    """The number format of every number column in the page's tables, by column label."""
    formats = {}
    for table in at.dataframe:
        for column in json.loads(table.proto.columns).values():
            config = column.get("type_config", {})
            if config.get("type") == "number":
                formats[column["label"]] = config.get("format")
    return formats


def test_every_table_writes_counts_and_euros_alike_in_any_browser_locale(published, monkeypatch):
    # Streamlit's "localized" and "euro" formats follow the reader's browser locale ("1.234,56 €" in a German
    # browser), beside metrics written "€ 1,234.56": each table writes numbers one fixed way instead.
    euros, counts = "€ %,.2f", "%,d"
    expected = {
        "pages/february.py": {"Orders": counts, "Revenue": euros},
        "pages/orders_by_month.py": {"Purchases": counts, "Buyers": counts, "Revenue": euros},
        "pages/data_pipeline.py": {
            "Run": "%d", "Took (s)": "%.1f", "Read": counts, "Loaded": counts, "Rejected": counts, "Duplicates": counts,
        },
    }
    for page, formats in expected.items():
        assert _number_formats(_app(published, monkeypatch, page=page)) == formats, page


def test_every_table_shows_a_missing_value_as_a_dash(published, monkeypatch, settings, spark, tmp_path):
    # A file with a rejected row, so the Data pipeline page draws all three of its tables.
    bad = "X1,2024-02-10T10:00:00Z,K9,k9@example.nl,Ann,Smit,NL,flowers,two,10.00,completed,true"
    (tmp_path / "orders.csv").write_text((FIXTURES / "orders_app.csv").read_text() + bad + "\n")
    pipeline.run(replace(settings, max_reject_share=0.99), str(tmp_path / "orders.csv"), report=lambda line: None, spark=spark)
    tables = {page: 1 for page in ("pages/february.py", "pages/december.py", "pages/orders_by_month.py")}
    tables["pages/data_pipeline.py"] = 3
    for page, count in tables.items():
        at = _app(published, monkeypatch, page=page)
        assert [table.proto.placeholder for table in at.dataframe] == ["—"] * count, page


def test_empty_database_explains_what_to_do(database_url, monkeypatch):
    for page in (None, "pages/february.py", "pages/orders_by_month.py"):
        at = _app(database_url, monkeypatch, page=page)
        assert "No data has been published yet" in at.info[0].value
    at = _app(database_url, monkeypatch, page="pages/data_pipeline.py")
    assert "No run yet" in at.info[0].value


def test_unreachable_database_names_host_not_password(monkeypatch):
    at = _app("postgresql://marketing:s3cret-pw@127.0.0.1:9/shop", monkeypatch)
    assert "127.0.0.1:9/shop cannot be reached" in at.error[0].value
    page_text = " ".join(str(element.value) for element in [*at.error, *at.markdown, *at.caption])
    assert "s3cret-pw" not in page_text


def test_an_embedded_database_that_cannot_start_is_explained_in_sentences(monkeypatch, tmp_path):
    not_a_directory = tmp_path / "data"  # ELT_DATA_DIR naming a file: the embedded server cannot be created there
    not_a_directory.write_text("")
    at = _app(None, monkeypatch, ELT_DATA_DIR=str(not_a_directory))
    pgdata = not_a_directory / "postgres"
    errors = [error.value for error in at.error]
    assert len(errors) == 2, errors  # the page's and the sidebar's
    page = next(error for error in errors if "The dashboard needs PostgreSQL" in error)
    sidebar = next(error for error in errors if error != page)
    assert sidebar.startswith(f"Could not start the embedded PostgreSQL in {pgdata}: ") and sidebar.endswith(".")
    assert page.startswith(f"{sidebar} The dashboard needs PostgreSQL: check `DATABASE_URL`"), page
    at = _app(None, monkeypatch, page="pages/data_pipeline.py", ELT_DATA_DIR=str(not_a_directory))
    assert any(error.value.startswith(f"{sidebar} Check `DATABASE_URL`") for error in at.error), at.error


@pytest.mark.reliability(
    "Security", "Rerun ELT with no data-team secret configured",
    "enabled only when the app is served on localhost only (whoever uses it is on this machine); on any other "
    "address the button is disabled until `ELT_ADMIN_PASSWORD` is set",
)
@pytest.mark.parametrize(("address", "enabled"), [("0.0.0.0", False), ("127.0.0.1", True)])
def test_without_a_secret_rerun_is_only_for_localhost(published, monkeypatch, address, enabled):
    monkeypatch.delenv("ELT_ADMIN_PASSWORD", raising=False)
    previous = st.get_option("server.address")
    st_config.set_option("server.address", address)
    try:
        at = _app(published, monkeypatch, script=SIDEBAR_ONLY)
    finally:
        st_config.set_option("server.address", previous)
    rerun_button = _button(at, "Rerun ELT")
    assert rerun_button.disabled is not enabled
    assert not at.sidebar.text_input  # no password to ask for when none is configured


def test_rerun_with_the_secret_publishes_new_data(published, monkeypatch):
    at = _app(published, monkeypatch, script=SIDEBAR_ONLY, ELT_ADMIN_PASSWORD="team-secret", ELT_INPUT=str(FIXTURES / "orders_small.csv"),
              ELT_MAX_REJECT_SHARE="0.5")
    at.sidebar.text_input[0].input("wrong")
    _button(at, "Unlock").click().run()
    assert any("not the data-team password" in error.value for error in at.sidebar.error)
    assert _button(at, "Rerun ELT").disabled

    at.sidebar.text_input[0].input("team-secret")
    _button(at, "Unlock").click().run()
    rerun_button = _button(at, "Rerun ELT")
    assert not rerun_button.disabled
    rerun_button.click().run(timeout=300)
    _check_progress_names_the_stage_in_progress(at, published)
    for _ in range(600):  # the progress fragment reruns until the subprocess has finished
        if "elt_outcome" in at.session_state:
            break
        at.run(timeout=60)
    kind, message = at.session_state["elt_outcome"]
    assert kind == "success", message
    at.run()
    assert any("succeeded" in success.value for success in at.sidebar.success)
    overview = _app(published, monkeypatch)
    assert _metrics(overview)["Customers"] == "5" and _metrics(overview)["Purchases"] == "9"  # orders_small.csv


def _check_progress_names_the_stage_in_progress(at: AppTest, url: str) -> None:
    """While the app's run is past its start, the sidebar's running status names the stage the run log says it is
    in (a stage's line in the output comes only when that stage has ended). The run's process is stopped while the
    stage is read and the page drawn, so the stage cannot move on in between."""
    job = rerun.current_job()
    assert job is not None
    with db.connection(url, autocommit=True) as conn, conn.cursor() as cur:
        for _ in range(1200):
            job.process.send_signal(signal.SIGSTOP)
            try:
                cur.execute("select current_stage from meta.elt_runs where status = 'running'")
                row = cur.fetchone()
                if row and row[0] not in ("starting", None):
                    at.run(timeout=60)
                    status = at.sidebar.status[0]
                    assert status.label.startswith(f"Running the ELT · {row[0]} · "), (status.label, row[0])
                    assert status.state == "running"
                    return
            finally:
                job.process.send_signal(signal.SIGCONT)
            time.sleep(0.05)
    pytest.fail("the run never got past its start")


def _sidebar_caption(at: AppTest, start: str) -> str:
    """The one sidebar caption that starts with `start`, as read (Markdown's escapes and no-break spaces removed)."""
    captions = [caption.value.replace("\\", "").replace("\u00a0", " ") for caption in at.sidebar.caption]
    found = [caption for caption in captions if caption.startswith(start)]
    assert len(found) == 1, captions
    return found[0]


def _export(path, size: int):
    """An orders export of exactly `size` bytes: the contract's header and good February orders (the last one's
    product category as long as it takes)."""
    def order(number: int, category: str) -> str:
        return f"A-{number},2024-02-14T10:00:00Z,C-{number},c{number}@example.nl,Ann,,NL,{category},1,10.00,completed,true\n"

    text, number = ",".join(EXPORT_CONTRACT_HEADER) + "\n", 1
    while size - len(text) > 300:
        text, number = text + order(number, "flowers"), number + 1
    text += order(number, "x" * (size - len(text) - len(order(number, ""))))
    path.write_text(text, encoding="utf-8")
    assert path.stat().st_size == size
    return path


def test_the_sidebar_names_the_file_a_rerun_reads_and_whether_it_changed(published, monkeypatch, settings, spark, tmp_path):
    monkeypatch.delenv("ELT_INPUT", raising=False)
    at = _app(published, monkeypatch, script=SIDEBAR_ONLY)
    assert re.fullmatch(
        r"A rerun reads \*\*orders_sample\.csv\*\* \(\d\.\d MB, saved .+\), the bundled sample; the data shown came "
        r"from orders_app\.csv\. Set `ELT_INPUT` to read an export instead\.",
        _sidebar_caption(at, "A rerun reads"),
    )
    # An export that is not the one the data shown came from.
    export = _export(tmp_path / "orders_export.csv", 2500)
    at = _app(published, monkeypatch, script=SIDEBAR_ONLY, ELT_INPUT=str(export))
    assert _sidebar_caption(at, "A rerun reads") == (
        "A rerun reads **orders_export.csv** (2.5 kB, saved just now); the data shown came from orders_app.csv."
    )
    # Once a run has read it: unchanged; then the export is written again: changed.
    pipeline.run(settings, str(export), report=lambda line: None, spark=spark)
    at.run()
    assert _sidebar_caption(at, "A rerun reads") == (
        "A rerun reads **orders_export.csv** (2.5 kB, saved just now), unchanged since run 2 read it."
    )
    _export(export, 3000)
    at.run()
    assert _sidebar_caption(at, "A rerun reads") == (
        "A rerun reads **orders_export.csv** (3.0 kB, saved just now), changed since run 2 read it."
    )
    assert not _button(at, "Rerun ELT").disabled


@pytest.mark.reliability(
    "Hostile input", "Rerun ELT pointed (`ELT_INPUT`) at an export that is missing, empty or separated by semicolons",
    "refused before it starts: the sidebar quotes the run's own one line (`A rerun would fail: input file not found: "
    "<path>`) and the button stays disabled until a good file is there",
)
@pytest.mark.parametrize(("content", "problem"), [
    (None, "input file not found: {path}"),
    ("", "input file is empty (no header row): {path}"),
    ("order_id;ordered_at;customer_id\n1;2024-02-14T10:00:00Z;C-1\n", "input is semicolon-separated, the orders contract needs commas: {path}"),
], ids=["missing", "empty", "semicolons"])
def test_a_rerun_that_would_fail_at_once_is_refused_before_it_starts(published, monkeypatch, tmp_path, content, problem):
    export = tmp_path / "orders_export.csv"
    if content is not None:
        export.write_text(content, encoding="utf-8")
    at = _app(published, monkeypatch, script=SIDEBAR_ONLY, ELT_INPUT=str(export))
    (warning,) = at.sidebar.warning
    assert warning.value.replace("\\", "") == (
        f"A rerun would fail: {problem.format(path=export)}. Put a good export there, or point `ELT_INPUT` at one."
    )
    assert _button(at, "Rerun ELT").disabled
    _export(export, 2500)  # the export arrives
    at.run()
    assert not at.sidebar.warning
    assert _sidebar_caption(at, "A rerun reads").startswith("A rerun reads **orders_export.csv** (2.5 kB")
    assert not _button(at, "Rerun ELT").disabled


def test_new_publish_shows_on_next_view_without_clearing_caches(published, monkeypatch, settings, spark):
    at = _app(published, monkeypatch)
    assert _metrics(at)["Customers"] == "5" and _metrics(at)["Purchases"] == "6"
    # Another run publishes (as a CLI run would); the running app's caches are not touched.
    pipeline.run(replace(settings, max_reject_share=0.5), str(FIXTURES / "orders_small.csv"), report=lambda line: None, spark=spark)
    at.run()
    assert _metrics(at)["Purchases"] == "9"


def test_a_run_in_progress_elsewhere_disables_rerun_and_the_sidebar_follows_it(published, monkeypatch):
    with command_line_run_in_progress(published, seconds_ago=75) as (holder, run_id):
        at = _app(published, monkeypatch, script=SIDEBAR_ONLY)
        (notice,) = at.sidebar.info
        assert re.fullmatch(rf"Run {run_id}, started from the command line, is in its \*\*extract\*\* stage after "
                            r"1 min 1[5-9] s\. Reruns wait until it has finished\.", notice.value), notice.value
        assert _button(at, "Rerun ELT").disabled
        with holder.cursor() as cur:
            cur.execute("update meta.elt_runs set current_stage = 'dwh' where run_id = %s", (run_id,))
        at.run()
        assert "is in its **dwh** stage after 1 min" in at.sidebar.info[0].value
    # The run has ended (its process, and the lock with it, gone): no notice, the button is back.
    at.run()
    assert not at.sidebar.info
    assert not _button(at, "Rerun ELT").disabled


def test_a_run_that_has_not_yet_written_to_the_run_log_is_starting(published, monkeypatch):
    holder = db.connect(published, autocommit=True)
    try:
        with holder.cursor() as cur:
            cur.execute("select pg_advisory_lock(%s)", (RUN_LOCK_KEY,))
        at = _app(published, monkeypatch, script=SIDEBAR_ONLY)
    finally:
        holder.close()
    assert re.fullmatch(r"An ELT run is starting \([0-9] s so far\)\. Reruns wait until it has finished\.",
                        at.sidebar.info[0].value), at.sidebar.info[0].value
    assert _button(at, "Rerun ELT").disabled
