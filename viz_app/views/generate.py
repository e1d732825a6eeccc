"""Generate: sample one character at a time and see why: both distributions, the new character's
attention in every head, a timeline that replays any earlier step, and teacher forcing."""

from __future__ import annotations

import time

import streamlit as st

from nanogpt.data import DataError
from viz_app import controls, export, page, phone, presenter, url_state
from viz_app.backend import captures, generation_runs
from viz_app.figures import generate as figs
from viz_app.figures.kit import visible_char
from viz_app.url_state import Key

TF_SOURCES = {"validation": "a passage of the validation text", "own": "my own passage"}
STATE = (  # every one in the link when it is not the default; the CLI's: temperature 0.8, seed 1
    Key("gen_temp", 0.8, lo=0.05, hi=2.0, url="changed"),
    Key("gen_topk", 0, lo=0, url="changed"),
    Key("gen_seed", 1, lo=0, hi=2**31 - 1, url="changed"),
    Key("gen_count", 50, lo=1, hi=generation_runs.MAX_STEPS, url="changed"),
    Key("gen_n", 0, lo=0, hi=generation_runs.MAX_STEPS, url="changed", fragment=True),  # steps a link replays
    Key("gen_step", 0, lo=0, url="changed", fragment=True),
    Key("gen_all_chars", False, url="changed"),
    Key("tf_source", "validation", choices=tuple(TF_SOURCES), url="changed"),
    Key("tf_offset", 0, lo=0, url="changed"),
)
PLAY_EVERY_S = 0.5  # Play samples two characters a second, however long a redraw takes
ALL_BARS_UP_TO = 1000  # the "All N characters" switch: a character vocabulary, not GPT-2's 50,257 bars
MAX_CATCH_UP = 4  # characters one redraw may add to keep that pace; a longer stall is not made up
RUN = "gen_run"  # st.session_state: the GenRun
PLAYING = "gen_playing"
_RESTORED = "_gen_restored"  # the URL's gen_n was replayed (once per session)
_PLAY_CLOCK = "_gen_play_clock"  # when Play's last character was due (time.monotonic)
_PREVIEW = "_gen_preview"  # ((model, prompt ids), the first step as Next would compute it): the bars before it


def _controls(vocab_size: int, unit: str) -> tuple[float, int | None, int, int]:
    cols = st.columns([3, 1.2, 1.2, 1.4])
    with cols[0]:
        temperature = st.slider(
            "Temperature",
            min_value=0.05,
            max_value=2.0,
            step=0.05,
            key="gen_temp",
            help="Logits are divided by this before the softmax: below 1 sharpens, above 1 flattens.",
        )
    with cols[1]:
        top_k = st.number_input(
            "Top-k (0 = off)",
            min_value=0,
            max_value=vocab_size,
            step=1,
            key="gen_topk",
            help=f"Keep only the k most likely {unit}s, then renormalise.",
        )
    with cols[2]:
        seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="gen_seed")
    with cols[3]:
        count = st.number_input(
            f"{unit.capitalize()}s per run", min_value=1, max_value=generation_runs.MAX_STEPS, step=1, key="gen_count"
        )
    return float(temperature), int(top_k) or None, int(seed), int(count)


def _current_run(ctx: page.PageContext, seed: int, temperature: float, top_k: int | None) -> generation_runs.GenRun:
    """This session's run for this model, prompt and seed; a new one when any of them changed.

    A link with gen_n=N replays N steps once, so it opens on the same text."""
    ss = st.session_state
    run = ss.get(RUN)
    if run is None or run.model != ctx.ref or run.prompt_ids != ctx.prompt.ids or run.seed != seed:
        run = generation_runs.new_run(ctx.ref, ctx.prompt.ids, seed)
        ss[RUN] = run
        ss[PLAYING] = False
        if not ss.get(_RESTORED) and ss.get("gen_n", 0) > 0:
            generation_runs.advance(run, ctx.ckpt, ss["gen_n"], temperature, top_k)
        else:
            ss["gen_step"] = 0
    ss[_RESTORED] = True
    return run


def _set_playing(on: bool) -> None:
    """Play / Pause's callback: runs before the page, so the button is drawn with its new label.

    It sets the state the button offered rather than flipping it: a click that lands while Play's
    fragment is rerunning reaches the callback twice, and a flip would undo itself."""
    ss = st.session_state
    if on and not ss.get(PLAYING):
        ss[_PLAY_CLOCK] = time.monotonic() - PLAY_EVERY_S  # the first character is due at once
    if not on and ss.get(RUN) is not None and ss[RUN].steps:
        # Pause shows the newest step: a character Play sampled while the click was on its way left
        # the browser's slider one step behind, and it sends that value back with the click
        ss["gen_step"] = len(ss[RUN].steps)
    ss[PLAYING] = on


def _due_characters() -> int:
    """How many characters Play owes now to keep one every PLAY_EVERY_S (at most MAX_CATCH_UP)."""
    ss = st.session_state
    now = time.monotonic()
    last = ss.get(_PLAY_CLOCK, now - PLAY_EVERY_S)
    due = int((now - last) / PLAY_EVERY_S)
    if due > MAX_CATCH_UP:
        ss[_PLAY_CLOCK] = now
        return MAX_CATCH_UP
    ss[_PLAY_CLOCK] = last + due * PLAY_EVERY_S
    return due


def _back() -> None:
    """Back's callback (a presenter's clicker presses it too: viz_app/a11y.py): the step before the one shown."""
    ss = st.session_state
    ss[PLAYING] = False
    ss["gen_step"] = max(1, int(ss.get("gen_step") or 1) - 1)


def _buttons(
    ctx: page.PageContext, run: generation_runs.GenRun, temperature: float, top_k: int | None, count: int, row
) -> None:
    ss = st.session_state
    unit = ctx.prompt.unit
    added = 0
    with row:
        st.button("Back", key="gen_back", icon=":material/skip_previous:", on_click=page.guarded(_back),
                  disabled=not run.steps,  # (drawn before Next adds a step: a narrower test would lag one behind)
                  help="Replay the step before this one (PageUp or ←)")  # fmt: skip
        if st.button("Next", key="gen_next", type="primary", icon=":material/skip_next:", disabled=run.full,
                     help=f"Sample the next {unit} (PageDown or →)"):  # fmt: skip
            added = generation_runs.advance(run, ctx.ckpt, 1, temperature, top_k)
        if st.button(f"Run {count} steps", key="gen_many", icon=":material/fast_forward:", disabled=run.full):
            added = generation_runs.advance(run, ctx.ckpt, count, temperature, top_k)
        playing = ss.get(PLAYING, False)
        st.button(
            "Pause" if playing else "Play",
            key="gen_play",
            icon=":material/pause:" if playing else ":material/play_arrow:",
            disabled=run.full and not playing,
            on_click=page.guarded(_set_playing),
            args=(not playing,),
            help=f"Play samples two {unit}s a second until you press Pause.",
        )
        if st.button("Start over", key="gen_reset", icon=":material/restart_alt:"):
            ss[RUN] = run = generation_runs.new_run(ctx.ref, ctx.prompt.ids, run.seed)
            ss[PLAYING] = False
            ss["gen_step"] = 0
        if run.full:
            st.caption(f"This run holds its maximum of {generation_runs.MAX_STEPS} steps; press Start over.")
            ss[PLAYING] = False
    if added:
        ss["gen_step"] = len(run.steps)  # show the newest step


def _attention(ctx: page.PageContext, run: generation_runs.GenRun, index: int, style) -> None:
    step = run.steps[index]
    cfg = ctx.config
    chars, start = run.context(ctx.ckpt.tokenizer, index)
    selected = controls.current_head(cfg.n_layer, cfg.n_head)  # the grid is drawn above the pickers
    st.subheader(f"Where '{visible_char(step.char)}' came from: its position's attention")
    page.chart(
        page.figure(
            figs.step_attention,
            step.attention,
            chars,
            offset=start,
            selected=selected,
            unit=ctx.prompt.unit,
            style=style,
        ),
        key="gen_rows",
        name=f"generate-attention-step{index + 1}",
        on_select=page.guarded(controls.pick_head_on_click("gen_rows")),
        selection_mode="points",
    )
    st.caption(
        f"Each row is one head: how the position that predicted step {index + 1} spread its attention over the "
        f"{step.context_len} {ctx.prompt.unit}s it read. Click a square in the pick column (or choose below) to "
        "enlarge a head."
    )
    layer, head, _ = controls.layer_head_picker(cfg.n_layer, cfg.n_head)
    page.chart(
        page.figure(
            figs.attention_row,
            step.attention[layer, head],
            chars,
            offset=start,
            title=f"layer {layer} · head {head}",
            style=style,
        ),
        name=f"generate-attention-L{layer}H{head}-step{index + 1}",
    )


def _preview(ctx: page.PageContext, run: generation_runs.GenRun) -> generation_runs.GenStep:
    """The first step as Next will compute it (its distributions do not depend on the seed), taken
    on a scratch run: the session's run and its generator are left alone. Kept per model and prompt."""
    ss = st.session_state
    key = (ctx.ref, run.prompt_ids)
    kept = ss.get(_PREVIEW)
    if kept is None or kept[0] != key:
        scratch = generation_runs.new_run(ctx.ref, run.prompt_ids, 0)
        generation_runs.advance(scratch, ctx.ckpt, 1, 1.0, None)
        ss[_PREVIEW] = kept = (key, scratch.steps[0])
    return kept[1]


def _before_the_first(
    ctx: page.PageContext, run: generation_runs.GenRun, temperature: float, top_k: int | None, style
) -> None:
    """What the model thinks comes after the prompt, before anything is sampled: the bars Next draws from."""
    first = _preview(ctx, run)
    vocab = ctx.ckpt.tokenizer.vocab_labels
    page.chart(
        page.figure(
            figs.next_char_bars,
            vocab,
            first.probs_raw,
            generation_runs.distribution(first, temperature, top_k),
            None,
            temperature=temperature,
            top_k=top_k,
            title=f"before the first {ctx.prompt.unit}: what the model thinks comes next after the prompt",
            unit=ctx.prompt.unit,
            style=style,
        ),
        key="gen_dist_first",
        name=f"generate-distribution-before-T{temperature:g}" + (f"-top{top_k}" if top_k else ""),
    )
    now = f"temperature {temperature:g}" + (f", top-k {top_k}" if top_k else ", no top-k")
    best = int(first.probs_raw.argmax())
    st.caption(
        f"Nothing is sampled yet. The model's own guess is '{visible_char(vocab[best])}' "
        f"(p {float(first.probs_raw[best]):.3f}). Left bar of each pair, light: its own distribution (temperature 1, "
        f"no top-k); right bar, dark: what **Next** will draw from ({now}). Move the temperature or top-k and "
        "watch the dark bars change before you press Next."
    )


def _step_view(ctx: page.PageContext, run: generation_runs.GenRun, temperature: float, top_k: int | None) -> None:
    ss = st.session_state
    style = page.figure_style()
    tokenizer = ctx.ckpt.tokenizer
    n = len(run.steps)
    if n == 0:
        st.markdown(figs.text_html(ctx.prompt.text, "", style=style), unsafe_allow_html=True)
        st.info(f"Press **Next** to sample the first {ctx.prompt.unit}.", icon=":material/skip_next:")
        _before_the_first(ctx, run, temperature, top_k, style)
        return
    if not 1 <= ss.get("gen_step", 0) <= n:
        ss["gen_step"] = n
    # the step's slider above the text; projected, under it: the text right under the one row of buttons
    slider_slot, text_slot = st.container(), st.container()
    if presenter.on():
        slider_slot, text_slot = text_slot, slider_slot
    with slider_slot:
        index = (
            st.slider(
                "Timeline: step",
                min_value=1,
                max_value=n,
                key="gen_step",
                help="Replay any earlier step: its text, its distributions and its attention, exactly as they were.",
            )
            - 1
            if n > 1
            else 0
        )
    step = run.steps[index]
    so_far = [s.token for s in run.steps[: index + 1]]
    # one item per step: a character model's text, a BPE model's tokens' pieces (the box marks a whole token)
    generated = tokenizer.decode(so_far) if tokenizer.unit == "character" else [tokenizer.piece(i) for i in so_far]
    text_slot.markdown(figs.text_html(ctx.prompt.text, generated, highlight=index, style=style), unsafe_allow_html=True)
    knobs = f"temperature {step.temperature:g}" + (f", top-k {step.top_k}" if step.top_k else ", no top-k")
    unit = tokenizer.unit
    note = f" The context was full: the model read the last {step.context_len} {unit}s." if step.cropped else ""
    st.caption(f"Step {index + 1} of {n} · sampled with {knobs}.{note}")
    m = st.columns(3)
    m[0].metric(f"New {unit}", f"'{tokenizer.label(step.token)}'")
    m[1].metric("p it was sampled with", f"{float(step.probs[step.token]):.3f}")
    m[2].metric("p under the model (T = 1)", f"{float(step.probs_raw[step.token]):.3f}")
    vocab = tokenizer.vocab_labels
    everything = len(vocab) <= ALL_BARS_UP_TO and st.toggle(
        f"All {len(vocab)} {unit}s", key="gen_all_chars",
        help=f"Draw the whole vocabulary, not only the {figs.SHOWN_CHARS} most likely {unit}s.")  # fmt: skip
    page.chart(
        page.figure(
            figs.next_char_bars,
            vocab,
            step.probs_raw,
            generation_runs.distribution(step, temperature, top_k),
            step.token,
            temperature=temperature,
            top_k=top_k,
            shown=None if everything else figs.SHOWN_CHARS,
            title=f"step {index + 1}: every next {unit}'s probability, most likely first",
            unit=unit,
            style=style,
        ),
        key="gen_dist",
        name=f"generate-distribution-step{index + 1}-T{temperature:g}" + (f"-top{top_k}" if top_k else ""),
    )
    now = f"temperature {temperature:g}" + (f", top-k {top_k}" if top_k else ", no top-k")
    then = "" if now == knobs else f" This {unit} was sampled with {knobs}; Next samples with {now}."
    st.caption(
        "Left bar of each pair, light: the model's own distribution (temperature 1, no top-k). Right bar, dark: "
        f"after the temperature and top-k set above ({now}); it follows them as you change them.{then} The sampled "
        f"{unit}'s bars are in the accent colour."
    )
    if step.attention is not None:
        _attention(ctx, run, index, style)
    else:
        st.info(f"A bigram model reads only the last {unit}: there is no attention to show.", icon=":material/info:")
    tensors = {
        "probs_model": export.Named(step.probs_raw, ("char",)),
        "probs_sampled": export.Named(step.probs, ("char",)),
    }
    if step.attention is not None:
        tensors["attention_row"] = export.Named(step.attention.astype("float32"), ("layer", "head", "key"))
    st.caption("Download this step's numbers:")
    export.download_buttons(f"generate-step-{index + 1}", tensors, key="gen_export")


def _live(
    ctx: page.PageContext, run: generation_runs.GenRun, temperature: float, top_k: int | None, playing: bool
) -> None:
    """The step display; while playing it reruns on its own every PLAY_EVERY_S and samples what is due."""

    def body():
        if playing and st.session_state.get(PLAYING) and not run.full:
            if generation_runs.advance(run, ctx.ckpt, _due_characters(), temperature, top_k):
                st.session_state["gen_step"] = len(run.steps)
        _step_view(ctx, run, temperature, top_k)
        # the link replays this run when every step used the settings shown (Play adds steps here)
        st.session_state["gen_n"] = len(run.steps) if run.settings() <= {(temperature, top_k)} else 0

    # its own reruns keep the state and write the link
    page.fragment(body, run_every=PLAY_EVERY_S if playing else None)


def _teacher_forcing(ctx: page.PageContext) -> None:
    st.subheader("Teacher forcing: how surprised is the model by real text?")
    unit = ctx.prompt.unit
    st.caption(
        f"Feed the model a real passage and, at every position, read the probability it gives the {unit} "
        "that truly comes next. The loss is −log of that probability, the number training drives down."
    )
    source = controls.radio("Passage", TF_SOURCES, key="tf_source", horizontal=True, format_func=TF_SOURCES.get)
    need = ctx.config.block_size + 1
    text = None
    if source == "validation":
        name = captures.model_facts(ctx.ref)["data"]
        try:
            known = tuple(ctx.ckpt.tokenizer.chars) if ctx.ckpt.tokenizer.unit == "character" else ()
            val = generation_runs.validation_text(name, known) if name else ""
        except DataError as e:
            val = ""
            st.info(f"{e} Paste a passage with “my own passage” instead.", icon=":material/info:")
        else:
            if len(val) < 2:
                st.info(
                    "This checkpoint does not say what text it was trained on. Paste a passage with "
                    "“my own passage” instead.",
                    icon=":material/info:",
                )
        if len(val) >= 2:
            last = max(0, len(val) - need)
            if st.session_state.get("tf_offset", 0) > last:
                st.session_state["tf_offset"] = 0
            if last > 0:
                st.slider(
                    "Where in the validation text",
                    min_value=0,
                    max_value=last,
                    key="tf_offset",
                    help="The passage starts this many characters into the validation split (the text's last 10%).",
                )
            offset = st.session_state.get("tf_offset", 0)
            text = val[offset : offset + need]
    else:
        st.session_state.setdefault("tf_text", url_state.DEFAULT_PROMPT)
        text = st.text_area("Your passage", key="tf_text", height=120)
    if not text:
        return
    ids = generation_runs.encode_passage(ctx.ckpt, text)
    if len(ids) < 2:
        st.info(f"The passage needs at least two {unit}s the model knows.", icon=":material/edit:")
        return
    data = generation_runs.teacher_forcing(ctx.ref, ids)
    style = page.figure_style()
    surprising = data.surprising
    m = st.columns(3)
    m[0].metric("Mean loss on this passage", f"{data.mean_loss:.3f} nats")
    facts = captures.model_facts(ctx.ref)
    if facts["val_loss"] is not None:
        m[1].metric("The model's val loss", f"{facts['val_loss']:.3f} nats")
    m[2].metric(f"Surprising {unit}s", f"{int(surprising.sum())} of {len(data.loss)}")
    st.markdown(
        figs.passage_html(data.chars, data.loss, surprising, data.guess, data.p_true, style=style),
        unsafe_allow_html=True,
    )
    st.caption(
        f"The darker a {unit}, the more it surprised the model; outlined: it gave the true {unit} less than "
        f"{generation_runs.SURPRISE_P:.0%}. Hover a {unit} for its probability and the model's own guess."
    )
    page.chart(
        page.figure(
            figs.teacher_forcing,
            data.chars,
            data.p_true,
            data.loss,
            surprising=surprising,
            mean_loss=data.mean_loss,
            unit=unit,
            style=style,
        ),
        key="tf_chart",
        name="teacher-forcing",
    )
    order = sorted(range(len(data.loss)), key=lambda i: -data.loss[i])[:8]
    rows = [
        {
            "position": i + 1,
            "after": "…" + "".join(visible_char(c) for c in data.chars[max(0, i - 11) : i + 1]),
            "true next": visible_char(data.chars[i + 1]),
            "p(true)": round(float(data.p_true[i]), 4),
            "model guessed": visible_char(data.guess[i]),
            "p(guess)": round(float(data.guess_p[i]), 4),
        }
        for i in order
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    export.download_buttons(
        "teacher-forcing",
        {"p_true": export.Named(data.p_true, ("position",)), "loss": export.Named(data.loss, ("position",))},
        key="tf_export",
    )


def render() -> None:
    st.header("Generate")
    ctx = page.page_context()
    if ctx is None:
        return
    page.open_on_a_focused_head(ctx)
    if presenter.on():  # one row of buttons, the text and its pictures under it, the sampling knobs below them
        buttons, knobs, picture = presenter.stage()
    elif phone.on():  # the same order on a phone's screen: Next within a thumb's reach, the text under it
        buttons, picture, knobs = controls.row(), st.container(), st.container()
    else:  # the knobs, the buttons, the text
        knobs, buttons, picture = st.container(), controls.row(), st.container()
    with knobs:
        temperature, top_k, seed, count = _controls(ctx.ckpt.tokenizer.vocab_size, ctx.prompt.unit)
    run = _current_run(ctx, seed, temperature, top_k)
    _buttons(ctx, run, temperature, top_k, count, buttons)
    playing = bool(st.session_state.get(PLAYING)) and not run.full
    with picture:
        _live(ctx, run, temperature, top_k, playing)
    st.divider()
    _teacher_forcing(ctx)


if __name__ == "__main__":  # Streamlit runs a page file as __main__; tests import its STATE
    page.run(render, STATE)
