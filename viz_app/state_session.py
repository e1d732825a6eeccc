"""A run's declared keys in the session (state_keys.Key): a link's value taken on first use, defaults,
resets when a followed key changes, values kept on pages that do not draw them, options clamped just
before a widget draws, the shared head's one writer, and the notices about a link's nonsense.

- a key starts at its default, or at the value a link gave the session, when it makes sense (a
  notice says what was refused: a link must never break a page);
- `shared` keys keep their value on pages that do not draw them: Streamlit forgets a widget's value
  when a run does not draw it, so they are re-assigned at the start of every run (Streamlit's
  documented pattern for multipage apps);
- a key that `follows` others goes back to its default when one of them changes (the score's
  query and key when the prompt changes).

Options known only at run time (a model's layers, a timeline's steps) are clamped by the widgets of
controls.py through clamp(), just before they draw. A key starting with "_" is bookkeeping.
"""

from __future__ import annotations

import streamlit as st

from .state_keys import FOCUSED_INSTEAD, HEAD_KEYS, PICK_HEAD, Key, shown, url_value

# the session's bookkeeping keys (url_state.py reads and writes OPENED, DECLARED, THIS_RUN too)
OPENED = "_url_opened"  # the query parameters the session was opened with
TAKEN = "_url_taken"  # keys whose link value was read (each once, when first declared)
FROM_LINK = "_url_from_link"  # keys holding a link's value that no widget has checked yet
DECLARED = "_state_declared"  # every key declared in this session: name -> Key
THIS_RUN = "_state_this_run"  # the keys declared in this run (the shell's and the page's)
FOLLOWED = "_state_followed"  # name -> the values of the keys it follows, last run
NOTICES = "_url_notices"  # (text, icon, error): sentences said once above the page (notice)
OFFERED = "_state_offered"  # clamp: key -> the options its widget offered last run


def notice(text: str, icon: str = ":material/link_off:", *, error: bool = False) -> None:
    """Something to say once, above the page: the one queue of the app's sentences (what a link asked
    for that cannot be shown; the class's news, with its icon; a callback's failure, error=True)."""
    st.session_state.setdefault(NOTICES, []).append((text, icon, error))


def say_notices(where=None) -> None:
    """Every sentence queued since the last time, in `where` (default: here), and the queue emptied."""
    for text, icon, error in st.session_state.pop(NOTICES, []):
        (where or st).error(text, icon=icon) if error else (where or st).warning(text, icon=icon)


def keep_shared() -> None:
    """Every declared key as a plain session value, so a widget starts from it when its page is drawn
    again: at the start of every run, and of every fragment run (page.fragment). Streamlit drops the
    value of a widget a run does not draw, so without this a page switch, or a fragment that draws only
    its own widgets, would send a page's controls (Generate's step, the layer and head) back to their
    defaults. `shared` says more: the key is also in the links of pages that do not draw it."""
    ss = st.session_state
    for key in ss.get(DECLARED, {}).values():
        if key.name in ss:
            ss[key.name] = ss[key.name]


def declare(keys) -> None:
    """A page's keys (call before its widgets): a link's value on first use, defaults, resets."""
    ss = st.session_state
    opened = ss.get(OPENED, {})
    taken, from_link = ss.setdefault(TAKEN, set()), ss.setdefault(FROM_LINK, set())
    for key in keys:
        ss.setdefault(DECLARED, {})[key.name] = key
        ss.setdefault(THIS_RUN, {})[key.name] = key
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
                        notice(f"The link's {key.name}={shown(raw)} was ignored ({e}): {FOCUSED_INSTEAD}")
                    else:
                        notice(f"The link's {key.name}={shown(raw)} was ignored ({e}): showing the default.")
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
    key = ss.get(DECLARED, {}).get(name)
    if key is None or not key.follows:
        return
    followed, now = ss.setdefault(FOLLOWED, {}), _followed(key)
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
    offered = ss.setdefault(OFFERED, {})
    came_from_link = name in ss.get(FROM_LINK, set())
    ss.get(FROM_LINK, set()).discard(name)
    if ss.get(name) not in options:
        wrong = ss.get(name)
        ss[name] = default if default in options else options[0]
        if came_from_link and not explained:
            notice(f"The link's {name}={shown(url_value(wrong))} is not offered here: showing {ss[name]}.")
    elif offered.get(name) != options:
        ss[name] = ss[name]
    offered[name] = options


def check_head_link(n_layer: int, n_head: int) -> None:
    """A link's layer or head the sidebar's model does not have (layer=99): said above the page, and
    the first page that shows a head opens the model's most focused one instead (app.py calls this
    once the model is known, before the page draws; a widget's clamp would come after that page's pick)."""
    ss = st.session_state
    from_link, sizes = ss.get(FROM_LINK, set()), {"layer": n_layer, "head": n_head}
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


def note_followed() -> None:
    """At the end of a full run: what each of its keys that follows others saw (see settle)."""
    followed = st.session_state.setdefault(FOLLOWED, {})
    for key in st.session_state.get(THIS_RUN, {}).values():
        if key.follows:
            followed.setdefault(key.name, _followed(key))
