"""A checkpoint's training timeline: the model saved at chosen steps, to watch attention form.

Training with `snapshot_steps` writes `<name>.timeline/step-000250.safetensors` beside
`<name>.safetensors`, one ordinary checkpoint per step (fp16 weights; step and losses in the
metadata). The best step is not copied into the folder: the checkpoint itself is that snapshot,
so `timeline()` lists the folder's steps and then the checkpoint at its best step.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import CheckpointError, check_file, read_metadata

SNAPSHOT_DTYPE = "float16"  # a snapshot is for looking at, not for resuming: half the bytes
_SNAPSHOT_NAME = re.compile(r"step-(\d{6,})\.safetensors")


@dataclass(frozen=True)
class Frame:
    """One moment of training: where its weights are and how good they were then."""

    step: int
    path: str
    val_loss: float | None  # the run's estimate at that step (None when it was not evaluated)
    train_loss: float | None
    is_best: bool  # the checkpoint itself (the run's best step)


def timeline_dir(checkpoint: str | os.PathLike) -> Path:
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name.removesuffix(".safetensors") + ".timeline")


def snapshot_path(checkpoint: str | os.PathLike, step: int) -> Path:
    return timeline_dir(checkpoint) / f"step-{step:06d}.safetensors"


def timeline(checkpoint: str | os.PathLike) -> list[Frame]:
    """The checkpoint's frames by step; empty when it has no timeline folder.

    Unreadable snapshot files are skipped (a half-copied folder still shows what it can), and so are
    snapshots whose config is beyond the command line's limits or does not fit their tensors
    (checkpoint.check_file: the header alone is read), so no frame offered can be refused later.
    """
    folder = timeline_dir(checkpoint)
    if not folder.is_dir():
        return []
    frames = {}
    for path in sorted(folder.iterdir()):
        match = _SNAPSHOT_NAME.fullmatch(path.name)
        if not match:
            continue
        try:
            meta = check_file(path)
        except CheckpointError:
            continue
        step, losses = int(match.group(1)), meta.get("losses") or {}
        frames[step] = Frame(step, str(path), losses.get("val"), losses.get("train"), False)
    if not frames:
        return []
    try:
        meta = read_metadata(checkpoint)
    except CheckpointError:
        meta = {}
    best = meta.get("best_step")
    if isinstance(best, int) and best >= 0:
        at_best = next((h for h in meta.get("history", []) if h.get("step") == best), {})
        frames[best] = Frame(best, str(checkpoint), at_best.get("val"), at_best.get("train"), True)
    return [frames[step] for step in sorted(frames)]
