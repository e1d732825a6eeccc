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

from nanogpt import shipped

from . import imported

CHECKPOINTS_ENV = "ATTENTION_LAB_CHECKPOINTS"  # tests and other setups point the app elsewhere
DEFAULT_CHECKPOINT = "shakespeare-small"
SESSION_MODELS_KEY = "session_models"  # st.session_state: label -> ModelEntry
_RUN_MODELS = "_run_models"  # this run's available_models(), listed once by the sidebar


@dataclass(frozen=True)
class ModelEntry:
    label: str  # what the sidebar shows and the URL keeps
    path: str
    source: str  # "shipped" | "uploaded" | "trained" | "opened" (make app CKPT=...) | "timeline" | "untrained"


@dataclass(frozen=True)
class ModelRef:
    """A model as the caches know it, resolved once per run and passed down: its file and the version
    of it (a rewritten file is another model). untrained: the file's config and training seed with
    fresh weights, the real step 0 of its run (nothing is written to disk for it)."""

    path: str
    mtime_ns: int
    size: int
    untrained: bool = False


def shown_path(path: str | os.PathLike) -> str:
    """A path as a page shows it: relative to the project (checkpoints/ablations.json, in a checkout
    and in an installed package alike), never this machine's absolute path, which means nothing on a
    student's screen."""
    try:
        return str(Path(path).resolve().relative_to(shipped.ROOT))
    except ValueError:
        return Path(path).name


def checkpoint_dir() -> Path:
    return Path(os.environ.get(CHECKPOINTS_ENV) or shipped.path("checkpoints"))


def shipped_models() -> list[ModelEntry]:
    """Every *.safetensors in the checkpoint directory, the default model first."""
    folder = checkpoint_dir()
    paths = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    entries = [ModelEntry(p.stem, str(p), "shipped") for p in paths]
    entries.sort(key=lambda e: e.label != DEFAULT_CHECKPOINT)  # stable: the rest stay alphabetical
    return entries


def opened_models() -> list[ModelEntry]:
    """The model `make app CKPT=...` opened, converted if it has to be, or every saved step of the nanochat
    run it names (the one it opens on first); offered to every session."""
    steps = imported.opened_nanochat()[0]
    if steps:
        return [ModelEntry(label, path, "opened") for label, path in steps]
    path = imported.opened()[0]
    return [ModelEntry(f"{Path(os.environ[imported.OPEN_ENV]).stem} (opened)", path, "opened")] if path else []


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
    seen, out = set(), []
    for entry in opened_models() + shipped_models() + session_models():
        if entry.label not in seen and Path(entry.path).is_file():
            seen.add(entry.label)
            out.append(entry)
    return out


def remember_run_models(entries: list[ModelEntry] | None) -> None:
    """The sidebar lists the models once per run (after an upload or a finished training registered
    theirs); the page reads the same list (run_models). None forgets the last run's."""
    st.session_state[_RUN_MODELS] = None if entries is None else list(entries)


def run_models() -> list[ModelEntry]:
    """This run's models: the sidebar's list, or a fresh one where no sidebar ran."""
    entries = st.session_state.get(_RUN_MODELS)
    return available_models() if entries is None else entries


@dataclass(frozen=True)
class ChosenModel:
    """The model a run shows, resolved: its entry among the run's models and the caches' handle on it."""

    entry: ModelEntry
    ref: ModelRef


def resolve(label: str | None) -> ChosenModel | None:
    """The run's model labelled `label` (None: no such model): a lookup in run_models and an os.stat
    (model_ref). A full run does it once, in the sidebar; app.py hands the result down (url_state.run_model).
    Raises OSError when the file went away since the list was made."""
    entry = next((e for e in run_models() if e.label == label), None)
    return None if entry is None else ChosenModel(entry, model_ref(entry))


def model_ref(entry: ModelEntry) -> ModelRef:
    """The caches' handle on an entry's model: its path plus mtime and size, so a rewritten file reloads."""
    info = os.stat(entry.path)
    return ModelRef(entry.path, info.st_mtime_ns, info.st_size, untrained=entry.source == "untrained")
