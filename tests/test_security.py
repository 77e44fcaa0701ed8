"""Security: hostile text in filters, names and exports; who may rerun the ELT; secrets and passwords; binding.

The audience below is written out by hand; every expectation is worked out from it, not from the code.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
import streamlit as st
from sqlalchemy.engine import make_url
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from dashboard import data, rerun
from dashboard.audience import AudienceFilter
from elt import pipeline
from elt.config import PROJECT_ROOT
from tests.conftest import CONTRACT_HEADER, query, run_elt
from tests.harness import APP_INPUT, APP_TIMEOUT, dashboard_on, wait_for
from tests.harness import app_test as _app

SIDEBAR_ONLY = str(PROJECT_ROOT / "tests" / "apps" / "sidebar_only.py")
SECRET_NAME = "ELT_ADMIN_PASSWORD"
DROP_S1 = "'); DROP TABLE mrt.customers_february;--"
# One February 2024 purchase per customer, all opted in. S*: names that look like SQL or LIKE patterns.
# F*: text cells that spreadsheets would read as formulas.
CUSTOMERS = [
    # customer_id, email, first_name, last_name, unit_price
    ("S1", "s1@example.nl", f"Robert{DROP_S1}", "Tables", "10.00"),
    ("S2", "s2@example.nl", "50%", "off_sale", "20.00"),
    ("S3", "anna@example.nl", "Anna", "de Vries", "30.00"),
    ("S4", "s4@example.nl", "O'Brien", "back\\slash", "40.00"),
    ("F1", "f1@example.nl", "=1+2", '=HYPERLINK("http://x")', "5.50"),
    ("F2", "f2@example.nl", "+SUM(A1)", "Plus", "6.00"),
    ("-7", "-f3@example.nl", "-2+3", "Minus", "7.25"),
    ("F4", "@f4@example.nl", "@SUM(1)", "At", "8.00"),
    ("F5", "f5@example.nl", "\tTabbed", "Tab", "9.00"),
    ("F6", "f6@example.nl", "\rReturn", "Return", "11.00"),
]
EXPORT_HEADER = [
    "customer_id", "email", "first_name", "last_name", "country", "marketing_opt_in", "order_count",
    "revenue_eur", "first_order_at", "last_order_at", "years",
]


def _write_orders(path: Path) -> str:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CONTRACT_HEADER)
        for number, (customer, email, first, last, price) in enumerate(CUSTOMERS, start=1):
            ordered_at = f"2024-02-{number:02d}T11:00:00Z"
            writer.writerow([f"X{number}", ordered_at, customer, email, first, last, "NL", "gifts", "1", price,
                             "completed", "true"])
    return str(path)


@pytest.fixture
def hostile(settings, spark, database_url, tmp_path) -> str:
    """This test's database with the hostile audience published."""
    run_settings = replace(settings, data_dir=tmp_path / "data")
    pipeline.run(run_settings, _write_orders(tmp_path / "hostile.csv"), spark=spark, report=lambda line: None)
    assert query(database_url, "select count(*) from mrt.customers_february") == [(len(CUSTOMERS),)]
    return database_url


@pytest.fixture
def published(settings, spark, database_url, tmp_path) -> str:
    """This test's database with orders_app.csv published."""
    pipeline.run(replace(settings, data_dir=tmp_path / "data"), APP_INPUT, spark=spark, report=lambda line: None)
    return database_url


def _button(at: AppTest, label: str):
    return next(button for button in at.button if button.label == label)


def _audience_size(at: AppTest) -> int:
    return int(next(metric.value for metric in at.metric if metric.label == "Customers in this audience"))


def _page_text(at: AppTest) -> str:
    """Everything the page sends to the browser, as text."""
    parts: list[str] = []

    def walk(node) -> None:
        if getattr(node, "proto", None) is not None:
            parts.append(str(node.proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


# --- SQL injection -------------------------------------------------------------------------------------------------

@pytest.mark.reliability(
    "Security", "SQL injection strings in every filter and in the search (typed, or in a shared link's URL)",
    "no effect beyond being searched for literally: the search finds exactly the names containing the text (`%`, "
    "`_`, `\\`, quotes included); filter values that are not options or numbers are ignored; the marts are intact",
)
def test_injection_strings_are_only_ever_searched_for_literally(hostile, monkeypatch):
    link = {
        "q": DROP_S1, "country": "NL' or '1'='1", "year": "2024 or 1=1", "min_orders": "1; drop table mrt.publication",
        "min_revenue": "0 or 1=1", "opted_in": "true' --",
    }
    at = _app(hostile, monkeypatch, page="pages/february.py", query=link)
    assert list(at.dataframe[0].value.customer_id) == ["S1"]
    for text, found in [
        (DROP_S1, ["S1"]), ("' or '1'='1", []), ("%", ["S2"]), ("_", ["S2", "S1"]), ("\\", ["S4"]), ("O'Brien", ["S4"]),
        ("=1+2", ["F1"]), ("'; select pg_sleep(10); --", []),
    ]:
        at.text_input(key="q").set_value(text).run()
        assert _audience_size(at) == len(found), text
        if found:
            assert list(at.dataframe[0].value.customer_id) == found, text

    with dashboard_on(hostile):
        version = data.publication().run_id
        for audience in [AudienceFilter(countries=("NL' or '1'='1",)), AudienceFilter(search="x' or 1=1 --"),
                         AudienceFilter(countries=("NL') or true --",), opted_in_only=False)]:
            assert data.audience_summary.__wrapped__(version, "february", audience)["customers"] == 0, audience
        export = data.audience_csv("february", AudienceFilter(search=DROP_S1), "Europe/Amsterdam", semicolons=False)
    assert [row[0] for row in _csv_rows(export)] == ["customer_id", "S1"]
    assert query(hostile, "select count(*) from mrt.customers_february") == [(len(CUSTOMERS),)]
    assert query(hostile, "select count(*) from mrt.publication") == [(1,)]


# --- CSV formula injection -----------------------------------------------------------------------------------------

def _csv_rows(payload: bytes, delimiter: str = ",") -> list[list[str]]:
    assert payload.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(payload[3:].decode("utf-8"), newline=""), delimiter=delimiter))


@pytest.mark.reliability(
    "Security",
    "formula injection in exported CSVs: text cells starting with `=`, `+`, `-`, `@`, tab or carriage return",
    "every such text cell is prefixed with `'` (shown as text by spreadsheets); counts, amounts (also with `;` and a "
    "decimal comma), dates and years stay numbers and dates",
)
@pytest.mark.parametrize("semicolons", [False, True])
def test_export_neutralises_formulas_and_keeps_numbers_and_dates(hostile, semicolons):
    with dashboard_on(hostile):
        export = data.audience_csv("february", AudienceFilter(), "Europe/Amsterdam", semicolons=semicolons)
    rows = _csv_rows(export, ";" if semicolons else ",")
    assert rows[0] == EXPORT_HEADER
    by_customer = {row[0]: dict(zip(EXPORT_HEADER, row)) for row in rows[1:]}
    assert set(by_customer) == {"S1", "S2", "S3", "S4", "F1", "F2", "'-7", "F4", "F5", "F6"}
    neutralised = {
        ("F1", "first_name"): "'=1+2", ("F1", "last_name"): "'=HYPERLINK(\"http://x\")",
        ("F2", "first_name"): "'+SUM(A1)", ("'-7", "email"): "'-f3@example.nl", ("'-7", "first_name"): "'-2+3",
        ("F4", "email"): "'@f4@example.nl", ("F4", "first_name"): "'@SUM(1)",
        ("F5", "first_name"): "'\tTabbed", ("F6", "first_name"): "'\rReturn",
    }
    for (customer, column), value in neutralised.items():
        assert by_customer[customer][column] == value, (customer, column)
    assert by_customer["S3"]["first_name"] == "Anna" and by_customer["S2"]["first_name"] == "50%"
    text_cells = [row[column] for row in by_customer.values() for column in EXPORT_HEADER[:5]]
    assert not [cell for cell in text_cells if re.match(r"[-=+@\t\r]", cell)]

    prices = {customer: price for customer, _, _, _, price in CUSTOMERS}
    for number, (customer, row) in enumerate(sorted(by_customer.items()), start=1):
        amount = row["revenue_eur"].replace(",", ".") if semicolons else row["revenue_eur"]
        assert Decimal(amount) == Decimal(prices[customer.lstrip("'")])
        assert int(row["order_count"]) == 1 and row["marketing_opt_in"] == "true" and row["years"] == "2024"
        assert datetime.strptime(row["first_order_at"], "%Y-%m-%d %H:%M:%S").year == 2024
        assert datetime.strptime(row["last_order_at"], "%Y-%m-%d %H:%M:%S").month == 2
    assert by_customer["F1"]["first_order_at"] == "2024-02-05 12:00:00"  # 11:00Z is 12:00 in Amsterdam


# --- Who may rerun the ELT -----------------------------------------------------------------------------------------

class _NoProcess:
    """Stands in for subprocess.Popen where no process may be started: records any attempt."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        raise AssertionError("an ELT process was started")


@pytest.mark.reliability(
    "Security", "Rerun ELT triggered by a tampered client without the data-team secret (the disabled button's event "
    "sent directly)",
    "refused on the server: the button stays disabled, no process starts, nothing is added to meta.elt_runs",
)
@pytest.mark.parametrize(("address", "secret"), [("127.0.0.1", "team-secret"), ("0.0.0.0", None)])
def test_a_forged_click_on_the_disabled_rerun_button_starts_nothing(published, monkeypatch, address, secret):
    monkeypatch.delenv(SECRET_NAME, raising=False)
    no_process = _NoProcess()
    monkeypatch.setattr(rerun.subprocess, "Popen", no_process)
    previous = st.get_option("server.address")
    st_config.set_option("server.address", address)
    try:
        at = _app(published, monkeypatch, script=SIDEBAR_ONLY, **({SECRET_NAME: secret} if secret else {}))
        button = _button(at, "Rerun ELT")
        assert button.disabled
        button._value = True  # what a tampered browser sends: the trigger of a disabled button (AppTest refuses to)
        at.run()
    finally:
        st_config.set_option("server.address", previous)
    assert not at.exception, at.exception
    assert no_process.calls == [] and rerun.current_job() is None
    assert _button(at, "Rerun ELT").disabled
    assert query(published, "select count(*) from meta.elt_runs") == [(1,)]


def _unlock(at: AppTest, password: str) -> None:
    at.sidebar.text_input[0].input(password)
    _button(at, "Unlock").click().run()


@pytest.mark.reliability(
    "Security", "guessing the data-team password",
    "after 5 wrong passwords in 5 minutes the server refuses every attempt, the right one too and from a new session, "
    "for 60 s after the last: `Too many wrong passwords. Try again in … s.`",
)
def test_wrong_passwords_are_rate_limited_for_the_whole_server(published, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(rerun, "time", SimpleNamespace(monotonic=lambda: clock[0], strftime=time.strftime))
    at = _app(published, monkeypatch, script=SIDEBAR_ONLY, **{SECRET_NAME: "team-secret"})
    for attempt in range(5):
        _unlock(at, f"guess-{attempt}")
        assert at.sidebar.error[0].value == "That is not the data-team password."
    _unlock(at, "team-secret")
    assert at.sidebar.error[0].value == "Too many wrong passwords. Try again in 61 s."
    assert _button(at, "Rerun ELT").disabled

    other_session = _app(published, monkeypatch, script=SIDEBAR_ONLY, fresh=False)
    clock[0] += 30
    _unlock(other_session, "team-secret")
    assert other_session.sidebar.error[0].value == "Too many wrong passwords. Try again in 31 s."
    clock[0] += 31
    _unlock(other_session, "team-secret")
    assert not other_session.sidebar.error
    assert not _button(other_session, "Rerun ELT").disabled


@pytest.mark.reliability(
    "Security", "the data-team secret, through unlocking and a rerun from the app",
    "never in the page, the URL, Python's logs, the run's log file under the data directory or its output, and not "
    "in the environment of the ELT process the app starts",
)
def test_the_secret_is_never_shown_logged_or_passed_on(published, monkeypatch, tmp_path, caplog):
    secret = f"s3cret-{uuid.uuid4().hex}"
    started: list[dict] = []
    popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        started.append(kwargs.get("env") or {})
        return popen(*args, **kwargs)

    monkeypatch.setattr(rerun.subprocess, "Popen", recording_popen)
    caplog.set_level(logging.DEBUG)
    data_dir = tmp_path / "data"
    # A run that fails soon: the file starts well (so the button is enabled) but a Latin-1 byte follows.
    export = tmp_path / "orders.csv"
    export.write_bytes(b"order_id,first_name\nA-1,J\xfcrgen\n")
    at = _app(published, monkeypatch, script=SIDEBAR_ONLY, ELT_DATA_DIR=str(data_dir), ELT_INPUT=str(export),
              **{SECRET_NAME: secret})
    _unlock(at, secret[:-1])
    _unlock(at, secret)
    _button(at, "Rerun ELT").click().run()
    for _ in range(240):  # the progress fragment reruns until the subprocess has ended
        if "elt_outcome" in at.session_state:
            break
        at.run()
        time.sleep(0.25)
    at.run()
    failure = "input is not UTF-8: byte 0xFC on line 2"
    assert at.sidebar.error[0].value.startswith(f"The run failed: {failure}"), at.sidebar.error[0].value

    assert len(started) == 1 and SECRET_NAME not in started[0]
    logs = [path.read_text(errors="replace") for path in data_dir.rglob("*") if path.is_file()]
    assert logs and failure in "".join(logs)
    exposed = {
        "page": _page_text(at), "URL": str(dict(at.query_params)), "Python logs": caplog.text,
        "log files": "".join(logs), "session": str(at.session_state),
    }
    assert [where for where, text in exposed.items() if secret in text] == []


# --- Credentials and passwords -------------------------------------------------------------------------------------

# Not secrets: empty, the word itself, masks, ellipses, shell or template variables, names of settings.
PLACEHOLDERS = re.compile(r"^(|(?i:password|pw)|\*+|…|\.\.\.|\$.*|<.*>|%s|\{.*\}|[A-Z][A-Z0-9_]*)$")
EXAMPLE_FILE = ".streamlit/secrets.toml.example"
# Made-up passwords the tests use to check they are never printed.
TEST_VALUES = {"s3cret-pw", "team-secret", "wrong"}
CREDENTIAL = re.compile(
    r"://[^/\s:@'\"]+:(?P<url>[^@\s/'\"]*)@"
    r"|(?i:password|passwd|secret|token|api_key)\w*\s*[:=]\s*[\"'](?P<assigned>[^\"']*)[\"']"
)


@pytest.mark.reliability(
    "Security", "credentials in the repository",
    "none: the secrets file is git-ignored and only an example with placeholders is tracked; no tracked file holds a "
    "password-like value other than the tests' made-up ones",
)
def test_no_credentials_are_tracked():
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True)

    assert git("check-ignore", "-q", ".streamlit/secrets.toml").returncode == 0
    assert git("check-ignore", "-q", ".data/docker-postgres.env").returncode == 0
    tracked = git("ls-files", "-z").stdout.split("\0")
    assert EXAMPLE_FILE in tracked and ".streamlit/secrets.toml" not in tracked
    example = (PROJECT_ROOT / EXAMPLE_FILE).read_text()
    assert "DATABASE_URL" in example and SECRET_NAME in example
    assert all(line.startswith("#") for line in example.splitlines() if line.strip()), "the example sets nothing"
    found = []
    for name in filter(None, set(tracked) - {EXAMPLE_FILE}):
        path = PROJECT_ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_text(errors="ignore")
        for match in CREDENTIAL.finditer(text):
            value = match["url"] if match["url"] is not None else match["assigned"]
            if not PLACEHOLDERS.match(value) and value not in TEST_VALUES:
                found.append(f"{name}: {match.group(0)}")
    assert found == []


@pytest.mark.reliability(
    "Security", "the database password in what the CLI and the app show",
    "never printed: `db url`, `db start` and every run line show the URL as `user:***@`; error lines and the app's "
    "pages name host and database only (`--show-password` prints it on request)",
)
def test_the_database_password_is_never_printed(database_url, monkeypatch):
    password = f"pw-{uuid.uuid4().hex}"
    url = make_url(database_url).set(password=password).render_as_string(hide_password=False)
    unreachable = make_url(url).set(host="127.0.0.1", port=9, query={}).render_as_string(hide_password=False)

    def elt(*args: str, on: str = url) -> subprocess.CompletedProcess:
        return run_elt(*args, database_url=on, timeout=120)

    shown = elt("db", "url")
    assert shown.stdout.startswith("postgresql://postgres:***@/")
    started = elt("db", "start")
    run = elt("run", "--input", "/nowhere/orders.csv")
    down = elt("run", "--input", "/nowhere/orders.csv", on=unreachable)
    assert "postgres:***@" in started.stdout and "postgres:***@" in run.stdout
    assert run.stderr.strip() == "error: input file not found: /nowhere/orders.csv"
    assert down.stderr.startswith("error: cannot reach PostgreSQL at 127.0.0.1:9/")
    printed = "".join(result.stdout + result.stderr for result in (shown, started, run, down))
    assert password not in printed
    assert password in elt("db", "url", "--show-password").stdout

    pages = [_app(unreachable, monkeypatch, page=page) for page in (None, "pages/data_pipeline.py")]
    assert all("127.0.0.1:9" in " ".join(error.value for error in at.error) for at in pages)
    assert not [at for at in pages if password in _page_text(at)]


# --- Markup --------------------------------------------------------------------------------------------------------

def _markup_left(source: str) -> list[str]:
    """Markdown and HTML characters in `source` that are not escaped (each would start markup)."""
    return re.findall(r"(?<!\\)[*_\[\]<>`]", source)


@pytest.mark.reliability(
    "Security", "names containing HTML or Markdown (`<b>Bold</b>`, `**Stars**`, links) in the data",
    "shown as written: as table cells in previews, and escaped wherever the app quotes them in Markdown (the result "
    "line of a rerun)",
)
def test_markup_from_the_data_is_shown_as_text(published, monkeypatch):
    at = _app(published, monkeypatch, page="pages/february.py", query={"opted_in": "false"})
    names = set(at.dataframe[0].value.first_name) | set(at.dataframe[0].value.last_name)
    assert {"<b>Bold</b>", "**Stars**"} <= names  # table cells: the grid shows text
    markdown = [element.value for kind in ("markdown", "caption", "info", "success", "warning", "error")
                for element in getattr(at, kind)]
    assert not [text for text in markdown if "Bold" in text or "Stars" in text]

    failed = ("The run failed: header does not match the orders contract: unexpected '**Stars**', "
              "'[click](https://evil.example)', '<b>Bold</b>'. The previous data is still served.")
    monkeypatch.setenv("DATABASE_URL", published)
    sidebar = AppTest.from_file(SIDEBAR_ONLY, default_timeout=APP_TIMEOUT)
    sidebar.session_state["elt_outcome"] = ("error", failed)
    sidebar.run()
    shown = sidebar.sidebar.error[0].value
    assert re.sub(r"\\(.)", r"\1", shown) == failed
    assert _markup_left(shown) == [], shown


@pytest.mark.reliability(
    "Security", "an export whose file name holds Markdown (`[click](evil.example) **Stars** <b>.csv`)",
    "shown as written where the app names the file: the overview's freshness line and the sidebar's line on the file "
    "a rerun reads",
)
def test_a_file_name_with_markup_is_shown_as_text(settings, spark, database_url, monkeypatch, tmp_path):
    name = "[click](evil.example) **Stars** <b>.csv"
    export = tmp_path / name
    export.write_bytes(Path(APP_INPUT).read_bytes())
    pipeline.run(replace(settings, data_dir=tmp_path / "data"), str(export), spark=spark, report=lambda line: None)
    at = _app(database_url, monkeypatch, ELT_INPUT=str(export))
    quoted = at.info[0].value.split("Data from **", 1)[1].split("**, published", 1)[0]
    assert _markup_left(quoted) == [] and re.sub(r"\\(.)", r"\1", quoted) == name
    at = _app(database_url, monkeypatch, script=SIDEBAR_ONLY, fresh=False, ELT_INPUT=str(export))
    (line,) = [caption.value for caption in at.sidebar.caption if caption.value.startswith("A rerun reads")]
    quoted = line.split("A rerun reads **", 1)[1].split("** (", 1)[0]
    assert _markup_left(quoted) == [] and re.sub(r"\\(.)", r"\1", quoted) == name


@pytest.mark.reliability(
    "Security", "a search for a name containing Markdown (the search text is echoed in the page's caption)",
    "the caption shows the search text as written, not as markup",
)
def test_search_text_is_echoed_as_text(published, monkeypatch):
    at = _app(published, monkeypatch, page="pages/february.py", query={"q": "**Stars**"})
    assert list(at.dataframe[0].value.customer_id) == ["K2"]
    echoed = [caption.value for caption in at.caption if "Stars" in caption.value]
    assert echoed and not [text for text in echoed if _markup_left(text)], (
        f"the search text is rendered as Markdown in {echoed}: dashboard/audience_page.py shows "
        "AudienceFilter.describe() (dashboard/audience.py) with st.caption, which quotes the search unescaped"
    )


# --- Binding -------------------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening_on(env_extra: dict[str, str]) -> set[str]:
    """The addresses `streamlit run streamlit_app.py` (as configured in this repository) listens on."""
    port = _free_port()
    env = {**os.environ, **env_extra}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        def addresses() -> set[str]:
            connections = psutil.Process(server.pid).net_connections(kind="inet")
            return {c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN and c.laddr.port == port}

        return wait_for(addresses, timeout=60, interval=0.2, what="the app listening")
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.reliability(
    "Security", "where the app listens",
    "on 127.0.0.1 only (.streamlit/config.toml, `make app`), unless configured otherwise (e.g. "
    "`STREAMLIT_SERVER_ADDRESS=0.0.0.0`, then Rerun ELT needs the secret)",
)
def test_the_app_binds_to_localhost_unless_configured_otherwise():
    assert _listening_on({}) == {"127.0.0.1"}
    assert _listening_on({"STREAMLIT_SERVER_ADDRESS": "0.0.0.0"}) == {"0.0.0.0"}
    make = subprocess.run(["make", "-n", "app"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert "--server.address 127.0.0.1" in make.stdout
