"""A title and a legend that cannot overlap: the title pinned to the figure's top edge, the legend
on the plot's top edge, and a top margin that holds both at the style's font size.

Plotly places a title in the top margin and a legend at y=1.02 of the plot, so with the default
margin they share the same strip of pixels (Train's "loss while training", the Residual comparison's
"mean ‖x‖ over positions"). Below the plot the legend would meet rotated tick labels instead.
(A candidate for kit.py, which another change owns at the moment.)
"""

from __future__ import annotations

from .kit import FigureStyle

TITLE_PAD = 8  # px above the title
GAP = 6  # px between the title and the legend, and between the legend and the plot


def title_px(style: FigureStyle) -> float:
    """The height a one-line title takes (Plotly draws titles at 1.2 x the font size, plus line height)."""
    return 1.6 * style.font_size


def legend_px(style: FigureStyle) -> float:
    """The height of one row of a horizontal legend (a swatch and its text)."""
    return 1.8 * style.font_size


def top_margin(style: FigureStyle) -> int:
    """Room for the title, one legend row and the gaps between them."""
    return int(TITLE_PAD + title_px(style) + GAP + legend_px(style) + GAP + 0.5)


def title_then_legend(fig, title: str, style: FigureStyle):
    """fig with its title pinned to the top edge and a one-row legend on the plot's top edge, in a top
    margin that holds both (kit.figure takes the title as text only, so it is set here)."""
    fig.update_layout(
        title=dict(text=title, x=0.05, xanchor="left", y=1.0, yref="container", yanchor="top",
                   pad=dict(t=TITLE_PAD)),
        legend=dict(orientation="h", x=0, xanchor="left", y=1.0, yref="paper", yanchor="bottom"),
        margin=dict(t=top_margin(style)),
    )  # fmt: skip
    return fig
