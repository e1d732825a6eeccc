"""Figures of the Ablations page: loss curves of the variants and their final val losses (plain lists
and numbers in, Plotly out)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from .kit import DEFAULT_STYLE, FigureStyle, figure, two_colours
from .lines import end_labels, label_room, line_look

REFERENCE_COLOUR = "#222222"  # the full model: the line every other variant is read against
SPLIT_WORDS = {"val": "val loss", "train": "train loss"}


def variant_looks(variants: list[str], reference: str = "full") -> dict[str, dict]:
    """One look (colour, marker symbol, dash) per variant, fixed by its place in `variants`: toggling one
    never restyles the rest. The reference is solid, dark, with round markers."""
    looks, i = {}, 0
    for name in variants:
        if name == reference:
            looks[name] = dict(colour=REFERENCE_COLOUR, symbol="circle", dash="solid")
        else:
            looks[name] = line_look(i + 1)  # the first look (round markers, solid) is the reference's
            i += 1
    return looks


def variant_colours(variants: list[str], reference: str = "full") -> dict[str, str]:
    """One colour per variant (variant_looks' colours)."""
    return {name: look["colour"] for name, look in variant_looks(variants, reference).items()}


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
    looks (a variant's colour, marker symbol and dash are its place there); a live run has its variant's
    colour and markers, dashed. The reference variant is drawn thick and dark. Each line is named at its
    end in its colour (lines.end_labels): no colour has to be matched against a legend.
    """
    if split not in SPLIT_WORDS:
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    word = SPLIT_WORDS[split]
    shown = list(runs) if shown is None else [label for label in shown if label in runs]
    variants = list(order or [])
    variants += [r["variant"] for r in runs.values() if r["variant"] not in variants]
    looks = variant_looks(variants, reference)
    traces, ends = [], []
    for label in shown:
        run = runs[label]
        look = looks[run["variant"]]
        main = run["variant"] == reference and not run.get("live")
        steps = np.asarray(run["step"], dtype=np.int32)
        losses = np.asarray(run[split], dtype=np.float32)
        traces.append(
            go.Scatter(
                x=steps,
                y=losses,
                mode="lines+markers",
                name=label,
                line=dict(
                    color=look["colour"], width=3.5 if main else 2, dash="dash" if run.get("live") else look["dash"]
                ),
                marker=dict(size=7, symbol=look["symbol"], color=look["colour"]),
                hovertemplate=f"{label}<br>step %{{x}}<br>{word} %{{y:.3f}}<extra></extra>",
            )
        )
        finite = np.flatnonzero(np.isfinite(losses))
        if finite.size:
            ends.append((label, float(steps[finite[-1]]), float(losses[finite[-1]]), look["colour"]))
    annotations = end_labels(ends, font_size=style.font_size)
    if not traces:
        annotations.append(dict(text="no variant picked", x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False))
    return figure(
        traces,
        style,
        None if fit else 420,
        f"{word} during training (lower is better)",
        xaxis=dict(title=dict(text="training step")),
        yaxis=dict(title=dict(text=f"{word} (nats per character)")),
        showlegend=False,  # each line is named at its end
        margin=dict(l=10, r=label_room([e[0] for e in ends], style.font_size), t=50, b=10 if not fit else 2),
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
