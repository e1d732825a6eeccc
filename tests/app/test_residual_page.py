"""The Residual stream page: norms per point and position, sublayer writes, logit lens."""

from __future__ import annotations

import numpy as np

from .app_helpers import PROMPT, array, assert_clean, charts, figure_titled, heatmaps, texts

NORMS, LENS = "‖x‖ per position", "top next characters"


def open_residual(make_app, **params):
    at = make_app(**params).run()
    return at.switch_page("views/residual.py").run()


def test_draws_norms_writes_and_the_logit_lens(make_app):
    at = open_residual(make_app)
    assert_clean(at)
    figures = charts(at)
    assert len(figures) == 5  # norms heatmap + lines, writes heatmap + bars, logit lens
    norms = heatmaps(figure_titled(at, NORMS))[0]
    assert norms["y"] == ["embed", "L0 +attn", "L0 +mlp", "L1 +attn", "L1 +mlp"]
    assert array(norms["z"]).shape == (5, len(PROMPT))
    assert len(figure_titled(at, "one line per point")["data"]) == 5
    assert heatmaps(figure_titled(at, "‖sublayer output‖"))[0]["y"] == ["L0 attn", "L0 mlp", "L1 attn", "L1 mlp"]
    lens = heatmaps(figure_titled(at, LENS))[0]
    assert lens["y"] == norms["y"] and len(lens["x"]) == 8


def test_the_lens_position_picks_the_real_next_character(make_app):
    at = open_residual(make_app)
    at.select_slider(key="lens_pos").set_value(3).run()  # 's' in 'First', next is 't'
    assert_clean(at)
    lens = figure_titled(at, LENS)
    assert len(lens["data"]) == 2  # the top characters, and p(the real next one) per point
    assert "the real next character is `t`" in texts(at.caption)
    probs = array(lens["data"][1]["x"])
    assert probs.shape == (5,) and np.all((probs >= 0) & (probs <= 1))


def test_the_last_position_has_no_target(make_app):
    at = open_residual(make_app)
    assert "the prompt ends here" in texts(at.caption)
    assert len(figure_titled(at, LENS)["data"]) == 1


def test_scale_switch_changes_the_stream(make_app):
    at = open_residual(make_app)
    before = array(heatmaps(figure_titled(at, NORMS))[0]["z"])
    at.segmented_control(key="scale").set_value("none").run()
    assert_clean(at)
    after = array(heatmaps(figure_titled(at, NORMS))[0]["z"])
    assert np.allclose(before[0], after[0])  # the embedding comes before any attention
    assert not np.allclose(before[-1], after[-1])
