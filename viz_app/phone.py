"""A phone: the page laid out for a screen under PHONE_MAX_PX wide, chosen from the screen's width.

A student opens the class link from the QR code on a phone, so nothing has to be switched on. The
layout that needs no numbers is CSS (PHONE_CSS, media queries: padding, the page's title, the figure
toolbar, wrapping, the class's answer buttons). What the server must know is the width itself: how
many characters a map shows, how tall it is drawn, where the controls go. Streamlit 1.67 does not
tell it (st.context has headers, cookies, locale, theme, but no viewport), so a tiny same-origin
component (st.components.v2, no iframe) reports `window.innerWidth` into this session's state, once
on a phone and again when the width crosses PHONE_MAX_PX (a phone turned sideways). A laptop never
reports: the first run draws the laptop's page, so laptops pay no second run.

Figures reach the phone through page.figure_style() (PHONE_STYLE: kit.figure lays a narrow figure
out for the width), pages through on() (presenter.stage puts the picture first on a phone).
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from .figures.kit import DEFAULT_STYLE, FigureStyle
from .guard import guarded

PHONE_MAX_PX = 600  # narrower than this is a phone (tablets in portrait start at 744 px)
PHONE_STYLE = dataclasses.replace(DEFAULT_STYLE, narrow=True)
_SCREEN = "_phone_screen"  # the component's state: {"width": CSS px of window.innerWidth}
# the map's room across a phone's screen besides its plot: Streamlit's page padding (1 rem each side),
# the query characters and the axis title on the left, measured in Chromium at 360 and 390 px
BESIDE_PLOT_PX = 72
# a map's height besides its square plot: the wrapped title (three lines), the key characters and the
# axis title below, the horizontal colour bar under them
AROUND_PLOT_PX = 170
# one labelled character down a map's side: its tick label (kit.NARROW_TICK_PX, 12 px) is a box 15.7 px tall in
# Chromium (13 px: 17 px, and labels one cell apart overlapped); the rest is room for the plot a few px narrower
CHAR_PX = 16.5

_REPORT_JS = """
export default function (component) {
  const { data, setStateValue } = component;
  const phoneMax = data.phone_max;
  // what the server laid this page out for, where a browser test can wait for it
  document.documentElement.dataset.phoneLayout = data.known !== null && data.known < phoneMax ? data.known : "";
  const report = () => {
    const width = window.innerWidth;
    const known = data.known;
    // a laptop never reports (its page is the default); a phone says its width, and so does a
    // screen that crosses the line either way
    const phone = width < phoneMax, wasPhone = known !== null && known < phoneMax;
    if ((phone || wasPhone) && width !== known) setStateValue("width", width);
  };
  report();
  let waiting = null;
  const resized = () => { clearTimeout(waiting); waiting = setTimeout(report, 400); };
  window.addEventListener("resize", resized);
  return () => { window.removeEventListener("resize", resized); clearTimeout(waiting); };
}
"""
_screen = st.components.v2.component("attention_lab_screen", js=_REPORT_JS)

PHONE_CSS = """<style>
@media (max-width: PHONE_MAX_PX) {
  /* the picture gets the screen: less room above the page, a smaller title */
  .block-container { padding: 3.9rem 1rem 2rem 1rem !important; }  /* just under the header (3.75 rem) */
  [data-testid="stMain"] h1, [data-testid="stMain"] h2 { font-size: 1.5rem !important; padding: 0.25rem 0 !important; }
  [data-testid="stMain"] h3 { font-size: 1.2rem !important; }
  /* the figure toolbar sat on the title; a touch has no hover to reveal it anyway */
  .modebar-container { display: none !important; }
  /* nothing wider than the screen: long words, code and the text views wrap */
  [data-testid="stMarkdownContainer"], [data-testid="stCaptionContainer"] { overflow-wrap: anywhere; }
  [data-testid="stMain"] pre, [data-testid="stMain"] code { white-space: pre-wrap !important; overflow-wrap: anywhere; }
  /* a class's answer: a thumb's target (at least 44 px) */
  [class*="st-key-class_choice_"] button, .st-key-class_explore button, .st-key-class_rejoin button {
    min-height: 48px; }
  /* a follower's line, one short row */
  [data-testid="stMain"] [data-testid="stAlert"] p { font-size: 0.9rem; }
}
.st-key-_phone_screen { display: none !important; }
</style>""".replace("PHONE_MAX_PX", f"{PHONE_MAX_PX - 0.02}px")  # under PHONE_MAX_PX, as on() says


# a follower's phone (classroom.banner in follow mode): the teacher's picture, not the teacher's knobs. Every
# control of the page folds away behind "Explore on my own" (the class's own buttons stay); CSS, so it holds
# from the first run, before the width is known, and only under PHONE_MAX_PX
_WIDGETS = ", ".join(
    f"[data-testid=stMain] [data-testid=stElementContainer]:has(> [data-testid={name}])"
    for name in ("stSlider", "stSelectbox", "stButtonGroup", "stNumberInput", "stRadio", "stCheckbox",
                 "stTextInput", "stTextArea", "stMultiSelect", "stDownloadButton")
)  # fmt: skip
FOLLOWER_CSS = (
    "<style>@media (max-width: PHONE_MAX_PX) {"
    + _WIDGETS
    + ", [data-testid=stMain] [data-testid=stElementContainer]:has(> [data-testid=stButton])"
    + ':not([class*="st-key-class_"])'
    + ", [data-testid=stMain] [data-testid=stExpander] { display: none !important; } }</style>"
).replace("PHONE_MAX_PX", f"{PHONE_MAX_PX - 0.02}px")


def follower_style() -> None:
    """A follower's phone shows the teacher's picture, its controls behind "Explore on my own" (classroom.banner)."""
    st.html(FOLLOWER_CSS)


def _take_width() -> None:
    """The component's callback: nothing to do (its state is in st.session_state[_SCREEN])."""


def watch() -> None:
    """Every run, before the page (app.py): the phone's style, and the component that says the width."""
    st.html(PHONE_CSS)
    _screen(key=_SCREEN, data={"known": width(), "phone_max": PHONE_MAX_PX}, on_width_change=guarded(_take_width))


def width() -> int | None:
    """The screen's width in CSS px as the browser reported it; None on a laptop (it does not report)."""
    state = st.session_state.get(_SCREEN)
    try:
        value = state.get("width") if state is not None else None
        return int(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


def on() -> bool:
    """This session's screen is a phone's (under PHONE_MAX_PX wide)."""
    shown = width()
    return shown is not None and shown < PHONE_MAX_PX


def plot_px(screen: int | None = None) -> int:
    """The side of a square map's plot as wide as the phone's screen (this session's, or `screen` px)."""
    return max(200, (screen or width() or 390) - BESIDE_PLOT_PX)


def zoom(screen: int | None = None) -> int:
    """Characters a one-head map shows on this phone: each labelled on both axes at 12 px with no
    overlap, in a map as wide as the screen (19 at 390 px, 17 at 360 px)."""
    return max(8, int(plot_px(screen) / CHAR_PX))


def map_height(screen: int | None = None) -> int:
    """A one-head map's height on this phone: its square plot as wide as the screen, and what is around it.
    Rounded to 10 px, so phones of nearly the same width share a figure."""
    return 10 * round((plot_px(screen) + AROUND_PLOT_PX) / 10)


def style() -> FigureStyle:
    """PHONE_STYLE with a one-head map as tall as this phone's (map_height)."""
    return dataclasses.replace(PHONE_STYLE, map_height=map_height())
