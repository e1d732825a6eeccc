"""A student's side of a class: a class code (the student link's ?class=CODE, or the sidebar's box)
joins it; a poll in a fragment reads the class's version (cheap: one indexed read), and when it moved
reruns the app, whose first step here applies the teacher's view (url_state.open_view) before any
widget draws, switching page if needed. "Explore on my own" stops taking the view until "Back to the
teacher"."""

from __future__ import annotations

import time

import streamlit as st

from .. import page, phone, url_state
from ..backend import classes, registry
from ..pages import state_of
from .questions import question_key
from .session import NOT_FOLLOWED, Following, current, say

POLL_S = 0.5  # a follower checks the class's version this often: half the time to see a change
HERE_EVERY_S = 5.0  # a follower says it is still here this often (a write: not on every poll)


def start(pages: dict, slug: str) -> None:
    """The start of a run, before any widget: a class code to join, and for a follower the teacher's
    latest view (may switch page)."""
    _take_class_code()
    _take_the_view(pages, slug)


def _take_class_code() -> None:
    ss, cs = st.session_state, current()
    typed = ss.get("class") or ""
    code = classes.normal_code(typed)
    if cs.follow and cs.follow.code == code:
        return
    if not code:
        cs.follow = None
        return
    ss["class"] = ""
    if cs.lead and cs.lead.code == code:
        return  # the teacher's own student link, opened in the teacher's tab
    if classes.version(code) is None:
        say(f"There is no class {typed[:16]} on this server: the code may be mistyped, or the class has ended. "
            "Ask your teacher for the code; until then this copy of the app is yours to explore.")  # fmt: skip
        cs.follow = None
        return
    ss["class"] = code
    cs.follow = Following(code, classes.new_id())
    classes.here(code, cs.follow.student)


def _class_ended() -> None:
    current().follow = None
    st.session_state["class"] = ""
    say("The class has ended: the app is yours now.")


def _take_the_view(pages: dict, slug: str) -> None:
    cs = current()
    joined = cs.follow
    cs.latest = None
    if not joined:
        return
    got = classes.state(joined.code)
    if got is None:
        _class_ended()
        return
    version, state = got
    cs.latest = state
    joined.seen, joined.question = version, question_key(state.get("question"))
    if joined.mode != "follow" or version == joined.applied:
        return
    joined.applied = version
    view = {k: v for k, v in state.get("view", {}).items() if k not in NOT_FOLLOWED}
    target = view.pop("page", None)
    if target not in pages:
        return  # the teacher has not drawn a page yet
    url_state.open_view(view, state_of(target), keep=NOT_FOLLOWED)
    if target != slug:
        url_state.switch_page(target)


def _poll() -> None:
    """A follower: one read of the version; a full rerun when the teacher's view (or, exploring, the
    question) changed. Draws nothing."""
    joined = current().follow
    if not joined:
        return
    url_state.keep_drawn_view()  # a browser still drawing the teacher's view sent the values before it
    now = time.monotonic()
    if now - joined.here_at > HERE_EVERY_S:
        classes.here(joined.code, joined.student)
        joined.here_at = now
    if url_state.browser_missed_run():  # the teacher's view reached this session but not its browser
        st.rerun(scope="app")
    version = classes.version(joined.code)
    if version == joined.seen:
        return
    if version is not None and joined.mode != "follow":
        got = classes.state(joined.code)
        joined.seen = version
        if got is None or question_key(got[1].get("question")) == joined.question:
            return  # the teacher's view moved, and this student explores: nothing to show
    st.rerun(scope="app")


def banner(joined: Following) -> None:
    """The student's line above the page: following or exploring, and the button to switch."""
    left, right = st.columns([5, 2], vertical_alignment="center")
    if joined.mode == "follow":
        phone.follower_style()  # on a phone, the page's controls fold away: the picture comes first
        left.info(f"Following your teacher's screen (class {joined.code}).", icon=":material/visibility:")
        right.button("Explore on my own", key="class_explore", on_click=page.guarded(_set_mode), args=("explore",),
                     icon=":material/explore:")  # fmt: skip
    else:
        left.info(f"Exploring on your own; class {joined.code} goes on.", icon=":material/explore:")
        right.button("Back to the teacher", key="class_rejoin", on_click=page.guarded(_set_mode), args=("follow",),
                     type="primary", icon=":material/visibility:")  # fmt: skip
    _missing_model(joined)
    page.fragment(_poll, run_every=POLL_S, keeps_view=False)


def _set_mode(mode: str) -> None:
    joined = current().follow
    if joined:
        joined.mode, joined.applied = mode, None  # back to the teacher: apply the view on this run


def _missing_model(joined: Following) -> None:
    wanted = (current().latest or {}).get("view", {}).get("model")
    labels = [e.label for e in registry.run_models()]
    if joined.mode == "follow" and wanted and labels and wanted not in labels:
        st.warning(
            f"Your teacher shows **{wanted}**, which this server does not have (a model uploaded or trained in the "
            f"teacher's browser stays in that browser). You see **{st.session_state.get('model')}** instead; the "
            "rest of the view follows.",
            icon=":material/report:",
        )
