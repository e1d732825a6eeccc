"""Attention: every head's pattern, the 1/sqrt(d_k) switch side by side, and how one score is built."""

from __future__ import annotations

import streamlit as st

from nanogpt import metrics
from nanogpt.config import ATTN_SCALES
from viz_app import compare_section, controls, export, page, presenter
from viz_app.backend import captures
from viz_app.figures import attention as figs
from viz_app.figures import compare as compare_figs
from viz_app.figures import heads, kit, text_view
from viz_app.url_state import Key

VIEW_LABELS = {"head": "One head", "layer": "Every head of the layer", "model": "Every layer × head"}
VALUE_LABELS = {"weights": "weights (after softmax)", "scores": "scores (before softmax)"}
WHERE_LABELS = {"layer": "this layer only", "all": "every layer"}
STATE = (
    Key("view", "head", choices=tuple(VIEW_LABELS), url="always", shared=True),
    Key("values", "weights", choices=tuple(VALUE_LABELS), shared=True),
    # the side by side starts again from the model's own scale when the switch moves
    Key("compare_scale", choices=ATTN_SCALES, follows=("scale",)),
    Key("compare_where", "layer", choices=tuple(WHERE_LABELS)),
    # the score's query and key start again at the prompt's last character with a new prompt
    Key("query_pos", lo=0, follows=("model", "prompt")),
    Key("key_pos", lo=0, follows=("model", "prompt")),
)


def _take_cell_click(chart_key: str):
    """An on_select callback: a click on the one-head heatmap picks the (query, key) cell explained below."""

    def take() -> None:
        point = controls.selected_point(chart_key) or {}
        query, key_pos = kit.position_of(point.get("y")), kit.position_of(point.get("x"))
        if query is not None and key_pos is not None and key_pos <= query:
            st.session_state["query_pos"], st.session_state["key_pos"] = query, key_pos

    return take


def _head_map(ctx: page.PageContext, data: captures.AttentionData, matrices, layer: int, head: int, window,
              values: str) -> None:  # fmt: skip
    """One head's map, and its caption."""
    chars = ctx.prompt.tokens
    style = page.figure_style()
    tags = captures.sharpness(ctx.ref, ctx.prompt.ids, data.scale).tags[layer][head]
    presenting = presenter.on()
    # projected, the map shares the width with the text view: the head's job on a line of its own.
    # "none" here is the switch at the top, every layer; the side by side's defaults to one layer: say which
    scale = kit.SCALE_LABELS[data.scale] + _where(data.scale, ctx.config.attn_scale, None)
    title = f"layer {layer} · head {head} · {scale}{'<br>' if presenting else ' · '}"
    fig = page.figure(
        heads.head_heatmap,
        matrices[layer, head],
        chars,
        window=window,
        kind=values,
        title=title + heads.head_job(tags, ctx.prompt.unit),
        clickable=True,
        key_window=_sliding_window(ctx, layer),
        # a phone's map is as wide as its screen (phone.style), a laptop's as wide as the page
        height=style.map_height if style.narrow else max(style.map_height, heads.WIDE_MAP_HEIGHT),
        max_ticks=heads.CLICKABLE_MAX,  # every character of a window that fits labelled
        fit=presenting,  # the window's height, presenter.ZOOM characters each labelled
        style=style,
    )
    key = f"head_map_{layer}_{head}_{values}"
    page.chart(
        fig,
        name=f"attention-head-L{layer}H{head}-{values}-{data.scale}",
        fit=True,
        key=key,
        on_select=page.guarded(_take_cell_click(key)),
        selection_mode="points",
    )
    how = (
        "Click a cell to see how its score is built below."
        if window[1] - window[0] <= heads.CLICKABLE_MAX
        else f"Zoom to {heads.CLICKABLE_MAX} {ctx.prompt.unit}s or fewer to pick a cell by clicking, or use the "
        "sliders."
    )
    st.caption(
        f"Row = the {ctx.prompt.unit} doing the looking (query); column = the {ctx.prompt.unit} looked at (key). "
        "The upper triangle is the future, masked. " + how + controls.zoom_note(window, len(chars), ctx.prompt.unit)
    )
    _nanochat_notes(ctx, layer, head, len(chars))


def _sliding_window(ctx: page.PageContext, layer: int) -> int | None:
    """The layer's sliding window (nanochat: query t reads keys t-w..t only), None for plain causal."""
    windows = ctx.config.windows() if hasattr(ctx.config, "windows") else None
    return windows[layer] if windows else None


def _nanochat_notes(ctx: page.PageContext, layer: int, head: int, n: int) -> None:
    """What a nanochat head's map holds that the lecture's does not: its window, the key/value head it
    shares. Said only for a model that has them."""
    cfg = ctx.config
    if getattr(cfg, "model_type", "") != "nanochat":
        return
    notes = []
    w = _sliding_window(ctx, layer)
    if w is not None and w + 1 < n:
        notes.append(f"Layer {layer} has a sliding window of {w:,} tokens: query t reads keys t−{w:,}…t only; the "
                     "keys further back are masked like the future, left of the dashed line.")  # fmt: skip
    elif w is not None:
        notes.append(f"Layer {layer}'s window ({w:,} tokens) is longer than this prompt, so it masks nothing here.")
    group = cfg.n_head // cfg.n_kv_head
    kv = head // group
    sharing = [h for h in range(cfg.n_head) if h // group == kv]
    notes.append(
        f"Query head {head} reads key/value head {kv}"
        + (f", which it shares with query heads {', '.join(map(str, (h for h in sharing if h != head)))}."
           if group > 1 else " (each query head has its own: n_kv_head = n_head).")
    )  # fmt: skip
    st.caption(" ".join(notes))


def _head_text(ctx: page.PageContext, data: captures.AttentionData, layer: int, head: int, window) -> None:
    """The same head as big text (BertViz's head view): hover a character to shade what it looks at."""
    st.html(
        text_view.head_text_html(
            data.patterns[layer, head],  # the weights of the map's capture, whatever the map shows
            ctx.prompt.tokens,
            window=window,
            title=f"layer {layer} · head {head}: where each {ctx.prompt.unit} looks",
            unit=ctx.prompt.unit,
            style=page.figure_style(),
        ),
        unsafe_allow_javascript=True,  # the shading follows the mouse in the browser, with no rerun
    )


def _pattern_section(ctx: page.PageContext, data: captures.AttentionData, layer: int, head: int, window,
                     view: str, values: str) -> None:  # fmt: skip
    chars = ctx.prompt.tokens
    matrices = data.patterns if values == "weights" else data.scores
    style = page.figure_style()
    presenting = presenter.on()
    if view == "head":
        if presenting:  # the class reads the map and the text side by side
            left, right = st.columns([3, 2], gap="large")
            with left:
                _head_map(ctx, data, matrices, layer, head, window, values)
            with right:
                _head_text(ctx, data, layer, head, window)
        else:
            _head_map(ctx, data, matrices, layer, head, window, values)
            _head_text(ctx, data, layer, head, window)
    elif view == "layer":
        n_head = matrices.shape[1]
        if presenting:  # a window whose every character is labelled in tiles that fit the window
            cols = min(figs.LAYER_VIEW_COLS, n_head)
            span = presenter.grid_zoom(-(-n_head // cols), cols)
            window = (max(window[0], window[1] - span), window[1])
        page.chart(
            page.figure(
                figs.layer_heatmaps,
                matrices[layer],
                chars,
                layer=layer,
                window=window,
                kind=values,
                fit=presenting,
                style=style,
            ),
            name=f"attention-layer-L{layer}-{values}-{data.scale}",
            fit=True,
        )
        st.caption(
            ("Weights as whole percentages. " if values == "weights" else "")
            + "Hover a cell for its query and key."
            + controls.zoom_note(window, len(chars), ctx.prompt.unit)
        )
    else:
        page.chart(
            page.figure(
                figs.model_grid,
                data.patterns,
                chars,
                window=window,
                selected=(layer, head),
                clickable=True,
                fit=presenting,
                style=style,
            ),
            name=f"attention-model-{data.scale}",
            fit=True,
            key="model_grid",
            on_select=page.guarded(controls.pick_head_on_click("model_grid", view="head")),
            selection_mode="points",
        )
        factor = figs.grid_pool_factor(window[1] - window[0])
        note = (
            f" Each cell is the largest weight in a {factor}×{factor} block; zoom in to see every {ctx.prompt.unit}."
            if factor > 1
            else ""
        )
        st.caption(
            f"Every head's weights, layers down, heads across, in whole percentages; layer {layer} · head {head} "
            "is outlined. Click a head to open it." + note + controls.zoom_note(window, len(chars), ctx.prompt.unit)
        )


def _default_compare(scale: str, trained: str) -> str:
    """The model's own scale; when the switch is on it already, no scale at all (the lecture's question)."""
    if trained != scale:
        return trained
    return "none" if scale != "none" else "head_size"


def _compare_controls(ctx: page.PageContext, scale: str) -> tuple[str, str]:
    trained = ctx.config.attn_scale
    others = [s for s in ATTN_SCALES if s != scale]
    with controls.row():
        compare = controls.choice(
            "Compare with",
            others,
            key="compare_scale",
            default=_default_compare(scale, trained),
            format_func=lambda s: controls.scale_label(s, ctx.ckpt) + (" (as trained)" if s == trained else ""),
        )
        where = controls.choice(
            "Change the scale in",
            list(WHERE_LABELS),
            key="compare_where",
            format_func=WHERE_LABELS.get,
            help="This layer only: every other layer keeps the trained scale, so this head reads exactly the inputs "
            "it was trained on and only its own softmax changes. Every layer: the whole model runs with the "
            "setting (as the switch at the top does), so this layer's inputs change too.",
        )
    return compare, where


def _scale_story(layer: int, head: int, rows: dict[str, tuple[float, float, float]], where: str) -> str:
    """What the numbers on screen show, in words. rows: setting -> (scale value, entropy, max weight)."""
    (big, (v_big, e_big, p_big)), (small, (v_small, e_small, p_small)) = sorted(
        rows.items(), key=lambda item: -item[1][0]
    )
    named = f"{kit.SCALE_LABELS[big]} (× {v_big:.3g})", f"{kit.SCALE_LABELS[small]} (× {v_small:.3g})"
    numbers = (
        f"Layer {layer} · head {head}: mean entropy {e_big:.3f} nats under {named[0]} and {e_small:.3f} under "
        f"{named[1]}; mean max weight {p_big:.3f} and {p_small:.3f}."
    )
    sharper = e_big <= e_small
    if where == "layer":
        same = (
            f"The scale changes in layer {layer} only, so this head multiplies the very same q·k by a larger or "
            "smaller number"
        )
        if e_small - e_big < 0.0005:
            return f"{numbers} {same}; its scores here are almost all equal, so even the larger scale leaves them flat."
        return (
            f"{numbers} {same}: the larger scale spreads the scores and the softmax gets sharper, entropy falls by "
            f"{e_small - e_big:.3f} nats and the max weight rises by {p_big - p_small:.3f}, towards 1."
        )
    if sharper:
        return (
            f"{numbers} The scale changes in every layer, so this head's inputs change too; here the larger "
            "scale still gives the sharper softmax."
        )
    return (
        f"{numbers} The scale changes in every layer, so this head reads different inputs, and here the larger scale "
        f"gives the *higher* entropy. Pick “{WHERE_LABELS['layer']}” to see what the scale alone does to it."
    )


def _where(setting: str, trained: str, only: int | None) -> str:
    if setting == trained:
        return " (as trained)"
    return f", layer {only} only" if only is not None else ", every layer"


def _scale_section(ctx: page.PageContext, layer: int, head: int, scale: str, window) -> None:
    st.subheader("The scale switch, side by side")
    compare, where = _compare_controls(ctx, scale)
    ids, only = ctx.prompt.ids, layer if where == "layer" else None
    # this layer's heads only: in "this layer only" no forward runs (captures.layer_scale)
    sharp = {s: captures.layer_scale(ctx.ref, ids, s, layer, only=only is not None) for s in (scale, compare)}
    rows = {}
    cols = st.columns(2)
    for col, setting, other in ((cols[0], scale, compare), (cols[1], compare, scale)):
        with col:
            data = sharp[setting]
            ent = float(data.mean_entropy[head])
            peak = float(data.mean_max_weight[head])
            rows[setting] = (data.scale_value, ent, peak)
            ent_other = float(sharp[other].mean_entropy[head])
            peak_other = float(sharp[other].mean_max_weight[head])
            m1, m2 = st.columns(2)
            named = kit.SCALE_LABELS[setting] + _where(setting, ctx.config.attn_scale, only)  # "none, layer 1 only"
            m1.metric(
                f"Mean entropy · {named}",
                f"{ent:.3f} nats",
                delta=f"{ent - ent_other:+.3f} vs {kit.SCALE_LABELS[other]}",
                delta_color="off",
            )
            m2.metric(
                f"Mean max weight · {named}",
                f"{peak:.3f}",
                delta=f"{peak - peak_other:+.3f}",
                delta_color="off",
            )
            page.chart(
                page.figure(
                    heads.head_heatmap,
                    data.patterns[head],
                    ctx.prompt.tokens,
                    window=window,
                    height=round(0.75 * page.figure_style().map_height),
                    max_ticks=32,
                    title=controls.scale_label(setting, ctx.ckpt) + _where(setting, ctx.config.attn_scale, only),
                    style=page.figure_style(),
                ),
                name=f"attention-compare-L{layer}H{head}-{setting}-{where}",
            )
    st.caption(
        _scale_story(layer, head, rows, where) + " Entropy is in nats, averaged over query rows 1 onwards "
        "(row 0 sees one key)."
    )


def _score_section(ctx: page.PageContext, data: captures.AttentionData, layer: int, head: int, window) -> None:
    st.subheader("How one score is built")
    chars = ctx.prompt.tokens
    labels = kit.position_labels(chars)
    start, stop = window
    queries = list(range(start, stop))
    cols = st.columns(2)
    with cols[0]:
        query = controls.slider_choice(
            f"Query (the {ctx.prompt.unit} looking)",
            queries,
            key="query_pos",
            default=stop - 1,
            format_func=labels.__getitem__,
        )
    visible = list(range(0, query + 1))  # the key positions this query may attend to
    best = int(data.patterns[layer, head, query, : query + 1].argmax())
    with cols[1]:
        if len(visible) > 1:
            key_pos = controls.slider_choice(
                f"Key (the {ctx.prompt.unit} looked at)",
                visible,
                key="key_pos",
                default=best,
                format_func=labels.__getitem__,
            )
        else:
            key_pos = 0
            st.caption(f"Key: {labels[0]} (the first query sees only itself)")
    b = metrics.score_breakdown(
        data.q[layer, head], data.k[layer, head], data.scores[layer, head], data.patterns[layer, head],
        data.scale_value, query, key_pos,
    )  # fmt: skip
    st.markdown(
        f"q·k = Σ (q ⊙ k) over {len(b.q)} dims = **{b.dot:.3f}** · × scale **{b.scale:.4g}** "
        f"= score **{b.score:.3f}** · softmax over the {query + 1} keys query `{labels[query]}` may see "
        f"→ weight **{b.weight:.3f}** on key `{labels[key_pos]}`"
    )
    style, where = page.figure_style(), f"L{layer}H{head}-q{query}"
    left, right = st.columns(2)
    with left:
        page.chart(
            page.figure(figs.score_parts, b.q, b.k, b.product, style=style),
            name=f"attention-qk-{where}k{key_pos}-{data.scale}",
        )
    with right:
        page.chart(
            page.figure(figs.softmax_row, b.row_scores, b.row_weights, chars, picked=key_pos, style=style),
            name=f"attention-softmax-{where}-{data.scale}",
        )


def _export(ctx: page.PageContext, data: captures.AttentionData, layer: int, head: int) -> None:
    sharp = captures.sharpness(ctx.ref, ctx.prompt.ids, data.scale)
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


def _compare_section(ctx: page.PageContext, layer: int, head: int, scale: str, window) -> None:
    cmp = compare_section.section(ctx, "what training changed")
    if cmp is None:
        return
    pairing, label = cmp.pairing, cmp.entry.label
    a = captures.attention_data(ctx.ref, ctx.prompt.ids, scale)
    b = captures.attention_data(cmp.ref, pairing.prompt_b.ids, scale)
    style = page.figure_style()
    names = (ctx.entry.label, label)
    later, earlier = compare_section.minus(ctx, cmp)
    if pairing.same_text and layer < pairing.n_layer and head < pairing.n_head:
        first, second = a.patterns[layer, head], b.patterns[layer, head]
        if cmp.earlier:  # earlier, later, later minus earlier
            first, second, names = second, first, names[::-1]
        page.chart(
            page.figure(
                compare_figs.head_pair, first, second, ctx.prompt.tokens, names=names, window=window, style=style
            ),
            name=f"attention-compare-models-L{layer}H{head}-{scale}",
        )
        st.caption(
            f"Layer {layer} · head {head} of both models on the same prompt, and {later} minus {earlier}: "
            f"red where {later} puts more weight, blue where it puts less."
            + controls.zoom_note(window, len(ctx.prompt.tokens), ctx.prompt.unit)
        )
    elif layer < pairing.n_layer and head < pairing.n_head:
        left, right = st.columns(2)
        sides = ((left, a, ctx.prompt.tokens, names[0]), (right, b, pairing.prompt_b.tokens, label))
        for col, data, text, name in sides:
            with col:
                page.chart(
                    page.figure(
                        heads.head_heatmap,
                        data.patterns[layer, head],
                        text,
                        title=f"{name} · layer {layer} · head {head}",
                        height=420,
                        max_ticks=32,
                        style=style,
                    ),  # fmt: skip
                    name=f"attention-compare-L{layer}H{head}-{scale}-{'ab'[col is right]}",
                )
    else:
        st.info(f"{label} has no layer {layer} · head {head}; pick one both have.", icon=":material/info:")
    changes = compare_section.head_changes(ctx, cmp, scale)
    for col, what in zip(st.columns(2), compare_section.CHANGES, strict=True):
        with col:
            compare_section.change_chart(changes, what, name=f"attention-compare-{what.replace('_', '-')}-{scale}")
    st.caption(
        f"Every head both have, {later} minus {earlier}: blue entropy and red max weight mean {later}'s softmax is "
        "sharper there."
    )


def render() -> None:
    st.header("Attention")
    ctx = page.page_context(needs_attention=True)
    if ctx is None:
        return
    cfg = ctx.config
    page.open_on_a_focused_head(ctx)
    presenting = presenter.on()
    # presenter mode: layer, head and view in the one row above the map, the rest under it
    top, more, picture = presenter.stage()
    layer, head, _ = controls.layer_head_picker(cfg.n_layer, cfg.n_head, host=top)
    with more if presenting else top, st.container(width="content"):
        scale = controls.scale_switch(ctx.ckpt)
    n = len(ctx.prompt.ids)
    # on a laptop the zoom goes under the map (made after the picture's container): at 1280 x 720 the
    # map's top is then in the window, not under two rows of controls
    with more if presenting else st.container():
        window = controls.window_picker(n, unit=ctx.prompt.unit)
        st.caption(
            f"Reading {n} {ctx.prompt.unit}s · {cfg.n_layer} layers × {cfg.n_head} heads, head size {cfg.head_size}."
        )
    with more:
        pick = controls.row()
    with top if presenting else pick, st.container(width="content"):
        view = controls.choice("Show", VIEW_LABELS, key="view", format_func=VIEW_LABELS.get)
    with pick:
        values = controls.choice(
            "Values",
            VALUE_LABELS,
            key="values",
            format_func=VALUE_LABELS.get,
            disabled=view == "model",
            help="Scores are q·k × scale with the future masked; softmax of each row gives the weights.",
        )
    data = captures.attention_data(ctx.ref, ctx.prompt.ids, scale)
    with picture:
        _pattern_section(ctx, data, layer, head, window, view, values)
    _compare_section(ctx, layer, head, scale, window)
    _scale_section(ctx, layer, head, scale, window)
    _score_section(ctx, data, layer, head, window)
    _export(ctx, data, layer, head)


if __name__ == "__main__":  # Streamlit runs a page file as __main__; tests import its STATE
    page.run(render, STATE)
