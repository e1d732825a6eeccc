"""The sidebar every page shares: which model, what it is, and the prompt."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from nanogpt import convert
from nanogpt.checkpoint import CheckpointError

from . import classroom, presenter, upload_state, url_state
from .backend import captures, imported, registry, train_jobs, uploads

_UPLOADS = "_uploads"  # upload_state's record: uploader file_id -> registered label, or False
_MODEL_PICK = "_model_pick"  # select_model's label, for the picker to take before it is drawn
_MODEL_AUTO = "_model_auto"  # the model a page chose for a session that has chosen none
SESSION_ONLY = (" (trained here)", " (uploaded)")  # registry.register_session_model's suffixes


def _suffix(name: str) -> str:
    return Path(name).suffix.lower().lstrip(".")


def _take_upload() -> None:
    """Register an uploaded model for this session (once per set of files) and select it."""
    files = st.file_uploader(
        "Upload a model, with its vocabulary if it is a .pt",
        type=[*imported.MODEL_TYPES, *imported.VOCAB_TYPES],
        accept_multiple_files=True,
        key="upload",
        help="A `.safetensors` from `python -m nanogpt train` or the Train page; nanoGPT's `ckpt.pt` with its "
        "`meta.pkl`; or the lecture's `gpt.py` weights (`torch.save(model.state_dict(), ...)`) with the text it "
        "was trained on. Without a vocabulary file, a .pt gets tiny Shakespeare's characters. Nothing in a file "
        "is run: weights are read as tensors only.",
    )
    new = upload_state.new_upload(files, _UPLOADS)
    if new is False:
        st.error("These files did not give a usable model (see above).")
    if not new:
        return
    models = [f for f in files if _suffix(f.name) in imported.MODEL_TYPES]
    vocabs = [f for f in files if _suffix(f.name) in imported.VOCAB_TYPES]
    if not models:
        st.info("Now add the model file (.safetensors, .pt or .pth).")  # a vocabulary came first: wait for it
        return
    if len(models) > 1 or len(vocabs) > 1:
        upload_state.remember_upload(files, _UPLOADS, False)
        st.error("Upload one model at a time, with at most one vocabulary file (meta.pkl or the training text).")
        return
    model, vocab = models[0], (vocabs[0] if vocabs else None)
    try:
        src = uploads.store(model.getvalue(), name=model.name)
        vocab_path = uploads.store(vocab.getvalue(), name=vocab.name) if vocab else imported.DEFAULT_VOCAB
    except uploads.UploadRefused as e:  # this session's share of the server is used up
        upload_state.remember_upload(files, _UPLOADS, False)
        st.error(str(e))
        return
    try:
        path = imported.as_safetensors(src, vocab_path)
    except CheckpointError as e:
        upload_state.remember_upload(files, _UPLOADS, False)
        message = str(e).replace(str(src), model.name)  # the server's temp paths mean nothing to the student
        st.error(upload_refusal(message.replace(str(vocab_path), vocab.name) if vocab else message, model.name))
        return
    entry = registry.register_session_model(Path(model.name).stem, path, source="uploaded")
    upload_state.remember_upload(files, _UPLOADS, entry.label)
    st.session_state["model"] = entry.label  # the picker is drawn after this, so this selects it


def upload_refusal(message: str, name: str) -> str:
    """The sentence a refused upload gets: the library's, with "upload" where the command line says
    "use" when torch.load itself failed (nanogpt.convert.unreadable: one wording for both)."""
    return convert.unreadable(name, verb="upload") if convert.UNREADABLE in message else message


def _prompt_size(ref: registry.ModelRef) -> None:
    """Under the prompt box: how many tokens (or characters) the model reads, and the cap on them."""
    try:
        ckpt = captures.load_model(ref)
    except (CheckpointError, OSError):
        return  # _facts said it
    prompt = captures.prepare_prompt(st.session_state.get("prompt", ""), ckpt)
    n = len(prompt.ids) + prompt.n_cropped
    st.caption(f"{n:,} {prompt.unit}{'' if n == 1 else 's'}" + (f" · the pages read the last {prompt.limit}"
               if prompt.n_cropped else ""))  # fmt: skip


def _facts(ref: registry.ModelRef) -> None:
    try:
        f = captures.model_facts(ref)
    except (CheckpointError, OSError) as e:
        st.error(str(e))
        return
    lines = []
    params = f"{f['n_params'] / 1e6:.2f}M parameters" if f["n_params"] else "parameters unknown"
    if f["model_type"] == "bigram":
        lines.append(f"**Bigram table** · {params} · vocab {f['vocab_size']}")
        lines.append("no attention: each next character depends on the last one only")
    else:
        lines.append(f"**{params}**")
        lines.append(f"{f['n_layer']} layers × {f['n_head']} heads · width {f['n_embd']} (head size {f['head_size']})")
        lines.append(
            f"context {f['block_size']:,} {f['unit']}s · scale 1/√{f['attn_scale']}"
            if f["attn_scale"] != "none"
            else f"context {f['block_size']:,} {f['unit']}s · unscaled"
        )
    if f.get("nanochat"):
        lines += nanochat_facts(f)
    if f["val_loss"] is not None:
        lines.append(f"val loss **{f['val_loss']:.3f}**" + (f" at step {f['step']}" if f["step"] is not None else ""))
    if f["data"]:
        lines.append(f"trained on `{Path(f['data']).name}`")
    if f["source_format"]:
        source = imported.SOURCE_NAMES.get(f["source_format"], f["source_format"])
        lines.append(f"from {source} `{Path(f['source_file']).name}`")
        if f["source_vocab"] == convert.GPT2:
            lines.append(f"vocabulary: GPT-2's {f['vocab_size']:,} tokens (byte-pair encoding)")
        elif f["source_vocab"] == imported.DEFAULT_VOCAB:
            lines.append("vocabulary: tiny Shakespeare's characters, the default (no vocabulary file came with it)")
        else:
            lines.append(f"vocabulary from `{Path(f['source_vocab']).name}`")
    st.caption("  \n".join(lines))


def nanochat_facts(f: dict) -> list[str]:
    """The lines a nanochat run adds: stage, step, depth, val_bpb, era, grouped heads, windows."""
    run = f["nanochat"]
    bpb = f" · val_bpb **{run['val_bpb']:.4f}**" if run.get("val_bpb") is not None else ""
    lines = [f"nanochat **{run['stage']}** · step {run['step']:,} · depth {run['depth']}{bpb}",
             f"era **{run['era']}** ({run['era_dates']})" + (f": {run['era_note']}" if run["era_note"] else
                                                              "")]  # fmt: skip
    if f["n_kv_head"] != f["n_head"]:
        lines.append(f"{f['n_head']} query heads share {f['n_kv_head']} key/value heads")
    if any(w is not None and w < run["sequence_len"] for w in run["windows"]):
        shown = ", ".join("full" if w is None or w >= run["sequence_len"] else str(w) for w in run["windows"])
        lines.append(f"sliding windows per layer: {shown}")
    if run["context"] < run["sequence_len"]:
        lines.append(f"prompts cut to {run['context']:,} tokens (trained on {run['sequence_len']:,}) so that a "
                     "capture of every head fits in memory")  # fmt: skip
    return lines


def _missing_model(labels: list[str]) -> None:
    """A link that names a model this session does not have (trained or uploaded in another session,
    or before a refresh) opens the default: say so, never swap it silently."""
    asked = url_state.opened_with().get("model")
    if not (asked and asked not in labels and st.session_state.get("model") == labels[0]):
        return
    if asked.endswith(SESSION_ONLY):
        st.warning(
            f"The link asked for **{asked}**, which this session does not have: a model trained or uploaded in "
            "the browser lives in that browser session only, and a refresh or a new tab starts a new one. "
            f"Showing **{labels[0]}** instead. To keep a trained model, download it and upload it here again.",
            icon=":material/report:",
        )
    else:  # a name no session could have: a typo, or a model this server was never given
        shown = asked if len(asked) <= 40 else asked[:40] + "…"
        st.warning(
            f"The link asked for a model named **{shown}**, and this app has no model of that name (it has "
            + ", ".join(f"**{label}**" for label in labels[:6])
            + (", …" if len(labels) > 6 else "")
            + f"). Showing **{labels[0]}** instead.",
            icon=":material/report:",
        )


def _session_only(entry: registry.ModelEntry) -> None:
    """A model trained or uploaded here lives in this browser session only: say so, and offer the
    trained file before a refresh loses it."""
    if entry.source not in ("trained", "uploaded"):
        return
    st.caption("In this browser session only: a refresh or a new tab starts without it.")
    if entry.source == "trained":
        path = Path(entry.path)
        st.download_button(
            "Download it",
            data=lambda: path.read_bytes(),
            file_name=path.name,
            mime="application/octet-stream",
            key="model_download",
            on_click="ignore",
            icon=":material/download:",
            help="A .safetensors file: upload it again in the sidebar, or `python -m nanogpt sample --ckpt FILE`.",
        )


def select_model(label: str) -> None:
    """Show this model on every page from the next full run (then st.rerun).

    The picker takes it before it is drawn (_take_model_pick). Setting the picker's key from a
    fragment or a callback is not enough: the browser still holds the picker's old value and sends
    it back on the next run."""
    st.session_state[_MODEL_PICK] = label


def _take_model_pick() -> None:
    label = st.session_state.pop(_MODEL_PICK, None)
    if label is not None:
        st.session_state["model"] = label


def _page_model(labels: list[str], preferred: str) -> None:
    """Until the session chooses a model, each page opens on its own (pages.PageInfo.model: the Lesson on
    the lecture's model, Induction on the one that has induction heads), the rest on the app's default.

    Chosen means the model is not the one this function set last: the picker, a link, a Lesson step, an
    upload, Train's "Look at it" or the teacher's view put it there, and it stays on every page."""
    ss = st.session_state
    current = ss.get("model")
    if current is not None and current != ss.get(_MODEL_AUTO):
        return
    ss["model"] = ss[_MODEL_AUTO] = preferred if preferred in labels else labels[0]


def render(preferred: str = "") -> registry.ChosenModel | None:
    """Draw the sidebar; the chosen model's label ends up in st.session_state['model']. Returns that
    model resolved (registry.resolve: the run's one resolution, which app.py hands down), None when
    there is none.

    `preferred` is the page's own model while the session has chosen none (_page_model)."""
    registry.remember_run_models(None)  # until this run's list is made
    chosen = None
    with st.sidebar:
        st.markdown("### :material/science: Attention lab")
        st.toggle(
            "Presenter mode",
            key="presenter",
            help="Bigger text and figure labels, colour-blind-safe colours, less chrome. Kept in the link.",
        )
        presenter.apply()
        picker = st.container()
        with st.expander("Use your own checkpoint"):
            _take_upload()
        train_jobs.register_finished()  # a run of this session that ended since the last run
        entries = registry.available_models()
        registry.remember_run_models(entries)  # the page reads the same list
        with picker:
            problem = imported.opened()[1]
            if problem:
                st.error(problem)
            if not entries:
                st.warning(f"No `.safetensors` checkpoints in `{registry.shown_path(registry.checkpoint_dir())}` yet.")
                st.session_state.pop("model", None)
            else:
                labels = [e.label for e in entries]
                _take_model_pick()  # e.g. Induction's "Show python-small"
                _page_model(labels, preferred)
                url_state.clamp("model", labels, default=labels[0], explained=True)  # _missing_model says why
                _missing_model(labels)
                label = st.selectbox("Model", labels, key="model")
                try:
                    chosen = registry.resolve(label)
                except OSError as e:  # its file went away since the list was made
                    st.error(str(e))
                if chosen is not None:
                    _facts(chosen.ref)
                    _session_only(chosen.entry)
        st.text_area(
            "Prompt",
            key="prompt",
            height=200,
            help="Every page runs the model on this text. Characters the model never saw are dropped.",
        )
        if chosen is not None:
            _prompt_size(chosen.ref)
        st.radio(
            "Figures download as",
            url_state.FIGURE_FORMATS,
            key="fig_format",
            horizontal=True,
            format_func=str.upper,
            help="The camera button at the top right of every figure saves it in this format, in your browser.",
        )
        classroom.sidebar()
    return chosen
