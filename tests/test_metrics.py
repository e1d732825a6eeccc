"""metrics.py: entropy and sharpness, norms, logit lens, per-position loss, head tags."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from nanogpt.capture import run_with_cache
from nanogpt.checkpoint import load_checkpoint
from nanogpt.metrics import (
    effective_keys,
    entropy,
    focused_head,
    head_summary,
    head_tags,
    lens_top,
    logit_lens,
    max_weight,
    normalized_entropy,
    patterns,
    per_position_loss,
    residual_norms,
    row_mean,
    score_breakdown,
    score_std,
    softmax_variance_demo,
    sublayer_norms,
    summary,
    tag_grid,
)


@pytest.fixture(scope="module")
def trained(tiny_ckpt):
    return load_checkpoint(tiny_ckpt)


@pytest.fixture(scope="module")
def captured(trained, tiny_text):
    ids = torch.tensor([trained.tokenizer.encode(tiny_text[5:37])])  # (1, 32): a full block
    logits, cache = run_with_cache(trained.model, ids)
    return ids, logits, cache


def causal_uniform(T):
    """Row t spreads its weight evenly over keys 0..t. (T, T)"""
    return torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]


def test_entropy_of_known_rows():
    T = 6
    ent = entropy(causal_uniform(T))
    torch.testing.assert_close(ent, torch.log(torch.arange(1, T + 1, dtype=torch.float32)))
    torch.testing.assert_close(normalized_entropy(causal_uniform(T)), torch.tensor([0.0] + [1.0] * (T - 1)))
    one_hot = torch.eye(T)
    assert torch.equal(entropy(one_hot), torch.zeros(T))  # 0 log 0 counts as 0, not nan
    assert torch.equal(normalized_entropy(one_hot), torch.zeros(T))
    torch.testing.assert_close(effective_keys(causal_uniform(T)), torch.arange(1, T + 1, dtype=torch.float32))
    torch.testing.assert_close(max_weight(causal_uniform(T)), 1 / torch.arange(1, T + 1, dtype=torch.float32))
    # without the mask every row sees all T keys
    full = torch.full((3, T), 1 / T)
    torch.testing.assert_close(normalized_entropy(full, causal=False), torch.ones(3))
    # rows of a KV-cache step: 2 queries at positions 4 and 5 see 5 and 6 keys
    step = torch.zeros(2, T)
    step[0, :5], step[1, :] = 0.2, 1 / 6
    torch.testing.assert_close(normalized_entropy(step), torch.ones(2))


def test_entropy_bounds_on_a_trained_model(captured, trained):
    ids, _, cache = captured
    unmasked = run_with_cache(trained.model, ids, causal=False)[1].stack("attn.hook_pattern")
    for causal, pats in ((True, cache.stack("attn.hook_pattern")), (False, unmasked)):
        T = pats.shape[-1]
        ent = entropy(pats)  # (L, B, H, T)
        n_keys = torch.arange(1, T + 1, dtype=torch.float32) if causal else torch.full((T,), float(T))
        assert (ent >= 0).all()
        assert (ent <= torch.log(n_keys) + 1e-5).all()
        norm = normalized_entropy(pats, causal)
        assert (norm >= 0).all() and (norm <= 1 + 1e-5).all()
        assert ent[..., 1:].max() > 0.1 and norm.min() < 0.9  # real patterns: neither one-hot nor uniform


def test_score_std_ignores_masked_entries(captured):
    _, _, cache = captured
    scores = cache["blocks.0.attn.hook_scores"][0, 0]  # (T, T)
    got = score_std(scores)
    for t in (1, 5, scores.shape[0] - 1):
        torch.testing.assert_close(got[t], scores[t, : t + 1].std(unbiased=False))
    assert got[0] == 0  # one key: no spread


def test_row_mean_skips_the_trivial_first_row():
    values = torch.tensor([[100.0, 1.0, 3.0]])
    assert torch.equal(row_mean(values), torch.tensor([2.0]))
    assert torch.equal(row_mean(torch.tensor([7.0])), torch.tensor(7.0))


def test_residual_and_sublayer_norms(captured, trained):
    _, _, cache = captured
    labels, norms = residual_norms(cache)
    n_layer = trained.model.config.n_layer
    assert labels == ["embed"] + [f"L{i} {s}" for i in range(n_layer) for s in ("+attn", "+mlp")]
    assert norms.shape == (1 + 2 * n_layer, 1, 32)
    torch.testing.assert_close(norms[0], cache["blocks.0.hook_resid_pre"].norm(dim=-1))
    torch.testing.assert_close(norms[-1], cache[f"blocks.{n_layer - 1}.hook_resid_post"].norm(dim=-1))
    labels, norms = sublayer_norms(cache)
    assert labels == [f"L{i} {s}" for i in range(n_layer) for s in ("attn", "mlp")]
    torch.testing.assert_close(norms[1], cache["blocks.0.hook_mlp_out"].norm(dim=-1))
    # what the sublayers write adds up to the residual stream (pre-norm model with residuals)
    resid = cache["blocks.0.hook_resid_pre"] + cache["blocks.0.hook_attn_out"] + cache["blocks.0.hook_mlp_out"]
    torch.testing.assert_close(resid, cache["blocks.0.hook_resid_post"])


def test_logit_lens_ends_at_the_model_prediction(captured, trained):
    _, logits, cache = captured
    labels, probs = logit_lens(trained.model, cache)
    assert labels == residual_norms(cache)[0]
    assert probs.shape == (len(labels), 1, 32, trained.tokenizer.vocab_size)
    torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[:-1]))
    torch.testing.assert_close(probs[-1], torch.softmax(logits, -1), rtol=0, atol=1e-6)
    assert not torch.allclose(probs[0], probs[-1], atol=1e-3)  # the embedding alone predicts something else


def test_per_position_loss_averages_to_the_model_loss(trained, tiny_text):
    ids = torch.tensor([trained.tokenizer.encode(tiny_text[:33])])
    x, y = ids[:, :-1], ids[:, 1:]
    with torch.no_grad():
        logits, loss = trained.model(x, y)
    per = per_position_loss(logits, y)
    assert per.shape == (1, 32)
    torch.testing.assert_close(per.mean(), loss)
    torch.testing.assert_close(per[0, 3], F.cross_entropy(logits[0, 3], y[0, 3]))


def test_head_tags_on_synthetic_patterns():
    T = 8
    prev = torch.zeros(T, T)
    prev[0, 0] = 1.0
    prev[torch.arange(1, T), torch.arange(T - 1)] = 1.0
    assert head_tags(prev) == ["previous-token"]
    sink = torch.zeros(T, T)
    sink[:, 0] = 1.0
    assert head_tags(sink) == ["first-token"]
    assert head_tags(causal_uniform(T)) == ["uniform"]
    assert head_tags(torch.eye(T)) == ["self"]  # each position attends to itself
    assert head_tags(torch.ones(1, 1)) == []
    back2 = torch.zeros(T, T)
    back2[torch.arange(T), (torch.arange(T) - 2).clamp_min(0)] = 1.0
    assert head_tags(back2) == ["2 back"]


def latest_of(chars: str, marked) -> torch.Tensor:
    """A pattern whose row t puts all its weight on the latest position j <= t with marked(j)."""
    T, last = len(chars), 0
    p = torch.zeros(T, T)
    for t in range(T):
        last = t if marked(t) else last
        p[t, last] = 1.0
    return p


def test_tags_that_read_the_characters():
    text = "First Citizen:\nBefore we proceed, hear me.\n"
    space = latest_of(text, lambda j: text[j] in " \n")
    assert head_tags(space, chars=text)[0] == "last space" and "last space" not in head_tags(space)  # needs chars
    assert head_tags(latest_of(text, lambda j: text[j] == "\n"), chars=text)[0] == "line start"
    vowel = latest_of(text, lambda j: text[j] in "aeiouAEIOU")
    assert head_tags(vowel, chars=text) == ["last vowel"]
    first = latest_of(text, lambda j: text[j].isalpha() and (j == 0 or text[j - 1] in " \n"))
    assert "word's first letter" in head_tags(first, chars=text)
    punct = latest_of(text, lambda j: text[j] in ".,:")
    assert head_tags(punct, chars=text)[0] == "last punctuation"
    same = torch.zeros(len(text), len(text))  # each character looks at its own earlier copies
    for t, c in enumerate(text):
        earlier = [j for j in range(t) if text[j] == c] or [t]
        same[t, earlier] = 1.0 / len(earlier)
    assert head_tags(same, chars=text)[0] == "same character"
    assert scores_of(causal_uniform(len(text)), text)["last space"] < 0.4  # a spread head gets none of these


def scores_of(pattern, text):
    from nanogpt.metrics import tag_scores

    return tag_scores(pattern, text)


def test_head_summary_and_summary(captured, trained):
    _, _, cache = captured
    cfg = trained.model.config
    heads = head_summary(patterns(cache))
    assert [(h["layer"], h["head"]) for h in heads] == [(l, h) for l in range(cfg.n_layer) for h in range(cfg.n_head)]
    pats = cache.stack("attn.hook_pattern")[:, 0]  # (L, H, T, T)
    for h in heads:
        p = pats[h["layer"], h["head"]]
        assert h["mean_entropy"] == pytest.approx(float(entropy(p)[1:].mean()), abs=1e-4)
        assert h["mean_normalized_entropy"] == pytest.approx(float(normalized_entropy(p)[1:].mean()), abs=1e-4)
        assert h["mean_max_weight"] == pytest.approx(float(p[1:].amax(-1).mean()), abs=1e-4)
        assert 1 <= h["effective_keys"] <= 32
        assert h["tags"] == head_tags(p)
    s = summary(cache)
    assert (s["n_layer"], s["n_head"], s["n_tokens"]) == (cfg.n_layer, cfg.n_head, 32)
    assert s["residual_norms"]["embed"] == pytest.approx(
        float(cache["blocks.0.hook_resid_pre"].norm(dim=-1).mean()), abs=1e-3
    )


def test_head_summary_from_rows_the_caller_has_is_the_same(captured, tiny_text):
    _, _, cache = captured
    pats = patterns(cache)
    chars = tiny_text[5:37]
    ent = entropy(pats)
    norm = normalized_entropy(pats, row_entropy=ent)
    assert torch.equal(norm, normalized_entropy(pats))
    given = head_summary(pats, chars=chars, row_entropy=ent, row_normalized=norm, row_max=max_weight(pats))
    assert given == head_summary(pats, chars=chars)


def test_softmax_variance_demo():
    demo = softmax_variance_demo(64)
    assert demo["var_unscaled"] == pytest.approx(64, rel=0.1)
    assert demo["var_scaled"] == pytest.approx(1, rel=0.1)
    assert max(demo["row_unscaled"]) > max(demo["row_scaled"])  # without the scale the softmax is peakier
    assert sum(demo["row_scaled"]) == pytest.approx(1)
    assert math.isclose(demo["var_unscaled"] / demo["var_scaled"], 64, rel_tol=1e-4)


def test_tag_grid_puts_each_heads_tags_at_its_place():
    rows = [dict(layer=0, head=0, tags=["self"]), dict(layer=1, head=1, tags=["previous-token", "uniform"])]
    assert tag_grid(rows, 2, 2) == [[["self"], []], [[], ["previous-token", "uniform"]]]


def test_focused_head_skips_sinks_unless_every_head_is_one():
    entropy = np.array([[0.1, 0.5], [0.3, 0.9]])  # (L, H) mean normalised entropy
    tags = [[["first-token"], []], [[], ["uniform"]]]
    assert focused_head(entropy, tags) == (1, 0)  # 0.1 is a sink; 0.3 is the sharpest head with a job
    all_sinks = [[["first-token"]] * 2] * 2
    assert focused_head(entropy, all_sinks) == (0, 0)


def test_score_breakdown_is_the_captured_score_taken_apart():
    rng = np.random.default_rng(0)
    T, d, scale = 6, 4, 0.5
    q, k = rng.normal(size=(T, d)), rng.normal(size=(T, d))  # (T, d)
    scores = np.where(np.tril(np.ones((T, T))) > 0, scale * q @ k.T, -np.inf)  # (T, T), future masked
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    b = score_breakdown(q, k, scores, weights, scale, query=4, key_pos=2)
    np.testing.assert_allclose(b.product, q[4] * k[2])
    assert b.dot * b.scale == pytest.approx(b.score) and b.score == pytest.approx(scale * q[4] @ k[2])
    assert len(b.row_scores) == len(b.row_weights) == 5 and b.row_weights.sum() == pytest.approx(1)
    assert b.weight == pytest.approx(np.exp(b.score) / np.exp(b.row_scores).sum())


def test_lens_top_sorts_and_names_the_real_next_character():
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])  # (P, vocab) at one position
    top = lens_top(probs, ["a", "b", "c"], next_id=2, k=2)
    assert top.chars == [["b", "c"], ["a", "c"]]
    np.testing.assert_allclose(top.probs, [[0.6, 0.3], [0.5, 0.3]])
    assert top.target == "c" and list(top.target_probs) == [0.3, 0.3]
    assert lens_top(probs, ["a", "b", "c"], next_id=None).target is None
