"""viz_app.figures.generate and .train: the Generate and Train pages' figures and text blocks, without Streamlit."""

from __future__ import annotations

import numpy as np

from viz_app.figures import generate as generate_figs
from viz_app.figures import train as train_figs
from viz_app.figures.kit import DEFAULT_STYLE, PRESENTER_STYLE

VOCAB = list("\n !abcdefghij")


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_next_char_bars_sorts_by_the_model_and_marks_the_sampled_character():
    raw = softmax(np.linspace(0, 3, len(VOCAB))).astype(np.float32)  # 'j' most likely, '\n' least
    after = softmax(np.linspace(0, 3, len(VOCAB)) / 0.5).astype(np.float32)
    fig = generate_figs.next_char_bars(VOCAB, raw, after, 4, temperature=0.5, top_k=None, shown=None)
    model, sampled = fig.data
    order = np.argsort(-raw)
    assert np.array_equal(model.y, raw[order]) and np.array_equal(sampled.y, after[order])  # most likely first
    rank = int(np.flatnonzero(order == 4)[0])
    accent, plain, muted = DEFAULT_STYLE.accent, DEFAULT_STYLE.plain, DEFAULT_STYLE.muted
    assert list(sampled.marker.color) == [accent if i == rank else plain for i in range(len(VOCAB))]
    assert model.marker.color[rank] == accent and model.marker.color[0] == muted
    assert "temperature 0.5" in sampled.name
    assert fig.layout.annotations[0].x == rank and "'b'" in fig.layout.annotations[0].text
    assert list(fig.layout.xaxis.ticktext[-2:]) == ["␣", "↵"]  # whitespace is visible, least likely last


def test_next_char_bars_mark_what_top_k_cuts_and_show_the_top_few_by_default():
    vocab = [chr(ord("a") + i) for i in range(26)] + list(" \n.,")
    raw = softmax(np.linspace(3, 0, len(vocab))).astype(np.float32)
    cut = raw * (np.arange(len(vocab)) < 3)
    fig = generate_figs.next_char_bars(vocab, raw, cut / cut.sum(), 25, temperature=1, top_k=3)
    assert len(fig.data[0].x) == 26  # the default 20, stretched to reach the sampled character (rank 26)
    line = next(s for s in fig.layout.shapes if s.type == "line")
    assert line.x0 == 2.5  # between the 3rd and the 4th most likely
    assert any("top-k 3 cuts here" in a.text for a in fig.layout.annotations)
    assert np.all(np.asarray(fig.data[1].y)[3:] == 0)
    assert len(generate_figs.next_char_bars(vocab, raw, raw, 0, temperature=1, top_k=None).data[0].x) == 20
    no_cut = generate_figs.next_char_bars(vocab, raw, raw, 0, temperature=1, top_k=None, shown=None)
    assert len(no_cut.data[0].x) == len(vocab) and not no_cut.layout.shapes


def test_presenter_style_is_bigger_and_colour_blind_safe():
    raw = softmax(np.arange(len(VOCAB), dtype=np.float32))
    fig = generate_figs.next_char_bars(VOCAB, raw, raw, len(VOCAB) - 1, temperature=1, top_k=3, style=PRESENTER_STYLE)
    assert fig.layout.font.size == PRESENTER_STYLE.font_size > DEFAULT_STYLE.font_size
    assert fig.data[0].marker.color[0] == "#D55E00"  # Okabe-Ito vermillion, on the most likely (the sampled) bar
    assert "top-k 3" in fig.data[1].name


def test_step_attention_has_one_row_per_head_and_a_pick_column_of_its_own():
    att = np.random.default_rng(0).random((2, 3, 5)).astype(np.float32)
    fig = generate_figs.step_attention(att, "hello", offset=10, selected=(1, 2))
    picks, heatmap = fig.data
    assert list(heatmap.y) == [generate_figs.head_label(layer, h) for layer in range(2) for h in range(3)]
    assert np.array_equal(heatmap.z, att.reshape(6, 5))
    assert heatmap.x[0] == "h @10"
    # the picks sit on axes of their own, so the heatmap cannot take their clicks
    assert (picks.xaxis or "x") != heatmap.xaxis and fig.layout.yaxis2.matches == "y"
    assert [tuple(c) for c in picks.customdata][5] == (1, 2)
    assert list(picks.marker.color) == [DEFAULT_STYLE.muted] * 5 + [DEFAULT_STYLE.accent]


def test_text_html_escapes_and_highlights_the_new_character():
    html = generate_figs.text_html("a<b\n", "xy z", highlight=2)
    assert "a&lt;b" in html and "↵\n" in html
    assert 'data-new-char="1"' in html and html.count("data-new-char") == 1
    assert '">␣</span>' in html  # the highlighted space is visible


def test_passage_html_shades_by_loss_and_outlines_surprises():
    loss = np.array([0.1, 5.0, 0.2])
    html = generate_figs.passage_html("abcd", loss, loss > 3, ["b", "x", "d"], np.exp(-loss))
    assert html.count("outline") == 1 and "model guessed &#x27;x&#x27;" in html


def test_teacher_forcing_panels_line_up_with_the_targets():
    p = np.array([0.9, 0.01, 0.5], dtype=np.float32)
    fig = generate_figs.teacher_forcing("abcd", p, -np.log(p), surprising=p < 0.05, mean_loss=1.0)
    assert list(fig.data[0].x) == ["b @1", "c @2", "d @3"]
    assert np.allclose(fig.data[1].y, -np.log(p))
    assert list(fig.data[0].marker.color) == [DEFAULT_STYLE.plain, DEFAULT_STYLE.accent, DEFAULT_STYLE.plain]


def test_loss_curves_draw_batch_loss_and_both_estimates():
    evals = [dict(step=0, train=4.2, val=4.2), dict(step=10, train=3.0, val=3.1)]
    fig = train_figs.loss_curves(np.arange(1, 11), np.linspace(4, 3, 10), evals, max_iters=20)
    assert [t.name for t in fig.data] == ["batch loss", "train loss (estimate)", "val loss (estimate)"]
    assert list(fig.data[2].y) == [4.2, 3.1] and list(fig.layout.xaxis.range) == [0, 20]
