"""Figures laid out for a phone's screen (kit.narrow_layout, FigureStyle.narrow: issue #41), and the phone's
numbers (viz_app/phone.py): pure functions, checked without a browser (tests/e2e/test_phone_browser.py
measures them drawn)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from viz_app import phone
from viz_app.figures import ablations, attribution, heads, kit
from viz_app.url_state import DEFAULT_PROMPT

NARROW = phone.PHONE_STYLE
TITLE = "layer 1 · head 2 · 1/√head_size (as trained) · last space: each letter looks at the space before its word"


def _weights(n: int) -> np.ndarray:
    return np.tril(np.ones((n, n), dtype=np.float32)) / np.arange(1, n + 1, dtype=np.float32)[:, None]


def test_a_phones_window_is_what_its_width_labels():
    assert phone.zoom(390) == 19 and phone.zoom(360) == 17  # about 20 at 390 px, as the issue asks
    assert phone.plot_px(390) / phone.zoom(390) >= phone.CHAR_PX
    assert phone.map_height(390) > phone.map_height(360)


def test_a_narrow_map_has_a_wrapped_title_a_short_horizontal_colour_bar_and_every_label():
    n, window = len(DEFAULT_PROMPT), (98, 117)
    fig = heads.head_heatmap(_weights(n), DEFAULT_PROMPT, window=window, title=TITLE, height=phone.map_height(390),
                             max_ticks=heads.CLICKABLE_MAX, style=NARROW)  # fmt: skip
    lines = fig.layout.title.text.split("<br>")
    assert len(lines) >= 2 and all(len(line) <= kit.WRAP_CHARS for line in lines)
    assert fig.layout.title.font.size == NARROW.font_size
    bar = fig.data[0].colorbar
    assert bar.orientation == "h" and bar.len <= 0.7 and bar.thickness <= 10
    assert list(fig.layout.yaxis.ticktext) == [kit.visible_char(c) for c in DEFAULT_PROMPT[98:117]]
    assert fig.layout.yaxis.tickfont.size == kit.NARROW_TICK_PX >= 12
    assert fig.layout.margin.l <= 2 and fig.layout.margin.r <= 2
    go.Figure(fig.to_dict())  # every property a real one (the traces were built unchecked)


def test_a_laptops_figure_is_left_as_it_was():
    fig = heads.head_heatmap(_weights(40), DEFAULT_PROMPT[:40], title=TITLE, height=560)
    assert fig.data[0].colorbar.orientation is None and "<br>" not in fig.layout.title.text


def test_tick_labels_a_phone_cannot_hold_are_thinned():
    labels = kit.position_labels(DEFAULT_PROMPT[:96])
    axis = kit.ticks(labels, DEFAULT_PROMPT[:96], 64)
    thinned = kit._thinned(dict(axis), True, 400, 60)
    assert len(thinned["tickvals"]) <= kit.NARROW_PLOT_PX / 14 < len(axis["tickvals"])
    step = axis["tickvals"].index(thinned["tickvals"][1])
    assert thinned["ticktext"] == axis["ticktext"][::step]


def test_narrow_bars_keep_their_numbers_and_a_legend_goes_under_the_plot():
    names = ("L0mlp", "L1H0", "L1mlp", "embed")
    fig = attribution.component_bars(names, np.array([1.5, -0.4, 0.3, 0.2]), title="why", total_label="= sum",
                                     style=NARROW)  # fmt: skip
    assert fig.layout.margin.r >= 40 and fig.layout.yaxis.ticklabelstandoff >= 30
    go.Figure(fig.to_dict())
    runs = {v: {"variant": v, "step": [0, 100], "train": [4.0, 2.1], "val": [4.0, 2.0], "live": False}
            for v in ("full", "no-scale", "bigram")}  # fmt: skip
    fig = ablations.loss_curves(runs, style=NARROW)
    # the loss curves are named at their ends (colour never alone), not in a legend
    assert fig.layout.showlegend is False and {"full", "no-scale", "bigram"} <= {a.text for a in fig.layout.annotations}
    go.Figure(fig.to_dict())
    lines = [go.Scatter(x=[0, 1], y=[1, 2], name=name) for name in ("small", "lecture", "python")]
    fig = kit.figure(lines, NARROW, 300, "three runs")
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.yref == "container"
    assert fig.layout.margin.b >= 20 * 2 + 56  # two rows of names under the axis
    go.Figure(fig.to_dict())
