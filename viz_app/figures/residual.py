"""Figures of the Residual stream page: a value per (point in the model, position), what each
sublayer writes, and the logit lens."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from .kit import (
    DEFAULT_STYLE,
    FigureStyle,
    colorscale,
    figure,
    position_labels,
    subplots,
    ticks,
    two_colours,
    visible_char,
)


def position_heatmap(
    row_labels: list[str],
    values: np.ndarray,
    chars: str,
    *,
    title: str,
    value_name: str = "norm",
    max_ticks: int = 64,
    window: tuple[int, int] | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """A value per (point in the model, position), (P, T): e.g. the residual norm. max_ticks: as many
    character ticks as the figure's width holds (64 across a page, fewer in a column). window: the
    positions [start, stop) shown (a projector's strip of characters, each labelled), None: all."""
    start, stop = window if window is not None else (0, values.shape[-1])
    values, chars = values[:, start:stop], chars[start:stop]
    labels = position_labels(chars[: values.shape[-1]], start)
    heatmap = go.Heatmap(
        z=np.asarray(values, dtype=np.float32),
        x=labels,
        y=row_labels,
        colorscale=colorscale(style.norms),
        colorbar=dict(title=dict(text=value_name), thickness=14),
        hovertemplate=f"%{{y}}<br>position %{{x}}<br>{value_name} %{{z:.2f}}<extra></extra>",
    )
    return figure(
        [heatmap],
        style,
        max(260, 26 * len(row_labels) + 120),
        title,
        xaxis=ticks(labels, chars[: values.shape[-1]], max_ticks),
        yaxis=dict(type="category", autorange="reversed", showgrid=False),
    )


def position_lines(
    row_labels: list[str],
    values: np.ndarray,
    chars: str,
    *,
    title: str,
    value_name: str = "norm",
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """The same (P, T) values as one line per point, coloured from first to last point."""
    positions = np.arange(values.shape[-1])
    labels = position_labels(chars[: values.shape[-1]])
    colours = sample_colorscale(style.norms, [i / max(len(row_labels) - 1, 1) for i in range(len(row_labels))])
    traces = [
        go.Scatter(
            x=positions,
            y=values[i],
            text=labels,
            mode="lines",
            name=name,
            line=dict(color=colours[i]),
            hovertemplate=f"{name}<br>position %{{text}}<br>{value_name} %{{y:.2f}}<extra></extra>",
        )
        for i, name in enumerate(row_labels)
    ]
    return figure(
        traces,
        style,
        380,
        title,
        xaxis=dict(title=dict(text="position")),
        yaxis=dict(title=dict(text=value_name), rangemode="tozero"),
    )


def mean_bars(
    labels: list[str], values: np.ndarray, *, title: str, value_name: str = "norm", style: FigureStyle = DEFAULT_STYLE
) -> go.Figure:
    """Mean (and spread) over positions of a (S, T) value, one bar per row; attention and MLP coloured apart."""
    values = np.asarray(values, dtype=np.float32)
    bars = go.Bar(
        x=labels,
        y=values.mean(-1),
        error_y=dict(type="data", array=values.std(-1)),
        marker=two_colours(["mlp" in label for label in labels], style),
        hovertemplate=f"%{{x}}<br>mean {value_name} %{{y:.2f}}<extra></extra>",
    )
    return figure([bars], style, 320, title, yaxis=dict(title=dict(text=f"mean {value_name} over positions")))


def logit_lens(
    row_labels: list[str],
    top_chars: list[list[str]],
    top_probs: np.ndarray,
    *,
    target: str | None = None,
    target_probs: np.ndarray | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """For one position: the top next characters read off every residual point, (P, k).

    With a target (the character that really comes next), a second panel shows its probability
    at every point, so one sees at which layer the model 'gets it'.
    """
    k = top_probs.shape[1]
    has_target = target is not None and target_probs is not None
    layout = subplots(
        1,
        2 if has_target else 1,
        shared_y=True,
        hspace=0.03,
        col_widths=[0.78, 0.22] if has_target else None,
        y=dict(type="category", autorange="reversed"),
        titles=["top next characters at each point"] + ([f"p(next = '{visible_char(target)}')"] if has_target else []),
    )
    text = [
        [f"{visible_char(c)}<br>{p:.2f}" for c, p in zip(chars, probs, strict=True)]
        for chars, probs in zip(top_chars, top_probs, strict=True)
    ]
    traces = [
        go.Heatmap(
            z=top_probs,
            x=[f"#{i + 1}" for i in range(k)],
            y=row_labels,
            text=text,
            texttemplate="%{text}",
            colorscale=colorscale(style.weights),
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="%{y}<br>rank %{x}<br>%{text}<extra></extra>",
        ),
    ]
    if has_target:
        layout["xaxis2"]["range"] = [0, 1]
        traces.append(
            go.Bar(
                x=target_probs,
                y=row_labels,
                orientation="h",
                marker_color=style.accent,
                showlegend=False,
                xaxis="x2",
                yaxis="y2",
                hovertemplate="%{y}<br>p %{x:.3f}<extra></extra>",
            )
        )
    layout["xaxis"]["type"] = "category"
    return figure(traces, style, max(280, 34 * len(row_labels) + 100), **layout)
