"""A figure's text alternative (WCAG 1.1.1): one sentence a screen reader reads — what is shown and its
headline number — and the figure's numbers as a table. Pure: a Plotly figure in, text and rows out.

The sentence is read off the figure's own traces, so every figure of the app has one without each page
writing it: a map of attention weights (rows that sum to 1) says which key its rows put the most weight
on and its mean largest weight; another map its largest cell; lines their last values; bars the largest.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

MAX_ROWS = 64  # a table's rows at most (a map: its last rows, the latest characters)
MAX_COLS = 32  # a map's columns at most (its last keys)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class AltText:
    sentence: str
    columns: list[str]
    rows: list[list]  # each as long as columns
    note: str = ""  # what the table leaves out, if anything


def plain(text) -> str:
    """Plotly's title text as words: tags gone, entities read, lines joined."""
    text = str(text or "").replace("<br>", " · ")
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def label(value) -> str:
    """A category or position label as read aloud: 'e @12' stays, numbers are shortened."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return plain(value)


def _title(fig) -> str:
    title = fig.layout.title.text if fig.layout.title else None
    if title:
        return plain(title)
    subplot_titles = [plain(a.text) for a in fig.layout.annotations or () if a.text]
    if subplot_titles:
        return subplot_titles[0]
    return "The map" if any(t.type == "heatmap" for t in fig.data) else "The chart"


def _axis_labels(values, n: int) -> list[str]:
    if values is None or len(values) != n:
        return [str(i) for i in range(n)]
    return [label(v) for v in values]


def _heatmap(fig, trace) -> AltText:
    z = np.asarray(trace.z, dtype=float)  # (rows, cols)
    if z.ndim != 2 or z.size == 0 or not np.isfinite(z).any():
        return AltText(f"{_title(fig)}: a map with no values.", [], [])
    ys = _axis_labels(trace.y, z.shape[0])
    xs = _axis_labels(trace.x, z.shape[1])
    title = _title(fig)
    finite = np.where(np.isfinite(z), z, np.nan)
    sums = np.nansum(np.where(np.isfinite(z), z, 0.0), axis=1)
    rows_with_values = np.isfinite(z).any(axis=1)
    weights = bool(np.nanmin(finite) >= 0 and np.allclose(sums[rows_with_values], 1.0, atol=0.02))
    if weights:  # attention weights: each query row shares 1 over its keys
        live = finite[rows_with_values]
        row_max = np.nanmax(live, axis=1)
        keys = np.nanargmax(live, axis=1)
        favourite, count = Counter(xs[k].split(" @")[0] for k in keys).most_common(1)[0]
        share = count / len(keys)
        sentence = (
            f"{title}: each row's largest weight falls on '{favourite}' in {share:.0%} of the rows; "
            f"mean largest weight {float(row_max.mean()):.2f}."
        )
    else:
        r, c = np.unravel_index(np.nanargmax(finite), z.shape)
        lo = float(np.nanmin(finite))
        sentence = f"{title}: largest value {float(finite[r, c]):.3g} at {ys[r]} and {xs[c]}; smallest {lo:.3g}."
    row0, col0 = max(0, z.shape[0] - MAX_ROWS), max(0, z.shape[1] - MAX_COLS)
    columns = ["row", *xs[col0:]]
    rows = [
        [ys[r], *(None if not np.isfinite(v) else round(float(v), 3) for v in z[r, col0:])]
        for r in range(row0, z.shape[0])
    ]
    note = ""
    if row0 or col0:
        note = f"The last {z.shape[0] - row0} rows and {z.shape[1] - col0} columns of {z.shape[0]} x {z.shape[1]}."
    return AltText(sentence, columns, rows, note)


def _points(trace) -> tuple[list, np.ndarray]:
    values = trace.x if trace.orientation == "h" else trace.y
    cats = trace.y if trace.orientation == "h" else trace.x
    values = np.asarray(values if values is not None else [], dtype=float)
    cats = list(cats) if cats is not None else list(range(len(values)))
    names = trace.text if trace.type != "bar" else None  # a line's points named ('e @12'), not numbered
    if names is not None and not isinstance(names, str) and len(names) == len(values):
        cats = list(names)
    return [label(c) for c in cats], values


def _lines_and_bars(fig, traces) -> AltText:
    title = _title(fig)
    parts, rows = [], []
    for i, trace in enumerate(traces):
        name = plain(trace.name) or f"series {i + 1}"
        cats, values = _points(trace)
        finite = np.flatnonzero(np.isfinite(values))
        if not finite.size:
            continue
        for k in finite[:MAX_ROWS]:
            rows.append([name, cats[k] if k < len(cats) else k, round(float(values[k]), 4)])
        if trace.type == "bar":
            k = finite[np.argmax(values[finite])]
            parts.append(f"largest {cats[k]} {values[k]:.3g}" if len(traces) == 1 else f"{name}: largest {cats[k]}")
        else:
            last = finite[-1]
            parts.append(f"{name} ends at {values[last]:.3g}")
    if not parts:
        return AltText(f"{title}: nothing drawn.", [], [])
    shown = parts[:8] + ([f"and {len(parts) - 8} more"] if len(parts) > 8 else [])
    return AltText(f"{title}: " + "; ".join(shown) + ".", ["series", "at", "value"], rows)


def describe(fig) -> AltText:
    """The figure's sentence and table: of its first map if it draws one, else of its lines and bars."""
    traces = [t for t in fig.data if getattr(t, "visible", True) not in (False, "legendonly")]
    maps = [t for t in traces if t.type == "heatmap" and t.z is not None]
    if maps:
        return _heatmap(fig, maps[0])
    drawn = [t for t in traces if t.type in ("scatter", "scattergl", "bar")]
    drawn = [t for t in drawn if not (t.type == "scatter" and t.marker and t.marker.opacity == 0)]  # click targets
    return _lines_and_bars(fig, drawn)
