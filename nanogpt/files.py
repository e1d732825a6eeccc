"""Writing a file so that a killed process never leaves half of it: one atomic write for every file
the project saves (checkpoints, results, downloads, uploads)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[str], None] | bytes, mode: int = 0o644) -> Path:
    """Write `path` through a temporary file in its folder, then rename it over the old one.

    write: the bytes, or a function that writes the file whose name it is given. The rename is
    atomic on one file system: readers see the old file or the whole new one, never a part.
    mode: temp files are private (0o600); a saved file is meant to be shared.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if isinstance(write, bytes):
            Path(tmp).write_bytes(write)
        else:
            write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
