"""One checkpoint format: a .safetensors file of weights with JSON metadata in its header.

safetensors holds raw tensors and a JSON header, so loading never runs code from the file (no
pickle). Saving writes a temporary file and renames it over the old one, so a run killed in the
middle of a save leaves the previous checkpoint whole.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from . import limits as size_limits
from .config import GPTConfig
from .files import atomic_write
from .model import GPT, BigramLM, build_model
from .nanochat import NanochatConfig, NanochatGPT, rename_from_nanochat
from .nanochat import expected_shapes as nanochat_shapes
from .tokenizer import CharTokenizer, Tokenizer, from_spec

FORMAT = "nanogpt-safetensors/1"
META_KEY = "nanogpt"
EXTRA_PREFIXES = ("optim.", "state.")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; the message names the file and the problem."""


def tied_names(config: GPTConfig) -> dict[str, str]:
    """state_dict names that are another name's Parameter (a tied lm_head): safetensors refuses
    tensors that share memory, so the copy is left out on save and pointed back on load."""
    return {"lm_head.weight": "tok_emb.weight"} if getattr(config, "tied_lm_head", False) else {}


def config_from_dict(raw: dict) -> GPTConfig | NanochatConfig:
    """A checkpoint's model_config: nanochat's (model_type "nanochat") or the lecture's GPTConfig."""
    if raw.get("model_type") == "nanochat":
        return NanochatConfig(**raw)
    return GPTConfig(**raw)


def model_for(config: GPTConfig | NanochatConfig):
    """The model a config describes, with fresh weights: the one place that picks the architecture."""
    return NanochatGPT(config) if isinstance(config, NanochatConfig) else build_model(config)


def config_facts(config: GPTConfig | NanochatConfig) -> dict:
    """A model's sizes as the app's sidebar and pages read them, for any model this library builds."""
    return dict(
        n_layer=config.n_layer,
        n_head=config.n_head,
        n_embd=config.n_embd,
        head_size=config.head_size,
        block_size=config.block_size,
        attn_scale=config.attn_scale,
        vocab_size=config.vocab_size,
    )


def expected_shapes(config: GPTConfig) -> dict[str, tuple[int, ...]]:
    """The names and shapes of build_model(config).state_dict(), without building it (nothing is
    allocated, however big the config); a tied lm_head is left out, as save_checkpoint leaves it out.
    tests/test_limits.py holds this to the model for every switch of GPTConfig."""
    if isinstance(config, NanochatConfig):
        return {rename_from_nanochat(name): shape for name, shape in nanochat_shapes(config).items()}
    V, C, T = config.vocab_size, config.n_embd, config.block_size
    if config.model_type == "bigram":
        return {"token_embedding_table.weight": (V, V)}

    def norm(name: str) -> dict:
        if not config.layernorm:
            return {}
        return {f"{name}.weight": (C,), **({f"{name}.bias": (C,)} if config.bias else {})}

    def linear(name: str, out: int, inp: int, bias: bool) -> dict:
        return {f"{name}.weight": (out, inp), **({f"{name}.bias": (out,)} if bias else {})}

    shapes = {"tok_emb.weight": (V, C)}
    if config.pos_emb:
        shapes["pos_emb.weight"] = (T, C)
    for i in range(config.n_layer):
        b = f"blocks.{i}."
        shapes |= norm(b + "ln1") | norm(b + "ln2")
        shapes |= linear(b + "attn.qkv", 3 * C, C, config.qkv_bias) | linear(b + "attn.proj", C, C, config.bias)
        if config.ffn:
            shapes |= linear(b + "ffwd.net.0", 4 * C, C, config.bias) | linear(b + "ffwd.net.2", C, 4 * C, config.bias)
    shapes |= norm("ln_f.ln") | linear("lm_head", V, C, config.lm_head_bias)
    for name in tied_names(config):
        shapes.pop(name)
    return shapes


def check_claims(
    config: GPTConfig, held: dict[str, tuple[int, ...]], what, limits: size_limits.Limits | None = None
) -> None:
    """Refuse a model before anything is built: a config beyond the limits (the command line's unless
    given), or weights in the file (held: name -> shape, read without the data) that are not the ones
    the config describes. One CheckpointError sentence naming `what` (the file), the claim, and the
    limit or the first tensor that does not fit. The shapes are compared before the parameter count and
    activations: a file whose tensors contradict its config is a damaged or altered file, which no
    higher limit would make loadable."""
    limits = limits or size_limits.command_line()
    sentence = size_limits.dimension_problem(config, str(what), limits)
    if sentence:
        raise CheckpointError(sentence)
    expected = expected_shapes(config)  # at most limits.layers blocks of names
    claim = _described(config)
    for name, shape in expected.items():
        if name not in held:
            problem = f"has no {name} of shape {_dims(shape)}"
            break
        if tuple(held[name]) != shape:
            problem = f"holds {name} of shape {_dims(held[name])} where that model has {_dims(shape)}"
            break
    else:
        unexpected = [name for name in held if name not in expected]
        if not unexpected:
            # the tensors are the config's, so its weights are as big as the file: what is left to refuse is a
            # model that is honest but too big for here (or that needs far more than its weights to run)
            sentence = size_limits.size_problem(config, sum(map(math.prod, expected.values())), str(what), limits)
            if sentence:
                raise CheckpointError(sentence)
            return
        problem = f"also holds {unexpected[0]}, which that model has not"
    raise CheckpointError(
        f"{what} claims {claim} but {problem}; its config and its weights disagree (a damaged or altered "
        "file), so it was refused before building the model."
    )


def _described(config: GPTConfig) -> str:
    if isinstance(config, NanochatConfig):
        return (f"a nanochat model (era {config.era}) of {config.n_layer:,} layers x {config.n_head:,} heads "
                f"x {config.n_embd:,} wide, context {config.sequence_len:,}, vocabulary "
                f"{config.vocab_size:,}")  # fmt: skip
    if config.model_type == "bigram":
        return f"a bigram table of vocabulary {config.vocab_size}"
    return (f"a model of {config.n_layer:,} layers x {config.n_head:,} heads x {config.n_embd:,} wide, context "
            f"{config.block_size:,}, vocabulary {config.vocab_size:,}")  # fmt: skip


def _dims(shape) -> str:
    return "(" + ", ".join(f"{n:,}" for n in shape) + ")"


@dataclass
class Checkpoint:
    model: GPT | BigramLM
    tokenizer: Tokenizer
    meta: dict
    path: str | None = None


def save_checkpoint(
    path: str | os.PathLike,
    model: GPT | BigramLM,
    tokenizer: Tokenizer,
    meta: dict | None = None,
    *,
    extra_tensors: dict[str, torch.Tensor] | None = None,
    dtype: str = "float32",
) -> Path:
    """Write model weights (+ extra tensors, e.g. optimiser state) and metadata atomically."""
    path = Path(path)
    header = dict(meta or {})
    header.update(
        format=FORMAT,
        model_config=dataclasses.asdict(model.config),
        **tokenizer_fields(tokenizer),
        weights_dtype=dtype,
        n_params=sum(p.numel() for p in model.parameters()),
    )
    cast = DTYPES[dtype]
    tied = tied_names(model.config)
    tensors = {
        name: (t.detach().to("cpu", cast) if t.is_floating_point() else t.detach().cpu()).contiguous()
        for name, t in model.state_dict().items()
        if name not in tied
    }
    for name, t in (extra_tensors or {}).items():
        tensors[name] = t.detach().cpu().contiguous()
    return _write_atomically(path, tensors, header)


def tokenizer_fields(tokenizer: Tokenizer) -> dict:
    """What a checkpoint's metadata says of its tokenizer: a character model's `vocab` (the list of its
    characters, as files have always said it), any other tokenizer's `tokenizer` spec (see from_spec)."""
    if isinstance(tokenizer, CharTokenizer):
        return {"vocab": tokenizer.chars}
    return {"tokenizer": tokenizer.spec()}


def tokenizer_of(meta: dict) -> Tokenizer:
    """The tokenizer a checkpoint's metadata describes (tokenizer_fields's output)."""
    if "tokenizer" in meta:
        return from_spec(meta["tokenizer"])
    return CharTokenizer(meta["vocab"])


def _write_atomically(path: Path, tensors: dict[str, torch.Tensor], header: dict) -> Path:
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={META_KEY: json.dumps(header)}))


def _open(path: Path):
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    with open(path, "rb") as f:
        head = f.read(9)
    # a zip (torch.save) or pickle header, unless it is a safetensors length followed by its JSON '{'
    if (head[:2] == b"PK" or head[:1] == b"\x80") and head[8:9] != b"{":
        raise CheckpointError(
            f"{path} looks like a pickled PyTorch file (.pt). attention lab only loads .safetensors "
            "checkpoints, because unpickling can run code from the file."
        )
    try:
        return safe_open(str(path), framework="pt", device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(
            f"{path} is not a readable .safetensors checkpoint ({e}); it may be truncated or corrupt."
        ) from None


def read_json_file(path: Path, max_bytes: int, too_big: str):
    """A small JSON file beside a checkpoint (a config.json, a meta_<step>.json), its size checked before it
    is read; too_big: what the refusal says the file is not."""
    size = path.stat().st_size
    if size > max_bytes:
        raise CheckpointError(f"{path} is {size:,} bytes, {too_big} (at most {max_bytes:,}); refused.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{path} is not readable JSON ({e}).") from None


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON metadata alone (reads the header, not the weights)."""
    path = Path(path)
    with _open(path) as f:
        raw = (f.metadata() or {}).get(META_KEY)
    if raw is None:
        raise CheckpointError(
            f"{path} is a safetensors file but not an attention-lab checkpoint (no '{META_KEY}' metadata)."
        )
    try:
        meta = json.loads(raw)
        meta["model_config"] = config_from_dict(meta["model_config"])
        claimed = meta["model_config"].vocab_size
        if "tokenizer" in meta:
            # a BPE model may have more rows than tokens (nanoGPT pads GPT-2's 50,257 to 50,304), never fewer
            tokens = tokenizer_of(meta).vocab_size
            if tokens > claimed:
                raise ValueError(f"vocab_size {claimed!r} but a tokenizer of {tokens:,} tokens")
        else:
            vocab = meta["vocab"]
            if not isinstance(vocab, list) or len(vocab) != claimed:
                size = len(vocab) if isinstance(vocab, list) else "no list of"
                raise ValueError(f"vocab_size {claimed!r} but a vocabulary of {size} characters")
            CharTokenizer(vocab)
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise CheckpointError(f"{path} has unreadable metadata ({e}).") from None
    return meta


def check_file(path: str | os.PathLike, limits: size_limits.Limits | None = None) -> dict:
    """The metadata of a checkpoint whose config fits the limits and whose tensors are the ones that
    config describes (check_claims), read from its header alone: no weight is read, nothing is built.
    Optimiser and RNG state of resume files (EXTRA_PREFIXES) are not weights and are not compared."""
    path = Path(path)
    meta = read_metadata(path)
    with _open(path) as f:
        held = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys() if not name.startswith(EXTRA_PREFIXES)}
    check_claims(meta["model_config"], held, path, limits)
    return meta


def load_tensors(
    path: str | os.PathLike, limits: size_limits.Limits | None = None
) -> tuple[dict[str, torch.Tensor], dict]:
    """Every tensor in the file and its metadata, once check_file has found them to be what it claims."""
    path = Path(path)
    meta = check_file(path, limits)
    try:
        with _open(path) as f:
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except SafetensorError as e:
        raise CheckpointError(f"{path} could not be read ({e}); it may be truncated or corrupt.") from None
    return tensors, meta


def update_metadata(path: str | os.PathLike, **fields) -> dict:
    """Add or change metadata fields of a checkpoint in place (atomically); the weights are kept as they are."""
    tensors, meta = load_tensors(path)
    meta["model_config"] = dataclasses.asdict(meta["model_config"])
    meta.update(fields)
    _write_atomically(Path(path), tensors, meta)
    return meta


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device | None = None, limits: size_limits.Limits | None = None
) -> Checkpoint:
    """Model (in eval mode, float32, on `device`), tokenizer and metadata from a checkpoint; a file whose
    config is beyond `limits` (the command line's by default) or does not fit its tensors is refused first."""
    tensors, meta = load_tensors(path, limits)
    config: GPTConfig = meta["model_config"]
    nanochat = isinstance(config, NanochatConfig)
    with torch.device("meta" if nanochat else "cpu"):  # nanochat runs are big: no init for weights replaced below
        model = model_for(config)
    weights = {
        name: t.float() if t.is_floating_point() else t
        for name, t in tensors.items()
        if not name.startswith(EXTRA_PREFIXES)  # resume files also carry optimiser and RNG state
    }
    for name, original in tied_names(config).items():
        if original in weights:
            weights[name] = weights[original]
    try:
        model.load_state_dict(weights, strict=True, assign=nanochat)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0:3]
        raise CheckpointError(f"{path}: its weights do not match its config ({' '.join(first)})") from None
    if nanochat:
        model.drop_meta_buffers()
    model.to(device or "cpu").eval()
    return Checkpoint(model, tokenizer_of(meta), meta, str(path))


def load_resume_state(
    path: str | os.PathLike, model: GPT | BigramLM, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, torch.Tensor], dict]:
    """A resume state's tensors and metadata, once its header shows it is the state of this run's model
    and optimiser: the weights of the model's shapes, the optimiser's moments of its parameters'
    shapes, RNG states of the CPU generator's size. Refused with one sentence before any is read."""
    path = Path(path)
    meta = check_file(path)
    ours = {n: tuple(t.shape) for n, t in model.state_dict().items() if n not in tied_names(model.config)}
    if expected_shapes(meta["model_config"]) != ours:
        raise CheckpointError(
            f"{path} is the resume state of {_described(meta['model_config'])} and this run builds "
            f"{_described(model.config)}; rerun with the config it was saved with, or without --resume."
        )
    params = [p for group in optimizer.param_groups for p in group["params"]]  # the order state_dict numbers them
    rng = tuple(torch.get_rng_state().shape)
    with _open(path) as f:
        for name in f.keys():
            shape = tuple(f.get_slice(name).get_shape())
            if name.startswith("optim."):
                _, i, kind = name.split(".", 2)
                param = params[int(i)] if i.isdigit() and int(i) < len(params) else None
                want = None if param is None else (1,) if kind == "step" else tuple(param.shape)
            elif name.startswith("state."):
                want = rng
            else:
                continue
            if shape != want:
                raise CheckpointError(
                    f"{path} holds {name} of shape {_dims(shape)}, which this run's "
                    f"{'optimiser' if name.startswith('optim.') else 'random state'} cannot take "
                    f"({'no such parameter' if want is None else _dims(want)}); a damaged or altered file, "
                    "refused before reading it. Rerun without --resume to start again."
                )
    return load_tensors(path)
