"""The two config types: GPTConfig (what the model is) and TrainConfig (how a run trains it).

One config type each, one set of presets, one way to override fields from the command line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields

# what q.k is multiplied by before the softmax: the one list of the settings, for the model, its
# interventions, the CLI and the app
ATTN_SCALES = ("head_size", "n_embd", "none")  # 1/sqrt(head_size) | 1/sqrt(n_embd) (the first draft) | 1
# the feed-forward's nonlinearity: the lecture's relu, nanoGPT's exact gelu, and gelu_tanh, the tanh
# approximation Hugging Face's GPT-2 computes (its config's "gelu_new")
ACTIVATIONS = ("relu", "gelu", "gelu_tanh")
TRAIN_DTYPES = ("auto", "float32", "bfloat16")  # what training computes in (weights stay float32)


def scale_value(setting: str | float, n_embd: int, head_size: int) -> float:
    """The number q.k is multiplied by, for a named setting or a given float."""
    if isinstance(setting, (int, float)):
        return float(setting)
    if setting not in ATTN_SCALES:
        raise ValueError(f"attn_scale must be one of {', '.join(ATTN_SCALES)} or a number, not {setting!r}")
    return {"head_size": head_size**-0.5, "n_embd": n_embd**-0.5, "none": 1.0}[setting]


@dataclass
class GPTConfig:
    """The lecture's final GPT. The defaults are the lecture's 10.8M model."""

    model_type: str = "gpt"  # "gpt" | "bigram" (the lecture's first model)
    vocab_size: int = 65
    block_size: int = 256
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384
    dropout: float = 0.2
    # ablation switches; the defaults are the lecture model
    residual: bool = True
    layernorm: bool = True
    norm: str = "pre"  # "pre" (the lecture) | "post" (the 2017 paper)
    attn_scale: str = "head_size"  # one of ATTN_SCALES
    ffn: bool = True
    pos_emb: bool = True
    activation: str = "relu"  # one of ACTIVATIONS
    # what an imported nanoGPT model needs (see convert.py); the defaults are the lecture model
    bias: bool = True  # biases of proj, the feed-forward Linears and every LayerNorm (nanoGPT's `bias`)
    qkv_bias: bool = False  # a bias on the fused q/k/v projection (nanoGPT: its `bias`; the lecture: none)
    lm_head_bias: bool = True
    tied_lm_head: bool = False  # lm_head reads the token embedding's weights (nanoGPT, GPT-2)

    def __post_init__(self):
        problems = []
        if self.model_type not in ("gpt", "bigram"):
            problems.append(f"model_type must be 'gpt' or 'bigram', not {self.model_type!r}")
        if self.norm not in ("pre", "post"):
            problems.append(f"norm must be 'pre' or 'post', not {self.norm!r}")
        if self.attn_scale not in ATTN_SCALES:
            problems.append(f"attn_scale must be one of {ATTN_SCALES}, not {self.attn_scale!r}")
        if self.activation not in ACTIVATIONS:
            problems.append(f"activation must be one of {', '.join(ACTIVATIONS)}, not {self.activation!r}")
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.n_head >= 1 and self.n_embd % self.n_head:
            problems.append(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), not {self.dropout}")
        if problems:
            raise ValueError("invalid GPTConfig: " + "; ".join(problems))

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head


@dataclass
class TrainConfig:
    """One training run: the model to build plus data, optimiser, schedule and bookkeeping."""

    model: GPTConfig = field(default_factory=GPTConfig)
    data: str = "tinyshakespeare"  # a source name (see data.py) or a path to a UTF-8 text file
    out: str = "out/model.safetensors"  # the best checkpoint; its resume state sits beside it
    batch_size: int = 64  # per micro-batch; the global batch is batch_size x gradient_accumulation_steps x ranks
    gradient_accumulation_steps: int = 1  # micro-batches per optimiser step, per rank (nanoGPT's name)
    max_iters: int = 5000
    learning_rate: float = 3e-4
    lr_schedule: str = "constant"  # "constant" | "cosine" (warmup, then cosine down to min_lr)
    warmup_iters: int = 0
    min_lr: float = 3e-5
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # 0 disables clipping
    eval_interval: int = 500
    eval_iters: int = 200
    patience: int = 0  # stop after this many evaluations in a row without a better val loss; 0: never
    log_interval: int = 0  # print "iter N: loss X" every this many steps; 0: only the progress bar
    seed: int = 1337
    device: str = "auto"  # "auto" picks cuda, then mps, then cpu
    compile: bool = False
    dtype: str = "auto"  # what training computes in: auto (bf16 on CUDA and CPUs with native bf16) | float32 | bfloat16
    ddp_timeout: float = 600.0  # seconds a rank waits for the others (torchrun) before giving up
    save_dtype: str = "float32"  # weights in the saved checkpoint: float32 | float16 | bfloat16
    snapshot_steps: list[int] = field(default_factory=list)  # also save the model at these steps, into <out>.timeline/
    # start from this checkpoint's weights (a fresh optimiser, step 0; the same architecture and vocabulary):
    # a second phase of a run, e.g. a cooldown of the learning rate from where a first one kept its best
    init_from: str = ""

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = GPTConfig(**self.model)
        self.snapshot_steps = sorted({int(s) for s in self.snapshot_steps})  # a list: JSON keeps it as it is
        problems = []
        if any(s < 0 for s in self.snapshot_steps):
            problems.append("snapshot_steps must be steps >= 0")
        if self.lr_schedule not in ("constant", "cosine"):
            problems.append(f"lr_schedule must be 'constant' or 'cosine', not {self.lr_schedule!r}")
        if self.dtype not in TRAIN_DTYPES:
            problems.append(f"dtype must be one of {', '.join(TRAIN_DTYPES)}, not {self.dtype!r}")
        if self.save_dtype not in ("float32", "float16", "bfloat16"):
            problems.append(f"save_dtype must be float32, float16 or bfloat16, not {self.save_dtype!r}")
        for name in ("batch_size", "gradient_accumulation_steps", "max_iters", "eval_interval", "eval_iters"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.log_interval < 0 or self.ddp_timeout <= 0:
            problems.append("log_interval must be >= 0 and ddp_timeout above 0")
        if problems:
            raise ValueError("invalid TrainConfig: " + "; ".join(problems))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# nanoGPT's presets. `baby` is its CPU config, `lecture` the seeds' 10.8M model.
PRESETS: dict[str, dict] = {
    "baby": dict(
        model=dict(n_layer=4, n_head=4, n_embd=128, block_size=64, dropout=0.0),
        batch_size=12, max_iters=2000, learning_rate=1e-3, lr_schedule="cosine",
        warmup_iters=100, min_lr=1e-4, eval_interval=250, eval_iters=20,
    ),
    "lecture": dict(
        model=dict(n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2),
        batch_size=64, max_iters=5000, learning_rate=3e-4, lr_schedule="constant",
        eval_interval=250, eval_iters=200,
    ),
    "bigram": dict(
        model=dict(model_type="bigram", block_size=8, dropout=0.0),
        batch_size=32, max_iters=6000, learning_rate=1e-2, lr_schedule="constant",
        weight_decay=0.0, eval_interval=500, eval_iters=200,
    ),
}  # fmt: skip

MODEL_FIELDS = {f.name: f for f in fields(GPTConfig)}
TRAIN_FIELDS = {f.name: f for f in fields(TrainConfig) if f.name != "model"}


def _coerce(name: str, kind, raw):
    """Turn a command-line string into the field's type, with a message that names the field."""
    if not isinstance(raw, str):
        return raw
    kind = kind if isinstance(kind, str) else kind.__name__
    try:
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "list[int]":
            return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--{name} expects a {kind}, got {raw!r}") from None
    return raw


def make_train_config(preset: str | None = None, **overrides) -> TrainConfig:
    """A TrainConfig from a preset plus overrides; model and run fields share one flat namespace."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    base = PRESETS.get(preset, {}) if preset else {}
    model_kw = dict(base.get("model", {}))
    train_kw = {k: v for k, v in base.items() if k != "model"}
    for name, raw in overrides.items():
        if name in MODEL_FIELDS:
            model_kw[name] = _coerce(name, MODEL_FIELDS[name].type, raw)
        elif name in TRAIN_FIELDS:
            train_kw[name] = _coerce(name, TRAIN_FIELDS[name].type, raw)
        else:
            known = ", ".join(sorted([*MODEL_FIELDS, *TRAIN_FIELDS]))
            raise ValueError(f"unknown config field {name!r}; known fields: {known}")
    return TrainConfig(model=GPTConfig(**model_kw), **train_kw)
