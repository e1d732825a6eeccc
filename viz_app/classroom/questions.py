"""A class's questions: the teacher asks one (a Lesson step's, with the view that answers it, or their
own from the sidebar), every member of the class sees it instead of the page (the picture would answer
it), students answer on their screens, and the teacher reveals the answer with the tally."""

from __future__ import annotations

import json

import streamlit as st

from .. import page, url_state
from ..backend import classes
from ..figures import classroom as figures
from ..pages import state_of
from . import lead
from .session import current, following, say, teaching


def question_key(question: dict | None) -> str:
    """A question as one text: a student's poll compares it to see that the question changed."""
    return json.dumps(question, sort_keys=True)


def question() -> dict | None:
    """The class's question now: the teacher's own, or the one the store gave this student's run."""
    if teaching():
        return current().question
    if following():
        return (current().latest or {}).get("question")
    return None


def _live_tally(question: dict, code: str) -> None:
    counts = classes.tally(code, question["id"], len(question["choices"]))
    answer = question["answer"] if question["revealed"] else None
    fig = page.figure(figures.tally, list(question["choices"]), counts, answer, style=page.figure_style())
    page.chart(fig, name="class-answers", key=f"class_tally_{question['id']}")


def question_panel(slug: str) -> bool:
    """The open question above the page; False while it hides the page (the picture would answer it)."""
    asked = question()
    if not asked:
        return True
    led = teaching()
    code = led.code if led else following().code
    with st.container(border=True):
        st.subheader(f":material/quiz: {asked['text']}")
        if not asked["revealed"]:
            if led:
                st.caption("Students answer on their screens. The picture that answers it is hidden until you reveal.")
                page.fragment(lambda: _live_tally(asked, code), run_every=lead.TEACHER_POLL_S / 2, keeps_view=False)
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
                mine = current().answers.get(asked["id"])
                if mine is not None:
                    verdict = "" if right is None else (" — right!" if mine == right else " — not this time.")
                    st.caption(f"You answered {chr(65 + mine)}{verdict}")
    if not asked["revealed"]:
        url_state.declare(state_of(slug))  # the page's settings outlive the runs that do not draw it
    return bool(asked["revealed"])


def _choices(asked: dict, code: str) -> None:
    mine = current().answers.get(asked["id"])
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
    if joined and classes.answer(code, question_id, joined.student, choice):
        current().answers[question_id] = choice
    else:
        say("That question is closed: your answer was not counted.")


def _reveal() -> None:
    cs = current()
    if cs.question:
        cs.question = {**cs.question, "revealed": True}


def _close() -> None:
    current().question = None


def ask(text: str, choices, answer: int | None, explain: str = "", link=None) -> None:
    """Put a question to the class (the teacher's run); `link` (a lesson_steps.Link): the view that
    answers it, opened now and hidden until the reveal."""
    current().question = {"id": classes.new_id(), "text": text, "choices": list(choices),
                          "answer": answer, "explain": explain, "revealed": False}  # fmt: skip
    if link is not None:
        url_state.open_link(link.params, state_of(link.page))
        url_state.switch_page(link.page)  # no link to click: the button also puts the question


def own_question() -> None:
    """The sidebar's form for a question of the teacher's own; the picture is the view shown now."""
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
        ask(text.strip(), choices, answer)
