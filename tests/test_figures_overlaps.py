"""Figures whose parts must not sit on each other or on a click: the "sampled" label and the title,
legends and titles, the Generate pick column and the drag strip of the axis beside it, and the
teacher-forcing bars' character labels."""

from __future__ import annotations

import numpy as np
import pytest

from viz_app.figures import compare as compare_figs
from viz_app.figures import generate as gen_figs
from viz_app.figures import legend
from viz_app.figures import train as train_figs
from viz_app.figures.kit import DEFAULT_STYLE, PRESENTER_STYLE

VOCAB = list("abcdefghij")


def plot_height(fig) -> float:
    margin = fig.layout.margin
    return fig.layout.height - margin.t - margin.b


def label_top_px(fig) -> float:
    """How far below the plot area's top edge the "sampled" label's upper edge is (negative: above it)."""
    (a,) = fig.layout.annotations
    y_top = fig.layout.yaxis.range[1]
    arrow_tail = (1 - a.y / y_top) * plot_height(fig) + a.ay  # pixels: Plotly's ay is down-positive
    text_px = 1.3 * DEFAULT_STYLE.font_size
    return arrow_tail if a.yanchor == "top" else arrow_tail - text_px


@pytest.mark.parametrize("p_top", [0.3, 0.6, 0.9, 0.999])
def test_the_sampled_label_stays_inside_the_plot_whatever_its_probability(p_top):
    probs = np.full(len(VOCAB), (1 - p_top) / (len(VOCAB) - 1), dtype=np.float32)
    probs[4] = p_top
    fig = gen_figs.next_char_bars(VOCAB, probs, probs, 4, temperature=1.0, top_k=None, title="step 1")
    assert label_top_px(fig) >= 0  # under the plot's top edge: clear of the title above it
    assert fig.layout.annotations[0].text == "sampled 'e'"


def test_before_the_first_sample_no_bar_is_picked_out_and_nothing_is_labelled():
    probs = np.linspace(1, 2, len(VOCAB)).astype(np.float32)
    probs /= probs.sum()
    fig = gen_figs.next_char_bars(VOCAB, probs, probs, None, temperature=1.0, top_k=None)
    assert not fig.layout.annotations
    assert {c for trace in fig.data for c in trace.marker.color} <= {DEFAULT_STYLE.plain, DEFAULT_STYLE.muted}
    assert list(fig.layout.xaxis.ticktext) == VOCAB[::-1]  # most likely first


def test_no_axis_of_the_pick_column_figure_can_be_dragged():
    """A draggable axis has a drag strip along it: the heatmap's y axis strip covered the right half of
    every pick square (the browser test clicks there)."""
    fig = gen_figs.step_attention(np.full((2, 3, 5), 0.2, dtype=np.float32), "abcde")
    for name in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
        assert fig.layout[name].fixedrange is True, name


def test_teacher_forcing_names_the_surprising_characters_on_the_top_plot():
    chars = "abcdefghijk"
    p = np.full(10, 0.9, dtype=np.float32)
    surprising = np.zeros(10, dtype=bool)
    surprising[[2, 3, 7]] = True  # 3 is next to 2: its label would touch 2's
    fig = gen_figs.teacher_forcing(chars, p, -np.log(p), surprising=surprising)
    named = [t.split(">")[2].split("<")[0] for t in fig.layout.xaxis.ticktext]
    assert named == [chars[1 + 2], chars[1 + 7]]  # chars[i + 1] is what position i predicts
    assert all(DEFAULT_STYLE.accent in t for t in fig.layout.xaxis.ticktext)
    assert len(fig.layout.xaxis2.ticktext) == 10  # every character under the loss bars
    assert fig.layout.xaxis2.matches == "x"


def loss_figure(style):
    evals = [dict(step=0, train=4.2, val=4.2), dict(step=50, train=2.5, val=2.6)]
    return train_figs.loss_curves(np.arange(1, 51), np.linspace(4, 2.5, 50), evals, max_iters=100, style=style)


def norms_figure(style):
    norms = {"model": np.ones((3, 4)), "model untrained": np.full((3, 4), 2.0)}
    return compare_figs.mean_norms(["embed", "block 0", "block 1"], norms, style=style)


@pytest.mark.parametrize("build", [loss_figure, norms_figure])
@pytest.mark.parametrize("style", [DEFAULT_STYLE, PRESENTER_STYLE])
def test_a_legend_sits_between_the_title_and_the_plot_never_on_the_title(build, style):
    fig = build(style)
    title, leg = fig.layout.title, fig.layout.legend
    assert title.yref == "container" and title.y == 1 and title.yanchor == "top"  # the title at the top edge
    assert leg.yref == "paper" and leg.y == 1 and leg.yanchor == "bottom"  # the legend on the plot's top edge
    # the top margin holds the title, then the legend, in pixels at this font size
    title_bottom = title.pad.t + legend.title_px(style)
    legend_top = fig.layout.margin.t - legend.legend_px(style)
    assert legend_top - title_bottom >= legend.GAP
    assert leg.orientation == "h" and len(fig.data) >= 2
