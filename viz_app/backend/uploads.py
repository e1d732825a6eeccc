"""Files a browser session hands the server (checkpoints, results, texts to train on), kept in the
temp folder under a name made from their content: the same upload is one file and one cache entry,
however many students send it.

What one session may store is bounded (SESSION_FILES_ENV files, SESSION_MB_ENV megabytes), and so is
the folder (FOLDER_MB_ENV): past its cap the oldest files go first, never one that a live session
uses. A session keeps its files (keep) in an object in its st.session_state; the folder's index of
those objects is weak, so a session that ends (its state dropped) lets its files go.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import weakref
from pathlib import Path

import streamlit as st

from nanogpt.files import atomic_write

from .. import compat

UPLOAD_DIR = Path(tempfile.gettempdir()) / "attention-lab-uploads"
SESSION_FILES_ENV, SESSION_FILES = "ATTENTION_LAB_SESSION_UPLOADS", 12  # a model, its vocabulary, texts, results
SESSION_MB_ENV, SESSION_MB = "ATTENTION_LAB_SESSION_UPLOAD_MB", 400  # three nanoGPT ckpt.pt of 130 MB
FOLDER_MB_ENV, FOLDER_MB = "ATTENTION_LAB_UPLOAD_DIR_MB", 2048
_KEY = "_uploads_kept"  # st.session_state: this session's _Kept


class UploadRefused(ValueError):
    """An upload past what one session may store; the message says which limit and what to do."""


class _Kept:
    """The files one browser session stored or uses, and what it has uploaded so far."""

    def __init__(self):
        self.paths: set[str] = set()
        self.files = 0
        self.bytes = 0


_sessions: weakref.WeakSet[_Kept] = weakref.WeakSet()  # every live session's _Kept
_pinned: set[str] = set()  # kept for the server's life (the model `make app CKPT=...` opened)
_lock = threading.Lock()  # one trim at a time; keep/pin against a trim's view of what is in use


def _mb_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def _session() -> _Kept | None:
    """This browser session's record; None outside a script run (a test or a benchmark calling in)."""
    if not compat.in_script_run():
        return None
    kept = st.session_state.get(_KEY)
    if kept is None:
        kept = st.session_state[_KEY] = _Kept()
        with _lock:
            _sessions.add(kept)
    return kept


def keep(path: Path) -> None:
    """Mark a file as used by this session: no trim deletes it while the session lives."""
    kept = _session()
    if kept is not None:
        with _lock:
            kept.paths.add(str(path))


def pin(path: Path) -> None:
    """Keep a file for as long as the server runs."""
    with _lock:
        _pinned.add(str(path))


def store(data: bytes, suffix: str = "", *, name: str | None = None, folder: Path | None = None) -> Path:
    """Write uploaded bytes once, named by their hash (`<hash><suffix>`), or `<hash>/<name>` to keep
    the upload's own file name (error messages and training metadata show it). Raises UploadRefused
    when this session has uploaded its share; makes room in the folder (trim) after writing."""
    folder = folder or UPLOAD_DIR
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = folder / digest / Path(name).name if name else folder / f"{digest}{suffix}"
    kept = _session()
    if kept is not None and str(path) not in kept.paths:
        most_files, most_mb = _mb_env(SESSION_FILES_ENV, SESSION_FILES), _mb_env(SESSION_MB_ENV, SESSION_MB)
        if kept.files + 1 > most_files or kept.bytes + len(data) > most_mb * 2**20:
            raise UploadRefused(
                f"This session has uploaded {kept.files} files ({kept.bytes / 2**20:,.0f} MB) and "
                f"{Path(name or 'this file').name} ({len(data) / 2**20:,.1f} MB) would pass its share of the "
                f"server ({most_files} files, {most_mb} MB: {SESSION_FILES_ENV}, {SESSION_MB_ENV}). Open the app "
                "in a new tab to start a new session."
            )
        with _lock:
            kept.paths.add(str(path))  # before it exists: a trim in another session must not take it
            kept.files, kept.bytes = kept.files + 1, kept.bytes + len(data)
    if not path.exists():
        atomic_write(path, data)
    trim(folder)
    return path


def trim(folder: Path | None = None, cap_mb: int | None = None) -> list[Path]:
    """Delete the folder's oldest files (by modification time) until it holds at most cap_mb
    (FOLDER_MB_ENV), never a file a live session keeps; returns what was deleted."""
    folder = folder or UPLOAD_DIR
    cap = (cap_mb if cap_mb is not None else _mb_env(FOLDER_MB_ENV, FOLDER_MB)) * 2**20
    files = []
    for path in folder.rglob("*") if folder.is_dir() else ():
        try:
            info = path.stat()
        except OSError:  # deleted meanwhile by another session's trim
            continue
        if path.is_file() and not path.name.startswith("."):  # .name.tmp: an atomic_write in progress
            files.append((info.st_mtime_ns, info.st_size, path))
    total = sum(size for _, size, _ in files)
    deleted = []
    if total <= cap:
        return deleted
    with _lock:
        used = set(_pinned).union(*(kept.paths for kept in list(_sessions)))
        for _, size, path in sorted(files):
            if total <= cap:
                break
            if str(path) in used:
                continue
            try:
                path.unlink()
            except OSError:
                continue
            total -= size
            deleted.append(path)
            parent = path.parent  # the <hash>/ of a named upload: gone with its file, unless one is on its way
            if parent != folder and not any(u.startswith(f"{parent}{os.sep}") for u in used):
                try:
                    parent.rmdir()
                except OSError:  # not empty after all
                    pass
    return deleted
