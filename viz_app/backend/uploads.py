"""Files a browser session hands the server (checkpoints, results, texts to train on), kept in the
temp folder under a name made from their content: the same upload is one file and one cache entry,
however many students send it."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from nanogpt.files import atomic_write

UPLOAD_DIR = Path(tempfile.gettempdir()) / "attention-lab-uploads"


def store(data: bytes, suffix: str = "", *, name: str | None = None, folder: Path = UPLOAD_DIR) -> Path:
    """Write uploaded bytes once, named by their hash (`<hash><suffix>`), or `<hash>/<name>` to keep
    the upload's own file name (error messages and training metadata show it)."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = folder / digest / Path(name).name if name else folder / f"{digest}{suffix}"
    if not path.exists():
        atomic_write(path, data)
    return path
