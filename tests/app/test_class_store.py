"""The class store on a real SQLite file: who may lead, what followers read, answers, the end of a class."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from viz_app.backend import classes


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    path = tmp_path / "classes.sqlite3"
    monkeypatch.setenv(classes.DB_ENV, str(path))
    return path


def question(qid: str = "q1", revealed: bool = False) -> dict:
    return {"id": qid, "text": "Sharper or flatter?", "choices": ["sharper", "flatter"], "answer": 0,
            "explain": "", "revealed": revealed}  # fmt: skip


def test_the_file_is_in_wal_mode_and_a_new_class_has_a_short_code(store):
    opened = classes.open_class("tab-1")
    assert len(opened.code) == classes.CODE_LENGTH and set(opened.code) <= set(classes.CODE_ALPHABET)
    assert opened.token not in store.read_bytes().decode("latin-1")  # only its hash is stored
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert classes.version(opened.code) == 1
    assert classes.by_token(opened.token).code == opened.code


def test_only_the_token_and_the_leading_tab_can_publish(store):
    opened = classes.open_class("tab-1")
    view = {"view": {"page": "attention", "head": "3"}, "question": None}
    assert classes.publish(opened.code, opened.token, "tab-1", view) == 2
    assert classes.state(opened.code) == (2, view)
    assert classes.publish(opened.code, "a guessed token", "tab-1", view) is None
    assert classes.publish(opened.code, opened.token, "tab-2", view) is None  # another tab, not the leader
    assert classes.claim(opened.token, "tab-2")  # the teacher link opened there takes the lead
    assert classes.publish(opened.code, opened.token, "tab-1", view) is None
    assert classes.publish(opened.code, opened.token, "tab-2", view) == 3
    assert not classes.teacher_here(opened.code, opened.token, "tab-1")


def test_answers_count_while_the_question_is_open_and_change_with_a_second_click(store):
    opened = classes.open_class("tab")
    classes.publish(opened.code, opened.token, "tab", {"view": {}, "question": question()})
    assert classes.answer(opened.code, "q1", "s1", 0)
    assert classes.answer(opened.code, "q1", "s2", 1)
    assert classes.answer(opened.code, "q1", "s2", 0)  # changed its mind: still one answer
    assert not classes.answer(opened.code, "q1", "s3", 2)  # no such choice
    assert not classes.answer(opened.code, "other", "s3", 0)  # not the open question
    assert classes.tally(opened.code, "q1", 2) == [2, 0]
    classes.publish(opened.code, opened.token, "tab", {"view": {}, "question": question(revealed=True)})
    assert not classes.answer(opened.code, "q1", "s3", 1)  # revealed: closed
    assert classes.tally(opened.code, "q1", 2) == [2, 0]


def test_followers_count_and_a_wrong_code_has_no_version(store):
    opened = classes.open_class("tab")
    classes.here(opened.code, "s1")
    classes.here(opened.code, "s2")
    classes.here(opened.code, "s1")
    assert classes.followers(opened.code) == 2
    assert classes.version("NOSUCH") is None and classes.state("NOSUCH") is None
    assert classes.normal_code(" ab-c 12 ") == "ABC12"


def test_ending_or_expiring_a_class_deletes_every_row(store, monkeypatch):
    kept, ended, old = (classes.open_class(f"tab-{i}") for i in range(3))
    for c in (kept, ended, old):
        classes.publish(c.code, c.token, f"tab-{(kept, ended, old).index(c)}", {"view": {}, "question": question()})
        classes.here(c.code, "s1")
        classes.answer(c.code, "q1", "s1", 0)
    assert not classes.end(ended.code, "not the token")
    assert classes.end(ended.code, ended.token)
    monkeypatch.setenv(classes.CLASS_HOURS_ENV, "1")
    with sqlite3.connect(store) as con:
        con.execute("UPDATE classes SET teacher_seen = ? WHERE code = ?", (time.time() - 2 * 3600, old.code))
    assert classes.purge() == 1
    with sqlite3.connect(store) as con:
        for table in ("classes", "followers", "answers"):
            codes = {c for (c,) in con.execute(f"SELECT code FROM {table}")}
            assert codes == {kept.code}, table
    assert classes.by_token(old.token) is None


def test_the_default_store_opens_where_the_app_never_ran(store, tmp_path, monkeypatch):
    """A newcomer's machine: no ATTENTION_LAB_CLASS_DB and no attention-lab/ in the temp folder yet."""
    import tempfile

    monkeypatch.delenv(classes.DB_ENV)
    fresh = tmp_path / "fresh-temp"
    fresh.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(fresh))
    assert classes.db_path() == fresh / "attention-lab" / "classes.sqlite3"
    opened = classes.open_class("tab-1")
    assert classes.version(opened.code) == 1
    assert (fresh / "attention-lab" / "classes.sqlite3").is_file()


def test_the_default_store_of_another_environment_is_in_its_temp_folder(tmp_path):
    """make serve's processes each get a temp folder of their own: the store it hands them all is in
    the temp folder of the environment it was given (serve.Hall), not wherever the caller's is."""
    env = {"TMPDIR": str(tmp_path / "t")}
    assert classes.db_path(env) == tmp_path / "t" / "attention-lab" / "classes.sqlite3"
    assert classes.db_path({**env, classes.DB_ENV: "/x/c.sqlite3"}) == Path("/x/c.sqlite3")


@pytest.mark.parametrize("kind", ["folder is a file", "not a database"])
def test_a_store_that_cannot_be_opened_says_where_and_what_to_set(store, tmp_path, monkeypatch, kind):
    if kind == "folder is a file":
        (tmp_path / "a-file").write_text("x")
        path = tmp_path / "a-file" / "classes.sqlite3"
    else:
        path = tmp_path / "garbage.sqlite3"
        path.write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv(classes.DB_ENV, str(path))
    with pytest.raises(classes.ClassStoreError) as refused:
        classes.open_class("tab-1")
    message = str(refused.value)
    assert str(path) in message and classes.DB_ENV in message and "the rest of the app works" in message
