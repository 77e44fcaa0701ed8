"""Hostile input, end to end (issue 5's catalog): each case either fails the run with one line naming the problem
while the published marts stay as they were, or quarantines the bad rows in raw.orders_rejected with their reason
and publishes the rest.

Every input file is generated here (tests/hostile_files.py) into a temporary directory. The expected lines,
reasons and counts are written by hand from the contract, never computed by the product's own functions.
"""
from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest

from elt import db, pipeline
from elt.config import Settings
from elt.errors import EltError, InputError, TooManyRejects
from tests.conftest import fresh_database, one_error_line, query, run_elt
from tests.hostile_files import HEADER_LINE, csv_text, good_lines, order_line, write, write_big

MART_TOTALS = "select count(*), coalesce(sum(revenue), 0) from mrt.customers_february"
LAST_RUN = "select status, error_message from meta.elt_runs order by run_id desc limit 1"
QUIET = {"report": lambda line: None}
FILLER_ROWS = 1000
MALFORMED = "malformed record: wrong number of fields or broken quoting (expected 12 fields)"
CONFLICT = "conflicting duplicate order_id"
STATUS_REASON = "status is not completed, cancelled or refunded: '{}'"
PRICE_REASON = "unit_price is not a number with '.' as decimal separator: '{}'"
TIMESTAMP_REASON = "ordered_at is not an ISO 8601 date-time: '{}'"


def hostile(case: str, outcome: str) -> pytest.MarkDecorator:
    """The reliability marker of one case of the catalog."""
    return pytest.mark.reliability("Hostile input", case, outcome)


def utc_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Served:
    """A database with good data published, which failing runs must leave as it is."""

    settings: Settings
    url: str
    totals: list[tuple]


@pytest.fixture(scope="module")
def served(spark, base_settings, admin_url, tmp_path_factory) -> Iterator[Served]:
    baseline = write(tmp_path_factory.mktemp("baseline") / "orders.csv", csv_text(good_lines(20, "BASE")))
    with fresh_database(admin_url) as url:
        settings = replace(base_settings, database_url=url)
        pipeline.run(settings, baseline, spark=spark, **QUIET)
        totals = query(url, MART_TOTALS)
        assert totals[0][0] == 7, "the baseline publishes its 7 February customers"
        yield Served(settings, url, totals)


def assert_failed_and_kept(served: Served, message: str) -> None:
    """The run is logged as failed with `message`, and the published marts did not change."""
    assert query(served.url, LAST_RUN) == [("failed", message)]
    assert query(served.url, MART_TOTALS) == served.totals


def run_fails(served: Served, spark, path: str) -> EltError:
    """Run the pipeline on `path`, expecting an expected failure; return it."""
    with pytest.raises(EltError) as caught:
        pipeline.run(served.settings, path, spark=spark, **QUIET)
    assert "\n" not in str(caught.value)
    return caught.value


# --- File-level problems: the run fails with one line, exit code 2, and the last good data stays served. ---

SEMICOLON_LINE = order_line("S-1", unit_price="12,50").replace(",", ";").replace("12;50", "12,50")
LATIN_1 = csv_text([order_line("L-1"), order_line("L-2", first_name="Jürgen")]).encode("latin-1")
WINDOWS_1252 = csv_text([order_line("W-1"), order_line("W-2"), order_line("W-3", product_category="€-vouchers")]).encode("cp1252")
TRUNCATED = csv_text(good_lines(3, "T")) + order_line("T-3")[:38]
UNBALANCED = csv_text([*good_lines(2, "U"), order_line("U-2", last_name='"de Vries'), *good_lines(50, "V")])

def file_failure(case: str, content: str | bytes, message: str, *, id: str):
    """A file-level case: the file's content and the exact line the run must fail with ({path}: the file)."""
    return pytest.param(content, message, marks=hostile(case, "fails: " + message.removesuffix(": {path}")), id=id)


FILE_FAILURES = [
    file_failure("empty file (0 bytes)", b"", "input file is empty (no header row): {path}", id="empty"),
    file_failure("header only", csv_text([]), "input has a header but no data rows: {path}", id="header-only"),
    file_failure(
        "header with a missing column",
        csv_text([order_line("M-1").replace(",12.50", "")], header=HEADER_LINE.replace(",unit_price", "")),
        "header does not match the orders contract: missing unit_price: {path}",
        id="missing-column",
    ),
    file_failure(
        "an extra column",
        csv_text([order_line("X-1") + ",SPRING24"], header=HEADER_LINE + ",coupon_code"),
        "header does not match the orders contract: unexpected 'coupon_code': {path}",
        id="extra-column",
    ),
    file_failure(
        "a renamed column",
        csv_text([order_line("R-1")], header=HEADER_LINE.replace(",email,", ",e_mail,")),
        "header does not match the orders contract: missing email; unexpected 'e_mail': {path}",
        id="renamed-column",
    ),
    file_failure(
        "the same column twice",
        csv_text([order_line("D-1") + ",ann@example.nl"], header=HEADER_LINE + ",email"),
        "header does not match the orders contract: duplicated email: {path}",
        id="column-twice",
    ),
    file_failure(
        "semicolon-separated export (decimal commas)",
        csv_text([SEMICOLON_LINE], header=HEADER_LINE.replace(",", ";")),
        "input is semicolon-separated, the orders contract needs commas: {path}",
        id="semicolon",
    ),
    file_failure(
        "tab-separated",
        csv_text([order_line("TAB-1").replace(",", "\t")], header=HEADER_LINE.replace(",", "\t")),
        "input is tab-separated, the orders contract needs commas: {path}",
        id="tab",
    ),
    file_failure(
        "Latin-1 bytes (ü in a name)",
        LATIN_1,
        "input is not UTF-8: byte 0xFC on line 3 (a Latin-1 or Windows-1252 export? save it as UTF-8): {path}",
        id="latin-1",
    ),
    file_failure(
        "Windows-1252 bytes (€ in a category)",
        WINDOWS_1252,
        "input is not UTF-8: byte 0x80 on line 4 (a Latin-1 or Windows-1252 export? save it as UTF-8): {path}",
        id="windows-1252",
    ),
    file_failure(
        "UTF-16 with BOM",
        csv_text([order_line("U16-1")]).encode("utf-16"),
        "input is UTF-16 text, not UTF-8 (save it as UTF-8): {path}",
        id="utf-16",
    ),
    file_failure(
        "binary garbage",
        random.Random(5).randbytes(4096),
        "input is not a text file (it holds NUL bytes: binary, or UTF-16 without a BOM?): {path}",
        id="binary",
    ),
    file_failure(
        "a truncated last line",
        TRUNCATED,
        "input looks truncated: its last line has 4 of 12 fields and no line break: {path}",
        id="truncated",
    ),
    file_failure(
        "an unbalanced quote that swallows the rest of the file",
        UNBALANCED,
        "input has an unbalanced quote: the quoted field opened on line 4 never closes and would swallow the rest "
        "of the file: {path}",
        id="unbalanced-quote",
    ),
]


@pytest.mark.parametrize(("content", "expected"), FILE_FAILURES)
def test_file_level_problem_fails_with_one_line_and_keeps_the_published_data(
    served: Served, spark, tmp_path: Path, content: str | bytes, expected: str
) -> None:
    path = write(tmp_path / "orders.csv", content)

    error = run_fails(served, spark, path)

    assert isinstance(error, InputError) and error.exit_code == 2
    assert str(error) == expected.format(path=path)
    assert_failed_and_kept(served, expected.format(path=path))


def _missing_path(directory: Path) -> str:
    return str(directory / "no_such_orders.csv")


def _empty_directory(directory: Path) -> str:
    (directory / "exports").mkdir()
    return str(directory / "exports")


def _directory_with_a_legacy_file(directory: Path) -> str:
    write(directory / "exports" / "a_orders.csv", csv_text(good_lines(3, "A")))
    write(directory / "exports" / "b_orders.csv", csv_text([order_line("B-1", product_category="€-vouchers")]).encode("cp1252"))
    return str(directory / "exports")


def _directory_of_hidden_files(directory: Path) -> str:
    write(directory / "exports" / "_SUCCESS", "")
    write(directory / "exports" / ".orders.csv.crc", b"crc\x00")
    return str(directory / "exports")


def _directory_with_a_subdirectory(directory: Path) -> str:
    write(directory / "exports" / "orders_2025.csv", csv_text(good_lines(3, "A")))
    write(directory / "exports" / "2024" / "orders_2024.csv", csv_text(good_lines(3, "B")))
    return str(directory / "exports")


def _named_pipe(directory: Path) -> str:
    os.mkfifo(directory / "orders.csv")
    return str(directory / "orders.csv")


PATH_FAILURES = [
    pytest.param(
        _missing_path, "error: input file not found: {path}",
        marks=hostile("a path that does not exist", "fails: input file not found: <path>"), id="missing",
    ),
    pytest.param(
        _empty_directory, "error: input directory has no files: {path}",
        marks=hostile("a directory with no files", "fails: input directory has no files: <path>"), id="empty-directory",
    ),
    pytest.param(
        _directory_of_hidden_files,
        "error: input directory has no files a run reads (it skips names that start with . or _): {path}",
        marks=hostile(
            "a directory holding only hidden files (`_SUCCESS`, `.crc`)",
            "fails: input directory has no files a run reads (it skips names that start with . or _): <path>",
        ),
        id="directory-of-hidden-files",
    ),
    pytest.param(
        _directory_with_a_subdirectory,
        "error: input directory has a subdirectory, whose files a run would not read: {path}/2024",
        marks=hostile(
            "a directory of exports with a subdirectory of more exports",
            "fails: input directory has a subdirectory, whose files a run would not read: <directory>/2024",
        ),
        id="directory-with-subdirectory",
    ),
    pytest.param(
        _directory_with_a_legacy_file,
        "error: input is not UTF-8: byte 0x80 on line 2 (a Latin-1 or Windows-1252 export? save it as UTF-8): {path}/b_orders.csv",
        marks=hostile(
            "a directory of exports, one of them Windows-1252",
            "fails: input is not UTF-8: byte 0x80 on line 2 (…): <directory>/b_orders.csv",
        ),
        id="directory-with-legacy-file",
    ),
    pytest.param(
        _named_pipe, "error: input is not a regular file or directory: {path}",
        marks=hostile("a named pipe instead of a file", "fails: input is not a regular file or directory: <path>"),
        id="named-pipe",
    ),
]


@pytest.mark.parametrize(("make_path", "expected"), PATH_FAILURES)
def test_unusable_path_fails_on_the_command_line_with_one_line(served: Served, tmp_path: Path, make_path, expected: str) -> None:
    path = make_path(tmp_path)

    result = run_elt("run", "--input", path, database_url=served.url)

    assert result.returncode == 2
    assert one_error_line(result) == expected.format(path=path)
    assert_failed_and_kept(served, expected.format(path=path).removeprefix("error: "))


@hostile("a file that changes while it is being read", "fails: input file changed while it was being read: <path>")
def test_file_changing_while_it_is_read_fails(served: Served, spark, tmp_path: Path) -> None:
    path = write(tmp_path / "orders.csv", csv_text(good_lines(30, "CH")))

    def append_once_extract_starts(line: str) -> None:
        if line.startswith("  spark "):  # the next stage reads the file
            with open(path, "a", encoding="utf-8") as out:
                out.write(order_line("CH-late") + "\n")

    with pytest.raises(InputError) as caught:
        pipeline.run(served.settings, path, spark=spark, report=append_once_extract_starts)

    expected = f"input file changed while it was being read: {path}"
    assert str(caught.value) == expected
    assert_failed_and_kept(served, expected)


# --- Row-level problems: the row is quarantined with a reason that quotes the bad value; the rest is published. ---

FUTURE = utc_text(datetime.now(timezone.utc) + timedelta(days=30))
AN_HOUR_AHEAD = utc_text(datetime.now(timezone.utc) + timedelta(hours=1))
HUGE = "x" * 1_000_000


@dataclass(frozen=True)
class Quarantine:
    case: str
    lines: tuple[str, ...]
    reason: str
    outcome: str


def quarantined(case: str, reason: str, *lines: str, outcome: str | None = None) -> Quarantine:
    return Quarantine(case, lines, reason, outcome or f"quarantined: {reason}")


QUARANTINES = [
    quarantined("a 1 MB field", "product_category is longer than 255 characters: '" + "x" * 40 + "'",
                order_line("Q-huge", product_category=HUGE),
                outcome="quarantined: product_category is longer than 255 characters: 'xxxx…' (first 40 characters)"),
    quarantined("a row with too many fields", MALFORMED, order_line("Q-long") + ",surplus"),
    quarantined("a row with too few fields", MALFORMED, "Q-short,2024-02-14T19:22:05+01:00,C-1"),
    quarantined("unit_price 1,50 unquoted (splits the row)", MALFORMED, order_line("Q-split", unit_price="1,50")),
    quarantined("quantity 1e3", "quantity is not a whole number: '1e3'", order_line("Q-1e3", quantity="1e3")),
    quarantined("quantity NaN", "quantity is not a whole number: 'NaN'", order_line("Q-nan", quantity="NaN")),
    quarantined("quantity -1", "quantity must be at least 1: '-1'", order_line("Q-neg", quantity="-1")),
    quarantined("quantity 99999999999", "quantity is too large: '99999999999'", order_line("Q-big", quantity="99999999999")),
    quarantined("unit_price Infinity", PRICE_REASON.format("Infinity"), order_line("P-inf", unit_price="Infinity")),
    quarantined("unit_price \"1,50\" (quoted)", PRICE_REASON.format("1,50"), order_line("P-comma", unit_price='"1,50"')),
    quarantined("unit_price €12.50", PRICE_REASON.format("€12.50"), order_line("P-euro", unit_price="€12.50")),
    quarantined("timestamp without time", TIMESTAMP_REASON.format("2024-02-14"), order_line("T-date", ordered_at="2024-02-14")),
    quarantined("timestamp with a bad offset", TIMESTAMP_REASON.format("2024-02-14T19:22:05+25:00"),
                order_line("T-offset", ordered_at="2024-02-14T19:22:05+25:00")),
    quarantined("timestamp in year 0001", "ordered_at is before 2000-01-01: '0001-02-14T19:22:05Z'",
                order_line("T-0001", ordered_at="0001-02-14T19:22:05Z")),
    quarantined("timestamp in year 9999", "ordered_at is in the future: '9999-02-14T19:22:05Z'",
                order_line("T-9999", ordered_at="9999-02-14T19:22:05Z")),
    quarantined("timestamp a month in the future", f"ordered_at is in the future: '{FUTURE}'",
                order_line("T-future", ordered_at=FUTURE),
                outcome="quarantined: ordered_at is in the future (more than 1 day after the run's start)"),
    quarantined("order_id with only whitespace", "order_id is missing", order_line("   ")),
    quarantined("status spelled canceled (US)", STATUS_REASON.format("canceled"), order_line("ST-us", status="canceled")),
    quarantined("status spelled complete", STATUS_REASON.format("complete"), order_line("ST-short", status="complete")),
    quarantined("status with a full stop", STATUS_REASON.format("Completed."), order_line("ST-dot", status="Completed.")),
    quarantined("duplicates whose email differs only in case", CONFLICT,
                order_line("DUP-email"), order_line("DUP-email", email="Ann@Example.NL"),
                outcome="quarantined: conflicting duplicate order_id (both copies; raw keeps emails as written)"),
    quarantined("duplicates whose name differs only in spaces", CONFLICT,
                order_line("DUP-name"), order_line("DUP-name", first_name="Ann "),
                outcome="quarantined: conflicting duplicate order_id (both copies; raw keeps names as written)"),
]


@dataclass(frozen=True)
class Accept:
    case: str
    lines: tuple[str, ...]
    orders: dict[str, dict]  # order_id -> the fields raw.orders must hold for it
    outcome: str


ACCEPTS = [
    Accept("a quoted field with an embedded newline", (order_line("A-newline", product_category='"garden\ntools"'),),
           {"A-newline": {"product_category": "garden\ntools"}}, "accepted: one field holding the line break"),
    Accept("status COMPLETED", (order_line("A-upper", status="COMPLETED"),), {"A-upper": {"status": "completed"}},
           "accepted: case is ignored, stored as 'completed'"),
    Accept("status ' Completed ' with spaces", (order_line("A-spaces", status=" Completed "),),
           {"A-spaces": {"status": "completed"}}, "accepted: surrounding spaces are ignored, stored as 'completed'"),
    Accept("status rEfUnDeD", (order_line("A-mixed", status="rEfUnDeD"),), {"A-mixed": {"status": "refunded"}},
           "accepted: stored as 'refunded'"),
    Accept("duplicates whose order_id differs only in surrounding spaces",
           (order_line("A-dup"), order_line(" A-dup ")), {"A-dup": {"quantity": 2}},
           "accepted: one order 'A-dup' kept, the other copy counted as an exact duplicate"),
    Accept("duplicates whose status differs only in case",
           (order_line("A-dup-status"), order_line("A-dup-status", status="COMPLETED")),
           {"A-dup-status": {"status": "completed"}}, "accepted: one order kept, the other copy counted as an exact duplicate"),
    Accept("order_ids that differ only in case", (order_line("A-case"), order_line("a-case", quantity="3")),
           {"A-case": {"quantity": 2}, "a-case": {"quantity": 3}}, "accepted: two orders (order_id is case-sensitive)"),
    Accept("timestamp an hour in the future", (order_line("A-soon", ordered_at=AN_HOUR_AHEAD),),
           {"A-soon": {"unit_price": Decimal("12.50")}}, "accepted: clock skew of up to a day is tolerated"),
]
# Hand-counted from the lists above: 24 rejected rows (two conflicts of 2), 2 exact duplicates dropped, and
# every accepted case is one order except the case-only order_ids (2).
REJECTED_ROWS = 24
DUPLICATE_ROWS = 2
ACCEPTED_ORDERS = 9


@dataclass(frozen=True)
class Outcome:
    """What one run of the mixed file left in the raw layer and the run log."""

    rejected: dict[str, tuple[str | None, str]]
    orders: dict[str, dict]
    order_id_counts: Counter
    run: tuple


@pytest.fixture(scope="module")
def mixed_run(spark, base_settings, admin_url, tmp_path_factory) -> Iterator[Outcome]:
    """One run over 1,000 good orders with every quarantined and accepted case mixed in."""
    hostile_lines = [line for case in [*QUARANTINES, *ACCEPTS] for line in case.lines]
    lines = good_lines(FILLER_ROWS, "G")
    for position, line in enumerate(hostile_lines):
        lines.insert(position * 37, line)
    path = write(tmp_path_factory.mktemp("mixed") / "orders.csv", csv_text(lines))
    with fresh_database(admin_url) as url:
        pipeline.run(replace(base_settings, database_url=url), path, spark=spark, **QUIET)
        rejected = {raw: (order_id, reason) for order_id, raw, reason in
                    query(url, "select order_id, raw_record, reject_reason from raw.orders_rejected")}
        columns = ("order_id", "product_category", "quantity", "unit_price", "status")
        orders = [dict(zip(columns, row)) for row in query(url, f"select {', '.join(columns)} from raw.orders")]
        run = query(url, "select status, rows_read, rows_rejected, rows_duplicate from meta.elt_runs")[0]
        yield Outcome(rejected, {o["order_id"]: o for o in orders}, Counter(o["order_id"] for o in orders), run)


@pytest.mark.parametrize(
    "case", [pytest.param(case, marks=hostile(case.case, case.outcome), id=case.case) for case in QUARANTINES]
)
def test_bad_row_is_quarantined_with_its_reason(mixed_run: Outcome, case: Quarantine) -> None:
    for line in case.lines:
        assert line in mixed_run.rejected, f"not quarantined: {line[:80]!r}"
        assert mixed_run.rejected[line][1] == case.reason
    order_id = mixed_run.rejected[case.lines[0]][0]
    assert order_id not in mixed_run.orders


@pytest.mark.parametrize(
    "case", [pytest.param(case, marks=hostile(case.case, case.outcome), id=case.case) for case in ACCEPTS]
)
def test_odd_but_valid_row_is_accepted(mixed_run: Outcome, case: Accept) -> None:
    for line in case.lines:
        assert line not in mixed_run.rejected
    for order_id, expected in case.orders.items():
        assert mixed_run.order_id_counts[order_id] == 1, order_id
        assert {name: mixed_run.orders[order_id][name] for name in expected} == expected


def test_the_rest_of_the_mixed_file_is_published(mixed_run: Outcome) -> None:
    read = FILLER_ROWS + sum(len(case.lines) for case in [*QUARANTINES, *ACCEPTS])
    assert mixed_run.run == ("succeeded", read, REJECTED_ROWS, DUPLICATE_ROWS)
    assert len(mixed_run.rejected) == REJECTED_ROWS
    assert all(mixed_run.order_id_counts[f"G-{number}"] == 1 for number in range(FILLER_ROWS))
    assert sum(mixed_run.order_id_counts.values()) == FILLER_ROWS + ACCEPTED_ORDERS


# --- A stray quote where every line balances its quotes: such a file is read line by line, split over the cores. ---

@hostile('a stray quote in an unquoted field (first_name A"n), then a quote never closed on its line',
         "quarantined: malformed record, that row only; the rows after it are published as written")
def test_stray_quote_costs_only_its_own_row(settings: Settings, spark, database_url: str, tmp_path: Path) -> None:
    stray = order_line("S-stray", first_name='A"n', last_name='"n')
    after = order_line("S-after", last_name='"de Vries, Jr"')
    path = write(tmp_path / "orders.csv", csv_text([*good_lines(20, "S"), stray, after, *good_lines(20, "T")]))

    pipeline.run(settings, path, spark=spark, **QUIET)

    assert query(database_url, "select order_id, raw_record, reject_reason from raw.orders_rejected") == [
        ("S-stray", stray, MALFORMED)
    ]
    assert query(database_url, "select last_name from raw.orders where order_id = 'S-after'") == [("de Vries, Jr",)]
    assert query(database_url, "select count(*) from raw.orders") == [(41,)]


@hostile('a stray quote in an unquoted field (first_name A"n, then a quote never closed on its line) in a file '
         "that also holds a quoted line break (so it is read multi-line)",
         "quarantined: malformed record, that row only; the rows its quote would swallow are published as written")
def test_stray_quote_in_a_multi_line_file_costs_only_its_own_row(
    settings: Settings, spark, database_url: str, tmp_path: Path
) -> None:
    spanning = order_line("M-newline", product_category='"garden\ntools"')
    stray = order_line("M-stray", first_name='A"n', last_name='"n')
    after = order_line("M-after", last_name='"de Vries, Jr"')
    lines = [*good_lines(20, "M"), spanning, stray, *good_lines(5, "N"), after, *good_lines(20, "T")]
    path = write(tmp_path / "orders.csv", csv_text(lines))

    pipeline.run(settings, path, spark=spark, **QUIET)

    assert query(database_url, "select order_id, raw_record, reject_reason from raw.orders_rejected") == [
        ("M-stray", stray, MALFORMED)
    ]
    assert query(database_url, "select product_category from raw.orders where order_id = 'M-newline'") == [
        ("garden\ntools",)
    ]
    assert query(database_url, "select last_name from raw.orders where order_id = 'M-after'") == [("de Vries, Jr",)]
    assert query(database_url, "select count(*) from raw.orders where order_id like 'N-%'") == [(5,)]
    assert query(database_url, "select count(*) from raw.orders") == [(47,)]
    assert query(database_url, LAST_RUN) == [("succeeded", None)]


# --- The rejected share: at or under the limit (5 %) the run publishes; over it, nothing is published. ---

def _with_bad_quantities(directory: Path, bad: int) -> str:
    lines = good_lines(1000 - bad, "R") + [order_line(f"RB-{number}", quantity="two") for number in range(bad)]
    return write(directory / "orders.csv", csv_text(lines))


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(49, marks=hostile("rejected share just under the threshold (49 of 1,000)",
                                       "quarantined: the 49 rows; the other 951 are published"), id="under"),
        pytest.param(50, marks=hostile("rejected share exactly at the threshold (50 of 1,000 = 5.0 %)",
                                       "quarantined: the 50 rows; the other 950 are published"), id="at"),
    ],
)
def test_rejected_share_up_to_the_threshold_publishes(settings: Settings, spark, database_url: str, tmp_path: Path, bad: int) -> None:
    pipeline.run(settings, _with_bad_quantities(tmp_path, bad), spark=spark, **QUIET)

    assert query(database_url, "select status, rows_read, rows_rejected from meta.elt_runs") == [("succeeded", 1000, bad)]
    assert query(database_url, "select count(*) from raw.orders") == [(1000 - bad,)]
    assert query(database_url, "select count(*) from raw.orders_rejected where reject_reason = %s",
                 ("quantity is not a whole number: 'two'",)) == [(bad,)]


@hostile("rejected share just over the threshold (51 of 1,000)",
         "fails: 51 of 1,000 rows rejected (5.1%), more than the allowed 5.0%: this looks like a broken export, …; "
         "its 51 rejected rows are kept for the Data pipeline page")
def test_rejected_share_just_over_the_threshold_fails(served: Served, spark, tmp_path: Path) -> None:
    error = run_fails(served, spark, _with_bad_quantities(tmp_path, 51))

    expected = (
        "51 of 1,000 rows rejected (5.1%), more than the allowed 5.0%: this looks like a broken export, "
        "nothing was published (most common: 51 × quantity is not a whole number); its 51 rejected rows are kept "
        "for the Data pipeline page (meta.refused_rejects)"
    )
    assert isinstance(error, TooManyRejects) and error.exit_code == 3
    assert str(error) == expected
    assert_failed_and_kept(served, expected)
    # The refused run's rows, for the data team to see what broke: every bad one, with its record as read.
    (refused_run,) = query(served.url, "select max(run_id) from meta.elt_runs")[0]
    kept = query(served.url, "select order_id, reject_reason, raw_record, run_id from meta.refused_rejects")
    assert sorted(row[0] for row in kept) == sorted(f"RB-{number}" for number in range(51))
    assert {(row[1], row[3]) for row in kept} == {("quantity is not a whole number: 'two'", refused_run)}
    assert all(row[2] == order_line(row[0], quantity="two") for row in kept)


def _execute(url: str, statements: str) -> None:
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(statements)
        conn.commit()


@hostile("a refused run whose rejected rows cannot be kept (a view named meta.refused_rejects in the way)",
         "fails with the refusal's own line (51 of 1,000 rows rejected …); the published data stays")
def test_a_refusal_whose_rows_cannot_be_kept_still_fails_with_its_reason(served: Served, spark, tmp_path: Path) -> None:
    # Something else of that name that the run cannot replace (a view: "drop table" refuses it) breaks the keeping.
    _execute(served.url, "drop table if exists meta.refused_rejects; create view meta.refused_rejects as select 1 as run_id")
    try:
        error = run_fails(served, spark, _with_bad_quantities(tmp_path, 51))
    finally:
        _execute(served.url, "drop view meta.refused_rejects")

    expected = (
        "51 of 1,000 rows rejected (5.1%), more than the allowed 5.0%: this looks like a broken export, "
        "nothing was published (most common: 51 × quantity is not a whole number)"
    )
    assert isinstance(error, TooManyRejects) and str(error) == expected
    assert_failed_and_kept(served, expected)


# --- Ten million rows with one bad row in the middle, through the command line. ---

TEN_MILLION = 10_000_000


@hostile("a 10-million-row file with one bad row in the middle",
         "quarantined: the one row (quantity is not a whole number: 'lots'); 9,999,999 orders published")
def test_ten_million_rows_with_one_bad_row(database_url: str, tmp_path: Path) -> None:
    bad_line = order_line("B-bad", quantity="lots")
    path = tmp_path / "orders_10m.csv"
    try:
        write_big(path, TEN_MILLION, TEN_MILLION // 2, bad_line)
        result = run_elt("run", "--input", str(path), database_url=database_url, timeout=3600)
    finally:
        path.unlink(missing_ok=True)

    assert result.returncode == 0, result.stderr
    assert "10,000,000 rows read, 9,999,999 orders loaded, 1 rejected" in result.stdout
    assert query(database_url, "select count(*) from raw.orders") == [(TEN_MILLION - 1,)]
    assert query(database_url, "select order_id, raw_record, reject_reason from raw.orders_rejected") == [
        ("B-bad", bad_line, "quantity is not a whole number: 'lots'")
    ]
