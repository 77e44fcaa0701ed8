"""Orders by month: purchases, buyers and revenue per calendar month, over time or year over year, with the table."""
from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from dashboard import charts, data, formats, frame

logger = logging.getLogger(__name__)

DEFAULT_MEASURE = "order_count"
OVER_TIME = "Over time"
YEAR_OVER_YEAR = "Year over year"
CHART_BUILDERS = {OVER_TIME: charts.monthly_chart, YEAR_OVER_YEAR: charts.year_over_year_chart}
EXPORT_COLUMNS = ["month", "order_count", "customer_count", "revenue"]
EXPORT_MONTH_FORMAT = "%Y-%m"
EXPORT_REVENUE_FORMAT = "%.2f"
EXPORT_ENCODING = "utf-8-sig"
TABLE_COLUMNS = {
    "month": st.column_config.DateColumn("Month", format="MMM YYYY"),
    "order_count": st.column_config.NumberColumn(charts.MEASURES["order_count"], format=formats.COUNT_COLUMN),
    "customer_count": st.column_config.NumberColumn(charts.MEASURES["customer_count"], format=formats.COUNT_COLUMN),
    "revenue": st.column_config.NumberColumn(charts.MEASURES["revenue"], format=formats.EURO_COLUMN),
}


def _choose_measure() -> str:
    """Purchases, buyers or revenue, kept in the URL."""
    chosen = st.segmented_control(
        "Measure", list(charts.MEASURES), format_func=charts.MEASURES.__getitem__, default=DEFAULT_MEASURE,
        required=True, key="measure", bind="query-params",
    )
    return chosen or DEFAULT_MEASURE


def _choose_view() -> str:
    """Over time or year over year, kept in the URL."""
    chosen = st.segmented_control(
        "View", list(CHART_BUILDERS), default=OVER_TIME, required=True, key="view", bind="query-params"
    )
    return chosen or OVER_TIME


def _csv(months: pd.DataFrame) -> bytes:
    """The table as a spreadsheet-friendly CSV: UTF-8 with BOM, comma separated, months as YYYY-MM."""
    export = months[EXPORT_COLUMNS].assign(month=months["month"].dt.strftime(EXPORT_MONTH_FORMAT))
    return export.to_csv(index=False, float_format=EXPORT_REVENUE_FORMAT).encode(EXPORT_ENCODING)


frame.use_app_navigation()
st.title("Orders by month")
publication = frame.require_data()
st.caption(
    f"Purchases are completed orders; months are calendar months in {publication.business_time_zone}. "
    "February and December, the campaign months, are highlighted."
)
months = data.orders_by_month(publication.run_id)
if months.empty:
    logger.info("run %s published no orders by month", publication.run_id)
    st.info(f"There are no orders yet, so there is nothing to chart. {frame.HOW_TO_RUN}")
    st.stop()

measure_column, view_column = st.columns(2)
with measure_column:
    measure = _choose_measure()
with view_column:
    view = _choose_view()
st.altair_chart(CHART_BUILDERS[view](months, measure), width="stretch")
st.dataframe(months[EXPORT_COLUMNS], column_config=TABLE_COLUMNS, hide_index=True, placeholder=formats.MISSING, width="stretch")
st.download_button(
    "Download table as CSV",
    data=_csv(months),
    file_name=f"orders_by_month_{formats.today(publication.business_time_zone).isoformat()}.csv",
    mime="text/csv",
    key="download_csv",
    on_click="ignore",
    icon=":material/download:",
)
