"""Figures of the Train page: the loss while training (attention forming reuses the Attention page's
grid and head views)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .kit import DEFAULT_STYLE, FigureStyle, figure
from .legend import title_then_legend


def loss_curves(
    steps: np.ndarray,
    batch_loss: np.ndarray,
    evals: list[dict],
    *,
    max_iters: int,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Training's batch loss at every step (thin) and the train / val estimates at each evaluation."""
    traces = [
        go.Scatter(
            x=np.asarray(steps, dtype=np.int32),
            y=np.asarray(batch_loss, dtype=np.float32),
            mode="lines",
            name="batch loss",
            line=dict(color=style.muted, width=1),
            hovertemplate="step %{x}<br>batch loss %{y:.3f}<extra></extra>",
        )
    ]
    if evals:
        x = [e["step"] for e in evals]
        for key, colour, dash in (("train", style.plain, "solid"), ("val", style.accent, "dash")):
            traces.append(
                go.Scatter(
                    x=x,
                    y=[e[key] for e in evals],
                    mode="lines+markers",
                    name=f"{key} loss (estimate)",
                    line=dict(color=colour, width=3, dash=dash),
                    hovertemplate=f"step %{{x}}<br>{key} loss %{{y:.3f}}<extra></extra>",
                )
            )
    fig = figure(
        traces,
        style,
        360 + 2 * style.font_size,
        None,
        xaxis=dict(title=dict(text="step"), range=[0, max(1, max_iters)]),
        yaxis=dict(title=dict(text="cross-entropy (nats)"), rangemode="tozero"),
    )
    return title_then_legend(fig, "loss while training", style)  # the legend under the title, never on it
