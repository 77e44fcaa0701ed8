"""Every chart of the dashboard, in one shared look: purchases, buyers and revenue per month, February and December
marked because they are the two campaign months.

Charts are pure: they take a DataFrame, derive their helper columns on a copy, and return an Altair chart. No width
is set, so `st.altair_chart(chart, width="stretch")` fills the column.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import altair as alt
import pandas as pd

from dashboard import formats

logger = logging.getLogger(__name__)

MEASURES: dict[str, str] = {"order_count": "Purchases", "customer_count": "Buyers", "revenue": "Revenue"}
AXIS_TITLES: dict[str, str] = {"order_count": "Purchases", "customer_count": "Buyers", "revenue": "Revenue (EUR)"}
CURRENCY_MEASURES = frozenset({"revenue"})

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FEBRUARY = 2
DECEMBER = 12
SEASONS: dict[int, str] = {FEBRUARY: "February", DECEMBER: "December"}
OTHER_MONTHS = "Other months"
SEASON_TITLE = "Campaign month"

SEASON_COLOURS: dict[str, str] = {"February": "#E45756", "December": "#4C78A8", OTHER_MONTHS: "#BAB0AC"}
YEAR_SCHEME = "dark2"
BAND_OPACITY = 0.18
POINT_SIZE = 45
LINE_WIDTH = 2
CHART_HEIGHT = 360
LABEL_FONT_SIZE = 12
TITLE_FONT_SIZE = 13
LEGEND_ORIENT = "top"

MONTH_AXIS_FORMAT = "%b %Y"
COUNT_AXIS_FORMAT = ",d"
REVENUE_AXIS_FORMAT = ",.0f"

ChartT = TypeVar("ChartT", alt.Chart, alt.LayerChart)


def monthly_chart(frame: pd.DataFrame, measure: str) -> alt.Chart:
    """One bar per month for `measure`, February and December in their own colours."""
    months = _prepared(frame, measure)
    chart = (
        alt.Chart(months)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):T", title="Month", axis=alt.Axis(format=MONTH_AXIS_FORMAT)),
            y=_measure_axis(measure),
            color=_season_colour(tuple(SEASON_COLOURS)),
            tooltip=_tooltips(measure),
        )
    )
    return _styled(chart)


def year_over_year_chart(frame: pd.DataFrame, measure: str) -> alt.LayerChart:
    """One line per year over Jan..Dec for `measure`, with February and December shaded behind the lines."""
    months = _prepared(frame, measure)
    month_of_year = alt.X(
        "month_name:O", title="Month", scale=alt.Scale(domain=list(MONTH_NAMES)), axis=alt.Axis(labelAngle=0)
    )
    bands = (
        alt.Chart(_campaign_months())
        .mark_rect(opacity=BAND_OPACITY)
        .encode(x=month_of_year, color=_season_colour(tuple(SEASONS.values())), tooltip=[_text("season", SEASON_TITLE)])
    )
    lines = (
        alt.Chart(months)
        .mark_line(strokeWidth=LINE_WIDTH, point=alt.OverlayMarkDef(size=POINT_SIZE, filled=True))
        .encode(
            x=month_of_year,
            y=_measure_axis(measure),
            color=alt.Color("year:O", title="Year", scale=alt.Scale(scheme=YEAR_SCHEME)),
            tooltip=_tooltips(measure),
        )
    )
    return _styled(alt.layer(bands, lines).resolve_scale(color="independent"))


def _prepared(frame: pd.DataFrame, measure: str) -> pd.DataFrame:
    """A new DataFrame with the measure and the helper columns the charts encode; the caller's frame is untouched."""
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; expected one of {', '.join(MEASURES)}")
    months = pd.to_datetime(frame["month"])
    names = months.dt.month.map(lambda number: MONTH_NAMES[number - 1]).astype(str)
    return pd.DataFrame(
        {
            "month": months,
            measure: frame[measure],
            "year": months.dt.year,
            "month_name": names,
            "month_label": names + " " + months.dt.year.astype(str),
            "season": months.dt.month.map(SEASONS).fillna(OTHER_MONTHS).astype(str),
            "value_label": frame[measure].map(_value_formatter(measure)).astype(str),
        }
    )


def _value_formatter(measure: str) -> Callable[[float], str]:
    """How a tooltip writes one value: euros with cents, or a whole number with thousands separators."""
    if measure in CURRENCY_MEASURES:
        return formats.euro
    return formats.count


def _campaign_months() -> pd.DataFrame:
    """The months the year-over-year chart shades."""
    return pd.DataFrame(
        {"month_name": [MONTH_NAMES[number - 1] for number in SEASONS], "season": list(SEASONS.values())}
    )


def _measure_axis(measure: str) -> alt.Y:
    """The y axis of a measure, titled for people and formatted for its unit."""
    number_format = REVENUE_AXIS_FORMAT if measure in CURRENCY_MEASURES else COUNT_AXIS_FORMAT
    return alt.Y(f"{measure}:Q", title=AXIS_TITLES[measure], axis=alt.Axis(format=number_format))


def _season_colour(seasons: tuple[str, ...]) -> alt.Color:
    """Colour by campaign month, always with the same colour for the same month."""
    scale = alt.Scale(domain=list(seasons), range=[SEASON_COLOURS[season] for season in seasons])
    return alt.Color("season:N", title=SEASON_TITLE, scale=scale)


def _tooltips(measure: str) -> list[alt.Tooltip]:
    """Month as 'Feb 2024' and the measure as people write it."""
    return [_text("month_label", "Month"), _text("value_label", MEASURES[measure])]


def _text(field: str, title: str) -> alt.Tooltip:
    """A tooltip line showing a text column as it is."""
    return alt.Tooltip(f"{field}:N", title=title)


def _styled(chart: ChartT) -> ChartT:
    """The shared look: height, font sizes, legend on top, no frame around the plot."""
    return (
        chart.properties(height=CHART_HEIGHT)
        .configure_axis(labelFontSize=LABEL_FONT_SIZE, titleFontSize=TITLE_FONT_SIZE)
        .configure_legend(labelFontSize=LABEL_FONT_SIZE, titleFontSize=TITLE_FONT_SIZE, orient=LEGEND_ORIENT)
        .configure_view(strokeWidth=0)
    )
