"""The page API: what a view file uses to be a page. A page is

    STATE = (url_state.Key("ind_len", 32, choices=(16, 32, 64), url="changed"),)  # its widgets' keys

    def render() -> None:
        st.header("Induction")
        ctx = page.page_context(needs_attention=True)   # the sidebar's model and prompt, or a notice
        if ctx is None:
            return
        data = captures.attention_data(ctx.ref, ctx.prompt.ids, ctx.config.attn_scale)
        page.chart(page.figure(heads.head_grid, ..., style=page.figure_style()), name="induction-grid")

    if __name__ == "__main__":  # Streamlit runs a page file as __main__; tests import its STATE
        page.run(render, STATE)

Controls are in controls.py, the compare section in compare_section.py, presenter mode in
presenter.py. A widget's key is its session-state key, declared in STATE (see url_state.py).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import weakref
from dataclasses import dataclass

import numpy as np
import streamlit as st

from nanogpt import metrics
from nanogpt.checkpoint import Checkpoint, CheckpointError
from nanogpt.config import GPTConfig

from . import compat, presenter, url_state
from .backend import captures, classes, registry
from .figures import kit
from .figures.kit import DEFAULT_STYLE, PRESENTER_STYLE, FigureStyle, visible_char

log = logging.getLogger("viz_app")


_FAILED = "_page_failed"  # what a callback's guard caught: said at the top of the run that follows
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
    error box; here the error is kept and said at the top of the run that follows (say_failures)."""

    @functools.wraps(callback)
    def run_guarded(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except Exception as e:
            log.exception("callback failed")
            st.session_state.setdefault(_FAILED, []).append(_message(e))

    return run_guarded


def say_failures(where=None) -> None:
    """The messages of callbacks that failed before this run (guarded), in `where` (default: here)."""
    for text in st.session_state.pop(_FAILED, []):
        (where or st).error(text, icon=":material/error:")


DELIVERY_WAIT_S = 1.0  # at most; the wait is the server's backlog of messages, milliseconds when idle


def wait_for_delivery() -> bool:
    """At the end of a full run: wait until the server's event loop has taken every message the run
    made. A fragment's timer rerun (a follower's poll, Play) handled just as a run finishes makes
    Streamlit start a new ScriptRunner and ignore the finished one's events still queued: the run's
    last elements and its URL write never reach the browser (a class's followers kept the teacher's
    previous view). The loop runs callbacks in order, so once one scheduled now has run, those events
    are in the browser's queue, where a new run keeps them; for a class, url_state.browser_missed_run
    catches a wait that timed out. Streamlit's loop is reached through an internal (compat.event_loop);
    without a running loop (AppTest's mock runtime) there is nothing to wait for. True when the loop
    took the callback in time."""
    loop = compat.event_loop()  # an internal of Streamlit's; None where there is none to wait for
    if loop is None:
        return False
    taken = threading.Event()
    loop.call_soon_threadsafe(taken.set)
    return taken.wait(DELIVERY_WAIT_S)


def run(render, state=()) -> None:
    """A page's whole run: its declared state (url_state.declare), then render() under the guard."""
    url_state.declare(state)
    guard(render)


def fragment(body, *, run_every: float | None = None, keeps_view: bool = True) -> None:
    """Run body as a Streamlit fragment (its widgets rerun it alone; run_every: a timer), under the
    guard (a fragment's own runs happen outside the page's): the only way the app makes a fragment.
    keeps_view: keep the shared state (a fragment run would lose the values of widgets it does not
    draw) and write the link after each of its runs, so the link always names what the screen shows
    (a Timeline step, a Generate step); False for a fragment that draws no widget of the view (the
    classroom's polls)."""

    def run_once() -> None:
        alone = not url_state.in_full_run()  # in the page's full run, app.py does both
        if alone:
            say_failures()  # a callback of this fragment's widgets
            if keeps_view:
                url_state.keep_shared()
        guard(body)
        if alone and keeps_view:
            url_state.write_url()

    st.fragment(run_once, run_every=run_every)()


@dataclass
class PageContext:
    entry: registry.ModelEntry
    ref: registry.ModelRef  # the caches' handle on the model, resolved once per run
    ckpt: Checkpoint
    prompt: captures.Prompt

    @property
    def config(self) -> GPTConfig:
        return self.ckpt.model.config


def _prompt_notices(prompt: captures.Prompt, block_size: int) -> None:
    if prompt.unknown:
        shown = ", ".join(f"'{visible_char(c)}'" for c in prompt.unknown[:20])
        if len(prompt.unknown) > 20:
            shown += " …"
        st.warning(
            f"Not in this model's vocabulary, so dropped: {shown}. The model reads the rest.",
            icon=":material/translate:",
        )
    if prompt.n_cropped:
        st.info(
            f"The prompt is longer than the model's context of {block_size} characters: "
            f"using the last {block_size} ({prompt.n_cropped} cut from the start).",
            icon=":material/content_cut:",
        )


def load(entry: registry.ModelEntry, purpose: str = "", *, quiet: bool = False):
    """An entry's (ModelRef, Checkpoint), or None after an error on the page saying why (unless quiet)."""
    try:
        ref = registry.model_ref(entry)
        return ref, captures.load_model(ref)
    except (CheckpointError, OSError) as e:
        if not quiet:
            st.error(f"Could not load {entry.label}{purpose}: {e}")
        return None


def page_context(*, needs_attention: bool = False, quiet: bool = False) -> PageContext | None:
    """The selected model and the prepared prompt, or None after telling the user why not.

    quiet: say nothing (a page that only reads the model on the side, as the Lesson's links do)."""
    label = st.session_state.get("model")
    entry = next((e for e in registry.run_models() if e.label == label), None)
    if quiet:
        loaded = load(entry, quiet=True) if entry is not None else None
        prompt = captures.prepare_prompt(st.session_state.get("prompt", ""), loaded[1]) if loaded else None
        return PageContext(entry, *loaded, prompt) if prompt and not prompt.empty else None
    if entry is None:
        st.info(
            "No model to look at yet. Put a checkpoint in "
            f"`{registry.shown_path(registry.checkpoint_dir())}` (for example `python -m nanogpt train --preset baby "
            "--out checkpoints/baby.safetensors`) or upload one in the sidebar.",
            icon=":material/inventory_2:",
        )
        return None
    loaded = load(entry)
    if loaded is None:
        return None
    ref, ckpt = loaded
    if needs_attention and not captures.has_attention(ckpt):
        st.info(
            f"**{entry.label}** is a bigram model: it reads the next character off a table row for the "
            "current character, so there is no attention to show. Pick a GPT checkpoint in the sidebar.",
            icon=":material/info:",
        )
        return None
    prompt = captures.prepare_prompt(st.session_state.get("prompt", ""), ckpt)
    _prompt_notices(prompt, ckpt.model.config.block_size)
    if prompt.empty:
        st.info("Type a prompt in the sidebar to see what the model does with it.", icon=":material/edit:")
        return None
    return PageContext(entry, ref, ckpt, prompt)


def open_on_a_focused_head(ctx: PageContext) -> None:
    """A session whose link named no head opens on the model's most focused one, not layer 0 head 0
    (often nearly uniform). Pages that show a head call this before their pickers."""
    if st.session_state.pop(url_state.PICK_HEAD, False) and captures.has_attention(ctx.ckpt):
        sharp = captures.sharpness(ctx.ref, ctx.prompt.ids, ctx.config.attn_scale)
        url_state.show_head(*metrics.focused_head(sharp.mean_normalized_entropy, sharp.tags))


def figure_style() -> FigureStyle:
    """The style every figure is drawn in: presenter mode swaps in big text and a colour-blind-safe palette."""
    return PRESENTER_STYLE if presenter.on() else DEFAULT_STYLE


def plotly_config(name: str) -> dict:
    """The modebar: its camera button saves the figure as PNG or SVG (the sidebar's choice), in the
    browser, as `name` (e.g. attention-head-L1H2-none.png)."""
    fmt = st.session_state.get("fig_format", "png")
    fmt = fmt if fmt in url_state.FIGURE_FORMATS else "png"
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": fmt, "filename": name, "scale": 3 if presenter.on() else 2},
    }


_DIGESTS: dict[int, tuple] = {}  # id of a live read-only array -> its key (removed when the array goes)


def _array_key(array: np.ndarray) -> tuple:
    """An array's key in the figure cache: shape, dtype and a digest of every byte. A read-only
    array (the captures' shared ones) cannot change, so its key is made once, not on every run
    (a layers x heads grid's (L, H, T, T) weights: 2 ms of hashing a run at T=100)."""
    key = _DIGESTS.get(id(array))
    if key is None:
        key = (array.shape, array.dtype.str, hashlib.blake2b(np.ascontiguousarray(array).data).digest())
        if not array.flags.writeable and not getattr(array.base, "flags", array.flags).writeable:
            _DIGESTS[id(array)] = key
            weakref.finalize(array, _DIGESTS.pop, id(array), None)
    return key


_SCALARS = (str, int, float, bool, type(None), FigureStyle)


def _feed(h, value) -> bool:
    """Feed one figure argument into the key's hash, by content and type; False for a kind it does not
    know (Streamlit's hashing takes the call then)."""
    kind = type(value)
    if kind in _SCALARS or isinstance(value, np.generic):
        text = f"{kind.__name__}{value!r}"  # repr: exact for floats, quoted and escaped for strings
    elif kind is np.ndarray:
        text = f"ndarray{_array_key(value)!r}"
    elif kind in (tuple, list):
        h.update(f"{kind.__name__}{len(value)}(".encode())
        return all(_feed(h, item) for item in value)
    elif kind is dict:
        h.update(f"dict{len(value)}(".encode())
        keys = sorted(value) if all(type(k) is str for k in value) else list(value)  # keywords in any order
        return all(_feed(h, k) and _feed(h, value[k]) for k in keys)
    else:
        return False
    h.update(f"{len(text)}:{text}".encode())  # length first: no two sequences of arguments read the same
    return True


def _key(name: str, args: tuple, kwargs: dict) -> str | None:
    h = hashlib.blake2b(name.encode())
    return h.hexdigest() if _feed(h, args) and _feed(h, kwargs) else None


# ~100 kB to 1 MB a figure; a class on one prompt shares a few dozen of them
@st.cache_resource(max_entries=512, show_spinner=False)
def _built_by_key(key: str, _build, _args: tuple, _kwargs: dict):
    """Keyed by _key alone (Streamlit leaves arguments named _* out of its hash): hashing every
    argument the way Streamlit does took 0.15 ms a figure on every run, this 0.014 ms."""
    return kit.shared(_build(*_args, **_kwargs))


@st.cache_resource(max_entries=128, show_spinner=False, hash_funcs={FigureStyle: repr, np.ndarray: _array_key})
def _built(_build, name: str, args: tuple, kwargs: dict):
    return kit.shared(_build(*args, **kwargs))  # name stands for _build in the cache key: hashed by name


def figure(build, *args, **kwargs):
    """build(*args, **kwargs), a figure of viz_app.figures, built once for every session that asks for
    the same one (its arrays are hashed by content) and shared: Plotly checks every value of a figure
    as it is built, the costliest part of a page run. Shared, so nobody may change it afterwards."""
    name = f"{build.__module__}.{build.__qualname__}"
    key = _key(name, args, kwargs)
    if key is None:  # an argument of a kind _feed does not know: Streamlit hashes it
        return _built(build, name, args, kwargs)
    return _built_by_key(key, build, args, kwargs)


def chart(fig, *, name: str, fit: bool = False, **kwargs):
    """Draw a figure with the export-ready modebar; `name` is what its download is called: the page,
    the view, and the layer, head and scale it shows. Figures are drawn in figure_style(), so
    presenter mode reaches them through it (they may be shared: see figure).

    Without Streamlit's chart theme (theme=None): the theme sets tick labels to 12 px whatever the
    figure says, so presenter mode could not make them bigger; kit.figure sets the look instead.

    fit: the page's picture; in presenter mode it fills the window's height under one row of
    controls (presenter.PRESENTER_CSS sizes its container: the server does not know the window)."""
    if fit and presenter.on():
        with st.container(key=f"presenter-fit-{name}"):
            return st.plotly_chart(fig, config=plotly_config(name), theme=None, height="stretch", **kwargs)
    return st.plotly_chart(fig, config=plotly_config(name), theme=None, **kwargs)
