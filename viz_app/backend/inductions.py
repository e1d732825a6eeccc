"""The induction probe for the pages (nanogpt.induction), once per (model, length, seed) and shared;
for a model with a timeline, every head's score at each saved step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from nanogpt.induction import induction

from .captures import _BY_VALUE, _frozen, load_model
from .registry import ModelEntry, ModelRef
from .timelines import frame_ref, frames


@dataclass
class Probe:
    text: str | tuple[str, ...]  # the probe's 2n characters, or its tokens' labels
    n: int
    scores: np.ndarray  # (L, H) induction scores
    prev_scores: np.ndarray  # (L, H)
    per_position_loss: np.ndarray  # (2n - 1,)
    ablated_per_position_loss: np.ndarray  # (2n - 1,)
    loss_first: float
    loss_second: float
    ablated_loss_second: float
    ablated_heads: tuple[tuple[int, int], ...]
    patterns: np.ndarray  # (L, H, 2n, 2n)
    bos: bool = False  # the probe ran after <|bos|> (nanochat), which its maps leave out


@st.cache_resource(max_entries=32, show_spinner="Running the induction probe…", hash_funcs=_BY_VALUE)
def probe(ref: ModelRef, length: int, seed: int) -> Probe:
    ckpt = load_model(ref)
    tok = ckpt.tokenizer
    bos = getattr(tok, "bos", None)  # nanochat: the probe runs after <|bos|>, as its texts all did
    bos_id = tok.special_tokens[bos] if bos else None
    r = induction(ckpt.model, length, seed, ids=tok.probe_ids(), bos=bos_id)
    return Probe(
        text=tok.decode(r.tokens) if tok.unit == "character" else tuple(tok.labels(r.tokens)),
        n=r.n,
        scores=_frozen(r.scores.numpy()),
        prev_scores=_frozen(r.prev_scores.numpy()),
        per_position_loss=_frozen(r.per_position_loss.numpy()),
        ablated_per_position_loss=_frozen(r.ablated_per_position_loss.numpy()),
        loss_first=r.loss_first,
        loss_second=r.loss_second,
        ablated_loss_second=r.ablated_loss_second,
        ablated_heads=tuple(r.ablated_heads),
        patterns=_frozen(r.patterns.numpy()),
        bos=bos_id is not None,
    )


@dataclass
class ScoresOverTraining:
    steps: list[int]
    scores: np.ndarray  # (S, L, H): every head's induction score at each saved step
    loss_first: np.ndarray  # (S,)
    loss_second: np.ndarray  # (S,)


def over_training(entry: ModelEntry, length: int, seed: int) -> ScoresOverTraining | None:
    """The probe at every frame of the model's timeline; None for a model without one."""
    saved = frames(entry)
    if len(saved) < 2:
        return None
    probes = [probe(frame_ref(entry, frame), length, seed) for frame in saved]
    return ScoresOverTraining(
        steps=[frame.step for frame in saved],
        scores=np.stack([p.scores for p in probes]),
        loss_first=np.array([p.loss_first for p in probes]),
        loss_second=np.array([p.loss_second for p in probes]),
    )
