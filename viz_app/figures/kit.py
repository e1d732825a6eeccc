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
import re
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.colors import get_colorscale, hex_to_rgb

# how each scale setting of nanogpt.config.ATTN_SCALES reads on screen
SCALE_LABELS = {"head_size": "1/√head_size", "n_embd": "1/√n_embd", "none": "none"}


@dataclass(frozen=True)
class FigureStyle:
    """Everything a figure takes from taste, in one place; presenter mode draws with PRESENTER_STYLE."""

    font_size: int = 13
    map_height: int = 560  # px: one head's attention matrix, the figure the app is about
    weights: str = "Blues"  # sequential from white: a zero weight (and the masked future) reads as nothing
    scores: str = "RdBu_r"  # diverging around 0: scores are signed
    norms: str = "Viridis"
    accent: str = "#d62728"  # the picked cell, the sampled character, the chosen head
    plain: str = "#4c78a8"  # bars that are not picked out
    muted: str = "#626a75"  # 5.5:1 on white: it is also the colour of text (the prompt on Generate)


DEFAULT_STYLE = FigureStyle()
# presenter mode: big text for the back row, and colours told apart with any colour vision
# (Okabe-Ito vermillion and blue for picked / plain, cividis and purple-orange for the maps)
PRESENTER_STYLE = FigureStyle(
    font_size=20,
    map_height=740,
    weights="Blues",
    scores="PuOr_r",
    norms="Cividis",
    accent="#D55E00",
    plain="#0072B2",
    muted="#707070",  # 5.0:1 on white
)
_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}
_RESERVED = re.compile(r"#0000[0-4][0-9]", re.IGNORECASE)  # Streamlit's placeholder colours (see colorscale)
FONT = '"Source Sans", "Source Sans Pro", sans-serif'  # the app's own font, which Streamlit loads
# All a figure takes from a template: room for tick labels of any size (every axis, subplots too)
# and titles on the left. A named template costs tens of ms a figure to validate, and Streamlit's
# default one ships placeholder colours (see colorscale).
TEMPLATE = dict(layout=dict(xaxis=dict(automargin=True), yaxis=dict(automargin=True), title=dict(x=0.05)))
TEXT_COLOUR = "#31333f"


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


def tick_budget(pixels: float, style: FigureStyle) -> int:
    """How many character ticks fit along pixels of axis without overlapping, at the style's font size."""
    return max(2, int(pixels / (1.25 * style.font_size)))


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


# Unchecked traces (go.Heatmap(_validate=False, ...), the Attention page's): Plotly checks every value of a
# trace as it is made (each bar's colour against a regex, a colour scale against the named ones), half of
# building a new prompt's figures on that page; the JSON is the same. tests/test_figures_checked.py checks
# each such figure whole (go.Figure(fig.to_dict())), so a wrong property still fails a test.


def figure(traces: list, style: FigureStyle, height: int | None, title: str | None = None, **layout) -> go.Figure:
    """The figure as drawn: the app shows it without Streamlit's chart theme (page.chart), so the
    style's font size reaches every label, ticks included, and the look is set here: plotly.js's
    own plain defaults and TEMPLATE, in the app's font. height None: as tall as the element the page
    draws it in (page.chart(fit=True) in presenter mode)."""
    base = dict(
        **({"height": height} if height else {"autosize": True}),
        margin=dict(l=10, r=10, t=50 if title else 30, b=10 if height else 2),  # fitted: all the height it gets
        template=TEMPLATE,
        font=dict(size=style.font_size, family=FONT, color=TEXT_COLOUR),
        hoverlabel=dict(font=dict(family="monospace")),
    )
    if title and "<br>" in title:
        # several lines, each in the text's own size, just above the plot: the room Plotly keeps for
        # its bigger one-line title would take a map's height (presenter mode's map of 24 characters)
        base["title"] = dict(
            text=title, font=dict(size=style.font_size), automargin=True, yref="paper", y=1, yanchor="bottom",
            pad=dict(b=4),
        )  # fmt: skip
        base["margin"]["t"] = 10
    elif title:
        base["title"] = dict(text=title)
    annotations = layout.pop("annotations", [])
    # the traces were checked as they were made; checking them again in the figure, with the layout,
    # cost a third of building a page's figures (the layout is this module's own, tested in tests/)
    return go.Figure(data=traces, layout=dict(base, annotations=annotations, **layout), _validate=False)


def two_colours(flags, style: FigureStyle, plain: str | None = None) -> dict:
    """Bar (or marker) colours: `plain` (the style's by default), or the accent where flags is true.

    Colour strings, not numbers on a two-step colour scale: plotly.js warns about every bar drawn
    from numbers ("Invalid color specifier"), tens of thousands of console lines a session. Plotly
    checks each string (about 3 ms for 256 bars); a list is checked faster than an array."""
    return dict(color=np.where(np.asarray(flags, dtype=bool), style.accent, plain or style.plain).tolist())


def click_targets(x, y, *, size: int, style: FigureStyle, customdata=None, hovertemplate: str, **trace) -> go.Scatter:
    """Invisible square markers that a click selects (page.chart(on_select="rerun")): Plotly selects
    markers, never heatmap cells. The clicked one lights up in the accent colour. Draw them after
    the heatmap, on the same axes, so they are on top."""
    return go.Scatter(
        _validate=False,  # unchecked: see figure()
        x=x,
        y=y,
        customdata=customdata,
        mode="markers",
        marker=dict(symbol="square", size=size, opacity=0, color=style.accent),
        selected=dict(marker=dict(opacity=0.9)),
        unselected=dict(marker=dict(opacity=0)),
        showlegend=False,
        hovertemplate=hovertemplate,
        **trace,
    )


def outline(x0: float, x1: float, y0: float, y1: float, style: FigureStyle) -> dict:
    """A rectangle around the chosen cell or tile, in data coordinates (a category's index on a category axis)."""
    return dict(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, line=dict(color=style.accent, width=3))


def colorscale(name: str) -> list[list]:
    """A named Plotly colour scale as explicit stops, safe from Streamlit's colour swap.

    Streamlit's browser code replaces the strings "#000001" ... "#000040" anywhere in a figure
    with its theme's colours (they are its chart template's placeholders), theme or not. Magma
    and Inferno start at "#000004", which turned the darkest cells pink; the same colour written
    as rgb() is left alone."""
    return [[float(pos), _unreserved(colour)] for pos, colour in get_colorscale(name)]


def _unreserved(colour: str) -> str:
    if _RESERVED.fullmatch(colour):
        return "rgb({}, {}, {})".format(*hex_to_rgb(colour))
    return colour


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
            if shared_x:  # one row of tick labels, under the bottom row (the top one's ran into the next title)
                xaxis.update(showticklabels=r == rows - 1, **({"matches": "x"} if n > 1 else {}))
            if shared_y:
                yaxis.update(showticklabels=c == 0, **({"matches": "y"} if n > 1 else {}))
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


class SharedFigure(go.Figure):
    """A figure many sessions draw as it is: st.plotly_chart asks every draw for the figure's dict (a
    deep copy, its arrays turned into base64); this one makes that dict once. Never change it after."""

    def to_dict(self) -> dict:
        cached = self.__dict__.get("_shared_dict")
        if cached is None:
            cached = self.__dict__["_shared_dict"] = super().to_dict()
        return cached


def shared(fig: go.Figure) -> SharedFigure:
    """The same figure as a SharedFigure (no copy: it changes class, so build it for this alone)."""
    fig.__class__ = SharedFigure
    return fig
