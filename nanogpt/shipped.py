"""Where the files the project ships are: the checkpoints and tiny Shakespeare.

In a checkout they sit beside the packages (`checkpoints/`, `data/`). A wheel has no repository
around it, so the build (hatch_build.py) copies the same files, under the same relative paths, into
`nanogpt/shipped/`. ROOT is whichever of the two this copy of the library has; every shipped file is
found through it, so a checkout and an installed package find them the same way.
"""

from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "shipped"  # the wheel's copy; hatch_build.py writes it
CHECKOUT = Path(__file__).resolve().parent.parent  # the repository root, when this is a checkout
ROOT = PACKAGED if PACKAGED.is_dir() else CHECKOUT


def path(relative: str) -> Path:
    """A shipped file or folder by its path in the repository ("checkpoints", "data/tinyshakespeare.txt").
    It may be absent: a wheel leaves some out (the timelines) to stay small."""
    return ROOT / relative
