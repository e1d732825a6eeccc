"""Figures of two models side by side (the Attention, Sharpness and Residual pages' comparison):
the same head of both and their difference, and a per-head change as a layers x heads grid."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .kit import (
    DEFAULT_STYLE,
    FigureStyle,
    axis_key,
    axis_names,
    clamp_window,
    colorscale,
    figure,
    masked,
    position_labels,
    subplots,
    tick_budget,
    ticks,
)
from .legend import title_then_legend

PAIR_HEIGHT = 480  # px: three square maps across a page; room above them for titles clear of the modebar
DIFFERENCE_SCALE = "RdBu_r"  # diverging around 0: red where B attends more, blue where it attends less


def head_pair(
    a: np.ndarray,
    b: np.ndarray,
    chars: str,
    *,
    names: tuple[str, str],
    window: tuple[int, int] | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """One head's (T, T) weights in model A, in model B, and B − A, for two models reading the same
    chars, over the page's zoom window (the one-head map's), three maps across the page."""
    start, stop = clamp_window(a.shape[-1], window)
    a, b, chars = a[start:stop, start:stop], b[start:stop, start:stop], chars[start:stop]
    labels = position_labels(chars, start)
    panels = ((a, names[0], "coloraxis"), (b, names[1], "coloraxis"), (b - a, f"{names[1]} − {names[0]}", "coloraxis2"))
    axis = ticks(labels, chars, tick_budget(PAIR_HEIGHT - 140, style))
    layout = subplots(1, 3, titles=[title for _, title, _ in panels], hspace=0.07, x=axis,
                      y=dict(axis, autorange="reversed", tickangle=0))  # fmt: skip
    traces = []
    for n, (matrix, title, colours) in enumerate(panels, start=1):
        xname, yname = axis_names(n)
        layout[axis_key(yname)]["scaleanchor"] = xname  # square cells
        value = "change %{z:+.3f}" if colours == "coloraxis2" else "weight %{z:.3f}"
        traces.append(
            go.Heatmap(
                z=masked(matrix, causal=True),
                x=labels,
                y=labels,
                xaxis=xname,
                yaxis=yname,
                coloraxis=colours,
                hoverongaps=False,
                hovertemplate=f"{title}<br>query %{{y}}<br>key %{{x}}<br>{value}<extra></extra>",
            )
        )
    weights = dict(colorscale=colorscale(style.weights), cmin=0, cmax=1,
                   colorbar=dict(title=dict(text="weight"), thickness=12, x=1.0))  # fmt: skip
    change = dict(colorscale=colorscale(DIFFERENCE_SCALE), cmid=0, cmin=-1, cmax=1,
                  colorbar=dict(title=dict(text="B − A"), thickness=12, x=1.09))  # fmt: skip
    return figure(traces, style, PAIR_HEIGHT, coloraxis=weights, coloraxis2=change, margin=dict(l=10, r=10, t=90, b=10),
                  **layout)  # fmt: skip


def change_grid(values: np.ndarray, *, title: str, unit: str, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """A change per head, (L, H), around zero: red where B is higher, blue where lower, numbers in cells."""
    n_layer, n_head = values.shape
    bound = float(np.max(np.abs(values))) or 1.0
    heatmap = go.Heatmap(
        z=values,
        x=[f"head {h}" for h in range(n_head)],
        y=[f"layer {l}" for l in range(n_layer)],
        text=[[f"{v:+.2f}" for v in row] for row in values],
        texttemplate="%{text}",
        colorscale=colorscale(DIFFERENCE_SCALE),
        zmid=0,
        zmin=-bound,
        zmax=bound,
        colorbar=dict(title=dict(text=unit), thickness=12),
        hovertemplate="%{y} · %{x}<br>change %{z:+.3f}<extra></extra>",
    )
    return figure([heatmap], style, max(240, 52 * n_layer + 90), title, yaxis=dict(autorange="reversed"))


def mean_norms(labels: list[str], norms: dict[str, np.ndarray], *, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """The residual stream's mean norm at every point of each model: name -> (P, T) norms."""
    colours = [style.plain, style.accent]
    traces = [
        go.Scatter(
            x=labels[: len(values)],
            y=np.asarray(values, dtype=np.float32).mean(-1),
            mode="lines+markers",
            name=name,
            line=dict(color=colours[i % 2], width=3, dash="solid" if i == 0 else "dash"),
            hovertemplate=f"{name}<br>%{{x}}<br>mean ‖x‖ %{{y:.2f}}<extra></extra>",
        )
        for i, (name, values) in enumerate(norms.items())
    ]
    fig = figure(
        traces,
        style,
        340,
        None,
        xaxis=dict(type="category"),
        yaxis=dict(title=dict(text="mean norm"), rangemode="tozero"),
    )
    return title_then_legend(fig, "mean ‖x‖ over positions, at every point through the model", style)
