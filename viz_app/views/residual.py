"""Residual stream: how big the stream grows, what each sublayer writes, what each layer would predict."""

from __future__ import annotations

import numpy as np
import streamlit as st

from viz_app import export, figures, session, state, ui


def _norms(ctx: ui.PageContext, data: state.ResidualData) -> None:
    chars = ctx.prompt.text
    st.subheader("The residual stream at every point")
    tabs = st.tabs(["Heatmap", "Lines"])
    with tabs[0]:
        ui.chart(
            figures.position_heatmap(data.labels, data.norms, chars, title="‖x‖ per position", style=ui.figure_style())
        )
    with tabs[1]:
        ui.chart(
            figures.position_lines(data.labels, data.norms, chars, title="‖x‖ per position", style=ui.figure_style())
        )
    st.caption(
        "‖x‖ is the L2 norm of the residual vector: after the embeddings, then after each block's "
        "attention (+attn) and feed-forward (+mlp) have added their output to it."
    )


def _writes(ctx: ui.PageContext, data: state.ResidualData) -> None:
    st.subheader("What each sublayer writes")
    left, right = st.columns([3, 2])
    with left:
        ui.chart(
            figures.position_heatmap(
                data.sublayer_labels,
                data.sublayer_norms,
                ctx.prompt.text,
                title="‖sublayer output‖ per position",
                style=ui.figure_style(),
            )
        )
    with right:
        ui.chart(
            figures.mean_bars(
                data.sublayer_labels,
                data.sublayer_norms,
                title="mean over positions (± std): attention blue, MLP red",
                style=ui.figure_style(),
            )
        )


def _lens(ctx: ui.PageContext, data: state.ResidualData) -> None:
    st.subheader("Logit lens: what each point would predict")
    chars = ctx.prompt.text
    labels = figures.position_labels(chars)
    positions = list(range(len(chars)))
    session.clamp_choice("lens_pos", positions, default=positions[-1])
    if len(positions) > 1:
        pos = st.select_slider("Position", positions, key="lens_pos", format_func=labels.__getitem__)
    else:
        pos = 0
    next_id = ctx.prompt.ids[pos + 1] if pos + 1 < len(ctx.prompt.ids) else None
    top = state.lens_top(data, pos, next_id)
    ui.chart(
        figures.logit_lens(
            data.labels, top.chars, top.probs, target=top.target, target_probs=top.target_probs, style=ui.figure_style()
        )
    )
    what = f"the real next character is `{figures.visible_char(top.target)}`" if top.target else "the prompt ends here"
    st.caption(
        f"Each point's residual is passed through the final LayerNorm and the output head, as if the "
        f"model stopped there. At `{labels[pos]}` {what}. The last row is the model's own prediction."
    )


def render() -> None:
    st.header("Residual stream")
    ctx = ui.page_context()
    if ctx is None:
        return
    if not state.has_attention(ctx.ckpt):
        st.info(
            f"**{ctx.entry.label}** is a bigram model: a table lookup with no blocks and no residual stream. "
            "Pick a GPT checkpoint in the sidebar.",
            icon=":material/info:",
        )
        return
    scale = ui.scale_switch(ctx.ckpt)
    data = state.residual_data(ctx.key, ctx.prompt.ids, scale)
    _norms(ctx, data)
    _writes(ctx, data)
    _lens(ctx, data)
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


ui.run_page(render)
