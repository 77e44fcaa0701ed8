"""The frame every page shares: the data-state guard, the freshness line and the sidebar with "Rerun ELT"."""
from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone

import streamlit as st

from dashboard import data, formats, rerun
from dashboard.data import Publication

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # a run in progress: how often the sidebar says where it is
WATCH_SECONDS = 5.0  # no run in progress: how often the sidebar looks for one started elsewhere, or new data
# Characters that start markup inside a line of Streamlit's Markdown: emphasis, code, links and directives
# ("[…]"), HTML, strikethrough, LaTeX. Escaped, a run's message shows the names it quotes as they are.
MARKUP = re.compile(r"([\\`*_\[\]<>~$])")
HOW_TO_RUN = "The data team can run it with **Rerun ELT** in the sidebar, or `make run` / `python -m elt run`."


def use_app_navigation() -> None:
    """Give a page opened by a direct link the app's navigation and sidebar. Call first in every page file.

    With a pages/ folder present, Streamlit (1.67) runs a page file on its own, in its legacy multipage mode, when
    the first request a server process gets is a page URL (streamlit_app.py has not yet called st.navigation,
    which is what switches that mode off). Switching it off here and rerunning lets streamlit_app.py route the
    request as usual, query parameters included.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def require_data() -> Publication:
    """The published data's run, or an explanation of what is missing (then the page stops)."""
    try:
        publication = data.publication()
    except data.Unavailable as exc:
        st.error(f"{sentence(str(exc))} The dashboard needs PostgreSQL: check `DATABASE_URL` or start the database "
                 "(`make db`).")
        st.stop()
    return require_published(publication)


def require_published(publication: Publication | None) -> Publication:
    """`require_data` for a page that has already read the publication."""
    if publication is None:
        st.info(f"No data has been published yet: the ELT has not run on this database. {HOW_TO_RUN}")
        st.stop()
    if publication.missing:
        st.warning(
            f"The published data (run {publication.run_id}) was built by an older version of the pipeline and lacks "
            f"{', '.join(publication.missing)}. Run the ELT once to rebuild it. {HOW_TO_RUN}"
        )
        st.stop()
    return publication


def sentence(message: str) -> str:
    """A one-line error message (the command line's, lower-case and without a full stop) as a sentence on a page."""
    message = message.strip()
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else f"{message}."


def age(moment: datetime) -> str:
    """How long ago, in words a person reads at a glance."""
    seconds = max(0, (datetime.now(timezone.utc) - moment).total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def sidebar() -> None:
    """Freshness of the data and the data team's rerun button."""
    with st.sidebar:
        try:
            publication = data.publication()
            busy = data.run_is_in_progress()
        except data.Unavailable as exc:
            st.error(sentence(str(exc)))
            return
        if publication:
            st.caption(f"Data from run {publication.run_id}, published {age(publication.published_at)}.")
        st.subheader("Data pipeline")
        _rerun_section(busy, publication)


def _is_admin() -> bool:
    """Whether this session may rerun the ELT: it knows the secret, or no secret is set and we serve localhost."""
    if rerun.admin_secret():
        return bool(st.session_state.get("elt_admin"))
    return rerun.served_on_localhost()


def _unlock_form() -> None:
    """Ask once per session for the data team's password."""
    with st.form("elt_unlock", clear_on_submit=True, border=False):
        given = st.text_input("Data-team password", type="password", help="Needed to rerun the ELT.")
        if st.form_submit_button("Unlock") and given:
            ok, message = rerun.check_password(given)
            st.session_state["elt_admin"] = ok
            (st.success if ok else st.error)(message)
            if ok:
                st.rerun()


def _rerun_section(busy: bool, publication: Publication | None) -> None:
    """The Rerun ELT button, its access rule, the file a rerun would read, and live progress of a run (`busy`: a
    run holds the run lock; `publication`: the published run shown)."""
    job = rerun.current_job()
    if job:
        _follow(job)
        return
    admin = _is_admin()
    # Only the data team, who can rerun, is told about the file (and its directory, when something is wrong).
    upcoming = rerun.next_input(data.environment_input()) if admin and not busy else None
    if busy:
        _follow_other_run()
    else:
        _watch_for_runs(publication.run_id if publication else None, upcoming)
    if not admin and rerun.admin_secret():
        _unlock_form()
    elif not admin:
        st.caption("Reruns are for the data team: set `ELT_ADMIN_PASSWORD` to allow them on this server.")
    if upcoming and upcoming.problem:
        st.warning(_next_input_problem_text(upcoming), icon=":material/warning:")
    elif upcoming:
        st.caption(_next_input_text(upcoming, publication))
    clicked = st.button(
        "Rerun ELT", disabled=not admin or busy or bool(upcoming and upcoming.problem),
        help="Runs the pipeline on `ELT_INPUT` (or the bundled sample) and publishes what it builds.",
    )
    if clicked and _is_admin() and not data.run_is_in_progress():  # checked again on the server
        st.session_state.pop("elt_outcome", None)
        _follow(rerun.start(data.environment_input(), data.database_url()))
        return
    _last_outcome()


@st.fragment(run_every=POLL_SECONDS)
def _follow(job: rerun.Job) -> None:
    """Live progress of a run (this part alone refreshes); when it ends, the whole app reruns on the new data."""
    lines = rerun.output(job)
    if job.process.poll() is None:
        elapsed = time.monotonic() - job.started
        # Not `with st.status(...)`: leaving that block marks the status complete (a tick while the run goes on).
        label = f"Running the ELT · {_running_stage(lines)} · {elapsed:.0f} s"
        status = st.status(label, expanded=True, state="running")
        # The lines are laid out for a terminal; the sidebar is narrow: single spaces, wrapped, nothing cut off.
        shown = "\n".join(" ".join(line.split()) for line in lines[-12:])
        status.code(shown or "starting Spark…", language=None, wrap_lines=True)
        return
    if job.process.returncode == 0:
        data.clear_caches()
        summary = next((line for line in lines if line.startswith("Run ") and " succeeded " in line), "The run succeeded.")
        st.session_state["elt_outcome"] = ("success", f"{summary} Every page now shows the new data.")
    else:
        message = rerun.error_line(lines)
        st.session_state["elt_outcome"] = ("error", f"The run failed: {message}. The previous data is still served.")
    rerun.forget(job)
    st.rerun()


@st.fragment(run_every=WATCH_SECONDS)
def _watch_for_runs(shown_run: int | None, shown_input: rerun.NextInput | None) -> None:
    """Draws nothing. Every few seconds, notices a run started elsewhere (from the command line, another server),
    data published since the page was drawn, or the file a rerun reads arriving, changing or going (`shown_input`,
    when the sidebar names it), and then draws the whole app again: the sidebar follows the run or names the file as
    it is now, the pages show the new data. An embedded database stopped on purpose is left stopped (a page view
    starts it)."""
    if data.embedded_stopped() or rerun.current_job():
        return  # a run this session started has its own status, which an app-wide rerun would draw without spinner
    if shown_input is not None and rerun.next_input(data.environment_input()) != shown_input:
        st.rerun()
    try:
        if data.run_is_in_progress():
            st.rerun()
        publication = data.publication()
    except data.Unavailable:
        return  # the next page view says what is wrong
    if (publication.run_id if publication else None) != shown_run:
        st.rerun()


@st.fragment(run_every=POLL_SECONDS)
def _follow_other_run() -> None:
    """A run this session did not start (from the command line, another server): its stage and time so far, drawn
    again every second; when it ends, the whole app again, on the data it has published."""
    if data.embedded_stopped():
        return
    try:
        run = data.run_in_progress()
    except data.Unavailable:
        return  # the page says what is wrong
    if run is None:
        data.forget_run_history()  # the Data pipeline page, drawn again, must not show it 'running' from its cache
        st.rerun()
    st.info(f"{run_in_progress_text(run)} Reruns wait until it has finished.", icon=":material/progress_activity:")


def run_in_progress_text(run: data.RunInProgress) -> str:
    """Which run is in progress, where it was started, its stage and how long it has taken so far."""
    seconds = (datetime.now(timezone.utc) - (run.started_at or run.since)).total_seconds()
    if run.run_id is None:
        return f"An ELT run is starting ({formats.duration(seconds)} so far)."
    origins = {"app": "from the dashboard", "cli": "from the command line"}
    origin = origins.get(run.triggered_by, f"by {as_text(str(run.triggered_by))}")
    return f"Run {run.run_id}, started {origin}, is in its **{run.stage}** stage after {formats.duration(seconds)}."


def _next_input_text(upcoming: rerun.NextInput, publication: Publication | None) -> str:
    """Which file a rerun reads, how big and how recent it is, and whether it is the file the data shown came from."""
    text = f"A rerun reads **{as_text(upcoming.name)}**"
    if upcoming.size is not None:
        text += f" ({formats.file_size(upcoming.size)}, saved {age(upcoming.modified)})"
    if upcoming.is_sample:
        text += ", the bundled sample"
    if publication and publication.input_path == upcoming.path:
        if upcoming.modified:
            changed = "changed" if upcoming.modified > publication.published_at else "unchanged"
            text += f", {changed} since run {publication.run_id} read it."
        else:  # remote storage: no time to compare
            text += f", as run {publication.run_id} did."
    elif publication:
        text += f"; the data shown came from {as_text(formats.file_name(publication.input_path))}."
    else:
        text += "."
    if upcoming.is_sample:
        text += " Set `ELT_INPUT` to read an export instead."
    return text


def _next_input_problem_text(upcoming: rerun.NextInput) -> str:
    """Why a rerun would fail at once, in the run's own words, and what to do."""
    return (f"A rerun would fail: {as_text(upcoming.problem or '')}. "
            "Put a good export there, or point `ELT_INPUT` at one.")


def _running_stage(lines: list[str]) -> str:
    """The stage the run is in, as its run log says: a stage's line is printed only when the stage has ended."""
    run_id = rerun.run_id(lines)
    if run_id is None:
        return "starting"
    try:
        return data.run_stage(run_id) or "finishing"  # the run log is closed; the process is about to end
    except data.Unavailable:
        return "running"


def _last_outcome() -> None:
    """The result of this session's last run, kept across the rerun that refreshes every page."""
    outcome = st.session_state.get("elt_outcome")
    if outcome:
        kind, message = outcome
        (st.success if kind == "success" else st.error)(as_text(message))


def as_text(text: str) -> str:
    """Text for a Markdown element, shown as written: a run's message quotes names and values from the input file."""
    return MARKUP.sub(r"\\\1", text)
