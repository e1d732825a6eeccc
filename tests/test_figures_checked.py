"""The figures built from unchecked traces (kit.figure's note: go.Heatmap(_validate=False, ...)) pass
Plotly's whole check: every property of every trace and of the layout exists and holds a valid value."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from viz_app.figures import attention, heads, kit

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak."


def _pattern(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = np.where(np.tril(np.ones((n, n), dtype=bool)), rng.normal(size=(n, n)), -np.inf)
    w = np.exp(scores - scores.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)).astype(np.float32)


def _figures():
    n = len(TEXT)
    one = _pattern(n)
    grid = np.stack([np.stack([_pattern(n, 10 * layer + head) for head in range(3)]) for layer in range(2)])
    q, k = np.linspace(-1, 1, 16), np.linspace(1, -1, 16)
    for style in (kit.DEFAULT_STYLE, kit.PRESENTER_STYLE):
        yield "model_grid", attention.model_grid(grid, TEXT, selected=(1, 2), clickable=True, style=style)
        yield "model_grid pooled", attention.model_grid(grid, TEXT, max_cells=16, style=style)
        yield "layer_heatmaps", attention.layer_heatmaps(grid[0], TEXT, layer=0, style=style)
        yield "layer_heatmaps scores", attention.layer_heatmaps(np.log(grid[0] + 1e-9), TEXT, layer=0, kind="scores")
        yield "head_heatmap", heads.head_heatmap(one, TEXT, title="t", style=style)
        yield "head_heatmap clickable", heads.head_heatmap(one, TEXT, window=(0, 20), clickable=True, style=style)
        yield "head_heatmap scores", heads.head_heatmap(np.log(one + 1e-9), TEXT, kind="scores", fit=True)
        yield "score_parts", attention.score_parts(q, k, q * k, style=style)
        yield "softmax_row", attention.softmax_row(np.arange(12.0), one[11, :12], TEXT, picked=3, style=style)


@pytest.mark.parametrize("name, fig", list(_figures()), ids=lambda v: v if isinstance(v, str) else "")
def test_each_figure_passes_plotlys_check(name, fig):
    checked = go.Figure(fig.to_dict())  # raises on any property Plotly does not know or a value it refuses
    assert len(checked.data) == len(fig.data)
    # the traces go to the browser as they would checked (the layout was always built unchecked, see kit.figure)
    assert json.loads(pio.to_json(checked))["data"] == json.loads(pio.to_json(fig))["data"]
