"""The class's answers to a question: one bar per choice, the right one picked out once revealed."""

from __future__ import annotations

import plotly.graph_objects as go

from .kit import DEFAULT_STYLE, FigureStyle, figure, two_colours

RIGHT = "✓"  # before the right answer's label, once revealed
WRAP = 28  # characters a choice's label takes before it breaks onto a new line


def _wrapped(text: str, width: int = WRAP) -> str:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join([*lines, line])


def tally(
    choices: list[str], counts: list[int], answer: int | None = None, style: FigureStyle = DEFAULT_STYLE
) -> go.Figure:
    """Horizontal bars, first choice on top; `answer` (the revealed right choice) marked by more than its
    accent colour: a check mark before its label and "right answer" after its count."""
    total = sum(counts)
    labels = [f"{RIGHT + ' ' if i == answer else ''}{chr(65 + i)}. {_wrapped(c)}" for i, c in enumerate(choices)]
    text = [f"{n} ({n / total:.0%})" if total else "0" for n in counts]
    text = [f"{t} · right answer" if i == answer else t for i, t in enumerate(text)]
    bars = go.Bar(
        x=list(counts),
        y=labels,
        orientation="h",
        text=text,
        textposition="outside",
        cliponaxis=False,
        marker=two_colours([i == answer for i in range(len(choices))], style),
        hovertemplate="%{y}: %{x}<extra></extra>",
    )
    title = f"{total} answer{'s' if total != 1 else ''}"
    height = 120 + (2 * style.font_size + 26) * len(choices)
    room = 1.6 if answer is not None else 1.25  # beyond the longest bar: its count (and "right answer")
    return figure(
        [bars],
        style,
        height,
        title=title,
        xaxis=dict(range=[0, max(1, max(counts, default=0)) * room], dtick=1 if max(counts, default=0) < 10 else None,
                   title="students"),
        yaxis=dict(autorange="reversed"),
        showlegend=False,
    )  # fmt: skip
