"""The plotting kit every page's figures are drawn with: the style (and presenter mode's), axis labels
for characters, and a fast way to lay out a figure.

Figures are pure functions: numpy in, Plotly out, no Streamlit, so each can be built, tested and
measured on its own. The only numpy work in figures/ is presentation (windowing, pooling and
quantising what is drawn), never model math.

Layout: every figure is assembled as one layout dict and validated once (figure()), because
Plotly's update_* calls re-parse property paths each time and cost more than the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

# how each scale setting of nanogpt.config.ATTN_SCALES reads on screen
SCALE_LABELS = {"head_size": "1/√head_size", "n_embd": "1/√n_embd", "none": "none"}


@dataclass(frozen=True)
class FigureStyle:
    """Everything a figure takes from taste, in one place; presenter mode draws with PRESENTER_STYLE."""

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


def masked(matrix: np.ndarray, causal: bool) -> np.ndarray:
    """float32 copy with the future (above the diagonal) and -inf scores as NaN: drawn as gaps."""
    m = np.array(matrix, dtype=np.float32)
    m[~np.isfinite(m)] = np.nan
    if causal and m.shape[-1] > 1:
        m[..., np.triu(np.ones(m.shape[-2:], dtype=bool), k=1)] = np.nan
    return m


def tick_positions(n: int, every: int = 1, first: int = 0) -> list[float]:
    """Where to put category ticks: a hair past each category's index.

    Plotly shows a tick's text instead of the category in the hover label when the hovered value
    is exactly a tick, so exact ticks would turn the hover 'e @12' into a bare 'e'. Ticks a few
    hundredths of a cell off (more than Plotly's matching tolerance of range/1e4) look the same.
    """
    offset = 3 * n / 1e4 + 0.01
    return [i + offset for i in range(first, n, every)]


def ticks(labels: list[str], chars: str, max_ticks: int) -> dict:
    """Category ticks showing only the characters, thinned to at most max_ticks."""
    step = max(1, math.ceil(len(labels) / max_ticks))
    return dict(
        type="category",
        tickmode="array",
        tickvals=tick_positions(len(labels), step),
        ticktext=[visible_char(c) for c in chars[::step]],
        tickangle=0,
        showgrid=False,
    )


def figure(traces: list, style: FigureStyle, height: int, title: str | None = None, **layout) -> go.Figure:
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


def two_colours(flags, style: FigureStyle) -> dict:
    """Bar colours: plain, or the accent where flags is true. Numbers with a two-step colour scale,
    not a list of colour strings, because Plotly validates such lists one string at a time."""
    return dict(
        color=np.asarray(flags, dtype=np.uint8), colorscale=[[0, style.plain], [1, style.accent]], cmin=0, cmax=1
    )


def axis_names(n: int) -> tuple[str, str]:
    """Plotly's names for the n-th subplot's axes (1-based): ('x', 'y'), ('x2', 'y2'), ..."""
    return ("x", "y") if n == 1 else (f"x{n}", f"y{n}")


def axis_key(name: str) -> str:
    """'x2' -> 'xaxis2', 'y' -> 'yaxis': the layout key of an axis."""
    return name[0] + "axis" + name[1:]


def subplots(
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
    axis_names(n). Plotly's make_subplots does this too but costs ~25 ms a call, a tenth of a
    page's rerun budget. x and y are settings every x (y) axis gets.
    """
    widths = np.asarray(col_widths or [1.0] * cols, dtype=float)
    widths = widths / widths.sum() * (1 - hspace * (cols - 1))
    height = (1 - vspace * (rows - 1)) / rows
    layout, annotations = {}, []
    for r in range(rows):
        for c in range(cols):
            n = r * cols + c + 1
            xname, yname = axis_names(n)
            x0 = float(widths[:c].sum() + hspace * c)
            y1 = 1 - r * (height + vspace)
            xaxis = dict(x or {}, domain=[x0, x0 + float(widths[c])], anchor=yname)
            yaxis = dict(y or {}, domain=[max(y1 - height, 0.0), y1], anchor=xname)
            if shared_x and n > 1:
                xaxis.update(matches="x", showticklabels=r == rows - 1)
            if shared_y and n > 1:
                yaxis.update(matches="y", showticklabels=c == 0)
            layout[axis_key(xname)], layout[axis_key(yname)] = xaxis, yaxis
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
