"""Cached loaders: every number a page shows comes from here, computed by nanogpt.

The model is loaded once per checkpoint file and shared by every session (st.cache_resource);
nanogpt's run_with_cache keeps concurrent captures apart. Captures are cached per (model, prompt
ids, scale setting) and come back as read-only numpy arrays holding only what the pages draw. They
are st.cache_resource, not st.cache_data: every session that asks for the same capture gets the
same arrays, not a copy unpickled on every run (megabytes each, on every rerun of every page).
Pages never touch torch.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import streamlit as st
import torch

from nanogpt import metrics, nanochat_run
from nanogpt.capture import Cache, run_with_cache
from nanogpt.checkpoint import Checkpoint, config_facts, load_checkpoint, read_metadata
from nanogpt.config import scale_value
from nanogpt.model import GPT, build_model
from nanogpt.nanochat import NanochatGPT
from nanogpt.train import autocast_for, resolve_dtype

from .registry import ModelRef

# One torch thread per capture: a class sends dozens of small forwards at once, each in its own
# script thread, and two OpenMP threads apiece left the cores spinning for each other (a capture of
# 117 characters took seconds of server CPU under 30 sessions, 20 ms alone). Threads started later
# begin with this count; a training run sets its own (train_jobs.limit_threads).
torch.set_num_threads(1)

# the most positions a page captures: a prompt is cut to its last CAPTURE_POSITIONS tokens (or the model's
# context, if shorter). Every head's (T, T) map grows with T squared: 256 keeps GPT-2 124M's capture of
# every layer at ~75 MB and its first map within 2 s on one core (python -m viz_app.bench); the lecture's
# context is 256, so its prompts are never cut by this
CAPTURE_POSITIONS = 256
ATTENTION_HOOKS = r"blocks\.\d+\.attn\.hook_(q|k|scores|pattern)"
RESIDUAL_HOOKS = r"blocks\.\d+\.hook_(resid_pre|resid_mixed|resid_mid|resid_post|attn_out|mlp_out)|hook_resid_final"


# what the pages' captures compute in: bf16 autocast where `--dtype auto` would train in it (a CPU with native
# bf16, or CUDA), float32 elsewhere; what is captured is kept as float32 (nanogpt.capture), and exports and
# tests compute in float32 (they call nanogpt, not this)
CAPTURE_DTYPE = resolve_dtype("auto", "cpu")


def autocast():
    return autocast_for("cpu", CAPTURE_DTYPE)


# the prompt's ids are hashed as one string: Streamlit hashes a tuple item by item, a few ms a call;
# a model handle by its fields
_BY_VALUE = {tuple: repr, ModelRef: repr}


# --- models -------------------------------------------------------------------------------------


@st.cache_resource(max_entries=8, show_spinner="Loading the model…", hash_funcs=_BY_VALUE)
def load_model(ref: ModelRef) -> Checkpoint:
    """One model per checkpoint file (and version of it), shared by every session."""
    if not ref.untrained:
        if nanochat_run.is_nanochat_path(ref.path):  # a run opened by path: read where it is (attention-lab DIR)
            return nanochat_run.load_nanochat(ref.path)
        return load_checkpoint(ref.path)
    trained = load_model(replace(ref, untrained=False))
    seed = (trained.meta.get("train_config") or {}).get("seed", 1337)
    with torch.random.fork_rng(devices=[]):  # the server's own random state stays as it was
        torch.manual_seed(seed)  # what nanogpt.train does before it builds the model
        model = build_model(trained.model.config).eval()
    meta = {**trained.meta, "data": {"name": "random initialisation"}, "step": 0, "untrained_copy_of": ref.path}
    return Checkpoint(model, trained.tokenizer, meta)


@st.cache_data(max_entries=256, show_spinner=False, hash_funcs=_BY_VALUE)
def model_facts(ref: ModelRef) -> dict:
    """What the sidebar says about a model, from the file's metadata alone (no weights read)."""
    if nanochat_run.is_nanochat_path(ref.path):
        return nanochat_run.facts(ref.path)
    meta = read_metadata(ref.path)
    cfg = meta["model_config"]
    data = meta.get("data") or {}
    return dict(
        model_type=cfg.model_type,
        n_params=meta.get("n_params"),
        **config_facts(cfg),
        unit="token" if "tokenizer" in meta else "character",
        # docs/models.md's number (`eval --record`, the whole val split) when present, else training's estimate
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

    text: str  # the text the model reads
    ids: tuple[int, ...]
    unknown: tuple[str, ...]  # characters outside the vocab, dropped
    n_cropped: int  # tokens cut from the front to fit `limit`
    # one label per position, what axes and hovers show: a character model's text itself (one character
    # each), a BPE model's token labels (nanogpt.tokenizer: ␣ for a leading space, <0xE2> for a byte)
    tokens: str | tuple[str, ...] = ""
    unit: str = "character"  # the tokenizer's: "character" | "token"
    limit: int = 0  # the most positions kept: the model's context, or CAPTURE_POSITIONS if fewer

    @property
    def empty(self) -> bool:
        return not self.ids


def prepare_prompt(raw: str, ckpt: Checkpoint) -> Prompt:
    """Drop characters the model never saw and keep the last block_size (at most CAPTURE_POSITIONS) of the rest."""
    tokenizer = ckpt.tokenizer
    unknown = tuple(tokenizer.unknown_chars(raw))  # a BPE tokenizer has none: bytes cover every text
    with warnings.catch_warnings():  # the notice on the page says it; no need to log it too
        warnings.simplefilter("ignore")
        ids = tokenizer.encode(raw, errors="drop")
    limit = min(ckpt.model.config.block_size, CAPTURE_POSITIONS)
    n_cropped = max(0, len(ids) - limit)
    ids = ids[n_cropped:]
    text = tokenizer.decode(ids)
    tokens = text if tokenizer.unit == "character" else tuple(tokenizer.labels(ids))
    return Prompt(text, tuple(ids), unknown, n_cropped, tokens, tokenizer.unit, limit)


def has_attention(ckpt: Checkpoint) -> bool:
    return isinstance(ckpt.model, (GPT, NanochatGPT))


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
    mean_entropy: np.ndarray  # (L, H) over rows 1.. (row 0 sees one key)
    mean_normalized_entropy: np.ndarray  # (L, H)
    mean_max_weight: np.ndarray  # (L, H)
    tags: list[list[list[str]]]  # [layer][head] -> tags
    summary: list[dict]  # metrics.head_summary rows, for the table
    scores: np.ndarray = field(repr=False)  # (L, H, T, T) the capture's, shared: what score_std reads

    @functools.cached_property
    def score_std(self) -> np.ndarray:
        """(L, H, T), computed when a page first reads it: only the Sharpness page draws it (two
        threads asking at once both compute the same array; either is kept)."""
        return _frozen(metrics.score_std(torch.tensor(self.scores)).numpy())


@dataclass
class LayerScale:
    """One layer's heads under a scale setting: what the Attention page's side by side draws."""

    scale: str
    scale_value: float
    patterns: np.ndarray  # (H, T, T)
    mean_entropy: np.ndarray  # (H,) over rows 1..
    mean_max_weight: np.ndarray  # (H,)


def _stack(cache: Cache, suffix: str) -> np.ndarray:
    return _frozen(cache.stack(suffix)[:, 0].numpy())  # (L, B, ...) -> (L, ...) for the one prompt


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # shared by every session: nobody may change it
    return array


def _where(ckpt: Checkpoint, scale: str, layer: int | None) -> int | None:
    """The trained scale in one layer is the trained model: one capture (and one cache entry), not two."""
    return None if layer is not None and scale == ckpt.model.config.attn_scale else layer


def attention_data(ref: ModelRef, ids: tuple[int, ...], scale: str, layer: int | None = None) -> AttentionData:
    """Every head under a scale setting: in every layer, or in `layer` only (the others as trained)."""
    ckpt = load_model(ref)
    return _attention_data(ref, ckpt, ids, scale, _where(ckpt, scale, layer))


# ~24 MB an entry at T=256 on the lecture model (two (6, 6, 256, 256) float32 arrays, plus q and k), 5 MB at 117
@st.cache_resource(max_entries=48, show_spinner="Running the model on the prompt…", hash_funcs=_BY_VALUE)
def _attention_data(ref: ModelRef, _ckpt: Checkpoint, ids: tuple[int, ...], scale: str, layer: int | None):
    """_ckpt: load_model(ref), passed down rather than looked up again (left out of the cache key)."""
    cfg = _ckpt.model.config
    idx = torch.tensor([ids], dtype=torch.long)
    attn_scale = scale if layer is None else {layer: scale}
    with autocast():
        _, cache = run_with_cache(_ckpt.model, idx, ATTENTION_HOOKS, attn_scale=attn_scale, logits=False)
    return AttentionData(
        scale=scale,
        scale_value=scale_value(scale, cfg.n_embd, cfg.head_size),
        patterns=_stack(cache, "attn.hook_pattern"),
        scores=_stack(cache, "attn.hook_scores"),
        q=_stack(cache, "attn.hook_q"),
        k=_stack(cache, "attn.hook_k"),
    )


def sharpness(ref: ModelRef, ids: tuple[int, ...], scale: str, layer: int | None = None) -> Sharpness:
    """How peaked every head's softmax is under a scale setting (in every layer, or in `layer` only)."""
    ckpt = load_model(ref)
    return _sharpness(ref, ckpt, ids, scale, _where(ckpt, scale, layer))


@st.cache_resource(max_entries=64, show_spinner=False, hash_funcs=_BY_VALUE)
def _sharpness(ref: ModelRef, _ckpt: Checkpoint, ids: tuple[int, ...], scale: str, layer: int | None) -> Sharpness:
    data = _attention_data(ref, _ckpt, ids, scale, layer)
    pats = torch.tensor(data.patterns)  # (L, H, T, T); a copy: the shared arrays are read-only
    # each row statistic once: the summary's means and tags are made from the same rows
    ent = metrics.entropy(pats)
    norm = metrics.normalized_entropy(pats, row_entropy=ent)
    peak = metrics.max_weight(pats)
    # the kinds of key that read characters, only where a position is a character: a token model's text has one
    # character per token only by chance ("x.y.z"), and its heads would be tagged "same character"
    chars = _ckpt.tokenizer.decode(ids) if _ckpt.tokenizer.unit == "character" else None
    summary = metrics.head_summary(pats, chars=chars, row_entropy=ent, row_normalized=norm, row_max=peak)
    n_layer, n_head = pats.shape[:2]
    return Sharpness(
        entropy=_frozen(ent.numpy()),
        normalized_entropy=_frozen(norm.numpy()),
        max_weight=_frozen(peak.numpy()),
        mean_entropy=_frozen(metrics.row_mean(ent).numpy()),
        mean_normalized_entropy=_frozen(metrics.row_mean(norm).numpy()),
        mean_max_weight=_frozen(metrics.row_mean(peak).numpy()),
        tags=metrics.tag_grid(summary, n_layer, n_head),
        summary=summary,
        scores=data.scores,
    )


def layer_scale(ref: ModelRef, ids: tuple[int, ...], scale: str, layer: int, *, only: bool) -> LayerScale:
    """Layer `layer`'s heads under a scale setting: in that layer only (only=True; the other layers
    as trained) or in every layer. In that layer only, its inputs are the trained model's, so no
    forward runs: its scores come from the trained capture's q and k, as the model makes them."""
    ckpt = load_model(ref)
    if not only or scale == ckpt.model.config.attn_scale:
        data, sharp = attention_data(ref, ids, scale), sharpness(ref, ids, scale)
        return LayerScale(scale, data.scale_value, data.patterns[layer], sharp.mean_entropy[layer],
                          sharp.mean_max_weight[layer])  # fmt: skip
    return _layer_scale(ref, ckpt, ids, scale, layer)


@st.cache_resource(max_entries=64, show_spinner=False, hash_funcs=_BY_VALUE)
def _layer_scale(ref: ModelRef, _ckpt: Checkpoint, ids: tuple[int, ...], scale: str, layer: int) -> LayerScale:
    cfg = _ckpt.model.config
    trained = _attention_data(ref, _ckpt, ids, cfg.attn_scale, None)
    value = scale_value(scale, cfg.n_embd, cfg.head_size)
    q, k = torch.tensor(trained.q[layer]), torch.tensor(trained.k[layer])  # (H, T, d): copies of shared arrays
    T = q.shape[-2]
    with torch.no_grad():  # what CausalSelfAttention.forward does with the scale it is given
        scores = (q @ k.transpose(-2, -1)) * value
        scores = scores.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool)), float("-inf"))
        pattern = torch.softmax(scores, dim=-1)  # (H, T, T)
    return LayerScale(
        scale=scale,
        scale_value=value,
        patterns=_frozen(pattern.numpy()),
        mean_entropy=_frozen(metrics.row_mean(metrics.entropy(pattern)).numpy()),
        mean_max_weight=_frozen(metrics.row_mean(metrics.max_weight(pattern)).numpy()),
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
    # the logit lens, top LENS_TOP_K only (metrics.logit_lens_top): never points x T x vocab
    lens_ids: np.ndarray  # (P, T, k) the likeliest next tokens read off each point
    lens_probs: np.ndarray  # (P, T, k) their probabilities
    lens_target: np.ndarray  # (P, T) the probability of the token that really comes next (NaN at the end)
    vocab: list[str]  # id -> label


LENS_TOP_K = 8


@st.cache_resource(max_entries=24, show_spinner="Running the model on the prompt…", hash_funcs=_BY_VALUE)
def residual_data(ref: ModelRef, ids: tuple[int, ...], scale: str) -> ResidualData:
    ckpt = load_model(ref)
    idx = torch.tensor([ids], dtype=torch.long)
    with autocast():
        _, cache = run_with_cache(ckpt.model, idx, RESIDUAL_HOOKS, attn_scale=scale, logits=False)
    labels, norms = metrics.residual_norms(cache)
    sub_labels, sub_norms = metrics.sublayer_norms(cache)
    lens_labels, top_ids, top_probs, target = metrics.logit_lens_top(ckpt.model, cache, ids, LENS_TOP_K)
    if lens_labels != labels:  # both walk metrics.residual_points: a mismatch is a bug in nanogpt
        raise RuntimeError(f"logit lens points {lens_labels} are not the residual points {labels}")
    return ResidualData(
        labels=labels,
        norms=_frozen(norms[:, 0].numpy()),
        sublayer_labels=sub_labels,
        sublayer_norms=_frozen(sub_norms[:, 0].numpy()),
        lens_ids=_frozen(top_ids.numpy()),
        lens_probs=_frozen(top_probs.numpy().astype(np.float32)),
        lens_target=_frozen(target.numpy().astype(np.float32)),
        vocab=_vocab_labels(ckpt),
    )


def _vocab_labels(ckpt: Checkpoint) -> list[str]:
    """id -> what a distribution names it: a character model's characters, a BPE model's token labels."""
    tok = ckpt.tokenizer
    return list(tok.chars) if tok.unit == "character" else tok.vocab_labels
