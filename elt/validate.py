"""Typed parsing and row rules of the orders contract, as DataFrame transforms without I/O.

Input: the text columns of `extract.read_orders`. Output: typed columns, `reject_reason` (null when the row is
good) and `is_duplicate` (an exact copy of an order already kept). `RAW_ORDER_COLUMNS` and `REJECT_COLUMNS`
are the output contract that the raw layer loads.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from elt.contract import BOOLEANS, COLUMNS, COUNTRY_CODES, MIN_QUANTITY, PRICE_PRECISION, PRICE_SCALE, STATUSES
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

RAW_ORDER_COLUMNS: tuple[str, ...] = (*COLUMNS, SOURCE_FILE)
REJECT_COLUMNS: tuple[str, ...] = ("order_id", RAW_RECORD, REJECT_REASON, SOURCE_FILE)


def _stripped(name: str) -> Column:
    """The field without surrounding whitespace; empty becomes null."""
    value = F.regexp_replace(F.col(name), r"^\s+|\s+$", "")
    return F.when(value != "", value)


def _echo(message: str, value: Column) -> Column:
    """A reason that quotes the offending value (shortened), so the data team can find it."""
    return F.concat(F.lit(f"{message}: '"), F.substring(value, 1, ECHO_LENGTH), F.lit("'"))


def _required_text(reasons: list[Column], name: str) -> Column:
    """A required text field: stripped, and rejected when empty."""
    value = _stripped(name)
    reasons.append(F.when(value.isNull(), F.lit(f"{name} is missing")))
    return value


def _rule(reasons: list[Column], value: Column, name: str, parsed: Column, problem: str) -> Column:
    """Record 'missing' or 'unparseable' for a required field and return its typed value."""
    reasons.append(F.when(value.isNull(), F.lit(f"{name} is missing")))
    reasons.append(F.when(value.isNotNull() & parsed.isNull(), _echo(f"{name} {problem}", value)))
    return parsed


def _ordered_at(reasons: list[Column]) -> Column:
    """ISO 8601 date-time; without an offset it is UTC (the session time zone)."""
    value = F.upper(_stripped("ordered_at"))
    extended = F.regexp_replace(value, BASIC_OFFSET, "$1:$2")  # +0100 -> +01:00, which Spark parses
    parsed = F.when(value.rlike(ISO_DATE_TIME), extended.try_cast("timestamp"))
    return _rule(reasons, value, "ordered_at", parsed, "is not an ISO 8601 date-time")


def _quantity(reasons: list[Column]) -> Column:
    """Whole number of at least one."""
    value = _stripped("quantity")
    number = F.when(value.rlike(WHOLE_NUMBER), value.try_cast("decimal(38,0)"))
    parsed = _rule(reasons, value, "quantity", number, "is not a whole number")
    reasons.append(F.when(parsed < MIN_QUANTITY, _echo(f"quantity must be at least {MIN_QUANTITY}", value)))
    reasons.append(F.when((parsed >= MIN_QUANTITY) & parsed.try_cast("int").isNull(), _echo("quantity is too large", value)))
    return F.when(parsed >= MIN_QUANTITY, parsed.try_cast("int"))


def _unit_price(reasons: list[Column]) -> Column:
    """Non-negative decimal with at most two decimals and '.' as separator."""
    value = _stripped("unit_price")
    number = F.when(value.rlike(DECIMAL_NUMBER), value.try_cast("decimal(38,10)"))
    parsed = _rule(reasons, value, "unit_price", number, "is not a number with '.' as decimal separator")
    too_precise = parsed.isNotNull() & ~value.rlike(MAX_DECIMALS)
    reasons.append(F.when(parsed < 0, _echo("unit_price must not be negative", value)))
    reasons.append(F.when(too_precise, _echo(f"unit_price has more than {PRICE_SCALE} decimals", value)))
    too_large = (parsed >= 0) & ~too_precise & parsed.try_cast(PRICE_TYPE).isNull()
    reasons.append(F.when(too_large, _echo(f"unit_price is larger than {MAX_PRICE}", value)))
    return F.when((parsed >= 0) & ~too_precise, parsed.try_cast(PRICE_TYPE))


def _status(reasons: list[Column]) -> Column:
    """One of the known statuses, any case; stored lower-case."""
    value = _stripped("status")
    parsed = F.when(F.lower(value).isin(*STATUSES), F.lower(value))
    return _rule(reasons, value, "status", parsed, f"is not {', '.join(STATUSES[:-1])} or {STATUSES[-1]}")


def _opt_in(reasons: list[Column]) -> Column:
    """true or false, any case."""
    value = _stripped("marketing_opt_in")
    parsed = F.when(F.lower(value).isin(*BOOLEANS), F.lower(value) == "true")
    return _rule(reasons, value, "marketing_opt_in", parsed, "is not true or false")


def _country(reasons: list[Column]) -> Column:
    """Optional ISO 3166-1 alpha-2 code; kept as read, the warehouse conforms its case."""
    value = _stripped("country")
    known = F.upper(value).isin(*sorted(COUNTRY_CODES))
    reasons.append(F.when(value.isNotNull() & ~known, _echo("country is not an ISO 3166-1 alpha-2 code", value)))
    return F.col("country")


def check_rows(text_df: DataFrame) -> DataFrame:
    """Parse every field and attach the reasons a row breaks the contract (null when it is good)."""
    reasons: list[Column] = []
    typed = {
        "order_id": _required_text(reasons, "order_id"),
        "ordered_at": _ordered_at(reasons),
        "customer_id": _required_text(reasons, "customer_id"),
        "email": _text("email"),
        "first_name": _text("first_name"),
        "last_name": _text("last_name"),
        "country": _country(reasons),
        "product_category": _text("product_category"),
        "quantity": _quantity(reasons),
        "unit_price": _unit_price(reasons),
        "status": _status(reasons),
        "marketing_opt_in": _opt_in(reasons),
    }
    field_reasons = F.concat_ws(REASON_SEPARATOR, *reasons)
    reason = (
        F.when(F.col("is_malformed"), F.lit(MALFORMED_REASON))
        .when(F.col(RAW_RECORD).contains("\u0000"), F.lit(NUL_REASON))
        .when(field_reasons != "", field_reasons)
    )
    return text_df.select(
        *[column.alias(name) for name, column in typed.items()],
        F.col(RAW_RECORD),
        F.col(SOURCE_FILE),
        reason.alias(REJECT_REASON),
    )


def _text(name: str) -> Column:
    """Optional free text, kept as read; an empty field is null."""
    return F.when(F.col(name) != "", F.col(name))


def resolve_duplicates(checked_df: DataFrame) -> DataFrame:
    """Keep one of identical copies of an order; reject every row of an order_id whose copies differ."""
    is_good = F.col(REJECT_REASON).isNull()
    # Rejected rows get a key of their own so they never join a group of good rows.
    group_key = F.when(is_good, F.col("order_id")).otherwise(F.concat(F.lit("\u0000"), F.col(RAW_RECORD)))
    keyed_df = checked_df.withColumn("_group", group_key)
    fields = F.struct(*[F.col(name) for name in COLUMNS])
    group = Window.partitionBy("_group")
    in_order = group.orderBy(F.col(SOURCE_FILE), F.col(RAW_RECORD))
    is_conflict = is_good & ~F.min(fields).over(group).eqNullSafe(F.max(fields).over(group))
    return keyed_df.select(
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
