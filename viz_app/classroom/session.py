"""A browser session's part in a class, in one object under one session key (ClassSession): the class
this tab leads or follows, the teacher's open question, a student's answers, and what the class store
was last told and read. Widgets keep their own keys (the Lead toggle, the join box), and a student's
class code is the `class` key that the student link carries (STATE)."""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from .. import url_state
from ..backend import classes
from ..url_state import Key

STATE = (Key("class", "", url="changed", shared=True, max_len=2 * classes.CODE_LENGTH),)  # a student's class
NOT_FOLLOWED = ("class", "presenter")  # a student's screen is not the projector
LEAD = "class_lead"  # the sidebar's "Lead a class" toggle (a widget's own key)
KEY = "_class"  # st.session_state: this browser session's ClassSession


@dataclass
class Leading:
    """The class this tab leads."""

    code: str
    token: str  # the teacher's secret: never in the address bar (the projector shows it)


@dataclass
class Following:
    """The class this tab follows, as a student."""

    code: str
    student: str  # this student's id in the class store
    mode: str = "follow"  # "follow": the teacher's view; "explore": the student's own
    applied: int | None = None  # the class version whose view this session took
    seen: int | None = None  # the class version this session last read
    question: str | None = None  # the question it last read (questions.question_key)
    here_at: float = 0.0  # time.monotonic() of its last "still here" to the store


@dataclass
class ClassSession:
    """Everything a browser session keeps about its class (none of it drawn by a widget)."""

    tab: str = field(default_factory=classes.new_id)  # this browser session's id: which teacher tab leads
    lead: Leading | None = None
    follow: Following | None = None
    # the teacher's open question: {"id", "text", "choices", "answer", "explain", "revealed"}, as published
    question: dict | None = None
    published: str | None = None  # the JSON the teacher last wrote to the store
    teacher_link_taken: bool = False  # the teacher link was read (once a session)
    takeover: str | None = None  # a teacher link whose class another tab leads: its token
    lead_off: bool = False  # turn the toggle off on the next run (it may already be drawn in this one)
    latest: dict | None = None  # the class's state as this run read it from the store (a student's)
    answers: dict[str, int] = field(default_factory=dict)  # a student's choice per question id


def current() -> ClassSession:
    """This browser session's ClassSession (a new one on its first run)."""
    ss = st.session_state
    if KEY not in ss:
        ss[KEY] = ClassSession()
    return ss[KEY]


def teaching() -> Leading | None:
    return current().lead


def following() -> Following | None:
    return current().follow


def say(text: str) -> None:
    url_state.notice(text, ":material/groups:")  # above the page, with the app's other sentences
