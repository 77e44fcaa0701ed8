"""The one page design both seasonal audiences share: filters in the URL, size, preview, CSV download."""
from __future__ import annotations

import logging
from decimal import Decimal
from functools import partial

import streamlit as st

from dashboard import data, formats, frame
from dashboard.audience import MARTS, AudienceFilter, export_file_name

logger = logging.getLogger(__name__)

PREVIEW_COLUMNS = {
    "first_name": st.column_config.TextColumn("First name"),
    "last_name": st.column_config.TextColumn("Last name"),
    "email": st.column_config.TextColumn("Email"),
    "country": st.column_config.TextColumn("Country", width="small"),
    "marketing_opt_in": st.column_config.CheckboxColumn("Opted in", width="small"),
    "order_count": st.column_config.NumberColumn("Orders", format=formats.COUNT_COLUMN, width="small"),
    "revenue": st.column_config.NumberColumn("Revenue", format=formats.EURO_COLUMN),
    "years": st.column_config.ListColumn("Years"),
    "first_order_at": st.column_config.DatetimeColumn("First order", format="YYYY-MM-DD HH:mm"),
    "last_order_at": st.column_config.DatetimeColumn("Last order", format="YYYY-MM-DD HH:mm"),
    "customer_id": st.column_config.TextColumn("Customer id"),
}
# Shown as empty cells when missing, as in the CSV (the grid would show a grey "None", which reads as a name).
OPTIONAL_TEXT_COLUMNS = ["first_name", "last_name", "email", "country"]


def render(slug: str) -> None:
    """Draw the audience page of one mart."""
    mart = MARTS[slug]
    st.title(f"{mart.label} customers")
    st.caption(f"Everyone with at least one purchase (a completed order) in {mart.label}, in any year.")
    publication = frame.require_data()
    years, countries = data.filter_options(publication.run_id, slug)
    audience = _filters(years, countries)
    summary = data.audience_summary(publication.run_id, slug, audience)
    size = int(summary["customers"])
    _headline(size, summary, audience)
    if size == 0:
        st.info("No customers match these filters. Loosen a filter (for example another year, or all countries).")
    else:
        _preview(publication, slug, audience, size)
    _download(slug, audience, size, publication.business_time_zone)


def _filters(years: list[int], countries: list[str]) -> AudienceFilter:
    """The filter widgets, each kept in the URL so a link reproduces the audience."""
    left, middle, right = st.columns(3)
    chosen_years = left.multiselect("Bought in year", years, key="year", bind="query-params", placeholder="All years")
    chosen_countries = middle.multiselect("Country", countries, key="country", bind="query-params", placeholder="All countries")
    search = right.text_input("Search name or email", key="q", bind="query-params", max_chars=100)
    left, middle, right = st.columns(3)
    opted_in = left.toggle(
        "Opted in to marketing only", value=True, key="opted_in", bind="query-params",
        help="On by default: a campaign export must respect consent.",
    )
    min_orders = middle.number_input("Minimum orders", min_value=1, value=1, step=1, key="min_orders", bind="query-params")
    min_revenue = right.number_input(
        "Minimum revenue (€)", min_value=0.0, value=0.0, step=10.0, format="%.2f", key="min_revenue", bind="query-params"
    )
    return AudienceFilter(
        years=tuple(sorted(chosen_years)),
        countries=tuple(sorted(chosen_countries)),
        opted_in_only=opted_in,
        min_orders=int(min_orders),
        min_revenue=Decimal(str(min_revenue)).quantize(Decimal("0.01")),
        search=search.strip(),
    )


def _headline(size: int, summary: dict, audience: AudienceFilter) -> None:
    """The audience size and what it bought."""
    customers, orders, revenue = st.columns(3)
    customers.metric("Customers in this audience", formats.count(size))
    orders.metric("Their purchases", formats.count(summary["orders"]))
    revenue.metric("Their revenue", formats.euro(summary["revenue"]))
    st.caption(frame.as_text(audience.describe()))  # the search text is the user's, shown as written


def _preview(publication: data.Publication, slug: str, audience: AudienceFilter, size: int) -> None:
    """One page of the audience, best customers first, paged in SQL."""
    pages = max(1, -(-size // data.PREVIEW_PAGE_SIZE))
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Preview page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1, key="page"))
    rows = data.audience_preview(publication.run_id, slug, audience, page, publication.business_time_zone)
    rows[OPTIONAL_TEXT_COLUMNS] = rows[OPTIONAL_TEXT_COLUMNS].fillna("")
    st.dataframe(rows, column_config=PREVIEW_COLUMNS, hide_index=True, placeholder=formats.MISSING, width="stretch")
    first = (page - 1) * data.PREVIEW_PAGE_SIZE + 1
    st.caption(f"Showing {first:,}–{first + len(rows) - 1:,} of {size:,}, highest revenue first. The download has all of them.")


def _download(slug: str, audience: AudienceFilter, size: int, time_zone: str) -> None:
    """Download of the full filtered audience, built only when clicked."""
    semicolons = st.toggle(
        "Excel with ; as separator (Dutch/European settings: decimal comma)", key="semicolons",
        help="Use this if Excel puts every row in one column.",
    )
    st.download_button(
        f"Download {size:,} customers as CSV" if size else "Nothing to download",
        data=partial(data.audience_csv, slug, audience, time_zone, semicolons),
        file_name=export_file_name(MARTS[slug], audience, formats.today(time_zone)),
        mime="text/csv",
        on_click="ignore",
        type="primary",
        disabled=size == 0,
        icon=":material/download:",
    )
