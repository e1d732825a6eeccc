"""The classroom benchmark, small: two sessions through Streamlit's websocket protocol on a real server."""

from __future__ import annotations

import re

import pytest

from viz_app.bench.__main__ import main

pytestmark = pytest.mark.slow  # a subprocess or a real server


def test_two_students_open_type_and_click_and_the_report_says_so(tiny_dir, capsys):
    assert main(["classroom", "--sessions", "2", "--checkpoints", str(tiny_dir)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"one Attention page run, capture cached: \d+\.\d{3} s of server CPU", out), out
    for case in ("same link", "own prompts"):
        line = next(line for line in out.splitlines() if f"] {case}:" in line)
        assert "2/2 sessions finished" in line, line  # each opened the page, typed a prompt and clicked a head
        assert re.search(r"first view p50 [\d.]+ / p95 [\d.]+ / max [\d.]+ s · change p50", line), line
        assert re.search(r"server CPU [\d.]+ s · peak RSS \d+ MB", line), line
    assert "server healthy after: yes" in out and "failed sessions" not in out


def test_a_bad_session_count_is_refused(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["classroom", "--sessions", "0"])
    assert stop.value.code == 2
    assert "--sessions must be at least 1" in capsys.readouterr().err
