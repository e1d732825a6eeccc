"""A class that follows its teacher: "Lead a class" in the sidebar, students on ?class=CODE, questions.

The teacher's session writes the view it shows and any open question to the class store
(backend/classes.py) at the end of every run that changed them (lead.py). A follower polls the
store's version and takes the teacher's view at the start of a run (follow.py). While a question is
open every member of the class sees it instead of the page, until the teacher reveals the answer with
the tally (questions.py). The student link, its QR code and the teacher's private link are join.py's;
a browser session's part in the class is one ClassSession under one session key (session.py).

The teacher's token never sits in the address bar (the projector shows it): the private teacher
link is offered in the sidebar, and opening it claims the lead for that tab.

What the rest of the app calls: start, banner, question_panel, publish (app.py, in that order around
the page), sidebar (sidebar.py), teaching and ask (the Lesson page).
"""

from __future__ import annotations

import streamlit as st

from .. import url_state
from . import follow, join, lead, questions
from .lead import publish
from .questions import ask, question_panel
from .session import STATE, current, teaching

__all__ = ["STATE", "ask", "banner", "publish", "question_panel", "sidebar", "start", "teaching"]


def start(pages: dict, slug: str) -> None:
    """app.py calls this after st.navigation, before the sidebar: the class key, a teacher link, a
    class code, and for a follower the teacher's latest view (may switch page)."""
    url_state.declare(STATE)
    lead.start()
    follow.start(pages, slug)


def banner() -> None:
    """Above the page: the class's line for the teacher or a student (what went wrong: url_state.notice)."""
    cs = current()
    if cs.lead:
        lead.banner(cs.lead)
    elif cs.follow:
        follow.banner(cs.follow)


def sidebar() -> None:
    """The sidebar's class section: lead a class, or join one by its code."""
    cs = current()
    with st.expander("Class", icon=":material/groups:", expanded=bool(cs.lead or cs.takeover)):
        lead.toggle()
        if cs.lead:
            join.card(cs.lead.code)
            join.teacher_link(cs.lead.token)
            questions.own_question()
        elif not cs.follow:
            join.code_box()
