"""viz_app.figures (kit, attention, sharpness, residual): numpy arrays to Plotly figures, without Streamlit."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from viz_app.figures import attention as attention_figs
from viz_app.figures import heads as heads_figs
from viz_app.figures import kit
from viz_app.figures import residual as residual_figs
from viz_app.figures import sharpness as sharpness_figs

CHARS = "First Citizen:\nBefore we proceed"  # 32 characters


def causal_patterns(*shape: int, seed: int = 0) -> np.ndarray:
    """Random softmax rows under a causal mask: (..., T, T), rows sum to 1, zeros above the diagonal."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=shape).astype(np.float32)
    T = shape[-1]
    scores[..., np.triu(np.ones((T, T), dtype=bool), k=1)] = -np.inf
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True)


def test_figures_never_import_streamlit_or_torch():
    for path in Path(kit.__file__).parent.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "import streamlit" not in source and "import torch" not in source, path.name


def test_labels_are_unique_and_show_whitespace():
    labels = kit.position_labels("a a\n", offset=10)
    assert labels == ["a @10", "␣ @11", "a @12", "↵ @13"]
    assert kit.position_of("↵ @13") == 13 and kit.position_of("weird") is None
    assert kit.position_of("@ @7") == 7  # the character itself may be '@'


@pytest.mark.parametrize(("n", "window", "expected"), [(10, None, (0, 10)), (10, (3, 7), (3, 7)), (10, (9, 3), (9, 10)),
                                                        (10, (-5, 50), (0, 10))])  # fmt: skip
def test_clamp_window(n, window, expected):
    assert kit.clamp_window(n, window) == expected


def test_quantise_percent_is_one_byte_per_cell():
    q = attention_figs.quantise_percent(np.array([[0.0, 0.004, 0.006, 0.5, 1.0, np.nan]]))
    assert q.dtype == np.uint8 and q.tolist() == [[0, 0, 1, 50, 100, 0]]


def test_max_pool_keeps_the_brightest_cell_of_each_block():
    m = np.arange(25, dtype=np.float32).reshape(5, 5)
    pooled = attention_figs.max_pool(m, 2)
    assert pooled.shape == (3, 3)
    assert pooled[0, 0] == 6 and pooled[2, 2] == 24 and pooled[1, 2] == 19
    diagonal = np.eye(8, dtype=np.float32)
    assert np.all(np.diag(attention_figs.max_pool(diagonal, 2)) == 1)  # a sharp head stays visible


def test_head_heatmap_masks_the_future_and_labels_both_axes():
    pattern = causal_patterns(32, 32)
    fig = heads_figs.head_heatmap(pattern, CHARS, title="L0 H0")
    trace = fig.data[0]
    assert trace.x == trace.y and len(trace.x) == 32 and trace.x[14] == "↵ @14"
    z = np.asarray(trace.z)
    assert np.isnan(z[0, 1]) and np.allclose(np.nansum(z, axis=1), 1.0, atol=1e-5)
    assert "query %{y}" in trace.hovertemplate and "key %{x}" in trace.hovertemplate
    assert list(fig.layout.yaxis.range) == [31.5, -0.5] and fig.layout.xaxis.ticktext[0] == "F"  # query 0 on top


def test_head_heatmap_window_and_tick_thinning():
    pattern = causal_patterns(32, 32)
    fig = heads_figs.head_heatmap(pattern, CHARS, window=(8, 24), max_ticks=4)
    assert fig.data[0].x[0] == "t @8" and len(fig.data[0].x) == 16
    assert len(fig.layout.xaxis.tickvals) == 4


def test_a_fitted_head_heatmap_labels_every_character_and_takes_its_height_from_the_page():
    pattern = causal_patterns(32, 32)
    fig = heads_figs.head_heatmap(pattern, CHARS, window=(0, 24), fit=True, style=kit.PRESENTER_STYLE)
    assert len(fig.layout.xaxis.tickvals) == len(fig.layout.yaxis.tickvals) == 24  # never thinned
    assert "".join(fig.layout.xaxis.ticktext) == "".join(kit.visible_char(c) for c in CHARS[:24])
    assert fig.layout.height is None and fig.layout.autosize
    thinned = heads_figs.head_heatmap(pattern, CHARS, window=(0, 24), height=400, style=kit.PRESENTER_STYLE)
    assert len(thinned.layout.xaxis.tickvals) < 24  # a fixed height at 20 px has room for fewer


def test_a_head_job_says_what_its_tags_mean_in_words():
    from nanogpt import metrics

    assert heads_figs.head_job(["last space"]) == "last space: each letter looks at the space before its word"
    assert heads_figs.head_job([]) == "no clear job on this prompt"
    assert all(tag.job for tag in heads_figs.TAGS.values())
    assert heads_figs.head_job(["2 back"]) == "2 back: each character looks two characters back"
    # a token model's head in its unit, as tag_meaning says its tags (a token model has only these)
    assert heads_figs.head_job(["previous-token", "2 back"], "token") == (
        "previous-token: each token looks at the one just before it; 2 back: each token looks two tokens back"
    )
    for name in (*metrics.POSITIONAL_KINDS, "uniform"):
        in_tokens = heads_figs.head_job([name], "token") + heads_figs.tag_meaning(name, "token")
        assert "character" not in in_tokens and "{" not in in_tokens, name


def test_head_heatmap_scores_are_signed_with_gaps_for_the_mask():
    scores = np.random.default_rng(1).normal(size=(6, 6)).astype(np.float32)
    scores[np.triu_indices(6, k=1)] = -np.inf
    trace = heads_figs.head_heatmap(scores, CHARS[:6], kind="scores").data[0]
    assert trace.zmid == 0 and "score" in trace.hovertemplate
    assert np.isnan(np.asarray(trace.z)[0, 5])


def test_layer_heatmaps_one_panel_per_head_sharing_a_colour_bar():
    fig = attention_figs.layer_heatmaps(causal_patterns(6, 32, 32), CHARS, layer=2)
    assert len(fig.data) == 6 and {t.coloraxis for t in fig.data} == {"coloraxis"}
    assert [t.xaxis for t in fig.data] == ["x", "x2", "x3", "x4", "x5", "x6"]
    assert np.asarray(fig.data[0].z).dtype == np.uint8
    assert [a.text for a in fig.layout.annotations][:2] == ["layer 2 · head 0", "layer 2 · head 1"]
    assert fig.layout.yaxis4.domain[1] < fig.layout.yaxis.domain[0]  # heads 3.. on a second row


def test_model_grid_tiles_every_head():
    fig = attention_figs.model_grid(causal_patterns(3, 2, 32, 32), CHARS)
    (trace,) = fig.data
    z = np.asarray(trace.z)
    assert z.dtype == np.uint8 and z.shape == (3 * 33, 2 * 33)  # one blank cell between tiles
    assert len(trace.x) == z.shape[1] and len(set(trace.x)) == len(trace.x)
    assert list(fig.layout.xaxis.ticktext) == ["head 0", "head 1"] and fig.layout.yaxis.ticktext[2] == "layer 2"
    assert trace.x[0] == "head 0 · key 0 'F'"


def test_model_grid_at_256_characters_fits_the_payload_budget():
    patterns = causal_patterns(6, 6, 256, 256)
    prompt = (CHARS * 8)[:256]
    fig = attention_figs.model_grid(patterns, prompt)
    size = len(fig.to_json())
    assert size <= 3_000_000, size
    assert attention_figs.grid_pool_factor(256) == 2
    assert fig.data[0].x[2] == "head 0 · keys 4–5 't␣'"  # each cell covers two characters
    zoomed = attention_figs.model_grid(patterns, prompt, window=(128, 256))
    assert np.asarray(zoomed.data[0].z).shape[0] == 6 * (128 + 5)  # full resolution inside the window
    assert len(zoomed.to_json()) <= 3_000_000


def test_score_parts_and_softmax_row():
    rng = np.random.default_rng(2)
    q, k = rng.normal(size=16), rng.normal(size=16)
    fig = attention_figs.score_parts(q, k, q * k)
    assert [t.type for t in fig.data] == ["bar"] * 3 and fig.layout.xaxis3.title.text == "head dimension"
    assert np.allclose(fig.data[2].y, q * k)
    scores = rng.normal(size=10)
    weights = np.exp(scores) / np.exp(scores).sum()
    row = attention_figs.softmax_row(scores, weights, CHARS, picked=4)
    accent, plain = kit.DEFAULT_STYLE.accent, kit.DEFAULT_STYLE.plain
    assert list(row.data[0].marker.color) == [accent if i == 4 else plain for i in range(10)]  # strings, not numbers
    assert row.data[1].yaxis == "y2" and row.data[0].x[4] == "t @4"


def test_head_grid_writes_values_and_tags_in_cells():
    values = np.array([[0.2, 0.95], [0.5, 0.1]])
    tags = [[["previous-token"], ["uniform"]], [[], ["first-token"]]]
    fig = heads_figs.head_grid(values, title="entropy", tags=tags, highlight=(1, 0))
    text = fig.data[0].text
    assert text[0][0].startswith("0.20<br>") and text[0][0].endswith(">prev</span>") and text[1][0] == "0.50"
    assert ">sink</span>" in text[1][1]
    assert fig.layout.shapes[0].x0 == -0.5 and fig.layout.shapes[0].y0 == 0.5


def test_entropy_curves_bold_the_chosen_head():
    fig = sharpness_figs.entropy_curves(
        np.random.default_rng(3).random((4, 20)), CHARS, layer=1, highlight=2, ylabel="nats"
    )
    assert [t.line.width for t in fig.data] == [1.5, 1.5, 4, 1.5]
    assert fig.data[0].text[0] == "F @0"


def test_variance_demo_figure():
    demo = dict(d=64, var_unscaled=63.2, var_scaled=0.99, row_unscaled=[0.9] + [0.1 / 7] * 7, row_scaled=[0.125] * 8)
    fig = sharpness_figs.variance_demo(demo)
    assert len(fig.data) == 2 and "63.2" in fig.layout.annotations[0].text and "√64" in fig.layout.annotations[1].text


def test_residual_figures():
    labels = ["embed", "L0 +attn", "L0 +mlp"]
    norms = np.random.default_rng(4).random((3, 32)) * 5
    heat = residual_figs.position_heatmap(labels, norms, CHARS, title="norms")
    assert list(heat.data[0].y) == labels and len(heat.data[0].x) == 32
    lines = residual_figs.position_lines(labels, norms, CHARS, title="norms")
    assert [t.name for t in lines.data] == labels
    bars = residual_figs.mean_bars(["L0 attn", "L0 mlp"], norms[:2], title="writes")
    assert np.allclose(bars.data[0].y, norms[:2].mean(-1))


def test_the_residual_heatmap_shows_a_window_with_every_character_labelled():
    labels = ["embed", "L0 +attn", "L0 +mlp"]
    norms = np.arange(3 * 32, dtype=float).reshape(3, 32)
    heat = residual_figs.position_heatmap(labels, norms, CHARS, title="norms", window=(20, 32))
    assert np.array_equal(np.asarray(heat.data[0].z), norms[:, 20:32])  # the window's columns, nothing else
    assert list(heat.data[0].x) == kit.position_labels(CHARS[20:32], 20)  # hover names the real positions
    assert list(heat.layout.xaxis.ticktext) == [kit.visible_char(c) for c in CHARS[20:32]]  # every one labelled
    assert len(residual_figs.position_heatmap(labels, norms, CHARS, title="norms").data[0].x) == 32  # None: all


def test_logit_lens_with_and_without_the_next_character():
    labels = ["embed", "L0 +attn", "L0 +mlp"]
    probs = np.sort(np.random.default_rng(5).random((3, 4)), axis=1)[:, ::-1]
    chars = [["e", " ", "a", "\n"]] * 3
    fig = residual_figs.logit_lens(labels, chars, probs, target="e", target_probs=np.array([0.1, 0.3, 0.6]))
    assert len(fig.data) == 2 and fig.data[0].text[0][1].startswith("␣")
    assert "p(next = 'e')" in fig.layout.annotations[1].text
    assert len(residual_figs.logit_lens(labels, chars, probs).data) == 1


def test_clickable_heatmap_has_one_target_per_visible_cell():
    pattern = causal_patterns(32, 32)
    fig = heads_figs.head_heatmap(pattern, CHARS, clickable=True)
    heatmap, targets = fig.data
    assert targets.type == "scatter" and len(targets.x) == 32 * 33 // 2  # the lower triangle and diagonal
    assert targets.y[-1] == "d @31" and targets.x[-1] == "d @31"
    assert np.allclose(targets.customdata, pattern[np.tril_indices(32)], atol=1e-6)
    assert targets.marker.opacity == 0 and targets.selected.marker.opacity > 0  # invisible until clicked
    too_long = causal_patterns(heads_figs.CLICKABLE_MAX + 1, heads_figs.CLICKABLE_MAX + 1)
    assert len(heads_figs.head_heatmap(too_long, CHARS * 3, clickable=True).data) == 1


def test_ticks_sit_just_off_the_categories_so_hover_keeps_the_position():
    # Plotly would show the bare tick text ('F') instead of 'F @0' when hovering an exact tick
    ticks = heads_figs.head_heatmap(causal_patterns(32, 32), CHARS).layout.xaxis.tickvals
    assert all(0 < t - round(t) < 0.1 for t in ticks)
    assert all(t - round(t) > 32 / 1e4 for t in ticks)  # beyond Plotly's matching tolerance


def test_no_colour_streamlit_would_swap_and_no_bar_coloured_by_numbers():
    """Streamlit's browser code replaces "#000001" ... "#000040" anywhere in a figure (Magma's darkest
    colour turned pink), and plotly.js warns for every bar coloured by numbers: check every figure."""
    patterns = causal_patterns(2, 3, 12, 12)
    chars = CHARS[:12]
    for style in (kit.DEFAULT_STYLE, kit.PRESENTER_STYLE):
        figures = [
            heads_figs.head_heatmap(patterns[0, 0], chars, clickable=True, style=style),
            heads_figs.head_heatmap(np.log(patterns[0, 0] + 1e-9), chars, kind="scores", style=style),
            attention_figs.layer_heatmaps(patterns[0], chars, layer=0, style=style),
            attention_figs.model_grid(patterns, chars, selected=(1, 2), clickable=True, style=style),
            attention_figs.softmax_row(np.arange(5.0), np.ones(5) / 5, chars, picked=2, style=style),
            heads_figs.head_grid(np.random.default_rng(1).random((2, 3)), title="t", scale="Magma", style=style),
            heads_figs.head_grid(np.random.default_rng(1).random((2, 3)), title="t", scale="Inferno", style=style),
            heads_figs.head_grid(np.random.default_rng(1).random((2, 3)), title="t", style=style),
            residual_figs.position_heatmap(["a", "b"], np.ones((2, 12)), chars, title="t", style=style),
            residual_figs.mean_bars(["L0 attn", "L0 mlp"], np.ones((2, 12)), title="t", style=style),
        ]
        for fig in figures:
            spec = fig.to_json()
            assert not re.search(r"#0000[0-4][0-9]", spec, re.IGNORECASE), fig.layout.title.text
            for trace in fig.data:
                colour = getattr(getattr(trace, "marker", None), "color", None)
                if trace.type == "bar" and colour is not None and not isinstance(colour, str):
                    assert all(isinstance(c, str) for c in colour)
    assert kit.colorscale("Magma")[0] == [0.0, "rgb(0, 0, 4)"]  # the same colour, written so it survives


def test_the_model_grid_outlines_the_chosen_head_and_each_tile_can_be_clicked():
    patterns = causal_patterns(2, 3, 8, 8)
    fig = attention_figs.model_grid(patterns, CHARS[:8], selected=(1, 2), clickable=True)
    heatmap, targets = fig.data
    assert [tuple(c) for c in targets.customdata] == [(layer, head) for layer in range(2) for head in range(3)]
    tile = 8 + 1  # side plus a blank cell
    assert list(targets.x[:3]) == [heatmap.x[h * tile + 4] for h in range(3)]  # each tile's middle
    (box,) = fig.layout.shapes
    assert (box.x0, box.x1, box.y0, box.y1) == (2 * tile - 0.5, 2 * tile + 7.5, tile - 0.5, tile + 7.5)
    assert len(attention_figs.model_grid(patterns, CHARS[:8]).data) == 1  # not clickable unless asked


def test_the_head_grid_can_be_clicked_and_outlines_the_chosen_head():
    fig = heads_figs.head_grid(np.zeros((2, 3)), title="t", highlight=(0, 1), clickable=True)
    targets = fig.data[1]
    assert [tuple(c[:2]) for c in targets.customdata] == [(layer, head) for layer in range(2) for head in range(3)]
    (box,) = fig.layout.shapes
    assert (box.x0, box.y0) == (0.5, -0.5)


def test_the_tag_table_names_every_tag_the_library_gives():
    from nanogpt import metrics

    names = set(metrics.key_kinds(8, "Ab c.\nde")) | {"uniform"}  # every kind of key, the text-reading ones too
    assert set(heads_figs.TAGS) == names
    assert set(metrics.key_kinds(8)) == set(metrics.POSITIONAL_KINDS)  # what a token model's legend lists
    assert heads_figs.PUNCTUATION == metrics.PUNCTUATION  # quoted in its meaning
    shorts = [t.short for t in heads_figs.TAGS.values()]
    assert len(set(shorts)) == len(shorts) and all(len(s) <= 9 for s in shorts)  # a grid cell is small


def test_a_sliding_window_is_masked_and_its_edge_drawn():
    from viz_app.figures.heads import head_heatmap

    T, w = 12, 3
    pattern = np.tril(np.ones((T, T)), 0) * np.triu(np.ones((T, T)), -w)  # query t reads keys t-w..t
    pattern /= pattern.sum(-1, keepdims=True)
    fig = head_heatmap(pattern, "abcdefghijkl", key_window=w)
    z = np.array(fig.data[0].z, dtype=float)
    outside = np.tril(np.ones((T, T), dtype=bool), -w - 1)
    assert np.isnan(z[outside]).all() and not np.isnan(z[~outside & np.tril(np.ones((T, T), dtype=bool))]).any()
    (edge,) = fig.layout.shapes
    assert (edge.x0, edge.y0, edge.x1, edge.y1) == (-0.5, w - 0.5, T - 1 - w + 0.5, T - 0.5)
    assert not head_heatmap(pattern, "abcdefghijkl").layout.shapes  # no window, no edge


def test_a_token_window_shortens_long_tokens_on_the_axis_and_keeps_them_whole_on_hover():
    """GPT-2's tokens on the projector's 24-position window: every one labelled, long ones cut."""
    import numpy as np

    from viz_app.figures import heads
    from viz_app.figures.kit import PRESENTER_STYLE, TICK_CHARS

    tokens = tuple(["␣international", "ization", "↵", "␣the"] * 6)  # 24 token labels
    T = len(tokens)
    fig = heads.head_heatmap(np.full((T, T), 1 / T, dtype=np.float32), tokens, fit=True, style=PRESENTER_STYLE)
    shown = fig.layout.xaxis.ticktext
    assert len(shown) == T and max(map(len, shown)) <= TICK_CHARS and shown[0] == "␣inte…" and shown[2] == "↵"
    assert fig.data[0].x[0] == "␣international @0"  # the hover's label: the whole token
    assert fig.layout.font.size >= 20
