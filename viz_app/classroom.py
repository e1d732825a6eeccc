"""A class that follows its teacher: "Lead a class" in the sidebar, students on ?class=CODE, questions.

The teacher's session writes the view it shows (url_state.url_params: the one description of a
view) and any open question to the class store (backend/classes.py) at the end of every run that
changed them. A follower polls the store's version in a fragment (cheap: one indexed read a
second), and when it moved reruns the app, whose first step here applies the teacher's view
(url_state.open_view) before any widget draws, switching page if needed. While a question is open
every member of the class sees it instead of the page (the picture would answer it), until the
teacher reveals the answer with the tally.

The teacher's token never sits in the address bar (the projector shows it): the private teacher
link is offered in the sidebar, and opening it claims the lead for that tab.
"""

from __future__ import annotations

import json
import time
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import streamlit as st

from . import page, phone, url_state
from .backend import classes, registry
from .figures import classroom as figures
from .pages import PAGES, href, state_of
from .url_state import Key

STATE = (Key("class", "", url="changed", shared=True, max_len=2 * classes.CODE_LENGTH),)  # a student's class
NOT_FOLLOWED = ("class", "presenter")  # a student's screen is not the projector
POLL_S = 0.5  # a follower checks the class's version this often: half the time to see a change
TEACHER_POLL_S = 2.0  # the teacher's tab: still here, how many follow, the live tally
HERE_EVERY_S = 5.0  # a follower says it is still here this often (a write: not on every poll)

_TEACH = "_class_teach"  # {"code", "token"} while this session leads a class
_TAB = "_class_tab"  # this browser session's random id: which teacher tab leads
_QUESTION = "_class_question"  # the teacher's open question: {"id", "text", "choices", "answer", "explain", "revealed"}
_PUBLISHED = "_class_published"  # the JSON the teacher last wrote
_TAKEN = "_class_link_taken"  # the teacher link was read (once a session)
_TAKEOVER = "_class_takeover"  # a teacher link whose class another tab leads: its token
_FOLLOW = "_class_follow"  # {"code", "student", "mode", "applied", "seen", "question", "here_at"} for a student
_STATE = "_class_state"  # this run's class state read from the store (a student's)
_LEAD_OFF = "_class_lead_off"  # turn the toggle off on the next run (it may already be drawn in this one)
LEAD = "class_lead"  # the sidebar toggle


def _say(text: str) -> None:
    url_state.notice(text, ":material/groups:")  # above the page, with the app's other sentences


def _tab() -> str:
    return st.session_state.setdefault(_TAB, classes.new_id())


def teaching() -> dict | None:
    return st.session_state.get(_TEACH)


def following() -> dict | None:
    return st.session_state.get(_FOLLOW)


# --- the start of a run: before any widget ----------------------------------------------------


def start(pages: dict, slug: str) -> None:
    """app.py calls this after st.navigation, before the sidebar: the class key, a teacher link, a
    class code, and for a follower the teacher's latest view (may switch page)."""
    url_state.declare(STATE)
    if st.session_state.pop(_LEAD_OFF, False):
        st.session_state[LEAD] = False
    _take_teacher_link()
    _take_class_code()
    _follow(pages, slug)


def _take_teacher_link() -> None:
    ss = st.session_state
    token = url_state.opened_with().get("teach")
    if not token or ss.get(_TAKEN):
        return
    ss[_TAKEN] = True
    led = classes.by_token(token)
    if led is None:
        _say("This teacher link is for a class that has ended (or was never opened on this server). "
             "Turn on Lead a class in the sidebar to start a new one.")  # fmt: skip
    elif led.lead_alive() and led.lead != _tab():
        ss[_TAKEOVER] = token  # the sidebar asks before taking it from the other tab
    else:
        _lead(led.code, token)


def _lead(code: str, token: str) -> None:
    ss = st.session_state
    classes.claim(token, _tab())
    ss[_TEACH] = {"code": code, "token": token}
    ss[LEAD] = True
    ss.pop(_PUBLISHED, None)
    ss.pop(_FOLLOW, None)
    ss["class"] = ""


def _take_class_code() -> None:
    ss = st.session_state
    typed = ss.get("class") or ""
    code = classes.normal_code(typed)
    joined = following()
    if joined and joined["code"] == code:
        return
    if not code:
        ss.pop(_FOLLOW, None)
        return
    ss["class"] = ""
    if teaching() and teaching()["code"] == code:
        return  # the teacher's own student link, opened in the teacher's tab
    if classes.version(code) is None:
        _say(f"There is no class {typed[:16]} on this server: the code may be mistyped, or the class has ended. "
             "Ask your teacher for the code; until then this copy of the app is yours to explore.")  # fmt: skip
        ss.pop(_FOLLOW, None)
        return
    ss["class"] = code
    ss[_FOLLOW] = {"code": code, "student": classes.new_id(), "mode": "follow", "applied": None, "seen": None,
                   "question": None, "here_at": 0.0}  # fmt: skip
    classes.here(code, ss[_FOLLOW]["student"])


def _class_ended() -> None:
    st.session_state.pop(_FOLLOW, None)
    st.session_state["class"] = ""
    _say("The class has ended: the app is yours now.")


def _follow(pages: dict, slug: str) -> None:
    ss = st.session_state
    joined = following()
    ss.pop(_STATE, None)
    if not joined:
        return
    got = classes.state(joined["code"])
    if got is None:
        _class_ended()
        return
    version, state = got
    ss[_STATE] = state
    joined["seen"], joined["question"] = version, _question_key(state.get("question"))
    if joined["mode"] != "follow" or version == joined["applied"]:
        return
    joined["applied"] = version
    view = {k: v for k, v in state.get("view", {}).items() if k not in NOT_FOLLOWED}
    target = view.pop("page", None)
    if target not in pages:
        return  # the teacher has not drawn a page yet
    url_state.open_view(view, state_of(target), keep=NOT_FOLLOWED)
    if target != slug:
        url_state.switch_page(target)


def _question_key(question: dict | None) -> str:
    return json.dumps(question, sort_keys=True)


# --- the follower's poll and the teacher's ------------------------------------------------------


def _poll() -> None:
    """A follower: one read of the version; a full rerun when the teacher's view (or, exploring, the
    question) changed. Draws nothing."""
    joined = following()
    if not joined:
        return
    now = time.monotonic()
    if now - joined["here_at"] > HERE_EVERY_S:
        classes.here(joined["code"], joined["student"])
        joined["here_at"] = now
    if url_state.browser_missed_run():  # the teacher's view reached this session but not its browser
        st.rerun(scope="app")
    version = classes.version(joined["code"])
    if version == joined["seen"]:
        return
    if version is not None and joined["mode"] != "follow":
        got = classes.state(joined["code"])
        joined["seen"] = version
        if got is None or _question_key(got[1].get("question")) == joined["question"]:
            return  # the teacher's view moved, and this student explores: nothing to show
    st.rerun(scope="app")


def _teacher_poll() -> None:
    """The teacher's tab: keeps the class alive, shows how many follow; another tab took over: say so."""
    led = teaching()
    if not led:
        return
    if not classes.teacher_here(led["code"], led["token"], _tab()):
        st.session_state.pop(_TEACH, None)
        st.session_state[_LEAD_OFF] = True
        _say("Another tab or browser now leads this class (its teacher link was opened there): this tab no "
             "longer leads. Open the teacher link here again to take it back.")  # fmt: skip
        st.rerun(scope="app")
    if url_state.browser_missed_run():  # the projector would go on showing the run before
        st.rerun(scope="app")
    n = classes.followers(led["code"])
    st.markdown(f":material/groups: **{n}** following")


def _live_tally(question: dict, code: str) -> None:
    counts = classes.tally(code, question["id"], len(question["choices"]))
    answer = question["answer"] if question["revealed"] else None
    fig = page.figure(figures.tally, list(question["choices"]), counts, answer, style=page.figure_style())
    page.chart(fig, name="class-answers", key=f"class_tally_{question['id']}")


# --- the top of the page: who leads, who follows, the question ---------------------------------


def banner() -> None:
    """Above the page: the class's line for the teacher or a student (what went wrong: url_state.notice)."""
    led, joined = teaching(), following()
    if led:
        left, mid, right = st.columns([3, 2, 2], vertical_alignment="center")
        left.markdown(f":material/cast_for_education: Leading class **{led['code']}**")
        with mid:
            page.fragment(_teacher_poll, run_every=TEACHER_POLL_S, keeps_view=False)
        with right.popover("How students join", icon=":material/qr_code_2:"):
            _join_card(led["code"], big=True)
    elif joined:
        left, right = st.columns([5, 2], vertical_alignment="center")
        if joined["mode"] == "follow":
            phone.follower_style()  # on a phone, the page's controls fold away: the picture comes first
            left.info(f"Following your teacher's screen (class {joined['code']}).", icon=":material/visibility:")
            right.button("Explore on my own", key="class_explore", on_click=page.guarded(_set_mode), args=("explore",),
                         icon=":material/explore:")  # fmt: skip
        else:
            left.info(f"Exploring on your own; class {joined['code']} goes on.", icon=":material/explore:")
            right.button("Back to the teacher", key="class_rejoin", on_click=page.guarded(_set_mode), args=("follow",),
                         type="primary", icon=":material/visibility:")  # fmt: skip
        _missing_model()
        page.fragment(_poll, run_every=POLL_S, keeps_view=False)


def _set_mode(mode: str) -> None:
    joined = following()
    if joined:
        joined["mode"], joined["applied"] = mode, None  # back to the teacher: apply the view on this run


def _missing_model() -> None:
    joined, state = following(), st.session_state.get(_STATE) or {}
    wanted = state.get("view", {}).get("model")
    labels = [e.label for e in registry.run_models()]
    if joined["mode"] == "follow" and wanted and labels and wanted not in labels:
        st.warning(
            f"Your teacher shows **{wanted}**, which this server does not have (a model uploaded or trained in the "
            f"teacher's browser stays in that browser). You see **{st.session_state.get('model')}** instead; the "
            "rest of the view follows.",
            icon=":material/report:",
        )


def question() -> dict | None:
    """The class's question now: the teacher's own, or the one the store gave this student's run."""
    if teaching():
        return st.session_state.get(_QUESTION)
    if following():
        return (st.session_state.get(_STATE) or {}).get("question")
    return None


def question_panel(slug: str) -> bool:
    """The open question above the page; False while it hides the page (the picture would answer it)."""
    asked = question()
    if not asked:
        return True
    led = teaching()
    code = led["code"] if led else following()["code"]
    with st.container(border=True):
        st.subheader(f":material/quiz: {asked['text']}")
        if not asked["revealed"]:
            if led:
                st.caption("Students answer on their screens. The picture that answers it is hidden until you reveal.")
                page.fragment(lambda: _live_tally(asked, code), run_every=TEACHER_POLL_S / 2, keeps_view=False)
                left, right = st.columns(2)
                left.button(
                    "Reveal",
                    key="class_reveal",
                    type="primary",
                    on_click=page.guarded(_reveal),
                    icon=":material/visibility:",
                )
                right.button("Drop the question", key="class_drop", on_click=page.guarded(_close))
            else:
                _choices(asked, code)
        else:
            right = asked["answer"]
            if right is not None:
                st.success(f"Answer: {chr(65 + right)}. {asked['choices'][right]}", icon=":material/check_circle:")
            if asked.get("explain"):
                st.markdown(asked["explain"])
            _live_tally(asked, code)
            if led:
                st.button("Close the question", key="class_close", on_click=page.guarded(_close))
            else:
                mine = st.session_state.get(f"_class_answer_{asked['id']}")
                if mine is not None:
                    verdict = "" if right is None else (" — right!" if mine == right else " — not this time.")
                    st.caption(f"You answered {chr(65 + mine)}{verdict}")
    if not asked["revealed"]:
        url_state.declare(state_of(slug))  # the page's settings outlive the runs that do not draw it
    return bool(asked["revealed"])


def _choices(asked: dict, code: str) -> None:
    mine_key = f"_class_answer_{asked['id']}"
    mine = st.session_state.get(mine_key)
    for i, choice in enumerate(asked["choices"]):
        st.button(f"{chr(65 + i)}. {choice}", key=f"class_choice_{asked['id']}_{i}", on_click=page.guarded(_answer),
                  args=(code, asked["id"], i), type="primary" if mine == i else "secondary",
                  use_container_width=True)  # fmt: skip
    if mine is None:
        st.caption("Pick one: the picture that answers it appears when your teacher reveals the answer.")
    else:
        st.caption(f"Your answer: {chr(65 + mine)}. You can change it until your teacher reveals the answer.")


def _answer(code: str, question_id: str, choice: int) -> None:
    joined = following()
    if joined and classes.answer(code, question_id, joined["student"], choice):
        st.session_state[f"_class_answer_{question_id}"] = choice
    else:
        _say("That question is closed: your answer was not counted.")


def _reveal() -> None:
    asked = st.session_state.get(_QUESTION)
    if asked:
        st.session_state[_QUESTION] = {**asked, "revealed": True}


def _close() -> None:
    st.session_state[_QUESTION] = None


def ask(text: str, choices, answer: int | None, explain: str = "", link=None) -> None:
    """Put a question to the class (the teacher's run); `link` (a lesson_steps.Link): the view that
    answers it, opened now and hidden until the reveal."""
    st.session_state[_QUESTION] = {"id": classes.new_id(), "text": text, "choices": list(choices),
                                   "answer": answer, "explain": explain, "revealed": False}  # fmt: skip
    if link is not None:
        url_state.open_link(link.params, state_of(link.page))
        url_state.switch_page(link.page)  # no link to click: the button also puts the question


# --- the sidebar ------------------------------------------------------------------------------


def _base_url() -> str:
    """The app's address as the teacher's browser sees it, without a page's own path."""
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    path = parts.path.rstrip("/")
    for info in PAGES.values():
        if info.url_path and path.endswith("/" + info.url_path):
            path = path[: -len(info.url_path) - 1]
    return urlunsplit((parts.scheme, parts.netloc, path + "/", "", ""))


def student_link(code: str) -> str:
    return urljoin(_base_url(), href(None, {"class": code}))


def qr_data_uri(text: str) -> str:
    import segno  # only a teacher's run draws one

    # a data URI of a standalone SVG (with its xmlns): svg_inline's markup, without one, never draws in an <img>
    return segno.make(text, error="m").svg_data_uri(scale=8, border=2, dark="#000", light="#fff")


def _join_card(code: str, *, big: bool = False) -> None:
    link = student_link(code)
    st.markdown(f"Class code **{code}** · students open")
    st.code(link, language=None)
    # big: the popover above the page, whose height is bounded (about 70vh): the code, the link and the caption
    # above and below it take about 12rem, so a 720p projector shows the whole QR code, not its top two thirds
    width = "min(calc(70vh - 12rem), 100%)" if big else "100%"
    st.html(f'<img alt="QR code for {link}" src="{qr_data_uri(link)}" style="width:{width}">')
    if urlsplit(link).hostname in ("localhost", "127.0.0.1"):
        st.caption("This address works on this computer only: students need its network address instead.")


def _toggle() -> None:
    ss = st.session_state
    led = teaching()
    if ss.get(LEAD) and not led:
        ss[LEAD] = False  # on only once the class is open: a store that fails leaves it off
        opened = classes.open_class(_tab())
        ss[_TEACH] = {"code": opened.code, "token": opened.token}
        ss[LEAD] = True
        ss.pop(_PUBLISHED, None)
        ss.pop(_FOLLOW, None)
        ss["class"] = ""
    elif not ss.get(LEAD) and led:
        classes.end(led["code"], led["token"])
        ss.pop(_TEACH, None)
        ss[_QUESTION] = None


def _take_over() -> None:
    token = st.session_state.pop(_TAKEOVER, None)
    led = classes.by_token(token) if token else None
    if led is None:
        _say("That class has ended in the meantime.")
    else:
        _lead(led.code, token)


def sidebar() -> None:
    """The sidebar's class section: lead a class, or join one by its code."""
    ss = st.session_state
    with st.expander("Class", icon=":material/groups:", expanded=bool(teaching() or ss.get(_TAKEOVER))):
        if ss.get(_TAKEOVER):
            st.warning("This teacher link's class is led from another tab or browser right now.")
            st.button("Lead it from here", key="class_take_over", on_click=page.guarded(_take_over))
        ss[LEAD] = teaching() is not None  # the toggle says whether this tab leads a class, nothing else
        st.toggle("Lead a class", key=LEAD, on_change=page.guarded(_toggle),
                  help="Students on the class link see what you show, within a second; you can ask them questions. "
                  "Turning it off ends the class for everyone.")  # fmt: skip
        led = teaching()
        if led:
            _join_card(led["code"])
            with st.popover("Your private teacher link", icon=":material/key:"):
                st.caption("Only this link can lead the class: keep it off the projector. Open it to lead again "
                           "after a refresh or from another browser.")  # fmt: skip
                st.code(f"{_base_url()}?teach={quote(led['token'])}", language=None)
            _own_question()
        elif not following():
            st.text_input("Join a class", key="class_join", placeholder="class code", max_chars=16)
            st.button("Join", key="class_join_go", on_click=page.guarded(_join))


def _join() -> None:
    st.session_state["class"] = st.session_state.get("class_join", "")


def _own_question() -> None:
    with st.form("class_own_question", clear_on_submit=True, border=False):
        st.markdown("**Ask your own question**")
        text = st.text_input("Question", key="class_q_text")
        lines = st.text_area("Choices, one per line", key="class_q_choices", height=100)
        right = st.text_input("The right choice's letter (blank: no single answer)", key="class_q_answer",
                              max_chars=1)  # fmt: skip
        if not st.form_submit_button("Ask the class"):
            return
    choices = [line.strip() for line in lines.splitlines() if line.strip()][:6]
    letter = right.strip().upper()
    answer = ord(letter) - 65 if letter else None
    if not text.strip() or len(choices) < 2:
        st.error("A question needs its text and at least two choices.")
    elif answer is not None and not 0 <= answer < len(choices):
        st.error(f"The right choice's letter must be one of A–{chr(64 + len(choices))}, or blank.")
    else:
        ask(text.strip(), choices, answer)  # the picture: the view shown now


# --- the end of a teacher's run ------------------------------------------------------------------


def publish(slug: str) -> None:
    """app.py calls this after the page: the teacher's view and question to the store, when changed."""
    ss = st.session_state
    led = teaching()
    if not led:
        return
    view = {k: v for k, v in url_state.url_params(slug).items() if k not in NOT_FOLLOWED}
    text = json.dumps({"view": view, "question": ss.get(_QUESTION)}, sort_keys=True)
    if text == ss.get(_PUBLISHED):
        return
    if classes.publish(led["code"], led["token"], _tab(), json.loads(text)) is None:
        ss.pop(_TEACH, None)
        ss[_LEAD_OFF] = True
        _say("This tab no longer leads the class: it ended, or another tab took it over with the teacher link.")
        return
    ss[_PUBLISHED] = text
