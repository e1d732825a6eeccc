"""Several lines on one chart told apart without colour: each line its own marker symbol and dash, and its
name written at its end (a direct label), so a reader with any colour vision, or a black-and-white
printout, can follow each one. The colours are Okabe and Ito's, chosen to stay apart under the common
colour-vision deficiencies (tests/e2e/test_colour_browser.py renders them under Chromium's emulation)."""

from __future__ import annotations

import numpy as np

# Okabe-Ito without its yellow (1.1:1 on white): orange, sky blue, bluish green, blue, vermillion, purple
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "triangle-down", "cross", "hexagon", "pentagon")
DASHES = ("solid", "dot", "dashdot", "longdash", "longdashdot", "5px,3px,1px,3px")  # "dash" marks a live run


def line_look(index: int, palette: tuple[str, ...] = PALETTE) -> dict:
    """The index-th line's colour, marker symbol and dash: the symbol alone tells any two of the first
    len(SYMBOLS) lines apart, the dash any two of the first len(DASHES)."""
    return dict(
        colour=palette[index % len(palette)], symbol=SYMBOLS[index % len(SYMBOLS)], dash=DASHES[index % len(DASHES)]
    )


def end_labels(ends: list[tuple[str, float, float, str]], *, font_size: int, gap: float = 0.045) -> list[dict]:
    """A label at the end of each line, (name, x, y, colour) -> Plotly annotations: right of the line's
    last point, nudged apart where lines end close together (at least `gap` of the y span of the ends,
    or of 1 when they all end at one value)."""
    finite = [(n, x, y, c) for n, x, y, c in ends if np.isfinite(x) and np.isfinite(y)]
    if not finite:
        return []
    ys = [y for _, _, y, _ in finite]
    span = (max(ys) - min(ys)) or 1.0
    step = gap * span * max(1.0, len(finite) / 6)
    placed, last = [], -np.inf
    for name, x, y, colour in sorted(finite, key=lambda e: e[2]):
        at = max(y, last + step)
        last = at
        placed.append(
            dict(
                text=name, x=x, y=at, xanchor="left", yanchor="middle", xshift=8, showarrow=False,
                font=dict(color=colour, size=font_size),
            )
        )  # fmt: skip
    return placed


def label_room(names: list[str], font_size: int) -> int:
    """Right margin (px) that holds the longest direct label."""
    return int(12 + 0.55 * font_size * max((len(n) for n in names), default=0))
