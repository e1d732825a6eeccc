"""Residual stream: how big the stream grows, what each sublayer writes, what each layer would predict."""

from __future__ import annotations

import numpy as np
import streamlit as st

from nanogpt import metrics
from viz_app import compare_section, controls, export, page, presenter
from viz_app.backend import captures
from viz_app.figures import compare as compare_figs
from viz_app.figures import kit
from viz_app.figures import residual as figs
from viz_app.url_state import Key

STATE = (Key("lens_pos", lo=0),)  # the logit lens' position: opens on the prompt's last character


def _norms(ctx: page.PageContext, data: captures.ResidualData, scale: str, picture) -> None:
    """The norms as a heatmap and as lines; presenter mode projects the heatmap alone, in `picture`."""
    chars = ctx.prompt.tokens
    # projected, the prompt's last characters that fit across, each labelled (all 117 would be every other one)
    n = len(chars)
    window = (max(0, n - presenter.STRIP), n) if presenter.on() else None

    def heatmap() -> None:
        page.chart(
            page.figure(
                figs.position_heatmap,
                data.labels,
                data.norms,
                chars,
                title="‖x‖ per position",
                window=window,
                max_ticks=presenter.STRIP,
                style=page.figure_style(),
            ),
            name=f"residual-norms-{scale}",
            fit=True,
        )

    st.subheader("The residual stream at every point")
    if presenter.on():
        with picture:
            heatmap()
        tabs = [None, st.container()]
    else:
        tabs = st.tabs(["Heatmap", "Lines"])
        with tabs[0]:
            heatmap()
    with tabs[1]:
        page.chart(
            page.figure(
                figs.position_lines,
                data.labels,
                data.norms,
                chars,
                title="‖x‖ at every position, one line per point",
                style=page.figure_style(),
            ),
            name=f"residual-norm-lines-{scale}",
        )
    st.caption(
        "‖x‖ is the L2 norm of the residual vector: after the embeddings, then after each block's "
        "attention (+attn) and feed-forward (+mlp) have added their output to it."
        + (
            f" The heatmap shows {ctx.prompt.unit}s {window[0]}–{n - 1} of {n}, the last that fit across."
            if window and window[0]
            else ""
        )
    )


def _compare_section(ctx: page.PageContext, data: captures.ResidualData, scale: str) -> None:
    cmp = compare_section.section(ctx, "how training grew the stream")
    if cmp is None:
        return
    other = captures.residual_data(cmp.ref, cmp.pairing.prompt_b.ids, scale)
    labels = data.labels if len(data.labels) >= len(other.labels) else other.labels
    page.chart(
        page.figure(
            compare_figs.mean_norms,
            labels,
            {ctx.entry.label: data.norms, cmp.entry.label: other.norms},
            style=page.figure_style(),
        ),  # fmt: skip
        name=f"residual-compare-norms-{scale}",
    )
    st.caption("The mean norm of the residual stream at every point of both models, over the prompt's positions.")


def _writes(ctx: page.PageContext, data: captures.ResidualData, scale: str) -> None:
    st.subheader("What each sublayer writes")
    left, right = st.columns([3, 2])
    with left:
        page.chart(
            page.figure(
                figs.position_heatmap,
                data.sublayer_labels,
                data.sublayer_norms,
                ctx.prompt.tokens,
                title="‖sublayer output‖ per position",
                max_ticks=30,  # three fifths of the page
                style=page.figure_style(),
            ),
            name=f"residual-writes-{scale}",
        )
    with right:
        page.chart(
            page.figure(
                figs.mean_bars,
                data.sublayer_labels,
                data.sublayer_norms,
                title="mean over positions (± std)",
                style=page.figure_style(),
            ),
            name=f"residual-writes-mean-{scale}",
        )
    st.caption(
        "Attention sublayers in blue, feed-forward (MLP) sublayers in red. A tall bar writes a lot into the stream."
    )


def _lens(ctx: page.PageContext, data: captures.ResidualData, scale: str) -> None:
    st.subheader("Logit lens: what each point would predict")
    chars = ctx.prompt.tokens
    labels = kit.position_labels(chars)
    positions = list(range(len(chars)))
    if len(positions) > 1:
        pos = controls.slider_choice(
            "Position", positions, key="lens_pos", default=positions[-1], format_func=labels.__getitem__
        )
    else:
        pos = 0
    next_id = ctx.prompt.ids[pos + 1] if pos + 1 < len(ctx.prompt.ids) else None
    top = metrics.lens_top_of(data.lens_ids[:, pos], data.lens_probs[:, pos], data.lens_target[:, pos], data.vocab,
                              next_id)  # fmt: skip
    page.chart(
        page.figure(
            figs.logit_lens,
            data.labels,
            top.chars,
            top.probs,
            target=top.target,
            target_probs=top.target_probs,
            style=page.figure_style(),
        ),
        name=f"residual-logit-lens-pos{pos}-{scale}",
    )
    unit = ctx.prompt.unit
    what = f"the real next {unit} is `{kit.visible_char(top.target)}`" if top.target else "the prompt ends here"
    st.caption(
        f"Each point's residual is passed through the final LayerNorm and the output head, as if the "
        f"model stopped there. At `{labels[pos]}` {what}. The last row is the model's own prediction."
    )


def render() -> None:
    st.header("Residual stream")
    ctx = page.page_context()
    if ctx is None:
        return
    if not captures.has_attention(ctx.ckpt):
        st.info(
            f"**{ctx.entry.label}** is a bigram model: a table lookup with no blocks and no residual stream. "
            "Pick a GPT checkpoint in the sidebar.",
            icon=":material/info:",
        )
        return
    # presenter mode: the heatmap right under the title, the scale switch and the rest below it
    top, more, picture = presenter.stage()
    with more:
        scale = controls.scale_switch(ctx.ckpt)
    data = captures.residual_data(ctx.ref, ctx.prompt.ids, scale)
    with more:
        _norms(ctx, data, scale, picture)
    _compare_section(ctx, data, scale)
    _writes(ctx, data, scale)
    _lens(ctx, data, scale)
    with st.expander("Download the numbers (NPZ / CSV)", icon=":material/download:"):
        export.download_buttons(
            f"residual-{scale}",
            {
                "norms": export.Named(data.norms, ("point", "position")),
                "points": export.Named(np.array(data.labels), ("point",)),
                "sublayer_norms": export.Named(data.sublayer_norms, ("sublayer", "position")),
                "sublayers": export.Named(np.array(data.sublayer_labels), ("sublayer",)),
            },
            key="resid_export",
        )


if __name__ == "__main__":  # Streamlit runs a page file as __main__; tests import its STATE
    page.run(render, STATE)
