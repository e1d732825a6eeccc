"""In-app links: a view as a query (url_params; link for an st.page_link to another page's view), a
link's values set in the session (open_link, open_view), and switch_page for a page no one clicked a
link to. url_state re-exports these names: views and the shell name one module for page state."""

from __future__ import annotations

import streamlit as st

from .pages import PAGES
from .state_keys import HEAD_KEYS, PICK_HEAD, SHELL, url_value
from .state_session import DECLARED, OPENED, THIS_RUN, show_head


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
