"""The big text view of a head (figures/text_view.py) and the presenter-fitted maps of many heads."""

from __future__ import annotations

import json
import re

import numpy as np

from viz_app import presenter
from viz_app.figures import attention as attention_figs
from viz_app.figures import text_view
from viz_app.figures.kit import PRESENTER_STYLE


def causal(n: int, seed: int = 0) -> np.ndarray:
    """A (n, n) row-stochastic causal pattern."""
    w = np.tril(np.random.default_rng(seed).random((n, n))) + np.eye(n)
    return w / w.sum(-1, keepdims=True)


def spans(html: str) -> list[tuple[str, str, str]]:
    """(position, style, character) of each character span, in order."""
    return re.findall(r'<span class="tv-c[^"]*" data-pos="(\d+)" style="([^"]*)">([^<]*)</span>', html)


def script_rows(html: str) -> list[list[int]]:
    return json.loads(re.search(r"const rows = (\[.*?\]\]);", html).group(1))


def test_the_text_view_shows_the_window_and_shades_it_from_its_last_character():
    chars = "ab cd\nef<&"
    w = causal(len(chars))
    html = text_view.head_text_html(w, chars, window=(2, 10), title="layer 1 · head 2")
    shown = spans(html)
    assert [c for _, _, c in shown] == ["␣", "c", "d", "↵", "e", "f", "&lt;", "&amp;"]  # escaped, whitespace visible
    assert [int(p) for p, _, _ in shown] == list(range(2, 10))
    alphas = [float(re.search(r"rgba\(8, 48, 107, ([\d.]+)\)", style).group(1)) for _, style, _ in shown]
    expected = np.round(w[9, 2:10] * 100) / 100  # the last query's weights on the window's keys
    assert np.allclose(alphas, expected, atol=0.006)
    assert "↵</span><br>" in html  # a new line after a newline
    assert 'data-query="7"' in html


def test_the_text_view_carries_every_querys_weights_in_whole_percent_and_nothing_external():
    chars = "To be, or not to be"
    w = causal(len(chars), seed=3)
    html = text_view.head_text_html(w, chars, window=(5, 15))
    rows = script_rows(html)
    assert [len(r) for r in rows] == list(range(1, 11))  # query q sees keys 0..q of the window
    assert rows[4] == np.rint(w[9, 5:10] * 100).astype(int).tolist()
    assert "<script>" in html and "http" not in html and "src=" not in html and "import" not in html


def test_the_text_view_survives_a_prompt_that_looks_like_markup_or_its_own_marks():
    chars = "</script>__ROWS__ x"
    html = text_view.head_text_html(causal(len(chars)), chars)
    assert html.count("</script>") == 1  # only the script's own end
    assert len(script_rows(html)) == len(chars)


def test_projected_the_text_is_at_least_24_px():
    html = text_view.head_text_html(causal(4), "abcd", style=PRESENTER_STYLE)
    size = int(re.search(r"\.tv-text \{[^}]*font-size: (\d+)px", html).group(1))
    assert size >= 24


def test_two_heads_or_windows_get_their_own_element():
    a = text_view.head_text_html(causal(6, 1), "abcdef")
    b = text_view.head_text_html(causal(6, 2), "abcdef")
    ids = [re.search(r'id="(tv-[0-9a-f]+)"', h).group(1) for h in (a, b)]
    assert ids[0] != ids[1] and f'getElementById("{ids[0]}")' in a


def test_a_fitted_layer_view_labels_every_character_once_in_square_tiles():
    patterns = np.stack([causal(12, s) for s in range(6)])  # (H, T, T)
    fig = attention_figs.layer_heatmaps(patterns, "First Citize", layer=1, fit=True, style=PRESENTER_STYLE)
    assert fig.layout.height is None and fig.layout.autosize
    assert list(fig.layout.yaxis.ticktext) == list("First␣Citize")
    assert list(fig.layout.xaxis4.ticktext) == list("First␣Citize")
    shown_y = [fig.layout[f"yaxis{n}"].showticklabels for n in ("", 2, 3, 4, 5, 6)]
    shown_x = [fig.layout[f"xaxis{n}"].showticklabels for n in ("", 2, 3, 4, 5, 6)]
    assert shown_y == [True, False, False, True, False, False]  # the first column
    assert shown_x == [False, False, False, True, True, True]  # the bottom row
    assert fig.layout.yaxis5.scaleanchor == "x5"
    unfitted = attention_figs.layer_heatmaps(patterns, "First Citize", layer=1)
    assert unfitted.layout.height == 2 * 340 + 40


def test_a_fitted_model_grid_takes_its_height_from_the_page_and_spaces_its_tiles():
    patterns = np.stack([np.stack([causal(24, s + h) for h in range(3)]) for s in range(2)])  # (L, H, T, T)
    fig = attention_figs.model_grid(patterns, "x" * 24, fit=True, style=PRESENTER_STYLE)
    z = np.asarray(fig.data[0].z)
    assert fig.layout.height is None
    assert z.shape == (2 * (24 + 3), 3 * (24 + 3))  # a gap of an eighth of a tile
    assert list(fig.layout.xaxis.ticktext) == ["head 0", "head 1", "head 2"]


def test_the_projected_layer_view_shows_what_its_tiles_can_label():
    assert presenter.grid_zoom(2, 3) == 12  # six heads: two rows of three at 1280 x 720
    assert presenter.grid_zoom(1, 2) == presenter.ZOOM  # two heads side by side: the one-head window
    assert presenter.grid_zoom(3, 3) < presenter.grid_zoom(2, 3)
