"""Figures of the Sharpness page: a number per head as a layers x heads grid, per-query curves, and
the lecture's variance demo."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .kit import DEFAULT_STYLE, FigureStyle, figure, position_labels, subplots
from .lines import PALETTE, end_labels, label_room, line_look

# the other heads' colours: Okabe-Ito without its vermillion, which is near both styles' accent red
OTHER_HEADS = tuple(c for c in PALETTE if c != "#D55E00")


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
    """Per-query curves for every head of a layer, (H, T). The chosen head is marked by more than its
    colour: drawn bold, solid, in the accent colour, with its name in bold at its end; every other head
    has its own dash and colour (lines.line_look) and its name at its end."""
    positions = np.arange(values.shape[-1])
    labels = position_labels(chars[: values.shape[-1]])
    traces, ends = [], []
    others = 0
    for h in range(values.shape[0]):
        chosen = h == highlight
        if chosen:
            colour, dash = style.accent, "solid"
        else:
            others += 1  # the first look (solid) is left to the chosen head
            look = line_look(others, OTHER_HEADS)
            colour, dash = look["colour"], look["dash"]
        traces.append(
            go.Scatter(
                x=positions,
                y=values[h],
                text=labels,
                mode="lines",
                name=f"head {h}",
                line=dict(width=4 if chosen else 1.5, color=colour, dash=dash),
                opacity=1.0 if chosen else 0.7,
                hovertemplate=f"head {h}<br>query %{{text}}<br>{ylabel} %{{y:.3f}}<extra></extra>",
            )
        )
        name = f"<b>head {h} (picked)</b>" if chosen else f"head {h}"
        ends.append((name, float(positions[-1]), float(values[h, -1]), colour))
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
        showlegend=False,  # each line is named at its end
        margin=dict(l=10, r=label_room(["head 00 (picked)"], style.font_size), t=50, b=10),
        annotations=end_labels(ends, font_size=style.font_size),
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
