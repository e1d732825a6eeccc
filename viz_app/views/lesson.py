"""Lesson: the lecture's path from the bigram table to the scaled-up GPT, one step at a time, each with
its measured val loss from the ablation results, its sample text and a link to the view that shows it."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import NamedTuple

import streamlit as st

from nanogpt import metrics
from viz_app import a11y, classroom, controls, page, url_state
from viz_app.backend import ablation_results, captures, registry
from viz_app.lesson_steps import STEPS, Link, Step
from viz_app.pages import state_of
from viz_app.url_state import Key

NOT_AVAILABLE = "n/a"
# the step the class is at: Previous / Next (a presenter's clicker presses them) move it, and the page
# scrolls to it; a class follows it like any other state of the teacher's view
STATE = (Key("lesson_step", 1, choices=tuple(range(1, len(STEPS) + 1)), url="changed"),)
_SHOWN = "_lesson_shown"  # the step the page last scrolled to


def _loss(results: dict | None, variant: str | None) -> float | None:
    record = (results or {}).get("variants", {}).get(variant) if variant else None
    value = record.get("val_loss") if record else None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _fmt(value: float | None) -> str:
    return NOT_AVAILABLE if value is None else f"{value:.3f}"


def _link_context() -> dict[str, str]:
    """What a link carries besides its own view: a shipped model (others live only in this session), the prompt."""
    extra = {}
    label = st.session_state.get("model")
    if label and any(e.label == label for e in registry.shipped_models()):
        extra["model"] = label
    prompt = st.session_state.get("prompt", url_state.DEFAULT_PROMPT)
    if prompt and prompt != url_state.DEFAULT_PROMPT:
        extra["prompt"] = prompt[-url_state.MAX_URL_PROMPT :]
    return extra


def _open_here(link: Link, window) -> None:
    """The view the link describes, in this tab and this session (keeps an uploaded model): a link,
    not st.switch_page, whose query is exactly what its page will write (url_state.link, the zoom
    window the page would open on), so the browser's Back returns to the Lesson in one step."""
    keys = state_of(link.page)
    query = url_state.link(link.page, keys, **url_state.parse_link(link.params, keys), window=window)
    st.page_link(link.script, label="Open here", help="Open this view in this tab", query_params=query)


def _numbers(step: Step, results: dict | None) -> None:
    with_loss, without_loss = _loss(results, step.with_variant), _loss(results, step.without_variant)
    cols = st.columns(3)
    if step.without_variant:
        cols[0].metric(f"without it · `{step.without_variant}`", _fmt(without_loss), help="val loss, lower is better")
    if step.with_variant:
        delta = with_loss - without_loss if with_loss is not None and without_loss is not None else None
        cols[1].metric(
            f"with it · `{step.with_variant}`",
            _fmt(with_loss),
            delta=None if delta is None else f"{delta:+.3f}",
            delta_color="inverse",
            help="val loss, lower is better; the change is against the model without this piece",
        )
    cols[2].metric("in the lecture", step.lecture_loss or NOT_AVAILABLE, help="the val loss the video reports")
    # what the models are, in a caption: in a metric's one-line label it was cut off at a third of the page
    what = [f"`{step.with_variant}` is {step.with_what}"] if step.with_what else []
    what += [f"the lecture's number is {step.lecture_what}"] if step.lecture_what else []
    if what:
        st.caption("Read these side by side with care: " + "; ".join(what) + ".")
    for variant in step.extra_variants:
        value = _loss(results, variant)
        st.caption(
            f"Also measured: `{variant}` ({ablation_results.VARIANT_NOTES.get(variant, '')}): val loss {_fmt(value)}."
        )
    wanted = [v for v in (step.without_variant, step.with_variant, *step.extra_variants) if v]
    missing = [v for v in wanted if _loss(results, v) is None]
    if results is not None and missing:
        st.caption(
            "Not available: " + ", ".join(f"`{v}`" for v in missing)
            + (" is" if len(missing) == 1 else " are") + " not in these ablation results "
            "(add it with `python -m nanogpt ablate --variants ...`, or train it live on the Ablations page)."
        )  # fmt: skip
    if step.note:
        st.caption(step.note)


def _samples(step: Step, results: dict | None) -> None:
    variants = [v for v in (step.without_variant, step.with_variant) if v]
    records = [(v, (results or {}).get("variants", {}).get(v)) for v in variants]
    records = [(v, r) for v, r in records if r is not None]
    if not records:
        return
    with st.expander("What the model writes" + (" without and with it" if len(records) > 1 else "")):
        for col, (variant, record) in zip(st.columns(len(records)), records, strict=True):
            with col:
                st.caption(f"`{variant}` · val loss {_fmt(_loss(results, variant))}")
                st.code(record["sample"], language="text", wrap_lines=True)


class Focus(NamedTuple):
    """Where the sidebar model's attention is clearest on the prompt: what "one head" and "a layer" links open."""

    head: tuple[int, int]  # its most focused (layer, head)
    layer: int  # the layer with the most heads that have a job (tagged, not uniform)


def _clearest_layer(tags: list[list[list[str]]], entropy) -> int:
    """The layer whose heads most often have a clear job; a tie goes to the lower mean entropy."""

    def rank(layer: int) -> tuple[int, float]:
        with_a_job = sum(1 for t in tags[layer] if t and t != ["uniform"])
        return -with_a_job, float(sum(entropy[layer]) / len(entropy[layer]))

    return min(range(len(tags)), key=rank)


def _focus(ctx: page.PageContext | None) -> Focus | None:
    """The sidebar model's focus on the prompt, for the links that show one head or one layer."""
    if ctx is None or not captures.has_attention(ctx.ckpt):
        return None
    sharp = captures.sharpness(ctx.ref, ctx.prompt.ids, ctx.config.attn_scale)
    head = metrics.focused_head(sharp.mean_normalized_entropy, sharp.tags)
    return Focus(head, _clearest_layer(sharp.tags, sharp.mean_normalized_entropy.tolist()))


def _with_head(link: Link, focus: Focus | None) -> Link:
    if focus is None:
        return link
    if link.focused_head:
        layer, head = focus.head
        label = f"{link.label} (layer {layer} · head {head}, this model's most focused head on your prompt)"
        return replace(link, label=label, params={**link.params, "layer": str(layer), "head": str(head)})
    if link.clearest_layer:
        label = f"{link.label} (layer {focus.layer}, where this model's heads have the clearest jobs on your prompt)"
        return replace(link, label=label, params={**link.params, "layer": str(focus.layer)})
    return link


def _links(step: Step, extra: dict[str, str], focused: Focus | None, window) -> None:
    links = [*step.links, step.ablation_link] if step.ablation_link else list(step.links)
    links = [_with_head(link, focused) for link in links]
    for link in links:
        left, right = st.columns([4, 1])
        where = f" · in its section “{link.section}”" if link.section else ""
        left.markdown(f":material/open_in_new: [{link.label}]({link.href(extra)}){where}")
        with right:
            _open_here(link, window)


def _ask(step: Step, focused) -> None:
    """A teacher leading a class puts the step's question to it; the step's first view answers it."""
    q = step.question
    if q is None or not classroom.teaching():
        return
    if st.button("Ask the class", key=f"lesson_ask_{step.key}", icon=":material/quiz:", help=q.text):
        classroom.ask(q.text, q.choices, q.answer, q.explain, link=_with_head(step.links[0], focused))


def _move(by: int) -> None:
    """Previous / Next's callback: the step before or after, kept inside the lesson."""
    ss = st.session_state
    ss["lesson_step"] = min(max(int(ss.get("lesson_step") or 1) + by, 1), len(STEPS))


def _stepper() -> int:
    """Previous, where the class is, Next; the page scrolls to the step when it moves (not on other reruns)."""
    ss = st.session_state
    at = int(ss.get("lesson_step") or 1)
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        st.button("Previous step", key="lesson_prev", icon=":material/skip_previous:",
                  on_click=page.guarded(_move), args=(-1,),
                  disabled=at == 1, help="The step before (PageUp or ←)")  # fmt: skip
        st.markdown(f"**Step {at} of {len(STEPS)}:** {STEPS[at - 1].title}")
        st.button("Next step", key="lesson_next", icon=":material/skip_next:", on_click=page.guarded(_move), args=(1,),
                  disabled=at == len(STEPS), help="The step after (PageDown or →)")  # fmt: skip
    shown = ss.get(_SHOWN)
    if at != shown and (shown is not None or at != 1):
        a11y.show_section(f"lesson-step-{at}")
    ss[_SHOWN] = at
    return at


def _step(index: int, step: Step, results: dict | None, extra: dict[str, str], focused, window, current: bool) -> None:
    with st.container(border=True, key=f"lesson-step-{index}"):
        st.subheader(f"{index}. {step.title}")
        if current:  # marked in words, not by colour alone
            st.badge("current step", icon=":material/my_location:", color="blue")
        st.caption(
            f"In the lecture at {step.video_time}: [watch it on YouTube]({step.video_url}) (needs a network; "
            "everything else on this page works offline)"
        )
        _ask(step, focused)
        st.markdown(step.text)
        _numbers(step, results)
        _samples(step, results)
        _links(step, extra, focused, window)


def render() -> None:
    st.header("Lesson: the lecture's path")
    st.markdown(
        "Follow the lecture from a lookup table to a small GPT, one idea at a time. Each step says what the idea "
        "is, what it is worth in val loss (lower is better; a uniform guess over 65 characters scores about 4.17), "
        "what the model writes without it, and where to see it in this app."
    )
    active = ablation_results.active()
    results = active.results
    if results is None:
        st.info(
            "The measured numbers are not available: "
            + (ablation_results.missing_message(active.label, here=False) if active.missing else active.problem)
            + " The lecture's own numbers are shown for reference.",
            icon=":material/science:",
        )
    else:
        st.caption(
            f"Numbers from the ablation results in `{active.label}` ({ablation_results.settings_line(results)}). Each "
            "one removes a single piece from the finished model and trains it on the same budget, so compare "
            "numbers within this page, not with the lecture's longer GPU runs."
        )
    at = _stepper()
    extra = _link_context()
    ctx = page.page_context(quiet=True)
    focused = _focus(ctx)
    # the zoom window a page with a one-head map opens on, named in the links so that page writes no other
    window = st.session_state.get("window")
    window = controls.opening_window(len(ctx.prompt.ids), window) if ctx else window
    for index, step in enumerate(STEPS, start=1):
        _step(index, step, results, extra, focused, window, index == at)


if __name__ == "__main__":  # Streamlit runs a page file as __main__
    page.run(render, STATE)
