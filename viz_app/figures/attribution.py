"""Why this character: each component's share of a logit as bars that add up to it, and the
query's attention over the prompt for one head. Pure numpy -> Plotly."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from .kit import DEFAULT_STYLE, FigureStyle, figure, position_labels, tick_budget, visible_char

TOP_COMPONENTS = 14  # bars drawn one by one; the rest are summed into one bar


def component_names(name: str) -> str:
    """A component's name as a student reads it: 'L2H3' -> 'L2H3 head', 'L0mlp' -> 'L0 MLP'."""
    if name == "embed":
        return "token embedding"
    if name == "pos_embed":
        return "position embedding"
    if name == "ln_final_bias":
        return "final LayerNorm bias"
    if name == "lm_head_bias":
        return "output bias"
    if name.endswith("attn_bias"):
        return f"{name[: -len('attn_bias')]} attention bias"
    if name.endswith("mlp"):
        return f"{name[: -len('mlp')]} MLP"
    return f"{name} head"


def component_bars(
    names: tuple[str, ...] | list[str],
    values: np.ndarray,
    *,
    title: str,
    total_label: str,
    top: int = TOP_COMPONENTS,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """The largest contributions as horizontal bars, biggest at the top, the others summed into one bar,
    and the total they add up to at the bottom (positive: the accent colour; negative: plain)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(-np.abs(values))
    shown, rest = order[:top], order[top:]
    labels = [component_names(names[i]) for i in shown]
    numbers = [float(values[i]) for i in shown]
    if len(rest):
        labels.append(f"the other {len(rest)}")
        numbers.append(float(values[rest].sum()))
    labels.append(total_label)
    numbers.append(float(values.sum()))
    colours = [style.accent if v > 0 else style.plain for v in numbers[:-1]] + [style.muted]
    bars = go.Bar(
        x=numbers,
        y=labels,
        orientation="h",
        marker=dict(color=colours),
        text=[f"{v:+.2f}" for v in numbers],
        textposition="outside",
        cliponaxis=False,
        hovertemplate="%{y}: %{x:+.3f}<extra></extra>",
    )
    height = max(300, int((1.9 * style.font_size + 6) * len(labels)) + 90)
    return figure(
        [bars],
        style,
        height,
        title,
        xaxis=dict(title=dict(text="contribution to the logit"), zeroline=True, zerolinewidth=2),
        yaxis=dict(autorange="reversed", type="category"),
        showlegend=False,
    )


def query_row(
    weights: np.ndarray, chars: str, position: int, *, title: str, style: FigureStyle = DEFAULT_STYLE
) -> go.Figure:
    """One head's weights at one query over the keys 0 .. position, a bar per character."""
    shown = np.asarray(weights[: position + 1], dtype=np.float32)
    labels = position_labels(chars[: position + 1])
    step = math.ceil(len(labels) / tick_budget(1000, style))  # a page-wide chart: labels that do not overlap
    bars = go.Bar(
        x=labels,
        y=shown,
        marker=dict(color=style.plain),
        hovertemplate="key %{x}<br>weight %{y:.3f}<extra></extra>",
    )
    return figure(
        [bars],
        style,
        max(280, 14 * style.font_size),
        title,
        xaxis=dict(
            type="category",
            tickmode="array",
            tickvals=labels[::step],
            ticktext=[visible_char(c) for c in chars[: position + 1 : step]],
            tickangle=0,
            title=dict(text="key (attended to)"),
        ),
        yaxis=dict(range=[0, max(0.05, 1.15 * float(shown.max()))], title=dict(text="weight")),
    )
