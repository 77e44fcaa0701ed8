"""Data pipeline: the run history from the run log and the latest rejected rows, for the data team: the published
run's, and those of a newer run refused for too many rejects (it published nothing; its rows say what broke).

While a run is in progress (from this app, another server or the command line), the history redraws itself every
few seconds and says which stage the run is in; when the run ends, the whole page is drawn again.
"""
import functools

import pandas as pd
import streamlit as st

from dashboard import data, formats, frame

FOLLOW_SECONDS = 2.0

frame.use_app_navigation()

st.title("Data pipeline")
st.caption("Every ELT run, newest first, and the rows the latest runs rejected.")


def _history(following: bool) -> None:
    """The run history; `following`: a run was in progress when the page was drawn (this part then redraws)."""
    try:
        runs = data.run_history()
        in_progress = data.run_in_progress()
    except data.Unavailable as exc:
        st.error(f"{frame.sentence(str(exc))} Check `DATABASE_URL` or start the database (`make db`).")
        st.stop()
    if following and in_progress is None:  # the run has ended: the whole page again (new rejects, maybe)
        data.forget_run_history()  # else the cached history, seconds old, would show the run killed
        st.rerun()
    if runs is None or runs.empty:
        st.info(f"No run yet. {frame.HOW_TO_RUN}")
        st.stop()

    # A run still marked 'running' that does not hold the run lock was killed; the next run will record that.
    live = runs.run_id == (in_progress.run_id if in_progress else None)
    runs.loc[(runs.status == "running") & ~live, "status"] = "interrupted"
    runs["seconds"] = (runs.finished_at - runs.started_at).dt.total_seconds()
    runs.loc[live, "seconds"] = (pd.Timestamp.now(tz="UTC") - runs.loc[live, "started_at"]).dt.total_seconds()
    if in_progress:
        st.info(f"{frame.run_in_progress_text(in_progress)} This page follows it.", icon=":material/progress_activity:")
    runs[["current_stage", "error_message"]] = runs[["current_stage", "error_message"]].fillna("")
    runs["stages"] = runs.stage_seconds.map(
        lambda stages: " · ".join(f"{k} {v:.1f}s" for k, v in (stages or {}).items())
    )
    _table(runs)


def _table(runs: pd.DataFrame) -> None:
    """The runs, newest first."""
    st.dataframe(
        runs[["run_id", "status", "started_at", "seconds", "rows_read", "rows_loaded", "rows_rejected",
              "rows_duplicate", "current_stage", "error_message", "stages", "triggered_by", "input_path"]],
        column_config={
            "run_id": st.column_config.NumberColumn("Run", format="%d"),
            "status": st.column_config.TextColumn("Status"),
            "started_at": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "seconds": st.column_config.NumberColumn("Took (s)", format="%.1f"),
            "rows_read": st.column_config.NumberColumn("Read", format=formats.COUNT_COLUMN),
            "rows_loaded": st.column_config.NumberColumn("Loaded", format=formats.COUNT_COLUMN),
            "rows_rejected": st.column_config.NumberColumn("Rejected", format=formats.COUNT_COLUMN),
            "rows_duplicate": st.column_config.NumberColumn("Duplicates", format=formats.COUNT_COLUMN),
            "current_stage": st.column_config.TextColumn("Stage now"),
            "error_message": st.column_config.TextColumn("Error", width="large"),
            "stages": st.column_config.TextColumn("Stage durations", width="large"),
            "triggered_by": st.column_config.TextColumn("From"),
            "input_path": st.column_config.TextColumn("Input"),
        },
        hide_index=True,
        placeholder=formats.MISSING,
        width="stretch",
    )


try:
    in_progress = data.run_is_in_progress()
except data.Unavailable:
    in_progress = False  # the history says what is wrong
# Only while a run is in progress does the history redraw itself (a fragment); st.stop() in it, on the page's own
# run, stops the whole page as before.
(st.fragment(_history, run_every=FOLLOW_SECONDS) if in_progress else _history)(in_progress)


def _rejects(rows: data.RejectedRows, download_name: str) -> None:
    """A run's rejected rows: how many each rule rejected, the first of them, and a download of every one."""
    total = data.reject_count(rows)
    st.dataframe(
        data.reject_reasons(rows),
        column_config={
            "reason": st.column_config.TextColumn("Rule"),
            "rows": st.column_config.NumberColumn("Rows", format=formats.COUNT_COLUMN),
        },
        hide_index=True,
        placeholder=formats.MISSING,
    )
    rejects = data.latest_rejects(rows)
    shown = f"All {total:,}" if total == len(rejects) else f"The first {len(rejects):,} of {total:,}"
    st.caption(f"{shown} rejected rows, by reason and order id. The download has every one.")
    st.dataframe(
        rejects,
        column_config={
            "order_id": "Order id",
            "reject_reason": st.column_config.TextColumn("Why", width="large"),
            "raw_record": st.column_config.TextColumn("Record as read", width="large"),
            "source_file": "File",
        },
        hide_index=True,
        placeholder=formats.MISSING,
        width="stretch",
    )
    st.download_button(
        f"Download {total:,} rejected rows as CSV",
        data=functools.partial(data.rejects_csv, rows),
        file_name=download_name,
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        key=f"rejects_{rows.table}",
    )


def _share(run_id: int) -> str:
    """How many of a run's rows it rejected, as the run log has it ("20 of its 200 rows (10.0%)")."""
    runs = data.run_history()
    run = runs[runs.run_id == run_id] if runs is not None else pd.DataFrame()
    if run.empty or pd.isna(run.rows_read.iloc[0]) or not run.rows_read.iloc[0]:
        return "more of its rows"
    read, rejected = int(run.rows_read.iloc[0]), int(run.rows_rejected.iloc[0])
    return f"{rejected:,} of its {read:,} rows ({rejected / read:.1%})"


try:
    refused, publication = data.refused_run(), data.publication()
except data.Unavailable:
    refused, publication = None, frame.require_data()  # says the database cannot be reached, and stops
# A run refused for too many rejects publishes nothing; its rows are shown until a later run publishes.
if refused is not None and (publication is None or refused > publication.run_id):
    st.subheader(f"Rejected rows of run {refused}, which was refused")
    kept = "The dashboard still shows the last good data" if publication else "Nothing has been published yet"
    st.warning(
        f"Run {refused} rejected {_share(refused)}, more than the pipeline allows, and published nothing: a broken "
        f"export. {kept}. These rows say what to fix before the next run.",
        icon=":material/report:",
    )
    business_zone = publication.business_time_zone if publication else data.business_time_zone()
    _rejects(data.RejectedRows(refused, refused=True),
             f"rejected_rows_refused_run_{refused}_{formats.today(business_zone).isoformat()}.csv")

st.subheader("Rejected rows of the published run")
publication = frame.require_published(publication)
if not data.reject_count(data.RejectedRows(publication.run_id)):
    st.success("The published run rejected no rows.")
else:
    today = formats.today(publication.business_time_zone)
    _rejects(data.RejectedRows(publication.run_id), f"rejected_rows_run_{publication.run_id}_{today.isoformat()}.csv")
