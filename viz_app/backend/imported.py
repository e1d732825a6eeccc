"""Models trained by other code (nanoGPT's ckpt.pt, the lecture's gpt.py weights), turned by
nanogpt.convert into a .safetensors in the uploads folder, named by what went in: the same files
convert once, and the app then opens the result like any checkpoint.

`make app CKPT=path` sets OPEN_ENV (and VOCAB=path sets VOCAB_ENV): that model is offered to every
session, first, so it is the one shown.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import streamlit as st

from nanogpt.checkpoint import CheckpointError, read_metadata
from nanogpt.convert import LECTURE, NANOGPT, convert

from .uploads import UPLOAD_DIR

OPEN_ENV = "ATTENTION_LAB_CKPT"  # a model file of any supported kind
VOCAB_ENV = "ATTENTION_LAB_VOCAB"  # its vocabulary: nanoGPT's meta.pkl or the training text
MODEL_TYPES = ("safetensors", "pt", "pth")
VOCAB_TYPES = ("pkl", "txt")
SOURCE_NAMES = {NANOGPT: "nanoGPT", LECTURE: "the lecture's gpt.py"}
DEFAULT_VOCAB = "tinyshakespeare"  # nanogpt.data's source name: what nanoGPT's shakespeare_char and the lecture use


def as_safetensors(src: Path, vocab: Path | str | None = None) -> Path:
    """The checkpoint to open for a model file: a .safetensors as it is, anything else converted once.

    vocab: a meta.pkl, a text file, or DEFAULT_VOCAB; None lets nanogpt.convert look for nanoGPT's
    meta.pkl itself and fall back to DEFAULT_VOCAB. Raises CheckpointError with what is wrong.
    """
    if src.suffix == ".safetensors":
        read_metadata(src)
        return src
    digest = hashlib.sha256(_bytes(src))
    digest.update(_bytes(vocab) if isinstance(vocab, Path) else f"vocab: {vocab or src.resolve()}".encode())
    out = UPLOAD_DIR / "converted" / f"{digest.hexdigest()[:16]}.safetensors"
    if not out.exists():
        is_meta = isinstance(vocab, Path) and vocab.suffix == ".pkl"
        convert(src, out, vocab if is_meta else None, None if is_meta else vocab, fallback_text=DEFAULT_VOCAB)
    return out


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read {path} ({e.strerror})") from None


@st.cache_data(max_entries=4, show_spinner="Converting the model…")
def _opened(src: str, vocab: str | None, stamp: tuple) -> tuple[str | None, str | None]:
    """(checkpoint path, None) or (None, what went wrong): a bad file is said once, not retried every rerun."""
    try:
        return str(as_safetensors(Path(src), Path(vocab) if vocab else None)), None
    except CheckpointError as e:
        return None, f"Could not open `{src}` (`make app CKPT=...`): {e}"


def opened() -> tuple[str | None, str | None]:
    """The model `make app CKPT=...` asked for: (its checkpoint, None), (None, the problem), or (None, None)."""
    src = os.environ.get(OPEN_ENV)
    if not src:
        return None, None
    vocab = os.environ.get(VOCAB_ENV) or None
    return _opened(src, vocab, (_stamp(src), _stamp(vocab)))


def _stamp(path: str | None) -> tuple[int, int] | None:
    """What changes when a file is rewritten: its mtime and size (None: no such file)."""
    info = Path(path).stat() if path and Path(path).is_file() else None
    return (info.st_mtime_ns, info.st_size) if info else None
