"""Figure builders: numpy arrays in, Plotly figures out.

No Streamlit here, so every figure can be built (and tested, and measured) on its own. The only
numpy work done here is presentation: windowing, pooling and quantising what is drawn, never
model math.

Payload matters: a page at a full 256-character context ships these figures to 30 browsers at
once. Plotly writes numpy arrays as base64 typed arrays, so the views of many heads send weights
as whole percentages in uint8 (one byte a cell) and the whole-model grid is max-pooled to at most
`GRID_MAX_CELLS` cells a side per head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

GRID_MAX_CELLS = 128  # per head and axis in the layers x heads grid; more is invisible at ~120 px a head
LAYER_VIEW_COLS = 3  # heads per row in the all-heads-of-a-layer view
CLICKABLE_MAX = 64  # click targets for at most this many characters: n(n+1)/2 markers must stay small


@dataclass(frozen=True)
class FigureStyle:
    """Everything a figure takes from taste, in one place (presenter mode will swap it)."""

    font_size: int = 13
    weights: str = "Blues"  # sequential from white: a zero weight (and the masked future) reads as nothing
    scores: str = "RdBu_r"  # diverging around 0: scores are signed
    norms: str = "Viridis"
    accent: str = "#d62728"  # the picked cell, the sampled character, the chosen head
    plain: str = "#4c78a8"  # bars that are not picked out
    muted: str = "#9aa5b1"


DEFAULT_STYLE = FigureStyle()
# presenter mode: big text for the back row, and colours told apart with any colour vision
# (Okabe-Ito vermillion and blue for picked / plain, cividis and purple-orange for the maps)
PRESENTER_STYLE = FigureStyle(
    font_size=20,
    weights="Blues",
    scores="PuOr_r",
    norms="Cividis",
    accent="#D55E00",
    plain="#0072B2",
    muted="#999999",
)

_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


def visible_char(c: str) -> str:
    """A character as it should appear on an axis: whitespace gets a visible symbol."""
    return _VISIBLE.get(c, c)


def position_labels(chars: str, offset: int = 0) -> list[str]:
    """One unique label per position, e.g. 'e @12'; used as categories and shown on hover."""
    return [f"{visible_char(c)} @{offset + i}" for i, c in enumerate(chars)]


def position_of(label: str) -> int | None:
    """The position a label from position_labels names ('e @12' -> 12), e.g. from a clicked cell."""
    head, sep, tail = str(label).rpartition(" @")
    return int(tail) if sep and tail.isdigit() else None


def clamp_window(n: int, window: tuple[int, int] | None) -> tuple[int, int]:
    """A [start, stop) window inside 0..n with at least one position."""
    if window is None:
        return 0, n
    start = min(max(int(window[0]), 0), max(n - 1, 0))
    stop = min(max(int(window[1]), start + 1), n)
    return start, stop


def quantise_percent(weights: np.ndarray) -> np.ndarray:
    """Weights in [0, 1] as whole percentages in uint8 (NaN and the masked future become 0)."""
    w = np.nan_to_num(np.asarray(weights, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(w, 0.0, 1.0) * 100).astype(np.uint8)


def grid_pool_factor(n: int, max_cells: int = GRID_MAX_CELLS) -> int:
    """How many positions each grid cell covers so a head fits in max_cells cells a side."""
    return max(1, math.ceil(n / max_cells))


def max_pool(matrix: np.ndarray, factor: int) -> np.ndarray:
    """Max over factor x factor blocks of the last two axes (zero-padded to a multiple).

    Max, not mean: a sharp previous-token diagonal must stay bright when four cells become one.
    """
    if factor == 1:
        return matrix
    *lead, rows, cols = matrix.shape
    pr, pc = -rows % factor, -cols % factor
    padded = np.pad(matrix, [(0, 0)] * len(lead) + [(0, pr), (0, pc)])
    pooled = padded[..., ::factor, ::factor].copy()
    for i in range(factor):  # factor^2 strided views: several times faster than max over reshaped axes
        for j in range(factor):
            np.maximum(pooled, padded[..., i::factor, j::factor], out=pooled)
    return pooled


def _masked(matrix: np.ndarray, causal: bool) -> np.ndarray:
    """float32 copy with the future (above the diagonal) and -inf scores as NaN: drawn as gaps."""
    m = np.array(matrix, dtype=np.float32)
    m[~np.isfinite(m)] = np.nan
    if causal and m.shape[-1] > 1:
        m[..., np.triu(np.ones(m.shape[-2:], dtype=bool), k=1)] = np.nan
    return m


# --- layout helpers: every figure is assembled as one layout dict and validated once, because
# Plotly's update_* calls re-parse property paths each time and cost more than the data.


def _tick_positions(n: int, every: int = 1, first: int = 0) -> list[float]:
    """Where to put category ticks: a hair past each category's index.

    Plotly shows a tick's text instead of the category in the hover label when the hovered value
    is exactly a tick, so exact ticks would turn the hover 'e @12' into a bare 'e'. Ticks a few
    hundredths of a cell off (more than Plotly's matching tolerance of range/1e4) look the same.
    """
    offset = 3 * n / 1e4 + 0.01
    return [i + offset for i in range(first, n, every)]


def _ticks(labels: list[str], chars: str, max_ticks: int) -> dict:
    """Category ticks showing only the characters, thinned to at most max_ticks."""
    step = max(1, math.ceil(len(labels) / max_ticks))
    return dict(
        type="category",
        tickmode="array",
        tickvals=_tick_positions(len(labels), step),
        ticktext=[visible_char(c) for c in chars[::step]],
        tickangle=0,
        showgrid=False,
    )


def _figure(traces: list, style: FigureStyle, height: int, title: str | None = None, **layout) -> go.Figure:
    base = dict(
        height=height,
        margin=dict(l=10, r=10, t=50 if title else 30, b=10),
        font=dict(size=style.font_size),
        hoverlabel=dict(font=dict(family="monospace")),
    )
    if title:
        base["title"] = dict(text=title)
    annotations = layout.pop("annotations", [])
    return go.Figure(data=traces, layout=dict(base, annotations=annotations, **layout))


def _two_colours(flags, style: FigureStyle) -> dict:
    """Bar colours: plain, or the accent where flags is true. Numbers with a two-step colour scale,
    not a list of colour strings, because Plotly validates such lists one string at a time."""
    return dict(
        color=np.asarray(flags, dtype=np.uint8), colorscale=[[0, style.plain], [1, style.accent]], cmin=0, cmax=1
    )


def _axis_names(n: int) -> tuple[str, str]:
    """Plotly's names for the n-th subplot's axes (1-based): ('x', 'y'), ('x2', 'y2'), ..."""
    return ("x", "y") if n == 1 else (f"x{n}", f"y{n}")


def _axis_key(name: str) -> str:
    """'x2' -> 'xaxis2', 'y' -> 'yaxis': the layout key of an axis."""
    return name[0] + "axis" + name[1:]


def _subplots(
    rows: int,
    cols: int,
    *,
    titles: list[str] | None = None,
    col_widths: list[float] | None = None,
    hspace: float = 0.06,
    vspace: float = 0.12,
    shared_x: bool = False,
    shared_y: bool = False,
    x: dict | None = None,
    y: dict | None = None,
) -> dict:
    """Layout entries for a rows x cols grid of axes; subplot n (1-based, row by row) draws on
    _axis_names(n). Plotly's make_subplots does this too but costs ~25 ms a call, a tenth of a
    page's rerun budget. x and y are settings every x (y) axis gets.
    """
    widths = np.asarray(col_widths or [1.0] * cols, dtype=float)
    widths = widths / widths.sum() * (1 - hspace * (cols - 1))
    height = (1 - vspace * (rows - 1)) / rows
    layout, annotations = {}, []
    for r in range(rows):
        for c in range(cols):
            n = r * cols + c + 1
            xname, yname = _axis_names(n)
            x0 = float(widths[:c].sum() + hspace * c)
            y1 = 1 - r * (height + vspace)
            xaxis = dict(x or {}, domain=[x0, x0 + float(widths[c])], anchor=yname)
            yaxis = dict(y or {}, domain=[max(y1 - height, 0.0), y1], anchor=xname)
            if shared_x and n > 1:
                xaxis.update(matches="x", showticklabels=r == rows - 1)
            if shared_y and n > 1:
                yaxis.update(matches="y", showticklabels=c == 0)
            layout[_axis_key(xname)], layout[_axis_key(yname)] = xaxis, yaxis
            if titles and n <= len(titles):
                annotations.append(
                    dict(
                        text=titles[n - 1],
                        x=x0 + float(widths[c]) / 2,
                        y=y1,
                        xref="paper",
                        yref="paper",
                        xanchor="center",
                        yanchor="bottom",
                        showarrow=False,
                    )
                )
    layout["annotations"] = annotations
    return layout


def _value_words(kind: str) -> tuple[str, str]:
    """(hover name, colour bar title) for weights or scores."""
    return ("weight", "weight") if kind == "weights" else ("score", "score (pre-softmax)")


# --- attention ----------------------------------------------------------------------------------


def head_heatmap(
    matrix: np.ndarray,
    chars: str,
    *,
    window: tuple[int, int] | None = None,
    kind: str = "weights",
    causal: bool = True,
    title: str | None = None,
    height: int = 560,
    max_ticks: int = 64,
    clickable: bool = False,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """One head's (T, T) weights or scores; queries down the side, keys across.

    Hover names the query and key character and position and the exact value. clickable adds a
    transparent marker on every visible cell (windows up to CLICKABLE_MAX characters): Plotly
    cannot select heatmap cells, but it can select markers, and a click then reports its cell.
    """
    start, stop = clamp_window(matrix.shape[-1], window)
    window_chars = chars[start:stop]
    labels = position_labels(window_chars, start)
    word, bar = _value_words(kind)
    colours = (
        dict(colorscale=style.weights, zmin=0.0, zmax=1.0)
        if kind == "weights"
        else dict(colorscale=style.scores, zmid=0.0)
    )
    heatmap = go.Heatmap(
        z=_masked(matrix[start:stop, start:stop], causal),
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
    ticks = _ticks(labels, window_chars, max_ticks)
    return _figure(
        traces,
        style,
        height,
        title,
        xaxis=dict(ticks, title=dict(text="key (attended to)"), constrain="domain"),
        yaxis=dict(
            ticks, title=dict(text="query (attending)"), autorange="reversed", scaleanchor="x", constrain="domain"
        ),
    )


def _cell_targets(z: np.ndarray, labels: list[str], word: str, style: FigureStyle) -> go.Scatter:
    """Invisible square markers on the drawn (non-NaN) cells; a clicked one lights up in the accent colour."""
    rows, cols = np.nonzero(~np.isnan(z))
    return go.Scatter(
        x=[labels[c] for c in cols],
        y=[labels[r] for r in rows],
        customdata=z[rows, cols],
        mode="markers",
        marker=dict(symbol="square", size=max(6, 360 // len(labels)), opacity=0, color=style.accent),
        selected=dict(marker=dict(opacity=0.9)),
        unselected=dict(marker=dict(opacity=0)),
        showlegend=False,
        hovertemplate=f"query %{{y}}<br>key %{{x}}<br>{word} %{{customdata:.3f}}<extra></extra>",
    )


def layer_heatmaps(
    matrices: np.ndarray,
    chars: str,
    *,
    layer: int,
    window: tuple[int, int] | None = None,
    kind: str = "weights",
    causal: bool = True,
    cols: int = LAYER_VIEW_COLS,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Every head of one layer, (H, T, T), side by side with one shared colour bar.

    Weights travel as whole percentages (uint8); scores, which are signed and unbounded, as float32.
    """
    n_head = matrices.shape[0]
    start, stop = clamp_window(matrices.shape[-1], window)
    window_chars = chars[start:stop]
    labels = position_labels(window_chars, start)
    cols = min(cols, n_head)
    rows = math.ceil(n_head / cols)
    ticks = _ticks(labels, window_chars, 16)
    layout = _subplots(
        rows,
        cols,
        titles=[f"layer {layer} · head {h}" for h in range(n_head)],
        hspace=0.04,
        vspace=0.1,
        x=ticks,
        y=dict(ticks, autorange="reversed"),
    )
    traces = []
    for h in range(n_head):
        block = matrices[h, start:stop, start:stop]
        if kind == "weights":
            z, value = quantise_percent(block), "weight %{z}%"
        else:
            z, value = _masked(block, causal), "score %{z:.2f}"
        xname, yname = _axis_names(h + 1)
        traces.append(
            go.Heatmap(
                z=z,
                x=labels,
                y=labels,
                xaxis=xname,
                yaxis=yname,
                coloraxis="coloraxis",
                hoverongaps=False,
                hovertemplate=f"head {h}<br>query %{{y}}<br>key %{{x}}<br>{value}<extra></extra>",
            )
        )
    if kind == "weights":
        coloraxis = dict(
            colorscale=style.weights, cmin=0, cmax=100, colorbar=dict(title=dict(text="weight %"), thickness=14)
        )
    else:
        coloraxis = dict(colorscale=style.scores, cmid=0.0, colorbar=dict(title=dict(text="score"), thickness=14))
    return _figure(traces, style, rows * 340 + 40, coloraxis=coloraxis, **layout)


def _grid_labels(
    chars: str, start: int, stop: int, factor: int, blocks: int, gap: int, prefix: str, word: str
) -> list[str]:
    """Axis categories for the grid's rows (or columns), gaps included.

    Each pooled cell is named by its head (or layer), positions and characters; gap cells get
    unique near-blank names because categories must be unique.
    """
    cells = []
    for j in range(math.ceil((stop - start) / factor)):
        first = start + j * factor
        last = min(first + factor, stop) - 1
        text = "".join(visible_char(c) for c in chars[first : last + 1])
        cells.append((f"{word} {first}" if first == last else f"{word}s {first}–{last}") + f" '{text}'")
    labels = []
    for b in range(blocks):
        labels.extend(f"{prefix} {b} · {cell}" for cell in cells)
        labels.extend(f"{prefix} {b} ·{' ' * (g + 1)}" for g in range(gap))
    return labels


def model_grid(
    patterns: np.ndarray,
    chars: str,
    *,
    window: tuple[int, int] | None = None,
    max_cells: int = GRID_MAX_CELLS,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """The whole model: every layer (rows) x head (columns) pattern, (L, H, T, T), in one heatmap.

    One trace, not L x H subplots, so it builds fast; heads are tiles separated by blank cells.
    Weights are uint8 percentages, max-pooled when the window is longer than max_cells.
    """
    n_layer, n_head, _, n = patterns.shape
    start, stop = clamp_window(n, window)
    factor = grid_pool_factor(stop - start, max_cells)
    pooled = quantise_percent(max_pool(patterns[:, :, start:stop, start:stop], factor))  # (L, H, n', n')
    side = pooled.shape[-1]
    gap = max(1, side // 24)
    tile = side + gap
    z = np.zeros((n_layer, tile, n_head, tile), dtype=np.uint8)
    z[:, :side, :, :side] = pooled.transpose(0, 2, 1, 3)  # (L, n', H, n'): rows are (layer, query)
    z = z.reshape(n_layer * tile, n_head * tile)
    x = _grid_labels(chars, start, stop, factor, n_head, gap, "head", "key")
    y = _grid_labels(chars, start, stop, factor, n_layer, gap, "layer", "query")
    what = "weight" if factor == 1 else f"max weight over {factor}x{factor} cells"
    heatmap = go.Heatmap(
        z=z,
        x=x,
        y=y,
        colorscale=style.weights,
        zmin=0,
        zmax=100,
        colorbar=dict(title=dict(text="weight %"), thickness=14),
        hovertemplate=f"%{{y}}<br>%{{x}}<br>{what} %{{z}}%<extra></extra>",
    )
    middle = side // 2
    axis = dict(type="category", tickmode="array", showgrid=False, constrain="domain")
    return _figure(
        [heatmap],
        style,
        max(320, n_layer * 120 + 60),
        xaxis=dict(
            axis,
            side="top",
            tickvals=_tick_positions(len(x), tile, middle),
            ticktext=[f"head {h}" for h in range(n_head)],
        ),
        yaxis=dict(
            axis,
            autorange="reversed",
            scaleanchor="x",
            tickvals=_tick_positions(len(y), tile, middle),
            ticktext=[f"layer {i}" for i in range(n_layer)],
        ),
    )


def score_parts(q: np.ndarray, k: np.ndarray, product: np.ndarray, *, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """The query and key vectors of one head, and their elementwise product, along the head dims."""
    dims = np.arange(len(q))
    layout = _subplots(
        3,
        1,
        shared_x=True,
        vspace=0.1,
        titles=["q (the query's vector)", "k (the key's vector)", "q ⊙ k (summed, this is q·k)"],
    )
    layout["xaxis3"]["title"] = dict(text="head dimension")
    traces = []
    for n, (values, name) in enumerate(((q, "q"), (k, "k"), (product, "q⊙k")), start=1):
        xname, yname = _axis_names(n)
        traces.append(
            go.Bar(
                x=dims,
                y=values,
                marker=_two_colours(np.asarray(values) < 0, style),
                showlegend=False,
                xaxis=xname,
                yaxis=yname,
                hovertemplate=f"dim %{{x}}<br>{name} %{{y:.3f}}<extra></extra>",
            )
        )
    return _figure(traces, style, 420, **layout)


def softmax_row(
    scores: np.ndarray,
    weights: np.ndarray,
    chars: str,
    *,
    picked: int | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """One query row: its scores over the keys it may see, and the softmax weights they become."""
    labels = position_labels(chars[: len(scores)])
    colours = _two_colours(np.arange(len(scores)) == picked, style)
    layout = _subplots(
        2,
        1,
        shared_x=True,
        vspace=0.16,
        x=_ticks(labels, chars[: len(scores)], 48),
        titles=["scores (q·k × scale)", "softmax → weights (sum to 1)"],
    )
    layout["yaxis2"]["rangemode"] = "tozero"
    traces = [
        go.Bar(
            x=labels,
            y=scores,
            marker=colours,
            showlegend=False,
            hovertemplate="key %{x}<br>score %{y:.3f}<extra></extra>",
        ),
        go.Bar(
            x=labels,
            y=weights,
            marker=colours,
            showlegend=False,
            xaxis="x2",
            yaxis="y2",
            hovertemplate="key %{x}<br>weight %{y:.3f}<extra></extra>",
        ),
    ]
    return _figure(traces, style, 380, **layout)


# --- sharpness ----------------------------------------------------------------------------------


def head_grid(
    values: np.ndarray,
    *,
    title: str,
    tags: list[list[list[str]]] | None = None,
    zmin: float = 0.0,
    zmax: float = 1.0,
    colorscale: str | None = None,
    highlight: tuple[int, int] | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """A number per head, (L, H), as a layers x heads heatmap with the number (and tags) in each cell."""
    n_layer, n_head = values.shape
    short = {"previous-token": "prev", "first-token": "sink", "uniform": "uniform"}
    text = [
        [
            f"{values[l, h]:.2f}"
            + ("<br>" + " ".join(short.get(t, t) for t in tags[l][h]) if tags and tags[l][h] else "")
            for h in range(n_head)
        ]
        for l in range(n_layer)
    ]
    heatmap = go.Heatmap(
        z=values,
        x=[f"head {h}" for h in range(n_head)],
        y=[f"layer {l}" for l in range(n_layer)],
        text=text,
        texttemplate="%{text}",
        colorscale=colorscale or style.norms,
        zmin=zmin,
        zmax=zmax,
        colorbar=dict(thickness=14),
        hovertemplate="%{y} · %{x}<br>%{z:.3f}<extra></extra>",
    )
    shapes = []
    if highlight is not None:
        layer, head = highlight
        shapes.append(
            dict(
                type="rect",
                x0=head - 0.5,
                x1=head + 0.5,
                y0=layer - 0.5,
                y1=layer + 0.5,
                line=dict(color=style.accent, width=3),
            )
        )
    return _figure(
        [heatmap], style, max(260, 60 * n_layer + 80), title, yaxis=dict(autorange="reversed"), shapes=shapes
    )


def entropy_curves(
    values: np.ndarray,
    chars: str,
    *,
    layer: int,
    highlight: int,
    ylabel: str,
    ymax: float | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Per-query curves for every head of a layer, (H, T); the chosen head drawn bold."""
    positions = np.arange(values.shape[-1])
    labels = position_labels(chars[: values.shape[-1]])
    traces = []
    for h in range(values.shape[0]):
        chosen = h == highlight
        traces.append(
            go.Scatter(
                x=positions,
                y=values[h],
                text=labels,
                mode="lines",
                name=f"head {h}",
                line=dict(width=3 if chosen else 1, color=style.accent if chosen else None),
                opacity=1.0 if chosen else 0.45,
                hovertemplate=f"head {h}<br>query %{{text}}<br>{ylabel} %{{y:.3f}}<extra></extra>",
            )
        )
    yaxis = dict(title=dict(text=ylabel))
    if ymax is not None:
        yaxis["range"] = [0, ymax]
    return _figure(
        traces,
        style,
        340,
        f"layer {layer}: {ylabel} of each query row",
        xaxis=dict(title=dict(text="query position")),
        yaxis=yaxis,
    )


def variance_demo(demo: dict, *, style: FigureStyle = DEFAULT_STYLE) -> go.Figure:
    """The lecture's demo: one row of 8 scores from random q, k through softmax, with and without 1/sqrt(d)."""
    keys = [f"key {i}" for i in range(len(demo["row_unscaled"]))]
    layout = _subplots(
        1,
        2,
        shared_y=True,
        y=dict(range=[0, 1]),
        titles=[
            f"unscaled: var(q·k) ≈ {demo['var_unscaled']:.1f}",
            f"× 1/√{demo['d']}: var ≈ {demo['var_scaled']:.2f}",
        ],
    )
    layout["yaxis"]["title"] = dict(text="softmax weight")
    traces = [
        go.Bar(
            x=keys,
            y=demo["row_unscaled"],
            marker_color=style.accent,
            showlegend=False,
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        ),
        go.Bar(
            x=keys,
            y=demo["row_scaled"],
            marker_color=style.plain,
            showlegend=False,
            xaxis="x2",
            yaxis="y2",
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        ),
    ]
    return _figure(traces, style, 320, **layout)


# --- residual stream ----------------------------------------------------------------------------


def position_heatmap(
    row_labels: list[str],
    values: np.ndarray,
    chars: str,
    *,
    title: str,
    value_name: str = "norm",
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """A value per (point in the model, position), (P, T): e.g. the residual norm."""
    labels = position_labels(chars[: values.shape[-1]])
    heatmap = go.Heatmap(
        z=np.asarray(values, dtype=np.float32),
        x=labels,
        y=row_labels,
        colorscale=style.norms,
        colorbar=dict(title=dict(text=value_name), thickness=14),
        hovertemplate=f"%{{y}}<br>position %{{x}}<br>{value_name} %{{z:.2f}}<extra></extra>",
    )
    return _figure(
        [heatmap],
        style,
        max(260, 26 * len(row_labels) + 120),
        title,
        xaxis=_ticks(labels, chars[: values.shape[-1]], 64),
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
    return _figure(
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
        marker=_two_colours(["mlp" in label for label in labels], style),
        hovertemplate=f"%{{x}}<br>mean {value_name} %{{y:.2f}}<extra></extra>",
    )
    return _figure([bars], style, 320, title, yaxis=dict(title=dict(text=f"mean {value_name} over positions")))


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
    layout = _subplots(
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
            colorscale=style.weights,
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
    return _figure(traces, style, max(280, 34 * len(row_labels) + 100), **layout)
