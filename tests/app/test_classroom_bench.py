"""The classroom benchmark, small: two sessions through Streamlit's websocket protocol on a real server."""

from __future__ import annotations

import re

import pytest

from viz_app.bench.__main__ import main


@pytest.mark.slow  # a real server
def test_two_students_open_type_and_click_and_the_report_says_so(tiny_dir, capsys, quick_bench):
    assert main(["classroom", "--sessions", "2", "--checkpoints", str(tiny_dir)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"one Attention page run, capture cached: \d+\.\d{3} s of server CPU", out), out
    for case in ("same link", "own prompts"):
        line = next(line for line in out.splitlines() if f"] {case}:" in line)
        assert "2/2 sessions finished" in line, line  # each opened the page, typed a prompt and clicked a head
        assert re.search(r"first view p50 [\d.]+ / p95 [\d.]+ / max [\d.]+ s · change p50", line), line
        assert re.search(r"server CPU [\d.]+ s · peak RSS \d+ MB", line), line
    idle = next(line for line in out.splitlines() if "] follow, idle:" in line)
    assert re.search(r"2 followers joined .* server CPU [\d.]+ s per s over \d+ s", idle), idle
    change = next(line for line in out.splitlines() if "] follow, one teacher change:" in line)
    assert "2/2 followers showed it" in change, change  # each one's poll reran the app on the teacher's view
    assert re.search(r"p50 [\d.]+ / p95 [\d.]+ / max [\d.]+ s after the click · server CPU", change), change
    assert "server healthy after: yes" in out and "failed sessions" not in out


def test_a_bad_session_count_is_refused(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["classroom", "--sessions", "0"])
    assert stop.value.code == 2
    assert "--sessions must be at least 1" in capsys.readouterr().err


def test_every_link_of_the_bench_opens_the_model_asked_for():
    from urllib.parse import parse_qs

    from viz_app.bench.harness import attention_query

    assert parse_qs(attention_query(model="shakespeare-lecture", view="model")) == {
        "page": ["attention"], "model": ["shakespeare-lecture"], "view": ["model"]}  # fmt: skip
    assert "model" not in parse_qs(attention_query())  # the app's default model
