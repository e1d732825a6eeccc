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
    colorscale,
    figure,
    position_labels,
    subplots,
    tick_positions,
    ticks,
    two_colours,
    visible_char,
)

SHOWN_CHARS = 20  # the distribution shows this many of the most likely characters unless asked for all


def head_label(layer: int, head: int) -> str:
    return f"L{layer} · H{head}"


def next_char_bars(
    vocab: list[str],
    probs_raw: np.ndarray,
    probs: np.ndarray,
    sampled: int | None,
    *,
    temperature: float,
    top_k: int | None,
    shown: int | None = SHOWN_CHARS,
    title: str | None = None,
    unit: str = "character",
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """The next character's distribution, most likely first: the model's own (temperature 1, no
    top-k; light) and after temperature and top-k (dark), with the sampled character in the accent
    colour. Top-k's cut is a dashed line; the characters past it are greyed: they get probability 0.

    sampled None: nothing is sampled yet (the distribution before the first character): no bar is
    picked out and nothing is labelled.

    shown: how many of the most likely characters to draw (None: the whole vocabulary); the sampled
    one is always among them. Bars sit at integer positions with the characters as tick text, so a
    vocabulary holding look-alike characters still gets one bar each.

    unit: what the model's vocabulary holds, "character" or "token" (the words name it).
    """
    probs_raw = np.asarray(probs_raw, dtype=np.float32)
    probs = np.asarray(probs, dtype=np.float32)
    order = np.argsort(-probs_raw, kind="stable")  # temperature keeps this order; top-k keeps its head
    rank_of_sampled = 0 if sampled is None else int(np.flatnonzero(order == sampled)[0])
    n = len(vocab) if shown is None else min(len(vocab), max(shown, (top_k or 0) + 3, rank_of_sampled + 1))
    order = order[:n]
    x = np.arange(n)
    names = [f"'{visible_char(vocab[i])}' · #{r + 1}" for r, i in enumerate(order)]
    picked = order == (-1 if sampled is None else sampled)
    knobs = f"temperature {temperature:g}" + (f", top-k {top_k}" if top_k else ", no top-k")
    traces = [
        go.Bar(
            x=x,
            y=probs_raw[order],
            name="model (temperature 1, no top-k)",
            marker=dict(two_colours(picked, style, plain=style.muted), opacity=0.55),
            customdata=names,
            hovertemplate="%{customdata}<br>model p %{y:.4f}<extra></extra>",
        ),
        go.Bar(
            x=x,
            y=probs[order],
            name=knobs,
            marker=two_colours(picked, style),
            customdata=names,
            hovertemplate=f"%{{customdata}}<br>p with {knobs} %{{y:.4f}}<extra></extra>",
        ),
    ]
    top = float(max(probs_raw.max(), probs.max()))
    y_top = min(1.0, top * 1.18 + 0.02)
    annotations = [] if sampled is None else [_sampled_label(vocab[sampled], rank_of_sampled,
                                                              float(max(probs[sampled], probs_raw[sampled])),
                                                              y_top, style)]  # fmt: skip
    shapes = []
    if top_k and top_k < len(vocab):
        cut = top_k - 0.5
        shapes += [
            dict(type="rect", x0=cut, x1=n - 0.5, y0=0, y1=1, yref="paper", fillcolor=style.muted, opacity=0.15,
                 line=dict(width=0), layer="below"),
            dict(type="line", x0=cut, x1=cut, y0=0, y1=1, yref="paper", line=dict(color=style.accent, dash="dash")),
        ]  # fmt: skip
        annotations.append(
            dict(x=cut, y=1, yref="paper", xanchor="left", yanchor="top", showarrow=False,
                 text=f" top-k {top_k} cuts here: the rest get p = 0", font=dict(color=style.accent))
        )  # fmt: skip
    return figure(
        traces,
        style,
        340 + 2 * style.font_size,
        title,
        barmode="group",
        bargap=0.15,
        showlegend=False,  # the page says which bars are which: per-bar colours make legend swatches misleading
        xaxis=dict(
            tickmode="array",
            tickvals=x,
            ticktext=[visible_char(vocab[i]) for i in order],
            tickangle=0,
            showgrid=False,
            range=[-0.7, n - 0.3],
            title=dict(text=f"next {unit}, most likely first" + ("" if n == len(vocab) else f" (top {n})")),
        ),
        yaxis=dict(title=dict(text="probability"), range=[0, y_top]),
        annotations=annotations,
        shapes=shapes,
    )


TALL = 0.55  # a sampled bar reaching above this share of the y axis gets its label beside it, below its top


def _sampled_label(char: str, x: int, y: float, y_top: float, style: FigureStyle) -> dict:
    """The arrow and "sampled 'e'" at the sampled bar's top. Above a short bar, up and to the right
    (straight up it would sit on the axis's top tick label); beside a tall one, down and to the
    right: above a bar of p about 1 it would run into the chart's title."""
    tall = y > TALL * y_top
    return dict(
        x=x,
        y=y,
        text=f"sampled '{visible_char(char)}'",
        showarrow=True,
        arrowhead=2,
        arrowcolor=style.accent,
        font=dict(color=style.accent),
        ax=36,
        ay=30 if tall else -30,
        xanchor="left",
        yanchor="top" if tall else "bottom",
    )


def step_attention(
    attention: np.ndarray,
    chars: str,
    *,
    offset: int = 0,
    selected: tuple[int, int] | None = None,
    unit: str = "character",
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """The new character's attention row in every head, (L, H, ctx), as one compact heatmap:
    one row per (layer, head), the context across. A column of markers on its own axes at the
    left picks a head (customdata: its (layer, head)): Plotly selects markers, not heatmap cells,
    and on the heatmap's own axes the heatmap would take the click. unit: "character" or "token", the
    model's."""
    n_layer, n_head, n = attention.shape
    context = chars[-n:] if n else ""
    labels = position_labels(context, offset)
    rows = [head_label(layer, head) for layer in range(n_layer) for head in range(n_head)]
    heads = [(layer, head) for layer in range(n_layer) for head in range(n_head)]
    height = max(220, (style.font_size + 9) * len(rows) + 90) + 2 * style.font_size  # a row holds its label
    # fixed ranges: an axis that can be dragged has a drag strip along it, and the heatmap's y axis
    # strip lay over the right half of every pick square, so a click there did nothing
    layout = subplots(
        1, 2, col_widths=[0.035, 0.965], hspace=0.01, shared_y=True, x=dict(fixedrange=True),
        y=dict(type="category", autorange="reversed", fixedrange=True),
    )  # fmt: skip
    layout["xaxis"].update(range=[-0.5, 0.5], tickvals=[0], ticktext=["pick"], showgrid=False, zeroline=False)
    layout["xaxis2"].update(ticks(labels, context, 48), title=dict(text=f"key (a {unit} of the context)"))
    picks = go.Scatter(
        x=[0] * len(rows),
        y=rows,
        customdata=heads,
        mode="markers",
        marker=dict(two_colours([h == selected for h in heads], style, plain=style.muted), symbol="square",
                    size=max(8, min(18, (height - 120) // max(len(rows), 1) - 2))),
        unselected=dict(marker=dict(opacity=1)),  # a click must not fade the other heads' markers
        showlegend=False,
        hovertemplate="%{y}: click to enlarge<extra></extra>",
    )  # fmt: skip
    heatmap = go.Heatmap(
        z=np.asarray(attention, dtype=np.float32).reshape(n_layer * n_head, n),
        x=labels,
        y=rows,
        xaxis="x2",
        yaxis="y2",
        colorscale=colorscale(style.weights),
        zmin=0.0,
        zmax=1.0,
        colorbar=dict(title=dict(text="weight", side="right"), thickness=14),
        hovertemplate="%{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>",
    )
    return figure([picks, heatmap], style, height, f"the new {unit}'s attention, every layer × head", **layout)


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
    unit: str = "character",
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Teacher forcing over a passage: at each position, the probability the model gave the true
    next character (top) and the loss, -log p (bottom); surprising characters in the accent colour.

    chars[i + 1] is the true next character after position i, so there are len(chars) - 1 bars.
    A passage of a whole context has more bars than an axis has room for labels: the bottom axis
    names every few characters, the top one each surprising character (the ones worth a look),
    in the accent colour, at least MIN_TICK_GAP bars apart so none overlaps another. unit:
    "character" or "token", the model's (the top title names it).
    """
    n = len(p_true)
    targets = chars[1 : n + 1]
    labels = position_labels(targets, 1)
    flags = surprising if surprising is not None else np.zeros(n, dtype=bool)
    x = ticks(labels, targets, 64)
    layout = subplots(
        2,
        1,
        vspace=0.16,
        x=x,
        titles=[
            f"p(the true next {unit}); each surprising one named",
            "loss = −log p (nats)" + (f", mean {mean_loss:.3f}" if mean_loss else ""),
        ],
    )
    layout["xaxis2"]["matches"] = "x"  # zooming one zooms both
    named = surprising_ticks(flags)
    layout["xaxis"].update(
        tickvals=[tick_positions(n)[i] for i in named],
        ticktext=[f'<b><span style="color:{style.accent}">{visible_char(targets[i])}</span></b>' for i in named],
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


MIN_TICK_GAP = 2  # bars between two named surprising characters: closer, their labels would touch


def surprising_ticks(flags) -> list[int]:
    """The positions of the surprising characters to name, left to right, MIN_TICK_GAP apart at least."""
    named: list[int] = []
    for i in np.flatnonzero(np.asarray(flags, dtype=bool)).tolist():
        if not named or i - named[-1] >= MIN_TICK_GAP:
            named.append(i)
    return named


def _char_html(c: str) -> str:
    """A character for a white-space: pre-wrap block: a newline shows its ↵ and still breaks the line."""
    return "↵\n" if c == "\n" else html.escape(c)


def text_html(
    prompt: str, generated: str | list[str], *, highlight: int | None = None, style: FigureStyle = DEFAULT_STYLE
) -> str:
    """The prompt (muted) and the generated characters (or tokens' pieces, one item per step);
    generated[highlight] boxed in the accent colour."""
    parts = [
        f'<span style="color:{style.muted}">{"".join(_char_html(c) for c in prompt)}</span><span data-generated="1">'
    ]
    for i, c in enumerate(generated):
        if i == highlight:
            shown = "␣" if c == " " else "".join(_char_html(ch) for ch in c.replace(" ", "␣"))
            parts.append(
                f'<span data-new-char="1" style="background:{style.accent};color:white;border-radius:3px;'
                f'padding:0 2px;font-weight:bold">{shown}</span>'
            )
        else:
            parts.append("".join(_char_html(ch) for ch in c))
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
