"""Figures of the Attention page: every head of a layer, the whole model as one grid of maps, and
how one score is built (one head's map is heads.head_heatmap).

Payload matters: a page at a full 256-character context ships these figures to 30 browsers at
once. Plotly writes numpy arrays as base64 typed arrays, so the views of many heads send weights
as whole percentages in uint8 (one byte a cell) and the whole-model grid is max-pooled to at most
`GRID_MAX_CELLS` cells a side per head.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from .kit import (
    DEFAULT_STYLE,
    FigureStyle,
    axis_key,
    axis_names,
    clamp_window,
    click_targets,
    colorscale,
    figure,
    masked,
    outline,
    position_labels,
    subplots,
    tick_budget,
    tick_positions,
    ticks,
    two_colours,
    visible_char,
)

GRID_MAX_CELLS = 128  # per head and axis in the layers x heads grid; more is invisible at ~120 px a head
LAYER_VIEW_COLS = 3  # heads per row in the all-heads-of-a-layer view


def quantise_percent(weights: np.ndarray) -> np.ndarray:
    """Weights in [0, 1] as whole percentages in uint8 (NaN and the masked future become 0)."""
    w = np.nan_to_num(np.asarray(weights, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(w, 0.0, 1.0) * 100).astype(np.uint8)


def grid_pool_factor(n: int, max_cells: int = GRID_MAX_CELLS) -> int:
    """How many positions each grid cell covers so a head fits in max_cells cells a side."""
    return max(1, math.ceil(n / max_cells))


def max_pool(matrix: np.ndarray, factor: int) -> np.ndarray:
    """Max over factor x factor blocks of the last two axes (zero-padded to a multiple).

    Max, not mean: a sharp previous-token diagonal must stay bright when four cells become one.
    """
    if factor == 1:
        return matrix
    *lead, rows, cols = matrix.shape
    pr, pc = -rows % factor, -cols % factor
    padded = np.pad(matrix, [(0, 0)] * len(lead) + [(0, pr), (0, pc)])
    pooled = padded[..., ::factor, ::factor].copy()
    for i in range(factor):  # factor^2 strided views: several times faster than max over reshaped axes
        for j in range(factor):
            np.maximum(pooled, padded[..., i::factor, j::factor], out=pooled)
    return pooled


def layer_heatmaps(
    matrices: np.ndarray,
    chars: str,
    *,
    layer: int,
    window: tuple[int, int] | None = None,
    kind: str = "weights",
    causal: bool = True,
    cols: int = LAYER_VIEW_COLS,
    fit: bool = False,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Every head of one layer, (H, T, T), side by side with one shared colour bar.

    Weights travel as whole percentages (uint8); scores, which are signed and unbounded, as float32.
    fit: as tall as the element it is drawn in (presenter mode), every character of the window
    labelled, once: the characters down the first column and across the bottom row, square cells.
    """
    n_head = matrices.shape[0]
    start, stop = clamp_window(matrices.shape[-1], window)
    window_chars = chars[start:stop]
    labels = position_labels(window_chars, start)
    cols = min(cols, n_head)
    rows = math.ceil(n_head / cols)
    budget = len(labels) if fit else min(16, tick_budget(250, style))  # about 250 px of a 340 px row
    axis = ticks(labels, window_chars, budget)
    layout = subplots(
        rows,
        cols,
        titles=[f"layer {layer} · head {h}" for h in range(n_head)],
        hspace=0.04,
        vspace=0.07 if fit else 0.1,  # fitted, only a title between rows: the ticks are under the last one
        x=axis,
        y=dict(axis, autorange="reversed", tickangle=0),
    )
    if fit:
        for h in range(rows * cols):
            xname, yname = axis_names(h + 1)
            below = h + cols < n_head  # another head under this one carries the row of characters
            layout[axis_key(xname)].update(showticklabels=not below, constrain="domain")
            layout[axis_key(yname)].update(showticklabels=h % cols == 0, scaleanchor=xname, constrain="domain")
    traces = []
    for h in range(n_head):
        block = matrices[h, start:stop, start:stop]
        if kind == "weights":
            z, value = quantise_percent(block), "weight %{z}%"
        else:
            z, value = masked(block, causal), "score %{z:.2f}"
        xname, yname = axis_names(h + 1)
        traces.append(
            go.Heatmap(
                _validate=False,  # unchecked: see kit.figure
                z=z,
                x=labels,
                y=labels,
                xaxis=xname,
                yaxis=yname,
                coloraxis="coloraxis",
                hoverongaps=False,
                hovertemplate=f"head {h}<br>query %{{y}}<br>key %{{x}}<br>{value}<extra></extra>",
            )
        )
    if kind == "weights":
        coloraxis = dict(
            colorscale=colorscale(style.weights),
            cmin=0,
            cmax=100,
            colorbar=dict(title=dict(text="weight %"), thickness=14),
        )
    else:
        coloraxis = dict(
            colorscale=colorscale(style.scores), cmid=0.0, colorbar=dict(title=dict(text="score"), thickness=14)
        )
    return figure(traces, style, None if fit else rows * 340 + 40, coloraxis=coloraxis, **layout)


def _grid_labels(
    chars: str, start: int, stop: int, factor: int, blocks: int, gap: int, prefix: str, word: str
) -> list[str]:
    """Axis categories for the grid's rows (or columns), gaps included.

    Each pooled cell is named by its head (or layer), positions and characters; gap cells get
    unique near-blank names because categories must be unique.
    """
    cells = []
    for j in range(math.ceil((stop - start) / factor)):
        first = start + j * factor
        last = min(first + factor, stop) - 1
        text = "".join(visible_char(c) for c in chars[first : last + 1])
        cells.append((f"{word} {first}" if first == last else f"{word}s {first}–{last}") + f" '{text}'")
    labels = []
    for b in range(blocks):
        labels.extend(f"{prefix} {b} · {cell}" for cell in cells)
        labels.extend(f"{prefix} {b} ·{' ' * (g + 1)}" for g in range(gap))
    return labels


def model_grid(
    patterns: np.ndarray,
    chars: str,
    *,
    window: tuple[int, int] | None = None,
    max_cells: int = GRID_MAX_CELLS,
    selected: tuple[int, int] | None = None,
    clickable: bool = False,
    fit: bool = False,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """The whole model: every layer (rows) x head (columns) pattern, (L, H, T, T), in one heatmap.

    One trace, not L x H subplots, so it builds fast; heads are tiles separated by blank cells.
    Weights are uint8 percentages, max-pooled when the window is longer than max_cells. The
    selected (layer, head) is outlined; clickable puts a click target on each tile, whose
    customdata is its (layer, head). fit: as tall as the element it is drawn in (presenter mode),
    with wider gaps, so the tiles are told apart from the back of a room.
    """
    n_layer, n_head, _, n = patterns.shape
    start, stop = clamp_window(n, window)
    factor = grid_pool_factor(stop - start, max_cells)
    pooled = quantise_percent(max_pool(patterns[:, :, start:stop, start:stop], factor))  # (L, H, n', n')
    side = pooled.shape[-1]
    gap = max(2, side // 8) if fit else max(1, side // 24)
    tile = side + gap
    z = np.zeros((n_layer, tile, n_head, tile), dtype=np.uint8)
    z[:, :side, :, :side] = pooled.transpose(0, 2, 1, 3)  # (L, n', H, n'): rows are (layer, query)
    z = z.reshape(n_layer * tile, n_head * tile)
    x = _grid_labels(chars, start, stop, factor, n_head, gap, "head", "key")
    y = _grid_labels(chars, start, stop, factor, n_layer, gap, "layer", "query")
    what = "weight" if factor == 1 else f"max weight over {factor}x{factor} cells"
    traces = [
        go.Heatmap(
            _validate=False,  # unchecked: see kit.figure
            z=z,
            x=x,
            y=y,
            colorscale=colorscale(style.weights),
            zmin=0,
            zmax=100,
            colorbar=dict(title=dict(text="weight %"), thickness=14),
            hovertemplate=f"%{{y}}<br>%{{x}}<br>{what} %{{z}}%<extra></extra>",
        )
    ]
    middle = side // 2
    height = max(320, n_layer * round(style.map_height / 4.5) + 60)  # a layer's tiles: 120 px, more when presenting
    if clickable:
        heads = [(layer, head) for layer in range(n_layer) for head in range(n_head)]
        traces.append(
            click_targets(
                [x[head * tile + middle] for _, head in heads],
                [y[layer * tile + middle] for layer, _ in heads],
                size=int(0.6 * (height - 60) / n_layer),  # most of a tile (tiles are square, about a layer's height)
                style=style,
                customdata=heads,
                hovertemplate="layer %{customdata[0]} · head %{customdata[1]}: click to open it<extra></extra>",
            )
        )
    shapes = []
    if selected is not None:
        layer, head = selected
        shapes.append(
            outline(head * tile - 0.5, head * tile + side - 0.5, layer * tile - 0.5, layer * tile + side - 0.5, style)
        )
    axis = dict(type="category", tickmode="array", showgrid=False, constrain="domain")
    return figure(
        traces,
        style,
        None if fit else height,
        # ranges fixed to the cells: the click targets (most of a tile wide) would otherwise pad the axes,
        # leaving a blank band between the tiles and their names
        xaxis=dict(
            axis,
            side="top",
            range=[-0.5, len(x) - 0.5],
            tickvals=tick_positions(len(x), tile, middle),
            ticktext=[f"head {h}" for h in range(n_head)],
        ),
        yaxis=dict(
            axis,
            range=[len(y) - 0.5, -0.5],
            scaleanchor="x",
            tickvals=tick_positions(len(y), tile, middle),
            ticktext=[f"layer {i}" for i in range(n_layer)],
        ),
        shapes=shapes,
    )


def score_parts(q: np.ndarray, k: np.ndarray, product: np.ndarray, *, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """The query and key vectors of one head, and their elementwise product, along the head dims."""
    dims = np.arange(len(q))
    layout = subplots(
        3,
        1,
        shared_x=True,
        vspace=0.1,
        titles=["q (the query's vector)", "k (the key's vector)", "q ⊙ k (summed, this is q·k)"],
    )
    layout["xaxis3"]["title"] = dict(text="head dimension")
    traces = []
    for n, (values, name) in enumerate(((q, "q"), (k, "k"), (product, "q⊙k")), start=1):
        xname, yname = axis_names(n)
        traces.append(
            go.Bar(
                _validate=False,  # unchecked: see kit.figure
                x=dims,
                y=values,
                marker=two_colours(np.asarray(values) < 0, style),
                showlegend=False,
                xaxis=xname,
                yaxis=yname,
                hovertemplate=f"dim %{{x}}<br>{name} %{{y:.3f}}<extra></extra>",
            )
        )
    return figure(traces, style, 160 + 20 * style.font_size, **layout)  # three rows of ticks and titles


def softmax_row(
    scores: np.ndarray,
    weights: np.ndarray,
    chars: str,
    *,
    picked: int | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """One query row: its scores over the keys it may see, and the softmax weights they become."""
    labels = position_labels(chars[: len(scores)])
    colours = two_colours(np.arange(len(scores)) == picked, style)
    layout = subplots(
        2,
        1,
        shared_x=True,
        vspace=0.16,
        x=ticks(labels, chars[: len(scores)], 48),
        titles=["scores (q·k × scale)", "softmax → weights (sum to 1)"],
    )
    layout["yaxis2"]["rangemode"] = "tozero"
    traces = [
        go.Bar(
            _validate=False,  # unchecked: see kit.figure
            x=labels,
            y=scores,
            marker=colours,
            showlegend=False,
            hovertemplate="key %{x}<br>score %{y:.3f}<extra></extra>",
        ),
        go.Bar(
            _validate=False,  # unchecked: see kit.figure
            x=labels,
            y=weights,
            marker=colours,
            showlegend=False,
            xaxis="x2",
            yaxis="y2",
            hovertemplate="key %{x}<br>weight %{y:.3f}<extra></extra>",
        ),
    ]
    return figure(traces, style, 200 + 14 * style.font_size, **layout)  # two rows of ticks and titles
