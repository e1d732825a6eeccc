"""Figures of the Generate page: the next-character distribution before and after temperature /
top-k, the new character's attention row for every layer and head, one head's row enlarged,
teacher forcing, and the text itself as HTML."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from .kit import (
    DEFAULT_STYLE,
    FigureStyle,
    figure,
    position_labels,
    subplots,
    tick_positions,
    ticks,
    two_colours,
    visible_char,
)

PICK_COLUMN = "▸ pick"  # the extra category left of the attention rows: one clickable marker per head


def head_label(layer: int, head: int) -> str:
    return f"L{layer} · H{head}"


def head_of(label: str) -> tuple[int, int] | None:
    """'L1 · H0' -> (1, 0), e.g. from a clicked marker; None for anything else."""
    parts = str(label).replace(" ", "").split("·")
    if len(parts) != 2 or not parts[0].startswith("L") or not parts[1].startswith("H"):
        return None
    layer, head = parts[0][1:], parts[1][1:]
    return (int(layer), int(head)) if layer.isdigit() and head.isdigit() else None


def _vocab_axis(vocab: list[str], max_ticks: int = 96) -> dict:
    step = max(1, -(-len(vocab) // max_ticks))
    return dict(
        tickmode="array",
        tickvals=list(range(0, len(vocab), step)),
        ticktext=[visible_char(c) for c in vocab[::step]],
        tickangle=0,
        showgrid=False,
        range=[-0.7, len(vocab) - 0.3],
    )


def next_char_bars(
    vocab: list[str],
    probs_raw: np.ndarray,
    probs: np.ndarray,
    sampled: int,
    *,
    temperature: float,
    top_k: int | None,
    title: str | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Every next character's probability: the model's own (temperature 1, no top-k) and the
    distribution actually sampled from; the sampled character's bars in the accent colour.

    Bars sit at integer positions with the characters as tick text, so a vocabulary holding
    look-alike characters still gets one bar each.
    """
    x = np.arange(len(vocab))
    names = [f"'{visible_char(c)}'" for c in vocab]
    knobs = [f"temperature {temperature:g}"] + ([f"top-k {top_k}"] if top_k else [])
    picked = x == sampled
    raw_colours = np.where(picked, style.accent, style.muted)
    traces = [
        go.Bar(
            x=x,
            y=np.asarray(probs_raw, dtype=np.float32),
            name="model (temperature 1, no top-k)",
            marker=dict(color=raw_colours.tolist(), opacity=0.55),
            customdata=names,
            hovertemplate="%{customdata}<br>model p %{y:.4f}<extra></extra>",
        ),
        go.Bar(
            x=x,
            y=np.asarray(probs, dtype=np.float32),
            name="sampled from (" + ", ".join(knobs) + ")",
            marker=two_colours(picked, style),
            customdata=names,
            hovertemplate="%{customdata}<br>sampled-from p %{y:.4f}<extra></extra>",
        ),
    ]
    top = float(max(np.max(probs_raw), np.max(probs)))
    annotations = [
        dict(
            x=int(sampled),
            y=float(max(probs[sampled], probs_raw[sampled])),
            text=f"sampled '{visible_char(vocab[sampled])}' (p {float(probs[sampled]):.3f})",
            showarrow=True,
            arrowhead=2,
            arrowcolor=style.accent,
            font=dict(color=style.accent),
            ax=0,
            ay=-36,
        )
    ]
    return figure(
        traces,
        style,
        340 + 2 * style.font_size,
        title,
        barmode="group",
        bargap=0.15,
        showlegend=False,  # the page says which bars are which: per-bar colours make legend swatches misleading
        xaxis=dict(_vocab_axis(vocab), title=dict(text="next character")),
        yaxis=dict(title=dict(text="probability"), range=[0, min(1.0, top * 1.18 + 0.02)]),
        annotations=annotations,
    )


def step_attention(
    attention: np.ndarray,
    chars: str,
    *,
    offset: int = 0,
    selected: tuple[int, int] | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """The new character's attention row in every head, (L, H, ctx), as one compact heatmap:
    one row per (layer, head), the context across. A column of markers on the left picks a head
    (clicking a heatmap cell cannot be selected in Plotly; a marker can)."""
    n_layer, n_head, n = attention.shape
    labels = position_labels(chars[-n:] if n else "", offset)
    rows = [head_label(layer, head) for layer in range(n_layer) for head in range(n_head)]
    z = np.asarray(attention, dtype=np.float32).reshape(n_layer * n_head, n)
    heatmap = go.Heatmap(
        z=z,
        x=labels,
        y=rows,
        colorscale=style.weights,
        zmin=0.0,
        zmax=1.0,
        colorbar=dict(title=dict(text="weight", side="right"), thickness=14),
        hovertemplate="%{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>",
    )
    chosen = [head_label(*selected) == r for r in rows] if selected else [False] * len(rows)
    picks = go.Scatter(
        x=[PICK_COLUMN] * len(rows),
        y=rows,
        mode="markers",
        marker=dict(
            symbol="square",
            size=max(8, min(18, 300 // max(len(rows), 1))),
            color=np.asarray(chosen, dtype=np.uint8),
            colorscale=[[0, style.muted], [1, style.accent]],
            cmin=0,
            cmax=1,
        ),
        showlegend=False,
        hovertemplate="%{y}: click to enlarge<extra></extra>",
    )
    step = max(1, -(-n // 48))
    ticks = [PICK_COLUMN] + labels
    return figure(
        [picks, heatmap],
        style,
        max(220, 22 * len(rows) + 90) + 2 * style.font_size,
        "the new character's attention, every layer × head",
        xaxis=dict(
            type="category",
            categoryorder="array",
            categoryarray=ticks,
            tickmode="array",
            tickvals=[0.01 + 3 * (n + 1) / 1e4] + [v + 1 for v in tick_positions(n, step)],
            ticktext=["pick"] + [visible_char(c) for c in (chars[-n:] if n else "")[::step]],
            tickangle=0,
            showgrid=False,
            title=dict(text="key (a character of the context)"),
        ),
        yaxis=dict(type="category", autorange="reversed", showgrid=False),
    )


def attention_row(
    weights: np.ndarray,
    chars: str,
    *,
    offset: int = 0,
    title: str | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """One head's attention row for the new character, as bars over the context; the key it
    looks at most in the accent colour."""
    weights = np.asarray(weights, dtype=np.float32)
    n = len(weights)
    labels = position_labels(chars[-n:] if n else "", offset)
    bars = go.Bar(
        x=labels,
        y=weights,
        marker=two_colours(np.arange(n) == int(np.argmax(weights)) if n else [], style),
        hovertemplate="key %{x}<br>weight %{y:.3f}<extra></extra>",
    )
    return figure(
        [bars],
        style,
        300 + 2 * style.font_size,
        title,
        xaxis=ticks(labels, chars[-n:] if n else "", 64),
        yaxis=dict(title=dict(text="weight"), rangemode="tozero"),
    )


def teacher_forcing(
    chars: str,
    p_true: np.ndarray,
    loss: np.ndarray,
    *,
    surprising: np.ndarray | None = None,
    mean_loss: float | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Teacher forcing over a passage: at each position, the probability the model gave the true
    next character (top) and the loss, -log p (bottom); surprising characters in the accent colour.

    chars[i + 1] is the true next character after position i, so there are len(chars) - 1 bars.
    """
    n = len(p_true)
    targets = chars[1 : n + 1]
    labels = position_labels(targets, 1)
    flags = surprising if surprising is not None else np.zeros(n, dtype=bool)
    x = ticks(labels, targets, 64)
    layout = subplots(
        2,
        1,
        shared_x=True,
        vspace=0.14,
        x=x,
        titles=[
            "p(the true next character)",
            "loss = −log p (nats)" + (f", mean {mean_loss:.3f}" if mean_loss else ""),
        ],
    )
    layout["yaxis"]["range"] = [0, 1]
    layout["yaxis2"]["rangemode"] = "tozero"
    colours = two_colours(flags, style)
    hover = "true next %{x}<br>p %{y:.3f}<extra></extra>"
    traces = [
        go.Bar(x=labels, y=np.asarray(p_true, dtype=np.float32), marker=colours, showlegend=False, hovertemplate=hover),
        go.Bar(
            x=labels,
            y=np.asarray(loss, dtype=np.float32),
            marker=colours,
            showlegend=False,
            xaxis="x2",
            yaxis="y2",
            hovertemplate="true next %{x}<br>loss %{y:.3f} nats<extra></extra>",
        ),
    ]
    return figure(traces, style, 440 + 2 * style.font_size, **layout)


def _char_html(c: str) -> str:
    """A character for a white-space: pre-wrap block: a newline shows its ↵ and still breaks the line."""
    return "↵\n" if c == "\n" else html.escape(c)


def text_html(prompt: str, generated: str, *, highlight: int | None = None, style: FigureStyle = DEFAULT_STYLE) -> str:
    """The prompt (muted) and the generated characters; generated[highlight] boxed in the accent colour."""
    parts = [
        f'<span style="color:{style.muted}">{"".join(_char_html(c) for c in prompt)}</span><span data-generated="1">'
    ]
    for i, c in enumerate(generated):
        if i == highlight:
            shown = "␣" if c == " " else _char_html(c)
            parts.append(
                f'<span data-new-char="1" style="background:{style.accent};color:white;border-radius:3px;'
                f'padding:0 2px;font-weight:bold">{shown}</span>'
            )
        else:
            parts.append(_char_html(c))
    parts.append("</span>")
    return _block("".join(parts), style)


def _block(inner: str, style: FigureStyle) -> str:
    return (
        f'<div style="font-family:monospace;font-size:{style.font_size + 3}px;white-space:pre-wrap;'
        f'line-height:1.5;padding:0.6em 0.8em;border:1px solid #ddd;border-radius:6px">{inner}</div>'
    )


def passage_html(
    chars: str,
    loss: np.ndarray,
    surprising: np.ndarray,
    guess: list[str],
    p_true: np.ndarray,
    *,
    max_loss: float = 6.0,
    style: FigureStyle = DEFAULT_STYLE,
) -> str:
    """The passage with each predicted character shaded by its loss; surprising ones outlined.

    chars[0] is context only; chars[i + 1] is shaded by loss[i]. Hover (title) gives p and the
    model's own guess.
    """
    r, g, b = (int(style.accent[i : i + 2], 16) for i in (1, 3, 5))
    parts = [f'<span style="color:{style.muted}">{_char_html(chars[0])}</span>']
    for i, c in enumerate(chars[1:]):
        alpha = float(np.clip(loss[i] / max_loss, 0.0, 1.0))
        tip = html.escape(
            f"'{visible_char(c)}': p {p_true[i]:.3f}, loss {loss[i]:.2f}; model guessed '{visible_char(guess[i])}'"
        )
        edge = f"outline:2px solid {style.accent};" if surprising[i] else ""
        shown = "␣" if c == " " and surprising[i] else _char_html(c)
        parts.append(f'<span title="{tip}" style="background:rgba({r},{g},{b},{alpha:.2f});{edge}">{shown}</span>')
    return _block("".join(parts), style)
