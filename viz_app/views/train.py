"""Train: a fresh model from the browser, with a live loss curve, samples, attention forming, Stop."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from nanogpt.config import PRESETS, TRAIN_DTYPES, make_train_config
from nanogpt.data import DataError, tinyshakespeare_path
from nanogpt.train import pick_device, resolve_dtype
from viz_app import controls, export, page, url_state
from viz_app.backend import train_jobs
from viz_app.figures import attention as attention_figs
from viz_app.figures import heads
from viz_app.figures import train as figs
from viz_app.pages import PAGES, state_of
from viz_app.url_state import Key

SOURCES = ("tinyshakespeare", "shakespeare-plays", "python-stdlib", "upload")
CONFIG_WIDGETS = {  # widget key -> the TrainConfig / GPTConfig field it sets (sizes, steps, lr, ...)
    "tr_layers": "n_layer",
    "tr_heads": "n_head",
    "tr_embd": "n_embd",
    "tr_block": "block_size",
    "tr_steps": "max_iters",
    "tr_eval_every": "eval_interval",
    "tr_batch": "batch_size",
    "tr_lr": "learning_rate",
    "tr_eval_iters": "eval_iters",
}
JOB = train_jobs.JOB_KEY
_COUNT = "_tr_count"
_PRESET_OF = "_tr_preset_of"  # the preset the size fields were last filled from
POLL_S = 1.0


def preset_values(preset: str) -> dict:
    cfg = make_train_config(preset)
    values = {}
    for key, name in CONFIG_WIDGETS.items():
        values[key] = getattr(cfg.model, name) if hasattr(cfg.model, name) else getattr(cfg, name)
    values["tr_lr"] = float(values["tr_lr"])
    return values


STATE = (  # in the link when not the default; the sizes start from the preset (see _fill_from_preset)
    Key("tr_data", "tinyshakespeare", choices=SOURCES, url="changed"),
    Key("tr_preset", "baby", choices=tuple(PRESETS), url="changed"),
    *(Key(name, value, lo=0, url="changed") for name, value in preset_values("baby").items()),
    Key("tr_dtype", "auto", choices=TRAIN_DTYPES, url="changed"),
)


DTYPE_HELP = (
    "bf16 autocast runs the matrix products in bfloat16 where the hardware has it (CUDA, CPUs with AVX512-BF16 "
    "or AMX): faster for wide models, slower for small ones and on CPUs without it. The weights stay float32."
)


def _dtype_label(setting: str) -> str:
    if setting == "auto":
        return f"auto ({resolve_dtype('auto', pick_device()).replace('bfloat16', 'bf16')} on this server)"
    return {"float32": "float32", "bfloat16": "bf16 autocast"}[setting]


def _fill_from_preset() -> None:
    """Fill the size fields from the preset when it changes (on a link's first run, its own values win)."""
    ss = st.session_state
    preset = ss["tr_preset"]
    if ss.get(_PRESET_OF) == preset:
        return
    from_link = url_state.opened_with() if _PRESET_OF not in ss else {}
    for key, value in preset_values(preset).items():
        if key not in from_link:
            ss[key] = value
    ss[_PRESET_OF] = preset


def _source_label(source: str) -> str:
    if source == "tinyshakespeare":
        try:
            tinyshakespeare_path(download=False)  # shipped in data/: always there in the app
            return "tiny Shakespeare"
        except DataError:
            return "tiny Shakespeare (missing from data/)"
    return {
        "shakespeare-plays": "Shakespeare's plays (offline)",
        "python-stdlib": "Python's own source code (offline: where induction heads form)",
        "upload": "my own .txt file",
    }[source]


def _data_choice() -> tuple[str | None, str | None]:
    """(the data source for the config, an error to show instead)."""
    source = controls.radio("Text to train on", SOURCES, key="tr_data", horizontal=True, format_func=_source_label)
    if source != "upload":
        return source, None
    upload = st.file_uploader(
        "A UTF-8 text file",
        type=["txt"],
        key="tr_upload",
        help="Plain text, UTF-8, long enough for 10% of it to hold a few contexts.",
    )
    if upload is None:
        return None, "Upload a .txt file to train on it."
    path, problem = _check_upload(upload.name, upload.getvalue(), int(st.session_state["tr_block"]))
    if not path.exists():  # the temp folder was cleaned since the check was cached
        path = train_jobs.save_text(upload.name, upload.getvalue())
    return (None, problem) if problem else (str(path), None)


@st.cache_data(max_entries=16, show_spinner="Reading the text…")
def _check_upload(name: str, data: bytes, block_size: int) -> tuple[Path, str | None]:
    return train_jobs.check_text(name, data, block_size)


def _settings() -> str:
    """The preset and its main sizes; returns the preset."""
    cols = st.columns([1.4, 1, 1, 1, 1, 1.2])
    with cols[0]:
        preset = st.selectbox("Preset", list(PRESETS), key="tr_preset", help="baby: nanoGPT's CPU config; lecture: "
                              "the 10.8M model of the video; bigram: the lecture's first model.")  # fmt: skip
    bigram = preset == "bigram"
    with cols[1]:
        st.number_input("Layers", min_value=1, max_value=12, step=1, key="tr_layers", disabled=bigram)
    with cols[2]:
        st.number_input("Heads", min_value=1, max_value=12, step=1, key="tr_heads", disabled=bigram)
    with cols[3]:
        st.number_input("Width (n_embd)", min_value=8, max_value=768, step=8, key="tr_embd", disabled=bigram)
    with cols[4]:
        st.number_input("Context", min_value=4, max_value=512, step=4, key="tr_block", help="block_size: characters a "
                        "prediction can look back on.")  # fmt: skip
    with cols[5]:
        st.number_input("Steps", min_value=1, max_value=100_000, step=50, key="tr_steps")
    with st.expander("More settings"):
        c = st.columns(5)
        c[0].number_input("Evaluate every (steps)", min_value=1, max_value=100_000, step=10, key="tr_eval_every")
        c[1].number_input("Batches per evaluation", min_value=1, max_value=1000, step=5, key="tr_eval_iters")
        c[2].number_input("Batch size", min_value=1, max_value=512, step=4, key="tr_batch")
        c[3].number_input("Learning rate", min_value=1e-5, max_value=1.0, step=1e-4, format="%.5f", key="tr_lr")
        controls.dropdown(
            "Compute in", TRAIN_DTYPES, key="tr_dtype", host=c[4], format_func=_dtype_label, help=DTYPE_HELP
        )
    return preset


def _make_config(preset: str, data: str):
    ss = st.session_state
    overrides = {name: ss[key] for key, name in CONFIG_WIDGETS.items()} | {"dtype": ss["tr_dtype"]}
    if preset == "bigram":
        for name in ("n_layer", "n_head", "n_embd"):
            overrides.pop(name)
    return make_train_config(preset, data=data, **overrides)


def _start(preset: str, data: str) -> train_jobs.TrainJob | None:
    ss = st.session_state
    try:
        cfg = _make_config(preset, data)
    except ValueError as e:
        st.error(f"These settings do not make a model: {e}")
        return None
    ss[_COUNT] = ss.get(_COUNT, 0) + 1
    ss[JOB] = job = train_jobs.TrainJob(cfg, f"my-{preset}-{ss[_COUNT]}").start()
    ss.pop("tr_snap", None)
    return job


def _progress(view: train_jobs.JobView, job: train_jobs.TrainJob) -> None:
    words = {
        "waiting": "waiting for a free training slot (other sessions are training)",
        "loading": "reading the text",
        "running": "training",
        "stopping": "stopping after this step",
        "done": "done",
        "stopped": "stopped; what it learned is kept",
        "failed": "failed",
    }
    fraction = min(1.0, view.step / max(1, view.max_iters))
    last = f" · batch loss {view.losses[-1]:.3f}" if len(view.losses) else ""
    rate = f" · {view.steps_per_s:.1f} steps/s" if view.step else ""
    st.progress(fraction, text=f"{words[view.status]} · step {view.step} of {view.max_iters}{last}{rate}")
    if view.status == "waiting":
        active, waiting = train_jobs.server_load()
        st.caption(
            f"{active} run(s) training on this server, {waiting} waiting; at most {train_jobs.max_running()} at once."
        )
    if view.active:
        st.button("Stop", key="tr_stop", icon=":material/stop:", on_click=page.guarded(job.stop),
                  help="Stop after the step in flight; the model keeps what it learned and appears in the "
                  "sidebar.")  # fmt: skip


def _samples(view: train_jobs.JobView) -> None:
    if not view.samples:
        return
    step, text = view.samples[-1]
    st.markdown(
        f"**Sample at step {step}** (temperature {train_jobs.SAMPLE_TEMPERATURE}, seed {train_jobs.SAMPLE_SEED})"
    )
    st.code(text, language=None)
    if len(view.samples) > 1:
        with st.expander(f"Samples at all {len(view.samples)} evaluations"):
            for step, text in reversed(view.samples):
                st.markdown(f"step {step}")
                st.code(text, language=None)


def _attention_forming(view: train_jobs.JobView) -> None:
    if not view.snapshots:
        return
    ss = st.session_state
    st.subheader("Watch attention form")
    steps = [s.step for s in view.snapshots]
    if ss.get("tr_snap") not in steps or ss.get("_tr_snap_latest") == ss.get("tr_snap"):
        ss["tr_snap"] = steps[-1]  # follow the newest until the student scrubs back
    ss["_tr_snap_latest"] = steps[-1]
    if len(steps) > 1:
        at = st.select_slider("Training step", steps, key="tr_snap", help="Scrub through training: the attention of "
                              "the same prompt, captured every few evaluations.")  # fmt: skip
    else:
        at = steps[0]
    snap = view.snapshots[steps.index(at)]
    style = page.figure_style()
    chars = view.capture_text
    page.chart(
        page.figure(attention_figs.model_grid, snap.patterns, chars, style=style),
        key="tr_grid",
        name=f"train-attention-step{at}",
    )
    layer, head, _ = controls.layer_head_picker(view.n_layer, view.n_head, keys=("tr_layer", "tr_head"))
    page.chart(
        page.figure(
            heads.head_heatmap,
            snap.patterns[layer, head],
            chars,
            title=f"step {at} · layer {layer} · head {head}",
            height=460,
            style=style,
        ),
        key="tr_head_map",
        name=f"train-L{layer}H{head}-step{at}",
    )
    st.caption(f"The prompt is the same at every step: “{chars[:40].replace(chr(10), ' ↵ ')}…”.")
    export.download_buttons(
        f"train-attention-step{at}",
        {"weights": export.Named(snap.patterns, ("layer", "head", "query", "key"))},
        key="tr_export",
    )


def _finished(view: train_jobs.JobView, job: train_jobs.TrainJob) -> None:
    if view.status == "failed":
        st.error(f"Training failed: {view.error}")
        return
    label = train_jobs.register_finished()
    if label is None:
        st.warning(view.error or "The run ended before it saved a model.")
        return
    best = f" (val loss {view.best_val:.3f})" if view.best_val is not None else ""
    st.success(
        f"Trained for {view.step} steps{best}. It is in the sidebar as **{label}**, for every page of this browser "
        "session: a refresh or a new tab starts a new session without it, so download it to keep it."
    )
    row = controls.row()
    # a link (url_state.link), not st.switch_page and its three browser-history entries; it names no zoom
    # window: the window follows the model, and the Attention page opens the new model's own
    row.page_link(
        PAGES["attention"].file,
        label="Look at it",
        icon=":material/grid_on:",
        query_params=url_state.link("attention", state_of("attention"), model=label, window=None),
    )
    path = Path(view.checkpoint)
    row.download_button(
        "Download .safetensors",
        data=lambda: path.read_bytes(),
        file_name=f"{view.label}.safetensors",
        mime="application/octet-stream",
        key="tr_download",
        on_click="ignore",
        icon=":material/download:",
        help="Load it with `python -m nanogpt sample --ckpt FILE`, or upload it in the sidebar elsewhere.",
    )


def _live(job: train_jobs.TrainJob, active: bool) -> None:
    def body():
        view = job.view()
        if active and not view.active:
            train_jobs.register_finished()
            st.rerun()  # the whole app: the sidebar lists the new model, and polling stops
        _progress(view, job)
        style = page.figure_style()
        if len(view.steps) or view.evals:
            page.chart(
                page.figure(
                    figs.loss_curves, view.steps, view.losses, view.evals, max_iters=view.max_iters, style=style
                ),
                key="tr_curve",
                name="train-loss",
            )
        _samples(view)
        _attention_forming(view)
        if not view.active:
            _finished(view, job)

    # its own reruns keep the state and write the link
    page.fragment(body, run_every=POLL_S if active else None)


def render() -> None:
    st.header("Train")
    st.caption(
        "Train a fresh model right here. The run happens in the background: keep exploring other pages, "
        "and come back to watch the loss fall and attention form."
    )
    job: train_jobs.TrainJob | None = st.session_state.get(JOB)
    active = job is not None and job.view().active
    _fill_from_preset()  # before anything reads the sizes: the upload check needs the context
    data, problem = _data_choice()
    preset = _settings()
    if problem:
        (st.info if problem.startswith("Upload a") else st.error)(problem)
    if st.button(
        "Train", key="tr_start", type="primary", icon=":material/model_training:", disabled=active or not data
    ):
        started = _start(preset, data)
        if started is not None:
            job, active = started, True
    if job is not None:
        _live(job, active)


if __name__ == "__main__":  # Streamlit runs a page file as __main__; tests import its STATE
    page.run(render, STATE)
