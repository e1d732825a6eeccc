"""The sidebar every page shares: which model, what it is, and the prompt."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from nanogpt.checkpoint import CheckpointError, read_metadata

from . import page, url_state
from .backend import captures, registry, train_jobs, uploads

_UPLOADS = "_uploads"  # page.new_upload's record: uploader file_id -> registered label, or False


def _take_upload() -> None:
    """Register an uploaded checkpoint for this session (once per file) and select it."""
    upload = st.file_uploader(
        "Upload a checkpoint (.safetensors)",
        type=["safetensors"],
        key="upload",
        help="A file saved by `python -m nanogpt train` or downloaded from the Train page.",
    )
    new = page.new_upload(upload, _UPLOADS)
    if new is False:
        st.error(f"{upload.name} is not a usable checkpoint (see above).")
    if not new:
        return
    path = uploads.store(upload.getvalue(), ".safetensors")
    try:
        read_metadata(path)
    except CheckpointError as e:
        page.remember_upload(upload, _UPLOADS, False)
        st.error(str(e).replace(str(path), upload.name))
        return
    entry = registry.register_session_model(Path(upload.name).stem, path, source="uploaded")
    page.remember_upload(upload, _UPLOADS, entry.label)
    st.session_state["model"] = entry.label  # the picker is drawn after this, so this selects it


def _facts(entry: registry.ModelEntry) -> None:
    try:
        f = captures.model_facts(registry.model_id(entry))
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
            f"context {f['block_size']} characters · scale 1/√{f['attn_scale']}"
            if f["attn_scale"] != "none"
            else f"context {f['block_size']} characters · unscaled"
        )
    if f["val_loss"] is not None:
        lines.append(f"val loss **{f['val_loss']:.3f}**" + (f" at step {f['step']}" if f["step"] is not None else ""))
    if f["data"]:
        lines.append(f"trained on `{Path(f['data']).name}`")
    st.caption("  \n".join(lines))


def render() -> None:
    """Draw the sidebar; the chosen model's label ends up in st.session_state['model']."""
    with st.sidebar:
        st.markdown("### :material/science: Attention lab")
        st.toggle(
            "Presenter mode",
            key="presenter",
            help="Bigger text and figure labels, colour-blind-safe colours, less chrome. Kept in the link.",
        )
        page.apply_presenter_css()
        picker = st.container()
        with st.expander("Use your own checkpoint"):
            _take_upload()
        train_jobs.register_finished()  # a run of this session that ended since the last run
        entries = registry.available_models()
        with picker:
            if not entries:
                st.warning(f"No `.safetensors` checkpoints in `{registry.checkpoint_dir()}` yet.")
                st.session_state.pop("model", None)
            else:
                labels = [e.label for e in entries]
                url_state.clamp_choice("model", labels, default=labels[0])
                label = st.selectbox("Model", labels, key="model")
                _facts(next(e for e in entries if e.label == label))
        st.text_area(
            "Prompt",
            key="prompt",
            height=200,
            help="Every page runs the model on this text. Characters the model never saw are dropped.",
        )
        st.session_state.setdefault("fig_format", "png")
        st.radio(
            "Figures download as",
            page.FIGURE_FORMATS,
            key="fig_format",
            horizontal=True,
            format_func=str.upper,
            help="The camera button at the top right of every figure saves it in this format, in your browser.",
        )
