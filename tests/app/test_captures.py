"""backend/captures.py: data preparation outside any page: prompts, captures, the score breakdown, the lens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nanogpt import metrics
from nanogpt.capture import run_with_cache
from nanogpt.config import ATTN_SCALES
from viz_app.backend import captures, registry

from .app_helpers import PROMPT


@pytest.fixture
def key(tiny_dir):
    return registry.model_ref(registry.ModelEntry("tiny", str(tiny_dir / "tiny.safetensors"), "shipped"))


def test_prepare_prompt_drops_unknown_characters_and_keeps_the_end(key):
    ckpt = captures.load_model(key)
    prompt = captures.prepare_prompt("Speak, spéak" * 4, ckpt)
    assert prompt.unknown == ("é",)
    assert prompt.n_cropped == len("Speak, spak") * 4 - 32 and len(prompt.ids) == 32
    assert prompt.text == ("Speak, spak" * 4)[-32:]
    assert captures.prepare_prompt("", ckpt).empty


def test_attention_data_matches_the_model(key):
    ckpt = captures.load_model(key)
    ids = captures.prepare_prompt(PROMPT, ckpt).ids
    data = captures.attention_data(key, ids, "head_size")
    T = len(ids)
    assert data.patterns.shape == (2, 2, T, T) and data.q.shape == (2, 2, T, 16)
    assert np.allclose(data.patterns.sum(-1), 1.0, atol=1e-5)
    assert np.isneginf(data.scores[0, 0, 0, 1])
    assert data.scale_value == pytest.approx(16**-0.5)
    sharp = captures.sharpness(key, ids, "head_size")
    assert sharp.mean_normalized_entropy.shape == (2, 2) and len(sharp.summary) == 4


def test_score_breakdown_adds_up(key):
    ckpt = captures.load_model(key)
    ids = captures.prepare_prompt(PROMPT, ckpt).ids
    for scale in ATTN_SCALES:
        data = captures.attention_data(key, ids, scale)
        b = metrics.score_breakdown(data.q[1, 1], data.k[1, 1], data.scores[1, 1], data.patterns[1, 1],
                                    data.scale_value, 10, 4)  # fmt: skip
        assert np.allclose(b.product, b.q * b.k)
        assert b.dot * b.scale == pytest.approx(b.score, abs=1e-4)
        assert b.weight == pytest.approx(float(np.exp(b.score) / np.exp(b.row_scores).sum()), abs=1e-5)


def test_lens_top_is_sorted_and_names_the_next_character(key):
    ckpt = captures.load_model(key)
    ids = captures.prepare_prompt(PROMPT, ckpt).ids
    data = captures.residual_data(key, ids, "head_size")
    top = metrics.lens_top_of(data.lens_ids[:, 3], data.lens_probs[:, 3], data.lens_target[:, 3], data.vocab, ids[4])
    P, k = len(data.labels), captures.LENS_TOP_K
    assert top.probs.shape == (P, k) and np.all(np.diff(top.probs, axis=1) <= 0)
    assert top.target == "t" and top.target_probs.shape == (P,)
    # the page keeps the top k, never points x T x vocab: the same numbers as the whole lens's
    _, cache = run_with_cache(ckpt.model, torch.tensor([ids]), captures.RESIDUAL_HOOKS)
    _, full = metrics.logit_lens(ckpt.model, cache)  # (P, 1, T, vocab)
    whole = metrics.lens_top(full[:, 0, 3].numpy(), data.vocab, ids[4], k=k)
    assert top.chars == whole.chars and np.allclose(top.probs, whole.probs, atol=1e-6)
    assert np.allclose(top.target_probs, whole.target_probs, atol=1e-6)
    assert data.lens_ids.shape == (P, len(ids), k) and np.isnan(data.lens_target[:, -1]).all()


def test_layer_scale_is_a_forward_with_the_scale_in_that_layer_only(key):
    """The side by side's "this layer only" is made from the trained capture's q and k, no forward:
    the same weights and means as a forward with the scale changed in that layer."""
    ckpt = captures.load_model(key)
    ids = captures.prepare_prompt(PROMPT, ckpt).ids
    for layer in range(ckpt.model.config.n_layer):
        for scale in ATTN_SCALES:
            got = captures.layer_scale(key, ids, scale, layer, only=True)
            forward = captures.attention_data(key, ids, scale, layer)
            sharp = captures.sharpness(key, ids, scale, layer)
            assert got.scale_value == forward.scale_value
            np.testing.assert_allclose(got.patterns, forward.patterns[layer], rtol=0, atol=2e-6)
            np.testing.assert_allclose(got.mean_entropy, sharp.mean_entropy[layer], rtol=0, atol=2e-6)
            np.testing.assert_allclose(got.mean_max_weight, sharp.mean_max_weight[layer], rtol=0, atol=2e-6)
            every = captures.layer_scale(key, ids, scale, layer, only=False)
            np.testing.assert_array_equal(every.patterns, captures.attention_data(key, ids, scale).patterns[layer])


def test_score_std_is_computed_when_read(key):
    ckpt = captures.load_model(key)
    # a prompt no other test captures: the cache shares one Sharpness per prompt, and a page's test may have read it
    ids = captures.prepare_prompt(PROMPT[::-1], ckpt).ids
    data = captures.attention_data(key, ids, "none")
    sharp = captures.sharpness(key, ids, "none")
    assert "score_std" not in vars(sharp)  # nothing computed until a page reads it
    expected = metrics.score_std(torch.tensor(data.scores)).numpy()
    np.testing.assert_array_equal(sharp.score_std, expected)
    assert not sharp.score_std.flags.writeable
