"""run_with_cache: what it captures, the interventions, and that it leaves nothing behind."""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest
import torch

from nanogpt import capture
from nanogpt import model as model_module
from nanogpt.capture import run_with_cache
from nanogpt.config import GPTConfig
from nanogpt.metrics import entropy, row_mean, write_summary
from nanogpt.model import GPT, KVCache


@pytest.fixture(scope="module")
def ids(trained, tiny_text):
    return torch.tensor([trained.tokenizer.encode(tiny_text[:24])])  # (1, 24)


def causal_softmax(q, k, scale, causal=True):
    """The reference: softmax(q k^T * scale) with the causal mask, from scratch."""
    scores = q @ k.transpose(-2, -1) * scale  # (B, H, T, T)
    if causal:
        T = q.shape[-2]
        scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    return torch.softmax(scores, dim=-1)


def all_hooks(model):
    """Every (module name, hooks) pair with a forward or forward-pre hook on it."""
    found = []
    for name, m in model.named_modules():
        found += [(name, hooks) for hooks in (m._forward_hooks, m._forward_pre_hooks) if hooks]
    return found


def test_cache_shapes_names_and_cpu(gpt, ids):
    cfg = gpt.config
    B, T, C, H, d = 1, ids.shape[1], cfg.n_embd, cfg.n_head, cfg.head_size
    _, cache = run_with_cache(gpt, ids)
    assert cache["hook_embed"].shape == (B, T, C)
    assert cache["hook_pos_embed"].shape == (B, T, C)
    for i in range(cfg.n_layer):
        for hook in ("q", "k", "v", "z"):
            assert cache[f"blocks.{i}.attn.hook_{hook}"].shape == (B, H, T, d)
        for hook in ("scores", "pattern"):
            assert cache[f"blocks.{i}.attn.hook_{hook}"].shape == (B, H, T, T)
        for hook in ("resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post"):
            assert cache[f"blocks.{i}.hook_{hook}"].shape == (B, T, C)
    assert cache["ln_f.hook_normalized"].shape == (B, T, C)
    assert all(t.device.type == "cpu" and not t.requires_grad for t in cache.values())
    assert cache.stack("attn.hook_pattern").shape == (cfg.n_layer, B, H, T, T)

    pattern_names = [f"blocks.{i}.attn.hook_pattern" for i in range(cfg.n_layer)]
    assert sorted(run_with_cache(gpt, ids, names=pattern_names)[1]) == pattern_names
    assert sorted(run_with_cache(gpt, ids, names=r"blocks\.\d+\.attn\.hook_pattern")[1]) == pattern_names
    assert sorted(run_with_cache(gpt, ids, names=lambda n: n.endswith("hook_pattern"))[1]) == pattern_names
    with pytest.raises(KeyError, match="blocks.9.hook_nope"):
        run_with_cache(gpt, ids, names=["blocks.9.hook_nope"])


def test_pattern_is_softmax_of_captured_q_k_and_of_the_weights(gpt, ids):
    _, cache = run_with_cache(gpt, ids)
    C, H, d = gpt.config.n_embd, gpt.config.n_head, gpt.config.head_size
    B, T = ids.shape
    for i, block in enumerate(gpt.blocks):
        pattern = cache[f"blocks.{i}.attn.hook_pattern"]
        q, k = cache[f"blocks.{i}.attn.hook_q"], cache[f"blocks.{i}.attn.hook_k"]
        torch.testing.assert_close(pattern, causal_softmax(q, k, d**-0.5), rtol=0, atol=1e-6)
        # and from the weights: ln1 of the residual stream, then the block's own q and k projections
        with torch.no_grad():
            h = block.ln1(cache[f"blocks.{i}.hook_resid_pre"])
            q_w, k_w, _ = block.attn.qkv(h).split(C, dim=2)  # each (B, T, C)
        q_w = q_w.view(B, T, H, d).transpose(1, 2)  # (B, H, T, d)
        k_w = k_w.view(B, T, H, d).transpose(1, 2)
        torch.testing.assert_close(pattern, causal_softmax(q_w, k_w, d**-0.5), rtol=0, atol=1e-5)
        assert pattern.std() > 1e-3  # a trained model: not the uniform pattern any formula would match


def test_rows_sum_to_one_and_mask_zeroes_the_future(gpt, ids):
    T = ids.shape[1]
    above = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for causal in (True, False):
        _, cache = run_with_cache(gpt, ids, causal=causal)
        for i in range(gpt.config.n_layer):
            pattern = cache[f"blocks.{i}.attn.hook_pattern"]
            scores = cache[f"blocks.{i}.attn.hook_scores"]
            torch.testing.assert_close(pattern.sum(-1), torch.ones(pattern.shape[:-1]))
            if causal:
                assert (pattern[..., above] == 0).all()
                assert torch.isneginf(scores[..., above]).all() and torch.isfinite(scores[..., ~above]).all()
            else:
                assert (pattern[..., above] > 0).all()
                assert torch.isfinite(scores).all()


def test_unmasked_logits_differ(gpt, ids):
    masked, _ = run_with_cache(gpt, ids)
    unmasked, _ = run_with_cache(gpt, ids, causal=False)
    assert not torch.allclose(masked, unmasked, atol=1e-4)  # the model reads the future: its logits change


def test_scale_settings_multiply_the_scores(gpt, ids):
    d, C = gpt.config.head_size, gpt.config.n_embd
    name = "blocks.0.attn.hook_scores"  # layer 0: the same input under every setting
    scores = {s: run_with_cache(gpt, ids, names=[name], attn_scale=s)[1][name] for s in ("head_size", "none", "n_embd")}
    finite = torch.isfinite(scores["head_size"])
    torch.testing.assert_close(scores["none"][finite], scores["head_size"][finite] * math.sqrt(d))
    torch.testing.assert_close(scores["n_embd"][finite], scores["head_size"][finite] * math.sqrt(d / C))
    half = run_with_cache(gpt, ids, names=[name], attn_scale=0.5)[1][name]
    torch.testing.assert_close(half[finite], scores["none"][finite] * 0.5)
    assert torch.equal(torch.isfinite(scores["none"]), finite)
    with pytest.raises(ValueError, match="attn_scale"):
        run_with_cache(gpt, ids, attn_scale="sqrt")


def test_a_scale_for_one_layer_leaves_the_other_layers_as_trained(gpt, ids):
    names = r"blocks\.\d+\.(attn\.hook_scores|attn\.hook_pattern|hook_resid_pre)"
    d = gpt.config.head_size
    _, trained = run_with_cache(gpt, ids, names=names)
    _, one = run_with_cache(gpt, ids, names=names, attn_scale={1: "none"})
    _, every = run_with_cache(gpt, ids, names=names, attn_scale="none")
    for name in ("blocks.0.attn.hook_pattern", "blocks.1.hook_resid_pre"):  # below layer 1: untouched
        torch.testing.assert_close(one[name], trained[name], rtol=0, atol=0)
    # layer 1 reads exactly the trained inputs, so its scores are the trained ones times sqrt(d)
    finite = torch.isfinite(trained["blocks.1.attn.hook_scores"])
    torch.testing.assert_close(
        one["blocks.1.attn.hook_scores"][finite], trained["blocks.1.attn.hook_scores"][finite] * math.sqrt(d)
    )
    # the every-layer switch also changes layer 1's inputs: a different experiment
    assert not torch.allclose(every["blocks.1.hook_resid_pre"], trained["blocks.1.hook_resid_pre"])
    # a larger scale on the same scores can only sharpen the softmax: entropy falls in every row
    assert (entropy(one["blocks.1.attn.hook_pattern"]) <= entropy(trained["blocks.1.attn.hook_pattern"]) + 1e-5).all()
    with pytest.raises(ValueError, match="out of range"):
        run_with_cache(gpt, ids, attn_scale={gpt.config.n_layer: "none"})
    with pytest.raises(ValueError, match="attn_scale"):
        run_with_cache(gpt, ids, attn_scale={0: "sqrt"})


def test_scale_off_lowers_mean_entropy(gpt, ids):
    def mean_entropy(setting):
        _, cache = run_with_cache(gpt, ids, names=lambda n: n.endswith("hook_pattern"), attn_scale=setting)
        return row_mean(entropy(cache.stack("attn.hook_pattern"))).mean()

    assert mean_entropy("none") < mean_entropy("head_size") - 0.05


def test_logits_equal_the_fast_forward(gpt, ids):
    with torch.no_grad():
        fast, _ = gpt(ids)
    for names in (None, ["blocks.1.attn.hook_pattern"]):
        logits, _ = run_with_cache(gpt, ids, names=names)
        torch.testing.assert_close(logits, fast, rtol=0, atol=1e-5)
    # a non-default model scale goes through both paths the same way
    torch.manual_seed(0)
    other = GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.0, attn_scale="none"))
    x = torch.randint(11, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(run_with_cache(other.eval(), x)[0], other(x)[0], rtol=0, atol=1e-5)


def test_no_hook_left_even_after_an_exception(gpt, ids):
    assert all_hooks(gpt) == []
    run_with_cache(gpt, ids)
    assert all_hooks(gpt) == []

    bad = ids.clone()
    bad[0, 5] = gpt.config.vocab_size + 3  # the embedding lookup raises inside the forward
    with pytest.raises(IndexError):
        run_with_cache(gpt, bad, attn_scale="none", ablate_heads=[(0, 0)])
    assert all_hooks(gpt) == []

    def boom(module, inputs, output):
        raise RuntimeError("boom")

    user = gpt.blocks[1].attn.hook_pattern.register_forward_hook(boom)  # raises halfway through the model
    try:
        with pytest.raises(RuntimeError, match="boom"):
            run_with_cache(gpt, ids, causal=False)
    finally:
        user.remove()
    assert all_hooks(gpt) == []
    assert capture._OWNER.get() is None and model_module._INTERVENTION.get() is None
    # and the model still runs on the fast path with the default behaviour
    with torch.no_grad():
        torch.testing.assert_close(gpt(ids)[0], run_with_cache(gpt, ids)[0], rtol=0, atol=1e-5)


def test_ablating_a_head(gpt, ids):
    base, _ = run_with_cache(gpt, ids)
    none, _ = run_with_cache(gpt, ids, ablate_heads=[])
    assert torch.equal(base, none)
    ablated, cache = run_with_cache(gpt, ids, ablate_heads=[(0, 1)])
    assert not torch.allclose(base, ablated, atol=1e-4)
    z = cache["blocks.0.attn.hook_z"]
    assert (z[:, 1] == 0).all() and (z[:, 0] != 0).any()
    assert (cache["blocks.1.attn.hook_z"] != 0).any(axis=(0, 2, 3)).all()
    with pytest.raises(ValueError, match="out of range"):
        run_with_cache(gpt, ids, ablate_heads=[(0, gpt.config.n_head)])


def test_kv_cache_steps_match_the_full_capture(gpt, ids):
    """Capturing one position at a time through the KV cache gives the full pattern's rows."""
    _, full = run_with_cache(gpt, ids)
    kv = KVCache(gpt.config.n_layer)
    run_with_cache(gpt, ids[:, :10], kv_cache=kv)  # a 10-character prompt, then one at a time
    for t in range(10, ids.shape[1]):
        logits, step = run_with_cache(gpt, ids[:, t : t + 1], kv_cache=kv)
        for i in range(gpt.config.n_layer):
            row = step[f"blocks.{i}.attn.hook_pattern"][0, :, 0]  # (H, t + 1)
            torch.testing.assert_close(row, full[f"blocks.{i}.attn.hook_pattern"][0, :, t, : t + 1], rtol=0, atol=1e-5)


# eight sessions at once: a different prompt and a different intervention each
SESSIONS = [
    dict(start=0, length=24),
    dict(start=3, length=20, attn_scale="none"),
    dict(start=7, length=17, attn_scale="n_embd"),
    dict(start=11, length=30, ablate_heads=[(0, 1)]),
    dict(start=13, length=12, causal=False),
    dict(start=17, length=28, attn_scale=0.7, ablate_heads=[(1, 0), (0, 0)]),
    dict(start=19, length=9, causal=False, attn_scale="none"),
    dict(start=23, length=32, ablate_heads=[(1, 1)]),
]


def test_eight_threads_capture_exactly_what_they_would_alone(gpt, trained, tiny_text):
    def job(spec):
        spec = dict(spec)
        start, length = spec.pop("start"), spec.pop("length")
        x = torch.tensor([trained.tokenizer.encode(tiny_text[start : start + length])])
        return lambda: run_with_cache(gpt, x, **spec)

    jobs = [job(spec) for spec in SESSIONS]
    alone = [fn() for fn in jobs]
    assert len({float(logits.sum()) for logits, _ in alone}) == len(jobs)  # eight genuinely different results
    barrier = threading.Barrier(len(jobs))
    problems = []

    def worker(i):
        want_logits, want_cache = alone[i]
        for repeat in range(25):
            barrier.wait()
            logits, cache = jobs[i]()
            same = torch.equal(logits, want_logits) and cache.keys() == want_cache.keys()
            if not (same and all(torch.equal(cache[k], want_cache[k]) for k in want_cache)):
                problems.append((i, repeat))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert problems == []
    assert all_hooks(gpt) == []


def test_plain_forwards_beside_captures_stay_on_the_fast_path(gpt, ids):
    """Another thread's scoped hooks neither record nor steer a plain forward."""
    with torch.no_grad():
        want = gpt(ids)[0]
    stop = threading.Event()
    results = []

    def plain():
        with torch.no_grad():
            while not stop.is_set():
                results.append(torch.equal(gpt(ids)[0], want))

    t = threading.Thread(target=plain)
    t.start()
    try:
        for _ in range(30):
            _, cache = run_with_cache(gpt, ids[:, :7], attn_scale="none", ablate_heads=[(0, 0)])
            assert cache["blocks.0.attn.hook_pattern"].shape[-1] == 7  # never the other thread's T = 24
    finally:
        stop.set()
        t.join()
    assert results and all(results)


def test_npz_and_json_export_round_trip(gpt, ids, tmp_path):
    _, cache = run_with_cache(gpt, ids)
    cache.to_npz(tmp_path / "out" / "cache.npz")  # a folder that does not exist yet
    with np.load(tmp_path / "out" / "cache.npz") as npz:
        assert set(npz.files) == set(cache)
        for name, t in cache.items():
            np.testing.assert_array_equal(npz[name], t.numpy())

    written = write_summary(cache, tmp_path / "new" / "summary.json", prompt="First", attn_scale="head_size")
    loaded = json.loads((tmp_path / "new" / "summary.json").read_text(encoding="utf-8"))  # its folder made
    assert loaded == written
    assert loaded["prompt"] == "First" and loaded["n_layer"] == gpt.config.n_layer
    assert [(h["layer"], h["head"]) for h in loaded["heads"]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    pats = cache.stack("attn.hook_pattern")[:, 0]  # (L, H, T, T)
    for head in loaded["heads"]:
        pattern = pats[head["layer"], head["head"]]
        assert head["mean_max_weight"] == pytest.approx(float(pattern[1:].amax(-1).mean()), abs=1e-4)
        assert isinstance(head["tags"], list)
    assert list(loaded["residual_norms"])[0] == "embed"


def test_cache_nbytes_counts_shared_storage_once(gpt, ids):
    names = [f"blocks.0.attn.hook_{x}" for x in "qkv"]
    _, cache = run_with_cache(gpt, ids, names=names)
    storage = cache[names[0]].untyped_storage()
    assert all(cache[n].untyped_storage().data_ptr() == storage.data_ptr() for n in names)  # views of one qkv
    assert cache.nbytes() == storage.nbytes() == sum(t.nbytes for t in cache.values())
