"""What every page does the same way: guard against errors, resolve the model and prompt (with the
notices a bad prompt deserves), the shared layer / head / scale controls, and drawing a figure.

Session-state keys, the one rule: a widget's key is its session-state key. The view every page
shares has plain names (model, prompt, layer, head, scale, view, values, presenter); a page's own
widgets start with the page's prefix (gen_, tf_, tr_, ablation_, live_, lesson_, cmp_, tl_); a key
starting with "_" is bookkeeping that no widget draws and no URL carries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import streamlit as st

from nanogpt.checkpoint import Checkpoint, CheckpointError
from nanogpt.config import ATTN_SCALES, GPTConfig, scale_value

from . import url_state
from .backend import captures, comparisons, registry
from .figures import kit
from .figures.kit import DEFAULT_STYLE, PRESENTER_STYLE, FigureStyle, visible_char

log = logging.getLogger("viz_app")

FIGURE_FORMATS = ("png", "svg")  # what the modebar's camera button saves, in the browser (no server dependency)
PRESENTER_CSS = """<style>
/* presenter mode makes the data bigger for the back row, not the chrome: figures are drawn in
   PRESENTER_STYLE (their tick labels too, see chart), metric numbers and the generated text grow,
   labels, captions and buttons keep their size so every control still fits at 1280 x 720 */
[data-testid="stMetricValue"], [data-testid="stMetricValue"] p { font-size: 3rem !important; line-height: 1.2; }
[data-testid="stToolbar"], [data-testid="stDecoration"], footer, #MainMenu { display: none !important; }
/* the header stays (its button opens the sidebar again): the title starts below it */
.block-container { padding-top: 4.25rem !important; padding-left: 2rem !important; padding-right: 2rem !important; }
</style>"""


FOLD_SIDEBAR_JS = """<script>
document.querySelector('[data-testid="stSidebarCollapseButton"] button')?.click();
</script>"""
_PRESENTING = "_presenting"  # presenter mode was on in the last run


def presenter() -> bool:
    return bool(st.session_state.get("presenter"))


def figure_style() -> FigureStyle:
    """The style every figure is drawn in: presenter mode swaps in big text and a colour-blind-safe palette."""
    return PRESENTER_STYLE if presenter() else DEFAULT_STYLE


def apply_presenter_css() -> None:
    """Presenter mode's style; the moment it is switched on, also fold the sidebar away.

    app.py asks for a collapsed sidebar (set_page_config), but Streamlit keeps a sidebar the user
    opened or closed by hand as they left it, and to reach the toggle they opened it: so click its
    collapse button once, in the browser."""
    on = presenter()
    if on:
        st.html(PRESENTER_CSS)
        if not st.session_state.get(_PRESENTING):
            st.html(FOLD_SIDEBAR_JS, unsafe_allow_javascript=True)
    st.session_state[_PRESENTING] = on


def plotly_config(name: str) -> dict:
    """The modebar: its camera button saves the figure as PNG or SVG (the sidebar's choice), in the
    browser, as `name` (e.g. attention-head-L1H2-none.png)."""
    fmt = st.session_state.get("fig_format", "png")
    fmt = fmt if fmt in FIGURE_FORMATS else "png"
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": fmt, "filename": name, "scale": 3 if presenter() else 2},
    }


def guard(render) -> None:
    """Run a page body (or the sidebar); an unexpected error becomes a short message, never a traceback."""
    try:
        render()
    except Exception as e:  # Streamlit's own stop/rerun signals are BaseException and pass through
        log.exception("page failed")
        st.error(
            f"Something went wrong drawing this page ({type(e).__name__}: {e}). "
            "Try another prompt or model; the rest of the app still works."
        )


@dataclass
class PageContext:
    entry: registry.ModelEntry
    model_id: str  # the caches' name for the model (registry.model_id)
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


def _load(entry: registry.ModelEntry, purpose: str = "") -> tuple[str, Checkpoint] | None:
    """An entry's model id and its loaded model, or None after an error on the page saying why."""
    try:
        model_id = registry.model_id(entry)
        return model_id, captures.load_model(model_id)
    except (CheckpointError, OSError) as e:
        st.error(f"Could not load {entry.label}{purpose}: {e}")
        return None


def page_context(*, needs_attention: bool = False) -> PageContext | None:
    """The selected model and the prepared prompt, or None after telling the user why not."""
    label = st.session_state.get("model")
    entry = next((e for e in registry.available_models() if e.label == label), None)
    if entry is None:
        st.info(
            "No model to look at yet. Put a checkpoint in "
            f"`{registry.shown_path(registry.checkpoint_dir())}` (for example `python -m nanogpt train --preset baby "
            "--out checkpoints/baby.safetensors`) or upload one in the sidebar.",
            icon=":material/inventory_2:",
        )
        return None
    loaded = _load(entry)
    if loaded is None:
        return None
    model_id, ckpt = loaded
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
    if st.session_state.pop(url_state.PICK_HEAD, False) and captures.has_attention(ckpt):
        # a first look should show a head with a job, not layer 0 head 0 (often nearly uniform)
        sharp = captures.sharpness(model_id, prompt.ids, ckpt.model.config.attn_scale)
        st.session_state["layer"], st.session_state["head"] = captures.focused_head(sharp)
    return PageContext(entry, model_id, ckpt, prompt)


def controls_row():
    """A row of controls that wraps onto a new line where the page is too narrow: columns of fixed
    shares would clip a row of buttons instead (at 1280 x 720 they did)."""
    return st.container(horizontal=True, gap="medium")


def layer_head_picker(n_layer: int, n_head: int, *, keys: tuple[str, str] = ("layer", "head")):
    """Layer and head as two rows of buttons side by side; returns (layer, head, the row), so a
    page can put more controls on the same row.

    keys: the session-state keys (the shared view's, or a page's own).
    """
    url_state.clamp_choice(keys[0], range(n_layer))
    url_state.clamp_choice(keys[1], range(n_head))
    row = controls_row()
    with row:
        layer = choice("Layer", list(range(n_layer)), key=keys[0])
        head = choice("Head", list(range(n_head)), key=keys[1])
    return layer, head, row


def model_controls(ckpt: Checkpoint) -> tuple[int, int, str]:
    """Layer, head and the scale switch in one row: what every attention view is about."""
    cfg = ckpt.model.config
    layer, head, row = layer_head_picker(cfg.n_layer, cfg.n_head)
    with row, st.container(width="content"):
        scale = scale_switch(ckpt)
    return layer, head, scale


MAX_BUTTONS = 8  # more options than this become a dropdown: a row of buttons would be clipped


def choice(label: str, options, *, key: str, **kwargs):
    """One of a few options as a row of buttons that cannot be left empty (a compact radio)."""
    options = list(options)
    if len(options) > MAX_BUTTONS:
        return st.selectbox(label, options, key=key, width=180, **kwargs)
    return st.segmented_control(label, options, key=key, selection_mode="single", required=True, **kwargs)


def scale_label(setting: str, ckpt: Checkpoint) -> str:
    cfg = ckpt.model.config
    return f"{kit.SCALE_LABELS[setting]} = {scale_value(setting, cfg.n_embd, cfg.head_size):.3g}"


def scale_switch(ckpt: Checkpoint) -> str:
    """The 1/sqrt(d_k) switch: which number q·k is multiplied by, for this run only."""
    url_state.clamp_choice("scale", ATTN_SCALES)
    setting = choice(
        "Scale of q·k",
        ATTN_SCALES,
        key="scale",
        format_func=lambda s: scale_label(s, ckpt),
        help="Attention multiplies q·k by a scale before the softmax. The lecture's fix is 1/√head_size; "
        "its first draft used 1/√n_embd. Switching it here changes only this view, never the shared model.",
    )
    st.caption(f"The model was trained with {kit.SCALE_LABELS[ckpt.model.config.attn_scale]}.")
    return setting


# the window a one-head map opens on: the prompt's last 40 characters, each labelled and clickable
# in a map as wide as a projector's page (about 15 px a character at 1280 x 720)
ZOOM = 40


def window_picker(n: int, *, key: str = "window", span: int | None = ZOOM) -> tuple[int, int]:
    """A [start, stop) window of the prompt to zoom into: its last `span` characters by default (a
    window every character of which can be labelled and clicked), or all of it (span None). The
    Attention and Timeline pages share one window: a stretch picked on one is the stretch on the other."""
    if n < 8:
        return 0, n
    stored = st.session_state.get(key)
    if st.session_state.get(f"_{key}_of") != n or not (
        isinstance(stored, (tuple, list)) and 0 <= stored[0] < stored[1] <= n
    ):
        st.session_state[key] = (max(0, n - span), n) if span else (0, n)  # a new prompt length: start again
        st.session_state[f"_{key}_of"] = n
    start, stop = st.slider(
        "Zoom: characters shown",
        min_value=0,
        max_value=n,
        key=key,
        help="Pick a stretch of the prompt to see it character by character. Keys before the window are hidden.",
    )
    if stop <= start:
        start, stop = max(0, stop - 1), max(stop, start + 1)
    return start, stop


def zoom_note(window: tuple[int, int], n: int) -> str:
    """The sentence under a zoomed map saying which stretch it shows ('' when it shows all n)."""
    start, stop = window
    return f" Showing characters {start}–{stop - 1} of {n}: widen the zoom to see all." if stop - start < n else ""


def new_upload(upload, seen_key: str) -> bool | None:
    """Whether an st.file_uploader's file (or list of files) is new this session: True once per file,
    then None while it stays taken, False while it stays refused (see remember_upload). A rerun
    returns the same upload every time; a file must be read (and refused with a message) only once."""
    if not upload:
        return None
    seen = st.session_state.setdefault(seen_key, {})
    if _upload_id(upload) not in seen:
        return True
    return False if seen[_upload_id(upload)] is False else None


def remember_upload(upload, seen_key: str, taken) -> None:
    """Record what became of an upload: what it was registered as, or False when it was refused."""
    st.session_state.setdefault(seen_key, {})[_upload_id(upload)] = taken


def _upload_id(upload) -> str:
    """One file's id, or one id for a set of files (accept_multiple_files): adding a file makes a new set."""
    return "+".join(f.file_id for f in upload) if isinstance(upload, list) else upload.file_id


# ~100 kB to 1 MB a figure; a class on one prompt shares a few dozen of them
@st.cache_resource(max_entries=512, show_spinner=False, hash_funcs={FigureStyle: repr})
def _built(_build, name: str, args: tuple, kwargs: dict):
    return kit.shared(_build(*args, **kwargs))  # name stands for _build in the cache key: hashed by name


def figure(build, *args, **kwargs):
    """build(*args, **kwargs), a figure of viz_app.figures, built once for every session that asks for
    the same one (its arrays are hashed by content) and shared: Plotly checks every value of a figure
    as it is built, the costliest part of a page run. Shared, so nobody may change it afterwards."""
    return _built(build, f"{build.__module__}.{build.__qualname__}", args, kwargs)


def chart(fig, *, name: str, **kwargs):
    """Draw a figure with the export-ready modebar; `name` is what its download is called: the page,
    the view, and the layer, head and scale it shows. Figures are drawn in figure_style(), so
    presenter mode reaches them through it (they may be shared: see figure).

    Without Streamlit's chart theme (theme=None): the theme sets tick labels to 12 px whatever the
    figure says, so presenter mode could not make them bigger; kit.figure sets the look instead."""
    return st.plotly_chart(fig, config=plotly_config(name), theme=None, **kwargs)


_MODEL_PICK = "_model_pick"  # select_model's label, for the sidebar's picker to take


def select_model(label: str) -> None:
    """Show this model on every page from the next full run (then st.switch_page or st.rerun).

    The sidebar's picker takes it before it is drawn (take_model_pick). Setting the picker's key
    from a fragment or a callback is not enough: the browser still holds the picker's old value and
    sends it back on the next run ("Look at it" once did nothing)."""
    st.session_state[_MODEL_PICK] = label


def take_model_pick() -> None:
    """The sidebar calls this just before drawing the model picker."""
    label = st.session_state.pop(_MODEL_PICK, None)
    if label is not None:
        st.session_state["model"] = label


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
            st.session_state["layer"], st.session_state["head"] = int(data[0]), int(data[1])
            st.session_state.update(also)

    return take


@dataclass
class Compared:
    """The second model a page shows beside the first, on the same prompt."""

    entry: registry.ModelEntry
    model_id: str
    ckpt: Checkpoint
    pairing: comparisons.Pairing


def compare_picker(ctx: PageContext) -> Compared | None:
    """ "Compare with": the model untrained, a step of its timeline, or another model; None for nothing.
    Notices say what two models of other sizes or vocabularies cannot show side by side."""
    entries = registry.available_models()
    options = {"": "nothing", **{c.value: c.label for c in comparisons.choices(ctx.entry, entries)}}
    url_state.clamp_choice("cmp", list(options), default="")
    value = st.selectbox(
        "Compare with",
        list(options),
        key="cmp",
        format_func=options.get,
        help="Show a second model beside this one on the same prompt: the same head of both, their difference, "
        "and how each head's entropy and max weight changed. Kept in the link.",
    )
    if not value:
        return None
    entry = comparisons.resolve(value, ctx.entry, entries)
    if entry is None:
        st.warning(f"There is no {value!r} to compare with here.", icon=":material/compare_arrows:")
        return None
    loaded = _load(entry, " to compare with")
    if loaded is None:
        return None
    model_id, ckpt = loaded
    if not captures.has_attention(ckpt):
        st.info(f"{entry.label} is a bigram table: it has no attention to compare.", icon=":material/info:")
        return None
    pairing = comparisons.pair(ctx.ckpt, ctx.prompt, ckpt, st.session_state.get("prompt", ""), entry.label)
    for notice in pairing.notices:
        st.info(notice, icon=":material/compare_arrows:")
    return Compared(entry, model_id, ckpt, pairing)
