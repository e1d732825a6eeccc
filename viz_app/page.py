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
presenter.py, the guard every body and callback runs under in guard.py, the figure cache in
backend/figure_cache.py. A widget's key is its session-state key, declared in STATE (see url_state.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from nanogpt import metrics
from nanogpt.checkpoint import Checkpoint, CheckpointError
from nanogpt.config import GPTConfig

from . import a11y, phone, presenter, url_state
from .backend import captures, registry
from .backend.figure_cache import figure  # noqa: F401 (the page API's: a figure built once, shared)
from .figures.kit import DEFAULT_STYLE, PRESENTER_STYLE, FigureStyle, visible_char
from .guard import guard, guarded  # noqa: F401 (the page API's: every callback and body)


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
            url_state.say_notices()  # e.g. a callback of this fragment's widgets that failed
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
        unit = prompt.unit
        why = (f"the model's context of {block_size} {unit}s" if prompt.limit >= block_size
               else f"the {prompt.limit} {unit}s a page captures (the model reads up to {block_size})")  # fmt: skip
        st.info(
            f"The prompt is longer than {why}: using the last {prompt.limit} ({prompt.n_cropped} cut from the start).",
            icon=":material/content_cut:",
        )


def load(entry: registry.ModelEntry, purpose: str = "", *, quiet: bool = False, ref: registry.ModelRef | None = None):
    """An entry's (ModelRef, Checkpoint), or None after an error on the page saying why (unless quiet);
    `ref`: the entry's handle when the run has resolved it already (run_model)."""
    try:
        ref = ref or registry.model_ref(entry)
        return ref, captures.load_model(ref)
    except (CheckpointError, OSError) as e:
        if not quiet:
            st.error(f"Could not load {entry.label}{purpose}: {e}")
        return None


def page_context(*, needs_attention: bool = False, quiet: bool = False) -> PageContext | None:
    """The selected model and the prepared prompt, or None after telling the user why not.

    quiet: say nothing (a page that only reads the model on the side, as the Lesson's links do)."""
    model = url_state.run_model()
    if quiet:
        loaded = load(model.entry, quiet=True, ref=model.ref) if model is not None else None
        prompt = captures.prepare_prompt(st.session_state.get("prompt", ""), loaded[1]) if loaded else None
        return PageContext(model.entry, *loaded, prompt) if prompt and not prompt.empty else None
    if model is None:
        st.info(
            "No model to look at yet. Put a checkpoint in "
            f"`{registry.shown_path(registry.checkpoint_dir())}` (for example `python -m nanogpt train --preset baby "
            "--out checkpoints/baby.safetensors`) or upload one in the sidebar.",
            icon=":material/inventory_2:",
        )
        return None
    entry = model.entry
    loaded = load(entry, ref=model.ref)
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
    """The style every figure is drawn in: presenter mode swaps in big text and a colour-blind-safe palette,
    a phone a figure laid out for its narrow screen (phone.py)."""
    if phone.on():
        return phone.style()
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
            drawn = st.plotly_chart(fig, config=plotly_config(name), theme=None, height="stretch", **kwargs)
    else:
        drawn = st.plotly_chart(fig, config=plotly_config(name), theme=None, **kwargs)
    a11y.alt_text(fig, name)  # its sentence and its numbers as a table
    return drawn
