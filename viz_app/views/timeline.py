"""Timeline: the model at the steps its training saved, one slider away. Watch a head's pattern form,
the layers x heads grid sharpen and the tags appear, with the val loss and what it wrote then."""

from __future__ import annotations

import streamlit as st

from viz_app import controls, page, presenter, sidebar
from viz_app.backend import captures, registry, timelines
from viz_app.figures import heads
from viz_app.figures import timeline as figs
from viz_app.url_state import Key

PLAY_EVERY_S = 1.5  # one step of the timeline per tick while playing: time to look at each
PLAYING = "_tl_playing"
_TICKED = "_tl_ticked"  # False on a full page run, True once the fragment ran: its next runs are timer ticks
STATE = (Key("tl_step", lo=0, url="changed", fragment=True),)  # a saved step; opens on the first


def _no_timeline(ctx: page.PageContext) -> None:
    shipped = next((e for e in registry.shipped_models() if timelines.frames(e)), None)
    # the installed package leaves the snapshots out (hatch_build.py): the wheel stays small
    where = (f"The shipped {shipped.label} has one" if shipped else
             "The installed package leaves the shipped timelines out to stay small (a clone of the repository has "
             "shakespeare-small's)")  # fmt: skip
    st.info(
        f"**{ctx.entry.label}** has no training timeline here: no snapshots of its training lie beside it. "
        f"{where}. Every model trained on the Train page has one too: it saves its weights as it trains.",
        icon=":material/timeline:",
    )
    if shipped is not None and st.button(f"Show {shipped.label}'s timeline", key="tl_open", type="primary"):
        sidebar.select_model(shipped.label)
        st.rerun()


def _move(steps: list[int], by: int) -> None:
    """Previous / Next's callback (a presenter's clicker presses them too: viz_app/a11y.py): the saved
    step before or after the one shown, kept inside the timeline."""
    ss = st.session_state
    at = steps.index(ss["tl_step"]) if ss.get("tl_step") in steps else 0
    ss["tl_step"] = steps[min(max(at + by, 0), len(steps) - 1)]


def _step_picker(steps: list[int], host) -> int:
    """The slider over the saved steps, Previous / Play / Next, and the step shown, in the row host."""
    ss = st.session_state
    playing = bool(ss.get(PLAYING))
    at = steps.index(ss["tl_step"]) if ss.get("tl_step") in steps else 0
    with host:
        st.button("Previous", key="tl_prev", icon=":material/skip_previous:",
                  on_click=page.guarded(_move), args=(steps, -1),
                  disabled=at == 0, help="The saved step before this one (PageUp or ←)")  # fmt: skip
        if st.button("Pause" if playing else "Play", key="tl_play", icon=":material/pause:" if playing else
                     ":material/play_arrow:", help="Step through training, one saved step at a time."):  # fmt: skip
            ss[PLAYING] = not playing
            if ss[PLAYING] and ss.get("tl_step") == steps[-1]:
                ss["tl_step"] = steps[0]  # play from the start
            st.rerun()  # the whole page: the fragment's timer starts (or stops) with the next full run
        st.button("Next", key="tl_next", icon=":material/skip_next:", on_click=page.guarded(_move), args=(steps, 1),
                  disabled=at == len(steps) - 1, help="The saved step after this one (PageDown or →)")  # fmt: skip
    with host, st.container(width="stretch"):
        controls.slider_choice(
            "Training step",
            steps,
            key="tl_step",
            format_func=lambda s: f"step {s:,}",
            help="The model as it was at each step its training saved (the last one is the best, the checkpoint).",
        )
    return ss["tl_step"]


def _frame(ctx: page.PageContext, frames, step: int, layer: int, head: int, window, more, picture) -> None:
    frame = next(f for f in frames if f.step == step)
    ref = timelines.frame_ref(ctx.entry, frame)
    scale = ctx.config.attn_scale  # the model's own: the timeline is about training, not the switch
    data = captures.attention_data(ref, ctx.prompt.ids, scale)
    sharp = captures.sharpness(ref, ctx.prompt.ids, scale)
    style = page.figure_style()
    unit, chosen = ctx.prompt.unit, sharp.tags[layer][head]
    with more:
        m = st.columns(3)
    m[0].metric("Step", f"{step:,}" + (" (best)" if frame.is_best else ""))
    first = frames[0].val_loss
    if frame.val_loss is not None:
        delta = None if first is None or step == frames[0].step else f"{frame.val_loss - first:+.3f} since step 0"
        m[1].metric("val loss (estimate)", f"{frame.val_loss:.3f}", delta=delta, delta_color="inverse")
    tagged = sum(1 for layer_tags in sharp.tags for tags in layer_tags if tags and tags != ["uniform"])
    m[2].metric("Heads with a clear job", f"{tagged} of {len(sharp.tags) * len(sharp.tags[0])}")
    with picture:
        page.chart(
            page.figure(
                heads.head_heatmap,
                data.patterns[layer, head],
                ctx.prompt.tokens,
                window=window,
                title=f"step {step:,} · layer {layer} · head {head} · {heads.head_job(chosen, unit)}",
                height=max(style.map_height, heads.WIDE_MAP_HEIGHT),
                max_ticks=heads.CLICKABLE_MAX,  # every character of a window that fits labelled
                fit=presenter.on(),  # the window's height, presenter.ZOOM characters each labelled
                style=style,
            ),
            name=f"timeline-step{step}-L{layer}H{head}",
            fit=True,
        )
        st.caption(
            f"Row = the {ctx.prompt.unit} doing the looking; column = the {ctx.prompt.unit} looked at."
            + controls.zoom_note(window, len(ctx.prompt.tokens), ctx.prompt.unit)
        )
    left, right = st.columns([3, 2])
    with left:
        page.chart(
            page.figure(
                heads.head_grid,
                sharp.mean_max_weight,
                title="mean max weight (1 = one-hot)",
                tags=sharp.tags,
                scale="Magma",  # as the Sharpness page draws the same number
                highlight=(layer, head),
                style=style,
            ),
            name=f"timeline-step{step}-max-weight",
        )
    with right:
        st.markdown(
            f"Layer {layer}, head {head} at step {step}: "
            + (
                "; ".join(f"**{t}**: {heads.tag_meaning(t, unit)}" for t in chosen) + "."
                if chosen
                else "no clear job yet."
            )
        )
        st.caption("Tags in the grid name what a head mostly attends to on this prompt; 1 is one-hot, 1/T uniform.")
    st.markdown(
        f"**What the model wrote at step {step}** (200 {ctx.prompt.unit}s after a newline, temperature 0.8, seed 1)"
    )
    st.code(timelines.sample(ref), language=None, wrap_lines=True)


def render() -> None:
    st.header("Timeline")
    intro = st.container()  # presenter mode: under the picture, which gets the window
    ctx = page.page_context(needs_attention=True)
    if ctx is None:
        return
    frames = timelines.frames(ctx.entry)
    if len(frames) < 2:
        _no_timeline(ctx)
        return
    steps = [f.step for f in frames]
    page.open_on_a_focused_head(ctx)
    # presenter mode: Play, the step and the map first; the head and zoom pickers under them
    first, second = st.container(), st.container()
    slot, pickers = (first, second) if presenter.on() else (second, first)
    with pickers if presenter.on() else intro:
        st.caption(
            "The same prompt through the model at the steps its training saved. At step 0 every head spreads its "
            "attention almost evenly; press Play and watch heads find a job and the softmax sharpen as the loss falls."
        )
    with pickers:
        layer, head, _ = controls.layer_head_picker(ctx.config.n_layer, ctx.config.n_head)
        window = controls.window_picker(len(ctx.prompt.ids), unit=ctx.prompt.unit)
    playing = bool(st.session_state.get(PLAYING))

    st.session_state[_TICKED] = False

    def body():
        ss = st.session_state
        if playing and ss.get(PLAYING) and ss.get(_TICKED):  # a tick of the timer, not the page's own run
            at = steps.index(ss.get("tl_step", steps[0]))
            if at + 1 < len(steps):
                ss["tl_step"] = steps[at + 1]
            else:
                ss[PLAYING] = False  # the end of training: stop there, and stop the timer with a full run
                st.rerun()
        ss[_TICKED] = True
        top, more, picture = presenter.stage()
        step = _step_picker(steps, top)
        with more:
            page.chart(
                page.figure(figs.loss_by_step, steps, [f.val_loss for f in frames], step, style=page.figure_style()),
                name="timeline-val-loss",
            )
        _frame(ctx, frames, step, layer, head, window, more, picture)

    with slot:  # its own reruns keep the state and write the link
        page.fragment(body, run_every=PLAY_EVERY_S if playing else None)


if __name__ == "__main__":  # Streamlit runs a page file as __main__; tests import its STATE
    page.run(render, STATE)
