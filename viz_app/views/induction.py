"""Induction heads: does the model copy what it has seen before in its context?"""

from __future__ import annotations

import streamlit as st

from nanogpt.induction import COPY_GAIN, SCORE_THRESHOLD, default_length, uniform_score
from viz_app import controls, page, presenter, sidebar
from viz_app.backend import captures, inductions, registry
from viz_app.figures import heads
from viz_app.figures import induction as figs
from viz_app.pages import PAGES
from viz_app.url_state import Key


def probe_intro(unit: str) -> str:
    """The probe in words, in the model's unit ("character" | "token")."""
    return (
        f"The probe: a sequence of distinct random {unit}s, then the same sequence again. Nothing in the first copy "
        "can be guessed, but a model that reads its context can predict the whole second copy: an induction head at "
        f"a {unit} of the second copy looks at the {unit} that came after the same {unit} last time, and copies it."
    )


SEEDS = tuple(range(5))
STATE = (
    Key("ind_len", lo=2, url="changed", follows=("model",)),  # opens on the longest the model allows
    Key("ind_seed", 0, choices=SEEDS, url="changed"),
    Key("ind_head", "", url="changed", follows=("model", "ind_len", "ind_seed")),  # "": the top induction head
)


def lengths(longest: int) -> list[int]:
    """The copy lengths offered: a few round ones up to the longest the context and vocabulary allow."""
    return sorted({n for n in (8, 16, 24, 32, 48, 64, 96, 128) if n < longest} | {longest})


def _pick_on_click(chart_key: str):
    def take() -> None:
        data = (controls.selected_point(chart_key) or {}).get("customdata")
        if isinstance(data, (list, tuple)) and len(data) >= 2:
            st.session_state["ind_head"] = f"L{int(data[0])}H{int(data[1])}"

    return take


def _shown_head(probe: inductions.Probe) -> tuple[int, int]:
    """The head whose map is drawn: the one clicked, else the one with the highest induction score."""
    picked = st.session_state.get("ind_head", "")
    L, H = probe.scores.shape
    if picked.startswith("L") and "H" in picked:
        layer, _, head = picked[1:].partition("H")
        if layer.isdigit() and head.isdigit() and int(layer) < L and int(head) < H:
            return int(layer), int(head)
    best = int(probe.scores.argmax())
    return best // H, best % H


def _offer_a_model_that_copies(ctx: page.PageContext) -> None:
    """The page's own model (pages.PageInfo.model) learned induction heads: offer it beside a model that did not."""
    own = PAGES["induction"].model
    if own == ctx.entry.label or not any(e.label == own for e in registry.shipped_models()):
        return
    st.caption(
        f"**{own}**, shipped beside it, did learn them: the same architecture trained on Python's own source code, "
        "where a name defined once is used again a few lines later, so copying from the context pays."
    )
    if st.button(f"Show {own}", key="ind_open_copying_model", icon=":material/content_copy:"):
        sidebar.select_model(own)
        st.rerun()


def render() -> None:
    st.header("Induction heads")
    intro = st.container()  # presenter mode: under the picture, which gets the window
    ctx = page.page_context(needs_attention=True)
    if ctx is None:  # no model to probe (none, or a bigram's table): the lecture's characters
        with intro:
            st.caption(probe_intro("character"))
        return
    cfg = ctx.config
    bos = getattr(ctx.ckpt.tokenizer, "bos", None)  # nanochat: the probe runs after <|bos|>, one position less
    low, high = ctx.ckpt.tokenizer.probe_ids()
    # the probe's two copies are positions a page captures: at most CAPTURE_POSITIONS of them
    longest = min(default_length(cfg.block_size - (bos is not None), high - low), captures.CAPTURE_POSITIONS // 2)
    # presenter mode: the probe's pickers in one row, the two grids under it, the losses below them
    top, more, picture = presenter.stage()
    unit = ctx.prompt.unit
    with more if presenter.on() else intro:
        st.caption(probe_intro(unit))
    with top:
        n = controls.slider_choice(
            f"{unit.capitalize()}s per copy", lengths(longest), key="ind_len", default=longest, width=320
        )
        seed = controls.choice("Random sequence", SEEDS, key="ind_seed")
    probe = inductions.probe(ctx.ref, n, seed)
    if probe.bos:
        st.caption(f"The probe runs after `{bos}`, as every text this model was trained on began; the maps and "
                   "losses below are of the two copies.")  # fmt: skip
    style = page.figure_style()
    ablated = ", ".join(f"L{l}H{h}" for l, h in probe.ablated_heads)
    with more:
        a, b, c = st.columns(3)
        a.metric("loss on the first copy", f"{probe.loss_first:.2f}")
        b.metric("loss on the second copy", f"{probe.loss_second:.2f}",
                 f"{probe.loss_second - probe.loss_first:+.2f}", delta_color="inverse")  # fmt: skip
        c.metric(f"second copy with {ablated} zeroed", f"{probe.ablated_loss_second:.2f}",
                 f"{probe.ablated_loss_second - probe.loss_second:+.2f}", delta_color="inverse")  # fmt: skip
        best = float(probe.scores.max())
        gain = probe.loss_first - probe.loss_second  # how much easier the second copy is
        if best < SCORE_THRESHOLD and gain >= COPY_GAIN:
            top_layer, top_head = divmod(int(probe.scores.argmax()), probe.scores.shape[1])
            st.info(
                f"**L{top_layer}H{top_head}** is an induction head, a partial one: it puts {best:.2f} of its weight "
                f"on the induction target ({best / uniform_score(n):.0f} times what an even spread puts there; "
                f"ARENA's detector asks for {SCORE_THRESHOLD}), and the second copy is {gain:.1f} nats easier "
                "than the first. Zeroing "
                f"{ablated} costs the second copy {probe.ablated_loss_second - probe.loss_second:+.1f} nats: the "
                "copying goes with it.",
                icon=":material/content_copy:",
            )
        elif best < SCORE_THRESHOLD:
            st.info(
                f"No head of **{ctx.entry.label}** attends to the induction target (the best score is {best:.2f}; an "
                f"induction head scores above {SCORE_THRESHOLD}). It has not learned to copy from its context: the "
                "second copy is no easier for it than the first.",
                icon=":material/search_off:",
            )
            _offer_a_model_that_copies(ctx)
    layer, head = _shown_head(probe)
    with picture:
        left, right = st.columns(2)
    with left:
        key = "ind_grid"
        page.chart(
            page.figure(
                heads.head_grid,
                probe.scores,
                title="Induction score",
                highlight=(layer, head),
                clickable=True,
                style=style,
            ),  # fmt: skip
            name=f"induction-scores-n{n}-s{seed}",
            fit=True,
            key=key,
            on_select=page.guarded(_pick_on_click(key)),
            selection_mode="points",
        )
    with right:
        page.chart(
            page.figure(
                heads.head_grid,
                probe.prev_scores,
                title="Previous-token score",
                scale="Magma",
                highlight=(layer, head),
                style=style,
            ),  # fmt: skip
            name=f"induction-prev-n{n}-s{seed}",
            fit=True,
        )
    st.caption(
        f"Induction score: the mean weight a head puts, from each {unit} of the second copy, on the {unit} "
        f"after that {unit}'s first occurrence. Previous-token score: the mean weight on the {unit} just "
        "before. An induction head needs a previous-token head in an earlier layer: it finds its key by what came "
        "before it. Click a head to see its map."
    )
    page.chart(
        page.figure(
            figs.copy_losses,
            probe.per_position_loss,
            probe.n,
            ablated=probe.ablated_per_position_loss,
            ablated_label=f"{ablated} zeroed",
            unit=unit,
            style=style,
        ),  # fmt: skip
        name=f"induction-loss-n{n}-s{seed}",
    )
    page.chart(
        page.figure(
            heads.head_heatmap,
            probe.patterns[layer, head],
            probe.text,
            title=f"Layer {layer} · head {head} on the probe (score {probe.scores[layer, head]:.2f})",
            style=style,
        ),
        name=f"induction-map-L{layer}H{head}-n{n}-s{seed}",
    )
    st.caption(
        f"An induction head draws a stripe in the lower half: from {unit} {n} + i it looks at {unit} i + 1, "
        f"a diagonal {n - 1} cells left of the main one."
    )
    history = inductions.over_training(ctx.entry, n, seed)
    if history is not None:
        page.chart(
            page.figure(figs.scores_over_training, history.steps, history.scores, style=style),
            name=f"induction-timeline-n{n}-s{seed}",
        )
        st.caption(
            "The same probe on the model as its training saved it: "
            + ", ".join(
                f"step {s}: second copy {ls:.2f} (first {lf:.2f})"
                for s, lf, ls in zip(history.steps, history.loss_first, history.loss_second, strict=True)
            )
            + "."
        )


if __name__ == "__main__":  # Streamlit runs a page file as __main__; tests import its STATE
    page.run(render, STATE)
