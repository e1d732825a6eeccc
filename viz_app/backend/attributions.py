"""Why the model predicted a character, for the pages: nanogpt.attribution's direct logit
attribution, the runner-up's difference and every head's ablation effect, as read-only arrays
computed once per (model, prompt, position, target) and shared by every session."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
from torch.nn import functional as F

from nanogpt.attribution import ablation_effects, attribute_targets

from .captures import _BY_VALUE, _frozen, load_model
from .registry import ModelRef

TOP_CHOICES = 8  # the characters offered as targets: the model's most likely next ones


@dataclass
class Why:
    """One position's prediction taken apart."""

    position: int
    target: int  # the character explained
    runner_up: int  # the most likely other character
    probs: np.ndarray  # (V,) the model's next-character distribution at the position
    logit: float
    names: tuple[str, ...]  # components, in the model's order
    values: np.ndarray  # (K,) their contributions to the target's logit; they add up to `logit`
    heads: np.ndarray  # (L, H) the heads' contributions
    versus: np.ndarray  # (K,) each component's share of logit[target] - logit[runner_up]
    zeroed: np.ndarray  # (L, H) change of log p(target) with the head zeroed
    mean_ablated: np.ndarray  # (L, H) ... with the head set to its mean over the positions so far
    note: str = ""  # what `logit` is where it is not the output as it is (nanochat: before its softcap)


def top_choices(why: Why, k: int = TOP_CHOICES) -> list[int]:
    return [int(i) for i in np.argsort(-why.probs)[:k]]


@st.cache_resource(max_entries=64, show_spinner="Taking the prediction apart…", hash_funcs=_BY_VALUE)
def why(ref: ModelRef, ids: tuple[int, ...], position: int, target: int | None) -> Why:
    """The attribution of `target` (None: the model's top choice) after the prompt's first position + 1 characters."""
    model = load_model(ref).model
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids[: position + 1]], dtype=torch.long))
    probs = F.softmax(logits[0, -1].float(), dim=-1)  # (V,)
    target = int(probs.argmax()) if target is None else int(target)
    ranked = probs.argsort(descending=True).tolist()
    runner_up = next(i for i in ranked if i != target)
    a, b = attribute_targets(model, ids, position, [target, runner_up])  # one capture for both
    effects = ablation_effects(model, ids, position, target)
    names = tuple(a.components)
    values = np.array([a.components[n] for n in names], dtype=np.float32)
    versus = np.array([a.components[n] - b.components[n] for n in names], dtype=np.float32)
    return Why(
        position=position,
        target=target,
        runner_up=runner_up,
        probs=_frozen(probs.numpy()),
        logit=a.logit,
        names=names,
        values=_frozen(values),
        heads=_frozen(a.heads.numpy().astype(np.float32)),
        versus=_frozen(versus),
        zeroed=_frozen(effects.zeroed.numpy()),
        mean_ablated=_frozen(effects.mean_ablated.numpy()),
        note=a.note,
    )
