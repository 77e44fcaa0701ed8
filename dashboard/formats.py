"""How the dashboard writes numbers and dates, alike on every page and in every browser: counts with thousands
separators, money in euros with cents ("€ 1,234.56"), file sizes and durations a person reads at a glance, today's
date in the business time zone.

The tables take printf-style formats, not Streamlit's "localized" or "euro", which follow the reader's browser
locale: a German browser would show "1.234,56 €" in one table beside "€ 1,234.56" in the metrics above it.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

COUNT_COLUMN = "%,d"
EURO_COLUMN = "€ %,.2f"
MISSING = "—"  # what a table shows for a value that is not there (Streamlit's default is the word "None")


def count(value) -> str:
    """A whole number with thousands separators: 12,345."""
    return f"{int(value):,}"


def euro(amount) -> str:
    """An amount in euros with cents: € 1,234.56."""
    return f"€ {amount:,.2f}"


def file_name(path: str) -> str:
    """A file's (or folder's, or stored object's) name without its directory: what a page shows of a path."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def file_size(size: int) -> str:
    """Bytes in decimal units, as file managers show them: 812 bytes, 35.3 kB, 117.7 MB, 1.2 GB."""
    if size < 1000:
        return f"{size:,}\u00a0byte{'' if size == 1 else 's'}"
    scaled = float(size)
    for unit in ("kB", "MB", "GB"):
        scaled /= 1000
        if scaled < 999.95:
            return f"{scaled:.1f}\u00a0{unit}"  # a no-break space: never "2.9" at a line end and "MB" below
    return f"{scaled / 1000:,.1f}\u00a0TB"


def duration(seconds: float) -> str:
    """Seconds as a person reads them: 42 s, 3 min 5 s, 1 h 2 min (whole seconds, rounded down)."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def today(time_zone: str, now: datetime | None = None) -> date:
    """Today's date in the business time zone (what an export's file name carries; the server may run in UTC)."""
    return (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(time_zone)).date()
