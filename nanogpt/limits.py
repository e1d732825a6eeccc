"""How big a model a file may claim: checked on the numbers alone, before anything is allocated.

A checkpoint's metadata (or a ckpt.pt's model_args) says how wide, deep and long the model is, and
building it allocates what that says. A file of a kilobyte can claim a model of gigabytes, so every
loader compares the claim with these limits first (and with the shapes the file holds: see
checkpoint.check_claims). The command line allows more than the app's server, where one student's
file must not take memory from the whole class; both are set by environment variables.

Who decides which limits apply: a file someone uploads to the app is held to the server's; a model
the operator names on the command line (`attention-lab PATH`, `make app CKPT=PATH`, `python -m
nanogpt ...`) is the operator's choice and is held to the command line's, which open GPT-2 124M
and 355M. So an upload that is too big for the server is told to be opened by path instead.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from .config import GPTConfig

FLOAT_BYTES = 4  # models are built and run in float32


@dataclass(frozen=True)
class Limits:
    """The largest model a file may describe. `env` is the prefix of the variables that set them."""

    params: int  # weights, counted once when tied (4 bytes each in memory)
    activation_mb: int  # one sequence at full context with every hook captured (see activation_bytes)
    context: int  # block_size
    vocab: int  # vocab_size: characters
    layers: int  # n_layer
    env: str = "NANOGPT_"


# variable name (after the prefix) of each limit
ENV_NAMES = {
    "params": "MAX_PARAMS",
    "activation_mb": "MAX_ACTIVATION_MB",
    "context": "MAX_CONTEXT",
    "vocab": "MAX_VOCAB",
    "layers": "MAX_LAYERS",
}
# the lecture's 10.8M model needs 10.8M parameters and ~60 MB of activations at its context of 256; the
# server's vocabulary takes BPE models' (GPT-2's 50,257 padded to 50,304; nanochat's 65,536), its size
# limits keep GPT-2 124M itself to the command line
SERVER = Limits(params=50_000_000, activation_mb=512, context=2048, vocab=65_536, layers=48, env="ATTENTION_LAB_")
# GPT-2 355M (24 layers x 16 heads x 1,024 wide, context 1,024) needs ~5.1 GB of activations at full context
COMMAND_LINE = Limits(params=1_000_000_000, activation_mb=8192, context=16384, vocab=1_000_000, layers=512)
LENS_TOP_K = 10  # what the logit lens keeps per layer and position: the top k tokens, never the vocabulary


def from_env(defaults: Limits) -> Limits:
    """The defaults, with any of their environment variables (e.g. ATTENTION_LAB_MAX_PARAMS) applied."""
    changed = {}
    for field, name in ENV_NAMES.items():
        raw = os.environ.get(defaults.env + name)
        if raw is None or not raw.strip():
            continue
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"{defaults.env}{name} must be a whole number of at least 1, not {raw!r}")
        changed[field] = value
    return dataclasses.replace(defaults, **changed)


def command_line() -> Limits:
    return from_env(COMMAND_LINE)


def server() -> Limits:
    return from_env(SERVER)


def activation_bytes(config: GPTConfig) -> int:
    """What the model holds beyond its weights for one sequence at full context (T = block_size),
    every hook point captured as the app does: each layer's scores and weights (H, T, T), a dozen
    (T, C) tensors (q, k, v, z, the residual points, the feed-forward's 4C hidden layer before and
    after its activation), the logit lens's top LENS_TOP_K per position (ids and probabilities, never
    layers x T x V), the logits (T, V) once, plus the causal masks every layer keeps (T, T bools)."""
    T, C, V, L = config.block_size, config.n_embd, config.vocab_size, config.n_layer
    if config.model_type == "bigram":
        return T * V * FLOAT_BYTES
    per_layer = 2 * config.n_head * T * T + 17 * T * C + 2 * T * LENS_TOP_K
    return (L * per_layer + 2 * T * C + T * V) * FLOAT_BYTES + L * T * T


def dimension_problem(config: GPTConfig, what: str, limits: Limits) -> str | None:
    """The sentence that refuses a config's numbers (not whole, or context, vocabulary or depth beyond
    the limits), naming `what` (the file), the claim and the limit; None when they fit. Arithmetic
    only: it runs before the model's names and shapes are even listed."""
    for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
        value = getattr(config, name)
        if type(value) is not int:  # JSON can say 64.5 or true; a Linear of either fails after allocating
            return f"{what} claims {name} {value!r}, which is not a whole number; it is not a model this project wrote."
    for field, name, claimed in (("context", "block_size", config.block_size), ("vocab", "vocab_size",
                                 config.vocab_size), ("layers", "n_layer", config.n_layer)):  # fmt: skip
        if claimed > getattr(limits, field):
            return _refusal(what, f"{name} {claimed:,}", field, limits)
    return None


def size_problem(config: GPTConfig, n_params: int, what: str, limits: Limits) -> str | None:
    """The sentence that refuses a model of too many parameters or too much activation memory; None
    when it fits. n_params: what the config implies (checkpoint.expected_shapes)."""
    if n_params > limits.params:
        return _refusal(what, f"a model of {n_params:,} parameters ({_shape(config)})", "params", limits)
    mb = activation_bytes(config) / 2**20
    if mb > limits.activation_mb:
        claim = f"a model that needs {mb:,.0f} MB of activations at its context ({_shape(config)})"
        return _refusal(what, claim, "activation_mb", limits)
    return None


def _shape(config: GPTConfig) -> str:
    return (f"{config.n_layer:,} layers x {config.n_head:,} heads x {config.n_embd:,} wide, context "
            f"{config.block_size:,}, vocabulary {config.vocab_size:,}")  # fmt: skip


def _refusal(what: str, claim: str, field: str, limits: Limits) -> str:
    limit = f"{getattr(limits, field):,}" + (" MB" if field == "activation_mb" else "")
    if limits.env == SERVER.env:
        return (
            f"{what} claims {claim}, over the limit of {limit} ({limits.env}{ENV_NAMES[field]}) that this server "
            "sets for files uploaded to it; refused before building it. A model this big opens by path instead: "
            "`attention-lab PATH` (or `make app CKPT=PATH`) on the machine that holds it."
        )
    return (
        f"{what} claims {claim}, over the limit of {limit} ({limits.env}{ENV_NAMES[field]}); refused "
        "before building it. Raise that limit only for a file you trust."
    )
