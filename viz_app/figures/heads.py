"""Figures of one head or of every head, drawn by every page that shows heads: the layers x heads
grid of one number per head (with its tags), one head's map, and the table of head tags.

The tag table is the one place a tag's short label (a grid cell is small) and its meaning, in a
student's words, are written; nanogpt.metrics names the tags.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go

from .kit import (
    DEFAULT_STYLE,
    FigureStyle,
    clamp_window,
    click_targets,
    colorscale,
    figure,
    masked,
    outline,
    position_labels,
    tick_budget,
    ticks,
)

# a one-head map as wide as the page: about as tall, so its cells are square and each of the 40
# characters of the window a page opens on (controls.ZOOM) gets its tick at presentation font sizes
WIDE_MAP_HEIGHT = 860
CLICKABLE_MAX = 64  # click targets for at most this many characters: n(n+1)/2 markers must stay small
PUNCTUATION = ".,:;!?-'"  # nanogpt.metrics.PUNCTUATION, quoted in its tag's meaning (a test keeps them equal)


class Tag(NamedTuple):
    short: str  # in a grid cell
    # {unit}: the model's unit ("character" | "token"), which tag_meaning and head_job fill in; the tags that
    # read characters (metrics.key_kinds gives them only where each position is one) say "character" outright
    meaning: str  # in a legend
    job: str  # above a head's map: what the head does, as a sentence a class reads from the back


TAGS = {  # nanogpt.metrics.key_kinds' names, and "uniform"
    "previous-token": Tag("prev", "the {unit} just before", "each {unit} looks at the one just before it"),
    "2 back": Tag("2 back", "the {unit} two before", "each {unit} looks two {unit}s back"),
    "3 back": Tag("3 back", "the {unit} three before", "each {unit} looks three {unit}s back"),
    "self": Tag("self", "its own position", "each {unit} looks at itself"),
    "first-token": Tag("sink", "the first {unit} (a resting place, or 'sink')", "each {unit} rests on the first one"),
    "same character": Tag(
        "same char", "earlier copies of the character it is at", "each character looks at earlier copies of itself"
    ),
    "last space": Tag(
        "space",
        "the latest space or newline, where the current word starts",
        "each letter looks at the space before its word",
    ),
    "line start": Tag(
        "line", "the latest newline, where the current line starts", "each character looks at the start of its line"
    ),
    "word's first letter": Tag(
        "word", "the first letter of the word it is in", "each letter looks at the first letter of its word"
    ),
    "last punctuation": Tag(
        "punct", f"the latest punctuation mark ({PUNCTUATION})", "each character looks at the latest punctuation mark"
    ),
    "last vowel": Tag("vowel", "the latest vowel", "each character looks at the latest vowel"),
    "last capital": Tag("capital", "the latest capital letter", "each character looks at the latest capital letter"),
    "uniform": Tag("uniform", "spread almost evenly over everything before it", "spread almost evenly: no clear job"),
}


def head_job(tags: list[str], unit: str = "character") -> str:
    """A head's job in words, from its tags, for a model whose positions are `unit`s: 'last space: each
    letter looks at the space before its word', 'previous-token: each token looks at the one just before it'."""
    if not tags:
        return "no clear job on this prompt"
    return "; ".join(f"{t}: {TAGS[t].job.format(unit=unit)}" if t in TAGS else t for t in tags)


def short_tag(name: str) -> str:
    return TAGS[name].short if name in TAGS else name


def tag_meaning(name: str, unit: str = "character") -> str:
    """What a tag means, in a legend, for a model whose positions are `unit`s."""
    return TAGS[name].meaning.format(unit=unit) if name in TAGS else name


def head_grid(
    values: np.ndarray,
    *,
    title: str,
    tags: list[list[list[str]]] | None = None,
    zmin: float = 0.0,
    zmax: float = 1.0,
    scale: str | None = None,
    highlight: tuple[int, int] | None = None,
    clickable: bool = False,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """A number per head, (L, H), as a layers x heads heatmap with the number (and tags) in each cell.

    The highlighted (layer, head) is outlined; clickable puts a click target on each cell, whose
    customdata is its (layer, head)."""
    n_layer, n_head = values.shape
    # the tags under the number, as big as it: at seven tenths they were 9 px specks on a laptop, 14 px projected
    under = f'<br><span style="font-size:{style.font_size}px">'
    text = [
        [
            f"{values[l, h]:.2f}"
            + (under + "<br>".join(short_tag(t) for t in tags[l][h]) + "</span>" if tags and tags[l][h] else "")
            for h in range(n_head)
        ]
        for l in range(n_layer)
    ]
    x, y = [f"head {h}" for h in range(n_head)], [f"layer {l}" for l in range(n_layer)]
    hover = "%{y} · %{x}<br>%{z:.3f}<extra></extra>"
    traces = [
        go.Heatmap(
            z=values,
            x=x,
            y=y,
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=style.font_size),  # Plotly's automatic size shrinks cells with tags to a speck
            colorscale=colorscale(scale or style.norms),
            zmin=zmin,
            zmax=zmax,
            colorbar=dict(thickness=14),
            hovertemplate=hover,
        )
    ]
    height = max(260, (3 * style.font_size + 21) * n_layer + 80)  # two lines of text a row
    if clickable:
        heads = [(l, h) for l in range(n_layer) for h in range(n_head)]
        traces.append(
            click_targets(
                [x[h] for _, h in heads],
                [y[l] for l, _ in heads],
                size=int(0.6 * (height - 80) / n_layer),
                style=style,
                customdata=[(l, h, float(values[l, h])) for l, h in heads],
                hovertemplate="layer %{customdata[0]} · head %{customdata[1]}<br>%{customdata[2]:.3f}"
                "<br>click to pick this head<extra></extra>",
            )
        )
    shapes = []
    if highlight is not None:
        layer, head = highlight
        shapes.append(outline(head - 0.5, head + 0.5, layer - 0.5, layer + 0.5, style))
    # ranges fixed to the cells: the click targets would otherwise pad the axes with a blank band
    return figure(
        traces,
        style,
        height,
        title,
        xaxis=dict(range=[-0.5, n_head - 0.5]),
        yaxis=dict(range=[n_layer - 0.5, -0.5]),
        shapes=shapes,
    )


def _value_words(kind: str) -> tuple[str, str]:
    """(hover name, colour bar title) for weights or scores."""
    return ("weight", "weight") if kind == "weights" else ("score", "score (pre-softmax)")


def head_heatmap(
    matrix: np.ndarray,
    chars: str,
    *,
    window: tuple[int, int] | None = None,
    kind: str = "weights",
    causal: bool = True,
    title: str | None = None,
    height: int | None = None,
    max_ticks: int = 64,
    fit: bool = False,
    clickable: bool = False,
    key_window: int | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """One head's (T, T) weights or scores; queries down the side, keys across.

    key_window: the layer's sliding window w (nanochat): query t reads keys t-w..t only; the keys before
    are masked like the future and the window's edge is drawn as a dashed line.

    fit: as tall as the element it is drawn in, with a tick for every character of the window:
    presenter mode sizes the map to the browser's window, which no figure can know, and picks a
    window that fits (page.chart(fit=True)).

    Hover names the query and key character and position and the exact value. clickable adds a
    transparent marker on every visible cell (windows up to CLICKABLE_MAX characters): Plotly
    cannot select heatmap cells, but it can select markers, and a click then reports its cell.
    """
    height = height or style.map_height
    start, stop = clamp_window(matrix.shape[-1], window)
    window_chars = chars[start:stop]
    labels = position_labels(window_chars, start)
    word, bar = _value_words(kind)
    colours = (
        dict(colorscale=colorscale(style.weights), zmin=0.0, zmax=1.0)
        if kind == "weights"
        else dict(colorscale=colorscale(style.scores), zmid=0.0)
    )
    heatmap = go.Heatmap(
        _validate=False,  # unchecked: see kit.figure
        z=masked(matrix[start:stop, start:stop], causal, key_window),  # a zoom moves query and key together
        x=labels,
        y=labels,
        hoverongaps=False,
        colorbar=dict(title=dict(text=bar, side="right"), thickness=14),
        hovertemplate=f"query %{{y}}<br>key %{{x}}<br>{word} %{{z:.3f}}<extra></extra>",
        **colours,
    )
    traces = [heatmap]
    if clickable and stop - start <= CLICKABLE_MAX:
        traces.append(_cell_targets(heatmap.z, labels, word, style))
    budget = len(labels) if fit else min(max_ticks, tick_budget(height - 110, style))
    axis = ticks(labels, window_chars, budget)
    edge = _window_edge(key_window, start, stop, style)
    return figure(
        traces,
        style,
        None if fit else height,
        title,
        **({"shapes": [edge]} if edge else {}),
        # ranges fixed to the cells: the click targets would otherwise pad the axes
        xaxis=dict(
            axis,
            # fitted, the axis title hugs the characters: every pixel of height is a row of the map
            title=dict(text="key (attended to)", **({"standoff": 6} if fit else {})),
            constrain="domain",
            range=[-0.5, len(labels) - 0.5],
        ),
        yaxis=dict(
            axis,
            tickangle=0,  # the rows' labels read across, whatever the columns' do
            title=dict(text="query (attending)"),
            range=[len(labels) - 0.5, -0.5],
            scaleanchor="x",
            constrain="domain",
        ),
    )


def _window_edge(key_window: int | None, start: int, stop: int, style: FigureStyle) -> dict | None:
    """A dashed line along the window's edge, between key t-w-1 (outside) and t-w (inside), where it is
    inside the shown cells (category axes take cell indices as coordinates)."""
    if key_window is None:
        return None
    if key_window + 1 >= stop - start:  # no shown query has a shown key outside its window
        return None
    last = stop - start - 1
    # through the corners of the staircase: row i's edge is at x = i - w - 0.5, its top at y = i - 0.5
    return dict(type="line", xref="x", yref="y", x0=-0.5, y0=key_window - 0.5, x1=last - key_window + 0.5,
                y1=last + 0.5, line=dict(color=style.accent, width=2, dash="dash"))  # fmt: skip


def _cell_targets(z: np.ndarray, labels: list[str], word: str, style: FigureStyle) -> go.Scatter:
    """A click target on every drawn (non-NaN) cell."""
    rows, cols = np.nonzero(~np.isnan(z))
    return click_targets(
        [labels[c] for c in cols],
        [labels[r] for r in rows],
        size=max(6, 360 // len(labels)),
        style=style,
        customdata=z[rows, cols],
        hovertemplate=f"query %{{y}}<br>key %{{x}}<br>{word} %{{customdata:.3f}}<extra></extra>",
    )
