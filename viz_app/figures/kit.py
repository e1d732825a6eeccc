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
import textwrap
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
    narrow: bool = False  # a phone's screen: figure() lays the figure out for it (see narrow_layout)


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


def context_before(tokens, position: int, n: int = 12) -> str:
    """The n characters (or tokens' labels, fewer of them) before `position`, newlines visible."""
    if isinstance(tokens, str):
        return tokens[max(0, position - n) : position].replace("\n", "↵")
    return "".join(tokens[max(0, position - max(1, n // 3)) : position])


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


def masked(matrix: np.ndarray, causal: bool, key_window: int | None = None) -> np.ndarray:
    """float32 copy with the future (above the diagonal) and -inf scores as NaN: drawn as gaps.

    key_window: a sliding window w (nanochat's layers): keys more than w before their query are masked too."""
    m = np.array(matrix, dtype=np.float32)
    m[~np.isfinite(m)] = np.nan
    if causal and m.shape[-1] > 1:
        m[..., np.triu(np.ones(m.shape[-2:], dtype=bool), k=1)] = np.nan
    if key_window is not None:
        m[..., np.tril(np.ones(m.shape[-2:], dtype=bool), k=-key_window - 1)] = np.nan
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


TICK_CHARS = 6  # a token's tick label is cut to this many characters (…); the hover (`labels`) has it whole


def short(label: str, most: int = TICK_CHARS) -> str:
    """A token's label as a tick shows it: long ones shortened, so a projector's 24-token window still
    labels every token at 20 px (a character model's labels are one character: unchanged)."""
    return label if len(label) <= most else label[: most - 1] + "…"


def ticks(labels: list[str], chars: str, max_ticks: int) -> dict:
    """Category ticks showing only the characters (or tokens, shortened), thinned to at most max_ticks."""
    step = max(1, math.ceil(len(labels) / max_ticks))
    text = [short(visible_char(c)) for c in chars[::step]]
    return dict(
        type="category",
        tickmode="array",
        tickvals=tick_positions(len(labels), step),
        ticktext=text,
        tickangle=0 if all(len(t) <= 1 for t in text) else -90,  # tokens stand upright: one per column
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
    if style.narrow:
        narrow_layout(traces, base, layout)
    annotations = layout.pop("annotations", [])
    # the traces were checked as they were made; checking them again in the figure, with the layout,
    # cost a third of building a page's figures (the layout is this module's own, tested in tests/)
    return go.Figure(data=traces, layout=dict(base, annotations=annotations, **layout), _validate=False)


WRAP_CHARS = 44  # a narrow figure's title line: about 300 px at 13 px, inside a 360 px phone's plot


def wrap_title(text: str, width: int = WRAP_CHARS) -> str:
    """A title in lines of at most width characters (its own <br> kept), broken between words."""
    lines = []
    for part in text.split("<br>"):
        lines.extend(textwrap.wrap(part, width, break_long_words=False) or [""])
    return "<br>".join(lines)


NARROW_BAR_PX = 52  # a horizontal colour bar over the plot: its title, the bar, its numbers
TITLE_LINE_PX = 17  # a title's line at 13 px


def _narrow_colorbar(bar: dict | None) -> dict:
    """A colour bar over the plot, across it and short: on a phone a vertical one took a fifth of the width."""
    bar = dict(bar or {})
    title = dict(bar.get("title") or {})
    title.pop("side", None)
    return dict(bar, orientation="h", thickness=10, len=0.7, x=0.5, xanchor="center", y=0, yref="container",
                yanchor="bottom", ypad=4, title=dict(title, side="top"))  # fmt: skip


NARROW_PLOT_PX = 290  # a plot as wide as the narrowest phone's screen (360 px) less the page's padding and labels
NARROW_TICK_PX = 12  # a narrow figure's tick labels: the smallest legible size on a phone
NARROW_LABEL_PX = 17  # a tick label's box down an axis, with room (15.7 px at 12 px in Chromium)


def _thinned(axis: dict, across: bool, height: int | None, top: int) -> dict:
    """An axis whose array of tick labels would overlap at a phone's width: every k-th label (a laptop's
    48 characters across a phone's 290 px ran into each other)."""
    vals, text = axis.get("tickvals"), axis.get("ticktext")
    if not isinstance(vals, list) or not isinstance(text, list) or len(vals) != len(text) or len(vals) < 2:
        return axis
    low, high = (axis.get("domain") or [0.0, 1.0])[:2]
    if across:
        room, each = NARROW_PLOT_PX * (high - low), max(14, 7 * max(len(str(t)) for t in text) + 6)
    elif height:
        room, each = (height - top - 45) * (high - low), NARROW_LABEL_PX  # less the row of characters below
    else:
        return axis
    step = math.ceil(len(vals) / max(2, int(room / each)))
    return axis if step <= 1 else dict(axis, tickvals=vals[::step], ticktext=text[::step])


def narrow_layout(traces: list, base: dict, layout: dict) -> None:
    """A figure for a phone's screen (FigureStyle.narrow), in place: the title wrapped into lines above the plot
    in the text's size, colour bars horizontal and short at the bottom, square plots against the top, arrays of
    tick labels thinned to what the width holds, the legend under the plot, thin side margins."""
    top = 8
    title = base.pop("title", None)
    above = top + NARROW_BAR_PX  # what may be above a plot: its title's lines (below) and a colour bar
    if title:
        text = wrap_title(title["text"] if isinstance(title, dict) else title)
        above += TITLE_LINE_PX * (text.count("<br>") + 1)
        # just above the plot, and the top margin grows to hold it (Plotly put a multi-line title anchored
        # at the container's top above the figure, its first lines cut off)
        base["title"] = dict(text=text, font=dict(size=base["font"]["size"]), automargin=True, yref="paper", y=1,
                             yanchor="bottom", x=0, xanchor="left", pad=dict(b=6))  # fmt: skip
    bars = False
    for trace in traces:  # a heatmap's own colour bar (not one of a shared coloraxis)
        if "colorbar" in trace and trace["showscale"] is not False and not trace["coloraxis"]:
            trace["colorbar"] = _narrow_colorbar(trace["colorbar"].to_plotly_json())
            bars = True
    for name, value in list(layout.items()):
        if name.startswith("coloraxis") and isinstance(value, dict):
            layout[name] = dict(value, colorbar=_narrow_colorbar(value.get("colorbar")))
            bars = True
        if name.startswith(("xaxis", "yaxis")) and isinstance(value, dict):
            # tick labels at NARROW_TICK_PX: a character a cell in a map as wide as the screen (phone.CHAR_PX)
            value = dict(value, tickfont=dict(value.get("tickfont") or {}, size=NARROW_TICK_PX))
            value = layout[name] = _thinned(value, name[0] == "x", base.get("height"), above)
        if name.startswith("yaxis") and isinstance(value, dict):
            if value.get("scaleanchor"):
                value = dict(value, constraintoward="top")  # a square plot's spare height goes below it
            if isinstance(value.get("title"), dict):  # clear of the widest character (␣)
                value = dict(value, title=dict(value["title"], standoff=10))
            layout[name] = value
    base["margin"].update(l=2, r=2, t=top)
    _narrow_bar_labels(traces, base, layout)
    for name, value in layout.items():  # an axis's long title in lines (Induction's ran off the screen)
        if name.startswith(("xaxis", "yaxis")) and isinstance(value, dict) and isinstance(value.get("title"), dict):
            text = value["title"].get("text")
            if isinstance(text, str) and len(text) > WRAP_CHARS:
                layout[name] = dict(value, title=dict(value["title"], text=wrap_title(text)))
    if bars:
        base["margin"]["b"] = NARROW_BAR_PX  # the axis's characters and title go above it (automargin)
    # a legend beside the plot took half a phone's width: at the figure's foot, two names a row, under the axis
    entries = sum(1 for t in traces if t["showlegend"] is not False and t["name"])
    if entries and layout.get("showlegend") is not False:
        layout["legend"] = dict(layout.get("legend") or {}, orientation="h", x=0, xanchor="left", y=0,
                                yref="container", yanchor="bottom", entrywidth=0.5,
                                entrywidthmode="fraction")  # fmt: skip
        rows = math.ceil(entries / 2) + (1 if (layout["legend"].get("title") or {}).get("text") else 0)
        base["margin"]["b"] = max(base["margin"]["b"], 20 * rows + 56)  # the axis's characters and title above it


def _narrow_bar_labels(traces: list, base: dict, layout: dict) -> None:
    """Horizontal bars with their numbers outside (Why's): room on the right for a number past the longest bar,
    and the names of the bars pushed clear of a negative bar's number."""
    for trace in traces:
        if trace["type"] != "bar" or trace["orientation"] != "h" or trace["textposition"] != "outside":
            continue
        base["margin"]["r"] = 44
        x = trace["x"]
        if x is not None and any(v < 0 for v in x):
            axis = trace["yaxis"] or "y"
            key = axis_key(axis)
            layout[key] = dict(layout.get(key) or {}, ticklabelstandoff=40)


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
