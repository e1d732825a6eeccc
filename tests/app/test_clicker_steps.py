"""The steps a presenter's clicker presses (viz_app/a11y.py clicks these buttons on PageDown / PageUp): the
Lesson's Previous / Next step, the Timeline's Previous / Next, Generate's Back; a class follows the
Lesson's step like the rest of the teacher's view."""

from __future__ import annotations

import pytest

from viz_app import a11y
from viz_app.backend import classes
from viz_app.lesson_steps import STEPS

from .app_helpers import assert_clean, class_session


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(classes.DB_ENV, str(tmp_path / "classes.sqlite3"))


def test_the_lessons_next_and_previous_step_are_kept_inside_the_lesson(make_app):
    at = make_app().switch_page("views/lesson.py").run()
    assert_clean(at)
    assert at.session_state["lesson_step"] == 1 and at.button(key="lesson_prev").disabled
    at.button(key="lesson_next").click().run()
    at.button(key="lesson_next").click().run()
    assert at.session_state["lesson_step"] == 3
    assert at.query_params["lesson_step"] == "3"  # in the link, so a class and a reload keep it
    at.button(key="lesson_prev").click().run()
    assert at.session_state["lesson_step"] == 2
    for _ in range(len(STEPS) - 2):  # from step 2 to the last
        at.button(key="lesson_next").click().run()
    assert at.session_state["lesson_step"] == len(STEPS) and at.button(key="lesson_next").disabled


def test_a_class_follows_the_teachers_lesson_step(make_app):
    teacher = make_app().run()
    teacher.sidebar.toggle(key="class_lead").set_value(True).run()
    code = class_session(teacher).lead.code
    teacher.switch_page("views/lesson.py").run()
    student = make_app(prompt="", **{"class": code}).run()
    teacher.button(key="lesson_next").click().run()
    teacher.button(key="lesson_next").click().run()
    student.run()
    assert_clean(student)
    assert student.session_state["lesson_step"] == 3


def test_every_button_the_clicker_presses_is_drawn_by_its_page(make_app):
    drawn = set()
    for page in ("views/lesson.py", "views/generate.py"):
        at = make_app().switch_page(page).run()
        drawn |= {b.key for b in at.button}
    assert {"lesson_next", "lesson_prev", "gen_next", "gen_back"} <= drawn
    assert set(a11y.CLICKER_NEXT) >= {"lesson_next", "gen_next", "tl_next"}
    assert set(a11y.CLICKER_PREVIOUS) >= {"lesson_prev", "gen_back", "tl_prev"}
