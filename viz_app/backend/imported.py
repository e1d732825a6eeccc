"""Models trained by other code (nanoGPT's ckpt.pt, the lecture's gpt.py weights), turned by
nanogpt.convert into a .safetensors in the uploads folder, named by what went in: the same files
convert once, and the app then opens the result like any checkpoint.

`make app CKPT=path` and `attention-lab path` set OPEN_ENV (VOCAB=path and --vocab set VOCAB_ENV;
launch.py names them): that model is offered to every session, first, so it is the one shown.

Every uploaded file is checked against the server's limits (nanogpt.limits.server():
ATTENTION_LAB_MAX_*) before anything is built from it: a file that claims more than its tensors
hold, or a model too big for a server a whole class shares, is refused with the sentence that says
so (and that a model that big opens by path). The model the operator names on the command line is
held to the command line's limits (nanogpt.limits.command_line()): naming it is the choice.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import streamlit as st

from nanogpt import limits, nanochat_run
from nanogpt.checkpoint import CheckpointError, check_file
from nanogpt.convert import HUGGINGFACE, LECTURE, NANOGPT, convert, hub_file, huggingface_folder

from . import uploads
from .launch import MODEL_TYPES, OPEN_ENV, VOCAB_ENV, VOCAB_TYPES  # noqa: F401 (the sidebar reads the types here)

SOURCE_NAMES = {
    NANOGPT: "nanoGPT",
    LECTURE: "the lecture's gpt.py",
    HUGGINGFACE: "Hugging Face",
    nanochat_run.SOURCE_FORMAT: "nanochat",
}
DEFAULT_VOCAB = "tinyshakespeare"  # nanogpt.data's source name: what nanoGPT's shakespeare_char and the lecture use


def as_safetensors(src: Path, vocab: Path | str | None = None, allowed: limits.Limits | None = None) -> Path:
    """The checkpoint to open for a model file: a .safetensors as it is, anything else converted once.

    vocab: a meta.pkl, a text file, or DEFAULT_VOCAB; None lets nanogpt.convert look for nanoGPT's
    meta.pkl itself and fall back to DEFAULT_VOCAB. Raises CheckpointError with what is wrong; the
    `allowed` limits apply, the server's unless given (nothing is allocated for a file they refuse).
    The converted file is kept for this session (uploads.keep), and the uploads folder trimmed to its
    cap after converting.
    """
    allowed = allowed or limits.server()
    if src.suffix == ".safetensors":
        check_file(src, allowed)
        return src
    digest = hashlib.sha256()
    for part in _model_files(src):
        digest.update(_bytes(part))
    digest.update(_bytes(vocab) if isinstance(vocab, Path) else f"vocab: {vocab or src.resolve()}".encode())
    out = uploads.UPLOAD_DIR / "converted" / f"{digest.hexdigest()[:16]}.safetensors"
    uploads.keep(out)  # before it exists: another session's trim must not take it
    if not out.exists():
        is_meta = isinstance(vocab, Path) and vocab.suffix == ".pkl"
        convert(src, out, vocab if is_meta else None, None if is_meta else vocab, fallback_text=DEFAULT_VOCAB,
                limits=allowed)  # fmt: skip
        uploads.trim()
    else:
        check_file(out, allowed)  # converted under other limits, or altered since
    return out


def _model_files(src: Path) -> list[Path]:
    """The files a model is read from: the file itself, or a Hugging Face folder's config and weights."""
    if not src.is_dir():
        return [src]
    try:
        folder = huggingface_folder(src)
    except CheckpointError:
        return []  # convert says what is wrong with the folder
    return [hub_file(folder, "config.json"), hub_file(folder, "model.safetensors")]


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read {path} ({e.strerror})") from None


@st.cache_data(max_entries=4, show_spinner="Converting the model…")
def _opened(src: str, vocab: str | None, stamp: tuple) -> tuple[str | None, str | None]:
    """(checkpoint path, None) or (None, what went wrong): a bad file is said once, not retried every rerun."""
    try:
        # the operator named this model on the command line: the command line's limits, which open GPT-2
        # 124M and 355M, not the server's, which are for what a session uploads
        path = as_safetensors(Path(src), Path(vocab) if vocab else None, limits.command_line())
    except CheckpointError as e:
        return None, f"Could not open `{src}` (`make app CKPT=...`): {e}"
    uploads.pin(path)  # every session shows it: no trim may take it
    return str(path), None


def opened() -> tuple[str | None, str | None]:
    """The model `make app CKPT=...` asked for: (its checkpoint, None), (None, the problem), or (None, None)."""
    src = os.environ.get(OPEN_ENV)
    if not src:
        return None, None
    if nanochat_run.is_nanochat_path(src):
        steps, problem = opened_nanochat()
        return (steps[0][1] if steps else None), problem
    vocab = os.environ.get(VOCAB_ENV) or None
    return _opened(src, vocab, (_stamp(src), _stamp(vocab)))


def _stamp(path: str | None) -> tuple[int, int] | None:
    """What changes when a file is rewritten: its mtime and size (None: no such file)."""
    info = Path(path).stat() if path and Path(path).is_file() else None
    return (info.st_mtime_ns, info.st_size) if info else None


def opened_nanochat() -> tuple[list[tuple[str, str]], str | None]:
    """The saved models of the nanochat run `attention-lab DIR` opened, as (label, model_*.pt): the one it
    opens on first (the newest step of the last stage, or the file named), then the rest, newest first.

    They are opened where they are, never converted (a d20's file is gigabytes), with the command line's
    limits: the person who started the app chose the path. Uploads go through as_safetensors and the
    server's limits."""
    src = os.environ.get(OPEN_ENV)
    if not src or not nanochat_run.is_nanochat_path(src):
        return [], None
    return _nanochat_steps(src, _tree_stamp(Path(src)))


@st.cache_data(max_entries=4, show_spinner=False)
def _nanochat_steps(src: str, stamp: tuple) -> tuple[list[tuple[str, str]], str | None]:
    path = Path(src)
    try:
        files = nanochat_run.find_checkpoints(path)
        if path.is_file():
            files = [f for f in files if f.path.parent == path.parent]
            first = next(f for f in files if f.path == path)
        else:
            first = nanochat_run.choose(files, path)
    except (CheckpointError, StopIteration) as e:
        return [], f"Could not open `{src}` (`attention-lab DIR`): {e}"
    rest = sorted((f for f in files if f != first), key=lambda f: (f.stage != first.stage, -f.step))
    return [(f"{f.tag} {f.stage} step {f.step:,} (opened)", str(f.path)) for f in [first, *rest]], None


def _tree_stamp(path: Path) -> tuple:
    """What changes when a run saves another step: the names and times of its model files."""
    root = path.parent if path.is_file() else path
    return tuple(sorted((str(p), p.stat().st_mtime_ns) for p in root.rglob("model_*.pt")))
