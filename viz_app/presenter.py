"""Presenter mode (the sidebar's toggle, `presenter=1` in a link): the data bigger for the back row.

Figures reach it through page.figure_style(); this module holds the page's CSS and the one click
that folds the sidebar away."""

from __future__ import annotations

import streamlit as st

PRESENTER_CSS = """<style>
/* presenter mode makes the data bigger for the back row, not the chrome: figures are drawn in
   PRESENTER_STYLE (their tick labels too, see page.chart), metric numbers and the generated text grow,
   labels, captions and buttons keep their size so every control still fits at 1280 x 720 */
[data-testid="stMetricValue"], [data-testid="stMetricValue"] p { font-size: 3rem !important; line-height: 1.2; }
/* the toolbar stays: in Streamlit 1.67 the button that opens the sidebar again (and with it every control
   and the way out of presenter mode) lives inside it; only its menu and deploy buttons go */
[data-testid="stToolbarActions"], [data-testid="stAppDeployButton"], [data-testid="stMainMenu"],
[data-testid="stDecoration"], footer, #MainMenu { display: none !important; }
/* the way back, where a teacher looks for it: bigger, outlined */
[data-testid="stExpandSidebarButton"] { transform: scale(1.4); transform-origin: top left;
  border: 1px solid #9aa5b1; border-radius: 0.5rem; background: #ffffff; }
/* the header stays (its button opens the sidebar again): the title starts below it */
.block-container { padding-top: 4.25rem !important; padding-left: 2rem !important; padding-right: 2rem !important; }
</style>"""
FOLD_SIDEBAR_JS = """<script>
document.querySelector('[data-testid="stSidebarCollapseButton"] button')?.click();
</script>"""
_PRESENTING = "_presenting"  # presenter mode was on in the last run


def on() -> bool:
    return bool(st.session_state.get("presenter"))


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
