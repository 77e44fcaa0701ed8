"""How the dashboard writes numbers, alike on every page and in every browser: counts with thousands separators,
money in euros with cents ("€ 1,234.56").

The tables take printf-style formats, not Streamlit's "localized" or "euro", which follow the reader's browser
locale: a German browser would show "1.234,56 €" in one table beside "€ 1,234.56" in the metrics above it.
"""
from __future__ import annotations

COUNT_COLUMN = "%,d"
EURO_COLUMN = "€ %,.2f"


def count(value) -> str:
    """A whole number with thousands separators: 12,345."""
    return f"{int(value):,}"


def euro(amount) -> str:
    """An amount in euros with cents: € 1,234.56."""
    return f"€ {amount:,.2f}"
