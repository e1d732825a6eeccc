"""Issue #35 in AppTest: "Lead a class" on a machine where the app never ran (no ATTENTION_LAB_CLASS_DB,
no attention-lab/ in the temp folder), and on one whose class store cannot be opened at all: a class
starts, or one sentence says where the store is and what to set, the toggle stays off, and the rest of
the app works. No exception reaches the page from the toggle's callback."""

from __future__ import annotations

import tempfile

import pytest

from viz_app.backend import classes

from .app_helpers import assert_clean, charts, class_session, texts


@pytest.fixture
def fresh_temp(tmp_path, monkeypatch):
    """The temp folder of a machine where the app never ran, and no class store setting."""
    monkeypatch.delenv(classes.DB_ENV, raising=False)
    folder = tmp_path / "fresh-temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_lead_a_class_where_the_app_never_ran(make_app, fresh_temp):
    teacher = make_app().run()
    teacher.sidebar.toggle(key="class_lead").set_value(True).run()
    assert_clean(teacher)
    led = class_session(teacher).lead
    assert f"Leading class **{led.code}**" in texts(teacher.markdown)
    assert (fresh_temp / "attention-lab" / "classes.sqlite3").is_file()
    assert teacher.sidebar.toggle(key="class_lead").value is True


def test_a_store_that_cannot_open_says_so_leaves_the_toggle_off_and_the_app_working(make_app, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv(classes.DB_ENV, str(tmp_path / "a-file" / "classes.sqlite3"))
    at = make_app().run()
    for _ in range(2):  # a second try: the same sentence, and the toggle still off
        at.sidebar.toggle(key="class_lead").set_value(True).run()
        assert not at.exception, [e.value for e in at.exception]
        said = texts(at.error)
        assert "The class store" in said and classes.DB_ENV in said, said
        assert at.sidebar.toggle(key="class_lead").value is False
        assert class_session(at).lead is None
        assert not any("Leading class" in m.value for m in at.markdown)
        assert charts(at)  # the page itself is drawn
    at.run()
    assert_clean(at)  # said once
    at.switch_page("views/sharpness.py").run()
    assert_clean(at)
    assert charts(at)


def test_any_error_in_a_callback_is_a_sentence_not_streamlits_box(make_app, fresh_temp, monkeypatch):
    def broken(lead):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(classes, "open_class", broken)
    at = make_app().run()
    at.sidebar.toggle(key="class_lead").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Something went wrong (RuntimeError: the disk went away)" in texts(at.error)
    assert at.sidebar.toggle(key="class_lead").value is False
