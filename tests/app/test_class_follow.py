"""A class in AppTest: a teacher's session and students' sessions on one real SQLite store. A student's
`run()` is what its poll's full rerun does in the browser (the version moved, so the app reruns)."""

from __future__ import annotations

import re
from urllib.parse import unquote
from xml.etree import ElementTree

import pytest

from viz_app.backend import classes
from viz_app.lesson_steps import STEPS

from .app_helpers import assert_clean, charts, class_session, figure_titled, texts


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(classes.DB_ENV, str(tmp_path / "classes.sqlite3"))


def lead(make_app):
    teacher = make_app().run()
    teacher.sidebar.toggle(key="class_lead").set_value(True).run()
    assert_clean(teacher)
    return teacher, class_session(teacher).lead


def join(make_app, code: str):
    student = make_app(prompt="", **{"class": code}).run()  # a student link carries the code only
    assert_clean(student)
    return student


def shown(at) -> tuple:
    ss = at.session_state
    return ss["model"], ss["prompt"], ss["layer"], ss["head"], ss["scale"], ss["view"]


def test_leading_shows_a_code_and_a_qr_and_keeps_the_token_out_of_the_address(make_app):
    teacher, led = lead(make_app)
    assert f"Leading class **{led.code}**" in texts(teacher.markdown)
    assert any(f"?class={led.code}" in c.value for c in teacher.sidebar.code)
    assert any(f"?teach={led.token}" in c.value for c in teacher.sidebar.code)  # the private link, offered
    assert "teach" not in teacher.query_params and led.token not in str(teacher.query_params)
    # the QR code is a standalone SVG image (its xmlns: without it an <img> draws nothing) of the student link
    (qr,) = [h.proto.body for h in teacher.get("html") if "QR code for" in h.proto.body][:1]
    src = re.search(r'src="([^"]+)"', qr).group(1)
    assert src.startswith("data:image/svg+xml")
    root = ElementTree.fromstring(unquote(src.split(",", 1)[1]))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_a_student_follows_the_teachers_view_and_page_and_never_changes_it(make_app):
    teacher, led = lead(make_app)
    student = join(make_app, led.code)
    assert shown(student) == shown(teacher)
    assert "Following your teacher's screen" in texts(student.info)
    teacher.segmented_control(key="head").set_value(0).run()
    teacher.segmented_control(key="scale").set_value("none").run()
    student.run()
    assert_clean(student)
    assert shown(student) == shown(teacher)
    assert student.session_state["head"] == 0
    teacher.switch_page("views/generate.py").run()
    teacher.slider(key="gen_temp").set_value(1.3).run()
    student.run()
    assert_clean(student)
    assert student.query_params["page"] == "generate"  # the student's app switched page
    assert student.slider(key="gen_temp").value == 1.3
    student.slider(key="gen_temp").set_value(0.5).run()  # the student plays with it
    teacher.run()
    assert teacher.slider(key="gen_temp").value == 1.3  # the teacher's view is the teacher's


def test_explore_on_my_own_then_back_to_the_teacher(make_app):
    teacher, led = lead(make_app)
    student = join(make_app, led.code)
    student.button(key="class_explore").click().run()
    assert "Exploring on your own" in texts(student.info)
    teacher.segmented_control(key="head").set_value(0).run()
    student.segmented_control(key="head").set_value(1).run()
    student.run()
    assert student.session_state["head"] == 1  # exploring: the teacher's change is not applied
    student.button(key="class_rejoin").click().run()
    assert_clean(student)
    assert shown(student) == shown(teacher) and student.session_state["head"] == 0


def ask_own(teacher, text: str, choices: str, answer: str):
    teacher.sidebar.text_input(key="class_q_text").input(text)
    teacher.sidebar.text_area(key="class_q_choices").input(choices)
    teacher.sidebar.text_input(key="class_q_answer").input(answer)
    next(b for b in teacher.sidebar.button if b.label == "Ask the class").click().run()


def test_a_question_hides_the_picture_collects_answers_and_reveals_them(make_app):
    teacher, led = lead(make_app)
    first, second = join(make_app, led.code), join(make_app, led.code)
    assert charts(first)  # the page, before the question
    ask_own(teacher, "Sharper or flatter?", "Sharper\nFlatter", "A")
    assert_clean(teacher)
    assert "Sharper or flatter?" in texts(teacher.subheader)
    for student in (first, second):
        student.run()
        assert "Sharper or flatter?" in texts(student.subheader)
        assert not [f for f in charts(student)]  # the picture is hidden while the question is open
    first.button(key=next(b.key for b in first.button if b.label.startswith("A."))).click().run()
    second.button(key=next(b.key for b in second.button if b.label.startswith("B."))).click().run()
    assert "Your answer: B." in texts(second.caption)
    teacher.run()
    tally = figure_titled(teacher, "2 answers")
    assert tally["data"][0]["x"] == [1, 1]
    teacher.button(key="class_reveal").click().run()
    first.run()
    assert_clean(first)
    assert "Answer: A. Sharper" in texts(first.success)
    assert "You answered A — right!" in texts(first.caption)
    assert figure_titled(first, "2 answers")["data"][0]["x"] == [1, 1]
    assert len(charts(first)) > 1  # the picture is back beside the tally


def test_a_lesson_step_asks_its_question_on_the_view_that_answers_it(make_app):
    teacher, led = lead(make_app)
    teacher.switch_page("views/lesson.py").run()
    step = next(s for s in STEPS if s.key == "scale")
    teacher.button(key="lesson_ask_scale").click().run()
    assert_clean(teacher)
    assert teacher.query_params["page"] == "attention" and teacher.query_params["scale"] == "none"
    student = join(make_app, led.code)
    assert step.question.text in texts(student.subheader)
    assert student.session_state["scale"] == "none" and not charts(student)


def test_every_lesson_step_has_a_question_with_its_answer_among_the_choices():
    for step in STEPS:
        q = step.question
        assert q is not None and len(q.choices) >= 2 and q.text.endswith("?"), step.key
        assert q.answer is not None and 0 <= q.answer < len(q.choices) and q.explain, step.key


def test_a_wrong_code_an_ended_class_and_a_teacher_link_opened_twice_get_a_sentence(make_app):
    wrong = join(make_app, "NOPE42")
    assert "There is no class NOPE42 on this server" in texts(wrong.warning)
    assert "class" not in wrong.query_params
    teacher, led = lead(make_app)
    student = join(make_app, led.code)
    twice = make_app(teach=led.token).run()  # the teacher link, opened in a second browser
    assert_clean(twice)
    assert "led from another tab or browser" in texts(twice.sidebar.warning)
    assert class_session(twice).lead is None
    teacher.sidebar.toggle(key="class_lead").set_value(False).run()  # ends the class
    student.run()
    assert_clean(student)
    assert "The class has ended" in texts(student.warning)
    gone = make_app(teach=led.token).run()
    assert "This teacher link is for a class that has ended" in texts(gone.warning)


def test_a_student_whose_server_lacks_the_teachers_model_is_told(make_app):
    teacher, led = lead(make_app)
    code, token = led.code, led.token
    view = {"view": {"page": "attention", "model": "only-in-the-teachers-browser", "layer": "0", "head": "1"},
            "question": None}  # fmt: skip
    classes.publish(code, token, class_session(teacher).tab, view)
    student = join(make_app, code)
    assert_clean(student)
    assert "Your teacher shows **only-in-the-teachers-browser**, which this server does not have" in texts(
        student.warning
    )
    assert student.session_state["head"] == 1  # the rest of the view follows


def bookkeeping(at) -> set[str]:
    """The session keys of the class that no widget draws (a widget's key, e.g. class_lead, is its own)."""
    return {key for key in at.session_state if str(key).startswith("_class")}


def test_a_sessions_part_in_a_class_is_one_object_under_one_key(make_app):
    teacher, led = lead(make_app)
    student = join(make_app, led.code)
    ask_own(teacher, "Sharper or flatter?", "Sharper\nFlatter", "A")
    student.run()
    student.button(key=next(b.key for b in student.button if b.label.startswith("B."))).click().run()
    teacher.button(key="class_reveal").click().run()
    student.run()
    assert "You answered B — not this time." in texts(student.caption)
    assert bookkeeping(teacher) == bookkeeping(student) == {"_class"}
    mine, theirs = class_session(student), class_session(teacher)
    assert mine.follow.code == theirs.lead.code == led.code and mine.lead is None and theirs.follow is None
    assert list(mine.answers.values()) == [1] and theirs.question["revealed"]
