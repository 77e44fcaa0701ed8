"""Typed parsing and row rules of the orders contract, as DataFrame transforms without I/O.

Input: the text columns of `extract.read_orders`. Output: typed columns, `reject_reason` (null when the row is
good) and `is_duplicate` (an exact copy of an order already kept). `RAW_ORDER_COLUMNS` and `REJECT_COLUMNS`
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
from elt.extract import RAW_RECORD, SOURCE_FILE

REJECT_REASON = "reject_reason"
IS_DUPLICATE = "is_duplicate"
CONFLICT_REASON = "conflicting duplicate order_id"
MALFORMED_REASON = f"malformed record: wrong number of fields or broken quoting (expected {len(COLUMNS)} fields)"
NUL_REASON = "record contains a NUL character"
REASON_SEPARATOR = "; "
ECHO_LENGTH = 40

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
    """The field without surrounding whitespace; empty becomes null."""
    value = F.regexp_replace(F.col(name), r"^\s+|\s+$", "")
    return F.when(value != "", value)


def _echo(message: str, value: Column) -> Column:
    """A reason that quotes the offending value (shortened), so the data team can find it."""
    return F.concat(F.lit(f"{message}: '"), F.substring(value, 1, ECHO_LENGTH), F.lit("'"))


PARSED = "parsed_"


def _parsed(name: str) -> Column:
    """The typed value of a field, computed once in `_parse`."""
    return F.col(PARSED + name)


def _strip(text_df: DataFrame) -> DataFrame:
    """Step 1: every field without surrounding whitespace (empty becomes null), computed once per row."""
    return text_df.select(
        *[_stripped(name).alias(name) for name in COLUMNS],
        F.col(RAW_RECORD),
        F.col(SOURCE_FILE),
        F.col("is_malformed"),
        *[F.col(name).alias(f"as_read_{name}") for name in TEXT_AS_READ],
    )


def _parse(stripped_df: DataFrame) -> DataFrame:
    """Step 2: the typed value of each checked field (null when it does not parse)."""
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
    """Step 3: every rule of the contract as a reason column (null when the rule holds)."""
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
    # Spread the rows over the cores by order_id: parsing runs in parallel (a multi-line CSV is read by one
    # task), and the duplicate check in resolve_duplicates needs exactly this partitioning, so no second shuffle.
    parsed_df = _parse(_strip(text_df).repartition("order_id"))
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
    """
    is_good = F.col(REJECT_REASON).isNull()
    good_fields = F.when(is_good, F.struct(*[F.col(name) for name in COLUMNS]))
    group = Window.partitionBy("order_id")
    # Copies kept as duplicates are identical in every typed field: only which file they came from can differ.
    in_order = group.orderBy(is_good.desc(), F.col(SOURCE_FILE))
    is_conflict = is_good & ~F.min(good_fields).over(group).eqNullSafe(F.max(good_fields).over(group))
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
