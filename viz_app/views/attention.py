"""Attention: every head's pattern, the 1/sqrt(d_k) switch side by side, and how one score is built."""

from __future__ import annotations

import streamlit as st

from nanogpt.config import ATTN_SCALES
from viz_app import export, page, url_state
from viz_app.backend import captures
from viz_app.figures import attention as figs
from viz_app.figures import kit

VIEW_LABELS = {"head": "One head", "layer": "Every head of the layer", "model": "Every layer × head"}
VALUE_LABELS = {"weights": "weights (after softmax)", "scores": "scores (before softmax)"}
_CLICK = "_applied_click"  # the last heatmap click already copied into the pickers


def _take_click(event) -> None:
    """A click on the one-head heatmap picks the (query, key) cell explained below."""
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if not points:
        return
    point = points[0]
    cell = (str(point.get("y")), str(point.get("x")))
    if st.session_state.get(_CLICK) == cell:
        return  # the same selection comes back on every rerun; apply it once
    st.session_state[_CLICK] = cell
    query, key_pos = (kit.position_of(label) for label in cell)
    if query is not None and key_pos is not None and key_pos <= query:
        st.session_state["query_pos"] = query
        st.session_state["key_pos"] = key_pos


def _pattern_section(ctx: page.PageContext, data: captures.AttentionData, layer: int, head: int, window) -> None:
    chars = ctx.prompt.text
    url_state.clamp_choice("view", url_state.VIEWS)
    cols = st.columns([3, 2])
    with cols[0]:
        view = page.choice("Show", url_state.VIEWS, key="view", format_func=VIEW_LABELS.get)
    with cols[1]:
        url_state.clamp_choice("values", url_state.VALUES)
        values = page.choice(
            "Values",
            url_state.VALUES,
            key="values",
            format_func=VALUE_LABELS.get,
            disabled=view == "model",
            help="Scores are q·k × scale with the future masked; softmax of each row gives the weights.",
        )
    matrices = data.patterns if values == "weights" else data.scores
    if view == "head":
        fig = figs.head_heatmap(
            matrices[layer, head],
            chars,
            window=window,
            kind=values,
            title=f"layer {layer} · head {head} · {kit.SCALE_LABELS[data.scale]}",
            clickable=True,
            style=page.figure_style(),
        )
        event = page.chart(fig, key=f"head_map_{layer}_{head}_{values}", on_select="rerun", selection_mode="points")
        _take_click(event)
        how = (
            "Click a cell to see how its score is built below."
            if window[1] - window[0] <= figs.CLICKABLE_MAX
            else f"Zoom to {figs.CLICKABLE_MAX} characters or fewer to pick a cell by clicking, or use the sliders."
        )
        st.caption(
            "Row = the character doing the looking (query); column = the character looked at (key). "
            "The upper triangle is the future, masked. " + how
        )
    elif view == "layer":
        page.chart(
            figs.layer_heatmaps(
                matrices[layer], chars, layer=layer, window=window, kind=values, style=page.figure_style()
            )
        )
        if values == "weights":
            st.caption("Weights as whole percentages. Hover a cell for its query and key.")
    else:
        page.chart(figs.model_grid(data.patterns, chars, window=window, style=page.figure_style()))
        factor = figs.grid_pool_factor(window[1] - window[0])
        note = (
            f" Each cell is the largest weight in a {factor}×{factor} block; zoom in to see every character."
            if factor > 1
            else ""
        )
        st.caption("Every head's weights, layers down, heads across, in whole percentages." + note)


def _default_compare(scale: str, trained: str) -> str:
    return trained if trained != scale else next(s for s in ATTN_SCALES if s != scale)


def _scale_section(ctx: page.PageContext, layer: int, head: int, scale: str, window) -> None:
    st.subheader("The scale switch, side by side")
    others = [s for s in ATTN_SCALES if s != scale]
    url_state.clamp_choice("compare_scale", others, default=_default_compare(scale, ctx.config.attn_scale))
    compare = st.radio(
        "Compare with",
        others,
        key="compare_scale",
        horizontal=True,
        format_func=lambda s: page.scale_label(s, ctx.ckpt),
    )
    ids = ctx.prompt.ids
    sharp = {s: captures.sharpness(ctx.model_id, ids, s) for s in (scale, compare)}
    cols = st.columns(2)
    for col, setting, other in ((cols[0], scale, compare), (cols[1], compare, scale)):
        with col:
            data = captures.attention_data(ctx.model_id, ids, setting)
            ent = float(sharp[setting].mean_entropy[layer, head])
            peak = float(sharp[setting].mean_max_weight[layer, head])
            ent_other = float(sharp[other].mean_entropy[layer, head])
            peak_other = float(sharp[other].mean_max_weight[layer, head])
            m1, m2 = st.columns(2)
            m1.metric(
                f"Mean entropy · {kit.SCALE_LABELS[setting]}",
                f"{ent:.3f} nats",
                delta=f"{ent - ent_other:+.3f} vs {kit.SCALE_LABELS[other]}",
                delta_color="off",
            )
            m2.metric(
                f"Mean max weight · {kit.SCALE_LABELS[setting]}",
                f"{peak:.3f}",
                delta=f"{peak - peak_other:+.3f}",
                delta_color="off",
            )
            page.chart(
                figs.head_heatmap(
                    data.patterns[layer, head],
                    ctx.prompt.text,
                    window=window,
                    height=420,
                    max_ticks=32,
                    title=page.scale_label(setting, ctx.ckpt),
                    style=page.figure_style(),
                )
            )
    st.caption(
        "Entropy is in nats, averaged over query rows 1 onwards (row 0 sees one key). A larger scale "
        "spreads the scores, the softmax turns one-hot, entropy falls and the max weight climbs to 1."
    )


def _score_section(ctx: page.PageContext, data: captures.AttentionData, layer: int, head: int, window) -> None:
    st.subheader("How one score is built")
    chars = ctx.prompt.text
    labels = kit.position_labels(chars)
    start, stop = window
    queries = list(range(start, stop))
    url_state.clamp_choice("query_pos", queries, default=stop - 1)
    cols = st.columns(2)
    with cols[0]:
        query = st.select_slider(
            "Query (the character looking)", queries, key="query_pos", format_func=labels.__getitem__
        )
    visible = list(range(0, query + 1))  # the key positions this query may attend to
    best = int(data.patterns[layer, head, query, : query + 1].argmax())
    url_state.clamp_choice("key_pos", visible, default=best)
    with cols[1]:
        if len(visible) > 1:
            key_pos = st.select_slider(
                "Key (the character looked at)", visible, key="key_pos", format_func=labels.__getitem__
            )
        else:
            key_pos = 0
            st.caption(f"Key: {labels[0]} (the first query sees only itself)")
    b = captures.score_breakdown(data, layer, head, query, key_pos)
    st.markdown(
        f"q·k = Σ (q ⊙ k) over {len(b.q)} dims = **{b.dot:.3f}** · × scale **{b.scale:.4g}** "
        f"= score **{b.score:.3f}** · softmax over the {query + 1} keys query `{labels[query]}` may see "
        f"→ weight **{b.weight:.3f}** on key `{labels[key_pos]}`"
    )
    left, right = st.columns(2)
    with left:
        page.chart(figs.score_parts(b.q, b.k, b.product, style=page.figure_style()))
    with right:
        page.chart(figs.softmax_row(b.row_scores, b.row_weights, chars, picked=key_pos, style=page.figure_style()))


def _export(ctx: page.PageContext, data: captures.AttentionData, layer: int, head: int) -> None:
    sharp = captures.sharpness(ctx.model_id, ctx.prompt.ids, data.scale)
    with st.expander("Download the numbers (NPZ / CSV)", icon=":material/download:"):
        st.caption(f"Layer {layer} · head {head} under {kit.SCALE_LABELS[data.scale]}:")
        export.download_buttons(
            f"attention-L{layer}H{head}-{data.scale}",
            {
                "scores": export.Named(data.scores[layer, head], ("query", "key")),
                "weights": export.Named(data.patterns[layer, head], ("query", "key")),
                "entropy": export.Named(sharp.entropy[layer, head], ("query",)),
            },
            key="attn_export_head",
        )
        st.caption("Every layer and head:")
        export.download_buttons(
            f"attention-all-{data.scale}",
            {
                "scores": export.Named(data.scores, ("layer", "head", "query", "key")),
                "weights": export.Named(data.patterns, ("layer", "head", "query", "key")),
                "entropy": export.Named(sharp.entropy, ("layer", "head", "query")),
            },
            key="attn_export_all",
        )


def render() -> None:
    st.header("Attention")
    ctx = page.page_context(needs_attention=True)
    if ctx is None:
        return
    cfg = ctx.config
    layer, head, scale = page.model_controls(ctx.ckpt)
    n = len(ctx.prompt.ids)
    window = page.window_picker(n)
    st.caption(f"Reading {n} characters · {cfg.n_layer} layers × {cfg.n_head} heads, head size {cfg.head_size}.")
    data = captures.attention_data(ctx.model_id, ctx.prompt.ids, scale)
    _pattern_section(ctx, data, layer, head, window)
    _scale_section(ctx, layer, head, scale, window)
    _score_section(ctx, data, layer, head, window)
    _export(ctx, data, layer, head)


page.guard(render)
