"""Every student can use it (WCAG 2.1 AA): what the browser needs beyond Streamlit's own page.

- alt_text: under every figure (page.chart), one sentence saying what it shows and its headline number,
  and its numbers as a table one click or key away (WCAG 1.1.1).
- CSS: text colours that meet 4.5:1 on the app's backgrounds (Streamlit's caption grey is 3.9:1, code in
  a caption 3.0:1), and a focus ring on every control a keyboard reaches.

app.py calls apply() once a run, for every page. The colours are measured by tests/e2e/
test_accessibility_browser.py with axe-core on every page in both modes.
"""

from __future__ import annotations

import streamlit as st

from .figures.alt_text import AltText, describe

# 5.9:1 on white, 5.3:1 on the sidebar's grey (#f0f2f6): the app's text that should read as secondary
SECONDARY_TEXT = "#5c6570"
FOCUS_RING = "#1d5a94"  # 7.1:1 on white: the primary colour, darker

CSS = f"""<style>
/* captions: Streamlit draws them in the text colour at 60% opacity (#828180 on white, 3.9:1) */
[data-testid="stCaptionContainer"] {{ opacity: 1 !important; color: {SECONDARY_TEXT} !important; }}
[data-testid="stCaptionContainer"] p {{ color: {SECONDARY_TEXT} !important; }}
[data-testid="stCaptionContainer"] code {{ color: #1f5e4a !important; }}
[data-testid="stCaptionContainer"] a {{ color: {FOCUS_RING} !important; }}
/* st.code's syntax colours (a number 2.6:1, a keyword 3.8:1 on its #fcfcfb) */
[data-testid="stCode"] .token:is(.keyword, .boolean, .function, .builtin, .tag, .selector)
  {{ color: {FOCUS_RING} !important; }}
[data-testid="stCode"] .token:is(.number, .string, .char, .attr-value, .constant, .symbol, .regex, .variable)
  {{ color: #1f5e4a !important; }}
[data-testid="stCode"] .token:is(.comment, .prolog, .doctype, .cdata) {{ color: {SECONDARY_TEXT} !important; }}
[data-testid="stCode"] .token:is(.operator, .punctuation, .entity, .url, .parameter, .property, .attr-name)
  {{ color: inherit !important; }}
/* a visible focus on every control a keyboard reaches */
:is(a, button, input, textarea, select, summary, [role="slider"], [role="radio"], [role="checkbox"],
    [role="switch"], [role="tab"], [role="option"], [role="combobox"], [tabindex]):focus-visible {{
  outline: 3px solid {FOCUS_RING} !important; outline-offset: 2px !important; }}
[data-testid="stSidebarNav"] a:focus-visible {{ background: #dbe7f3 !important; }}
/* a page's heading takes the focus after a page switch (not a control: no ring, the reader says it) */
[data-testid="stMain"] :is(h2, h3)[tabindex="-1"]:focus {{ outline: none !important; }}
/* the Lesson's steps: scrolled to below the header bar */
[class*="st-key-lesson-step-"] {{ scroll-margin-top: 4rem; }}
</style>"""


def apply() -> None:
    """The page's accessibility CSS, on every run (st.html adds no visible element)."""
    st.html(CSS)


def _described(fig) -> AltText:
    """The figure's text alternative, made once per figure: page.figure shares one figure between
    every session that draws it, and a shared figure never changes."""
    alt = fig.__dict__.get("_alt_text")
    if alt is None:
        alt = fig.__dict__["_alt_text"] = describe(fig)
    return alt


def alt_text(fig, name: str) -> None:
    """Under a figure: its sentence (read by a screen reader, seen by everyone) and its numbers as a
    table in a folded expander, made only once it is opened (on_change="rerun": Streamlit then runs
    the body of an open expander alone)."""
    alt = _described(fig)
    st.caption(alt.sentence)
    if not alt.rows:
        return
    box = st.expander("The numbers as a table", icon=":material/table:", key=f"alt_{name}", on_change="rerun")
    if box.open:
        with box:
            if alt.note:
                st.caption(alt.note)
            st.table({column: [row[i] for row in alt.rows] for i, column in enumerate(alt.columns)})
