"""Links: the URL reopens the same view. A run starts (start_run: the link a session opened with, or
the browser's Back to an older one) and ends (end_run: write_url mirrors every declared `url` key
into the URL); url_params and link make the query of a view (an st.page_link's), open_link and
open_view set one in the session, switch_page goes to a page no one clicked a link to;
browser_missed_run catches a run's end the browser never got.

Keys are declared once (state_keys.Key, SHELL) and kept in the session by state_session.py; the
names views and the shell use from both are imported here too, so `url_state` is the one module they
name for page state and links.
"""

from __future__ import annotations

import time

import streamlit as st

from . import state_session
from .pages import PAGES
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


def parse_link(params: dict[str, str], keys=()) -> dict:
    """A link's values as the keys parse them (SHELL's, `keys`, every key this session declared):
    a value its key refuses is left out, a name no key declares kept as its text."""
    keys = {key.name: key for key in (*SHELL, *keys)} | st.session_state.get(DECLARED, {})
    values = {}
    for name, raw in params.items():
        try:
            values[name] = keys[name].parse(raw) if name in keys else raw
        except ValueError:
            continue
    return values


def open_link(params: dict[str, str], keys=()) -> None:
    """Set the view a link describes in this session, as its declared keys parse it; `keys`: more
    declarations, e.g. of a page this session has not opened yet."""
    values = parse_link(params, keys)
    ss = st.session_state
    if "layer" in values or "head" in values:  # a link that names no head keeps the one shown
        show_head(values.pop("layer", ss.get("layer", 0)), values.pop("head", ss.get("head", 0)))
    ss.update(values)


def open_view(params: dict[str, str], keys=(), *, keep=()) -> None:
    """Show exactly the view params describe (a teacher's, in a follower's session): open_link, and
    the url keys of SHELL and `keys` (the view's page) that params leave out, except those named in
    `keep`, back to their defaults, since a link leaves out what is at its default."""
    ss = st.session_state
    for key in (*SHELL, *keys):
        if not key.url or key.name in params or key.name in keep:
            continue
        if key.default is None:
            ss.pop(key.name, None)
        else:
            ss[key.name] = key.default
    if "layer" in params:
        ss.pop(PICK_HEAD, None)  # the view names its head: no page picks another
    open_link(params, keys)


def opened_with() -> dict:
    """The query parameters this session was opened with (a link a teacher sent)."""
    return dict(st.session_state.get(OPENED, {}))


def url_params(page_slug: str, keys=None, values=None) -> dict[str, str]:
    """The link to the current view: the page, and every declared url key of this run and the shared
    ones; or to the view another page would show (link)."""
    ss = st.session_state
    shared = {k.name: k for k in ss.get(DECLARED, {}).values() if k.shared}
    keys = shared | (ss.get(THIS_RUN, {}) if keys is None else {k.name: k for k in keys})
    values = values or {}
    wanted = {"page": page_slug}
    for key in keys.values():
        value = values[key.name] if key.name in values else ss.get(key.name)
        if not key.url or value is None or value == "":
            continue
        if key.url == "always" or value != key.default:
            text = url_value(value)
            wanted[key.name] = text[-key.max_len :] if key.max_len else text
    return wanted


def link(page_slug: str, keys=(), **values) -> dict[str, str]:
    """The query of an in-app link (st.page_link) to another page's view: the shared state, that
    page's keys (its STATE) and `values` set, exactly as that page will write it. Exactly: Streamlit
    then adds one history entry for the visit; a page run that rewrites the query adds another, under
    the page the link left, and the browser's Back would land there first (st.switch_page does that).
    A session still to pick its head (its link named none) gets a link that names none either, unless
    `values` do: the page it opens picks the model's most focused head (page.open_on_a_focused_head)."""
    if st.session_state.get(PICK_HEAD) and not set(HEAD_KEYS) & set(values):
        values = {**values, "layer": None, "head": None}
    return url_params(page_slug, (*SHELL, *keys), values)


def switch_page(page_slug: str, query_params: dict[str, str] | None = None) -> None:
    """Go to another page where no one clicked a link: a follower taking its teacher's page, a
    question opening the view that answers it, the router's ?page= link. The app's one st.switch_page:
    a click goes through an st.page_link with link()'s query instead, since st.switch_page adds three
    browser-history entries and Back would show the page it left three times."""
    st.switch_page(PAGES[page_slug].file, query_params=query_params)


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
