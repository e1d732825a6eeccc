"""Colour never alone: lines told apart by marker and dash and named at their ends, the picked head and the
class's right answer marked by more than colour (WCAG 1.4.1). The rendered colours under simulated colour
vision are checked in a browser (tests/e2e/test_colour_browser.py)."""

from __future__ import annotations

import itertools

import numpy as np

from viz_app.figures import classroom, lines
from viz_app.figures import sharpness as sharpness_figs
from viz_app.figures.ablations import loss_curves, variant_looks
from viz_app.figures.kit import DEFAULT_STYLE, PRESENTER_STYLE

VARIANTS = ["full", "no-residual", "no-layernorm", "post-norm", "no-scale", "n_embd-scale", "single-head", "no-ffn",
            "no-pos-emb", "bigram"]  # fmt: skip


def runs(names):
    return {n: dict(variant=n, step=[0, 10, 20], train=[4.2, 3.0, 2.0 + i / 50], val=[4.2, 3.0, 2.0 + i / 50],
                    live=False) for i, n in enumerate(names)}  # fmt: skip


def test_every_two_variants_differ_in_marker_symbol_and_their_lines_are_named_at_their_ends():
    fig = loss_curves(runs(VARIANTS), order=VARIANTS)
    symbols = [t.marker.symbol for t in fig.data]
    assert len(set(symbols)) == len(VARIANTS), symbols
    labels = {a.text: a for a in fig.layout.annotations}
    assert set(labels) == set(VARIANTS)
    for trace in fig.data:
        assert labels[trace.name].font.color == trace.line.color  # the label wears its line's colour
        assert labels[trace.name].x == trace.x[-1]
    assert fig.layout.showlegend is False


def test_end_labels_of_lines_that_end_together_are_pushed_apart():
    ends = [(f"v{i}", 20.0, 2.0, "#000000") for i in range(5)]
    ys = sorted(a["y"] for a in lines.end_labels(ends, font_size=13))
    assert min(b - a for a, b in itertools.pairwise(ys)) > 0
    assert lines.end_labels([("nan", 1.0, float("nan"), "#000")], font_size=13) == []


def test_a_live_run_keeps_its_variants_marker_and_is_dashed():
    data = runs(["full", "no-scale"])
    data["no-scale (live)"] = dict(data["no-scale"], live=True)
    fig = loss_curves(data, order=VARIANTS)
    assert fig.data[2].marker.symbol == fig.data[1].marker.symbol and fig.data[2].line.dash == "dash"
    assert fig.data[1].line.dash != "dash"
    assert variant_looks(VARIANTS)["full"]["dash"] == "solid"


def test_the_picked_head_is_bold_solid_accented_and_named_as_picked():
    for style in (DEFAULT_STYLE, PRESENTER_STYLE):
        fig = sharpness_figs.entropy_curves(np.random.default_rng(0).random((6, 12)), "abcdefghijkl", layer=1,
                                            highlight=3, ylabel="nats", style=style)  # fmt: skip
        picked = fig.data[3]
        assert picked.line.color == style.accent and picked.line.dash == "solid"
        others = [t for i, t in enumerate(fig.data) if i != 3]
        assert all(t.line.color != style.accent and t.line.dash != "solid" for t in others)
        assert len({t.line.dash for t in others}) == len(others)  # each other head its own dash
        texts = [a.text for a in fig.layout.annotations]
        assert "<b>head 3 (picked)</b>" in texts and "head 0" in texts


def test_the_right_answer_is_marked_by_a_sign_and_words():
    fig = classroom.tally(["a previous-token head", "an induction head"], [3, 5], answer=1)
    assert list(fig.data[0].y)[1].startswith(classroom.RIGHT) and not list(fig.data[0].y)[0].startswith("✓")
    assert list(fig.data[0].text)[1].endswith("right answer") and "right answer" not in fig.data[0].text[0]
    hidden = classroom.tally(["a", "b"], [3, 5])
    assert not any("right" in t for t in hidden.data[0].text)
