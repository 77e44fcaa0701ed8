"""Deterministic generator of realistic sample e-commerce orders as CSV.

The data feeds a marketing dashboard about customers who bought in February
(Valentine's) and December (Christmas). Orders are produced day by day in
chronological order, so order ids increase with time. Customers live in
compact arrays (about 25 bytes each): names, country and email address are
derived from per-customer hash keys instead of being stored as strings, so
memory stays O(customers) and no order is ever held after it is yielded.
"""

from __future__ import annotations

import csv
import itertools
import logging
import math
import operator
import os
import pathlib
import random
import time
import unicodedata
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import NormalDist
from typing import TypeVar
from zoneinfo import ZoneInfo

from elt.contract import COLUMNS

logger = logging.getLogger(__name__)

DEFAULT_SEED: int = 42

# --- Time range and rendering -------------------------------------------------
LOCAL_TZ = ZoneInfo("Europe/Amsterdam")
FIRST_DAY = date(2022, 1, 1)
LAST_DAY = date(2025, 12, 31)
SECONDS_PER_MINUTE = 60
MINUTES_PER_HOUR = 60
SECONDS_PER_HOUR = SECONDS_PER_MINUTE * MINUTES_PER_HOUR
UTC_RENDER_SHARE = 0.15
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
ISO_OFFSET_SLICE = slice(-6, None)

# --- Identifiers ----------------------------------------------------------------
ORDER_ID_PREFIX = "O"
ORDER_ID_WIDTH = 10
CUSTOMER_ID_PREFIX = "C"
CUSTOMER_ID_WIDTH = 8

# --- Seasonality: relative order volume per day ---------------------------------
MONTH_FACTOR = (0.85, 1.25, 0.95, 0.9, 0.95, 0.7, 0.62, 0.68, 0.9, 0.95, 1.15, 1.45)
WEEKDAY_FACTOR = (1.05, 1.0, 1.0, 1.0, 0.95, 0.85, 1.1)
YEARLY_GROWTH = 0.12
DAILY_NOISE_SIGMA = 0.12
VALENTINE_MONTH, VALENTINE_DAY = 2, 14
VALENTINE_BOOST = 1.8
VALENTINE_BASE_SHARE = 0.3
CHRISTMAS_MONTH, CHRISTMAS_EVE = 12, 24
CHRISTMAS_BOOST = 1.6
CHRISTMAS_HOLIDAYS = (25, 26)
CHRISTMAS_HOLIDAY_FACTOR = 0.4
CHRISTMAS_SEASON_START = (11, 20)
BLACK_FRIDAY_MONTH, BLACK_FRIDAY_DAYS = 11, range(22, 29)
FRIDAY = 4
BLACK_FRIDAY_FACTOR = 2.5
HOUR_WEIGHTS = (
    10, 5, 3, 2, 2, 3, 8, 18, 28, 35, 40, 43,
    48, 46, 42, 40, 41, 43, 46, 55, 62, 60, 42, 22,
)
SEASON_REGULAR, SEASON_VALENTINE, SEASON_CHRISTMAS = "regular", "valentine", "christmas"

# --- Customers ------------------------------------------------------------------
NEW_CUSTOMER_SHARE = 0.38
LOYALTY_PARETO_ALPHA = 1.4
LOYALTY_CAP = 60.0
EXISTING_CUSTOMER_SHARE = 0.1  # customers known before the range, relative to expected new ones
OPT_IN_SHARE = 0.6
OPT_OUT_FLIP_RATE = 0.02
OPT_IN_FLIP_RATE = 0.03
EMAIL_CHANGE_RATE = 0.03
COUNTRY_WEIGHTS = {"NL": 55, "BE": 18, "DE": 20, "FR": 2, "LU": 1.5, "AT": 1.5, "GB": 2}

# --- Per-row data quality quirks ------------------------------------------------
EMAIL_MISSING_SHARE = 0.03
EMAIL_MIXED_CASE_SHARE = 0.02
EMAIL_PADDED_SHARE = 0.01
COUNTRY_MISSING_SHARE = 0.005

# --- Order lines ------------------------------------------------------------------
QUANTITY_VALUES = (1, 2, 3, 4, 5, 6, 10)
QUANTITY_WEIGHTS = (144, 32, 14, 4, 2, 3, 1)
STATUS_VALUES = ("completed", "cancelled", "refunded")
STATUS_WEIGHTS = (90, 6, 4)
PRICE_ENDINGS = (95, 99, 0, 50, 49)
PRICE_ENDING_WEIGHTS = (45, 25, 15, 10, 5)
FREE_ITEM_SHARE = 0.003
FREE_PRICE = "0.00"
PRICE_POINTS = 400
QUANTILE_MIDPOINT = 0.5
PRICE_INFLATION_PER_YEAR = 0.04

TABLE_RESOLUTION = 10
_T = TypeVar("_T")
_MASK64 = (1 << 64) - 1
_GOLDEN64 = 0x9E3779B97F4A7C15
_HASH_BITS = 32
_HASH_LOW_MASK = (1 << _HASH_BITS) - 1
_NAME_BITS = 16
_NAME_MASK = (1 << _NAME_BITS) - 1


@dataclass(frozen=True)
class _Category:
    """Sales mix weight and a log-normal price band for one product category."""

    name: str
    weight: float
    median_price: float
    price_sigma: float
    min_price: int
    max_price: int


CATEGORIES = (
    _Category("flowers", 9, 32, 0.45, 9, 250),
    _Category("chocolate", 8, 16, 0.55, 3, 150),
    _Category("jewellery", 5, 95, 0.9, 15, 4999),
    _Category("perfume", 6, 55, 0.5, 12, 400),
    _Category("toys", 9, 28, 0.7, 4, 600),
    _Category("books", 12, 18, 0.4, 5, 120),
    _Category("electronics", 10, 130, 0.95, 9, 4999),
    _Category("home", 15, 42, 0.8, 4, 1500),
    _Category("fashion", 20, 48, 0.6, 6, 900),
    _Category("wine", 8, 14, 0.55, 4, 450),
)
SEASONAL_CATEGORY_BOOST = {
    SEASON_REGULAR: {},
    SEASON_VALENTINE: {"flowers": 5, "chocolate": 3.5, "jewellery": 3, "perfume": 2.5},
    SEASON_CHRISTMAS: {
        "toys": 4, "electronics": 2.5, "books": 2, "wine": 2.5,
        "chocolate": 1.8, "perfume": 2, "jewellery": 1.6, "home": 1.3,
    },
}


@dataclass(frozen=True)
class _NamePool:
    """First and last names typical for a country."""

    first: tuple[str, ...]
    last: tuple[str, ...]


_NL = _NamePool(
    first=(
        "Daan", "Sem", "Lucas", "Levi", "Finn", "Bram", "Jesse", "Thijs", "Ruben", "Stijn",
        "Joost", "Pieter", "Sanne", "Emma", "Julia", "Tess", "Fleur", "Lotte", "Anouk", "Femke",
        "Iris", "Eva", "Noor", "Zoë", "Renée", "Daniëlle", "Anaïs", "Noël", "Joëlle", "Mees",
        "Sophie", "Marloes", "Willemijn", "Kees", "Henk", "Ingrid", "Mohammed", "Fatima", "Yasmina", "Chloé",
    ),
    last=(
        "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit",
        "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen",
        "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "van der Linden",
        "Kok", "Jacobs", "de Haan", "Vermeulen", "van den Heuvel", "'t Hart", "van 't Hof", "Öztürk",
        "El Amrani", "Bouzid", "Yılmaz", "Hoekstra", "Kuipers", "Prins", "Huisman",
    ),
)
_BE = _NamePool(
    first=(
        "Lucas", "Arthur", "Louis", "Noah", "Jules", "Mattéo", "Victor", "Léon", "Wout", "Lars",
        "Emma", "Olivia", "Louise", "Mila", "Elena", "Chloé", "Hélène", "Amélie", "Zoë", "Léa",
        "Inès", "Margaux", "Noémie", "Fien", "Ellen", "Lien", "Joris", "Pieter-Jan", "Jean-Luc",
        "Françoise", "Gaëlle", "Maëlle", "Sven", "Jef", "Annelies", "Björn", "Renée",
    ),
    last=(
        "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters",
        "De Smet", "Dubois", "Lambert", "Dupont", "Martens", "Vermeulen", "Van Damme", "De Backer",
        "Pauwels", "Vandenberghe", "D'Hondt", "Desmet", "Lemaire", "Leclercq", "Verstraete",
        "Van de Velde", "Declercq", "Coppens", "Michiels", "Lejeune", "Fontaine", "Delvaux", "Gérard",
        "Hermans", "Segers",
    ),
)
_DE = _NamePool(
    first=(
        "Jürgen", "Sören", "Björn", "Jörg", "Günther", "Uwe", "Lukas", "Leon", "Finn", "Jonas",
        "Maximilian", "Felix", "Paul", "Tobias", "Stefan", "Andreas", "Matthias", "Käthe", "Ingrid",
        "Anna", "Marie", "Sophie", "Hannah", "Lena", "Leonie", "Johanna", "Mia", "Jana", "Sabine",
        "Ursula", "Zoë", "Chloé", "Renée", "Ayşe", "Emre", "Mehmet", "Jörn", "Bärbel", "Dörte",
    ),
    last=(
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
        "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
        "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
        "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Köhler", "Herrmann", "König", "Walter",
        "Öztürk", "Yılmaz", "Kaya", "Jäger", "Groß", "Weiß",
    ),
)
_FR = _NamePool(
    first=(
        "Chloé", "Léa", "Manon", "Camille", "Inès", "Zoé", "Amélie", "Hélène", "Céline", "Élodie",
        "Théo", "Hugo", "Louis", "Gabriel", "Raphaël", "Jules", "Mathéo", "Noé", "Jérôme", "François",
        "Stéphane", "Aurélien", "Loïc", "Anaïs", "Maëlys", "Jean", "Marc", "Claire",
    ),
    last=(
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
        "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
        "Vincent", "Fournier", "Girard", "Bonnet", "Schmit", "Weber", "Reuter", "Hoffmann",
    ),
)
_GB = _NamePool(
    first=(
        "Oliver", "George", "Harry", "Jack", "Charlie", "Thomas", "Olivia", "Amelia", "Isla", "Ava",
        "Emily", "Sophie", "Chloë", "Zoë", "Renée", "James", "William", "Noah", "Freya", "Poppy",
    ),
    last=(
        "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
        "Johnson", "Roberts", "Walker", "O'Brien", "O'Connor", "Murphy", "Hughes", "Edwards",
        "Green", "Hall", "Wood",
    ),
)
NAME_POOLS = {"NL": _NL, "BE": _BE, "DE": _DE, "AT": _DE, "FR": _FR, "LU": _FR, "GB": _GB}
EMAIL_DOMAINS = {
    "NL": (
        "gmail.com", "hotmail.com", "outlook.com", "ziggo.nl",
        "kpnmail.nl", "xs4all.nl", "live.nl", "icloud.com",
    ),
    "BE": ("gmail.com", "telenet.be", "skynet.be", "hotmail.com", "proximus.be", "outlook.be"),
    "DE": ("gmx.de", "web.de", "t-online.de", "gmail.com", "outlook.de", "posteo.de"),
    "AT": ("gmx.at", "aon.at", "gmail.com"),
    "FR": ("orange.fr", "free.fr", "gmail.com", "laposte.net"),
    "LU": ("pt.lu", "gmail.com", "internet.lu"),
    "GB": ("gmail.com", "btinternet.com", "outlook.com", "yahoo.co.uk"),
}
# Positional fields: 0 first name, 1 last name, 2 initial, 3 two-digit number, 4 birth year.
EMAIL_PATTERNS = ("{0}.{1}", "{2}.{1}", "{0}{1}{3}", "{0}{4}", "{1}.{0}", "{0}_{1}", "{2}{1}{3}")
EMAIL_NUMBER_SHIFT, EMAIL_YEAR_SHIFT, EMAIL_DOMAIN_SHIFT = 8, 16, 24
EMAIL_NUMBER_MODULUS = 100
EMAIL_BIRTH_YEAR_FIRST, EMAIL_BIRTH_YEAR_SPAN = 1950, 55
_ASCII_FOLD = str.maketrans({"ı": "i", "ß": "ss", "ø": "o", "ł": "l", "æ": "ae"})


def _mix64(value: int) -> int:
    """Return a well-mixed 64-bit hash of `value` (SplitMix64 finaliser)."""
    value = (value + _GOLDEN64) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def _email_slug(name: str) -> str:
    """Fold a display name to the lower-case ASCII letters used in email addresses."""
    decomposed = unicodedata.normalize("NFKD", name.lower().translate(_ASCII_FOLD))
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum())


def _table(values: Iterable[_T], weights: Sequence[float]) -> tuple[_T, ...]:
    """Return a lookup table repeating each value by its weight, for O(1) weighted draws.

    Weights are kept to a resolution of 1/TABLE_RESOLUTION; index it with
    `table[int(rng.random() * len(table))]`.
    """
    return tuple(
        value
        for value, weight in zip(values, weights)
        for _ in range(round(weight * TABLE_RESOLUTION))
    )


_SLUGS = {
    name: _email_slug(name)
    for pool in NAME_POOLS.values()
    for name in pool.first + pool.last
}
_COUNTRY_TABLE = _table(COUNTRY_WEIGHTS, tuple(COUNTRY_WEIGHTS.values()))
_HOUR_TABLE = _table(range(len(HOUR_WEIGHTS)), HOUR_WEIGHTS)
_QUANTITY_TABLE = _table([str(q) for q in QUANTITY_VALUES], QUANTITY_WEIGHTS)
_STATUS_TABLE = _table(STATUS_VALUES, STATUS_WEIGHTS)
_ENDING_TABLE = _table([f"{c:02d}" for c in PRICE_ENDINGS], PRICE_ENDING_WEIGHTS)
_CATEGORY_TABLES = {
    season: _table([c.name for c in CATEGORIES], [c.weight * boost.get(c.name, 1) for c in CATEGORIES])
    for season, boost in SEASONAL_CATEGORY_BOOST.items()
}


@dataclass(frozen=True)
class _Day:
    """One local calendar day: its UTC start instant, length and sales context."""

    day: date
    start: int
    length: int
    season: str
    local_prefix: str
    fixed_offset: str | None


def _season(day: date) -> str:
    """Return the product-mix season of a local calendar day."""
    if day.month == VALENTINE_MONTH and day.day <= VALENTINE_DAY:
        return SEASON_VALENTINE
    if (day.month, day.day) >= CHRISTMAS_SEASON_START and (day.month, day.day) <= (
        CHRISTMAS_MONTH,
        CHRISTMAS_EVE,
    ):
        return SEASON_CHRISTMAS
    return SEASON_REGULAR


def _day_weight(day: date) -> float:
    """Return the expected relative order volume of a local calendar day."""
    weight = MONTH_FACTOR[day.month - 1] * WEEKDAY_FACTOR[day.weekday()]
    if day.month == VALENTINE_MONTH and day.day <= VALENTINE_DAY:
        ramp = VALENTINE_BASE_SHARE + (1 - VALENTINE_BASE_SHARE) * day.day / VALENTINE_DAY
        weight += VALENTINE_BOOST * ramp
    elif day.month == CHRISTMAS_MONTH and day.day <= CHRISTMAS_EVE:
        weight += CHRISTMAS_BOOST * day.day / CHRISTMAS_EVE
    elif day.month == CHRISTMAS_MONTH and day.day in CHRISTMAS_HOLIDAYS:
        weight *= CHRISTMAS_HOLIDAY_FACTOR
    if (
        day.month == BLACK_FRIDAY_MONTH
        and day.weekday() == FRIDAY
        and day.day in BLACK_FRIDAY_DAYS
    ):
        weight *= BLACK_FRIDAY_FACTOR
    return weight * (1 + YEARLY_GROWTH * (day.year - FIRST_DAY.year))


def _local_midnight(day: date) -> datetime:
    """Return the start of a local calendar day as an aware datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)


def _make_day(day: date) -> _Day:
    """Describe one local day; `fixed_offset` is None when the UTC offset changes during it."""
    midnight = _local_midnight(day)
    start = int(midnight.timestamp())
    end = int(_local_midnight(day + timedelta(days=1)).timestamp())
    last_second = datetime.fromtimestamp(end - 1, LOCAL_TZ)
    offset = midnight.isoformat()[ISO_OFFSET_SLICE]
    fixed = offset if last_second.isoformat()[ISO_OFFSET_SLICE] == offset else None
    prefix = f"{day.isoformat()}T"
    return _Day(day, start, end - start, _season(day), prefix, fixed)


def _calendar() -> list[_Day]:
    """Return every local day of the range."""
    count = (LAST_DAY - FIRST_DAY).days + 1
    return [_make_day(FIRST_DAY + timedelta(days=n)) for n in range(count)]


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` into integer counts proportional to `weights` (largest remainder)."""
    weight_sum = sum(weights)
    exact = [total * w / weight_sum for w in weights]
    counts = [int(x) for x in exact]
    shortfall = total - sum(counts)
    by_remainder = sorted(range(len(exact)), key=lambda i: (counts[i] - exact[i], i))
    for index in by_remainder[:shortfall]:
        counts[index] += 1
    return counts


def _fill_empty_months(days: Sequence[_Day], counts: list[int]) -> None:
    """Move single orders into empty months so each month has one, when rows allow."""
    months: dict[tuple[int, int], list[int]] = {}
    for index, day in enumerate(days):
        months.setdefault((day.day.year, day.day.month), []).append(index)
    if sum(counts) < len(months):
        return
    for indices in months.values():
        if any(counts[i] for i in indices):
            continue
        richest = max(months.values(), key=lambda ids: sum(counts[i] for i in ids))
        donor = max(richest, key=lambda i: counts[i])
        counts[donor] -= 1
        counts[indices[len(indices) // 2]] += 1


def _orders_per_day(rows: int, days: Sequence[_Day], rng: random.Random) -> list[int]:
    """Return a deterministic, seasonal and slightly noisy order count per day."""
    weights = [_day_weight(d.day) * rng.lognormvariate(0, DAILY_NOISE_SIGMA) for d in days]
    counts = _allocate(rows, weights)
    _fill_empty_months(days, counts)
    return counts


class _CustomerBook:
    """Customers so far, in compact arrays: loyalty, identity and email hash keys, consent."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        """Start an empty book; `seed` keys the per-customer identity hashes."""
        self._rng = rng
        self._seed_key = _mix64(seed & _MASK64)
        self._cum_loyalty = array("d")
        self._identity = array("Q")
        self._email_key = array("Q")
        self._opt_in = bytearray()

    def __len__(self) -> int:
        """Return the number of distinct customers created so far."""
        return len(self._opt_in)

    def preload(self, count: int) -> None:
        """Create `count` customers who signed up before the range, so early orders repeat realistically."""
        for _ in range(count):
            self._create()

    def next_customer(self) -> int:
        """Return the customer of the next order: a new one or a weighted repeat buyer."""
        rng = self._rng
        if not self._opt_in or rng.random() < NEW_CUSTOMER_SHARE:
            return self._create()
        index = bisect_right(self._cum_loyalty, rng.random() * self._cum_loyalty[-1])
        self._evolve(index)
        return index

    def _create(self) -> int:
        """Add a customer with a heavy-tailed loyalty weight; return its index."""
        rng = self._rng
        index = len(self._opt_in)
        loyalty = min(rng.paretovariate(LOYALTY_PARETO_ALPHA), LOYALTY_CAP)
        previous = self._cum_loyalty[-1] if index else 0.0
        self._cum_loyalty.append(previous + loyalty)
        identity = _mix64(self._seed_key ^ index)
        self._identity.append(identity)
        self._email_key.append(_mix64(identity))
        self._opt_in.append(rng.random() < OPT_IN_SHARE)
        return index

    def _evolve(self, index: int) -> None:
        """Occasionally change a returning customer's email address or marketing consent."""
        rng = self._rng
        opted_in = self._opt_in[index]
        if rng.random() < (OPT_OUT_FLIP_RATE if opted_in else OPT_IN_FLIP_RATE):
            self._opt_in[index] = not opted_in
        if rng.random() < EMAIL_CHANGE_RATE:
            self._email_key[index] = _mix64(self._email_key[index])

    def opted_in(self, index: int) -> bool:
        """Return the customer's current marketing consent."""
        return bool(self._opt_in[index])

    def describe(self, index: int) -> tuple[str, str, str, str, str]:
        """Return (customer_id, canonical email, first name, last name, country) as of now."""
        identity = self._identity[index]
        country = _COUNTRY_TABLE[((identity & _HASH_LOW_MASK) * len(_COUNTRY_TABLE)) >> _HASH_BITS]
        pool = NAME_POOLS[country]
        first = pool.first[((identity >> _HASH_BITS) & _NAME_MASK) % len(pool.first)]
        last = pool.last[(identity >> (_HASH_BITS + _NAME_BITS)) % len(pool.last)]
        email = _email(self._email_key[index], _SLUGS[first], _SLUGS[last], EMAIL_DOMAINS[country])
        return f"{CUSTOMER_ID_PREFIX}{index + 1:0{CUSTOMER_ID_WIDTH}d}", email, first, last, country


def _email(key: int, first: str, last: str, domains: Sequence[str]) -> str:
    """Build a canonical (trimmed, lower-case) email address from a hash key and name slugs."""
    local = EMAIL_PATTERNS[key % len(EMAIL_PATTERNS)].format(
        first,
        last,
        first[:1],
        (key >> EMAIL_NUMBER_SHIFT) % EMAIL_NUMBER_MODULUS,
        EMAIL_BIRTH_YEAR_FIRST + (key >> EMAIL_YEAR_SHIFT) % EMAIL_BIRTH_YEAR_SPAN,
    )
    return f"{local}@{domains[(key >> EMAIL_DOMAIN_SHIFT) % len(domains)]}"


def _render_instant(instant: int, day: _Day, rng: random.Random) -> str:
    """Render an epoch second mostly as Amsterdam local time, sometimes as UTC `Z`."""
    if rng.random() < UTC_RENDER_SHARE:
        return time.strftime(UTC_FORMAT, time.gmtime(instant))
    if day.fixed_offset is None:
        return datetime.fromtimestamp(instant, LOCAL_TZ).isoformat()
    minutes, seconds = divmod(instant - day.start, SECONDS_PER_MINUTE)
    hours, minutes = divmod(minutes, MINUTES_PER_HOUR)
    return f"{day.local_prefix}{hours:02d}:{minutes:02d}:{seconds:02d}{day.fixed_offset}"


def _intraday_instants(day: _Day, count: int, rng: random.Random) -> list[int]:
    """Return `count` sorted epoch seconds within `day`, following the hourly profile."""
    draw, hours = rng.random, len(_HOUR_TABLE)
    offsets = []
    for _ in range(count):
        offset = _HOUR_TABLE[int(draw() * hours)] * SECONDS_PER_HOUR + int(draw() * SECONDS_PER_HOUR)
        if offset >= day.length:
            offset -= SECONDS_PER_HOUR
        offsets.append(day.start + offset)
    offsets.sort()
    return offsets


def _messy_email(email: str, rng: random.Random) -> str:
    """Return the email as captured: sometimes missing, mixed-case or padded."""
    draw = rng.random()
    if draw < EMAIL_MISSING_SHARE:
        return ""
    draw -= EMAIL_MISSING_SHARE
    if draw < EMAIL_MIXED_CASE_SHARE:
        return email.title() if draw < EMAIL_MIXED_CASE_SHARE / 2 else email.upper()
    draw -= EMAIL_MIXED_CASE_SHARE
    if draw < EMAIL_PADDED_SHARE:
        return f" {email} " if draw < EMAIL_PADDED_SHARE / 2 else f"{email}  "
    return email


def _price_catalogue(rng: random.Random) -> dict[int, dict[str, tuple[str, ...]]]:
    """Return per year and category a list of shelf prices spread log-normally around the median."""
    quantiles = [NormalDist().inv_cdf((i + QUANTILE_MIDPOINT) / PRICE_POINTS) for i in range(PRICE_POINTS)]
    catalogue: dict[int, dict[str, tuple[str, ...]]] = {}
    for year in range(FIRST_DAY.year, LAST_DAY.year + 1):
        inflation = (1 + PRICE_INFLATION_PER_YEAR) ** (year - FIRST_DAY.year)
        catalogue[year] = {
            c.name: tuple(
                _shelf_price(c, c.median_price * inflation * math.exp(c.price_sigma * z), rng)
                for z in quantiles
            )
            for c in CATEGORIES
        }
    return catalogue


def _shelf_price(category: _Category, amount: float, rng: random.Random) -> str:
    """Round an amount to a category-bounded shelf price with a typical ending, as `euros.cents`."""
    euros = max(category.min_price, min(category.max_price, int(amount)))
    return f"{euros}.{_ENDING_TABLE[int(rng.random() * len(_ENDING_TABLE))]}"


class _OrderFactory:
    """Turns an order number and instant into a full order record."""

    def __init__(self, rng: random.Random, customers: _CustomerBook) -> None:
        """Use `rng` for every per-order draw and `customers` for who buys."""
        self._rng = rng
        self._customers = customers
        self._prices = _price_catalogue(rng)

    def row(self, order_no: int, instant: int, day: _Day) -> list[str]:
        """Build one order record in COLUMNS order."""
        rng, customers = self._rng, self._customers
        draw = rng.random
        index = customers.next_customer()
        customer_id, email, first_name, last_name, country = customers.describe(index)
        categories = _CATEGORY_TABLES[day.season]
        category = categories[int(draw() * len(categories))]
        prices = self._prices[day.day.year][category]
        return [
            f"{ORDER_ID_PREFIX}{order_no:0{ORDER_ID_WIDTH}d}",
            _render_instant(instant, day, rng),
            customer_id,
            _messy_email(email, rng),
            first_name,
            last_name,
            "" if draw() < COUNTRY_MISSING_SHARE else country,
            category,
            _QUANTITY_TABLE[int(draw() * len(_QUANTITY_TABLE))],
            FREE_PRICE if draw() < FREE_ITEM_SHARE else prices[int(draw() * len(prices))],
            _STATUS_TABLE[int(draw() * len(_STATUS_TABLE))],
            "true" if customers.opted_in(index) else "false",
        ]


def _iter_orders(rows: int, seed: int) -> Iterator[list[str]]:
    """Yield the orders day by day in chronological order."""
    rng = random.Random(seed)
    days = _calendar()
    counts = _orders_per_day(rows, days, rng)
    customers = _CustomerBook(rng, seed)
    customers.preload(round(rows * NEW_CUSTOMER_SHARE * EXISTING_CUSTOMER_SHARE))
    factory = _OrderFactory(rng, customers)
    order_no = 0
    for day, count in zip(days, counts):
        for instant in _intraday_instants(day, count, rng):
            order_no += 1
            yield factory.row(order_no, instant, day)
    logger.debug("generated %d orders for %d customers (seed %d)", order_no, len(customers), seed)


def generate_orders(rows: int, seed: int = DEFAULT_SEED) -> Iterator[list[str]]:
    """Yield `rows` order records as lists of 12 strings in CONTRACT column order."""
    if isinstance(rows, bool):
        raise TypeError("rows must be an int, got bool")
    rows, seed = operator.index(rows), operator.index(seed)
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    return _iter_orders(rows, seed)


def write_sample(path: pathlib.Path | str, rows: int, seed: int = DEFAULT_SEED) -> int:
    """Write the header and `rows` orders to `path` (creating parent dirs); return the number of data rows written."""
    orders = generate_orders(rows, seed)
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    written = itertools.count()
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
            writer.writerows(row for row, _ in zip(orders, written))
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    total = next(written)
    logger.info("wrote %d sample orders to %s (seed %d)", total, target, seed)
    return total
