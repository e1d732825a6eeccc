"""The Sharpness page: entropy per head, per-query curves, tags and the variance demo."""

from __future__ import annotations

import numpy as np

from .app_helpers import array, assert_clean, charts, figure_titled, heatmaps, texts

ENTROPY_GRID = "mean normalised entropy"


def open_sharpness(make_app, **params):
    at = make_app(**params).run()
    return at.switch_page("views/sharpness.py").run()


def test_draws_the_head_grids_curves_tags_and_demo(make_app):
    at = open_sharpness(make_app)
    assert_clean(at)
    figures = charts(at)
    titles = [f["layout"].get("title", {}).get("text", "") for f in figures]
    assert any("normalised entropy" in t for t in titles) and any("max weight" in t for t in titles)
    entropy = array(heatmaps(figure_titled(at, ENTROPY_GRID))[0]["z"])
    assert entropy.shape == (2, 2) and np.all((entropy >= 0) & (entropy <= 1))
    curves = [t for t in figure_titled(at, "of each query row")["data"] if t["type"] == "scatter"]
    assert len(curves) == 2 and curves[0]["line"]["width"] == 4  # head 0 chosen, drawn bold
    table = at.dataframe[0].value
    assert list(table["layer"]) == [0, 0, 1, 1] and "tags" in table.columns
    assert "previous-token" in texts(at.caption)


def test_scale_switch_changes_the_entropy_grid(make_app):
    at = open_sharpness(make_app)
    before = array(heatmaps(figure_titled(at, ENTROPY_GRID))[0]["z"])
    at.segmented_control(key="scale").set_value("none").run()
    assert_clean(at)
    after = array(heatmaps(figure_titled(at, ENTROPY_GRID))[0]["z"])
    assert after.mean() < before.mean()  # no scale: sharper softmax, lower entropy


def test_curve_kind_and_head_change_the_curves(make_app):
    at = open_sharpness(make_app)
    at.segmented_control(key="curve").set_value("max_weight")
    at.segmented_control(key="head").set_value(1).run()
    assert_clean(at)
    curves = figure_titled(at, "of each query row")
    assert "max weight" in curves["layout"]["title"]["text"]
    assert curves["data"][1]["line"]["width"] == 4


def test_variance_demo_follows_the_slider(make_app):
    at = open_sharpness(make_app)
    at.select_slider(key="demo_d").set_value(256).run()
    assert_clean(at)
    variance = float(at.metric[0].value)
    assert 150 < variance < 400  # var(q.k) is about d for unit Gaussian q, k
    assert 0.5 < float(at.metric[1].value) < 1.5
