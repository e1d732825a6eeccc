"""Cached loaders: every number a page shows comes from here, computed by nanogpt.

The model is loaded once per checkpoint file and shared by every session (st.cache_resource);
nanogpt's run_with_cache keeps concurrent captures apart. Captures are cached per (model, prompt
ids, scale setting) and come back as read-only numpy arrays holding only what the pages draw. They
are st.cache_resource, not st.cache_data: every session that asks for the same capture gets the
same arrays, not a copy unpickled on every run (megabytes each, on every rerun of every page).
Pages never touch torch.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from nanogpt import metrics
from nanogpt.capture import Cache, run_with_cache
from nanogpt.checkpoint import Checkpoint, load_checkpoint, read_metadata
from nanogpt.config import scale_value
from nanogpt.model import GPT

from .registry import path_of

# One torch thread per capture: a class sends dozens of small forwards at once, each in its own
# script thread, and two OpenMP threads apiece left the cores spinning for each other (a capture of
# 117 characters took seconds of server CPU under 30 sessions, 20 ms alone). Threads started later
# begin with this count; a training run sets its own (train_jobs.limit_threads).
torch.set_num_threads(1)

ATTENTION_HOOKS = r"blocks\.\d+\.attn\.hook_(q|k|scores|pattern)"
RESIDUAL_HOOKS = r"blocks\.\d+\.hook_(resid_pre|resid_mid|resid_post|attn_out|mlp_out)"


# --- models -------------------------------------------------------------------------------------


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def load_model(model_id: str) -> Checkpoint:
    """One model per checkpoint file (and version of it), shared by every session."""
    return load_checkpoint(path_of(model_id))


@st.cache_data(max_entries=256, show_spinner=False)
def model_facts(model_id: str) -> dict:
    """What the sidebar says about a model, from the file's metadata alone (no weights read)."""
    meta = read_metadata(path_of(model_id))
    cfg = meta["model_config"]
    data = meta.get("data") or {}
    return dict(
        model_type=cfg.model_type,
        n_params=meta.get("n_params"),
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
        head_size=cfg.head_size,
        block_size=cfg.block_size,
        attn_scale=cfg.attn_scale,
        vocab_size=len(meta["vocab"]),
        # the README's number (`eval --record`, the whole val split) when present, else training's estimate
        val_loss=meta.get("eval_val_loss", meta.get("best_val_loss")),
        step=meta.get("step", meta.get("iter_num")),  # iter_num: nanoGPT's name (nanogpt.convert)
        data=data.get("name") if isinstance(data, dict) else str(data),
        source_format=meta.get("source_format"),  # an imported model: where it came from
        source_file=meta.get("source_file"),
        source_vocab=meta.get("source_vocab"),
    )


# --- the prompt ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """The prompt as the model will read it, and what had to change on the way."""

    text: str  # the characters the model reads
    ids: tuple[int, ...]
    unknown: tuple[str, ...]  # characters outside the vocab, dropped
    n_cropped: int  # characters cut from the front to fit block_size

    @property
    def empty(self) -> bool:
        return not self.ids


def prepare_prompt(raw: str, ckpt: Checkpoint) -> Prompt:
    """Drop characters the model never saw and keep the last block_size of the rest."""
    tokenizer = ckpt.tokenizer
    unknown = tuple(tokenizer.unknown_chars(raw))
    with warnings.catch_warnings():  # the notice on the page says it; no need to log it too
        warnings.simplefilter("ignore")
        ids = tokenizer.encode(raw, errors="drop")
    block = ckpt.model.config.block_size
    n_cropped = max(0, len(ids) - block)
    ids = ids[n_cropped:]
    return Prompt(tokenizer.decode(ids), tuple(ids), unknown, n_cropped)


def has_attention(ckpt: Checkpoint) -> bool:
    return isinstance(ckpt.model, GPT)


# --- attention ----------------------------------------------------------------------------------


@dataclass
class AttentionData:
    """Every head's attention for one prompt under one scale setting. Arrays are float32."""

    scale: str
    scale_value: float
    patterns: np.ndarray  # (L, H, T, T) weights, 0 above the diagonal
    scores: np.ndarray  # (L, H, T, T) scaled scores, -inf above the diagonal
    q: np.ndarray  # (L, H, T, d)
    k: np.ndarray  # (L, H, T, d)


@dataclass
class Sharpness:
    """How peaked each head's softmax is, per query row and on average. Small arrays only."""

    entropy: np.ndarray  # (L, H, T) nats
    normalized_entropy: np.ndarray  # (L, H, T) entropy / log(t + 1), in [0, 1]
    max_weight: np.ndarray  # (L, H, T)
    score_std: np.ndarray  # (L, H, T)
    mean_entropy: np.ndarray  # (L, H) over rows 1.. (row 0 sees one key)
    mean_normalized_entropy: np.ndarray  # (L, H)
    mean_max_weight: np.ndarray  # (L, H)
    tags: list[list[list[str]]]  # [layer][head] -> tags
    summary: list[dict]  # metrics.head_summary rows, for the table


def _stack(cache: Cache, suffix: str) -> np.ndarray:
    return _frozen(cache.stack(suffix)[:, 0].numpy())  # (L, B, ...) -> (L, ...) for the one prompt


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # shared by every session: nobody may change it
    return array


def _where(model_id: str, scale: str, layer: int | None) -> int | None:
    """The trained scale in one layer is the trained model: one capture (and one cache entry), not two."""
    return None if layer is not None and scale == load_model(model_id).model.config.attn_scale else layer


def attention_data(model_id: str, ids: tuple[int, ...], scale: str, layer: int | None = None) -> AttentionData:
    """Every head under a scale setting: in every layer, or in `layer` only (the others as trained)."""
    return _attention_data(model_id, ids, scale, _where(model_id, scale, layer))


# ~24 MB an entry at T=256 on the lecture model (two (6, 6, 256, 256) float32 arrays, plus q and k), 5 MB at 117
# the prompt's ids are hashed as one string: Streamlit hashes a tuple item by item, a few ms a call
_IDS_AS_ONE = {tuple: repr}


@st.cache_resource(max_entries=48, show_spinner="Running the model on the prompt…", hash_funcs=_IDS_AS_ONE)
def _attention_data(model_id: str, ids: tuple[int, ...], scale: str, layer: int | None) -> AttentionData:
    ckpt = load_model(model_id)
    cfg = ckpt.model.config
    idx = torch.tensor([ids], dtype=torch.long)
    attn_scale = scale if layer is None else {layer: scale}
    _, cache = run_with_cache(ckpt.model, idx, ATTENTION_HOOKS, attn_scale=attn_scale)
    return AttentionData(
        scale=scale,
        scale_value=scale_value(scale, cfg.n_embd, cfg.head_size),
        patterns=_stack(cache, "attn.hook_pattern"),
        scores=_stack(cache, "attn.hook_scores"),
        q=_stack(cache, "attn.hook_q"),
        k=_stack(cache, "attn.hook_k"),
    )


def sharpness(model_id: str, ids: tuple[int, ...], scale: str, layer: int | None = None) -> Sharpness:
    """How peaked every head's softmax is under a scale setting (in every layer, or in `layer` only)."""
    return _sharpness(model_id, ids, scale, _where(model_id, scale, layer))


@st.cache_resource(max_entries=64, show_spinner=False, hash_funcs=_IDS_AS_ONE)
def _sharpness(model_id: str, ids: tuple[int, ...], scale: str, layer: int | None) -> Sharpness:
    data = _attention_data(model_id, ids, scale, layer)
    pats = torch.tensor(data.patterns)  # (L, H, T, T); a copy: the shared arrays are read-only
    summary = metrics.head_summary(pats, chars=load_model(model_id).tokenizer.decode(ids))
    n_layer, n_head = pats.shape[:2]
    tags = [[[] for _ in range(n_head)] for _ in range(n_layer)]
    for row in summary:
        tags[row["layer"]][row["head"]] = row["tags"]
    ent = metrics.entropy(pats)
    norm = metrics.normalized_entropy(pats)
    peak = metrics.max_weight(pats)
    return Sharpness(
        entropy=_frozen(ent.numpy()),
        normalized_entropy=_frozen(norm.numpy()),
        max_weight=_frozen(peak.numpy()),
        score_std=_frozen(metrics.score_std(torch.tensor(data.scores)).numpy()),
        mean_entropy=_frozen(metrics.row_mean(ent).numpy()),
        mean_normalized_entropy=_frozen(metrics.row_mean(norm).numpy()),
        mean_max_weight=_frozen(metrics.row_mean(peak).numpy()),
        tags=tags,
        summary=summary,
    )


def focused_head(sharp: Sharpness) -> tuple[int, int]:
    """The head with the lowest mean normalised entropy, first-token sinks aside: the one to show as
    "a head". Layer 0 head 0 of a trained model is often nearly uniform."""
    entropy = np.where(
        [[("first-token" in tags) for tags in row] for row in sharp.tags], np.inf, sharp.mean_normalized_entropy
    )
    if not np.isfinite(entropy).any():
        entropy = sharp.mean_normalized_entropy
    layer, head = np.unravel_index(int(np.argmin(entropy)), entropy.shape)
    return int(layer), int(head)


@dataclass(frozen=True)
class ScoreBreakdown:
    """How one score is built: q, k, their elementwise product, the sum, the scale, the softmax row."""

    q: np.ndarray  # (d,)
    k: np.ndarray  # (d,)
    product: np.ndarray  # (d,) q * k
    dot: float  # sum of product = q . k
    scale: float
    score: float  # dot * scale, as the model computed it
    row_scores: np.ndarray  # (query + 1,) the scores of the keys this query may see
    row_weights: np.ndarray  # (query + 1,) their softmax
    weight: float


def score_breakdown(data: AttentionData, layer: int, head: int, query: int, key_pos: int) -> ScoreBreakdown:
    q = data.q[layer, head, query]
    k = data.k[layer, head, key_pos]
    product = q * k
    return ScoreBreakdown(
        q=q,
        k=k,
        product=product,
        dot=float(product.sum()),
        scale=data.scale_value,
        score=float(data.scores[layer, head, query, key_pos]),
        row_scores=data.scores[layer, head, query, : query + 1],
        row_weights=data.patterns[layer, head, query, : query + 1],
        weight=float(data.patterns[layer, head, query, key_pos]),
    )


@st.cache_data(max_entries=64, show_spinner=False)
def variance_demo(d: int) -> dict:
    return metrics.softmax_variance_demo(d)


# --- residual stream ----------------------------------------------------------------------------


@dataclass
class ResidualData:
    labels: list[str]  # residual points: embed, L0 +attn, L0 +mlp, ...
    norms: np.ndarray  # (P, T)
    sublayer_labels: list[str]  # L0 attn, L0 mlp, ...
    sublayer_norms: np.ndarray  # (S, T)
    lens: np.ndarray  # (P, T, vocab) next-character probabilities read off each point
    vocab: list[str]


@st.cache_resource(max_entries=24, show_spinner="Running the model on the prompt…", hash_funcs=_IDS_AS_ONE)
def residual_data(model_id: str, ids: tuple[int, ...], scale: str) -> ResidualData:
    ckpt = load_model(model_id)
    idx = torch.tensor([ids], dtype=torch.long)
    _, cache = run_with_cache(ckpt.model, idx, RESIDUAL_HOOKS, attn_scale=scale)
    labels, norms = metrics.residual_norms(cache)
    sub_labels, sub_norms = metrics.sublayer_norms(cache)
    lens_labels, lens = metrics.logit_lens(ckpt.model, cache)
    assert lens_labels == labels
    return ResidualData(
        labels=labels,
        norms=_frozen(norms[:, 0].numpy()),
        sublayer_labels=sub_labels,
        sublayer_norms=_frozen(sub_norms[:, 0].numpy()),
        lens=_frozen(lens[:, 0].numpy().astype(np.float32)),
        vocab=list(ckpt.tokenizer.chars),
    )


@dataclass(frozen=True)
class LensTop:
    chars: list[list[str]]  # (P, k)
    probs: np.ndarray  # (P, k)
    target: str | None  # the character that really comes next, if the prompt shows it
    target_probs: np.ndarray | None  # (P,)


def lens_top(data: ResidualData, position: int, next_id: int | None, k: int = 8) -> LensTop:
    probs = data.lens[:, position]  # (P, vocab)
    order = np.argsort(-probs, axis=-1)[:, :k]
    return LensTop(
        chars=[[data.vocab[i] for i in row] for row in order],
        probs=np.take_along_axis(probs, order, axis=-1),
        target=data.vocab[next_id] if next_id is not None else None,
        target_probs=probs[:, next_id] if next_id is not None else None,
    )
