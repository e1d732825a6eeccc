"""Why the model predicted a character: direct logit attribution and head ablation effects.

The residual stream before the final LayerNorm of a pre-norm GPT is a sum of parts: the token
embedding, the position embedding, every head's output through its slice of the output
projection, every attention output bias, every feed-forward layer. The final LayerNorm is linear
once its scale is fixed: with the real pass's scale sigma_t at position t,

    logit[c] = sum_k ((r_k - mean(r_k)) / sigma_t) . (gamma * W_U[c])  +  beta . W_U[c]  +  b_U[c]

so each part's contribution is exact, and the contributions add up to the model's own logit.
(TransformerLens's `apply_ln_to_stack` does the same; its `tokens_to_residual_directions` leaves
gamma out unless gamma is folded into W_U.) A post-norm model, or one without residual
connections, is no such sum: it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .capture import run_with_cache


class AttributionError(ValueError):
    """The model or the request cannot be attributed (says why)."""


@dataclass
class Attribution:
    """One position's prediction of one character, taken apart."""

    position: int  # the query position; it predicts the character after it
    target: int  # the character id whose logit is explained
    logit: float  # the model's own logit of it
    components: dict[str, float]  # name -> contribution; they add up to `logit`
    heads: torch.Tensor  # (L, H): the heads' contributions, for a grid
    note: str = ""  # what `logit` is where it is not the model's output as it is (nanochat: before its softcap)

    def total(self) -> float:
        return sum(self.components.values())


def _check_decomposable(model) -> None:
    cfg = getattr(model, "config", None)
    if getattr(cfg, "model_type", None) == "nanochat":
        return
    if cfg is None or getattr(cfg, "model_type", "gpt") != "gpt":
        raise AttributionError("logit attribution needs a GPT; the bigram model reads its logits off one table row")
    if cfg.norm != "pre" or not cfg.residual:
        raise AttributionError(
            "logit attribution needs a pre-norm model with residual connections: in this one "
            f"(norm={cfg.norm}, residual={cfg.residual}) the final residual is no sum of the layers' outputs"
        )


def head_results(model, cache) -> torch.Tensor:
    """Every head's write to the residual stream, (L, B, T, H, C): its z through its slice of proj.

    proj(y) = y @ W^T + b with y the heads side by side, so head h writes z_h @ W[:, h*d:(h+1)*d]^T;
    the bias is a part of its own (not split among the heads)."""
    cfg = model.config
    H, d = cfg.n_head, cfg.head_size
    results = []
    for layer, block in enumerate(model.blocks):
        z = cache[f"blocks.{layer}.attn.hook_z"]  # (B, H, T, d)
        W = block.attn.proj.weight.detach().float().cpu().view(cfg.n_embd, H, d)  # (C, H, d)
        results.append(torch.einsum("bhtd,chd->bthc", z, W))  # (B, T, H, C)
    return torch.stack(results)  # (L, B, T, H, C)


def residual_parts(model, cache, position: int, batch: int = 0) -> tuple[list[str], torch.Tensor]:
    """The parts of the final residual at one position: names and (K, C), summing to the residual."""
    cfg = model.config
    names, parts = ["embed"], [cache["hook_embed"][batch, position]]
    if "hook_pos_embed" in cache:
        names.append("pos_embed")
        parts.append(cache["hook_pos_embed"][batch, position])
    results = head_results(model, cache)[:, batch, position]  # (L, H, C)
    for layer, block in enumerate(model.blocks):
        names += [f"L{layer}H{h}" for h in range(cfg.n_head)]
        parts += list(results[layer])
        if block.attn.proj.bias is not None:
            names.append(f"L{layer}attn_bias")
            parts.append(block.attn.proj.bias.detach().float().cpu())
        if block.ffwd is not None:
            names.append(f"L{layer}mlp")
            parts.append(cache[f"blocks.{layer}.hook_mlp_out"][batch, position])
    return names, torch.stack(parts)  # (K, C)


def _final_norm(model):
    """(gamma, beta, eps) of the final LayerNorm; None for a model without LayerNorm."""
    ln = model.ln_f.ln
    if not isinstance(ln, torch.nn.LayerNorm):
        return None
    beta = ln.bias.detach().float().cpu() if ln.bias is not None else None
    return ln.weight.detach().float().cpu(), beta, ln.eps


@torch.no_grad()
def attribute(model, ids: list[int] | torch.Tensor, position: int | None = None, target: int | None = None):
    """Direct logit attribution of `target` (default: the model's top choice) at `position` (default: the last)."""
    return attribute_targets(model, ids, position, [target])[0]


@torch.no_grad()
def attribute_targets(model, ids, position: int | None, targets) -> list[Attribution]:
    """Direct logit attribution of several characters at one position, from one capture.

    A target of None is the model's top choice there. One pass serves every target: only the
    unembedding direction differs between them."""
    _check_decomposable(model)
    idx = torch.as_tensor(ids, dtype=torch.long).reshape(1, -1)  # (1, T)
    T = idx.shape[1]
    position = T - 1 if position is None else int(position)
    if not 0 <= position < T:
        raise AttributionError(f"position {position} is outside the prompt (0 to {T - 1})")
    idx = idx[:, : position + 1]  # later characters cannot change this position's logits
    if model.config.model_type == "nanochat":
        return _attribute_nanochat(model, idx, position, targets)
    wanted = {"hook_embed", "hook_pos_embed", "ln_f.hook_normalized"}
    logits, cache = run_with_cache(
        model, idx, lambda n: n in wanted or n.endswith(("attn.hook_z", "hook_mlp_out", "hook_resid_post"))
    )
    logits = logits[0, position].float().cpu()  # (V,)
    targets = [int(logits.argmax()) if t is None else int(t) for t in targets]
    for t in targets:
        if not 0 <= t < logits.numel():
            raise AttributionError(f"target id {t} is outside the vocabulary of {logits.numel()} characters")
    names, parts = residual_parts(model, cache, position)  # (K, C)
    W_U = model.lm_head.weight.detach().float().cpu()[targets].T  # (C, N): one column per target
    norm = _final_norm(model)
    constants = torch.zeros(0, len(targets))  # (k, N): the terms no part of the residual owns
    constant_names = []
    if norm is None:
        contributions = parts @ W_U  # (K, N)
    else:
        gamma, beta, eps = norm
        resid = cache[f"blocks.{len(model.blocks) - 1}.hook_resid_post"][0, position]  # (C,)
        sigma = torch.sqrt(resid.var(unbiased=False) + eps)  # the real pass's scale at this position
        centred = parts - parts.mean(dim=-1, keepdim=True)  # (K, C): LayerNorm's mean, part by part
        contributions = (centred / sigma) @ (gamma[:, None] * W_U)  # (K, N)
        if beta is not None:
            constant_names.append("ln_final_bias")
            constants = torch.cat([constants, (beta @ W_U)[None]])  # (k, N)
    if model.lm_head.bias is not None:
        constant_names.append("lm_head_bias")
        constants = torch.cat([constants, model.lm_head.bias.detach().float().cpu()[targets][None]])  # (k, N)
    every = torch.cat([contributions, constants])  # (K + k, N)
    cfg = model.config
    head_rows = [names.index(f"L{l}H{h}") for l in range(cfg.n_layer) for h in range(cfg.n_head)]
    return [
        Attribution(
            position,
            t,
            float(logits[t]),
            dict(zip(names + constant_names, every[:, i].tolist(), strict=True)),
            every[head_rows, i].reshape(cfg.n_layer, cfg.n_head),  # (L, H)
        )
        for i, t in enumerate(targets)
    ]


NANOCHAT_NOTE = (
    "nanochat's logit before its softcap (cap * tanh(logit / cap) is what it samples from): the stream's parts "
    "scaled by the residual lambdas of the layers after them, less backout's share, through the final RMSNorm "
    "of the real pass"
)


def stream_coefficients(model) -> tuple[torch.Tensor, float]:
    """How much of what a nanochat layer writes reaches the final norm: (L,) per layer, and x0's share.

    Before block j the stream is resid_lambda[j] * x + x0_lambda[j] * x0, so a write of layer i is scaled
    by the resid lambdas of every later layer; backout then takes backout_lambda times the stream after
    layer b = L // 2 away (era E). Era A has no lambdas: every coefficient is 1."""
    cfg = model.config
    L = cfg.n_layer
    era = cfg.constants
    resid = model.resid_lambdas.detach().float().cpu() if era.lambdas else torch.ones(L)  # (L,)
    x0 = model.x0_lambdas.detach().float().cpu() if era.lambdas else torch.zeros(L)  # (L,)

    def after(i: int, k: int) -> float:  # product of resid lambdas of layers i..k (1 when empty)
        return float(resid[i : k + 1].prod()) if i <= k else 1.0

    def x0_share(k: int) -> float:  # x0's coefficient in the stream after block k
        return after(0, k) + sum(float(x0[i]) * after(i + 1, k) for i in range(k + 1))

    layer = torch.tensor([after(i + 1, L - 1) for i in range(L)])
    embed = x0_share(L - 1)
    if era.smear_backout:
        beta, b = float(model.backout_lambda.detach().float().cpu()), cfg.backout_layer
        layer -= beta * torch.tensor([after(i + 1, b) if i <= b else 0.0 for i in range(L)])
        embed -= beta * x0_share(b)
    return layer, embed


def _attribute_nanochat(model, idx, position: int, targets) -> list[Attribution]:
    """Direct logit attribution on nanochat, exact on its pre-softcap logits (see NANOCHAT_NOTE)."""
    cfg = model.config
    last = f"blocks.{cfg.n_layer - 1}.hook_resid_post"
    wanted = {"hook_embed", "hook_backout", "ln_f.hook_normalized", last}
    logits, cache = run_with_cache(model, idx, lambda n: n in wanted or n.endswith(("attn.hook_z", "hook_mlp_out")))
    pre = model.pre_softcap(cache["ln_f.hook_normalized"][0, position].to(next(model.parameters()).device))
    pre = pre.float().cpu()  # (V,): the logits before the softcap
    targets = [int(logits[0, position].argmax()) if t is None else int(t) for t in targets]
    for t in targets:
        if not 0 <= t < pre.numel():
            raise AttributionError(f"target id {t} is outside the vocabulary of {pre.numel()} tokens")
    final = cache[last][0, position]  # (C,): the stream after the last block
    if "hook_backout" in cache:
        final = final - cache["hook_backout"][0, position]
    sigma = torch.sqrt(final.pow(2).mean() + torch.finfo(torch.float32).eps)  # the real pass's RMSNorm scale
    layer_coef, embed_coef = stream_coefficients(model)
    results = head_results(model, cache)[:, 0, position]  # (L, H, C)
    names, parts = ["embed"], [embed_coef * cache["hook_embed"][0, position]]
    for layer in range(cfg.n_layer):
        names += [f"L{layer}H{h}" for h in range(cfg.n_head)] + [f"L{layer}mlp"]
        parts += list(layer_coef[layer] * results[layer])
        parts.append(layer_coef[layer] * cache[f"blocks.{layer}.hook_mlp_out"][0, position])
    W_U = model.lm_head.weight.detach().float().cpu()[targets].T  # (C, N)
    every = (torch.stack(parts) / sigma) @ W_U  # (K, N)
    head_rows = [names.index(f"L{l}H{h}") for l in range(cfg.n_layer) for h in range(cfg.n_head)]
    return [
        Attribution(
            position,
            t,
            float(pre[t]),
            dict(zip(names, every[:, i].tolist(), strict=True)),
            every[head_rows, i].reshape(cfg.n_layer, cfg.n_head),
            NANOCHAT_NOTE,
        )  # fmt: skip
        for i, t in enumerate(targets)
    ]


@torch.no_grad()
def logit_difference(model, ids, position: int | None, target: int, other: int) -> dict[str, float]:
    """Each component's share of logit[target] - logit[other]: why this character and not that one."""
    a, b = attribute_targets(model, ids, position, [target, other])
    return {name: a.components[name] - b.components[name] for name in a.components}


@dataclass
class AblationEffects:
    """The change in log p(target) at one position when each head alone is knocked out."""

    position: int
    target: int
    clean_logprob: float
    zeroed: torch.Tensor  # (L, H): head's output set to 0
    mean_ablated: torch.Tensor  # (L, H): head's output set to its mean over the positions up to `position`


@torch.no_grad()
def ablation_effects(model, ids, position: int | None = None, target: int | None = None) -> AblationEffects:
    """Every head zeroed and every head mean-ablated, in one batched pass of 1 + 2 L H copies of the prompt."""
    cfg = model.config
    L, H = cfg.n_layer, cfg.n_head
    idx = torch.as_tensor(ids, dtype=torch.long).reshape(1, -1)  # (1, T)
    position = idx.shape[1] - 1 if position is None else int(position)
    if not 0 <= position < idx.shape[1]:
        raise AttributionError(f"position {position} is outside the prompt (0 to {idx.shape[1] - 1})")
    idx = idx[:, : position + 1]
    n = L * H
    batch = idx.expand(1 + 2 * n, -1)  # row 0 clean, rows 1..n zero (l, h), rows n+1..2n mean (l, h)

    def knock_out(layer: int):
        def patch(z: torch.Tensor) -> torch.Tensor:  # z: (B, H, T, d)
            z = z.clone()
            for h in range(H):
                k = layer * H + h
                z[1 + k, h] = 0.0
                z[1 + n + k, h] = z[1 + n + k, h].mean(dim=0, keepdim=True)  # (1, d) over positions
            return z

        return patch

    patches = {f"blocks.{layer}.attn.hook_z": knock_out(layer) for layer in range(L)}
    logits, _ = run_with_cache(model, batch, names=[], patches=patches)
    logprobs = F.log_softmax(logits[:, position].float(), dim=-1)  # (1 + 2n, V)
    target = int(logprobs[0].argmax()) if target is None else int(target)
    change = (logprobs[:, target] - logprobs[0, target]).cpu()  # (1 + 2n,)
    return AblationEffects(position, target, float(logprobs[0, target]), change[1 : 1 + n].view(L, H),
                           change[1 + n :].view(L, H))  # fmt: skip
