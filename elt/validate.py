"""Typed parsing and row rules of the orders contract, as DataFrame transforms without I/O.

Input: the text columns of `extract.read_orders` (fields in the file's order, `malformed_record`, `source_file`).
Output: typed columns, `raw_record` (the record as read, for the quarantine), `reject_reason` (null when the row
is good) and `is_duplicate` (an exact copy of an order already kept). `RAW_ORDER_COLUMNS` and `REJECT_COLUMNS`
are the output contract that the raw layer loads.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from elt.contract import (
    BOOLEANS,
    COLUMNS,
    COUNTRY_CODES,
    EARLIEST_ORDERED_AT,
    MAX_DAYS_AHEAD,
    MAX_FIELD_LENGTH,
    MIN_QUANTITY,
    PRICE_PRECISION,
    PRICE_SCALE,
    REQUIRED,
    STATUSES,
)
from elt.extract import MALFORMED_RECORD, SOURCE_FILE, rebuilt_record

RAW_RECORD = "raw_record"
REJECT_REASON = "reject_reason"
IS_DUPLICATE = "is_duplicate"
CONFLICT_REASON = "conflicting duplicate order_id"
MALFORMED_REASON = f"malformed record: wrong number of fields or broken quoting (expected {len(COLUMNS)} fields)"
NUL_REASON = "record contains a NUL character"
REASON_SEPARATOR = "; "
ECHO_LENGTH = 40
ORDER_KEY = "order_key"
# What counts as surrounding whitespace: the characters of Java's \s (space, tab, line feed, vertical tab, form
# feed, carriage return). Trimming a set of characters is much cheaper than a regular expression.
WHITESPACE = " \t\n\u000b\f\r"

ISO_DATE_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$"
BASIC_OFFSET = r"([+-]\d{2})(\d{2})$"
WHOLE_NUMBER = r"^[+-]?\d+$"
DECIMAL_NUMBER = r"^[+-]?\d+(\.\d+)?$"
MAX_DECIMALS = rf"^[+-]?\d+(\.\d{{1,{PRICE_SCALE}}})?$"
MAX_PRICE = f"{'9' * (PRICE_PRECISION - PRICE_SCALE)}.{'9' * PRICE_SCALE}"
PRICE_TYPE = f"decimal({PRICE_PRECISION},{PRICE_SCALE})"

# Free-text fields the raw layer keeps as read (the warehouse trims and conforms them); empty is null.
TEXT_AS_READ: tuple[str, ...] = ("email", "first_name", "last_name", "country", "product_category")
RAW_ORDER_COLUMNS: tuple[str, ...] = (*COLUMNS, SOURCE_FILE)
REJECT_COLUMNS: tuple[str, ...] = ("order_id", RAW_RECORD, REJECT_REASON, SOURCE_FILE)


def _stripped(name: str) -> Column:
    """The field without surrounding whitespace; empty becomes null.

    `nullif` trims once; `when(value != "", value)` trimmed twice (12 fields of 1M rows in a warm JVM on 2 cores:
    0.9 s against 1.6 s).
    """
    return F.nullif(F.btrim(F.col(name), F.lit(WHITESPACE)), F.lit(""))


def _echo(message: str, value: Column) -> Column:
    """A reason that quotes the offending value (shortened), so the data team can find it."""
    return F.concat(F.lit(f"{message}: '"), F.substring(value, 1, ECHO_LENGTH), F.lit("'"))


PARSED = "parsed_"


def _parsed(name: str) -> Column:
    """The typed value of a field, computed once in `_parse`."""
    return F.col(PARSED + name)


def _spread(text_df: DataFrame) -> DataFrame:
    """Step 1: spread the rows over the cores by their order_id without surrounding spaces.

    A multi-line CSV is read by one task, so everything after this runs in parallel; the duplicate check in
    `resolve_duplicates` needs exactly this partitioning, so there is no second shuffle.
    """
    return text_df.select(_stripped("order_id").alias(ORDER_KEY), *text_df.columns).repartition(ORDER_KEY)


def _strip(spread_df: DataFrame) -> DataFrame:
    """Step 2: every field without surrounding whitespace (empty becomes null), and the record as read.

    A well-formed row's record is rebuilt from its fields in the file's order (the columns' order).
    """
    in_file_order = [F.col(name) for name in spread_df.columns if name in COLUMNS]
    rebuilt = rebuilt_record(in_file_order)
    return spread_df.select(
        F.col(ORDER_KEY).alias("order_id"),
        *[_stripped(name).alias(name) for name in COLUMNS if name != "order_id"],
        F.coalesce(F.col(MALFORMED_RECORD), rebuilt).alias(RAW_RECORD),
        F.col(SOURCE_FILE),
        F.col(MALFORMED_RECORD).isNotNull().alias("is_malformed"),
        *[F.col(name).alias(f"as_read_{name}") for name in TEXT_AS_READ],
    )


def _parse(stripped_df: DataFrame) -> DataFrame:
    """Step 3: the typed value of each checked field (null when it does not parse)."""
    ordered_at = F.upper(F.col("ordered_at"))
    extended = F.regexp_replace(ordered_at, BASIC_OFFSET, "$1:$2")  # +0100 -> +01:00, which Spark parses
    quantity, price = F.col("quantity"), F.col("unit_price")
    status, opt_in = F.lower(F.col("status")), F.lower(F.col("marketing_opt_in"))
    parsed = {
        "ordered_at": F.when(ordered_at.rlike(ISO_DATE_TIME), extended.try_cast("timestamp")),
        "quantity": F.when(quantity.rlike(WHOLE_NUMBER), quantity.try_cast("decimal(38,0)")),
        "unit_price": F.when(price.rlike(DECIMAL_NUMBER), price.try_cast("decimal(38,10)")),
        "price_is_precise": price.rlike(MAX_DECIMALS),
        "status": F.when(status.isin(*STATUSES), status),
        "marketing_opt_in": F.when(opt_in.isin(*BOOLEANS), opt_in == "true"),
        "country_is_known": F.upper(F.col("country")).isin(*sorted(COUNTRY_CODES)),
    }
    return stripped_df.select("*", *[column.alias(PARSED + name) for name, column in parsed.items()])


def _missing(name: str) -> Column:
    """Reason for an empty required field."""
    return F.when(F.col(name).isNull(), F.lit(f"{name} is missing"))


def _unparseable(name: str, problem: str) -> Column:
    """Reason for a required field that is present but does not parse."""
    return F.when(F.col(name).isNotNull() & _parsed(name).isNull(), _echo(f"{name} {problem}", F.col(name)))


def _field_reasons() -> list[Column]:
    """Step 4: every rule of the contract as a reason column (null when the rule holds)."""
    ordered_at, quantity, price = _parsed("ordered_at"), _parsed("quantity"), _parsed("unit_price")
    precise = _parsed("price_is_precise")
    statuses = f"{', '.join(STATUSES[:-1])} or {STATUSES[-1]}"
    latest = F.timestamp_add("DAY", F.lit(MAX_DAYS_AHEAD), F.current_timestamp())
    return [
        *[_missing(name) for name in COLUMNS if name in REQUIRED],
        *[
            F.when(F.length(name) > MAX_FIELD_LENGTH, _echo(f"{name} is longer than {MAX_FIELD_LENGTH} characters", F.col(name)))
            for name in COLUMNS
        ],
        _unparseable("ordered_at", "is not an ISO 8601 date-time"),
        F.when(ordered_at < EARLIEST_ORDERED_AT, _echo(f"ordered_at is before {EARLIEST_ORDERED_AT:%Y-%m-%d}", F.col("ordered_at"))),
        F.when(ordered_at > latest, _echo("ordered_at is in the future", F.col("ordered_at"))),
        _unparseable("quantity", "is not a whole number"),
        F.when(quantity < MIN_QUANTITY, _echo(f"quantity must be at least {MIN_QUANTITY}", F.col("quantity"))),
        F.when(quantity.try_cast("int").isNull() & (quantity >= MIN_QUANTITY), _echo("quantity is too large", F.col("quantity"))),
        _unparseable("unit_price", "is not a number with '.' as decimal separator"),
        F.when(price < 0, _echo("unit_price must not be negative", F.col("unit_price"))),
        F.when(price.isNotNull() & ~precise, _echo(f"unit_price has more than {PRICE_SCALE} decimals", F.col("unit_price"))),
        F.when((price >= 0) & precise & price.try_cast(PRICE_TYPE).isNull(), _echo(f"unit_price is larger than {MAX_PRICE}", F.col("unit_price"))),
        _unparseable("status", f"is not {statuses}"),
        _unparseable("marketing_opt_in", "is not true or false"),
        F.when(F.col("country").isNotNull() & ~_parsed("country_is_known"), _echo("country is not an ISO 3166-1 alpha-2 code", F.col("country"))),
    ]


def check_rows(text_df: DataFrame) -> DataFrame:
    """Parse every field and attach the reasons a row breaks the contract (null when it is good)."""
    parsed_df = _parse(_strip(_spread(text_df)))
    field_reasons = F.concat_ws(REASON_SEPARATOR, *_field_reasons())
    reason = (
        F.when(F.col("is_malformed"), F.lit(MALFORMED_REASON))
        .when(F.col(RAW_RECORD).contains("\u0000"), F.lit(NUL_REASON))
        .when(field_reasons != "", field_reasons)
    )
    quantity, price = _parsed("quantity"), _parsed("unit_price")
    typed = {
        "order_id": F.col("order_id"),
        "ordered_at": _parsed("ordered_at"),
        "customer_id": F.col("customer_id"),
        **{name: F.col(f"as_read_{name}") for name in TEXT_AS_READ},
        "quantity": F.when(quantity >= MIN_QUANTITY, quantity.try_cast("int")),
        "unit_price": F.when((price >= 0) & _parsed("price_is_precise"), price.try_cast(PRICE_TYPE)),
        "status": _parsed("status"),
        "marketing_opt_in": _parsed("marketing_opt_in"),
    }
    return parsed_df.select(
        *[typed[name].alias(name) for name in COLUMNS],
        F.col(RAW_RECORD),
        F.col(SOURCE_FILE),
        reason.alias(REJECT_REASON),
    )


def resolve_duplicates(checked_df: DataFrame) -> DataFrame:
    """Keep one of identical copies of an order; reject every row of an order_id whose copies differ.

    Only good rows take part: aggregates skip the nulls that rejected rows contribute, and good rows rank first.
    Copies are compared by a 64-bit hash of their typed fields and of which fields are null (so a value cannot
    move to a neighbouring null field unnoticed): the lowest and highest hash of an order_id differ exactly when
    its copies differ, except for a hash collision (about 1 in 10^19 per pair), and comparing two numbers per row
    is much cheaper than comparing 12-field rows.
    """
    is_good = F.col(REJECT_REASON).isNull()
    fields = [F.col(name) for name in COLUMNS]
    good_hash = F.when(is_good, F.xxhash64(*fields, *[field.isNull() for field in fields]))
    # Copies kept as duplicates are identical in every typed field: only which file they came from can differ.
    in_order = Window.partitionBy("order_id").orderBy(is_good.desc(), F.col(SOURCE_FILE))
    # The whole order_id, over the same ordering: Spark computes both in one pass over the sorted rows instead of
    # two (1M rows, warm JVM: validate 7.8-8.5 s against 8.5-9.3 s).
    group = in_order.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    is_conflict = is_good & (F.min(good_hash).over(group) != F.max(good_hash).over(group))
    return checked_df.select(
        *[F.col(name) for name in COLUMNS],
        F.col(RAW_RECORD),
        F.col(SOURCE_FILE),
        F.when(is_conflict, F.lit(CONFLICT_REASON)).otherwise(F.col(REJECT_REASON)).alias(REJECT_REASON),
        (is_good & ~is_conflict & (F.row_number().over(in_order) > 1)).alias(IS_DUPLICATE),
    )


def validate(text_df: DataFrame) -> DataFrame:
    """The whole contract: typed fields, rejects with reasons, exact duplicates flagged."""
    return resolve_duplicates(check_rows(text_df))


def accepted(validated_df: DataFrame) -> DataFrame:
    """The rows the raw layer keeps, in the raw output contract."""
    keep = F.col(REJECT_REASON).isNull() & ~F.col(IS_DUPLICATE)
    return validated_df.where(keep).select(*RAW_ORDER_COLUMNS)


def rejected(validated_df: DataFrame) -> DataFrame:
    """The rejected rows with their raw record and reason."""
    return validated_df.where(F.col(REJECT_REASON).isNotNull()).select(*REJECT_COLUMNS)
