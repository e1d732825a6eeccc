"""Page state, declared once: which keys a page's widgets hold, their choices or range, their default,
whether the URL carries them, whether they outlive their page. The URL reopens the same view.

A view declares `STATE = (Key(...), ...)` and page.run(render, STATE) hands it to declare(); the
shell's own keys (model, prompt, layer, head, scale, ...) are SHELL below. From the declaration:

- a key starts at its default, or at the value a link gave the session, when it makes sense (a
  notice says what was refused: a link must never break a page);
- `shared` keys keep their value on pages that do not draw them: Streamlit forgets a widget's value
  when a run does not draw it, so they are re-assigned at the start of every run (Streamlit's
  documented pattern for multipage apps);
- a key that `follows` others goes back to its default when one of them changes (the score's
  query and key when the prompt changes);
- write_url mirrors every declared `url` key into the URL at the end of the run.

Options known only at run time (a model's layers, a timeline's steps) are clamped by the widgets of
controls.py through clamp(), just before they draw. A key starting with "_" is bookkeeping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import streamlit as st

from nanogpt.config import ATTN_SCALES
from nanogpt.data import OPENING_LINES

DEFAULT_PROMPT = OPENING_LINES[:117]  # "...You are all resolved": ends mid-line, so the next character is a guess
MAX_URL_PROMPT = 2000  # characters; browsers and proxies cut long URLs
FIGURE_FORMATS = ("png", "svg")  # what the modebar's camera button saves, in the browser (no server dependency)
TRUE, FALSE = ("1", "true", "on", "yes"), ("0", "false", "off", "no")
PICK_HEAD = "_pick_head"  # the session's link named no head: the first page that shows one picks a focused one
HEAD_KEYS = ("layer", "head")
MISSED_RUN_S = 1.5  # a browser still on the link before the last full run's this long after it: that run's end was lost
FOCUSED_INSTEAD = "showing this model's most focused head instead."  # not layer 0 head 0, often a uniform head


@dataclass(frozen=True)
class Key:
    """One session-state key a widget draws (its widget key is this name)."""

    name: str
    default: Any = None  # None: the widget picks one from its options at run time
    choices: tuple | None = None  # the only values it may take (a link's other values are refused)
    lo: float | None = None  # the range of a number
    hi: float | None = None
    url: str = ""  # "": not in the URL; "changed": when it is not the default; "always": whenever it is set
    shared: bool = False  # kept on pages that do not draw it
    follows: tuple[str, ...] = ()  # back to the default when one of these keys changes
    max_len: int | None = None  # of a text
    pair: bool = False  # two whole numbers, start < stop, written "93-117" (the zoom window)
    fragment: bool = False  # written by a fragment's runs (a step that Play advances): see _moved

    def parse(self, raw: str):
        """A link's text as this key's value; ValueError when it makes no sense here."""
        if self.pair:
            start, sep, stop = raw.partition("-")
            if not (sep and start.isdigit() and stop.isdigit() and int(start) < int(stop)):
                raise ValueError("not two positions, the first below the second, as 93-117")
            return int(start), int(stop)
        if self.choices is not None:
            for choice in self.choices:
                if _url_value(choice) == raw:
                    return choice
            raise ValueError(f"not one of {', '.join(_url_value(c) for c in self.choices)}")
        if isinstance(self.default, bool):
            if raw.lower() in TRUE + FALSE:
                return raw.lower() in TRUE
            raise ValueError("not on or off")
        if isinstance(self.default, (int, float)) or self.lo is not None:
            value = int(raw) if isinstance(self.default, int) or self.default is None else float(raw)
            if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
                raise ValueError(f"outside {self.lo:g}–{self.hi:g}" if self.hi is not None else f"below {self.lo:g}")
            return value
        if self.max_len is not None and len(raw) > self.max_len:
            raise ValueError(f"longer than {self.max_len:,} characters")
        return raw


# what every page shares: the sidebar's model and prompt, the head looked at, the scale switch
SHELL = (
    Key("model", url="always", shared=True),
    Key("prompt", DEFAULT_PROMPT, url="changed", shared=True, max_len=MAX_URL_PROMPT),
    Key("layer", 0, lo=0, url="always", shared=True),
    Key("head", 0, lo=0, url="always", shared=True),
    Key("scale", "head_size", choices=ATTN_SCALES, url="always", shared=True),
    Key("presenter", False, url="changed", shared=True),
    Key("cmp", "", url="changed", shared=True),  # the compared model (controls' compare picker)
    Key("window", url="changed", shared=True, follows=("model", "prompt"), pair=True),  # the one-head maps' zoom
    Key("fig_format", "png", choices=FIGURE_FORMATS, shared=True),
)

_OPENED = "_url_opened"  # the query parameters the session was opened with
_TAKEN = "_url_taken"  # keys whose link value was read (each once, when first declared)
_FROM_LINK = "_url_from_link"  # keys holding a link's value that no widget has checked yet
_DECLARED = "_state_declared"  # every key declared in this session: name -> Key
_THIS_RUN = "_state_this_run"  # the keys declared in this run (the shell's and the page's)
_FOLLOWED = "_state_followed"  # name -> the values of the keys it follows, last run
_NOTICES = "_url_notices"  # what the link asked for that makes no sense here
_OFFERED = "_state_offered"  # clamp: key -> the options its widget offered last run


def _url_value(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (tuple, list)):
        return "-".join(str(int(v)) for v in value)
    return str(value)


def _shown(raw: str) -> str:
    return raw if len(raw) <= 40 else f"{raw[:20]}… ({len(raw):,} characters)"


def notice(text: str) -> None:
    """Something the link asked for that this app cannot show: said once, above the page."""
    st.session_state.setdefault(_NOTICES, []).append(text)


def take_notices() -> list[str]:
    return st.session_state.pop(_NOTICES, [])


def start_run() -> str | None:
    """Call before any widget: the shell's keys, and on a session's first run the link.

    Returns the page slug the link asked for on that first run (None afterwards)."""
    ss = st.session_state
    wanted_page = None
    params = st.query_params.to_dict()
    if _OPENED not in ss:
        ss[_OPENED] = ss[_WRITTEN] = params
        wanted_page = params.get("page")
        if "layer" not in params and "head" not in params:
            ss[PICK_HEAD] = True
    elif params.get("page") and _moved(params, ss.get(_WRITTEN) or {}) and not ss.pop(_RESEND, False):
        # the browser's Back or Forward: an older link of this session, which the run would otherwise
        # overwrite with the session's view (st.switch_page without parameters arrives with none)
        declared = ss.get(_DECLARED, {})
        page_keys = [declared[name] for name in ss.get(_PAGE_KEYS, {}).get(params["page"], ()) if name in declared]
        open_view(params, page_keys)
        ss[_WRITTEN] = params
    ss[_THIS_RUN] = {}
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
    declared = st.session_state.get(_DECLARED, {})
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


def keep_shared() -> None:
    """Every declared key as a plain session value, so a widget starts from it when its page is drawn
    again: at the start of every run, and of every fragment run (page.fragment). Streamlit drops the
    value of a widget a run does not draw, so without this a page switch, or a fragment that draws only
    its own widgets, would send a page's controls (Generate's step, the layer and head) back to their
    defaults. `shared` says more: the key is also in the links of pages that do not draw it."""
    ss = st.session_state
    for key in ss.get(_DECLARED, {}).values():
        if key.name in ss:
            ss[key.name] = ss[key.name]


def declare(keys) -> None:
    """A page's keys (call before its widgets): a link's value on first use, defaults, resets."""
    ss = st.session_state
    opened = ss.get(_OPENED, {})
    taken, from_link = ss.setdefault(_TAKEN, set()), ss.setdefault(_FROM_LINK, set())
    for key in keys:
        ss.setdefault(_DECLARED, {})[key.name] = key
        ss.setdefault(_THIS_RUN, {})[key.name] = key
        if key.name not in taken:
            taken.add(key.name)
            raw = opened.get(key.name)
            if raw is not None and key.name not in ss:  # a value set before (a Lesson link) wins
                try:
                    ss[key.name] = key.parse(raw)
                    from_link.add(key.name)
                except ValueError as e:
                    if key.name in HEAD_KEYS:  # the first page that shows a head picks a focused one
                        ss[PICK_HEAD] = True
                        notice(f"The link's {key.name}={_shown(raw)} was ignored ({e}): {FOCUSED_INSTEAD}")
                    else:
                        notice(f"The link's {key.name}={_shown(raw)} was ignored ({e}): showing the default.")
        settle(key.name)
        if key.default is not None:
            ss.setdefault(key.name, key.default)
        if key.name in ss:
            ss[key.name] = ss[key.name]  # a plain session value: survives a run that does not draw it


def _followed(key: Key) -> tuple[str, ...]:
    return tuple(repr(st.session_state.get(name)) for name in key.follows)


def settle(name: str) -> None:
    """Back to its default a key whose `follows` changed since it was last settled: at its
    declaration, and again just before its widget draws (the sidebar may have changed the model in
    between: an upload, a model another page picked)."""
    ss = st.session_state
    key = ss.get(_DECLARED, {}).get(name)
    if key is None or not key.follows:
        return
    followed, now = ss.setdefault(_FOLLOWED, {}), _followed(key)
    if name in followed and followed[name] != now:
        ss.pop(name, None)
        if key.default is not None:
            ss[name] = key.default
    if name in followed:  # first sight: end_run notes what it follows, after the sidebar has run
        followed[name] = now


def clamp(name: str, options, default=None, *, explained: bool = False) -> None:
    """Keep a stored value inside the options a widget is about to offer (controls.py calls this).

    When the options differ from the last run's, the value is assigned again even if it is still
    one of them: the browser draws a widget with new options as a new widget, which starts at its
    first option unless told otherwise, while the session would keep the old value (a slider
    showing one character and the page explaining another). explained: the caller says why itself."""
    options = list(options)
    if not options:
        return
    ss = st.session_state
    settle(name)
    offered = ss.setdefault(_OFFERED, {})
    came_from_link = name in ss.get(_FROM_LINK, set())
    ss.get(_FROM_LINK, set()).discard(name)
    if ss.get(name) not in options:
        wrong = ss.get(name)
        ss[name] = default if default in options else options[0]
        if came_from_link and not explained:
            notice(f"The link's {name}={_shown(_url_value(wrong))} is not offered here: showing {ss[name]}.")
    elif offered.get(name) != options:
        ss[name] = ss[name]
    offered[name] = options


def check_head_link(n_layer: int, n_head: int) -> None:
    """A link's layer or head the sidebar's model does not have (layer=99): said above the page, and
    the first page that shows a head opens the model's most focused one instead (app.py calls this
    once the model is known, before the page draws; a widget's clamp would come after that page's pick)."""
    ss = st.session_state
    from_link, sizes = ss.get(_FROM_LINK, set()), {"layer": n_layer, "head": n_head}
    wrong = [name for name in HEAD_KEYS if name in from_link and not 0 <= ss.get(name, 0) < sizes[name]]
    for name in wrong:
        from_link.discard(name)
        notice(
            f"The link's {name}={ss[name]} is not in this model ({n_layer} layers × {n_head} heads): {FOCUSED_INSTEAD}"
        )
    if wrong:
        ss["layer"], ss["head"] = 0, 0  # in range until a page picks
        ss[PICK_HEAD] = True


def show_head(layer: int, head: int, **also) -> None:
    """The one writer of the shared layer and head (a click on a grid, a first look, a Lesson link);
    `also` sets more keys with them, e.g. view="head" to open it."""
    ss = st.session_state
    ss["layer"], ss["head"] = int(layer), int(head)
    ss.update(also)


def open_link(params: dict[str, str], keys=()) -> None:
    """Set the view a link describes in this session, as its declared keys parse it; `keys`: more
    declarations, e.g. of a page this session has not opened yet."""
    keys = {key.name: key for key in (*SHELL, *keys)} | st.session_state.get(_DECLARED, {})
    values = {}
    for name, raw in params.items():
        try:
            values[name] = keys[name].parse(raw) if name in keys else raw
        except ValueError:
            continue
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
    return dict(st.session_state.get(_OPENED, {}))


def url_params(page_slug: str, keys=None, values=None) -> dict[str, str]:
    """The link to the current view: the page, and every declared url key of this run and the shared
    ones; or to the view another page would show (link)."""
    ss = st.session_state
    shared = {k.name: k for k in ss.get(_DECLARED, {}).values() if k.shared}
    keys = shared | (ss.get(_THIS_RUN, {}) if keys is None else {k.name: k for k in keys})
    values = values or {}
    wanted = {"page": page_slug}
    for key in keys.values():
        value = values[key.name] if key.name in values else ss.get(key.name)
        if not key.url or value is None or value == "":
            continue
        if key.url == "always" or value != key.default:
            text = _url_value(value)
            wanted[key.name] = text[-key.max_len :] if key.max_len else text
    return wanted


def link(page_slug: str, keys=(), **values) -> dict[str, str]:
    """The query of an in-app link (st.page_link) to another page's view: the shared state, that
    page's keys (its STATE) and `values` set, exactly as that page will write it. Exactly: Streamlit
    then adds one history entry for the visit; a page run that rewrites the query adds another, under
    the page the link left, and the browser's Back would land there first (st.switch_page does that)."""
    return url_params(page_slug, (*SHELL, *keys), values)


_PAGE = "_url_page"  # the slug of the page the last full run drew: a fragment run writes its link
_WRITTEN = "_url_written"  # the query the app last wrote (or was opened with): another one is a Back
_PAGE_KEYS = "_url_page_keys"  # slug -> the url keys its runs declared: a Back to its link resets those
_FULL_RUN = "_url_full_run"  # start_run ran and end_run has not yet: not a fragment's own run
_WRITTEN_AT = "_url_written_at"  # time.monotonic() at the end of the last full run
_REDRAWS = "_url_redraws"  # full runs in a row asked for by browser_missed_run
_RESEND = "_url_resend"  # this full run redraws one the browser missed: its stale link is no Back


def end_run(page_slug: str) -> None:
    """Call after the page: note what the run's new keys follow (see settle), and write the URL."""
    st.session_state[_PAGE], st.session_state[_FULL_RUN] = page_slug, False
    st.session_state[_WRITTEN_AT] = time.monotonic()
    followed = st.session_state.setdefault(_FOLLOWED, {})
    for key in st.session_state.get(_THIS_RUN, {}).values():
        if key.follows:
            followed.setdefault(key.name, _followed(key))
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
    ss.setdefault(_PAGE_KEYS, {})[page_slug] = tuple(k.name for k in ss.get(_THIS_RUN, {}).values() if k.url)
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
