"""The "Beside another model" section of Attention, Sharpness and Residual: its picker (the model
untrained, a step of its timeline, or another model), the notices two models of other sizes or
vocabularies deserve, and the per-head change grids. Each page draws its own figures below it."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from nanogpt.checkpoint import Checkpoint

from . import controls, page
from .backend import captures, comparisons, registry
from .figures import compare as compare_figs

CHANGES = {  # HeadChanges field -> the change grid's title and unit
    "entropy": ("change in mean entropy (nats)", "nats"),
    "max_weight": ("change in mean max weight", "weight"),
}


@dataclass
class Compared:
    """The second model a page shows beside the first, on the same prompt."""

    entry: registry.ModelEntry
    ref: registry.ModelRef
    ckpt: Checkpoint
    pairing: comparisons.Pairing
    # the second model is the first earlier in its training (untrained, a step of its timeline):
    # differences then read later minus earlier, "what training changed", not the other way round
    earlier: bool = False


def picker(ctx: page.PageContext) -> Compared | None:
    """ "Compare with" (the shared `cmp` key, kept in the link); None for nothing, or after a notice."""
    entries = registry.run_models()
    options = {"": "nothing", **{c.value: c.label for c in comparisons.choices(ctx.entry, entries)}}
    value = controls.dropdown(
        "Compare with",
        options,
        key="cmp",
        default="",
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
    loaded = page.load(entry, " to compare with")
    if loaded is None:
        return None
    ref, ckpt = loaded
    if not captures.has_attention(ckpt):
        st.info(f"{entry.label} is a bigram table: it has no attention to compare.", icon=":material/info:")
        return None
    # the second model reads the sidebar's text through its own vocabulary and context
    pairing = comparisons.pair(ctx.ckpt, ctx.prompt, ckpt, st.session_state.get("prompt", ""), entry.label)
    for notice in pairing.notices:
        st.info(notice, icon=":material/compare_arrows:")
    earlier = value == comparisons.UNTRAINED or value.startswith(comparisons.STEP_PREFIX)
    return Compared(entry, ref, ckpt, pairing, earlier)


def minus(ctx: page.PageContext, cmp: Compared) -> tuple[str, str]:
    """(from, taken away) of every difference the section shows: later minus earlier in training,
    otherwise the second model minus the first."""
    return (ctx.entry.label, cmp.entry.label) if cmp.earlier else (cmp.entry.label, ctx.entry.label)


def section(ctx: page.PageContext, shows: str) -> Compared | None:
    """The section's heading and picker; without a second model, a caption saying what it `shows`."""
    st.subheader("Beside another model")
    cmp = picker(ctx)
    if cmp is None:
        st.caption(f"Pick a second model above, for example this one untrained, to see {shows}.")
    return cmp


def head_changes(ctx: page.PageContext, cmp: Compared, scale: str) -> comparisons.HeadChanges:
    """For every head both have, mean entropy and mean max weight, (L, H), as minus() says: later
    minus earlier in training, otherwise second minus first."""
    a = captures.sharpness(ctx.ref, ctx.prompt.ids, scale)
    b = captures.sharpness(cmp.ref, cmp.pairing.prompt_b.ids, scale)
    if cmp.earlier:
        a, b = b, a
    return comparisons.head_changes(a, b, cmp.pairing.n_layer, cmp.pairing.n_head)


def change_chart(changes: comparisons.HeadChanges, what: str, *, name: str) -> None:
    """One change grid: `what` is a field of HeadChanges (CHANGES)."""
    title, unit = CHANGES[what]
    style = page.figure_style()
    page.chart(
        page.figure(compare_figs.change_grid, getattr(changes, what), title=title, unit=unit, style=style), name=name
    )
