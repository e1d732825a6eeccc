"""What the user is looking at: session defaults, and the URL that reopens the same view.

The state that matters (page, model, prompt, layer, head, scale, view) lives in st.session_state
under the widgets' own keys, and is mirrored into st.query_params at the end of every run. On a
session's first run the URL is read back, so a link a teacher sends opens the same view.

Streamlit forgets a widget's value when a run does not draw it, and a widget's identity includes
its page, so the Sharpness page's scale switch is not the Attention page's. Re-assigning the
shared keys at the start of every run (Streamlit's documented pattern for multipage apps) keeps
them as plain session values that the next page's widget starts from.
"""

from __future__ import annotations

import streamlit as st

from nanogpt.config import ATTN_SCALES
from nanogpt.data import OPENING_LINES

DEFAULT_PROMPT = OPENING_LINES[:117]  # "...You are all resolved": ends mid-line, so the next character is a guess
VIEWS = ("head", "layer", "model")
VALUES = ("weights", "scores")
DEFAULTS = dict(
    prompt=DEFAULT_PROMPT, layer=0, head=0, scale="head_size", view="head", values="weights", presenter=False, cmp=""
)
URL_KEYS = ("model", "prompt", "layer", "head", "scale", "view", "presenter", "cmp")  # cmp: the compared model
# widgets whose value outlives their page
SHARED_KEYS = ("layer", "head", "scale", "view", "values", "curve", "demo_d", "cmp", "window")
MAX_URL_PROMPT = 2000  # characters; browsers and proxies cut long URLs
PICK_HEAD = "_pick_head"  # the first model page of a session chooses the head to open on
_URL_READ = "_url_read"
_URL_FIRST = "_url_first"  # the query parameters the session was opened with
_URL_TAKEN = "_url_taken"  # page keys already read from them (each once)
_PAGE_KEYS = "_url_page_keys"  # this run's page-specific URL keys -> their defaults
_OFFERED = "_choice_options"  # clamp_choice: key -> the options its widget offered last
TRUE, FALSE = ("1", "true", "on", "yes"), ("0", "false", "off", "no")


def _parse(key: str, raw: str):
    """A URL value as the widget's type, or None when it makes no sense (it is then ignored)."""
    if key in ("layer", "head"):
        return int(raw) if raw.isdigit() else None
    if key == "scale":
        return raw if raw in ATTN_SCALES else None
    if key == "view":
        return raw if raw in VIEWS else None
    if key == "presenter":
        return True if raw.lower() in TRUE else False if raw.lower() in FALSE else None
    return raw


def start_run() -> str | None:
    """Call before any widget. On a session's first run, take the view from the URL.

    Returns the page slug the URL asked for on that first run (None afterwards).
    """
    wanted_page = None
    if not st.session_state.get(_URL_READ):
        st.session_state[_URL_READ] = True
        params = st.query_params
        st.session_state[_URL_FIRST] = params.to_dict()
        for key in URL_KEYS:
            if key in params:
                value = _parse(key, params[key])
                if value is not None:
                    st.session_state[key] = value
        wanted_page = params.get("page")
        if "layer" not in params and "head" not in params:
            st.session_state[PICK_HEAD] = True  # no head asked for: page.page_context opens a focused one
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
    for key in SHARED_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    st.session_state[_PAGE_KEYS] = {}
    return wanted_page


def _parse_like(default, raw: str, options=None):
    """A URL value as the type of the key's default (and among options, when given), or None."""
    try:
        if isinstance(default, bool):
            value = True if raw.lower() in TRUE else False if raw.lower() in FALSE else None
        elif isinstance(default, int):
            value = int(raw)
        elif isinstance(default, float):
            value = float(raw)
        else:
            value = raw
    except ValueError:
        return None
    if options is not None and value not in options:
        return None
    return value


def page_state(defaults: dict, options: dict | None = None) -> None:
    """A page's own widget keys: their defaults, the URL's values when the session opened with a
    link, kept across page switches, and mirrored into the URL while the page is shown (only
    where they differ from the defaults). Call before drawing the widgets.

    options: key -> the values a widget offers; a URL value outside them is ignored.
    """
    ss = st.session_state
    first = ss.get(_URL_FIRST, {})
    taken = ss.setdefault(_URL_TAKEN, set())
    for key, default in defaults.items():
        if key not in taken:
            taken.add(key)
            if key in first:
                value = _parse_like(default, first[key], (options or {}).get(key))
                if value is not None:
                    ss[key] = value
        ss.setdefault(key, default)
        ss[key] = ss[key]  # a plain session value: survives a run that does not draw the widget
        ss.setdefault(_PAGE_KEYS, {})[key] = default


def opened_with() -> dict:
    """The query parameters this session was opened with (a link a teacher sent)."""
    return dict(st.session_state.get(_URL_FIRST, {}))


def _url_value(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def clamp_choice(key: str, options, default=None) -> None:
    """Keep a stored choice inside the options a widget is about to offer (e.g. after a model change).

    When the options differ from the last run's, the value is assigned again even if it is still
    one of them: the browser draws a widget with new options as a new widget, which starts at its
    first option unless told otherwise, while the session would keep the old value (a slider
    showing one character and the page explaining another)."""
    options = list(options)
    if not options:
        return
    ss = st.session_state
    offered = ss.setdefault(_OFFERED, {})
    if ss.get(key) not in options:
        ss[key] = default if default in options else options[0]
    elif offered.get(key) != options:
        ss[key] = ss[key]
    offered[key] = options


def write_url(page_slug: str) -> None:
    """Mirror the current view into the URL; only when it changed, so a rerun sends nothing extra."""
    ss = st.session_state
    wanted = {"page": page_slug}
    if ss.get("model"):
        wanted["model"] = ss["model"]
    prompt = ss.get("prompt", "")
    if prompt != DEFAULT_PROMPT:
        wanted["prompt"] = prompt[-MAX_URL_PROMPT:]
    for key in ("layer", "head", "scale", "view"):
        if key in ss:
            wanted[key] = str(ss[key])
    if ss.get("presenter"):
        wanted["presenter"] = "1"
    if ss.get("cmp"):
        wanted["cmp"] = ss["cmp"]
    for key, default in ss.get(_PAGE_KEYS, {}).items():
        if key in ss and ss[key] != default:
            wanted[key] = _url_value(ss[key])
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
