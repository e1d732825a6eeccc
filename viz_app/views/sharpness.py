"""Sharpness: how peaked each head's softmax is, and the lecture's demo of why q·k is scaled."""

from __future__ import annotations

import streamlit as st

from nanogpt import metrics
from viz_app import compare_section, controls, export, page, phone, presenter, url_state
from viz_app.backend import captures
from viz_app.figures import heads
from viz_app.figures import sharpness as figs
from viz_app.pages import PAGES, state_of
from viz_app.url_state import Key

CURVES = {
    "normalized": ("normalised entropy", 1.0),
    "entropy": ("entropy (nats)", None),
    "max_weight": ("max weight", 1.0),
}
DEMO_SIZES = (2, 4, 8, 16, 32, 64, 128, 256, 512)
STATE = (
    Key("curve", "normalized", choices=tuple(CURVES), shared=True),
    Key("demo_d", choices=DEMO_SIZES, shared=True),  # opens on the model's head size
)


def tag_help(unit: str) -> str:
    """The legend under the tag table, in the model's unit. A token model's legend leaves out the tags
    that read the text character by character (a space, a vowel, the same character), which metrics
    gives only where each position is one character."""
    shown = [tag for tag in heads.TAGS if unit == "character" or tag in (*metrics.POSITIONAL_KINDS, "uniform")]
    return (
        f"A head is tagged with what gets at least {metrics.TAG_THRESHOLD:.0%} of its weight, on average over the "
        f"prompt's {unit}s: "
        + " · ".join(f"**{tag}**: {heads.tag_meaning(tag, unit)}" for tag in shown)
        + f" (uniform: normalised entropy at least {metrics.UNIFORM_THRESHOLD:.0%})."
    )


def _controls(ctx: page.PageContext):
    """(layer, head, scale, where the grids go). Presenter mode: layer and head in one row, the grids
    right under it, the scale switch below them (its caption would push the fitted grids past the
    window's bottom); otherwise the three in one row above the grids."""
    if not presenter.on() and not phone.on():  # a phone: the grids first, the controls under them (phone.py)
        return (*controls.model_controls(ctx.ckpt), st.container())
    top, more, picture = presenter.stage()
    layer, head, _ = controls.layer_head_picker(ctx.config.n_layer, ctx.config.n_head, host=top)
    with more:
        scale = controls.scale_switch(ctx.ckpt)
    return layer, head, scale, picture


def _head_grids(sharp: captures.Sharpness, layer: int, head: int, scale: str, picture, n_chars: int) -> None:
    style = page.figure_style()
    grids = (
        ("entropy", sharp.mean_normalized_entropy, "mean normalised entropy (1 = uniform)", None),
        ("max_weight", sharp.mean_max_weight, "mean max weight (1 = one-hot)", "Magma"),
    )
    with picture:
        columns = st.columns(2)
    for col, (what, values, title, colours) in zip(columns, grids, strict=True):
        with col:
            key = f"sharp_grid_{what}"
            page.chart(
                page.figure(
                    heads.head_grid,
                    values,
                    title=title,
                    tags=sharp.tags if what == "entropy" else None,
                    scale=colours,
                    highlight=(layer, head),
                    clickable=True,
                    style=style,
                ),
                name=f"sharpness-{what}-{scale}",
                fit=True,  # presenter mode: as tall as the window under the row of pickers
                key=key,
                on_select=page.guarded(controls.pick_head_on_click(key)),
                selection_mode="points",
            )
    st.caption(
        "Averaged over query rows 1 onwards; row t sees t + 1 keys, so its entropy is divided by log(t + 1). "
        f"Cells name the tags below in short ({heads.short_tag('previous-token')} = previous-token, "
        f"{heads.short_tag('first-token')} = first-token). Click a head to pick it; "
        f"layer "
        f"{layer} · head {head} is outlined."
    )
    # a link, not st.switch_page: the browser's Back then returns to this view in one step (url_state.link)
    window = controls.opening_window(n_chars, st.session_state.get("window"))
    st.page_link(
        PAGES["attention"].file,
        label=f"Open layer {layer} · head {head} on the Attention page",
        icon=":material/grid_on:",
        query_params=url_state.link("attention", state_of("attention"), view="head", window=window),
    )


def _curves(ctx: page.PageContext, sharp: captures.Sharpness, layer: int, head: int, scale: str) -> None:
    st.subheader(f"Every query row of layer {layer}")
    kind = controls.choice("Curve", CURVES, key="curve", format_func=lambda k: CURVES[k][0])
    values = {"normalized": sharp.normalized_entropy, "entropy": sharp.entropy, "max_weight": sharp.max_weight}[kind]
    name, ymax = CURVES[kind]
    page.chart(
        page.figure(
            figs.entropy_curves,
            values[layer],
            ctx.prompt.tokens,
            layer=layer,
            highlight=head,
            ylabel=name,
            ymax=ymax,
            style=page.figure_style(),
        ),
        name=f"sharpness-rows-{kind}-L{layer}H{head}-{scale}",
    )


def _tag_table(sharp: captures.Sharpness, unit: str) -> None:
    st.subheader("Head tags")
    rows = [
        {
            "layer": r["layer"],
            "head": r["head"],
            "tags": ", ".join(r["tags"]) or "—",
            "entropy (nats)": r["mean_entropy"],
            "normalised entropy": r["mean_normalized_entropy"],
            "max weight": r["mean_max_weight"],
            "effective keys": r["effective_keys"],
        }
        for r in sharp.summary
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(tag_help(unit))


def _compare_section(ctx: page.PageContext, scale: str) -> None:
    cmp = compare_section.section(ctx, "which heads training sharpened")
    if cmp is None:
        return
    other = captures.sharpness(cmp.ref, cmp.pairing.prompt_b.ids, scale)
    left, right = st.columns(2)
    with left:
        page.chart(
            page.figure(
                heads.head_grid,
                other.mean_max_weight,
                title=f"{cmp.entry.label}: mean max weight",
                tags=other.tags,
                style=page.figure_style(),
            ),  # fmt: skip
            name=f"sharpness-compare-max-weight-{scale}",
        )
    with right:
        changes = compare_section.head_changes(ctx, cmp, scale)
        compare_section.change_chart(changes, "entropy", name=f"sharpness-compare-entropy-{scale}")
    later, earlier = compare_section.minus(ctx, cmp)
    st.caption(
        f"Left: the second model's own grid and tags. Right: {later} minus {earlier} for every head both have; "
        f"blue is a sharper softmax in {later}, red a more spread one."
    )


def _variance_demo(head_size: int) -> None:
    st.subheader("Why scale by 1/√d? The lecture's demo")
    d = controls.slider_choice(
        "d (head size)", DEMO_SIZES, key="demo_d", default=head_size if head_size in DEMO_SIZES else 16
    )
    demo = captures.variance_demo(d)
    a, b, c = st.columns(3)
    a.metric("var(q·k), unscaled", f"{demo['var_unscaled']:.2f}")
    b.metric(f"var(q·k / √{d})", f"{demo['var_scaled']:.2f}")
    c.metric("largest unscaled weight", f"{max(demo['row_unscaled']):.3f}")
    page.chart(page.figure(figs.variance_demo, demo, style=page.figure_style()), name=f"sharpness-variance-demo-d{d}")
    st.caption(
        "q and k are unit Gaussian vectors of size d, so q·k has variance about d. The softmax of such "
        "scores saturates: one key takes nearly all the weight. Dividing by √d brings the variance back "
        "to about 1 and keeps the softmax soft, so each query can still mix information from many keys."
    )


def render() -> None:
    st.header("Sharpness")
    ctx = page.page_context(needs_attention=True)
    if ctx is None:
        _variance_demo(16)  # the demo needs no model, so a bigram or missing model still gets it
        return
    cfg = ctx.config
    page.open_on_a_focused_head(ctx)
    layer, head, scale, picture = _controls(ctx)
    sharp = captures.sharpness(ctx.ref, ctx.prompt.ids, scale)
    _head_grids(sharp, layer, head, scale, picture, len(ctx.prompt.ids))
    _compare_section(ctx, scale)
    _curves(ctx, sharp, layer, head, scale)
    _tag_table(sharp, ctx.prompt.unit)
    with st.expander("Download the numbers (NPZ / CSV)", icon=":material/download:"):
        rows = ("layer", "head", "query")
        export.download_buttons(
            f"sharpness-{scale}",
            {
                "entropy": export.Named(sharp.entropy, rows),
                "normalized_entropy": export.Named(sharp.normalized_entropy, rows),
                "max_weight": export.Named(sharp.max_weight, rows),
                "score_std": export.Named(sharp.score_std, rows),
            },
            key="sharp_export",
        )
    _variance_demo(cfg.head_size)


if __name__ == "__main__":  # Streamlit runs a page file as __main__; tests import its STATE
    page.run(render, STATE)
