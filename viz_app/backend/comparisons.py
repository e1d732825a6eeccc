"""Two models on one prompt: which second model, what can be compared, and the per-head changes.

Every second model is a checkpoint file, so the loaders and caches that serve the first serve it
too: another model in the sidebar, a step of the first model's timeline, or the first model's own
untrained weights (registry.ModelRef(untrained=True): the same seed and config train() starts
from, the real step 0 of that run, built in memory by captures.load_model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nanogpt.checkpoint import Checkpoint

from . import registry, timelines
from .captures import Prompt, Sharpness, prepare_prompt

UNTRAINED = "untrained"  # the URL's cmp value for the first model at random initialisation
STEP_PREFIX = "step-"  # cmp=step-250: the first model's timeline at step 250


@dataclass(frozen=True)
class Choice:
    value: str  # what the URL keeps: "untrained", "step-250", or another model's label
    label: str  # what the picker shows


def choices(entry: registry.ModelEntry, entries: list[registry.ModelEntry]) -> list[Choice]:
    """What the first model can be compared with: its untrained self, its timeline, the other models."""
    out = [Choice(UNTRAINED, "the same model, untrained (random initialisation)")]
    out += [
        Choice(f"{STEP_PREFIX}{frame.step}", f"this model at step {frame.step}" + (" (best)" if frame.is_best else ""))
        for frame in timelines.frames(entry)
    ]
    out += [Choice(e.label, e.label) for e in entries if e.label != entry.label]
    return out


def resolve(value: str, entry: registry.ModelEntry, entries: list[registry.ModelEntry]) -> registry.ModelEntry | None:
    """The second model for a picker value (None when the value names nothing there is)."""
    if value == UNTRAINED:
        return registry.ModelEntry(f"{entry.label}, untrained", entry.path, "untrained")
    if value.startswith(STEP_PREFIX):
        step = value.removeprefix(STEP_PREFIX)
        frame = next((f for f in timelines.frames(entry) if str(f.step) == step), None)
        return None if frame is None else registry.ModelEntry(f"{entry.label} at step {step}", frame.path, "timeline")
    return next((e for e in entries if e.label == value), None)


@dataclass(frozen=True)
class Pairing:
    """What two models can show side by side on one prompt, and what the page must say."""

    prompt_b: Prompt
    same_text: bool  # both read exactly the same characters: position-by-position differences make sense
    n_layer: int  # the layers and heads both have
    n_head: int
    notices: tuple[str, ...]


def pair(a: Checkpoint, prompt_a: Prompt, b: Checkpoint, raw_prompt: str, label_b: str) -> Pairing:
    prompt_b = prepare_prompt(raw_prompt, b)
    ca, cb = a.model.config, b.model.config
    notices = []
    if a.tokenizer != b.tokenizer:
        notices.append(f"{label_b} has another vocabulary ({cb.vocab_size:,} {prompt_b.unit}s against "
                       f"{ca.vocab_size:,} {prompt_a.unit}s).")  # fmt: skip
    if prompt_b.text != prompt_a.text or len(prompt_b.ids) != len(prompt_a.ids):
        notices.append(
            f"{label_b} reads a different part of the prompt ({len(prompt_b.ids)} {prompt_b.unit}s, within its "
            f"context of {cb.block_size}), so the two cannot be compared position by position: "
            "differences are left out, each model is shown on what it reads."
        )
    layers, heads = min(ca.n_layer, cb.n_layer), min(ca.n_head, cb.n_head)
    if (ca.n_layer, ca.n_head) != (cb.n_layer, cb.n_head):
        notices.append(
            f"{label_b} has {cb.n_layer} layers × {cb.n_head} heads against {ca.n_layer} × {ca.n_head}: "
            f"the comparison covers the {layers} × {heads} both have."
        )
    return Pairing(prompt_b, prompt_b.text == prompt_a.text, layers, heads, tuple(notices))


@dataclass(frozen=True)
class HeadChanges:
    """B minus A for every head both models have, (L, H): how the softmax sharpened or spread."""

    entropy: np.ndarray  # change in mean entropy (nats)
    max_weight: np.ndarray  # change in mean max weight


def head_changes(a: Sharpness, b: Sharpness, n_layer: int, n_head: int) -> HeadChanges:
    return HeadChanges(
        entropy=b.mean_entropy[:n_layer, :n_head] - a.mean_entropy[:n_layer, :n_head],
        max_weight=b.mean_max_weight[:n_layer, :n_head] - a.mean_max_weight[:n_layer, :n_head],
    )
