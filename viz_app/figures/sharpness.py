"""Figures of the Sharpness page: a number per head as a layers x heads grid, per-query curves, and
the lecture's variance demo."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .kit import DEFAULT_STYLE, FigureStyle, click_targets, colorscale, figure, outline, position_labels, subplots


def head_grid(
    values: np.ndarray,
    *,
    title: str,
    tags: list[list[list[str]]] | None = None,
    zmin: float = 0.0,
    zmax: float = 1.0,
    scale: str | None = None,
    highlight: tuple[int, int] | None = None,
    clickable: bool = False,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """A number per head, (L, H), as a layers x heads heatmap with the number (and tags) in each cell.

    The highlighted (layer, head) is outlined; clickable puts a click target on each cell, whose
    customdata is its (layer, head)."""
    n_layer, n_head = values.shape
    short = {"previous-token": "prev", "first-token": "sink", "same character": "same char", "last space": "space",
             "line start": "line", "word's first letter": "word", "last punctuation": "punct",
             "last vowel": "vowel", "last capital": "capital"}  # fmt: skip  # a cell is small
    small = f'<br><span style="font-size:{round(0.7 * style.font_size)}px">'  # the tags under the number, smaller
    text = [
        [
            f"{values[l, h]:.2f}"
            + (small + "<br>".join(short.get(t, t) for t in tags[l][h]) + "</span>" if tags and tags[l][h] else "")
            for h in range(n_head)
        ]
        for l in range(n_layer)
    ]
    x, y = [f"head {h}" for h in range(n_head)], [f"layer {l}" for l in range(n_layer)]
    hover = "%{y} · %{x}<br>%{z:.3f}<extra></extra>"
    traces = [
        go.Heatmap(
            z=values,
            x=x,
            y=y,
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=style.font_size),  # Plotly's automatic size shrinks cells with tags to a speck
            colorscale=colorscale(scale or style.norms),
            zmin=zmin,
            zmax=zmax,
            colorbar=dict(thickness=14),
            hovertemplate=hover,
        )
    ]
    height = max(260, (3 * style.font_size + 21) * n_layer + 80)  # two lines of text a row
    if clickable:
        heads = [(l, h) for l in range(n_layer) for h in range(n_head)]
        traces.append(
            click_targets(
                [x[h] for _, h in heads],
                [y[l] for l, _ in heads],
                size=int(0.6 * (height - 80) / n_layer),
                style=style,
                customdata=[(l, h, float(values[l, h])) for l, h in heads],
                hovertemplate="layer %{customdata[0]} · head %{customdata[1]}<br>%{customdata[2]:.3f}"
                "<br>click to pick this head<extra></extra>",
            )
        )
    shapes = []
    if highlight is not None:
        layer, head = highlight
        shapes.append(outline(head - 0.5, head + 0.5, layer - 0.5, layer + 0.5, style))
    return figure(traces, style, height, title, yaxis=dict(autorange="reversed"), shapes=shapes)


def entropy_curves(
    values: np.ndarray,
    chars: str,
    *,
    layer: int,
    highlight: int,
    ylabel: str,
    ymax: float | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Per-query curves for every head of a layer, (H, T); the chosen head drawn bold."""
    positions = np.arange(values.shape[-1])
    labels = position_labels(chars[: values.shape[-1]])
    traces = []
    for h in range(values.shape[0]):
        chosen = h == highlight
        traces.append(
            go.Scatter(
                x=positions,
                y=values[h],
                text=labels,
                mode="lines",
                name=f"head {h}",
                line=dict(width=3 if chosen else 1, color=style.accent if chosen else None),
                opacity=1.0 if chosen else 0.45,
                hovertemplate=f"head {h}<br>query %{{text}}<br>{ylabel} %{{y:.3f}}<extra></extra>",
            )
        )
    yaxis = dict(title=dict(text=ylabel))
    if ymax is not None:
        yaxis["range"] = [0, ymax]
    return figure(
        traces,
        style,
        340,
        f"layer {layer}: {ylabel} of each query row",
        xaxis=dict(title=dict(text="query position")),
        yaxis=yaxis,
    )


def variance_demo(demo: dict, *, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """The lecture's demo: one row of 8 scores from random q, k through softmax, with and without 1/sqrt(d)."""
    keys = [f"key {i}" for i in range(len(demo["row_unscaled"]))]
    layout = subplots(
        1,
        2,
        shared_y=True,
        y=dict(range=[0, 1]),
        titles=[
            f"unscaled: var(q·k) ≈ {demo['var_unscaled']:.1f}",
            f"× 1/√{demo['d']}: var ≈ {demo['var_scaled']:.2f}",
        ],
    )
    layout["yaxis"]["title"] = dict(text="softmax weight")
    traces = [
        go.Bar(
            x=keys,
            y=demo["row_unscaled"],
            marker_color=style.accent,
            showlegend=False,
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        ),
        go.Bar(
            x=keys,
            y=demo["row_scaled"],
            marker_color=style.plain,
            showlegend=False,
            xaxis="x2",
            yaxis="y2",
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        ),
    ]
    return figure(traces, style, 320, **layout)
