"""A full run, and the one module views and the shell name for page state. A run starts (start_run:
the link a session opened with, or the browser's Back to an older one), gets its model once
(hand_down, run_model) and ends (end_run: write_url mirrors every declared `url` key into the URL);
browser_missed_run catches a run's end the browser never got.

Keys are declared once (state_keys.Key, SHELL), kept in the session by state_session.py, and made into
links and opened from them by state_links.py; the names views and the shell use from those are
imported here too, so `url_state` is the one module they name for page state and links.
"""

from __future__ import annotations

import time

import streamlit as st

from . import state_session
from .backend import registry
from .state_keys import (  # noqa: F401 (the page-state API's names, one import for views and the shell)
    DEFAULT_PROMPT,
    FIGURE_FORMATS,
    HEAD_KEYS,
    MAX_URL_PROMPT,
    PICK_HEAD,
    SHELL,
    Key,
    url_value,
)
from .state_links import (  # noqa: F401 (as above)
    link,
    open_link,
    open_view,
    opened_with,
    parse_link,
    switch_page,
    url_params,
)
from .state_session import (  # noqa: F401 (as above)
    DECLARED,
    OPENED,
    THIS_RUN,
    check_head_link,
    clamp,
    declare,
    keep_shared,
    notice,
    say_notices,
    settle,
    show_head,
)

MISSED_RUN_S = 1.5  # a browser still on the link before the last full run's this long after it: that run's end was lost
_PAGE = "_url_page"  # the slug of the page the last full run drew: a fragment run writes its link
_WRITTEN = "_url_written"  # the query the app last wrote (or was opened with): another one is a Back
_PAGE_KEYS = "_url_page_keys"  # slug -> the url keys its runs declared: a Back to its link resets those
_FULL_RUN = "_url_full_run"  # start_run ran and end_run has not yet: not a fragment's own run
_WRITTEN_AT = "_url_written_at"  # time.monotonic() at the end of the last full run
_REDRAWS = "_url_redraws"  # full runs in a row asked for by browser_missed_run
_RESEND = "_url_resend"  # this full run redraws one the browser missed: its stale link is no Back


def start_run() -> str | None:
    """Call before any widget: the shell's keys, and on a session's first run the link.

    Returns the page slug the link asked for on that first run (None afterwards)."""
    ss = st.session_state
    wanted_page = None
    params = st.query_params.to_dict()
    if OPENED not in ss:
        ss[OPENED] = ss[_WRITTEN] = params
        wanted_page = params.get("page")
        if "layer" not in params and "head" not in params:
            ss[PICK_HEAD] = True
    elif params.get("page") and _moved(params, ss.get(_WRITTEN) or {}) and not ss.pop(_RESEND, False):
        # the browser's Back or Forward: an older link of this session, which the run would otherwise
        # overwrite with the session's view (st.switch_page without parameters arrives with none)
        declared = ss.get(DECLARED, {})
        page_keys = [declared[name] for name in ss.get(_PAGE_KEYS, {}).get(params["page"], ()) if name in declared]
        open_view(params, page_keys)
        ss[_WRITTEN] = params
    ss[THIS_RUN] = {}
    ss[_FULL_RUN] = True
    declare(SHELL)
    keep_shared()
    return wanted_page


def in_full_run() -> bool:
    """True between start_run and end_run: the app's whole script, not a fragment of it."""
    return bool(st.session_state.get(_FULL_RUN))


def _moved(params: dict, written: dict) -> bool:
    """The browser's link is not the one last written, and not only in what fragments write: a fragment
    that writes its step several times a second (Timeline's Play) is ahead of the link the browser sends
    back with its next run, and taking that older step for a Back would jump the page back to it."""
    declared = st.session_state.get(DECLARED, {})
    live = {name for name, key in declared.items() if key.fragment}
    return {k: v for k, v in params.items() if k not in live} != {k: v for k, v in written.items() if k not in live}


def browser_missed_run() -> bool:
    """In a fragment's own run: True when the browser never got the end of the last full run, and the
    caller should rerun the app. Streamlit loses a run's last messages (its URL write among them, its
    last elements, its end) when a fragment's timer rerun is handled just as that run finishes: it
    starts a new ScriptRunner and ignores the old one's events still queued. Under load that left
    some of a class's followers on the teacher's previous view for good. The sign: this fragment run
    came with the link from before that run, MISSED_RUN_S after it (a browser's timer may fire while
    the run is still on its way), doubling after each redraw that did not help, so a slow browser is
    not sent the page again and again. The full run that redraws must not take that link for a Back."""
    ss = st.session_state
    if in_full_run():  # the fragment drawn by the app's run: that run writes its link itself
        return False
    if not _moved(st.query_params.to_dict(), ss.get(_WRITTEN) or {}):
        ss[_REDRAWS] = 0
        return False
    redraws = ss.get(_REDRAWS, 0)
    if time.monotonic() - ss.get(_WRITTEN_AT, time.monotonic()) < MISSED_RUN_S * 2 ** min(redraws, 4):
        return False
    ss[_REDRAWS], ss[_RESEND] = redraws + 1, True
    return True


def keep_drawn_view() -> None:
    """In a fragment's own run: when the browser's link is older than the one the last full run wrote,
    the browser has not drawn that run yet, and the widget values it sent with this run (which Streamlit
    has put in the session) are as old: set back the view that run drew. A follower's poll sent the scale
    from before the teacher's change that way, and the student's next click drew that scale again."""
    ss = st.session_state
    written = ss.get(_WRITTEN)
    if in_full_run() or not written or not _moved(st.query_params.to_dict(), written):
        return
    open_link({name: value for name, value in written.items() if name != "page"})


def end_run(page_slug: str) -> None:
    """Call after the page: note what the run's new keys follow (see settle), and write the URL."""
    st.session_state[_PAGE], st.session_state[_FULL_RUN] = page_slug, False
    st.session_state[_WRITTEN_AT] = time.monotonic()
    state_session.note_followed()
    write_url(page_slug)


def write_url(page_slug: str | None = None) -> None:
    """Mirror the current view into the URL; only when it changed, so a rerun sends nothing extra.
    page_slug None: the page of the last full run (a fragment's run, page.fragment)."""
    page_slug = page_slug or st.session_state.get(_PAGE)
    if page_slug is None:
        return
    wanted = url_params(page_slug)
    ss = st.session_state
    ss[_WRITTEN] = wanted
    ss.setdefault(_PAGE_KEYS, {})[page_slug] = tuple(k.name for k in ss.get(THIS_RUN, {}).values() if k.url)
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


UNRESOLVED = object()  # app.py's sidebar failed: the run's model is resolved where it is needed (run_model)
_RUN_MODEL = "_url_run_model"  # the run's model as app.py handed it down, for the rest of that full run


def hand_down(model) -> None:
    """app.py, right after the sidebar, on every full run: the run's model as the sidebar resolved it
    (a registry.ChosenModel, None: there is none; UNRESOLVED: the sidebar failed)."""
    if model is UNRESOLVED:
        st.session_state.pop(_RUN_MODEL, None)
    else:
        st.session_state[_RUN_MODEL] = model


def run_model() -> registry.ChosenModel | None:
    """The model this run shows, resolved once per run (so the sidebar and the page of one run read one
    version of a file, even one being rewritten): in the app's full run as app.py handed it down; in a
    fragment's own run, or without the app (a test, the bench), resolved here."""
    ss = st.session_state
    if in_full_run() and _RUN_MODEL in ss:
        return ss[_RUN_MODEL]
    return registry.resolve(ss.get("model"))
