"""The input contract of the orders CSV: column names, required fields, allowed values, header check."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Sequence

from elt.errors import InputError

COLUMNS: tuple[str, ...] = (
    "order_id",
    "ordered_at",
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "country",
    "product_category",
    "quantity",
    "unit_price",
    "status",
    "marketing_opt_in",
)
REQUIRED: frozenset[str] = frozenset(
    {"order_id", "ordered_at", "customer_id", "quantity", "unit_price", "status", "marketing_opt_in"}
)
STATUSES: tuple[str, ...] = ("completed", "cancelled", "refunded")
BOOLEANS: dict[str, bool] = {"true": True, "false": False}
MIN_QUANTITY = 1
# No real field is longer (mail tools take at most 255 per field): a longer one is a broken export or an attack.
MAX_FIELD_LENGTH = 255
# An order before this instant is a broken date (0001-01-01, a default), not history.
EARLIEST_ORDERED_AT = datetime(2000, 1, 1, tzinfo=timezone.utc)
# How far after the run's start an order may be dated (clock skew between systems), in days.
MAX_DAYS_AHEAD = 1
PRICE_PRECISION = 12
PRICE_SCALE = 2
BOM = "\ufeff"

# ISO 3166-1 alpha-2, all 249 officially assigned codes (same list as the tz database's iso3166.tab).
# "UK" and "EL" are not in it on purpose: mail tools want GB and GR.
COUNTRY_CODES: frozenset[str] = frozenset(
    (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS "
    "BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE "
    "EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM "
    "HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC "
    "LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA "
    "NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW "
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
    "TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW "
    ).split()
)


def check_header(names: Sequence[str]) -> list[str]:
    """Return the header's column names (BOM and surrounding spaces removed) or fail with one line."""
    cleaned = [name.strip() for name in names]
    if cleaned:
        cleaned[0] = cleaned[0].lstrip(BOM).strip()
    duplicated = sorted(name for name, count in Counter(cleaned).items() if count > 1)
    missing = [name for name in COLUMNS if name not in cleaned]
    unexpected = [name for name in cleaned if name not in COLUMNS]
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected " + ", ".join(repr(name) for name in unexpected))
    if duplicated:
        problems.append("duplicated " + ", ".join(duplicated))
    if problems:
        raise InputError("header does not match the orders contract: " + "; ".join(problems))
    return cleaned
