"""Reading the orders CSV with Spark (elt/extract.py): header check, RFC 4180 quoting, BOM, CRLF, malformed rows.

Every input file is written byte for byte in a temporary directory. Expectations are written from the CSV
contract, not from the implementation.
"""
from __future__ import annotations

import random
from urllib.parse import unquote
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from elt.errors import InputError
from elt.extract import read_header, read_orders
from elt.input_file import check_input, inspect_input, scan_input
from elt.validate import rejected, validate
from tests.conftest import CONTRACT_HEADER
from tests.hostile_files import HEADER_LINE, good_lines, order_line

HEADER = list(CONTRACT_HEADER)
BOM = b"\xef\xbb\xbf"
GOOD_LINE = "E-1,2024-02-14T19:22:05+01:00,C-1,ann@example.nl,Ann,de Vries,NL,books,2,12.50,completed,true"
SECOND_LINE = "E-2,2024-03-01T08:00:00Z,C-2,,Bob,,be,,1,7,Cancelled,FALSE"
SHORT_LINE = "E-3,2024-02-14T19:22:05Z,C-3"
LONG_LINE = "E-4,2024-02-14T19:22:05Z,C-4,d@example.nl,Dee,Jansen,DE,toys,1,3.00,completed,false,surplus"
TRAILING_COMMA_LINE = "E-6,2024-02-14T19:22:05Z,C-6,f@example.nl,Fay,Smit,NL,books,1,3.00,completed,true,"
LAST_LINE = "E-5,2024-02-15T10:00:00Z,C-5,eve@example.nl,Eve,Bakker,NL,garden,4,0.99,refunded,true"


def _write(path: Path, lines: list[str], *, newline: str = "\n", bom: bool = False) -> str:
    """Write a CSV file byte for byte (every line terminated) and return its path as text."""
    path.write_bytes((BOM if bom else b"") + "".join(line + newline for line in lines).encode("utf-8"))
    return str(path)


def _read(spark: SparkSession, path: str) -> dict[str, dict[str, Any]]:
    """The text rows of a file, by order_id, read as the pipeline reads it (split over the cores when the file
    has no quote character)."""
    df = read_orders(spark, path, read_header(spark, path), multi_line=inspect_input(path))
    return {result["order_id"]: result.asDict() for result in df.collect()}


def _validated(spark: SparkSession, path: str) -> dict[str, dict[str, Any]]:
    """The validated rows of a file, by order_id (read as `_read` reads it)."""
    df = validate(read_orders(spark, path, read_header(spark, path), multi_line=inspect_input(path)))
    return {result["order_id"]: result.asDict() for result in df.collect()}


@pytest.fixture(scope="module")
def bom_crlf_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = tmp_path_factory.mktemp("bom_crlf")
    return _write(directory / "orders.csv", [",".join(HEADER), GOOD_LINE, SECOND_LINE], newline="\r\n", bom=True)


def test_bom_and_crlf_header_names_are_clean(spark: SparkSession, bom_crlf_file: str) -> None:
    assert read_header(spark, bom_crlf_file) == HEADER


def test_bom_and_crlf_values_are_read_without_bom_or_carriage_return(spark: SparkSession, bom_crlf_file: str) -> None:
    rows = _read(spark, bom_crlf_file)

    assert sorted(rows) == ["E-1", "E-2"]
    assert rows["E-1"]["marketing_opt_in"] == "true"
    assert rows["E-2"]["marketing_opt_in"] == "FALSE"
    assert rows["E-2"]["email"] is None
    assert rows["E-2"]["unit_price"] == "7"
    assert not any("\r" in value for result in rows.values() for value in result.values() if isinstance(value, str))
    assert all(result["malformed_record"] is None for result in rows.values())


def test_bom_and_crlf_rows_pass_validation(spark: SparkSession, bom_crlf_file: str) -> None:
    rows = _validated(spark, bom_crlf_file)

    assert [rows[order_id]["reject_reason"] for order_id in ("E-1", "E-2")] == [None, None]
    assert rows["E-1"]["marketing_opt_in"] is True
    assert rows["E-2"]["marketing_opt_in"] is False
    assert rows["E-2"]["status"] == "cancelled"
    assert rows["E-1"]["source_file"].endswith(f"{Path(bom_crlf_file).parent.name}/orders.csv")


def test_quoted_comma_doubled_quote_and_line_break_survive(spark: SparkSession, tmp_path: Path) -> None:
    quoted = (
        'Q-1,2024-02-14T19:22:05Z,C-1,"ann@example.nl","Jo, ""JJ""","de Vries",NL,'
        '"garden\ntools",2,"12.50",completed,true'
    )
    path = _write(tmp_path / "orders.csv", [",".join(HEADER), quoted, LAST_LINE])

    rows = _validated(spark, path)

    assert sorted(rows) == ["E-5", "Q-1"]
    assert rows["Q-1"]["first_name"] == 'Jo, "JJ"'
    assert rows["Q-1"]["product_category"] == "garden\ntools"
    assert rows["Q-1"]["email"] == "ann@example.nl"
    assert rows["Q-1"]["reject_reason"] is None
    assert rows["E-5"]["product_category"] == "garden"
    assert rows["E-5"]["reject_reason"] is None


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_short_and_long_rows_are_rejected_as_malformed(spark: SparkSession, tmp_path: Path, newline: str) -> None:
    lines = [",".join(HEADER), GOOD_LINE, SHORT_LINE, LONG_LINE, TRAILING_COMMA_LINE, LAST_LINE]
    path = _write(tmp_path / "orders.csv", lines, newline=newline)

    rows = _validated(spark, path)

    assert sorted(rows) == ["E-1", "E-3", "E-4", "E-5", "E-6"]
    assert all(rows[order_id]["reject_reason"].startswith("malformed record") for order_id in ("E-3", "E-4", "E-6"))
    assert rows["E-4"]["raw_record"] == LONG_LINE
    assert rows["E-6"]["raw_record"] == TRAILING_COMMA_LINE
    assert rows["E-3"]["raw_record"] == SHORT_LINE
    assert rows["E-1"]["reject_reason"] is None
    assert rows["E-5"]["reject_reason"] is None


def test_malformed_rows_are_flagged_by_the_reader(spark: SparkSession, tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.csv", [",".join(HEADER), SHORT_LINE, LONG_LINE, LAST_LINE])

    rows = _read(spark, path)

    assert {order_id: result["malformed_record"] for order_id, result in rows.items()} == {
        "E-3": SHORT_LINE,
        "E-4": LONG_LINE,
        "E-5": None,
    }


def test_shuffled_header_is_mapped_by_name(spark: SparkSession, tmp_path: Path) -> None:
    shuffled = ["status", "quantity", "order_id", "marketing_opt_in", "email", "unit_price", "country",
                "ordered_at", "last_name", "product_category", "customer_id", "first_name"]
    line = "refunded,3,S-1,false,sam@example.nl,4.20,FR,2024-05-01T12:00:00+02:00,Martin,shoes,C-9,Sam"
    path = _write(tmp_path / "orders.csv", [",".join(shuffled), line])

    df = read_orders(spark, path, read_header(spark, path))
    (text,) = df.collect()

    assert df.columns == [*shuffled, "malformed_record", "source_file"]
    assert [text[name] for name in HEADER] == [
        "S-1", "2024-05-01T12:00:00+02:00", "C-9", "sam@example.nl", "Sam", "Martin",
        "FR", "shoes", "3", "4.20", "refunded", "false",
    ]
    assert text["malformed_record"] is None


def test_rejected_row_of_a_shuffled_header_keeps_its_record_in_file_order(spark: SparkSession, tmp_path: Path) -> None:
    shuffled = ["status", "quantity", "order_id", "marketing_opt_in", "email", "unit_price", "country",
                "ordered_at", "last_name", "product_category", "customer_id", "first_name"]
    line = 'shipped,3,S-2,false,sam@example.nl,4.20,FR,2024-05-01T12:00:00+02:00,"Martin, Jr",shoes,C-9, Sam'
    path = _write(tmp_path / "orders.csv", [",".join(shuffled), line])

    (row,) = rejected(validate(read_orders(spark, path, read_header(spark, path)))).collect()

    assert row["raw_record"] == line
    assert row["reject_reason"] == "status is not completed, cancelled or refunded: 'shipped'"


def test_header_missing_a_column_fails_with_input_error(spark: SparkSession, tmp_path: Path) -> None:
    header = [name for name in HEADER if name != "unit_price"]
    line = "M-1,2024-02-14T19:22:05Z,C-1,ann@example.nl,Ann,de Vries,NL,books,2,completed,true"
    path = _write(tmp_path / "orders.csv", [",".join(header), line])

    with pytest.raises(InputError, match="unit_price"):
        read_header(spark, path)


def test_header_name_with_spaces_is_read_or_refused_with_input_error(spark: SparkSession, tmp_path: Path) -> None:
    header = [" email " if name == "email" else name for name in HEADER]
    path = _write(tmp_path / "orders.csv", [",".join(header), GOOD_LINE])

    try:
        names = read_header(spark, path)
    except InputError:
        return
    (text,) = read_orders(spark, path, names).collect()

    assert text["email"] == "ann@example.nl"


@pytest.mark.reliability(
    "Hostile input", "an export whose file name holds `[ ] { } * ? \\` or a colon (`orders [final].csv`, `orders*.csv`, "
    "`orders 10:00.csv`)",
    "read as the file it names, whole, and nothing else (Spark would take the name as a pattern: `Path does not "
    "exist`, or `orders*.csv` loading `orders1.csv` beside it too; Hadoop's checksum lookup refused a colon)",
)
@pytest.mark.parametrize(
    "name", ["orders [final].csv", "orders {2024}.csv", "orders*.csv", "orders?.csv", "back\\slash.csv", "orders 10:00.csv"]
)
@pytest.mark.parametrize("quoted_break", [False, True], ids=["line by line", "multi-line"])
def test_a_file_is_read_as_named_even_when_its_name_holds_glob_characters_or_a_colon(
    spark: SparkSession, tmp_path: Path, name: str, quoted_break: bool
) -> None:
    first = GOOD_LINE.replace("books", '"two\nlines"') if quoted_break else GOOD_LINE
    path = _write(tmp_path / name, [",".join(HEADER), first, LAST_LINE])
    _write(tmp_path / "orders1.csv", [",".join(HEADER), SECOND_LINE])  # what the name would match as a pattern
    rows = _read(spark, path)
    assert sorted(rows) == ["E-1", "E-5"]
    assert {unquote(row["source_file"].rsplit("/", 1)[-1]) for row in rows.values()} == {name}


def test_existing_file_passes_the_input_check(tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.csv", [",".join(HEADER), GOOD_LINE])

    inspect_input(path)


def test_missing_input_fails_with_input_error_naming_it(tmp_path: Path) -> None:
    path = str(tmp_path / "no_such_orders.csv")

    with pytest.raises(InputError) as caught:
        inspect_input(path)

    assert path in str(caught.value)


def test_empty_file_fails_with_input_error(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"")

    with pytest.raises(InputError) as caught:
        inspect_input(str(path))

    assert str(path) in str(caught.value)


def test_empty_directory_fails_with_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        inspect_input(str(tmp_path))

    assert str(tmp_path) in str(caught.value)


def test_file_with_only_a_bom_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"\xef\xbb\xbf\r\n")

    with pytest.raises(InputError, match="empty"):
        inspect_input(str(path))


def test_rejected_row_keeps_the_spaces_it_was_written_with(spark: SparkSession, tmp_path: Path) -> None:
    line = "W-1,2024-02-14T19:22:05Z,C-1,ann@example.nl, Ann,de Vries,NL,books, 0 ,12.50,completed,true"
    path = _write(tmp_path / "orders.csv", [",".join(HEADER), line])

    (row,) = rejected(validate(read_orders(spark, path, read_header(spark, path)))).collect()

    assert row["raw_record"] == line


def test_quick_check_reads_only_the_start_and_the_scan_finds_a_bad_byte_deep_in_the_file(tmp_path: Path) -> None:
    # 3,000 good lines (about 270 KB, far past the first 64 KiB), then a Latin-1 "é" on line 3,002.
    lines = [",".join(HEADER), *[GOOD_LINE] * 3000]
    path = tmp_path / "orders.csv"
    body = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(body + "E-9,2024-02-14T19:22:05Z,C-9,ren\xe9@example.fr,Ren\xe9,Roy,FR,books,1,1.00,completed,true\n".encode("latin-1"))

    check_input(str(path))  # the start of the file is fine, and that is all it reads
    with pytest.raises(InputError, match=r"not UTF-8: byte 0xE9 on line 3002 "):
        scan_input(str(path))


def _quoted(line: str) -> str:
    """A CSV line with every field in quotes (as many exports write them)."""
    return ",".join(f'"{field}"' for field in line.split(","))


# Whether each file may hold a record that spans lines, by RFC 4180: only a line break inside a quoted field does.
SPANNING = {
    "no quotes": ([GOOD_LINE, SECOND_LINE], "\n", False),
    "every field quoted": ([_quoted(GOOD_LINE), _quoted(SECOND_LINE)], "\n", False),
    "a comma and doubled quotes in quotes": ([GOOD_LINE.replace("Ann", '"Jo, ""JJ"""')], "\n", False),
    "an empty quoted field": ([GOOD_LINE.replace("ann@example.nl", '""')], "\r\n", False),
    "a line feed in quotes": ([GOOD_LINE, GOOD_LINE.replace("books", '"garden\ntools"')], "\n", True),
    "a carriage return in quotes": ([GOOD_LINE.replace("books", '"garden\rtools"')], "\n", True),
    "CRLF in quotes, CRLF lines": ([_quoted(GOOD_LINE), GOOD_LINE.replace("books", '"garden\r\ntools"')], "\r\n", True),
    "a quoted line break as the last field": ([GOOD_LINE.replace("true", '"true\n"')], "\n", True),
    # A lone CR is no line end by the contract (LF or CRLF): it is part of the field, also without quotes.
    "a carriage return in an unquoted field": ([GOOD_LINE.replace("Ann", "\rAnn"), SECOND_LINE], "\n", True),
    "every field quoted, CRLF lines": ([_quoted(GOOD_LINE), _quoted(SECOND_LINE), LAST_LINE], "\r\n", False),
}


@pytest.mark.parametrize("chunk_bytes", [None, 1, 5], ids=["whole", "1-byte chunks", "5-byte chunks"])
@pytest.mark.parametrize("case", SPANNING, ids=list(SPANNING))
def test_a_record_may_span_lines_only_when_a_line_break_is_inside_quotes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, chunk_bytes: int | None
) -> None:
    lines, newline, spans = SPANNING[case]
    if chunk_bytes:  # lines, CRLFs and quote pairs cut across the scan's chunks
        monkeypatch.setattr("elt.input_file.SCAN_CHUNK_BYTES", chunk_bytes)
    path = _write(tmp_path / "orders.csv", [",".join(HEADER), *lines], newline=newline)

    assert inspect_input(path) is spans


@pytest.mark.parametrize("quote", [False, True], ids=["no quote in the file", "a quoted field"])
def test_a_carriage_return_inside_an_unquoted_field_is_part_of_it(
    spark: SparkSession, tmp_path: Path, quote: bool
) -> None:
    lines = [GOOD_LINE.replace("Ann", "\rAnn"), LAST_LINE.replace("Bakker", '"Bakker, Jr"' if quote else "Bakker")]
    path = _write(tmp_path / "orders.csv", [",".join(HEADER), *lines])

    rows = _read(spark, path)

    assert sorted(rows) == ["E-1", "E-5"]
    assert rows["E-1"]["first_name"] == "\rAnn"
    assert [rows[order_id]["malformed_record"] for order_id in ("E-1", "E-5")] == [None, None]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("spanning", [False, True], ids=["read line by line", "read multi-line"])
def test_a_line_of_only_whitespace_is_no_record(
    spark: SparkSession, tmp_path: Path, spanning: bool, newline: str
) -> None:
    category = '"garden\ntools"' if spanning else '"garden, tools"'
    lines = [GOOD_LINE, "   ", "", "\t", LAST_LINE.replace("garden", category), " \t "]
    path = _write(tmp_path / "orders.csv", [",".join(HEADER), *lines], newline=newline)

    assert inspect_input(path) is spanning
    rows = _read(spark, path)

    assert sorted(rows) == ["E-1", "E-5"]
    assert [rows[order_id]["malformed_record"] for order_id in ("E-1", "E-5")] == [None, None]


def test_a_directory_may_have_records_spanning_lines_when_one_of_its_files_may(tmp_path: Path) -> None:
    for name, bob in [("balanced", '"Bob, Jr"'), ("spanning", '"Bob\nJr"')]:
        directory = tmp_path / name
        directory.mkdir()
        _write(directory / "a.csv", [",".join(HEADER), GOOD_LINE])
        _write(directory / "b.csv", [",".join(HEADER), SECOND_LINE.replace("Bob", bob)])

    assert inspect_input(str(tmp_path / "balanced")) is False
    assert inspect_input(str(tmp_path / "spanning")) is True


def test_a_directory_is_read_for_its_own_visible_files_only_so_one_with_a_subdirectory_of_more_is_refused(
    spark: SparkSession, tmp_path: Path
) -> None:
    directory = tmp_path / "exports"
    directory.mkdir()
    _write(directory / "a.csv", [",".join(HEADER), GOOD_LINE])
    (directory / "later").mkdir()  # empty: nothing in it to leave out
    (directory / "_temporary").mkdir()  # hidden, like the files in it: Spark skips them
    _write(directory / "_temporary" / "part-0.csv", [",".join(HEADER), SECOND_LINE])
    _write(directory / ".a.csv.crc", ["crc"])

    assert sorted(_read(spark, str(directory))) == ["E-1"]

    (directory / "2024").mkdir()
    _write(directory / "2024" / "b.csv", [",".join(HEADER), LAST_LINE])
    schema_read = read_orders(spark, str(directory), read_header(spark, str(directory)), multi_line=False)
    assert sorted(row["order_id"] for row in schema_read.collect()) == ["E-1"]  # b.csv's E-5 would be lost
    with pytest.raises(InputError) as caught:
        check_input(str(directory))
    assert str(caught.value) == f"input directory has a subdirectory, whose files a run would not read: {directory}/2024"


def test_a_stray_quote_costs_one_row_when_every_line_balances_its_quotes(spark: SparkSession, tmp_path: Path) -> None:
    # The first name A"n holds a stray quote and the last name opens a quote it never closes on its line: two quotes.
    stray = 'E-2,2024-02-14T19:22:05Z,C-2,bob@example.nl,A"n,"n,NL,books,1,1.50,completed,true'
    doubled_quotes = _quoted(GOOD_LINE).replace('"de Vries"', '"de ""Vries"""')
    comma_in_quotes = GOOD_LINE.replace("E-1", "E-3").replace("de Vries", '"de Vries, Jr"')
    lines = [doubled_quotes, stray, comma_in_quotes, LAST_LINE]
    path = _write(tmp_path / "orders.csv", [",".join(HEADER), *lines])

    rows = _validated(spark, path)

    assert sorted(rows) == ["E-1", "E-2", "E-3", "E-5"]
    assert rows["E-2"]["reject_reason"].startswith("malformed record")
    assert rows["E-2"]["raw_record"] == stray
    assert (rows["E-1"]["last_name"], rows["E-1"]["reject_reason"]) == ('de "Vries"', None)
    assert (rows["E-3"]["last_name"], rows["E-3"]["reject_reason"]) == ("de Vries, Jr", None)
    assert rows["E-5"]["reject_reason"] is None


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_rows_after_a_stray_quote_in_a_multi_line_file_are_read_line_by_line(
    spark: SparkSession, tmp_path: Path, newline: str
) -> None:
    # A quoted line break makes the file one that is read multi-line; there the quote the last name opens runs on
    # through the lines below it (no quote closes it), which the reader must not lose as one record.
    spanning = GOOD_LINE.replace("E-1", "E-7").replace("de Vries", '"de\nVries"')
    stray = 'E-2,2024-02-14T19:22:05Z,C-2,bob@example.nl,A"n,"n,NL,books,1,1.50,completed,true'
    plain = GOOD_LINE.replace("E-1", "E-3")
    lines = [GOOD_LINE, spanning, stray, plain, "", LONG_LINE, LAST_LINE]
    path = _write(tmp_path / "orders.csv", [",".join(HEADER), *lines], newline=newline)

    assert inspect_input(path) is True
    rows = _validated(spark, path)

    assert sorted(rows) == ["E-1", "E-2", "E-3", "E-4", "E-5", "E-7"]
    assert {order_id: rows[order_id]["reject_reason"] for order_id in ("E-1", "E-3", "E-5", "E-7")} == dict.fromkeys(
        ("E-1", "E-3", "E-5", "E-7")
    )
    assert rows["E-7"]["last_name"] == "de\nVries"
    assert (rows["E-3"]["raw_record"], rows["E-5"]["quantity"]) == (plain, 4)
    assert [(rows[order_id]["raw_record"], rows[order_id]["reject_reason"][:16]) for order_id in ("E-2", "E-4")] == [
        (stray, "malformed record"),
        (LONG_LINE, "malformed record"),
    ]


def test_rows_a_stray_opening_quote_swallows_into_one_field_are_read_line_by_line(
    spark: SparkSession, tmp_path: Path
) -> None:
    # "Bob opens a quoted field that the next quote closes, three lines on: Spark may read that as one record of
    # 12 fields (no malformed record) whose first name holds the lines in between.
    spanning = GOOD_LINE.replace("E-1", "E-7").replace("de Vries", '"de\nVries"')
    opening = 'E-2,2024-02-14T19:22:05Z,C-2,bob@example.nl,"Bob,Smit,NL,books,1,1.50,completed,true'
    inner = [GOOD_LINE.replace("E-1", "E-3"), GOOD_LINE.replace("E-1", "E-8")]
    closing = 'E-9,2024-02-14T19:22:05Z,C-9,cy@example.nl,"Cy,Smit,NL,books,1,1.50,completed,true'
    lines = [GOOD_LINE, spanning, opening, *inner, closing, LAST_LINE]
    path = _write(tmp_path / "orders.csv", [",".join(HEADER), *lines])

    assert inspect_input(path) is True
    rows = _validated(spark, path)

    assert sorted(rows) == ["E-1", "E-2", "E-3", "E-5", "E-7", "E-8", "E-9"]
    assert [(rows[order_id]["raw_record"], rows[order_id]["reject_reason"]) for order_id in ("E-3", "E-8")] == [
        (inner[0], None), (inner[1], None),
    ]
    assert (rows["E-7"]["last_name"], rows["E-1"]["reject_reason"], rows["E-5"]["reject_reason"]) == ("de\nVries", None, None)
    # Where the quote opened and closed the field: quarantined (as the line reader would), each its own row.
    for order_id in ("E-2", "E-9"):
        assert rows[order_id]["reject_reason"].startswith("malformed record"), order_id
        assert "\n" not in rows[order_id]["raw_record"], order_id


# Broken and odd fields of one order each (written as they appear in the file), for the random files below.
STRAY_QUOTES = [
    {"first_name": 'A"n', "last_name": '"n'}, {"first_name": '"Ann'}, {"email": 'a"b@x.nl'}, {"last_name": 'de "Vries'},
    {"product_category": '"books', "quantity": '2"'}, {"last_name": '"de Vries, Jr"'}, {"country": 'N"L'},
    {"first_name": '""'}, {"last_name": 'x""y'}, {"product_category": '"a\nb"'}, {"product_category": '"a\r\nb"'},
    {"first_name": '"A\nB, C, D, E, F, G, H, I, J, K, L, M"'},
]


@pytest.mark.parametrize("seed", range(8))
def test_every_good_line_of_a_file_with_stray_quotes_is_kept(spark: SparkSession, tmp_path: Path, seed: int) -> None:
    # Random files: 30 good lines with up to six orders of the forms above among them, maybe an empty line, LF or
    # CRLF. Whatever the reader makes of the odd rows, each good line must come out accepted, exactly as written.
    chance = random.Random(seed)
    good = good_lines(30, f"G{seed}")
    lines = list(good)
    for number in range(chance.randint(1, 6)):
        lines.insert(chance.randrange(len(lines)), order_line(f"S{seed}-{number}", **chance.choice(STRAY_QUOTES)))
    if chance.random() < 0.3:
        lines.insert(chance.randrange(len(lines)), "")
    if sum(line.count('"') for line in lines) % 2:
        lines.append(order_line(f"Q{seed}", last_name='"x'))  # an odd number of quotes fails the whole file
    path = _write(tmp_path / "orders.csv", [HEADER_LINE, *lines], newline=chance.choice(["\n", "\r\n"]))

    rows = _validated(spark, path)

    assert {line.split(",")[0]: (rows.get(line.split(",")[0]) or {}).get("raw_record") for line in good} == {
        line.split(",")[0]: line for line in good
    }
    assert all(rows[line.split(",")[0]]["reject_reason"] is None for line in good)


def test_a_malformed_record_over_lines_none_of_which_is_a_record_stays_one_record(
    spark: SparkSession, tmp_path: Path
) -> None:
    # A quoted line break in a row with a field too many: neither of its lines is a record by itself.
    broken = LONG_LINE.replace("toys", '"garden\ntools"')
    path = _write(tmp_path / "orders.csv", [",".join(HEADER), GOOD_LINE, broken, LAST_LINE])

    rows = _validated(spark, path)

    assert sorted(rows) == ["E-1", "E-4", "E-5"]
    assert rows["E-4"]["raw_record"] == broken
    assert rows["E-4"]["reject_reason"].startswith("malformed record")
    assert (rows["E-1"]["reject_reason"], rows["E-5"]["reject_reason"]) == (None, None)


@pytest.mark.parametrize("quote", [False, True], ids=["unquoted", "quoted"])
@pytest.mark.parametrize("bom", [False, True], ids=["plain", "bom"])
def test_file_split_over_many_tasks_reads_every_row_once(
    spark: SparkSession, tmp_path: Path, bom: bool, quote: bool
) -> None:
    lines = [f"S-{n},2024-02-14T19:22:05Z,C-{n % 7},s{n}@example.nl,Sam,Smit,NL,books,{n % 5 + 1},1.50,completed,true"
             for n in range(3000)]
    lines = [_quoted(line) if quote else line for line in lines]
    lines[1500] = SHORT_LINE.replace("E-3", "S-1500")
    path = _write(tmp_path / "orders.csv", [",".join(HEADER), *lines], newline="\r\n", bom=bom)
    previous = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "16k")  # about 10 splits of this ~300 KB file
    multi_line = inspect_input(path)
    try:
        df = read_orders(spark, path, read_header(spark, path), multi_line=multi_line)
        partitions = df.rdd.getNumPartitions()
        rows = df.collect()
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", previous)

    assert multi_line is False
    assert partitions > 5
    assert sorted(row["order_id"] for row in rows) == sorted(f"S-{n}" for n in range(3000))
    assert [row["malformed_record"] for row in rows if row["malformed_record"]] == ["S-1500,2024-02-14T19:22:05Z,C-3"]
    assert {row["ordered_at"] for row in rows} == {"2024-02-14T19:22:05Z"}
    assert not any("\r" in (row["marketing_opt_in"] or "") for row in rows)
