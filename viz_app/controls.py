"""The controls every page draws the same way: a choice as a row of buttons, the shared layer and
head pickers, the scale switch, the zoom window, and the callbacks that take a click on a figure.

Each widget here keeps its stored value inside the options it is about to offer
(url_state.clamp), so a stale value (another model, another prompt) or a link's nonsense never
reaches the browser; views never clamp by hand.
"""

from __future__ import annotations

import streamlit as st

from nanogpt.checkpoint import Checkpoint
from nanogpt.config import ATTN_SCALES, scale_value

from . import phone, presenter, url_state
from .figures import kit

MAX_BUTTONS = 8  # more options than this become a dropdown: a row of buttons would be clipped
# the window a one-head map opens on: the prompt's last 40 characters, each labelled and clickable
# in a map as wide as a projector's page (about 15 px a character at 1280 x 720)
ZOOM = 40


def row():
    """A row of controls that wraps onto a new line where the page is too narrow: columns of fixed
    shares would clip a row of buttons instead."""
    return st.container(horizontal=True, gap="medium")


def choice(label: str, options, *, key: str, default=None, **kwargs):
    """One of a few options as a row of buttons that cannot be left empty (a compact radio)."""
    options = list(options)
    url_state.clamp(key, options, default)
    if len(options) > MAX_BUTTONS:
        return st.selectbox(label, options, key=key, width=180, **kwargs)
    return st.segmented_control(label, options, key=key, selection_mode="single", required=True, **kwargs)


def dropdown(label: str, options, *, key: str, default=None, host=st, **kwargs):
    """st.selectbox, its value kept among the options; host: where to draw it (a column)."""
    url_state.clamp(key, options, default)
    return host.selectbox(label, list(options), key=key, **kwargs)


def radio(label: str, options, *, key: str, default=None, **kwargs):
    url_state.clamp(key, options, default)
    return st.radio(label, list(options), key=key, **kwargs)


def slider_choice(label: str, options, *, key: str, default=None, host=st, **kwargs):
    """st.select_slider, its value kept among the options."""
    url_state.clamp(key, options, default)
    return host.select_slider(label, list(options), key=key, **kwargs)


def current_head(n_layer: int, n_head: int) -> tuple[int, int]:
    """The shared layer and head, kept inside this model (for a figure drawn above the pickers)."""
    url_state.clamp("layer", range(n_layer))
    url_state.clamp("head", range(n_head))
    return st.session_state["layer"], st.session_state["head"]


def layer_head_picker(n_layer: int, n_head: int, *, keys: tuple[str, str] = ("layer", "head"), host=None):
    """Layer and head as two rows of buttons side by side; returns (layer, head, the row), so a
    page can put more controls on the same row. keys: the shared view's, or a page's own; host: a
    row to draw them in (presenter.stage's), a new one by default."""
    controls = host if host is not None else row()
    with controls:
        layer = choice("Layer", range(n_layer), key=keys[0])
        head = choice("Head", range(n_head), key=keys[1])
    return layer, head, controls


def model_controls(ckpt: Checkpoint) -> tuple[int, int, str]:
    """Layer, head and the scale switch in one row: what every attention view is about."""
    cfg = ckpt.model.config
    layer, head, controls = layer_head_picker(cfg.n_layer, cfg.n_head)
    with controls, st.container(width="content"):
        scale = scale_switch(ckpt)
    return layer, head, scale


def scale_label(setting: str, ckpt: Checkpoint) -> str:
    cfg = ckpt.model.config
    return f"{kit.SCALE_LABELS[setting]} = {scale_value(setting, cfg.n_embd, cfg.head_size):.3g}"


def scale_switch(ckpt: Checkpoint) -> str:
    """The 1/sqrt(d_k) switch: which number q·k is multiplied by, for this run only."""
    setting = choice(
        "Scale of q·k",
        ATTN_SCALES,
        key="scale",
        format_func=lambda s: scale_label(s, ckpt),
        help="Attention multiplies q·k by a scale before the softmax. The lecture's fix is 1/√head_size; "
        "its first draft used 1/√n_embd. Switching it here changes only this view, never the shared model.",
    )
    st.caption(f"The model was trained with {kit.SCALE_LABELS[ckpt.model.config.attn_scale]}.")
    cfg = ckpt.model.config
    if getattr(cfg, "model_type", "") == "nanochat":
        s, d = cfg.constants.qk_scale, cfg.head_size
        st.caption(
            f"nanochat normalises q and k (RMSNorm, then ×{s:g}), so |q·k| ≤ {s * s:.2f}·{d} whatever the input: with "
            f"1/√{d} its scores stay within ±{s * s * d**0.5:.1f}. The switch cannot make them grow with the vectors' "
            f"length as in the lecture's model; without the scale every score is {d**0.5:.1f}× larger and the "
            "softmax only sharper."
        )
    return setting


def opening_window(n: int, stored, *, span: int | None = ZOOM) -> tuple[int, int] | None:
    """The window window_picker shows for a prompt of n characters and the stored one (None: no
    picker, under 8 characters); an in-app link to a page with the picker names it (url_state.link)."""
    if n < 8:
        return None
    most = most_readable()
    if most is not None and span is not None:
        span = min(span, most)
    if not (isinstance(stored, (tuple, list)) and 0 <= stored[0] < stored[1] <= n):
        return (max(0, n - span), n) if span else (0, n)
    if most is not None and stored[1] - stored[0] > most:
        # projected or on a phone, every character must be readable: a window that fits, ending where it ended
        return stored[1] - most, stored[1]
    return tuple(stored)


def most_readable() -> int | None:
    """The widest window a one-head map labels every character of: presenter mode's, a phone's (None: any)."""
    if presenter.on():
        return presenter.ZOOM
    return phone.zoom() if phone.on() else None


def window_picker(n: int, *, key: str = "window", span: int | None = ZOOM, unit: str = "character") -> tuple[int, int]:
    """A [start, stop) window of the prompt to zoom into: its last `span` characters by default (a
    window every character of which can be labelled and clicked), or all of it (span None). The
    Attention and Timeline pages share one window (url_state.SHELL: it starts again with a new prompt)."""
    if n < 8:
        return 0, n
    url_state.settle(key)  # a new model or prompt: start again at its end
    st.session_state[key] = opening_window(n, st.session_state.get(key), span=span)
    start, stop = st.slider(
        f"Zoom: {unit}s shown",
        min_value=0,
        max_value=n,
        key=key,
        help=f"Pick a stretch of the prompt to see it {unit} by {unit}. Keys before the window are hidden."
        + (f" Presenter mode shows at most {presenter.ZOOM}, each readable from the back." if presenter.on() else "")
        + (f" This phone shows at most {phone.zoom()}, each readable." if phone.on() else ""),
    )
    if stop <= start:
        start, stop = max(0, stop - 1), max(stop, start + 1)
    return start, stop


def zoom_note(window: tuple[int, int], n: int, unit: str = "character") -> str:
    """The sentence under a zoomed map saying which stretch it shows ('' when it shows all n)."""
    start, stop = window
    return f" Showing {unit}s {start}–{stop - 1} of {n}: widen the zoom to see all." if stop - start < n else ""


def selected_point(chart_key: str) -> dict | None:
    """In a chart's on_select callback: the point the click selected (None when it cleared the selection).

    Clicks are taken in callbacks, which run before the page: the pickers drawn above a chart can
    then still be set, and each click is taken once."""
    state = st.session_state.get(chart_key) or {}
    points = (state.get("selection") or {}).get("points") or []
    return points[0] if points else None


def pick_head_on_click(chart_key: str, **also):
    """An on_select callback for a figure whose click targets carry (layer, head) as customdata:
    the clicked head becomes the shared layer and head, and each key of `also` takes its value
    (e.g. view="head" to open it)."""

    def take() -> None:
        data = (selected_point(chart_key) or {}).get("customdata")
        if isinstance(data, (list, tuple)) and len(data) >= 2:
            url_state.show_head(int(data[0]), int(data[1]), **also)

    return take
