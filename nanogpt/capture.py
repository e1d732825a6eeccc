"""run_with_cache: one forward pass, every named activation, optional interventions.

Hooks are registered on the model's HookPoints for the duration of one call and removed in
`finally`. Streamlit serves every browser session from one shared model in several threads, so
a hook registered here must not record (or steer) another thread's forward: each hook checks
that the forward running it belongs to this call, through a ContextVar (one per thread), and
interventions travel the same way (model.intervene). Nothing is ever left on the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from pathlib import Path

import numpy as np
import torch

from .model import HookPoint, KVCache, intervene

_OWNER: ContextVar[object | None] = ContextVar("nanogpt_capture_owner", default=None)

Names = Iterable[str] | str | Callable[[str], bool] | None


class Cache(dict):
    """Hook name -> detached CPU tensor, e.g. cache["blocks.0.attn.hook_pattern"]: (B, H, T, T)."""

    def stack(self, suffix: str) -> torch.Tensor:
        """One tensor per layer for a per-block hook, stacked: e.g. 'attn.hook_pattern' -> (L, B, H, T, T)."""
        keys = sorted((k for k in self if re.fullmatch(rf"blocks\.\d+\.{re.escape(suffix)}", k)),
                      key=lambda k: int(k.split(".")[1]))  # fmt: skip
        if not keys:
            raise KeyError(f"nothing captured for 'blocks.*.{suffix}'")
        return torch.stack([self[k] for k in keys])

    def to_npz(self, path) -> None:
        """Every tensor as a float32 array under its hook name; np.load(path)[name] reads one back."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)  # a new folder (inspect --npz out/cache.npz)
        np.savez_compressed(path, **{name: t.float().numpy() for name, t in self.items()})

    def nbytes(self) -> int:
        """Bytes the cache keeps alive, each storage once (q, k and v are views of one qkv output)."""
        storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in self.values()}
        return sum(storages.values())


def hook_points(model) -> dict[str, HookPoint]:
    return {name: m for name, m in model.named_modules() if isinstance(m, HookPoint)}


def _selector(names: Names) -> Callable[[str], bool]:
    if names is None:
        return lambda name: True
    if callable(names):
        return names
    if isinstance(names, str):
        return lambda name: re.fullmatch(names, name) is not None
    wanted = set(names)
    return lambda name: name in wanted


@torch.no_grad()
def run_with_cache(
    model,
    idx: torch.Tensor,
    names: Names = None,
    *,
    attn_scale: str | float | dict[int, str | float] | None = None,
    ablate_heads: Iterable[tuple[int, int]] = (),
    causal: bool = True,
    kv_cache: KVCache | None = None,
    patches: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
    logits: bool = True,
) -> tuple[torch.Tensor | None, Cache]:
    """Logits (B, T, vocab) and a Cache of the hook points `names` selects.

    names: None (everything), a list of hook names, a regex matched against the whole name,
    or a predicate. attn_scale: "head_size" | "n_embd" | "none" | a float the scores are
    multiplied by, in every layer, or {layer: one of those} for those layers only (the rest keep
    the model's own); ablate_heads: (layer, head) pairs whose output is zeroed; causal=False lifts
    the mask; patches: {hook name: fn} replaces that point's output with fn(output) in this call
    only (what is cached there is the replacement). The logits always reflect the intervention.
    logits=False: the forward stops after the last block and the logits are None (a GPT only).
    """
    points = hook_points(model)
    select = _selector(names)
    if names is not None and not callable(names) and not isinstance(names, str):
        unknown = set(names) - set(points)
        if unknown:
            raise KeyError(f"unknown hook names: {sorted(unknown)}; the model has {len(points)} hook points")
    patches = dict(patches or {})
    if set(patches) - set(points):
        raise KeyError(f"unknown hook names to patch: {sorted(set(patches) - set(points))}")
    ablate_heads = [(int(layer), int(head)) for layer, head in ablate_heads]
    cfg = model.config
    bad = [(l, h) for l, h in ablate_heads if not (0 <= l < cfg.n_layer and 0 <= h < cfg.n_head)]
    if bad:
        raise ValueError(f"ablate_heads {bad} out of range: the model has {cfg.n_layer} layers x {cfg.n_head} heads")
    if isinstance(attn_scale, dict) and not all(0 <= int(layer) < cfg.n_layer for layer in attn_scale):
        raise ValueError(f"attn_scale layers {sorted(attn_scale)} out of range: the model has {cfg.n_layer} layers")
    if idx.dim() == 1:
        idx = idx[None]  # (1, T)
    owner = object()
    cache = Cache()
    handles = []
    reset = _OWNER.set(owner)
    try:
        for name, point in points.items():
            patch, keep = patches.get(name), select(name)
            if not keep and patch is None:
                continue

            def record(module, inputs, output, name=name, patch=patch, keep=keep):
                if _OWNER.get() is not owner:  # another thread's forward: not ours to record or change
                    return None
                if patch is not None:
                    output = patch(output)
                if keep:
                    cache[name] = output.detach().to("cpu", torch.float32)
                return output if patch is not None else None

            record.scoped = True  # HookPoint.has_user_hooks: other threads may stay on the fast path
            handles.append(point.register_forward_hook(record))
        with intervene(attn_scale=attn_scale, ablate_heads=ablate_heads, causal=causal):
            out, _ = model(idx, kv_cache=kv_cache) if logits else model(idx, kv_cache=kv_cache, logits=False)
    finally:
        for handle in handles:
            handle.remove()
        _OWNER.reset(reset)
    return out, cache
