"""A model's training timeline for the pages: its frames (nanogpt.timeline) and what the model wrote
at each, computed once per frame and shared by every session."""

from __future__ import annotations

import streamlit as st

from nanogpt.generate import generate
from nanogpt.timeline import Frame, timeline, timeline_dir

from .captures import load_model
from .registry import ModelEntry, ModelRef, model_ref

SAMPLE_CHARS, SAMPLE_TEMPERATURE, SAMPLE_SEED = 200, 0.8, 1  # as the Train page samples


def frames(entry: ModelEntry) -> list[Frame]:
    """The frames of a model's timeline, [] without one; read again when its folder changes."""
    folder = timeline_dir(entry.path)
    return _frames(entry.path, folder.stat().st_mtime_ns if folder.is_dir() else 0)


@st.cache_data(max_entries=64, show_spinner=False)
def _frames(path: str, folder_mtime_ns: int) -> list[Frame]:
    return timeline(path)


def frame_entry(entry: ModelEntry, frame: Frame) -> ModelEntry:
    """A frame as a model the caches know: the checkpoint itself at its best step, else its snapshot."""
    return entry if frame.is_best else ModelEntry(f"{entry.label} at step {frame.step}", frame.path, "timeline")


@st.cache_data(max_entries=64, show_spinner="Sampling what the model wrote then…", hash_funcs={ModelRef: repr})
def sample(ref: ModelRef) -> str:
    """SAMPLE_CHARS characters the model writes after a newline (temperature 0.8, seed 1)."""
    ckpt = load_model(ref)
    start = (ckpt.tokenizer.encode("\n", errors="drop") or [0])[:1]  # a newline where the vocabulary has one
    ids = generate(ckpt.model, start, SAMPLE_CHARS, SAMPLE_TEMPERATURE, seed=SAMPLE_SEED)
    return ckpt.tokenizer.decode(ids[1:])


def frame_ref(entry: ModelEntry, frame: Frame) -> ModelRef:
    return model_ref(frame_entry(entry, frame))
