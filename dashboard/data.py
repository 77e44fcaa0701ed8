"""All database access of the dashboard: one engine, parameterised queries, caches keyed on the published run.

Every cached read takes `version` (the run id in `mrt.publication`) as its first argument: after a new run has
been published, by this app or from the command line, the next page view asks with a new version and reads fresh
data; while nothing changed, nobody waits on the database.
"""
from __future__ import annotations

import functools
import io
import logging
import os
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import psycopg2
import sqlalchemy as sa
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard.audience import FORMULA_START, MARTS, AudienceFilter, like_pattern
from elt import build, db, embedded_pg, lock
from elt.config import Settings, load_settings
from elt.errors import EltError, first_line

logger = logging.getLogger(__name__)

PREVIEW_PAGE_SIZE = 50
DATA_TTL = "1h"
RUNS_TTL = "3s"
CONNECT_TIMEOUT_SECONDS = 5
UTF8_BOM = b"\xef\xbb\xbf"
MISSING_TABLE = "42P01"
MISSING_SCHEMA = "3F000"
PUBLISHED_RUN = "select run_id from mrt.publication"
REJECTS_SHOWN = 200
REJECTS_ORDER = "reject_reason, order_id"
PUBLISHED_REJECTS = "raw.orders_rejected"
REFUSED_REJECTS = "meta.refused_rejects"


@dataclass(frozen=True)
class RejectedRows:
    """One run's rejected rows: the published run's are in the raw layer; those of a run refused for too many
    rejects (which published nothing) in `meta.refused_rejects`. Hashable: the reads below are cached on it."""

    run_id: int
    refused: bool = False

    @property
    def table(self) -> str:
        return REFUSED_REJECTS if self.refused else PUBLISHED_REJECTS

    @property
    def version(self) -> int | None:
        """The published run to check a read against (a refused run's rows do not change with a publish)."""
        return None if self.refused else self.run_id


class Unavailable(Exception):
    """The database cannot be reached; the message names the host, never the password."""


class Republished(Exception):
    """Another run was published while a page view read the data (outside a page view; inside, it starts again)."""


@dataclass(frozen=True)
class Publication:
    """The run whose data is published, and when."""

    run_id: int
    input_path: str
    published_at: datetime
    business_time_zone: str
    order_count: int
    missing: tuple[str, ...] = ()  # tables this version reads that the published data lacks (an older build)


def database_url() -> str:
    """DATABASE_URL from the environment or .streamlit/secrets.toml, else the embedded PostgreSQL."""
    settings = load_settings()
    configured = _configured_url(settings)
    try:
        return db.libpq_url(configured) if configured else db.resolve_url(settings)
    except EltError as exc:
        raise Unavailable(str(exc)) from None


def _configured_url(settings: Settings) -> str | None:
    """DATABASE_URL from the environment or .streamlit/secrets.toml; None means the embedded PostgreSQL."""
    return settings.database_url or _secret("DATABASE_URL")


def _started_embedded_again() -> bool:
    """Start the embedded default again if it was stopped (`make pg_stop` under a running dashboard); return
    whether it was. A database that is configured, or one that runs, is left as it is."""
    if not embedded_stopped():
        return False
    database_url()  # starts it, or raises Unavailable with the reason it cannot
    logger.info("the embedded PostgreSQL had been stopped: started it again")
    return True


def embedded_stopped() -> bool:
    """Whether the database is the embedded default and is not running (`make pg_stop`). A page view starts it
    again; what the app does by itself in the background (the sidebar's look for runs) leaves it stopped."""
    settings = load_settings()
    return not _configured_url(settings) and not embedded_pg.is_running(settings.data_dir)


def _secret(name: str) -> str | None:
    """A top-level value of .streamlit/secrets.toml, or None when there is no such file or key."""
    try:
        return st.secrets.get(name)
    except Exception:  # noqa: BLE001 - no secrets file is a normal state
        return None


@st.cache_resource(show_spinner=False)
def engine() -> sa.Engine:
    """The one connection pool of this app."""
    url = database_url()
    return sa.create_engine(
        db.sqlalchemy_url(url),
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "dashboard"},
    )


def _fetch(sql: str, params: dict | None = None, *, version: int | None = None) -> pd.DataFrame:
    """Run one parameterised query; connection failures become Unavailable with the host only (after one more try
    when the embedded default had been stopped and is started again).

    With `version` (the published run the page view shows), the same connection then reads which run is published:
    if another one was published meanwhile, the rows may be the new run's, and the page view starts again rather
    than show two runs' numbers side by side (nor cache the new run's rows under the old run's id).
    """
    for attempt in (1, 2):
        try:
            with engine().connect() as conn:
                result = conn.exec_driver_sql(sql, params or {})
                frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
                published = version if version is None else conn.exec_driver_sql(PUBLISHED_RUN).scalar()
            break
        except sa.exc.OperationalError as exc:
            # Once more only when the embedded default had been stopped and runs again now.
            if attempt == 2 or not _started_embedded_again():
                raise _unreachable(exc) from None
    if published != version:
        _start_again(version, published)
    return frame


def _unreachable(exc: Exception) -> Unavailable:
    """What the pages say when the database cannot be reached: its host, never the password."""
    logger.warning("database unreachable: %s", first_line(getattr(exc, "orig", None) or exc))
    return Unavailable(f"The database at {db.describe_host(database_url())} cannot be reached.")


def _start_again(version: int, published: int) -> None:
    """Restart the page view on the newly published run (outside a page view: raise Republished)."""
    logger.info("run %s was published while a page view read run %s: starting the view again", published, version)
    if get_script_run_ctx() is not None:
        st.rerun()
    raise Republished(f"run {published} was published while run {version} was being read")


def _fetch_or_empty(sql: str, params: dict | None = None) -> pd.DataFrame | None:
    """Like _fetch, but None when the tables do not exist yet (no run has published)."""
    try:
        return _fetch(sql, params)
    except sa.exc.ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) in (MISSING_TABLE, MISSING_SCHEMA):
            return None
        raise


def publication() -> Publication | None:
    """The published run, read fresh on every page view (one tiny row); None before the first run."""
    rows = _fetch_or_empty(
        "select run_id, input_path, published_at, business_time_zone, order_count, "
        "array(select name from unnest(%(tables)s::text[]) as name where to_regclass(name) is null) as missing "
        "from mrt.publication",
        {"tables": _built_tables()},
    )
    if rows is None or rows.empty:
        return None
    row = rows.iloc[0]
    return Publication(
        int(row.run_id), row.input_path, row.published_at.to_pydatetime(), row.business_time_zone,
        int(row.order_count), tuple(row.missing),
    )


@functools.cache
def _built_tables() -> list[str]:
    """The dwh and mrt tables this version's build publishes (from sql/build_order.txt)."""
    return build.built_tables(build.build_order())


@st.cache_data(ttl=DATA_TTL, show_spinner=False)
def headline(version: int) -> dict[str, float]:
    """Headline numbers of the published data."""
    frame = _fetch(
        "select customers, purchases, revenue, february, february_opted_in, december, december_opted_in "
        "from mrt.overview",
        version=version,
    )
    return {name: frame.iloc[0][name] for name in frame.columns}


@st.cache_data(ttl=DATA_TTL, show_spinner=False)
def filter_options(version: int, slug: str) -> tuple[list[int], list[str]]:
    """The years with purchases in the mart's month, and the countries in the mart."""
    mart = MARTS[slug]
    years = _fetch(
        "select extract(year from month)::integer as order_year from mrt.orders_by_month "
        "where extract(month from month) = %(month)s and order_count > 0 order by 1",
        {"month": mart.month_of_year},
        version=version,
    )
    countries = _fetch(
        f"select distinct country from {mart.table} where country is not null order by 1", version=version
    )
    return [int(y) for y in years.order_year], list(countries.country)


def _audience_sql(slug: str, audience: AudienceFilter) -> tuple[str, dict]:
    """The filtered audience as SQL with parameters. Table names come from MARTS, never from user input."""
    mart = MARTS[slug]
    params: dict = {"month": mart.month_of_year}
    source = mart.table
    if audience.years:
        # Counts and revenue for the chosen years only, from the customer x season x year mart: one year is a
        # filtered scan of its rows, several years add up each customer's rows of those years.
        params["years"] = list(audience.years)
        if len(audience.years) == 1:
            source = """(
                select customer_id, email, first_name, last_name, country, marketing_opt_in, order_count, revenue,
                       first_order_at, last_order_at, array[order_year] as years, search_text
                from mrt.seasonal_customer_years
                where order_month_of_year = %(month)s and order_year = any(%(years)s)
            )"""
        else:
            source = """(
                select customer_id, email, first_name, last_name, country, marketing_opt_in,
                       sum(order_count)::integer as order_count, sum(revenue) as revenue,
                       min(first_order_at) as first_order_at, max(last_order_at) as last_order_at,
                       array_agg(order_year order by order_year) as years, search_text
                from mrt.seasonal_customer_years
                where order_month_of_year = %(month)s and order_year = any(%(years)s)
                group by customer_id, email, first_name, last_name, country, marketing_opt_in, search_text
            )"""
    conditions = ["true"]
    if audience.countries:
        conditions.append("country = any(%(countries)s)")
        params["countries"] = list(audience.countries)
    if audience.opted_in_only:
        conditions.append("marketing_opt_in")
    if audience.min_orders > 1:
        conditions.append("order_count >= %(min_orders)s")
        params["min_orders"] = audience.min_orders
    if audience.min_revenue > 0:
        conditions.append("revenue >= %(min_revenue)s")
        params["min_revenue"] = audience.min_revenue
    if audience.search.strip():
        # search_text is lower(first_name last_name email), so this is ILIKE on the three, without the per-row work.
        conditions.append("search_text like lower(%(pattern)s)")
        params["pattern"] = like_pattern(audience.search.strip())
    return f"select * from {source} as audience where {' and '.join(conditions)}", params


@st.cache_data(ttl=DATA_TTL, show_spinner=False, max_entries=500)
def audience_summary(version: int, slug: str, audience: AudienceFilter) -> dict[str, float]:
    """Size, purchases and revenue of the filtered audience."""
    sql, params = _audience_sql(slug, audience)
    frame = _fetch(
        f"select count(*) as customers, coalesce(sum(order_count), 0) as orders, "
        f"coalesce(sum(revenue), 0) as revenue from ({sql}) as filtered",
        params,
        version=version,
    )
    return {name: frame.iloc[0][name] for name in frame.columns}


@st.cache_data(ttl=DATA_TTL, show_spinner=False, max_entries=500)
def audience_preview(version: int, slug: str, audience: AudienceFilter, page: int, time_zone: str) -> pd.DataFrame:
    """One page of the filtered audience, best customers first, times in the business time zone; paged in SQL."""
    sql, params = _audience_sql(slug, audience)
    params.update(limit=PREVIEW_PAGE_SIZE, offset=max(page - 1, 0) * PREVIEW_PAGE_SIZE)
    frame = _fetch(
        f"select first_name, last_name, email, country, marketing_opt_in, order_count, revenue, years, "
        f"first_order_at, last_order_at, customer_id from ({sql}) as filtered "
        f"order by revenue desc, customer_id limit %(limit)s offset %(offset)s",
        params,
        version=version,
    )
    for column in ("first_order_at", "last_order_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert(time_zone)
    return frame


def _neutralised(column: str) -> str:
    """SQL for a text column with formula-looking values prefixed by a quote (OWASP CSV injection)."""
    return f"case when {column} ~ %(formula_start)s then '''' || {column} else {column} end"


def audience_export_sql(slug: str, audience: AudienceFilter, time_zone: str, semicolons: bool) -> tuple[str, dict]:
    """The SELECT behind the CSV export: spreadsheet-safe text cells, local times, optional decimal commas."""
    sql, params = _audience_sql(slug, audience)
    params.update(time_zone=time_zone, formula_start=FORMULA_START)
    revenue = "replace(revenue::text, '.', ',')" if semicolons else "revenue::text"
    local = "to_char({} at time zone %(time_zone)s, 'YYYY-MM-DD HH24:MI:SS')"
    export = (
        f"select {_neutralised('customer_id')} as customer_id, {_neutralised('email')} as email, "
        f"{_neutralised('first_name')} as first_name, {_neutralised('last_name')} as last_name, "
        f"{_neutralised('country')} as country, marketing_opt_in::text as marketing_opt_in, order_count, "
        f"{revenue} as revenue_eur, {local.format('first_order_at')} as first_order_at, "
        f"{local.format('last_order_at')} as last_order_at, array_to_string(years, ' ') as years "
        f"from ({sql}) as filtered order by revenue desc, customer_id"
    )
    return export, params


def audience_csv(slug: str, audience: AudienceFilter, time_zone: str, semicolons: bool) -> bytes:
    """The full filtered audience as a CSV file for spreadsheets: UTF-8 with BOM, streamed by COPY.

    With `semicolons` (Dutch Excel) the separator is ';' and decimals use ','. Text cells that start like a
    formula are neutralised; numbers and dates are left as they are.
    """
    export, params = audience_export_sql(slug, audience, time_zone, semicolons)
    return _csv(export, params, ";" if semicolons else ",")


def rejects_csv(rows: RejectedRows) -> bytes:
    """Every row the run rejected, with its reasons, as a CSV file for spreadsheets (as `audience_csv`: the
    records are the input's own text, so formula-looking cells are neutralised too)."""
    export = (
        f"select {_neutralised('order_id')} as order_id, {_neutralised('reject_reason')} as reject_reason, "
        f"{_neutralised('raw_record')} as raw_record, {_neutralised('source_file')} as source_file "
        f"from {rows.table} where run_id = %(run_id)s order by {REJECTS_ORDER}"
    )
    return _csv(export, {"formula_start": FORMULA_START, "run_id": rows.run_id}, ",")


def _csv(select: str, params: dict, delimiter: str) -> bytes:
    """A query's rows as CSV: UTF-8 with a BOM (for Excel), a header, streamed by COPY."""
    raw = engine().raw_connection()
    try:
        with raw.cursor() as cur:
            bound = cur.mogrify(select, params).decode()
            buffer = io.BytesIO()
            buffer.write(UTF8_BOM)
            cur.copy_expert(f"copy ({bound}) to stdout with (format csv, header, delimiter '{delimiter}')", buffer)
        return buffer.getvalue()
    finally:
        raw.close()


@st.cache_data(ttl=DATA_TTL, show_spinner=False)
def orders_by_month(version: int) -> pd.DataFrame:
    """Purchases, buyers and revenue per month."""
    frame = _fetch(
        "select month, order_count, customer_count, revenue from mrt.orders_by_month order by month", version=version
    )
    frame["month"] = pd.to_datetime(frame["month"])
    frame["revenue"] = frame["revenue"].astype(float)
    return frame


@st.cache_data(ttl=RUNS_TTL, show_spinner=False)
def run_history(limit: int = 50) -> pd.DataFrame | None:
    """The latest runs from the run log (short ttl: runs change without a publish)."""
    return _fetch_or_empty(
        "select run_id, status, started_at, finished_at, current_stage, triggered_by, input_path, rows_read, "
        "rows_loaded, rows_rejected, rows_duplicate, stage_seconds, error_message "
        "from meta.elt_runs order by run_id desc limit %(limit)s",
        {"limit": limit},
    )


@st.cache_data(ttl=DATA_TTL, show_spinner=False)
def latest_rejects(rows: RejectedRows, limit: int = REJECTS_SHOWN) -> pd.DataFrame:
    """The first `limit` rejected rows of the run, with their reasons."""
    return _fetch(
        f"select order_id, reject_reason, raw_record, source_file from {rows.table} where run_id = %(run_id)s "
        f"order by {REJECTS_ORDER} limit %(limit)s",
        {"run_id": rows.run_id, "limit": limit},
        version=rows.version,
    )


@st.cache_data(ttl=DATA_TTL, show_spinner=False)
def reject_count(rows: RejectedRows) -> int:
    """How many rows the run rejected."""
    count = _fetch(
        f"select count(*) from {rows.table} where run_id = %(run_id)s", {"run_id": rows.run_id}, version=rows.version
    )
    return int(count.iloc[0, 0])


@st.cache_data(ttl=DATA_TTL, show_spinner=False)
def reject_reasons(rows: RejectedRows) -> pd.DataFrame:
    """How many of the run's rejected rows each rule rejected (a row may break several: "rule: detail; …")."""
    return _fetch(
        "select substring(reason from '^[^:]+') as reason, count(*) as rows "
        f"from {rows.table}, unnest(string_to_array(reject_reason, '; ')) as reason where run_id = %(run_id)s "
        "group by 1 order by 2 desc, 1",
        {"run_id": rows.run_id},
        version=rows.version,
    )


@st.cache_data(ttl=RUNS_TTL, show_spinner=False)
def refused_run() -> int | None:
    """The run whose rejected rows `meta.refused_rejects` keeps (the newest one refused for too many rejects), if
    any (short ttl: a refused run publishes nothing, so the published run does not say when it changes)."""
    rows = _fetch_or_empty(f"select max(run_id) from {REFUSED_REJECTS}")
    return None if rows is None or pd.isna(rows.iloc[0, 0]) else int(rows.iloc[0, 0])


def forget_run_history() -> None:
    """Drop the cached run history (a run has just ended: the next read must see how)."""
    run_history.clear()


def run_stage(run_id: int) -> str | None:
    """The stage a run has reached by the run log (read fresh: it changes as the run goes); None once it ended."""
    rows = _fetch_or_empty("select current_stage from meta.elt_runs where run_id = %(run_id)s", {"run_id": run_id})
    return None if rows is None or rows.empty else rows.iloc[0, 0]


@dataclass(frozen=True)
class RunInProgress:
    """The run that holds the run lock, as far as the run log tells so far."""

    since: datetime  # when the run's lock connection started
    run_id: int | None = None  # None until the run has written its row in the run log
    started_at: datetime | None = None
    stage: str = "starting"
    triggered_by: str | None = None


def run_is_in_progress() -> bool:
    """Whether a run holds the run lock (read fresh, from the database's lock table)."""
    return _lock_holder_started_at() is not None


def run_in_progress() -> RunInProgress | None:
    """The run holding the run lock with its row in the run log (the newest still 'running'), or None; read fresh."""
    since = _lock_holder_started_at()
    if since is None:
        return None
    rows = _fetch_or_empty(
        "select run_id, started_at, current_stage, triggered_by from meta.elt_runs "
        "where status = 'running' order by run_id desc limit 1"
    )
    if rows is None or rows.empty:
        return RunInProgress(since)  # its first moments: the run log has no row for it yet
    row = rows.iloc[0]
    return RunInProgress(
        since, int(row.run_id), row.started_at.to_pydatetime(), row.current_stage or "starting", row.triggered_by
    )


def _lock_holder_started_at() -> datetime | None:
    """When the connection holding the run lock started (a connection of the pool asks), or None."""
    try:
        raw = engine().raw_connection()
    except (sa.exc.OperationalError, psycopg2.OperationalError) as exc:  # a raw connection's error comes unwrapped
        raise _unreachable(exc) from None
    try:
        return lock.holder_started_at(raw.driver_connection)
    finally:
        raw.close()


def clear_caches() -> None:
    """Drop every cached read (after this app published a run)."""
    st.cache_data.clear()


def environment_input() -> str | None:
    """The input file a rerun from the app reads (ELT_INPUT), or None for the bundled sample."""
    return os.environ.get("ELT_INPUT") or None


def business_time_zone() -> str:
    """The business time zone the ELT is configured with (what a page uses before any run has published one)."""
    return load_settings().business_time_zone
