"""The induction probe: the loss at every position of the two copies, and every head's induction
score over the steps a training saved. Pure numpy -> Plotly (the grid and the map are heads.py's)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .kit import DEFAULT_STYLE, FigureStyle, figure


def copy_losses(
    per_position: np.ndarray,
    n: int,
    *,
    ablated: np.ndarray | None = None,
    ablated_label: str = "",
    unit: str = "character",
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Loss predicting `unit` (the model's: character or token) t + 1 at every position t; the second copy
    starts at the dashed line."""
    x = np.arange(1, len(per_position) + 1)  # the one predicted
    traces = [
        go.Scatter(
            x=x,
            y=np.asarray(per_position),
            mode="lines",
            name="the model",
            line=dict(color=style.plain, width=3),
            hovertemplate=f"{unit} %{{x}}<br>loss %{{y:.2f}}<extra></extra>",
        )
    ]
    if ablated is not None:
        traces.append(
            go.Scatter(
                x=x,
                y=np.asarray(ablated),
                mode="lines",
                name=ablated_label,
                line=dict(color=style.accent, width=2, dash="dot"),
                hovertemplate=f"{unit} %{{x}}<br>loss %{{y:.2f}}<extra></extra>",
            )
        )
    top = float(max(np.max(per_position), np.max(ablated) if ablated is not None else 0.0))
    return figure(
        traces,
        style,
        max(320, 16 * style.font_size),
        f"Loss at every {unit} of the probe",
        xaxis=dict(title=dict(text=f"{unit} of the probe (the second copy starts at the line)")),
        yaxis=dict(title=dict(text="loss (nats)"), range=[0, 1.05 * top]),
        shapes=[dict(type="line", x0=n + 0.5, x1=n + 0.5, y0=0, y1=1, yref="paper", line=dict(dash="dash", width=2))],
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
    )


def scores_over_training(
    steps: list[int], scores: np.ndarray, *, top: int = 4, style: FigureStyle = DEFAULT_STYLE
) -> go.Figure:
    """(S, L, H) induction scores at each saved step: a line for each of the `top` heads that end highest,
    every other head as a thin grey line."""
    S, L, H = scores.shape
    flat = scores.reshape(S, L * H)  # (S, heads)
    best = set(np.argsort(-flat[-1])[:top].tolist())
    traces = []
    for i in range(L * H):
        if i in best:
            continue
        traces.append(
            go.Scatter(
                x=steps,
                y=flat[:, i],
                mode="lines",
                line=dict(color=style.muted, width=1),
                showlegend=False,
                hovertemplate=f"L{i // H}H{i % H}: %{{y:.3f}}<extra></extra>",
            )
        )
    for rank, i in enumerate(sorted(best, key=lambda i: -flat[-1, i])):
        traces.append(
            go.Scatter(
                x=steps,
                y=flat[:, i],
                mode="lines+markers",
                name=f"layer {i // H} · head {i % H}",
                line=dict(width=3, color=style.accent if rank == 0 else None),
                hovertemplate=f"L{i // H}H{i % H} at step %{{x}}: %{{y:.3f}}<extra></extra>",
            )
        )
    return figure(
        traces,
        style,
        max(320, 16 * style.font_size),
        "Induction score of every head, step by step",
        xaxis=dict(title=dict(text="training step")),
        yaxis=dict(title=dict(text="induction score"), range=[0, 1]),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
    )
