"""Presenter mode (the sidebar's toggle, `presenter=1` in a link): the data bigger for the back row.

Figures reach it through page.figure_style(); this module holds the page's CSS and the one click
that folds the sidebar away."""

from __future__ import annotations

import streamlit as st

from . import phone

PRESENTER_CSS = """<style>
/* presenter mode makes the data bigger for the back row, not the chrome: figures are drawn in
   PRESENTER_STYLE (their tick labels too, see page.chart), metric numbers and the generated text grow,
   labels, captions and buttons keep their size so every control still fits at 1280 x 720 */
[data-testid="stMetricValue"], [data-testid="stMetricValue"] p { font-size: 3rem !important; line-height: 1.2; }
/* the toolbar stays: in Streamlit 1.67 the button that opens the sidebar again (and with it every control
   and the way out of presenter mode) lives inside it; only its menu and deploy buttons go */
[data-testid="stToolbarActions"], [data-testid="stAppDeployButton"], [data-testid="stMainMenu"],
footer, #MainMenu { display: none !important; }
/* the way back, where a teacher looks for it: bigger, outlined */
[data-testid="stExpandSidebarButton"] { transform: scale(1.15); transform-origin: top left; margin-top: -10px;
  border: 1px solid #626a75; border-radius: 0.5rem; background: #ffffff; }
/* the header's bar gives its room to the page: see-through and click-through but for its button
   (the way back to the controls), with the page's title beside that button, so the picture gets the window */
[data-testid="stHeader"], [data-testid="stToolbar"] { background: transparent !important;
  pointer-events: none !important; }
[data-testid="stExpandSidebarButton"] { pointer-events: auto; }
.block-container { padding-top: 0.5rem !important; padding-bottom: 1rem !important;
  padding-left: 2rem !important; padding-right: 2rem !important; }
[data-testid="stMain"] h2 { font-size: 1.4rem !important; padding: 0 0 0 3rem !important; }
/* presenter.stage's row of controls starts under the title, clear of the way back: a row of buttons
   without labels (Generate's Next) rose into the corner of that button */
div.st-key-presenter-top { padding-left: 3rem !important; }
/* the picture (page.chart(fit=True)): the window's height less what is above it (the title and one
   row of controls, 7.25 rem), measured in Chromium at 1280 x 720 and 1920 x 1080 */
div[class*="st-key-presenter-fit"] { height: calc(100vh - 7.25rem) !important; min-height: 22rem;
  flex: 0 0 auto !important; }
</style>"""
FOLD_SIDEBAR_JS = """<script>
document.querySelector('[data-testid="stSidebarCollapseButton"] button')?.click();
</script>"""
_PRESENTING = "_presenting"  # presenter mode was on in the last run
# characters a projected one-head map shows: each labelled on both axes at the style's 20 px in a
# map that fits under one row of controls at 1280 x 720 (about 20 px a character); it grows with the window
ZOOM = 24
# the smallest projector (1280 x 720): the picture's element (PRESENTER_CSS: the window less 7.25 rem)
# is 604 px tall and 1216 px wide; a figure keeps about 70 px of it for its margins and a row of
# characters, the head's titles and the colour bar about 140 px; a labelled character needs 20.5 px
FIT_HEIGHT_PX, FIT_WIDTH_PX, CHAR_PX = 534, 1076, 20.5


# characters a projected strip of positions (Residual's norms: points down, positions across) shows, the
# prompt's last ones: each labelled at 20 px at 1280 wide, where about 1040 px of the 1216 px element is
# left beside the points' names and the colour bar (measured in Chromium: 21.6 px a character)
STRIP = 48


def grid_zoom(rows: int, cols: int, *, vspace: float = 0.07, hspace: float = 0.04) -> int:
    """Characters a map of rows x cols square tiles (Every head of the layer) shows in presenter mode,
    each labelled at 20 px at 1280 x 720: as many as the smaller side of a tile holds, at most ZOOM."""
    tall = FIT_HEIGHT_PX * (1 - vspace * (rows - 1)) / rows
    wide = FIT_WIDTH_PX * (1 - hspace * (cols - 1)) / cols
    return max(4, min(ZOOM, int(min(tall, wide) / CHAR_PX)))


def on() -> bool:
    """Presenter mode is on, and this is not a phone (a phone is never the projector: phone.py)."""
    return bool(st.session_state.get("presenter")) and not phone.on()


def stage():
    """(one row of controls, more controls, the picture): in presenter mode the picture comes right
    under the row and everything else goes below it, so the room sees the picture without scrolling;
    otherwise the more controls come before the picture, as on a laptop. On a phone the picture leads
    and the controls follow it (phone.py)."""
    if phone.on():
        picture = st.container()
        return st.container(horizontal=True, gap="small"), st.container(), picture
    if on():
        top = st.container(horizontal=True, gap="medium", key="presenter-top")  # beside the way back (CSS)
        picture = st.container()
        return top, st.container(), picture
    top = st.container(horizontal=True, gap="medium")
    more = st.container()
    return top, more, st.container()


def apply() -> None:
    """Presenter mode's style; the moment it is switched on, also fold the sidebar away.

    app.py asks for a collapsed sidebar (set_page_config), but Streamlit keeps a sidebar the user
    opened or closed by hand as they left it, and to reach the toggle they opened it: so click its
    collapse button once, in the browser."""
    presenting = on()
    if presenting:
        st.html(PRESENTER_CSS)
        if not st.session_state.get(_PRESENTING):
            st.html(FOLD_SIDEBAR_JS, unsafe_allow_javascript=True)
    st.session_state[_PRESENTING] = presenting
