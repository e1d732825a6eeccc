"""Figures of the Ablations page: loss curves of the variants and their final val losses (plain lists
and numbers in, Plotly out)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from .kit import DEFAULT_STYLE, FigureStyle, figure, two_colours

REFERENCE_COLOUR = "#222222"  # the full model: the line every other variant is read against
PALETTE = qualitative.D3
SPLIT_WORDS = {"val": "val loss", "train": "train loss"}


def variant_colours(variants: list[str], reference: str = "full") -> dict[str, str]:
    """One colour per variant, fixed by its place in `variants`: toggling one never recolours the rest."""
    colours, i = {}, 0
    for name in variants:
        if name == reference:
            colours[name] = REFERENCE_COLOUR
        else:
            colours[name] = PALETTE[i % len(PALETTE)]
            i += 1
    return colours


def loss_curves(
    runs: dict[str, dict],
    *,
    split: str = "val",
    shown: list[str] | None = None,
    order: list[str] | None = None,
    reference: str = "full",
    style: FigureStyle = DEFAULT_STYLE,
    fit: bool = False,
) -> go.Figure:
    """Loss against training step, one line per shown run; `fit`: as tall as the element it is drawn in.

    runs: label -> {"variant", "step", "train", "val", "live"}; lists of equal length. `order` fixes the
    colours (a variant's colour is its place there); a live run has its variant's colour, dashed.
    The reference variant is drawn thick and dark.
    """
    if split not in SPLIT_WORDS:
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    word = SPLIT_WORDS[split]
    shown = list(runs) if shown is None else [label for label in shown if label in runs]
    variants = list(order or [])
    variants += [r["variant"] for r in runs.values() if r["variant"] not in variants]
    colours = variant_colours(variants, reference)
    traces = []
    for label in shown:
        run = runs[label]
        main = run["variant"] == reference and not run.get("live")
        traces.append(
            go.Scatter(
                x=np.asarray(run["step"], dtype=np.int32),
                y=np.asarray(run[split], dtype=np.float32),
                mode="lines+markers",
                name=label,
                line=dict(
                    color=colours[run["variant"]], width=3.5 if main else 2, dash="dash" if run.get("live") else None
                ),
                marker=dict(size=4),
                hovertemplate=f"{label}<br>step %{{x}}<br>{word} %{{y:.3f}}<extra></extra>",
            )
        )
    annotations = []
    if not traces:
        annotations.append(dict(text="no variant picked", x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False))
    return figure(
        traces,
        style,
        None if fit else 420,
        f"{word} during training (lower is better)",
        xaxis=dict(title=dict(text="training step")),
        yaxis=dict(title=dict(text=f"{word} (nats per character)")),
        legend=dict(title=dict(text="variant")),
        annotations=annotations,
    )


def val_loss_bars(
    rows: list[dict], *, reference: str = "full", highlight: str | None = None, style: FigureStyle = DEFAULT_STYLE
) -> go.Figure:
    """Final val loss per variant as bars, with the reference's loss as a dashed line.

    rows: [{"variant", "val_loss", "delta"}] as nanogpt.ablate.results_table gives them (delta may be None).
    The highlighted variant is drawn in the accent colour.
    """
    names = [r["variant"] for r in rows]
    values = np.asarray([r["val_loss"] for r in rows], dtype=np.float32)
    deltas = [r.get("delta") for r in rows]
    text = [
        "" if d is None or not math.isfinite(d) else ("reference" if n == reference else f"{d:+.3f}")
        for n, d in zip(names, deltas, strict=True)
    ]
    bars = go.Bar(
        x=values,
        y=names,
        orientation="h",
        text=text,
        textposition="outside",
        marker=two_colours([n == highlight for n in names], style),
        hovertemplate="%{y}<br>val loss %{x:.4f}<extra></extra>",
    )
    shapes = []
    ref = next((r["val_loss"] for r in rows if r["variant"] == reference), None)
    if ref is not None and math.isfinite(ref):
        shapes.append(
            dict(type="line", x0=ref, x1=ref, y0=0, y1=1, yref="paper", line=dict(color=REFERENCE_COLOUR, dash="dash"))
        )
    finite = values[np.isfinite(values)]
    top = float(finite.max()) * 1.15 if finite.size else 1.0
    return figure(
        [bars],
        style,
        max(220, 30 * len(rows) + 90),
        f"final val loss (dashed: {reference})",
        xaxis=dict(title=dict(text="val loss (nats per character)"), range=[0, top]),
        yaxis=dict(autorange="reversed", type="category"),
        shapes=shapes,
    )
