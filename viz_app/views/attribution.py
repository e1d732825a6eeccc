"""Why this character? Which parts of the model pushed the next character's logit up or down."""

from __future__ import annotations

import streamlit as st

from viz_app import controls, page, presenter
from viz_app.backend import attributions, captures
from viz_app.figures import attribution as figs
from viz_app.figures import heads, kit
from viz_app.figures.kit import visible_char
from viz_app.url_state import Key

TOP = "top"  # the target key's value for "the model's own choice"
STATE = (
    # the position a prediction is made at (its character's successor is explained); the last by default
    Key("why_pos", lo=0, url="changed", follows=("model", "prompt")),
    Key("why_target", TOP, url="changed", follows=("model", "prompt", "why_pos")),
    Key("why_ablation", "zeroed", choices=("zeroed", "mean"), url="changed"),
)
ABLATIONS = {"zeroed": "zeroed", "mean": "set to its mean"}


def _pickers(ctx: page.PageContext, host) -> tuple[int, int | None]:
    """The position and the target character, in the row host; returns (position, target id or None
    for the top choice)."""
    tokens, tok = ctx.prompt.tokens, ctx.ckpt.tokenizer
    n = len(tokens)
    positions = list(range(n))
    presenting = presenter.on()
    with host:
        controls.slider_choice(
            f"After the {ctx.prompt.unit} at",
            positions,
            key="why_pos",
            default=n - 1,
            format_func=lambda i: f"{i}: {kit.context_before(tokens, i)}[{visible_char(tokens[i])}]",
            help=f"The model predicts the next {ctx.prompt.unit} after every position; the last is the one Generate "
            "samples next.",
            width=620 if presenting else "stretch",  # projected: one row with the character's picker
        )
    position = st.session_state["why_pos"]
    why = attributions.why(ctx.ref, ctx.prompt.ids, position, None)
    # a choice is the character itself (as links have always said it), or a token's label
    ids = {(tok.decode([i]) if tok.unit == "character" else tok.label(i)): i for i in attributions.top_choices(why)}
    choices = [TOP, *ids]

    def label(c: str) -> str:
        if c == TOP:
            return f"its top choice '{tok.label(why.target)}'"
        return f"'{visible_char(c)}' ({why.probs[ids[c]]:.0%})"

    with host:
        picked = controls.dropdown(
            "Explain the logit of", choices, key="why_target", format_func=label, width=300 if presenting else "stretch"
        )
    return position, None if picked == TOP else ids[picked]


def _head_row(ctx: page.PageContext, position: int, layer: int, head: int) -> None:
    data = captures.attention_data(ctx.ref, ctx.prompt.ids, ctx.config.attn_scale)
    tokens = ctx.prompt.tokens
    page.chart(
        page.figure(
            figs.query_row,
            data.patterns[layer, head, position],
            tokens,
            position,
            title=f"Where layer {layer} · head {head} looks from '{visible_char(tokens[position])}' ({position})",
            style=page.figure_style(),
        ),
        name=f"why-row-L{layer}H{head}-{position}",
    )


def render() -> None:
    title = st.empty()
    title.header("Why this character?")
    ctx = page.page_context(needs_attention=True)
    if ctx is None:
        return
    if ctx.prompt.unit != "character":
        title.header(f"Why this {ctx.prompt.unit}?")
    # presenter mode: the two pickers in one row, the bars under it, the numbers below them
    top, more, picture = presenter.stage()
    try:
        position, target = _pickers(ctx, top if presenter.on() else more)
        why = attributions.why(ctx.ref, ctx.prompt.ids, position, target)
    except ValueError as e:  # a post-norm or residual-free model is no sum of parts
        st.info(f"This model cannot be taken apart this way: {e}.", icon=":material/info:")
        return
    char, other = ctx.ckpt.tokenizer.label(why.target), ctx.ckpt.tokenizer.label(why.runner_up)
    style = page.figure_style()
    with more:
        a, b, c = st.columns(3)
        a.metric(f"logit of '{char}'", f"{why.logit:.2f}")
        b.metric(f"p('{char}')", f"{why.probs[why.target]:.1%}")
        c.metric(f"runner-up '{other}'", f"{why.probs[why.runner_up]:.1%}")
        st.caption(
            "The final residual stream is a sum: the embeddings, every head's output, every MLP's. With the final "
            "LayerNorm's scale taken from this very pass, each part's share of the logit is exact, and the bars add "
            "up to the logit the model computed." + (f" Here the logit is {why.note}." if why.note else "")
        )
    with picture:
        page.chart(
            page.figure(
                figs.component_bars,
                why.names,
                why.values,
                title=f"What pushed the logit of '{char}' up or down",
                total_label=f"= the logit of '{char}'",
                style=style,
            ),
            name=f"why-components-{position}-{why.target}",
            fit=True,
        )
    page.chart(
        page.figure(
            figs.component_bars,
            why.names,
            why.versus,
            title=f"Why '{char}' and not '{other}'",
            total_label="= the difference of their logits",
            top=8,
            style=style,
        ),
        name=f"why-versus-{position}-{why.target}-{why.runner_up}",
    )
    _heads(ctx, why, position, char)


def _heads(ctx: page.PageContext, why: attributions.Why, position: int, char: str) -> None:
    """Each head's direct share beside what knocking it out does, and where the picked head looks."""
    st.subheader("Head by head")
    style = page.figure_style()
    how = controls.choice("Knock each head out by", ABLATIONS, key="why_ablation", format_func=ABLATIONS.get)
    layer, head = controls.current_head(ctx.config.n_layer, ctx.config.n_head)
    effects = why.zeroed if how == "zeroed" else why.mean_ablated
    grids = (
        ("why_heads_grid", why.heads, f"Each head's share of the logit of '{char}'", "heads"),
        ("why_ablation_grid", effects, f"Change in log p('{char}') with the head {ABLATIONS[how]}", f"ablation-{how}"),
    )
    for column, (key, values, title, what) in zip(st.columns(2), grids, strict=True):
        bound = max(1e-6, float(abs(values).max()))
        with column:
            page.chart(
                page.figure(
                    heads.head_grid,
                    values,
                    title=title,
                    zmin=-bound,
                    zmax=bound,
                    scale=style.scores,
                    highlight=(layer, head),
                    clickable=True,
                    style=style,
                ),  # fmt: skip
                name=f"why-{what}-{position}-{why.target}",
                key=key,
                on_select=page.guarded(controls.pick_head_on_click(key)),
                selection_mode="points",
            )
    st.caption(
        "Left: what each head writes straight into the logit. Right: each head knocked out alone, the rest of the "
        f"model as it is (one batched pass of every head); below zero, '{char}' became less likely without it. The "
        "two can differ: knocking a head out also removes what later layers read from it. 'Set to its mean' "
        "replaces the head's output by its average over the positions up to this one. Click a head to see where "
        "it looks from this character."
    )
    _head_row(ctx, position, layer, head)


if __name__ == "__main__":  # Streamlit runs a page file as __main__; tests import its STATE
    page.run(render, STATE)
