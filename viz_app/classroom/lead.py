"""The teacher's side of a class: "Lead a class" opens one (or the private teacher link claims it for
this tab), the teacher's tab says it is still there and how many follow, and the end of every run that
changed the view or the question writes them to the class store (url_state.url_params: the one
description of a view) for the followers."""

from __future__ import annotations

import json

import streamlit as st

from .. import page, url_state
from ..backend import classes
from . import join
from .session import LEAD, NOT_FOLLOWED, Leading, current, say

TEACHER_POLL_S = 2.0  # the teacher's tab: still here, how many follow, the live tally


def start() -> None:
    """The start of a run, before the sidebar: the toggle turned off where the lead was lost, and a
    teacher link taken (once a session)."""
    cs = current()
    if cs.lead_off:
        cs.lead_off = False
        st.session_state[LEAD] = False
    token = url_state.opened_with().get("teach")
    if not token or cs.teacher_link_taken:
        return
    cs.teacher_link_taken = True
    led = classes.by_token(token)
    if led is None:
        say("This teacher link is for a class that has ended (or was never opened on this server). "
            "Turn on Lead a class in the sidebar to start a new one.")  # fmt: skip
    elif led.lead_alive() and led.lead != cs.tab:
        cs.takeover = token  # the sidebar asks before taking it from the other tab
    else:
        _claim(led.code, token)


def _claim(code: str, token: str) -> None:
    classes.claim(token, current().tab)
    _begin(code, token)


def _begin(code: str, token: str) -> None:
    """This tab leads the class `code` from now on (and follows none)."""
    cs = current()
    cs.lead, cs.published, cs.follow = Leading(code, token), None, None
    st.session_state[LEAD] = True
    st.session_state["class"] = ""


def _toggle() -> None:
    cs = current()
    if st.session_state.get(LEAD) and not cs.lead:
        st.session_state[LEAD] = False  # on only once the class is open: a store that fails leaves it off
        opened = classes.open_class(cs.tab)
        _begin(opened.code, opened.token)
    elif not st.session_state.get(LEAD) and cs.lead:
        classes.end(cs.lead.code, cs.lead.token)
        cs.lead, cs.question = None, None


def _take_over() -> None:
    cs = current()
    token, cs.takeover = cs.takeover, None
    led = classes.by_token(token) if token else None
    if led is None:
        say("That class has ended in the meantime.")
    else:
        _claim(led.code, token)


def toggle() -> None:
    """The sidebar's "Lead a class", and the offer to lead a class another tab leads (its teacher link)."""
    cs = current()
    if cs.takeover:
        st.warning("This teacher link's class is led from another tab or browser right now.")
        st.button("Lead it from here", key="class_take_over", on_click=page.guarded(_take_over))
    st.session_state[LEAD] = cs.lead is not None  # the toggle says whether this tab leads a class, nothing else
    st.toggle("Lead a class", key=LEAD, on_change=page.guarded(_toggle),
              help="Students on the class link see what you show, within a second; you can ask them questions. "
              "Turning it off ends the class for everyone.")  # fmt: skip


def _lead_lost(text: str) -> None:
    cs = current()
    cs.lead, cs.lead_off = None, True
    say(text)


def _teacher_poll() -> None:
    """The teacher's tab: keeps the class alive, shows how many follow; another tab took over: say so."""
    cs = current()
    led = cs.lead
    if not led:
        return
    if not classes.teacher_here(led.code, led.token, cs.tab):
        _lead_lost("Another tab or browser now leads this class (its teacher link was opened there): this tab no "
                   "longer leads. Open the teacher link here again to take it back.")  # fmt: skip
        st.rerun(scope="app")
    if url_state.browser_missed_run():  # the projector would go on showing the run before
        st.rerun(scope="app")
    n = classes.followers(led.code)
    st.markdown(f":material/groups: **{n}** following")


def banner(led: Leading) -> None:
    """The teacher's line above the page: the class, how many follow, how students join."""
    left, mid, right = st.columns([3, 2, 2], vertical_alignment="center")
    left.markdown(f":material/cast_for_education: Leading class **{led.code}**")
    with mid:
        page.fragment(_teacher_poll, run_every=TEACHER_POLL_S, keeps_view=False)
    with right.popover("How students join", icon=":material/qr_code_2:"):
        join.card(led.code, big=True)


def publish(slug: str) -> None:
    """app.py calls this after the page: the teacher's view and question to the store, when changed."""
    cs = current()
    led = cs.lead
    if not led:
        return
    view = {k: v for k, v in url_state.url_params(slug).items() if k not in NOT_FOLLOWED}
    text = json.dumps({"view": view, "question": cs.question}, sort_keys=True)
    if text == cs.published:
        return
    if classes.publish(led.code, led.token, cs.tab, json.loads(text)) is None:
        _lead_lost("This tab no longer leads the class: it ended, or another tab took it over with the teacher link.")
        return
    cs.published = text
