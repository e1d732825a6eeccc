"""Direct logit attribution and ablation effects, checked against a forward pass written here from the
weights alone (no hooks), on our models and on models written by nanoGPT's and the lecture's code."""

from __future__ import annotations

import json

import pytest
import torch
from test_convert import LECTURE_DIR, NANOGPT_DIR, TINYSHAKESPEARE, convert, nanogpt_state, save_nanogpt
from torch.nn import functional as F

import nanogpt.attribution as attribution_module
from nanogpt.__main__ import main
from nanogpt.attribution import AttributionError, ablation_effects, attribute, attribute_targets, logit_difference
from nanogpt.capture import run_with_cache
from nanogpt.checkpoint import load_checkpoint
from nanogpt.config import GPTConfig
from nanogpt.model import GPT

SUM_TOL = 1e-4


def reference_parts(model, ids: list[int], position: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The final residual's parts at `position`, from the weights, and the logits there: a pre-norm
    GPT written out (heads one at a time, each through its columns of proj)."""
    cfg, T = model.config, len(ids)
    H, d = cfg.n_head, cfg.head_size
    idx = torch.tensor(ids)
    act = F.gelu if cfg.activation == "gelu" else F.relu
    parts = {"embed": model.tok_emb.weight[idx]}
    x = parts["embed"].clone()
    if model.pos_emb is not None:
        parts["pos_embed"] = model.pos_emb.weight[:T]
        x = x + parts["pos_embed"]
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for layer, block in enumerate(model.blocks):
        h_in = block.ln1(x)
        Wq, Wk, Wv = block.attn.qkv.weight.split(cfg.n_embd)  # each (C, C)
        no_bias = torch.zeros(3 * cfg.n_embd)
        bq, bk, bv = (block.attn.qkv.bias if block.attn.qkv.bias is not None else no_bias).split(cfg.n_embd)
        Wo = block.attn.proj.weight  # (C, C)
        out = torch.zeros_like(x)
        for h in range(H):
            rows = slice(h * d, (h + 1) * d)
            q, k, v = (h_in @ W[rows].T + b[rows] for W, b in ((Wq, bq), (Wk, bk), (Wv, bv)))  # (T, d) each
            att = torch.softmax((q @ k.T * d**-0.5).masked_fill(future, float("-inf")), dim=-1)
            parts[f"L{layer}H{h}"] = (att @ v) @ Wo[:, rows].T  # (T, C)
            out = out + parts[f"L{layer}H{h}"]
        if block.attn.proj.bias is not None:
            parts[f"L{layer}attn_bias"] = block.attn.proj.bias.expand(T, -1)
            out = out + block.attn.proj.bias
        x = x + out
        if block.ffwd is not None:
            fc, _, proj, _ = block.ffwd.net
            parts[f"L{layer}mlp"] = proj(act(fc(block.ln2(x))))
            x = x + parts[f"L{layer}mlp"]
    logits = model.lm_head(model.ln_f(x))  # (T, V)
    return {name: p[position] for name, p in parts.items()}, logits[position]


def reference_attribution(model, ids, position, target) -> dict[str, float]:
    parts, _ = reference_parts(model, ids, position)
    resid = sum(parts.values())
    ln = model.ln_f.ln
    sigma = torch.sqrt(resid.var(unbiased=False) + ln.eps)
    direction = ln.weight * model.lm_head.weight[target]
    out = {name: float((p - p.mean()) / sigma @ direction) for name, p in parts.items()}
    if ln.bias is not None:
        out["ln_final_bias"] = float(ln.bias @ model.lm_head.weight[target])
    if model.lm_head.bias is not None:
        out["lm_head_bias"] = float(model.lm_head.bias[target])
    return out


def imported_models(tmp_path):
    """{name: checkpoint} of every kind of import: nanoGPT bias off and tied, bias on, the lecture's."""
    models = {}
    assert convert(NANOGPT_DIR / "ckpt.pt", "--out", tmp_path / "nano.safetensors") == 0
    models["nanogpt bias=False, tied"] = load_checkpoint(tmp_path / "nano.safetensors")
    src = save_nanogpt(tmp_path / "biased" / "ckpt.pt", nanogpt_state(bias=True), n_head=4, bias=True)
    assert convert(src, "--out", tmp_path / "biased.safetensors", "--vocab-text", TINYSHAKESPEARE) == 0
    models["nanogpt bias=True"] = load_checkpoint(tmp_path / "biased.safetensors")
    lecture = tmp_path / "lec.safetensors"
    assert convert(LECTURE_DIR / "model.pt", "--out", lecture, "--vocab-text", TINYSHAKESPEARE) == 0
    models["lecture gpt.py"] = load_checkpoint(lecture)
    return models


PROMPT = "First Citizen:\nBefore we proceed any further, hear me speak."


@torch.no_grad()
def test_components_sum_to_the_logit_and_match_the_reference_on_every_import(tmp_path, trained, capsys):
    models = {"ours (bias, lm_head bias)": trained} | imported_models(tmp_path)
    capsys.readouterr()
    for name, ckpt in models.items():
        ids = ckpt.tokenizer.encode(PROMPT[: ckpt.model.config.block_size])
        for position in (0, len(ids) // 2, len(ids) - 1):
            a = attribute(ckpt.model, ids, position)
            _, ref_logits = reference_parts(ckpt.model, ids, position)
            assert abs(a.logit - float(ref_logits[a.target])) < SUM_TOL, name  # the reference is the model
            assert abs(a.total() - a.logit) < SUM_TOL, (name, position, a.total(), a.logit)
            want = reference_attribution(ckpt.model, ids, position, a.target)
            assert set(a.components) == set(want), name
            worst = max(abs(a.components[k] - want[k]) for k in want)
            assert worst < SUM_TOL, (name, position, worst)
            assert a.heads.shape == (ckpt.model.config.n_layer, ckpt.model.config.n_head)
            assert a.target == int(ref_logits.argmax())  # the default target is the model's choice


def test_the_named_components_of_each_kind_of_model(tmp_path, trained):
    models = imported_models(tmp_path)
    tied = attribute(models["nanogpt bias=False, tied"].model, [1, 2, 3]).components
    assert "ln_final_bias" not in tied and "lm_head_bias" not in tied and "L0attn_bias" not in tied
    assert {"embed", "pos_embed", "L0H0", "L1H3", "L0mlp", "L1mlp"} <= set(tied)
    ours = attribute(trained.model, [1, 2, 3]).components
    assert {"L0attn_bias", "ln_final_bias", "lm_head_bias"} <= set(ours)


@torch.no_grad()
def test_a_chosen_target_and_the_difference_between_two(trained):
    ids = trained.tokenizer.encode("Speak, speak")
    logits, _ = trained.model(torch.tensor([ids]))
    first, second = logits[0, -1].topk(2).indices.tolist()
    a = attribute(trained.model, ids, target=second)
    assert a.target == second and abs(a.logit - float(logits[0, -1, second])) < SUM_TOL
    diff = logit_difference(trained.model, ids, None, first, second)
    assert abs(sum(diff.values()) - float(logits[0, -1, first] - logits[0, -1, second])) < SUM_TOL
    assert "lm_head_bias" in diff


@torch.no_grad()
def test_several_targets_come_from_one_capture(trained, monkeypatch):
    """attribute_targets explains each target as attribute does alone, with one hooked pass for all."""
    ids = trained.tokenizer.encode("Speak, speak")
    alone = [attribute(trained.model, ids, 5, t) for t in (None, 3, 7)]
    passes = []
    real = attribution_module.run_with_cache
    monkeypatch.setattr(attribution_module, "run_with_cache", lambda *a, **k: passes.append(1) or real(*a, **k))
    together = attribute_targets(trained.model, ids, 5, [None, 3, 7])
    assert len(passes) == 1
    for a, b in zip(alone, together, strict=True):
        assert a.target == b.target and a.logit == b.logit
        assert a.components.keys() == b.components.keys()
        assert max(abs(a.components[n] - b.components[n]) for n in a.components) < 1e-6
        assert torch.allclose(a.heads, b.heads, atol=1e-6)


def test_models_that_are_no_sum_are_refused(trained):
    for switch in (dict(norm="post"), dict(residual=False)):
        model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=10, **switch)).eval()
        with pytest.raises(AttributionError, match="pre-norm model with residual"):
            attribute(model, [1, 2, 3])
    with pytest.raises(AttributionError, match="outside the prompt"):
        attribute(trained.model, [1, 2, 3], position=3)
    with pytest.raises(AttributionError, match="outside the vocabulary"):
        attribute(trained.model, [1, 2, 3], target=10_000)


def test_a_model_without_layernorm_is_attributed_without_scaling():
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=16, block_size=8, vocab_size=10, layernorm=False)).eval()
    a = attribute(model, [1, 2, 3, 4])
    assert abs(a.total() - a.logit) < SUM_TOL and "ln_final_bias" not in a.components


@torch.no_grad()
def test_ablation_effects_in_one_pass_equal_one_ablation_at_a_time(trained):
    ids = trained.tokenizer.encode("First Citizen:\nSpeak")
    effects = ablation_effects(trained.model, ids)
    cfg = trained.model.config
    clean = F.log_softmax(trained.model(torch.tensor([ids]))[0][0, -1], dim=-1)
    assert effects.target == int(clean.argmax()) and abs(effects.clean_logprob - float(clean.max())) < 1e-5
    for layer in range(cfg.n_layer):
        for head in range(cfg.n_head):
            logits, _ = run_with_cache(trained.model, torch.tensor([ids]), names=[], ablate_heads=[(layer, head)])
            alone = F.log_softmax(logits[0, -1], dim=-1)[effects.target] - clean[effects.target]
            assert abs(float(effects.zeroed[layer, head]) - float(alone)) < 1e-5
    assert effects.zeroed.abs().max() > 1e-3 and effects.mean_ablated.abs().max() > 1e-3
    assert not torch.allclose(effects.zeroed, effects.mean_ablated)


def test_mean_ablation_replaces_a_head_by_its_mean_over_the_positions(trained):
    ids = trained.tokenizer.encode("Speak, speak.")
    _, cache = run_with_cache(trained.model, torch.tensor([ids]), names=["blocks.1.attn.hook_z"])
    mean = cache["blocks.1.attn.hook_z"][0, 0].mean(dim=0)  # (d,): head 0 of layer 1

    def mean_head_0(z):
        z = z.clone()
        z[:, 0] = mean
        return z

    logits, _ = run_with_cache(
        trained.model, torch.tensor([ids]), names=[], patches={"blocks.1.attn.hook_z": mean_head_0}
    )
    effects = ablation_effects(trained.model, ids)
    lp = F.log_softmax(logits[0, -1], dim=-1)[effects.target]
    assert abs(float(lp) - effects.clean_logprob - float(effects.mean_ablated[1, 0])) < 1e-5


def test_attribute_command_prints_the_json_the_issue_names(tiny_ckpt, capsys):
    assert main(["attribute", "--ckpt", str(tiny_ckpt), "--prompt", "Speak, speak", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"position", "target", "logit", "components"}
    assert out["position"] == len("Speak, speak") - 1
    assert abs(sum(out["components"].values()) - out["logit"]) < SUM_TOL
    assert main(["attribute", "--ckpt", str(tiny_ckpt), "--prompt", "Speak", "--position", "2", "--target", "a",
                 "--json"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["target"] == "a" and out["position"] == 2
    assert main(["attribute", "--ckpt", str(tiny_ckpt), "--prompt", "Speak", "--target", "\\n", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["target"] == "\n"


def test_attribute_command_refuses_with_one_line(tiny_ckpt, capsys):
    assert main(["attribute", "--ckpt", str(tiny_ckpt), "--prompt", "Speak", "--position", "9"]) == 2
    assert "outside the prompt" in capsys.readouterr().err
    assert main(["attribute", "--ckpt", str(tiny_ckpt), "--prompt", "Speak", "--target", "ab"]) == 2
    assert "one character" in capsys.readouterr().err
    assert main(["attribute", "--ckpt", str(tiny_ckpt), "--prompt", ""]) == 2
    assert "empty" in capsys.readouterr().err
