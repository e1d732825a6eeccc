"""The guard every page body, fragment and widget callback runs under: an unexpected error becomes one
sentence on the page, never Streamlit's exception box (issue #35). Views reach it as page.guard and
page.guarded; tests/app/test_guarded.py reads every callback's call site.
"""

from __future__ import annotations

import functools
import logging

import streamlit as st

from . import state_session
from .backend import classes

log = logging.getLogger("viz_app")

_SAID = (classes.ClassStoreError,)  # errors whose message is already the sentence for the user


def _message(error: Exception) -> str:
    if isinstance(error, _SAID):
        return str(error)
    return (
        f"Something went wrong ({type(error).__name__}: {error}). "
        "Try again, or another prompt or model; the rest of the app still works."
    )


def guard(render, otherwise=None):
    """Run a page body (or the sidebar, or a step of app.py); an unexpected error becomes a short
    message, never a traceback. Returns what render returned, or `otherwise` after an error."""
    try:
        return render()
    except Exception as e:  # Streamlit's own stop/rerun signals are BaseException and pass through
        log.exception("page failed")
        st.error(_message(e), icon=":material/error:")
        return otherwise


def guarded(callback):
    """A widget's callback (on_change, on_click, on_select) under the guard: the only way the app
    gives Streamlit a callback (tests/app/test_guarded.py reads every call site). Streamlit runs
    callbacks before the script, outside any page's guard, and shows what they raise in its own
    error box; here the error is queued and said above the page (state_session.notice)."""

    @functools.wraps(callback)
    def run_guarded(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except Exception as e:
            log.exception("callback failed")
            state_session.notice(_message(e), ":material/error:", error=True)

    return run_guarded
