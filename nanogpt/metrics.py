"""Pure functions over captured tensors: how sharp each softmax is, how the residual grows,
what each layer would predict (logit lens).

Conventions: a pattern is (..., T_q, T_k) post-softmax weights; under the causal mask query row t
sees t + 1 keys, so its entropy is at most log(t + 1). Row 0 sees one key and carries no
information about sharpness, so summaries over rows skip it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import torch

from .capture import Cache
from .files import atomic_write

# a head is tagged when, on average over the query rows t >= 1 that have such a key, it puts at
# least TAG_THRESHOLD of its weight on ...
TAG_THRESHOLD = 0.4
PREV_TOKEN_THRESHOLD = SINK_THRESHOLD = TAG_THRESHOLD  # ... key t - 1 / key 0 (the names pages quote)
UNIFORM_THRESHOLD = 0.9  # normalised entropy at or above this: spread almost evenly
OFFSETS = (0, 1, 2, 3)  # key t - k: "self", "previous-token", "2 back", "3 back"
# the kinds of key read off positions alone, which every prompt has (a token model's too); the others
# read the prompt's characters, so key_kinds gives them only where each position is one
POSITIONAL_KINDS = ("self", "previous-token", "2 back", "3 back", "first-token")
PUNCTUATION = ".,:;!?-'"
# the latest key at or before t that is ... (a head that always finds it reads the text, not positions)
LATEST = {
    "last space": lambda text, j: text[j] in " \n",
    "line start": lambda text, j: text[j] == "\n",
    "word's first letter": lambda text, j: text[j].isalpha() and (j == 0 or text[j - 1] in " \n"),
    "last punctuation": lambda text, j: text[j] in PUNCTUATION,
    "last vowel": lambda text, j: text[j] in "aeiouAEIOU",
    "last capital": lambda text, j: text[j].isupper(),
}


def entropy(pattern: torch.Tensor) -> torch.Tensor:
    """Entropy of each query row in nats: (..., T_q, T_k) -> (..., T_q). 0 log 0 counts as 0."""
    p = pattern.float()
    return -(p * torch.log(p.clamp_min(1e-30))).sum(-1)


def keys_per_row(n_rows: int, n_keys: int, causal: bool = True) -> torch.Tensor:
    """How many keys each query row sees: t + 1 under the mask, all of them without. (T_q,)"""
    if causal:
        return torch.arange(n_keys - n_rows + 1, n_keys + 1, dtype=torch.float32)
    return torch.full((n_rows,), float(n_keys))


def normalized_entropy(
    pattern: torch.Tensor, causal: bool = True, *, row_entropy: torch.Tensor | None = None
) -> torch.Tensor:
    """Entropy / log(number of keys the row sees), in [0, 1]; 0 for a row with one key. (..., T_q)

    row_entropy: entropy(pattern), when the caller has it already (the same numbers, computed once)."""
    n = keys_per_row(pattern.shape[-2], pattern.shape[-1], causal)
    max_entropy = torch.log(n)
    ent = entropy(pattern) if row_entropy is None else row_entropy
    return torch.where(n > 1, ent / max_entropy.clamp_min(1e-12), torch.zeros_like(n))


def max_weight(pattern: torch.Tensor) -> torch.Tensor:
    """The largest weight in each row: 1.0 is one-hot. (..., T_q)"""
    return pattern.float().amax(-1)


def effective_keys(pattern: torch.Tensor) -> torch.Tensor:
    """exp(entropy): the number of keys a row behaves as if it spread evenly over. (..., T_q)"""
    return entropy(pattern).exp()


def score_std(scores: torch.Tensor) -> torch.Tensor:
    """Std of each row's pre-softmax scores over the keys it may see (masked -inf ignored). (..., T_q)"""
    s = scores.float()
    finite = torch.isfinite(s)
    n = finite.sum(-1).clamp_min(1)
    mean = torch.where(finite, s, 0.0).sum(-1) / n
    var = torch.where(finite, (s - mean[..., None]) ** 2, 0.0).sum(-1) / n
    return var.sqrt()


def row_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean over query rows 1.. (row 0 is trivial): (..., T_q) -> (...)."""
    return values[..., 1:].mean(-1) if values.shape[-1] > 1 else values[..., 0]


def n_layers(cache: Cache) -> int:
    return 1 + max(int(k.split(".")[1]) for k in cache if k.startswith("blocks."))


def residual_points(cache: Cache) -> list[tuple[str, str]]:
    """(label, hook name) for every residual-stream point present, in order through the model."""
    points = [("embed", "blocks.0.hook_resid_pre")]
    for i in range(n_layers(cache)):
        points.append((f"L{i} ×λ", f"blocks.{i}.hook_resid_mixed"))  # nanochat: resid_λ·x + x0_λ·x0
        points.append((f"L{i} +attn", f"blocks.{i}.hook_resid_mid"))
        points.append((f"L{i} +mlp", f"blocks.{i}.hook_resid_post"))
    points.append(("−backout", "hook_resid_final"))  # nanochat (2026-03 on): the middle layer's share taken away
    return [(label, name) for label, name in points if name in cache]


def residual_norms(cache: Cache) -> tuple[list[str], torch.Tensor]:
    """L2 norm of the residual stream at every point and position: labels, (P, B, T)."""
    points = residual_points(cache)
    return [label for label, _ in points], torch.stack([cache[name].norm(dim=-1) for _, name in points])


def sublayer_norms(cache: Cache) -> tuple[list[str], torch.Tensor]:
    """L2 norm of what each attention and MLP sublayer writes: labels, (S, B, T)."""
    labels, norms = [], []
    for i in range(n_layers(cache)):
        for label, name in ((f"L{i} attn", f"blocks.{i}.hook_attn_out"), (f"L{i} mlp", f"blocks.{i}.hook_mlp_out")):
            if name in cache:
                labels.append(label)
                norms.append(cache[name].norm(dim=-1))
    return labels, torch.stack(norms)


def lens_logits(model, resid: torch.Tensor) -> torch.Tensor:
    """The logits a residual point would give if it were the last: through the final norm and the head
    (nanochat: its head cut to the vocabulary, then its softcap)."""
    normalized = model.ln_f.ln(resid)
    return model.unembed(normalized) if hasattr(model, "unembed") else model.lm_head(normalized)


@torch.no_grad()
def logit_lens(model, cache: Cache) -> tuple[list[str], torch.Tensor]:
    """Next-character probabilities read off every residual point through ln_f and the head.

    Returns labels and (P, B, T, vocab). The last point equals the model's own prediction.
    """
    labels, probs = [], []
    for label, name in residual_points(cache):
        resid = cache[name].to(next(model.parameters()).device)
        logits = lens_logits(model, resid)  # (B, T, vocab)
        labels.append(label)
        probs.append(torch.softmax(logits.float(), dim=-1).cpu())
    return labels, torch.stack(probs)


@torch.no_grad()
def logit_lens_top(model, cache: Cache, ids, k: int = 8) -> tuple[list[str], torch.Tensor, torch.Tensor, torch.Tensor]:
    """logit_lens, kept small: at every residual point and position the k likeliest next tokens and the
    probability of the one that really comes next (`ids`, (T,); NaN at the last position). One point's
    (T, vocab) probabilities exist at a time, never points x T x vocab (GPT-2: 50,257 a row).

    Returns labels, top ids (P, T, k) int64, their probabilities (P, T, k) and the next token's (P, T)."""
    ids = torch.as_tensor(ids, dtype=torch.long).reshape(-1)  # (T,)
    T = ids.numel()
    labels, top_ids, top_probs, target = [], [], [], []
    nxt = torch.cat([ids[1:], ids[:1]])  # (T,): the next id, a placeholder at the last position
    for label, name in residual_points(cache):
        resid = cache[name][0].to(next(model.parameters()).device)  # (T, C) of batch item 0
        probs = torch.softmax(lens_logits(model, resid).float(), dim=-1).cpu()  # (T, vocab)
        values, order = probs.topk(min(k, probs.shape[-1]), dim=-1)  # (T, k)
        labels.append(label)
        top_ids.append(order)
        top_probs.append(values)
        p = probs.gather(-1, nxt[:, None]).squeeze(-1)  # (T,)
        p[T - 1] = float("nan")
        target.append(p)
    return labels, torch.stack(top_ids), torch.stack(top_probs), torch.stack(target)


def per_position_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the true next character at every position: (B, T, V), (B, T) -> (B, T)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -logp.gather(-1, targets[..., None]).squeeze(-1)


def patterns(cache: Cache) -> torch.Tensor:
    """Every head's weights for batch item 0: (L, H, T, T)."""
    return cache.stack("attn.hook_pattern")[:, 0]


def key_kinds(T: int, chars: str | None = None) -> dict[str, torch.Tensor]:
    """For each kind of key a head may look for, which keys those are: name -> (T, T) bool, query t
    -> its keys of that kind. The kinds that read characters (same character, LATEST) need the
    prompt's `chars`."""
    kinds = {}
    for k in OFFSETS:
        if T > max(k, 1):
            kinds[{0: "self", 1: "previous-token"}.get(k, f"{k} back")] = torch.eye(T, dtype=torch.bool).roll(-k, 1)
    kinds["first-token"] = torch.zeros(T, T, dtype=torch.bool)
    kinds["first-token"][:, 0] = True
    if chars is not None and len(chars) == T:
        codes = torch.tensor([ord(c) for c in chars])
        earlier = torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-1)  # (T, T): key j < query t
        kinds["same character"] = (codes[:, None] == codes[None, :]) & earlier
        for name, marks in LATEST.items():
            last, latest_at = -1, []  # latest_at[t]: the latest marked position <= t, -1 before the first
            for t in range(T):
                last = t if marks(chars, t) else last
                latest_at.append(last)
            key = torch.tensor(latest_at)[:, None]  # (T, 1)
            kinds[name] = (torch.arange(T)[None, :] == key) & (key >= 0)  # (T, T): query t -> its latest marked key
    return {name: torch.tril(keys) for name, keys in kinds.items()}  # (roll wraps the first rows round: cut)


def tag_scores(pattern: torch.Tensor, chars: str | None = None) -> dict[str, torch.Tensor]:
    """How much weight each head of a (..., T, T) causal pattern puts on each kind of key
    (key_kinds), averaged over the query rows t >= 1 that have such a key: name -> (...) tensor."""
    kinds = key_kinds(pattern.shape[-1], chars)
    keys = torch.stack(list(kinds.values())).float()  # (K, T, T)
    on_kind = torch.einsum("...tj,ktj->k...t", pattern.float(), keys)  # (K, ..., T): every kind in one product
    scores = {}
    for i, (name, kind) in enumerate(kinds.items()):
        has = kind.any(-1)
        has[0] = False  # row 0 sees one key: it says nothing about the head
        scores[name] = on_kind[i][..., has].mean(-1) if has.any() else torch.full(pattern.shape[:-2], float("nan"))
    return scores


def _tags(scores: dict[str, float], uniform: bool) -> list[str]:
    # strongest first, at most two: a newline is also a space, a capital often a word's first letter
    tags = sorted((name for name, v in scores.items() if v >= TAG_THRESHOLD), key=lambda name: -scores[name])[:2]
    return tags + ["uniform"] if uniform else tags


def head_tags(pattern: torch.Tensor, causal: bool = True, chars: str | None = None) -> list[str]:
    """Tags for one head's (T, T) pattern: each kind of key (tag_scores) it gives at least
    TAG_THRESHOLD of its weight, strongest first, or uniform."""
    if pattern.shape[-1] < 2:
        return []
    scores = {name: float(v) for name, v in tag_scores(pattern, chars).items()}
    return _tags(scores, float(row_mean(normalized_entropy(pattern, causal))) >= UNIFORM_THRESHOLD)


def head_summary(
    pats: torch.Tensor,
    causal: bool = True,
    chars: str | None = None,
    *,
    row_entropy: torch.Tensor | None = None,
    row_normalized: torch.Tensor | None = None,
    row_max: torch.Tensor | None = None,
) -> list[dict]:
    """One dict per head of (L, H, T, T) patterns: mean entropy (nats and normalised), mean max
    weight, effective keys, tags (the character-reading ones when `chars`, the prompt, is given).

    row_entropy, row_normalized, row_max: entropy(pats), normalized_entropy(pats, causal) and
    max_weight(pats) per row, when the caller has them already (the same numbers, computed once)."""
    row_entropy = entropy(pats) if row_entropy is None else row_entropy  # (L, H, T)
    if row_normalized is None:
        row_normalized = normalized_entropy(pats, causal, row_entropy=row_entropy)
    ent = row_mean(row_entropy).tolist()  # (L, H) as lists: one conversion each, not one per head
    eff = row_mean(row_entropy.exp()).tolist()  # effective_keys, from the entropy already computed
    norm = row_mean(row_normalized).tolist()
    peak = row_mean(max_weight(pats) if row_max is None else row_max).tolist()
    scores = {n: v.tolist() for n, v in tag_scores(pats, chars).items()} if pats.shape[-1] > 1 else {}
    out = []
    for layer in range(pats.shape[0]):
        for head in range(pats.shape[1]):
            out.append(dict(
                layer=layer, head=head,
                mean_entropy=round(ent[layer][head], 4),
                mean_normalized_entropy=round(norm[layer][head], 4),
                mean_max_weight=round(peak[layer][head], 4),
                effective_keys=round(eff[layer][head], 3),
                tags=_tags({n: v[layer][head] for n, v in scores.items()},
                           pats.shape[-1] > 1 and norm[layer][head] >= UNIFORM_THRESHOLD),
            ))  # fmt: skip
    return out


def summary(cache: Cache, causal: bool = True, chars: str | None = None) -> dict:
    """A JSON-ready digest of one capture: head_summary per head, and the mean residual norm
    (batch item 0, over positions) at every residual point. Needs patterns and residual hooks."""
    labels, norms = residual_norms(cache)  # norms: (P, B, T)
    pats = patterns(cache)  # (L, H, T, T)
    return dict(
        n_layer=pats.shape[0], n_head=pats.shape[1], n_tokens=pats.shape[-1], causal=causal,
        heads=head_summary(pats, causal, chars),
        residual_norms={label: round(float(n[0].mean()), 4) for label, n in zip(labels, norms, strict=True)},
    )  # fmt: skip


def write_summary(cache: Cache, path, causal: bool = True, chars: str | None = None, **meta) -> dict:
    """Write summary(cache) as JSON, with `meta` (e.g. prompt, attn_scale) on top; returns the dict."""
    data = {**meta, **summary(cache, causal, chars)}
    atomic_write(path, json.dumps(data, indent=2).encode("utf-8"))  # makes the folder when it is new
    return data


def softmax_variance_demo(d: int, n: int = 4096, seed: int = 0) -> dict:
    """The lecture's point about the scale: for unit-Gaussian q and k of size d, var(q.k) ~ d;
    multiplying by 1/sqrt(d) brings it back to ~1, and keeps softmax from turning one-hot.

    Returns the two variances and one row of 8 scores through softmax with and without the scale.
    """
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, d, generator=g)
    k = torch.randn(n, d, generator=g)
    dots = (q * k).sum(-1)  # (n,)
    row = torch.randn(8, d, generator=g) @ torch.randn(d, generator=g)  # (8,) one query, 8 keys
    return dict(
        d=d,
        var_unscaled=float(dots.var()),
        var_scaled=float((dots / math.sqrt(d)).var()),
        row_unscaled=torch.softmax(row, -1).tolist(),
        row_scaled=torch.softmax(row / math.sqrt(d), -1).tolist(),
    )


def tag_grid(summary: list[dict], n_layer: int, n_head: int) -> list[list[list[str]]]:
    """head_summary's rows as [layer][head] -> tags, the shape a layers x heads grid is drawn in."""
    tags = [[[] for _ in range(n_head)] for _ in range(n_layer)]
    for row in summary:
        tags[row["layer"]][row["head"]] = row["tags"]
    return tags


def focused_head(mean_normalized_entropy: np.ndarray, tags: list[list[list[str]]]) -> tuple[int, int]:
    """The head with the lowest mean normalised entropy (L, H), first-token sinks aside: the one to
    show as "a head". Layer 0 head 0 of a trained model is often nearly uniform."""
    sinks = np.array([[("first-token" in head) for head in layer] for layer in tags], dtype=bool)  # (L, H)
    entropy = np.where(sinks, np.inf, mean_normalized_entropy)
    if not np.isfinite(entropy).any():  # every head is a sink: take the sharpest anyway
        entropy = np.asarray(mean_normalized_entropy)
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
    score: float  # as the model computed it (dot * scale)
    row_scores: np.ndarray  # (query + 1,) the scores of the keys this query may see
    row_weights: np.ndarray  # (query + 1,) their softmax
    weight: float


def score_breakdown(
    q: np.ndarray, k: np.ndarray, scores: np.ndarray, weights: np.ndarray, scale: float, query: int, key_pos: int
) -> ScoreBreakdown:
    """One head's (query, key) score from its captured q, k (T, d), scores and weights (T, T)."""
    product = q[query] * k[key_pos]  # (d,)
    return ScoreBreakdown(
        q=q[query],
        k=k[key_pos],
        product=product,
        dot=float(product.sum()),
        scale=float(scale),
        score=float(scores[query, key_pos]),
        row_scores=scores[query, : query + 1],
        row_weights=weights[query, : query + 1],
        weight=float(weights[query, key_pos]),
    )


@dataclass(frozen=True)
class LensTop:
    chars: list[list[str]]  # (P, k)
    probs: np.ndarray  # (P, k)
    target: str | None  # the character that really comes next, if the prompt shows it
    target_probs: np.ndarray | None  # (P,)


def lens_top_of(top_ids: np.ndarray, top_probs: np.ndarray, target_probs: np.ndarray, labels, next_id) -> LensTop:
    """LensTop at one position from logit_lens_top's arrays there: (P, k), (P, k), (P,); labels: id -> label."""
    return LensTop(
        chars=[[labels[int(i)] for i in row] for row in top_ids],
        probs=top_probs,
        target=labels[next_id] if next_id is not None else None,
        target_probs=target_probs if next_id is not None else None,
    )


def lens_top(probs: np.ndarray, vocab: list[str], next_id: int | None, k: int = 8) -> LensTop:
    """The k likeliest next characters at every residual point, from the logit lens at one position
    (P, vocab), and the probability of the real next character when there is one."""
    order = np.argsort(-probs, axis=-1)[:, :k]  # (P, k)
    return LensTop(
        chars=[[vocab[i] for i in row] for row in order],
        probs=np.take_along_axis(probs, order, axis=-1),
        target=vocab[next_id] if next_id is not None else None,
        target_probs=probs[:, next_id] if next_id is not None else None,
    )
