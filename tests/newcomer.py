"""The environment a newcomer's machine gives a server the tests start: an empty temp folder (TMPDIR)
and home (HOME) where the app has never run, and none of the app's ATTENTION_LAB_* settings unless the
test is about one. `make app` and `make serve` on a new machine start the app this way; a test that
inherited the developer's temp folder, where attention-lab/ already existed, once hid a crash."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

PREFIX = "ATTENTION_LAB_"


def environ(root: Path, **settings: str) -> dict[str, str]:
    """This process's environment without ATTENTION_LAB_*, with TMPDIR and HOME empty folders made
    under root (which must be new), and the given settings (the ones the test is about)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    for name, sub in (("TMPDIR", "tmp"), ("HOME", "home")):
        folder = Path(root) / sub
        folder.mkdir(parents=True)
        env[name] = str(folder)
    return {**env, **settings}


@contextlib.contextmanager
def as_this_process(root: Path, **settings: str) -> Iterator[dict[str, str]]:
    """os.environ as environ() makes it, for code that copies it (serve.Hall); restored afterwards."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ(root, **settings))
    try:
        yield dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)
