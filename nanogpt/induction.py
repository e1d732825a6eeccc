"""Does the model learn in context? The induction probe: a random sequence, then the same again.

A model with induction heads predicts the second copy from the first: for a query in the second
copy, an induction head attends to the key just after the query's earlier occurrence (the
character that came next last time) and copies it. Its induction score is the mean weight on
that key over the second copy's queries: ARENA's `pattern.diagonal(offset=1 - n)`. Our models
have no BOS token, so the copies are n = T // 2 long and the offset is 1 - n exactly. Characters
are drawn without replacement: with 65 characters, drawing with replacement would repeat some
within a copy, and their earlier occurrence would not be unique.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .capture import run_with_cache

SCORE_THRESHOLD = 0.4  # ARENA's detectors call a head induction, previous-token, ... above this
# a second copy this many nats easier than the first is copying from the context, whatever the scores
# say: a head that puts 0.3 of its weight on the target (30 times a uniform head's share) already copies
COPY_GAIN = 0.5


def probe(vocab_size: int, length: int, seed: int = 0, ids: tuple[int, int] | None = None) -> torch.Tensor:
    """Two copies of `length` distinct random ids: (2 * length,). ids: the range [low, high) they are drawn
    from (the tokenizer's probe_ids: for GPT-2 ordinary words, not bytes or special tokens); every id
    of the vocabulary by default."""
    low, high = ids if ids is not None else (0, vocab_size)
    if not 2 <= length <= high - low:
        raise ValueError(f"the probe's copy length must be 2 to {high - low} (the ids it draws from), not {length}")
    generator = torch.Generator().manual_seed(seed)
    first = low + torch.randperm(high - low, generator=generator)[:length]  # (n,): distinct ids
    return torch.cat([first, first])  # (2n,)


def default_length(block_size: int, vocab_size: int) -> int:
    """The longest copy the model's context and vocabulary allow."""
    return max(2, min(block_size // 2, vocab_size))


def induction_scores(pattern: torch.Tensor, n: int) -> torch.Tensor:
    """(..., 2n, 2n) patterns -> (...): mean weight of the second copy's queries on the key after their
    earlier occurrence (query n + i reads key i + 1, the diagonal at offset 1 - n)."""
    diagonal = pattern.diagonal(offset=1 - n, dim1=-2, dim2=-1)  # (..., n + 1): rows n - 1 .. 2n - 1
    return diagonal[..., 1:].mean(dim=-1)  # rows n .. 2n - 1: the second copy's queries


def uniform_score(n: int) -> float:
    """The induction score of a head that spreads its weight evenly: query n + i sees n + i + 1 keys."""
    return sum(1.0 / (n + i + 1) for i in range(n)) / n


def previous_token_scores(pattern: torch.Tensor) -> torch.Tensor:
    """(..., T, T) -> (...): mean weight of every query but the first on the key just before it."""
    return pattern.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=-1)


def copy_losses(per_position: torch.Tensor, n: int) -> tuple[float, float]:
    """Mean loss predicting the first copy's characters 1 .. n-1, and the second copy's n+1 .. 2n-1.

    per_position[t] is the loss of predicting character t + 1; the second copy's first character
    cannot be known from anything before it, so neither mean counts it."""
    return float(per_position[: n - 1].mean()), float(per_position[n : 2 * n - 1].mean())


@dataclass
class InductionResult:
    tokens: list[int]  # the probe, 2n ids
    n: int
    scores: torch.Tensor  # (L, H) induction scores
    prev_scores: torch.Tensor  # (L, H) previous-token scores
    per_position_loss: torch.Tensor  # (2n - 1,) loss predicting character t + 1 from 0 .. t
    loss_first: float
    loss_second: float
    ablated_heads: list[tuple[int, int]]  # the top induction heads, zeroed below
    ablated_per_position_loss: torch.Tensor  # (2n - 1,)
    ablated_loss_second: float
    patterns: torch.Tensor  # (L, H, 2n, 2n)

    def top_heads(self, k: int = 3) -> list[tuple[int, int, float]]:
        """The k heads with the highest induction score: (layer, head, score)."""
        flat = self.scores.flatten()
        order = flat.argsort(descending=True)[:k].tolist()
        H = self.scores.shape[1]
        return [(i // H, i % H, float(flat[i])) for i in order]


def _pass(model, idx: torch.Tensor, ablate=(), bos: int | None = None):
    first = 0 if bos is None else 1  # where the probe starts in what the model reads
    fed = idx if bos is None else torch.cat([torch.tensor([bos]), idx])  # (first + 2n,)
    logits, cache = run_with_cache(model, fed[None], r"blocks\.\d+\.attn\.hook_pattern", ablate_heads=ablate)
    per_position = F.cross_entropy(logits[0, first:-1].float(), idx[1:], reduction="none")  # (2n - 1,)
    patterns = cache.stack("attn.hook_pattern")[:, 0, :, first:, first:]  # (L, H, 2n, 2n): the copies' rows and keys
    return patterns, per_position


@torch.no_grad()
def induction(
    model, length: int | None = None, seed: int = 0, n_ablate: int | None = None,
    ids: tuple[int, int] | None = None, *, bos: int | None = None,
) -> InductionResult:  # fmt: skip
    """Run the probe: every head's induction and previous-token score, the loss on each copy, and the
    second copy's loss with the top induction heads zeroed (those above SCORE_THRESHOLD, at least one,
    or the top `n_ablate`).

    ids: the range [low, high) the probe draws from (the tokenizer's probe_ids). bos: a token the model
    always reads first (nanochat's <|bos|>): the probe runs after it, as every text nanochat saw did,
    and the scores, losses and maps are of the two copies alone."""
    cfg = model.config
    if getattr(cfg, "model_type", "gpt") == "bigram":
        raise ValueError("the induction probe needs a GPT: the bigram model has no attention")
    room = cfg.block_size - (bos is not None)
    low, high = ids if ids is not None else (0, cfg.vocab_size)
    n = default_length(room, high - low) if length is None else int(length)
    if 2 * n > room:
        raise ValueError(f"two copies of {n} tokens do not fit the model's context of {cfg.block_size}")
    idx = probe(cfg.vocab_size, n, seed, ids)  # (2n,)
    patterns, per_position = _pass(model, idx, bos=bos)
    scores, prev = induction_scores(patterns, n), previous_token_scores(patterns)  # (L, H) each
    first, second = copy_losses(per_position, n)
    if n_ablate is None:
        n_ablate = max(1, int((scores > SCORE_THRESHOLD).sum()))
    order = scores.flatten().argsort(descending=True)[:n_ablate].tolist()
    ablate = [(i // cfg.n_head, i % cfg.n_head) for i in order]
    _, ablated = _pass(model, idx, ablate, bos=bos)
    return InductionResult(idx.tolist(), n, scores, prev, per_position, first, second, ablate, ablated,
                           copy_losses(ablated, n)[1], patterns)  # fmt: skip
