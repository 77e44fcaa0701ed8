"""Field rules, row rules and duplicate handling of the orders contract (elt/validate.py).

One DataFrame of hand-written text rows is validated once per module; each test looks up the outcome of its
own rows. Expectations are written from the CSV contract, not from the implementation.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from elt.validate import accepted, rejected, validate
from tests.conftest import CONTRACT_HEADER, GOOD_ORDER

FIELDS = CONTRACT_HEADER
SOURCE = "file:/input/orders.csv"
OTHER_SOURCE = "file:/input/orders_resend.csv"
CONFLICT = "conflicting duplicate order_id"
UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GOOD: dict[str, str | None] = dict(GOOD_ORDER)


def utc(*parts: int) -> datetime:
    """An instant written as UTC wall-clock parts."""
    return datetime(*parts, tzinfo=UTC)


@dataclass(frozen=True)
class TextRow:
    """One row as extract delivers it: every field as text (None when empty), and the record it comes from.

    Extract hands over the record only when it is malformed; a good row's record is the CSV line of its fields.
    """

    fields: dict[str, str | None]
    raw_record: str
    is_malformed: bool = False
    source_file: str = SOURCE

    def as_tuple(self) -> tuple[Any, ...]:
        malformed_record = self.raw_record if self.is_malformed else None
        return (*[self.fields[name] for name in FIELDS], malformed_record, self.source_file)


def row(order_id: str | None, *, source: str = SOURCE, **changes: str | None) -> TextRow:
    """A good order with some fields changed; its raw record is the CSV line of its fields (RFC 4180 quoting)."""
    fields = {"order_id": order_id, **GOOD, **changes}
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(["" if fields[name] is None else fields[name] for name in FIELDS])
    return TextRow(fields, out.getvalue(), source_file=source)


# Rows that must be accepted, with the typed value of the field under test.
ACCEPTS: list[tuple[TextRow, str, Any]] = [
    (row("ts-zulu"), "ordered_at", utc(2024, 2, 14, 19, 22, 5)),
    (row("ts-offset", ordered_at="2024-02-14T19:22:05+01:00"), "ordered_at", utc(2024, 2, 14, 18, 22, 5)),
    (row("ts-basic-offset", ordered_at="2024-02-14T19:22:05+0100"), "ordered_at", utc(2024, 2, 14, 18, 22, 5)),
    (row("ts-west-offset", ordered_at="2024-02-14T21:40:00-05:30"), "ordered_at", utc(2024, 2, 15, 3, 10, 0)),
    (row("ts-no-offset", ordered_at="2024-02-14T19:22:05"), "ordered_at", utc(2024, 2, 14, 19, 22, 5)),
    (row("ts-fraction", ordered_at="2024-02-14T19:22:05.250Z"), "ordered_at", utc(2024, 2, 14, 19, 22, 5, 250000)),
    (row("ts-leap-day", ordered_at="2024-02-29T23:59:59Z"), "ordered_at", utc(2024, 2, 29, 23, 59, 59)),
    (row("qty-one", quantity="1"), "quantity", 1),
    (row("qty-padded", quantity=" 3 "), "quantity", 3),
    (row("qty-int-max", quantity="2147483647"), "quantity", 2147483647),
    (row("price-two-decimals"), "unit_price", Decimal("12.50")),
    (row("price-one-decimal", unit_price="12.5"), "unit_price", Decimal("12.50")),
    (row("price-whole", unit_price="7"), "unit_price", Decimal("7.00")),
    (row("price-zero", unit_price="0"), "unit_price", Decimal("0.00")),
    (row("price-max", unit_price="9999999999.99"), "unit_price", Decimal("9999999999.99")),
    (row("status-completed"), "status", "completed"),
    (row("status-capitalised", status="Completed"), "status", "completed"),
    (row("status-cancelled", status="CANCELLED"), "status", "cancelled"),
    (row("status-refunded", status="refunded"), "status", "refunded"),
    (row("opt-in-upper", marketing_opt_in="TRUE"), "marketing_opt_in", True),
    (row("opt-in-false", marketing_opt_in="False"), "marketing_opt_in", False),
    (row("country-upper"), "country", "NL"),
    (row("country-lower", country="nl"), "country", "nl"),
    (row("country-empty", country=None), "country", None),
    (row("email-empty", email=None), "email", None),
    (row("names-empty", first_name=None, last_name=None), "last_name", None),
    (row("category-empty", product_category=None), "product_category", None),
    (row("first-name-as-read", first_name=" Ann "), "first_name", " Ann "),
    (row("email-as-read", email="ANN@Example.NL "), "email", "ANN@Example.NL "),
    (row("customer-id", customer_id="C-42"), "customer_id", "C-42"),
]
PADDED_ORDER_ID = row("  oid-padded  ")

# Rows that must be rejected, with the field the reason names and the bad value it quotes (None: "is missing").
REJECTS: list[tuple[TextRow, str, str | None]] = [
    (row(None, customer_id="C-no-order-id"), "order_id", None),
    (row("   ", customer_id="C-blank-order-id"), "order_id", None),
    (row("r-ts-missing", ordered_at=None), "ordered_at", None),
    (row("r-ts-date-only", ordered_at="2024-02-14"), "ordered_at", "2024-02-14"),
    (row("r-ts-dmy", ordered_at="14/02/2024"), "ordered_at", "14/02/2024"),
    (row("r-ts-year", ordered_at="2024"), "ordered_at", "2024"),
    (row("r-ts-feb-30", ordered_at="2024-02-30T10:00:00Z"), "ordered_at", "2024-02-30T10:00:00Z"),
    (row("r-ts-not-leap", ordered_at="2023-02-29T10:00:00Z"), "ordered_at", "2023-02-29T10:00:00Z"),
    (row("r-ts-hour-25", ordered_at="2024-02-14T25:00:00Z"), "ordered_at", "2024-02-14T25:00:00Z"),
    (row("r-ts-words", ordered_at="yesterday"), "ordered_at", "yesterday"),
    (row("r-customer-missing", customer_id=None), "customer_id", None),
    (row("r-customer-blank", customer_id="  "), "customer_id", None),
    (row("r-country-uk", country="UK"), "country", "UK"),
    (row("r-country-name", country="Netherlands"), "country", "Netherlands"),
    (row("r-country-unassigned", country="XX"), "country", "XX"),
    (row("r-qty-missing", quantity=None), "quantity", None),
    (row("r-qty-zero", quantity="0"), "quantity", "0"),
    (row("r-qty-negative", quantity="-1"), "quantity", "-1"),
    (row("r-qty-fraction", quantity="1.5"), "quantity", "1.5"),
    (row("r-qty-text", quantity="abc"), "quantity", "abc"),
    (row("r-qty-over-int", quantity="2147483648"), "quantity", "2147483648"),
    (row("r-qty-huge", quantity="99999999999999999999"), "quantity", "99999999999999999999"),
    (row("r-price-missing", unit_price=None), "unit_price", None),
    (row("r-price-comma", unit_price="12,50"), "unit_price", "12,50"),
    (row("r-price-negative", unit_price="-1"), "unit_price", "-1"),
    (row("r-price-three-decimals", unit_price="1.234"), "unit_price", "1.234"),
    (row("r-price-too-large", unit_price="12345678901.00"), "unit_price", "12345678901.00"),
    (row("r-price-text", unit_price="free"), "unit_price", "free"),
    (row("r-status-missing", status=None), "status", None),
    (row("r-status-shipped", status="shipped"), "status", "shipped"),
    (row("r-opt-in-missing", marketing_opt_in=None), "marketing_opt_in", None),
    (row("r-opt-in-yes", marketing_opt_in="yes"), "marketing_opt_in", "yes"),
    (row("r-opt-in-one", marketing_opt_in="1"), "marketing_opt_in", "1"),
]
TWO_BAD = row("r-two-bad", quantity="0", status="shipped")
THREE_BAD = row("r-three-bad", customer_id=None, unit_price="12,50", marketing_opt_in="yes")
MALFORMED_SHORT = TextRow(
    {name: None for name in FIELDS}
    | {"order_id": "r-short", "ordered_at": "2024-02-14T19:22:05Z", "customer_id": "C-1"},
    "r-short,2024-02-14T19:22:05Z,C-1",
    is_malformed=True,
)
_LONG = row("r-long")
MALFORMED_LONG = TextRow(_LONG.fields, _LONG.raw_record + ",extra", is_malformed=True)

# Duplicates and conflicts, grouped by order_id.
EXACT_COPIES = [row("dup-exact"), row("dup-exact"), row("dup-exact")]
COPIES_AFTER_TYPING = [
    row(
        "dup-typed",
        ordered_at="2024-02-14T19:22:05+01:00",
        quantity=" 2",
        unit_price="12.5",
        status="Completed",
        marketing_opt_in="TRUE",
    ),
    row(
        " dup-typed",
        ordered_at="2024-02-14T18:22:05Z",
        quantity="2",
        unit_price="12.50",
        status="completed",
        marketing_opt_in="true",
    ),
]
COPIES_WITH_NULLS = [row("dup-nulls", email=None, country=None), row("dup-nulls", email=None, country=None)]
COPIES_FROM_TWO_FILES = [row("dup-files"), row("dup-files", source=OTHER_SOURCE)]
CONFLICT_STATUS = [row("conflict-status"), row("conflict-status", status="refunded")]
CONFLICT_WITH_COPIES = [row("conflict-copies"), row("conflict-copies"), row("conflict-copies", quantity="3")]
CONFLICT_NULL_EMAIL = [row("conflict-null", email=None), row("conflict-null")]
CONFLICT_NAME_CASE = [row("conflict-case", first_name="Ann"), row("conflict-case", first_name="ann")]
GOOD_WITH_BAD_SIBLING = [row("sibling-bad"), row("sibling-bad", quantity="0")]
GOOD_WITH_MALFORMED_SIBLING = [
    row("sibling-malformed"),
    TextRow(
        {**GOOD, "order_id": "sibling-malformed", "email": None},
        "sibling-malformed,2024-02-14T19:22:05Z,C-1,,,",
        is_malformed=True,
    ),
]
COPIES_WITH_BAD_SIBLING = [row("sibling-copies"), row("sibling-copies"), row("sibling-copies", status="shipped")]

GROUPS = [
    EXACT_COPIES,
    COPIES_AFTER_TYPING,
    COPIES_WITH_NULLS,
    COPIES_FROM_TWO_FILES,
    CONFLICT_STATUS,
    CONFLICT_WITH_COPIES,
    CONFLICT_NULL_EMAIL,
    CONFLICT_NAME_CASE,
    GOOD_WITH_BAD_SIBLING,
    GOOD_WITH_MALFORMED_SIBLING,
    COPIES_WITH_BAD_SIBLING,
]
ALL_ROWS: list[TextRow] = [
    *[case[0] for case in ACCEPTS],
    PADDED_ORDER_ID,
    *[case[0] for case in REJECTS],
    TWO_BAD,
    THREE_BAD,
    MALFORMED_SHORT,
    MALFORMED_LONG,
    *[text_row for group in GROUPS for text_row in group],
]
# Hand-counted: every ACCEPTS row, the padded order_id, and one order per group that has a good order.
ACCEPTED_ORDER_IDS = {
    *[case[0].fields["order_id"] for case in ACCEPTS],
    "oid-padded",
    "dup-exact",
    "dup-typed",
    "dup-nulls",
    "dup-files",
    "sibling-bad",
    "sibling-malformed",
    "sibling-copies",
}
REJECTED_COUNT = len(REJECTS) + 4 + 2 + 3 + 2 + 2 + 1 + 1 + 1

TEXT_SCHEMA = T.StructType(
    [T.StructField(name, T.StringType()) for name in FIELDS]
    + [
        T.StructField("malformed_record", T.StringType()),
        T.StructField("source_file", T.StringType()),
    ]
)


@dataclass(frozen=True)
class Outcome:
    """The collected results of validating ALL_ROWS once."""

    validated: list[dict[str, Any]]
    accepted: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    validated_schema: T.StructType

    def by_raw(self, text_row: TextRow) -> dict[str, Any]:
        """The one validated row built from this text row."""
        found = [result for result in self.validated if result["raw_record"] == text_row.raw_record]
        assert len(found) == 1, (text_row.raw_record, found)
        return found[0]

    def by_order_id(self, order_id: str) -> list[dict[str, Any]]:
        return [result for result in self.validated if result["order_id"] == order_id]


@pytest.fixture(scope="module")
def outcome(spark: SparkSession) -> Outcome:
    text_df = spark.createDataFrame([text_row.as_tuple() for text_row in ALL_ROWS], TEXT_SCHEMA)
    validated_df = validate(text_df).cache()
    # The instant as microseconds since the epoch, so the check does not depend on the local time zone.
    with_micros = validated_df.withColumn("ordered_at_micros", F.unix_micros("ordered_at"))
    result = Outcome(
        validated=[result.asDict() for result in with_micros.collect()],
        accepted=[result.asDict() for result in accepted(validated_df).collect()],
        rejected=[result.asDict() for result in rejected(validated_df).collect()],
        validated_schema=validated_df.schema,
    )
    validated_df.unpersist()
    return result


def _typed(result: dict[str, Any], field: str) -> Any:
    if field == "ordered_at" and result["ordered_at_micros"] is not None:
        return EPOCH + timedelta(microseconds=result["ordered_at_micros"])
    return result[field]


def _quotes(reason: str, value: str) -> bool:
    return f"'{value}'" in reason or f'"{value}"' in reason


def _ids(cases: list[tuple[TextRow, str, Any]]) -> list[str]:
    return [f"{case[1]}={case[0].fields[case[1]]!r}" for case in cases]


def test_validated_rows_have_the_typed_columns(outcome: Outcome) -> None:
    types = {field.name: field.dataType for field in outcome.validated_schema.fields}

    assert list(types)[: len(FIELDS)] == list(FIELDS)
    assert {"raw_record", "source_file", "reject_reason", "is_duplicate"} <= set(types)
    assert isinstance(types["ordered_at"], T.TimestampType)
    assert isinstance(types["quantity"], T.IntegerType)
    assert types["unit_price"] == T.DecimalType(12, 2)
    assert isinstance(types["marketing_opt_in"], T.BooleanType)
    text_columns = ("order_id", "customer_id", "email", "status", "country")
    assert all(isinstance(types[name], T.StringType) for name in text_columns)


def test_every_input_row_comes_out_once(outcome: Outcome) -> None:
    assert len(outcome.validated) == len(ALL_ROWS)


@pytest.mark.parametrize(("text_row", "field", "expected"), ACCEPTS, ids=_ids(ACCEPTS))
def test_good_value_is_accepted_with_its_typed_value(
    outcome: Outcome, text_row: TextRow, field: str, expected: Any
) -> None:
    result = outcome.by_raw(text_row)

    assert result["reject_reason"] is None
    assert result["is_duplicate"] is False
    assert _typed(result, field) == expected


def test_whole_price_gets_two_decimals(outcome: Outcome) -> None:
    assert str(outcome.by_raw(row("price-whole", unit_price="7"))["unit_price"]) == "7.00"


def test_padded_order_id_is_stripped(outcome: Outcome) -> None:
    result = outcome.by_raw(PADDED_ORDER_ID)

    assert result["reject_reason"] is None
    assert result["order_id"] == "oid-padded"


def test_good_row_keeps_every_field(outcome: Outcome) -> None:
    result = outcome.by_raw(row("ts-zulu"))

    assert {name: result[name] for name in FIELDS if name != "ordered_at"} == {
        "order_id": "ts-zulu",
        "customer_id": "C-1",
        "email": "ann@example.nl",
        "first_name": "Ann",
        "last_name": "de Vries",
        "country": "NL",
        "product_category": "books",
        "quantity": 2,
        "unit_price": Decimal("12.50"),
        "status": "completed",
        "marketing_opt_in": True,
    }
    assert result["raw_record"] == row("ts-zulu").raw_record
    assert result["source_file"] == SOURCE


@pytest.mark.parametrize(("text_row", "field", "bad_value"), REJECTS, ids=_ids(REJECTS))
def test_bad_value_is_rejected_with_a_reason_naming_the_field(
    outcome: Outcome, text_row: TextRow, field: str, bad_value: str | None
) -> None:
    reason = outcome.by_raw(text_row)["reject_reason"]

    assert reason is not None
    assert field in reason
    if bad_value is None:
        assert f"{field} is missing" in reason
    else:
        assert _quotes(reason, bad_value), reason


def test_row_breaking_two_rules_names_both(outcome: Outcome) -> None:
    reason = outcome.by_raw(TWO_BAD)["reject_reason"]

    assert "quantity" in reason and _quotes(reason, "0")
    assert "status" in reason and _quotes(reason, "shipped")


def test_row_breaking_three_rules_names_all(outcome: Outcome) -> None:
    reason = outcome.by_raw(THREE_BAD)["reject_reason"]

    assert "customer_id is missing" in reason
    assert "unit_price" in reason and _quotes(reason, "12,50")
    assert "marketing_opt_in" in reason and _quotes(reason, "yes")


@pytest.mark.parametrize("text_row", [MALFORMED_SHORT, MALFORMED_LONG], ids=["too-few-fields", "too-many-fields"])
def test_malformed_record_is_rejected_as_malformed(outcome: Outcome, text_row: TextRow) -> None:
    result = outcome.by_raw(text_row)

    assert result["reject_reason"].startswith("malformed record")
    assert result["raw_record"] == text_row.raw_record


def test_exact_copies_keep_one_and_flag_the_others(outcome: Outcome) -> None:
    results = outcome.by_order_id("dup-exact")

    assert [result["reject_reason"] for result in results] == [None, None, None]
    assert sorted(result["is_duplicate"] for result in results) == [False, True, True]


@pytest.mark.parametrize("order_id", ["dup-typed", "dup-nulls", "dup-files"])
def test_copies_equal_after_typing_are_duplicates_not_conflicts(outcome: Outcome, order_id: str) -> None:
    results = outcome.by_order_id(order_id)

    assert [result["reject_reason"] for result in results] == [None, None]
    assert sorted(result["is_duplicate"] for result in results) == [False, True]


@pytest.mark.parametrize(("order_id", "rows"), [("conflict-status", 2), ("conflict-null", 2), ("conflict-case", 2)])
def test_rows_sharing_an_order_id_but_differing_are_all_rejected(outcome: Outcome, order_id: str, rows: int) -> None:
    results = outcome.by_order_id(order_id)

    assert [result["reject_reason"] for result in results] == [CONFLICT] * rows


def test_exact_copies_inside_a_conflict_are_rejected_too(outcome: Outcome) -> None:
    results = outcome.by_order_id("conflict-copies")

    assert [result["reject_reason"] for result in results] == [CONFLICT] * 3


def test_rejected_row_does_not_turn_a_good_row_into_a_conflict(outcome: Outcome) -> None:
    good, bad = (outcome.by_raw(text_row) for text_row in GOOD_WITH_BAD_SIBLING)

    assert good["reject_reason"] is None
    assert good["is_duplicate"] is False
    assert "quantity" in bad["reject_reason"]
    assert bad["reject_reason"] != CONFLICT


def test_malformed_row_does_not_turn_a_good_row_into_a_conflict(outcome: Outcome) -> None:
    good, malformed = (outcome.by_raw(text_row) for text_row in GOOD_WITH_MALFORMED_SIBLING)

    assert good["reject_reason"] is None
    assert malformed["reject_reason"].startswith("malformed record")


def test_rejected_row_beside_exact_copies_leaves_one_copy_accepted(outcome: Outcome) -> None:
    results = outcome.by_order_id("sibling-copies")
    good = [result for result in results if result["status"] == "completed"]
    bad = [result for result in results if result["status"] != "completed"]

    assert [result["reject_reason"] for result in good] == [None, None]
    assert sorted(result["is_duplicate"] for result in good) == [False, True]
    assert len(bad) == 1
    assert "status" in bad[0]["reject_reason"] and _quotes(bad[0]["reject_reason"], "shipped")


def test_accepted_has_each_good_order_once_and_nothing_else(outcome: Outcome) -> None:
    order_ids = [result["order_id"] for result in outcome.accepted]

    assert sorted(order_ids) == sorted(ACCEPTED_ORDER_IDS)


def test_accepted_rows_carry_the_raw_columns(outcome: Outcome) -> None:
    assert set(outcome.accepted[0]) == {*FIELDS, "source_file"}


def test_accepted_copy_from_two_files_is_kept_once(outcome: Outcome) -> None:
    kept = [result for result in outcome.accepted if result["order_id"] == "dup-files"]

    assert len(kept) == 1
    assert kept[0]["source_file"] in (SOURCE, OTHER_SOURCE)


def test_rejected_has_every_bad_row_with_its_raw_record_and_reason(outcome: Outcome) -> None:
    assert len(outcome.rejected) == REJECTED_COUNT
    assert all(result["reject_reason"] for result in outcome.rejected)
    assert {"order_id", "raw_record", "reject_reason", "source_file"} <= set(outcome.rejected[0])


@pytest.mark.parametrize(
    "text_row", [REJECTS[0][0], MALFORMED_LONG, CONFLICT_STATUS[1]], ids=["missing-order-id", "malformed", "conflict"]
)
def test_rejected_row_keeps_its_raw_record(outcome: Outcome, text_row: TextRow) -> None:
    found = [result for result in outcome.rejected if result["raw_record"] == text_row.raw_record]

    assert len(found) == 1
    assert found[0]["source_file"] == SOURCE


def test_duplicates_are_not_in_rejected(outcome: Outcome) -> None:
    rejected_ids = {result["order_id"] for result in outcome.rejected}

    assert not rejected_ids & {"dup-exact", "dup-typed", "dup-nulls", "dup-files"}
