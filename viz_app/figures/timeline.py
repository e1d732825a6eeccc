"""Figures of the Timeline page: the run's val loss at each saved step, the shown one marked."""

from __future__ import annotations

import plotly.graph_objects as go

from .kit import DEFAULT_STYLE, FigureStyle, figure


def loss_by_step(steps: list[int], val: list[float | None], current: int, *, style: FigureStyle = DEFAULT_STYLE):
    """Val loss (the run's estimate) at every snapshot; the step on screen in the accent colour."""
    points = [(s, v) for s, v in zip(steps, val, strict=True) if v is not None]
    line = go.Scatter(
        x=[s for s, _ in points],
        y=[v for _, v in points],
        mode="lines+markers",
        line=dict(color=style.plain, width=2),
        marker=dict(size=8),
        showlegend=False,
        hovertemplate="step %{x}<br>val loss %{y:.3f}<extra></extra>",
    )
    here = [(s, v) for s, v in points if s == current]
    marker = go.Scatter(
        x=[s for s, _ in here],
        y=[v for _, v in here],
        mode="markers",
        marker=dict(size=16, color=style.accent, line=dict(color="white", width=2)),
        showlegend=False,
        hovertemplate="shown: step %{x}<br>val loss %{y:.3f}<extra></extra>",
    )
    return figure(
        [line, marker],
        style,
        240 + 2 * style.font_size,
        "val loss at each saved step",
        xaxis=dict(title=dict(text="training step")),
        yaxis=dict(title=dict(text="val loss (nats)")),
    )
