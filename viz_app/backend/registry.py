"""Which models the app can show: the shipped checkpoints, uploaded files, and models trained in
this browser session.

Every model is a checkpoint file on disk, so one loader (and one cache) serves them all: an upload
is stored by uploads.store, and the Train page saves what it trains and calls
`register_session_model`. The registry of uploads and trained models lives in
st.session_state, so one student's models never show up in another student's sidebar.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from . import imported

CHECKPOINTS_ENV = "ATTENTION_LAB_CHECKPOINTS"  # tests and other setups point the app elsewhere
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CHECKPOINT = "shakespeare-small"
SESSION_MODELS_KEY = "session_models"  # st.session_state: label -> ModelEntry


@dataclass(frozen=True)
class ModelEntry:
    label: str  # what the sidebar shows and the URL keeps
    path: str
    source: str  # "shipped" | "uploaded" | "trained" | "opened" (make app CKPT=...)


def shown_path(path: str | os.PathLike) -> str:
    """A path as a page shows it: relative to the project (checkpoints/ablations.json), never this
    machine's absolute path, which means nothing on a student's screen."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return Path(path).name


def checkpoint_dir() -> Path:
    return Path(os.environ.get(CHECKPOINTS_ENV) or REPO_ROOT / "checkpoints")


def shipped_models() -> list[ModelEntry]:
    """Every *.safetensors in the checkpoint directory, the default model first."""
    folder = checkpoint_dir()
    paths = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    entries = [ModelEntry(p.stem, str(p), "shipped") for p in paths]
    entries.sort(key=lambda e: e.label != DEFAULT_CHECKPOINT)  # stable: the rest stay alphabetical
    return entries


def opened_model() -> ModelEntry | None:
    """The model `make app CKPT=...` opened, converted if it has to be; offered to every session."""
    path = imported.opened()[0]
    return ModelEntry(f"{Path(os.environ[imported.OPEN_ENV]).stem} (opened)", path, "opened") if path else None


def session_models() -> list[ModelEntry]:
    return list(st.session_state.get(SESSION_MODELS_KEY, {}).values())


def register_session_model(label: str, path: str | os.PathLike, source: str = "trained") -> ModelEntry:
    """Make a checkpoint file selectable in this session's sidebar (the Train page calls this)."""
    suffix = {"trained": " (trained here)", "uploaded": " (uploaded)"}.get(source, "")
    entry = ModelEntry(label if label.endswith(suffix) else label + suffix, str(path), source)
    st.session_state.setdefault(SESSION_MODELS_KEY, {})[entry.label] = entry
    return entry


def available_models() -> list[ModelEntry]:
    """The opened model (the default), shipped checkpoints, then this session's uploads and trained
    models; labels are unique."""
    opened = opened_model()
    seen, out = set(), []
    for entry in ([opened] if opened else []) + shipped_models() + session_models():
        if entry.label not in seen and Path(entry.path).is_file():
            seen.add(entry.label)
            out.append(entry)
    return out


def model_id(entry: ModelEntry) -> str:
    """The caches' name for a model: its path plus mtime and size, so a rewritten file reloads."""
    info = os.stat(entry.path)
    return f"{entry.path}::{info.st_mtime_ns}::{info.st_size}"


def path_of(model_id: str) -> str:
    return model_id.rsplit("::", 2)[0]
