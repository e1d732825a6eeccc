"""nanochat's GPT, written for this project from nanochat's description, with our hook points.

nanochat (karpathy/nanochat) is what people who followed the lecture train today. Its model differs
from the lecture's in many small ways, each of which changes the numbers: RMSNorm without weights
(after the embedding, before each sublayer, on q and k, at the end), rotary position embeddings,
grouped-query heads, a sliding window per layer, ReLU², value embeddings mixed into v through a gate,
"smear" (a bit of the previous token's embedding), per-layer residual and x0 lambdas, "backout" (a
fraction of the middle layer's stream taken away at the end), an untied head with a padded
vocabulary and a tanh softcap on the logits.

Its constants changed during 2026 without a version in the file (see ERAS): the era is told from the
names and shapes of the weights (`detect_era`), and a layout no era has is refused with a sentence
naming the key or shape that differs.

The module tree uses the names our capture and pages read (blocks.{i}.attn.hook_pattern, ln_f,
lm_head, ...); the weights keep nanochat's names below that (c_q, c_k, c_v, c_proj, mlp.c_fc, ...):
`transformer.h.{i}.` becomes `blocks.{i}.` and `transformer.wte.` becomes `tok_emb.`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from .config import scale_value
from .model import HookPoint, KVCache, current_intervention, hooked_attention

SMEAR_CHANNELS = 24  # the smear gate reads the first 24 channels of the normalised embedding
PAD_TO = 64  # nanochat pads the embedding and head rows to a multiple of 64 (from 2025-12-09)


@dataclass(frozen=True)
class Era:
    """The constants of one period of nanochat's gpt.py (the file records none of them)."""

    name: str
    dates: str
    rope_base: float
    rope_bf16: bool  # the cos/sin tables were rounded to bfloat16 even on CPU
    qk_scale: float  # q and k are multiplied by this after their RMSNorm
    short_window: str  # how an 'S' layer's window follows from sequence_len N: none | half | third | quarter
    lambdas: bool  # resid_lambdas and x0_lambdas
    ve_gate_channels: int  # 0: no value embeddings
    ve_gate_scale: float  # gate = scale * sigmoid(h[:, :channels] @ W^T)
    softcap: float
    smear_backout: bool

    def short(self, sequence_len: int) -> int | None:
        """The left window of an 'S' layer; None where the era has no windows."""
        N = sequence_len
        return {
            "none": None,
            "half": N // 2,
            "third": -(-(N // 3) // 128) * 128,  # rounded up to FlashAttention's tile of 128
            "quarter": -(-(N // 4) // 128) * 128,
        }[self.short_window]


ERAS = {
    era.name: era
    for era in (
        Era("A", "2025-10-13 to 2026-01-10", 10_000, True, 1.0, "none", False, 0, 0.0, 15.0, False),
        Era("B", "2026-01-11 to 2026-01-15", 10_000, True, 1.0, "half", True, 0, 0.0, 15.0, False),
        Era("C", "2026-01-16 to 2026-03-08", 10_000, True, 1.0, "half", True, 32, 2.0, 15.0, False),
        Era("C-late", "2026-03-04 to 2026-03-08", 10_000, False, 1.0, "half", True, 32, 2.0, 20.0, False),
        Era("D", "2026-03-09 to 2026-03-13", 100_000, False, 1.15, "third", True, 12, 3.0, 15.0, False),
        Era("E", "2026-03-14 onwards", 100_000, False, 1.2, "quarter", True, 12, 3.0, 15.0, True),
    )
}
# eras no file can tell apart: C's keys and shapes are also C-late's (softcap 20 for a week in March 2026)
SAME_LAYOUT = {"C": ("C-late",), "C-late": ("C",)}


class NanochatLayoutError(ValueError):
    """Weights that are no nanochat era's layout; the message names the key or shape that differs."""


@dataclass
class NanochatConfig:
    """nanochat's GPTConfig (its `model_config` in meta_*.json) plus the era and the padded rows."""

    vocab_size: int
    sequence_len: int
    n_layer: int
    n_head: int
    n_kv_head: int
    n_embd: int
    window_pattern: str = "L"
    era: str = "E"
    padded_vocab: int = 0  # rows of wte and lm_head; 0: vocab_size rounded up to a multiple of 64
    # the longest prompt this project runs it on (0: sequence_len): a big run opened on a small machine
    # is cut to what a capture of every head can hold (nanochat_run.fit_context); the windows stay its own
    context: int = 0
    model_type: str = "nanochat"

    def __post_init__(self):
        problems = []
        for name in ("vocab_size", "sequence_len", "n_layer", "n_head", "n_kv_head", "n_embd"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                problems.append(f"{name} must be a whole number of at least 1, not {value!r}")
        if problems:
            raise ValueError("invalid nanochat config: " + "; ".join(problems))
        if self.n_embd % self.n_head or self.n_head % self.n_kv_head or self.head_size % 2:
            problems.append(
                f"n_embd {self.n_embd} must split into n_head {self.n_head} heads of an even size, and n_head "
                f"into n_kv_head {self.n_kv_head} groups"
            )
        if self.era not in ERAS:
            problems.append(f"era must be one of {', '.join(ERAS)}, not {self.era!r}")
        pattern = self.window_pattern
        if not isinstance(pattern, str) or not pattern or set(pattern.upper()) - set("SL"):
            problems.append(f"window_pattern must be letters S and L, not {self.window_pattern!r}")
        if self.context == 0:
            self.context = self.sequence_len
        if not 1 <= self.context <= self.sequence_len:
            problems.append(f"context {self.context} must be between 1 and sequence_len {self.sequence_len}")
        if self.padded_vocab == 0:
            self.padded_vocab = -(-self.vocab_size // PAD_TO) * PAD_TO
        if self.padded_vocab < self.vocab_size:
            problems.append(f"padded_vocab {self.padded_vocab} is below vocab_size {self.vocab_size}")
        if problems:
            raise ValueError("invalid nanochat config: " + "; ".join(problems))

    # the names the rest of the project reads off a config
    @property
    def block_size(self) -> int:
        return self.context

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @property
    def attn_scale(self) -> str:
        return "head_size"  # nanochat divides q.k by sqrt(head size), after its QK norm

    @property
    def constants(self) -> Era:
        return ERAS[self.era]

    def windows(self) -> list[int | None]:
        """Each layer's left window w (query t sees keys t-w..t); None: plain causal."""
        short = self.constants.short(self.sequence_len)
        if short is None:
            return [None] * self.n_layer
        pattern = self.window_pattern.upper()
        sizes = [short if pattern[i % len(pattern)] == "S" else self.sequence_len for i in range(self.n_layer)]
        sizes[-1] = self.sequence_len  # the last layer always sees the whole context
        return sizes

    def has_value_embedding(self, layer: int) -> bool:
        # value embeddings on every other layer, the last one always among them
        return self.constants.ve_gate_channels > 0 and layer % 2 == (self.n_layer - 1) % 2

    @property
    def backout_layer(self) -> int:
        return self.n_layer // 2


def expected_shapes(config: NanochatConfig) -> dict[str, tuple[int, ...]]:
    """nanochat's own state-dict names and shapes for a config of an era, without building anything."""
    C, V, L = config.n_embd, config.padded_vocab, config.n_layer
    D, H, Hkv = config.head_size, config.n_head, config.n_kv_head
    era = config.constants
    shapes = {"transformer.wte.weight": (V, C)}
    for i in range(L):
        p = f"transformer.h.{i}."
        shapes |= {p + "attn.c_q.weight": (H * D, C), p + "attn.c_k.weight": (Hkv * D, C),
                   p + "attn.c_v.weight": (Hkv * D, C), p + "attn.c_proj.weight": (C, C)}  # fmt: skip
        if config.has_value_embedding(i):
            shapes[p + "attn.ve_gate.weight"] = (Hkv, era.ve_gate_channels)
        shapes |= {p + "mlp.c_fc.weight": (4 * C, C), p + "mlp.c_proj.weight": (C, 4 * C)}
    shapes["lm_head.weight"] = (V, C)
    if era.lambdas:
        shapes |= {"resid_lambdas": (L,), "x0_lambdas": (L,)}
    for i in range(L):
        if config.has_value_embedding(i):
            shapes[f"value_embeds.{i}.weight"] = (V, Hkv * D)
    if era.smear_backout:
        shapes |= {"smear_gate.weight": (1, SMEAR_CHANNELS), "smear_lambda": (1,), "backout_lambda": (1,)}
    return shapes


def detect_era(held: dict[str, tuple[int, ...]]) -> str:
    """The era whose layout these names show (nanochat's names, `_orig_mod.` already stripped)."""
    if "smear_gate.weight" in held or "backout_lambda" in held:
        return "E"
    gates = [shape for name, shape in held.items() if name.endswith("attn.ve_gate.weight")]
    if gates:
        return "C" if gates[0][-1] == 32 else "D"  # a gate of another width is refused by the shape check
    if "resid_lambdas" in held or "x0_lambdas" in held:
        return "B"
    return "A"


def check_layout(config: NanochatConfig, held: dict[str, tuple[int, ...]], what) -> None:
    """Refuse weights that are not exactly the layout of config's era, naming the first difference."""
    expected = expected_shapes(config)
    era = config.era
    for name, shape in expected.items():
        if name not in held:
            raise NanochatLayoutError(
                f"{what} has no {name} of shape {_dims(shape)}, which nanochat's era {era} layout has for "
                f"{config.n_layer} layers x {config.n_embd} wide; it is no nanochat layout this project knows."
            )
        if tuple(held[name]) != shape:
            raise NanochatLayoutError(
                f"{what} holds {name} of shape {_dims(held[name])} where nanochat's era {era} layout has "
                f"{_dims(shape)}; it is no nanochat layout this project knows (or its model_config is not its own)."
            )
    unexpected = [name for name in held if name not in expected]
    if unexpected:
        raise NanochatLayoutError(
            f"{what} also holds {unexpected[0]} of shape {_dims(held[unexpected[0]])}, which no nanochat era's "
            f"layout has (era {era} is the closest); short-lived experiments such as 'engram' (January 2026) "
            "cannot be opened."
        )


def _dims(shape) -> str:
    return "(" + ", ".join(f"{n:,}" for n in shape) + ")"


def rename_from_nanochat(name: str) -> str:
    """nanochat's weight name -> this module tree's."""
    if name.startswith("transformer.h."):
        return "blocks." + name.removeprefix("transformer.h.")
    if name.startswith("transformer.wte."):
        return "tok_emb." + name.removeprefix("transformer.wte.")
    return name


def rename_to_nanochat(name: str) -> str:
    if name.startswith("blocks."):
        return "transformer.h." + name.removeprefix("blocks.")
    if name.startswith("tok_emb."):
        return "transformer.wte." + name.removeprefix("tok_emb.")
    return name


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    """RMSNorm over the last dimension with no weight and torch's default eps (nanochat's `norm`)."""
    return F.rms_norm(x, (x.size(-1),))


class RMSNorm(nn.Module):
    """rms_norm as a module, so `model.ln_f.ln` works as it does for the lecture's LayerNorm."""

    def forward(self, x):
        return rms_norm(x)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding in nanochat's "rotate half" layout: channel j pairs with j + d/2.

    x: (B, heads, T, d); cos, sin: (T, d/2). nanochat rotates by -theta (y1 = x1 cos + x2 sin); only
    the relative rotation of q and k matters, but the sign must match its weights."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]  # each (B, heads, T, d/2)
    return torch.cat([x1 * cos + x2 * sin, x2 * cos - x1 * sin], dim=-1)


class NanochatAttention(nn.Module):
    def __init__(self, config: NanochatConfig, layer_idx: int, window: int | None):
        super().__init__()
        self.layer_idx = layer_idx
        self.config = config
        self.n_head, self.n_kv_head, self.head_size = config.n_head, config.n_kv_head, config.head_size
        self.window = window
        C, D = config.n_embd, config.head_size
        self.c_q = nn.Linear(C, config.n_head * D, bias=False)
        self.c_k = nn.Linear(C, config.n_kv_head * D, bias=False)
        self.c_v = nn.Linear(C, config.n_kv_head * D, bias=False)
        self.c_proj = nn.Linear(C, C, bias=False)
        era = config.constants
        has_ve = config.has_value_embedding(layer_idx)
        self.ve_gate = nn.Linear(era.ve_gate_channels, config.n_kv_head, bias=False) if has_ve else None
        self.hook_q, self.hook_k, self.hook_v = HookPoint(), HookPoint(), HookPoint()
        self.hook_scores, self.hook_pattern, self.hook_z = HookPoint(), HookPoint(), HookPoint()
        self._hook_points = (self.hook_q, self.hook_k, self.hook_v,
                             self.hook_scores, self.hook_pattern, self.hook_z)  # fmt: skip

    @property
    def proj(self) -> nn.Linear:
        """The output projection under the lecture model's name (attribution reads attn.proj)."""
        return self.c_proj

    def key_mask(self, past: int, T: int, device) -> torch.Tensor:
        """(T, past + T) bools: query past + t may read key j iff j <= past + t and past + t - j <= window."""
        queries = torch.arange(past, past + T, device=device)[:, None]  # (T, 1)
        keys = torch.arange(past + T, device=device)[None, :]  # (1, past + T)
        allowed = keys <= queries
        if self.window is not None:
            allowed &= queries - keys <= self.window
        return allowed

    def forward(self, x, ve, cos, sin, kv_cache: KVCache | None = None):
        B, T, C = x.shape
        H, Hkv, D = self.n_head, self.n_kv_head, self.head_size
        era = self.config.constants
        q = self.c_q(x).view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
        k = self.c_k(x).view(B, T, Hkv, D).transpose(1, 2)  # (B, Hkv, T, D)
        v = self.c_v(x).view(B, T, Hkv, D)  # (B, T, Hkv, D)
        if ve is not None:
            # value embedding: the token's own row, added to v through a gate read off the first channels
            gate = era.ve_gate_scale * torch.sigmoid(self.ve_gate(x[..., : era.ve_gate_channels]))  # (B, T, Hkv)
            v = v + gate.unsqueeze(-1) * ve.view(B, T, Hkv, D)
        v = v.transpose(1, 2)  # (B, Hkv, T, D)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)  # RoPE before the QK norm, as nanochat does
        q, k = rms_norm(q) * era.qk_scale, rms_norm(k) * era.qk_scale
        if kv_cache is not None:
            k, v = kv_cache.update(self.layer_idx, k, v)  # (B, Hkv, past + T, D)
        past = k.shape[2] - T
        # query head h reads key/value head h // (H / Hkv): each KV head serves a run of query heads
        k = k.repeat_interleave(H // Hkv, dim=1)  # (B, H, past + T, D)
        v = v.repeat_interleave(H // Hkv, dim=1)  # (B, H, past + T, D)

        spec = current_intervention()
        explicit = spec is not None or any(hp.has_user_hooks() for hp in self._hook_points)
        setting = spec.scale_for(self.layer_idx) if spec is not None else None
        scale = scale_value("head_size" if setting is None else setting, C, D)
        causal = spec.causal if spec is not None else True
        mask = self.key_mask(past, T, x.device) if causal else None  # (T, past + T)
        if not explicit:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)  # (B, H, T, D)
        else:
            y = hooked_attention(self, q, k, v, scale, mask, spec)  # (B, H, T, D)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): heads side by side
        return self.c_proj(y)


class NanochatMLP(nn.Module):
    def __init__(self, config: NanochatConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=False)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=False)

    def forward(self, x):
        return self.c_proj(F.relu(self.c_fc(x)).square())  # ReLU squared


class NanochatBlock(nn.Module):
    def __init__(self, config: NanochatConfig, layer_idx: int, window: int | None):
        super().__init__()
        self.attn = NanochatAttention(config, layer_idx, window)
        self.mlp = NanochatMLP(config)
        self.hook_resid_pre, self.hook_attn_out = HookPoint(), HookPoint()
        self.hook_resid_mid, self.hook_mlp_out = HookPoint(), HookPoint()
        self.hook_resid_post = HookPoint()
        if config.constants.lambdas:
            self.hook_resid_mixed = HookPoint()  # the stream after the lambdas: what the block reads

    @property
    def ffwd(self) -> nn.Module:
        return self.mlp  # the lecture model's name for the feed-forward sublayer

    def forward(self, x, x0, lambdas, ve, cos, sin, kv_cache=None):
        """lambdas: (resid_lambda, x0_lambda) of this layer, or None (era A)."""
        x = self.hook_resid_pre(x)  # the previous block's output (x0 before the first)
        if lambdas is not None:
            x = self.hook_resid_mixed(lambdas[0] * x + lambdas[1] * x0)
        x = x + self.hook_attn_out(self.attn(rms_norm(x), ve, cos, sin, kv_cache))
        x = self.hook_resid_mid(x)
        x = x + self.hook_mlp_out(self.mlp(rms_norm(x)))
        return self.hook_resid_post(x)


class FinalRMSNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = RMSNorm()
        self.hook_normalized = HookPoint()

    def forward(self, x):
        return self.hook_normalized(self.ln(x))


class NanochatGPT(nn.Module):
    """nanochat's forward for a checkpoint of any era (config.era), float32 on CPU."""

    def __init__(self, config: NanochatConfig):
        super().__init__()
        self.config = config
        C, V = config.n_embd, config.padded_vocab
        self.tok_emb = nn.Embedding(V, C)
        windows = config.windows()
        self.blocks = nn.ModuleList([NanochatBlock(config, i, windows[i]) for i in range(config.n_layer)])
        self.ln_f = FinalRMSNorm()
        self.lm_head = nn.Linear(C, V, bias=False)
        era = config.constants
        if era.lambdas:
            self.resid_lambdas = nn.Parameter(torch.ones(config.n_layer))
            self.x0_lambdas = nn.Parameter(torch.zeros(config.n_layer))
        kv_dim = config.n_kv_head * config.head_size
        self.value_embeds = nn.ModuleDict(
            {str(i): nn.Embedding(V, kv_dim) for i in range(config.n_layer) if config.has_value_embedding(i)}
        )
        if era.smear_backout:
            self.smear_gate = nn.Linear(SMEAR_CHANNELS, 1, bias=False)
            self.smear_lambda = nn.Parameter(torch.zeros(1))
            self.backout_lambda = nn.Parameter(torch.zeros(1))
        self.hook_embed = HookPoint()  # the stream's start x0: the normalised (and smeared) embedding
        if era.smear_backout:
            self.hook_backout = HookPoint()  # what backout takes away from the final stream (E)
            self.hook_resid_final = HookPoint()  # the stream after backout, which the final norm reads
        self._rope_len = 0
        self.register_buffer("rope_cos", torch.empty(0), persistent=False)
        self.register_buffer("rope_sin", torch.empty(0), persistent=False)

    def rope_tables(self, length: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin (length, d/2) of the rotary angles t * base^(-2j/d), rounded as the era rounded them."""
        if length > self._rope_len or self.rope_cos.device != torch.device(device):
            era, D = self.config.constants, self.config.head_size
            n = max(length, 10 * self.config.sequence_len)
            inv_freq = 1.0 / (era.rope_base ** (torch.arange(0, D, 2, dtype=torch.float32, device=device) / D))
            angles = torch.outer(torch.arange(n, dtype=torch.float32, device=device), inv_freq)  # (n, D/2)
            cos, sin = angles.cos(), angles.sin()
            if era.rope_bf16:  # nanochat kept these tables in bfloat16, even on CPU, until 2026-03-04
                cos, sin = cos.bfloat16().float(), sin.bfloat16().float()
            self.rope_cos, self.rope_sin, self._rope_len = cos, sin, n
        return self.rope_cos, self.rope_sin

    def drop_meta_buffers(self) -> None:
        """After building on the meta device: the RoPE tables are made again on first use, on the weights' device."""
        device = self.tok_emb.weight.device
        self.rope_cos, self.rope_sin, self._rope_len = torch.empty(0, device=device), torch.empty(0, device=device), 0

    def unembed(self, normalized: torch.Tensor) -> torch.Tensor:
        """Logits from a final-normalised stream: the head, cut to the vocabulary, then the softcap."""
        cap = self.config.constants.softcap
        return cap * torch.tanh(self.pre_softcap(normalized) / cap)

    def pre_softcap(self, normalized: torch.Tensor) -> torch.Tensor:
        return self.lm_head(normalized)[..., : self.config.vocab_size]  # (B, T, vocab): the padding rows cut

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None, kv_cache: KVCache | None = None, *,
        logits: bool = True,
    ):  # fmt: skip
        """Logits (B, T, vocab) after the softcap, and the loss when targets are given. logits=False stops
        after the last block, (None, None): a capture of the attention alone skips the head (a d20's is
        1,280 x 32,768)."""
        B, T = idx.shape
        cfg, era = self.config, self.config.constants
        past = kv_cache.length if kv_cache is not None else 0
        cos, sin = self.rope_tables(past + T, idx.device)
        cos, sin = cos[past : past + T], sin[past : past + T]  # (T, D/2)
        x = rms_norm(self.tok_emb(idx))  # (B, T, C)
        if era.smear_backout:
            x = self._smear(x, kv_cache)
        x0 = x = self.hook_embed(x)
        backout = None
        for i, block in enumerate(self.blocks):
            lambdas = (self.resid_lambdas[i], self.x0_lambdas[i]) if era.lambdas else None
            ve = self.value_embeds[str(i)](idx) if str(i) in self.value_embeds else None  # (B, T, Hkv * D)
            x = block(x, x0, lambdas, ve, cos, sin, kv_cache)
            if era.smear_backout and i == cfg.backout_layer:
                backout = x
        if not logits:
            return None, None
        if backout is not None:
            x = self.hook_resid_final(x - self.hook_backout(self.backout_lambda * backout))
        out = self.unembed(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(out.view(B * T, -1), targets.view(B * T))  # flatten (B, T) positions
        return out, loss

    def _smear(self, x: torch.Tensor, kv_cache: KVCache | None) -> torch.Tensor:
        """x_t += smear_lambda * sigmoid(x_t[:24] . w) * x_{t-1}, on the normalised embeddings (E)."""
        previous = getattr(kv_cache, "prev_embedding", None) if kv_cache is not None else None
        if kv_cache is not None:
            kv_cache.prev_embedding = x[:, -1:, :]  # the next step's previous token, before smear
        if previous is not None:
            before = torch.cat([previous, x[:, :-1]], dim=1)  # (B, T, C): each position's previous token
            gate = self.smear_lambda * torch.sigmoid(self.smear_gate(x[..., :SMEAR_CHANNELS]))  # (B, T, 1)
            return x + gate * before
        if x.shape[1] == 1:
            return x  # the first token has no previous one
        gate = self.smear_lambda * torch.sigmoid(self.smear_gate(x[:, 1:, :SMEAR_CHANNELS]))  # (B, T-1, 1)
        return torch.cat([x[:, :1], x[:, 1:] + gate * x[:, :-1]], dim=1)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def load_nanochat_weights(model: NanochatGPT, state: dict[str, torch.Tensor]) -> None:
    """nanochat-named tensors (any float dtype) into the model, as float32, every name accounted for."""
    weights = {rename_from_nanochat(name): t.float() for name, t in state.items()}
    model.load_state_dict(weights, strict=True)


def num_params(config: NanochatConfig) -> int:
    return sum(math.prod(shape) for shape in expected_shapes(config).values())
