"""The lecture's GPT, with named hook points, and the bigram model it starts from.

Each attention layer has two paths. The fast path calls F.scaled_dot_product_attention and never
builds the (T, T) matrix. The explicit path computes scores and weights and passes them through
identity HookPoints, so forward hooks can read (or replace) them. The explicit path runs only
when someone is looking: a hook registered on one of the layer's hook points, or an
intervention active in the calling thread (see `intervene`). Both give the same logits.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.nn import functional as F

from .config import ATTN_SCALES, GPTConfig, scale_value


class HookPoint(nn.Module):
    """An identity module: a named place for forward hooks (TransformerLens's idea and names)."""

    def forward(self, x):
        return x

    def has_user_hooks(self) -> bool:
        """True if a hook is here that is not scoped to one thread's run_with_cache call.

        run_with_cache marks its hooks `scoped` before registering them: they only record their
        own thread's forward, so they must not push other threads off the fast path either.
        tuple() copies the hooks in one C call, so a thread adding or removing one meanwhile is safe.
        """
        return any(not getattr(hook, "scoped", False) for hook in tuple(self._forward_hooks.values()))


@dataclass(frozen=True)
class Intervention:
    """What one forward call changes. Lives in a ContextVar: per thread, never on the model."""

    attn_scale: str | float | dict | None = None  # None keeps the model's own scale; {layer: scale}: those layers only
    ablate_heads: frozenset = field(default_factory=frozenset)  # {(layer, head), ...}
    causal: bool = True

    def scale_for(self, layer: int) -> str | float | None:
        """The scale setting of one layer; None keeps the model's own."""
        if isinstance(self.attn_scale, dict):
            return self.attn_scale.get(layer)
        return self.attn_scale


_INTERVENTION: ContextVar[Intervention | None] = ContextVar("nanogpt_intervention", default=None)


@contextmanager
def intervene(attn_scale: str | float | dict | None = None, ablate_heads=(), causal: bool = True):
    """Run forwards in this block with an intervention (and on the explicit path).

    attn_scale: one setting for every layer, or {layer: setting} to change only those layers (the
    others keep the model's own scale, so a layer's inputs stay exactly as trained)."""
    if isinstance(attn_scale, dict):
        attn_scale = {int(layer): setting for layer, setting in attn_scale.items()}
    for setting in attn_scale.values() if isinstance(attn_scale, dict) else (attn_scale,):
        if isinstance(setting, str) and setting not in ATTN_SCALES:
            raise ValueError(f"attn_scale must be one of {', '.join(ATTN_SCALES)} or a number, not {setting!r}")
    spec = Intervention(attn_scale, frozenset((int(l), int(h)) for l, h in ablate_heads), causal)
    token = _INTERVENTION.set(spec)
    try:
        yield spec
    finally:
        _INTERVENTION.reset(token)


class KVCache:
    """Keys and values of the positions seen so far, per layer, so a new step costs one position."""

    def __init__(self, n_layer: int):
        self.k: list[torch.Tensor | None] = [None] * n_layer  # each (B, H, T_past, d)
        self.v: list[torch.Tensor | None] = [None] * n_layer

    @property
    def length(self) -> int:
        return 0 if self.k[0] is None else self.k[0].shape[2]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        if self.k[layer] is not None:
            k = torch.cat([self.k[layer], k], dim=2)  # (B, H, T_past + T, d)
            v = torch.cat([self.v[layer], v], dim=2)
        self.k[layer], self.v[layer] = k, v
        return k, v


def current_intervention() -> Intervention | None:
    """The intervention in force for this forward pass (set by `intervention`), or None."""
    return _INTERVENTION.get()


def hooked_attention(attn: nn.Module, q, k, v, scale: float, mask, spec: Intervention | None, dropout=None):
    """Attention written out through attn's hook points (hook_q, hook_k, hook_v, hook_scores, hook_pattern,
    hook_z), with the intervention's heads zeroed: what captures and interventions see, for every model
    whose attention has those points (ours and nanochat's). q: (B, H, T, d); k, v: (B, H, past + T, d);
    mask: (T, past + T) of what each query may see, or None."""
    q, k, v = attn.hook_q(q), attn.hook_k(k), attn.hook_v(v)
    scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, T, past + T)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    scores = attn.hook_scores(scores)
    pattern = attn.hook_pattern(F.softmax(scores, dim=-1))  # (B, H, T, past + T)
    y = (dropout(pattern) if dropout is not None else pattern) @ v  # (B, H, T, d)
    if spec is not None and spec.ablate_heads:
        heads = [h for (layer, h) in spec.ablate_heads if layer == attn.layer_idx]
        if heads:
            keep = torch.ones(q.shape[1], 1, 1, dtype=y.dtype, device=y.device)  # (H, 1, 1)
            keep[heads] = 0.0
            y = y * keep
    return attn.hook_z(y)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.head_size = config.head_size
        self.scale_setting = config.attn_scale
        self.dropout = config.dropout
        # q, k and v of every head in one matmul: rows [q of heads 0..H-1, k ..., v ...]; the lecture's have no bias
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.qkv_bias)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        mask = torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool))
        self.register_buffer("mask", mask, persistent=False)  # (block_size, block_size)
        self.hook_q, self.hook_k, self.hook_v = HookPoint(), HookPoint(), HookPoint()
        self.hook_scores, self.hook_pattern, self.hook_z = HookPoint(), HookPoint(), HookPoint()
        self._hook_points = (self.hook_q, self.hook_k, self.hook_v,
                             self.hook_scores, self.hook_pattern, self.hook_z)  # fmt: skip

    def forward(self, x: torch.Tensor, kv_cache: KVCache | None = None) -> torch.Tensor:
        B, T, C = x.shape
        H, d = self.n_head, self.head_size
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        q = q.view(B, T, H, d).transpose(1, 2)  # (B, H, T, d)
        k = k.view(B, T, H, d).transpose(1, 2)  # (B, H, T, d)
        v = v.view(B, T, H, d).transpose(1, 2)  # (B, H, T, d)
        if kv_cache is not None:
            k, v = kv_cache.update(self.layer_idx, k, v)  # (B, H, past + T, d)
        past = k.shape[2] - T  # read per layer: kv_cache.length moves on once layer 0 has updated

        spec = current_intervention()
        explicit = spec is not None or any(hp.has_user_hooks() for hp in self._hook_points)
        setting = spec.scale_for(self.layer_idx) if spec is not None else None
        scale = scale_value(self.scale_setting if setting is None else setting, C, d)
        causal = spec.causal if spec is not None else True
        # query t (at absolute position past + t) may see keys 0 .. past + t
        mask = self.mask[past : past + T, : past + T] if causal else None  # (T, past + T)

        if not explicit:
            dropout_p = self.dropout if self.training else 0.0
            if causal and past == 0:
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True, scale=scale)
            else:  # a cached step (one query sees every key) or a block of queries after a cache
                attn_mask = mask if (causal and T > 1) else None
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale)
        else:
            y = hooked_attention(self, q, k, v, scale, mask, spec, dropout=self.attn_dropout)  # (B, H, T, d)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): heads side by side
        return self.resid_dropout(self.proj(y))


# GPTConfig.activation -> its module; nn.GELU(approximate="tanh") is Hugging Face's gelu_new to float rounding
ACTIVATION_MODULES = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
}


class FeedForward(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias),
            ACTIVATION_MODULES[config.activation](),
            nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias),
            nn.Dropout(config.dropout),
        )

    def forward(self, x):
        return self.net(x)


class Block(nn.Module):
    """Communication (attention) then computation (feed-forward), each in a residual branch."""

    def __init__(self, config: GPTConfig, layer_idx: int):
        super().__init__()
        self.config = config
        norm = (lambda: nn.LayerNorm(config.n_embd, bias=config.bias)) if config.layernorm else nn.Identity
        self.ln1, self.ln2 = norm(), norm()
        self.attn = CausalSelfAttention(config, layer_idx)
        self.ffwd = FeedForward(config) if config.ffn else None
        self.hook_resid_pre, self.hook_attn_out = HookPoint(), HookPoint()
        self.hook_resid_mid, self.hook_mlp_out = HookPoint(), HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(self, x, kv_cache: KVCache | None = None):
        cfg = self.config
        x = self.hook_resid_pre(x)
        # pre-norm (the lecture): x + f(ln(x)); post-norm (the 2017 paper): ln(x + f(x))
        attn_in = self.ln1(x) if cfg.norm == "pre" else x
        attn_out = self.hook_attn_out(self.attn(attn_in, kv_cache))
        x = x + attn_out if cfg.residual else attn_out
        if cfg.norm == "post":
            x = self.ln1(x)
        x = self.hook_resid_mid(x)
        if self.ffwd is not None:
            mlp_out = self.hook_mlp_out(self.ffwd(self.ln2(x) if cfg.norm == "pre" else x))
            x = x + mlp_out if cfg.residual else mlp_out
            if cfg.norm == "post":
                x = self.ln2(x)
        return self.hook_resid_post(x)


class FinalNorm(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln = nn.LayerNorm(config.n_embd, bias=config.bias) if config.layernorm else nn.Identity()
        self.hook_normalized = HookPoint()

    def forward(self, x):
        return self.hook_normalized(self.ln(x))


def _init_weights(module: nn.Module):
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def _loss(logits: torch.Tensor, targets: torch.Tensor | None):
    if targets is None:
        return None
    B, T, V = logits.shape
    return F.cross_entropy(logits.view(B * T, V), targets.view(B * T))  # flatten (B, T) positions


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd) if config.pos_emb else None
        self.hook_embed, self.hook_pos_embed = HookPoint(), HookPoint()
        self.blocks = nn.ModuleList([Block(config, i) for i in range(config.n_layer)])
        self.ln_f = FinalNorm(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=config.lm_head_bias)
        if config.tied_lm_head:  # one Parameter in two places: checkpoint.py saves it once
            self.lm_head.weight = self.tok_emb.weight
        self.apply(_init_weights)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None, kv_cache: KVCache | None = None, *,
        logits: bool = True,
    ):  # fmt: skip
        """Logits (B, T, vocab) for every position, and the loss when targets are given. logits=False
        stops after the last block, (None, None): a capture of the attention alone skips the output head
        (GPT-2's is 768 x 50,257, a sixth of the model's work at 256 tokens)."""
        B, T = idx.shape
        past = kv_cache.length if kv_cache is not None else 0
        if past + T > self.config.block_size:
            raise ValueError(f"sequence of {past + T} is longer than block_size {self.config.block_size}")
        x = self.hook_embed(self.tok_emb(idx))  # (B, T, C)
        if self.pos_emb is not None:
            positions = torch.arange(past, past + T, device=idx.device)
            x = x + self.hook_pos_embed(self.pos_emb(positions).expand(B, T, -1))  # (B, T, C)
        for block in self.blocks:
            x = block(x, kv_cache)
        if not logits:
            return None, None
        out = self.lm_head(self.ln_f(x))  # (B, T, vocab)
        return out, _loss(out, targets)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


class BigramLM(nn.Module):
    """The lecture's first model: the next character's logits are read off a table row."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.token_embedding_table = nn.Embedding(config.vocab_size, config.vocab_size)
        self.apply(_init_weights)

    def forward(self, idx, targets=None, kv_cache=None):
        logits = self.token_embedding_table(idx)  # (B, T, vocab)
        return logits, _loss(logits, targets)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def build_model(config: GPTConfig) -> GPT | BigramLM:
    return BigramLM(config) if config.model_type == "bigram" else GPT(config)
