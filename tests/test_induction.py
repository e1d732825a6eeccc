"""The induction probe and scores, on a model with a known induction circuit (hand_built.py)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hand_built import INDUCTION_HEAD, PREV_TOKEN_HEAD, VOCAB, induction_model

from nanogpt.__main__ import main
from nanogpt.capture import run_with_cache
from nanogpt.checkpoint import save_checkpoint
from nanogpt.induction import induction, induction_scores, previous_token_scores, probe, uniform_score


def scores_by_hand(patterns: torch.Tensor, n: int) -> torch.Tensor:
    """Each head's mean weight, over queries q = n .. 2n-1, on key q - n + 1: loops, no diagonals."""
    L, H = patterns.shape[:2]
    out = torch.zeros(L, H)
    for layer in range(L):
        for head in range(H):
            out[layer, head] = sum(float(patterns[layer, head, q, q - n + 1]) for q in range(n, 2 * n)) / n
    return out


def test_the_hand_built_heads_are_what_they_claim():
    model, _ = induction_model()
    ids = probe(len(VOCAB), 16, seed=3)
    logits, cache = run_with_cache(model, ids[None], r"blocks\.\d+\.attn\.hook_pattern")
    pats = cache.stack("attn.hook_pattern")[:, 0]  # (L, H, T, T)
    layer, head = PREV_TOKEN_HEAD
    assert all(pats[layer, head, t, t - 1] > 0.99 for t in range(1, 32))
    # the second copy is predicted: the model's choice at q is the character at q + 1
    assert (logits[0, 16:-1].argmax(-1) == ids[17:]).all()


def test_the_probe_is_two_copies_of_distinct_characters():
    ids = probe(65, 40, seed=1)
    assert ids.shape == (80,) and torch.equal(ids[:40], ids[40:]) and len(set(ids[:40].tolist())) == 40
    assert not torch.equal(probe(65, 40, seed=1), probe(65, 40, seed=2))
    with pytest.raises(ValueError, match="2 to 65"):
        probe(65, 66)


def test_induction_finds_the_induction_head_and_the_loss_falls_on_the_second_copy():
    model, _ = induction_model()
    r = induction(model, length=16, seed=0)
    assert r.scores.shape == (2, 2) and r.n == 16 and len(r.tokens) == 32
    assert r.scores[INDUCTION_HEAD] > 0.9 and r.prev_scores[PREV_TOKEN_HEAD] > 0.95
    others = [float(r.scores[l, h]) for l in range(2) for h in range(2) if (l, h) != INDUCTION_HEAD]
    assert max(others) < 0.2
    assert r.top_heads(1)[0][:2] == INDUCTION_HEAD
    assert r.loss_second < 0.1 < 2.0 < r.loss_first  # the first copy is random; the second is copied
    assert r.ablated_heads == [INDUCTION_HEAD]  # the one head above the threshold
    # without it nothing writes to the logits: a uniform guess over the 16 characters
    assert r.ablated_loss_second == pytest.approx(math.log(len(VOCAB)), abs=1e-3)
    assert torch.allclose(r.scores, scores_by_hand(r.patterns, r.n))
    assert torch.allclose(r.prev_scores, previous_token_scores(r.patterns))


def test_induction_scores_on_a_synthetic_pattern():
    n = 5
    pattern = torch.zeros(2 * n, 2 * n)
    for q in range(2 * n):
        pattern[q, q - n + 1 if q >= n else 0] = 1.0  # a perfect induction head on the second copy
    assert float(induction_scores(pattern, n)) == 1.0
    assert float(previous_token_scores(torch.eye(2 * n))) == 0.0


def test_a_model_that_has_not_learned_it_scores_low(gpt):
    r = induction(gpt, seed=0)
    assert r.n == min(gpt.config.block_size // 2, gpt.config.vocab_size)
    assert ((r.scores >= 0) & (r.scores <= 1)).all() and torch.allclose(r.scores, scores_by_hand(r.patterns, r.n))


def test_induction_command_json_is_recomputed_from_the_patterns(tmp_path, capsys):
    model, tokenizer = induction_model()
    path = save_checkpoint(tmp_path / "hand.safetensors", model, tokenizer, {})
    assert main(["induction", "--ckpt", str(path), "--length", "12", "--seed", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"tokens", "scores", "prev_scores", "loss_first", "loss_second"} <= set(out)
    tokens = torch.tensor(out["tokens"])
    assert tokens.shape == (24,) and torch.equal(tokens[:12], tokens[12:])
    _, cache = run_with_cache(model, tokens[None], r"blocks\.\d+\.attn\.hook_pattern")
    pats = cache.stack("attn.hook_pattern")[:, 0]
    assert torch.allclose(torch.tensor(out["scores"]), scores_by_hand(pats, 12), atol=1e-6)
    assert out["loss_second"] < out["loss_first"]
    assert main(["induction", "--ckpt", str(path), "--length", "17"]) == 2  # 34 > block 32
    assert "do not fit" in capsys.readouterr().err


def test_the_uniform_score_is_what_an_even_spread_puts_on_the_target():
    n = 5
    T = 2 * n
    even = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]  # (T, T): each row spread evenly
    assert abs(float(induction_scores(even, n)) - uniform_score(n)) < 1e-6
