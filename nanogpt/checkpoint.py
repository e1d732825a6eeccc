"""One checkpoint format: a .safetensors file of weights with JSON metadata in its header.

safetensors holds raw tensors and a JSON header, so loading never runs code from the file (no
pickle). Saving writes a temporary file and renames it over the old one, so a run killed in the
middle of a save leaves the previous checkpoint whole.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .config import GPTConfig
from .files import atomic_write
from .model import GPT, BigramLM, build_model
from .tokenizer import CharTokenizer

FORMAT = "nanogpt-safetensors/1"
META_KEY = "nanogpt"
EXTRA_PREFIXES = ("optim.", "state.")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; the message names the file and the problem."""


def tied_names(config: GPTConfig) -> dict[str, str]:
    """state_dict names that are another name's Parameter (a tied lm_head): safetensors refuses
    tensors that share memory, so the copy is left out on save and pointed back on load."""
    return {"lm_head.weight": "tok_emb.weight"} if config.tied_lm_head else {}


@dataclass
class Checkpoint:
    model: GPT | BigramLM
    tokenizer: CharTokenizer
    meta: dict
    path: str | None = None


def save_checkpoint(
    path: str | os.PathLike,
    model: GPT | BigramLM,
    tokenizer: CharTokenizer,
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
        vocab=tokenizer.chars,
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
        meta["model_config"] = GPTConfig(**meta["model_config"])
        CharTokenizer(meta["vocab"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path} has unreadable metadata ({e}).") from None
    return meta


def load_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Every tensor in the file and its metadata."""
    path = Path(path)
    meta = read_metadata(path)
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


def load_checkpoint(path: str | os.PathLike, device: str | torch.device | None = None) -> Checkpoint:
    """Model (in eval mode, float32, on `device`), tokenizer and metadata from a checkpoint."""
    tensors, meta = load_tensors(path)
    config: GPTConfig = meta["model_config"]
    model = build_model(config)
    weights = {
        name: t.float() if t.is_floating_point() else t
        for name, t in tensors.items()
        if not name.startswith(EXTRA_PREFIXES)  # resume files also carry optimiser and RNG state
    }
    for name, original in tied_names(config).items():
        if original in weights:
            weights[name] = weights[original]
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0:3]
        raise CheckpointError(f"{path}: its weights do not match its config ({' '.join(first)})") from None
    model.to(device or "cpu").eval()
    return Checkpoint(model, CharTokenizer(meta["vocab"]), meta, str(path))
