"""generate / generate_steps: the KV cache changes the cost, never the text or the distribution."""

from __future__ import annotations

import pytest
import torch

from nanogpt.capture import run_with_cache
from nanogpt.config import GPTConfig
from nanogpt.generate import generate, generate_steps
from nanogpt.model import KVCache, build_model


@pytest.fixture(scope="module")
def prompt(trained):
    return trained.tokenizer.encode("First Citizen:\n")


def test_kv_cache_forward_equals_the_full_forward(gpt, prompt):
    """A multi-character prompt into the cache, then one character at a time (every layer's past)."""
    ids = torch.tensor([prompt + prompt])  # (1, 30)
    with torch.no_grad():
        full, _ = gpt(ids)
        kv = KVCache(gpt.config.n_layer)
        first, _ = gpt(ids[:, :6], kv_cache=kv)
        steps = [first] + [gpt(ids[:, t : t + 1], kv_cache=kv)[0] for t in range(6, ids.shape[1])]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=0, atol=1e-5)
    assert kv.length == ids.shape[1]
    with pytest.raises(ValueError, match="block_size"):
        gpt(ids[:, :3], kv_cache=kv)  # 33 positions do not fit in a block of 32


def test_same_text_with_and_without_cache(gpt, prompt):
    n = 40  # past block_size (32): the window slides for the last steps
    cached = generate(gpt, prompt, n, seed=7)
    plain = generate(gpt, prompt, n, seed=7, use_cache=False)
    assert cached == plain
    assert cached[: len(prompt)] == prompt and len(cached) == len(prompt) + n
    assert generate(gpt, prompt, n, seed=7) == cached  # same seed, same text
    assert generate(gpt, prompt, n, temperature=0.7, top_k=5, seed=3) == generate(
        gpt, prompt, n, temperature=0.7, top_k=5, seed=3, use_cache=False
    )


def test_each_step_is_the_full_forward_distribution(gpt, trained, prompt):
    tokens = list(prompt)
    steps = list(generate_steps(gpt, prompt, 25, temperature=0.8, top_k=6, seed=2, tokenizer=trained.tokenizer))
    for step in steps:
        context = tokens[-gpt.config.block_size :]
        with torch.no_grad():
            logits = gpt(torch.tensor([context]))[0][0, -1]  # (vocab,)
        assert step.context_len == len(context)
        torch.testing.assert_close(torch.from_numpy(step.probs_raw), torch.softmax(logits, -1), rtol=0, atol=1e-5)
        # after temperature and top-k: only 6 characters left, in the proportions of logits / 0.8
        top = torch.topk(logits, 6).indices
        want = torch.zeros_like(logits)
        want[top] = torch.softmax(logits[top] / 0.8, -1)
        torch.testing.assert_close(torch.from_numpy(step.probs), want, rtol=0, atol=1e-5)
        assert step.probs[step.token] > 0
        assert step.char == trained.tokenizer.chars[step.token]
        tokens.append(step.token)
    assert [s.index for s in steps] == list(range(25))


def test_attention_rows_match_a_full_capture(gpt, prompt):
    cfg = gpt.config
    tokens = list(prompt)
    for step in generate_steps(gpt, prompt, 20, seed=4):
        context = tokens[-cfg.block_size :]
        assert step.attention.shape == (cfg.n_layer, cfg.n_head, len(context))
        _, cache = run_with_cache(gpt, torch.tensor([context]), names=lambda n: n.endswith("hook_pattern"))
        want = cache.stack("attn.hook_pattern")[:, 0, :, -1, :]  # (L, H, T): the last query's row
        torch.testing.assert_close(torch.from_numpy(step.attention), want, rtol=0, atol=1e-5)
        tokens.append(step.token)


def test_long_prompts_are_cropped_and_the_step_says_so(gpt, trained, tiny_text):
    block = gpt.config.block_size
    long_prompt = trained.tokenizer.encode(tiny_text[: block + 9])
    steps = list(generate_steps(gpt, long_prompt, 3, seed=5))
    assert all(s.cropped and s.context_len == block for s in steps)
    with torch.no_grad():
        logits = gpt(torch.tensor([long_prompt[-block:]]))[0][0, -1]
    torch.testing.assert_close(torch.from_numpy(steps[0].probs_raw), torch.softmax(logits, -1), rtol=0, atol=1e-5)
    assert generate(gpt, long_prompt, 5, seed=5) == generate(gpt, long_prompt, 5, seed=5, use_cache=False)

    short = long_prompt[: block - 2]  # fills the block on step 2, needs cropping from step 3 on
    flags = [(s.context_len, s.cropped) for s in generate_steps(gpt, short, 4, seed=5)]
    assert flags == [(block - 2, False), (block - 1, False), (block, False), (block, True)]


def test_bad_arguments(gpt, prompt):
    with pytest.raises(ValueError, match="empty"):
        generate(gpt, [], 5)
    with pytest.raises(ValueError, match="temperature"):
        generate(gpt, prompt, 5, temperature=0)


def test_bigram_model_generates_without_cache():
    torch.manual_seed(0)
    bigram = build_model(GPTConfig(model_type="bigram", vocab_size=9, block_size=8, dropout=0.0)).eval()
    out = generate(bigram, [1, 2, 3], 12, seed=1)
    assert len(out) == 15 and all(0 <= t < 9 for t in out)
    steps = list(generate_steps(bigram, [1, 2, 3], 2, seed=1))
    assert steps[0].attention is None
