"""The ablation figures and helpers: plain data in, Plotly figures and text out."""

from __future__ import annotations

import math

import numpy as np
import pytest

from viz_app.backend.ablation_results import curve, describe_diff, format_lines
from viz_app.figures.ablations import REFERENCE_COLOUR, loss_curves, val_loss_bars, variant_colours
from viz_app.figures.kit import DEFAULT_STYLE
from viz_app.lesson_steps import PAGE_PATHS, STEPS, Link

RUNS = {
    "full": dict(variant="full", step=[0, 10, 20], train=[4.2, 2.6, 2.2], val=[4.2, 2.7, 2.3], live=False),
    "no-scale": dict(variant="no-scale", step=[0, 10, 20], train=[4.2, 2.8, 2.5], val=[4.2, 2.9, 2.6], live=False),
    "no-scale (live, 20 steps)": dict(variant="no-scale", step=[0, 20], train=[4.1, 3.0], val=[4.1, 3.1], live=True),
}


def test_loss_curves_draw_the_shown_runs_with_stable_colours():
    fig = loss_curves(RUNS, split="val", order=["full", "no-residual", "no-scale"])
    names = [t.name for t in fig.data]
    assert names == list(RUNS)
    assert np.allclose(fig.data[1].y, RUNS["no-scale"]["val"])
    assert fig.data[0].line.color == REFERENCE_COLOUR and fig.data[0].line.width > fig.data[1].line.width
    assert fig.data[2].line.dash == "dash" and fig.data[2].line.color == fig.data[1].line.color
    hidden = loss_curves(RUNS, split="train", shown=["no-scale"], order=["full", "no-residual", "no-scale"])
    assert [t.name for t in hidden.data] == ["no-scale"]
    assert hidden.data[0].line.color == fig.data[1].line.color  # hiding full does not recolour the rest
    assert np.allclose(hidden.data[0].y, RUNS["no-scale"]["train"])
    assert "train loss" in hidden.layout.title.text
    assert loss_curves(RUNS, shown=[]).data == ()
    with pytest.raises(ValueError):
        loss_curves(RUNS, split="test")


def test_variant_colours_skip_the_reference():
    colours = variant_colours(["a", "full", "b"])
    assert colours["full"] == REFERENCE_COLOUR and len({colours["a"], colours["b"], colours["full"]}) == 3


def test_val_loss_bars_mark_the_reference_and_the_chosen_variant():
    rows = [dict(variant="full", val_loss=2.0, delta=0.0), dict(variant="bigram", val_loss=2.5, delta=0.5),
            dict(variant="no-ffn", val_loss=float("nan"), delta=float("nan"))]  # fmt: skip
    fig = val_loss_bars(rows, highlight="bigram")
    bar = fig.data[0]
    assert list(bar.y) == ["full", "bigram", "no-ffn"]
    assert list(bar.text) == ["reference", "+0.500", ""]
    assert list(bar.marker.color) == [DEFAULT_STYLE.plain, DEFAULT_STYLE.accent, DEFAULT_STYLE.plain]
    assert fig.layout.shapes[0].x0 == 2.0


def test_helpers_read_a_record_and_format_lines():
    record = {"history": [{"step": 0, "train": 4.0, "val": None}, {"step": 5, "train": 3.0, "val": 3.1}]}
    c = curve(record)
    assert c["step"] == [0, 5] and c["train"] == [4.0, 3.0] and math.isnan(c["val"][0])
    assert describe_diff({}) == "—"
    assert describe_diff({"residual": [True, False]}) == "residual: True → False"
    assert format_lines([(9, "a"), (10, "b"), (120, "c")]).splitlines() == ["  9  a", " 10  b", "     ⋮", "120  c"]


def test_lesson_links_point_at_real_pages():
    link = Link("sharpness", "x", {"scale": "none"})
    assert link.href({"model": "tiny model"}) == "./sharpness?page=sharpness&model=tiny%20model&scale=none"
    assert link.script == "views/sharpness.py"
    for step in STEPS:
        for link in (*step.links, step.ablation_link):
            if link is not None:
                assert link.page in PAGE_PATHS
        assert step.video_url.endswith(f"t={step.video_seconds}s")
