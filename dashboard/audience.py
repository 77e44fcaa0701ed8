"""Audience filters and the rules of an audience export, without I/O: what a filter means and how a file is named."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from dashboard import formats


@dataclass(frozen=True)
class Mart:
    """A seasonal audience mart."""

    slug: str
    table: str
    month_of_year: int
    label: str


# OWASP CSV injection: a text cell starting with one of these is read as a formula by spreadsheets.
# A PostgreSQL regular expression (ARE), where \t and \r are tab and carriage return.
FORMULA_START = r"^[-=+@\t\r]"

MARTS: dict[str, Mart] = {
    "february": Mart("february", "mrt.customers_february", 2, "February"),
    "december": Mart("december", "mrt.customers_december", 12, "December"),
}


@dataclass(frozen=True)
class AudienceFilter:
    """What a marketer narrowed the audience to. The defaults are the campaign-safe audience."""

    years: tuple[int, ...] = ()
    countries: tuple[str, ...] = ()
    opted_in_only: bool = True
    min_orders: int = 1
    min_revenue: Decimal = Decimal(0)
    search: str = field(default="")

    def describe(self) -> str:
        """The filters in words, for captions."""
        parts = [
            f"bought in {', '.join(map(str, self.years))}" if self.years else "any year",
            ", ".join(self.countries) if self.countries else "all countries",
            "opted in to marketing" if self.opted_in_only else "with and without marketing consent",
        ]
        if self.min_orders > 1:
            parts.append(f"at least {self.min_orders} orders")
        if self.min_revenue > 0:
            parts.append(f"at least {formats.euro(self.min_revenue)}")
        if self.search:
            parts.append(f"matching “{self.search}”")
        return " · ".join(parts)


def like_pattern(text: str) -> str:
    """A case-insensitive 'contains' pattern that matches the user's text literally (% and _ escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def export_file_name(mart: Mart, audience: AudienceFilter, today: date) -> str:
    """e.g. customers_february_2024_NL_2026-11-26.csv — the mart, the filters that narrow it, the date."""
    parts = [f"customers_{mart.slug}"]
    if audience.years:
        parts.append("-".join(str(year) for year in sorted(audience.years)))
    if audience.countries:
        parts.append("-".join(sorted(audience.countries)))
    if not audience.opted_in_only:
        parts.append("incl-not-opted-in")
    if audience.min_orders > 1:
        parts.append(f"min{audience.min_orders}orders")
    if audience.min_revenue > 0:
        amount = audience.min_revenue
        parts.append(f"min{int(amount) if amount == int(amount) else amount}eur")
    if audience.search:
        parts.append("search")
    parts.append(today.isoformat())
    return "_".join(parts) + ".csv"
