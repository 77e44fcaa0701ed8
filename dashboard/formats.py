"""How the dashboard writes numbers and dates, alike on every page and in every browser: counts with thousands
separators, money in euros with cents ("€ 1,234.56"), today's date in the business time zone.

The tables take printf-style formats, not Streamlit's "localized" or "euro", which follow the reader's browser
locale: a German browser would show "1.234,56 €" in one table beside "€ 1,234.56" in the metrics above it.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

COUNT_COLUMN = "%,d"
EURO_COLUMN = "€ %,.2f"


def count(value) -> str:
    """A whole number with thousands separators: 12,345."""
    return f"{int(value):,}"


def euro(amount) -> str:
    """An amount in euros with cents: € 1,234.56."""
    return f"€ {amount:,.2f}"


def today(time_zone: str, now: datetime | None = None) -> date:
    """Today's date in the business time zone (what an export's file name carries; the server may run in UTC)."""
    return (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(time_zone)).date()
