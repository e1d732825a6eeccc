"""Sampling, one character at a time, with a KV cache.

`generate_steps` yields one `Step` per new character: the character, the next-character
distribution before and after temperature and top-k, and the new position's attention row for
every layer and head. `generate` is the same loop without the attention rows.

The model's position embeddings are absolute, so once the context is full (block_size) the
window slides and every position moves: from then on each step is one full forward over the last
block_size characters, exactly as a no-cache loop would do it. Before that, each step costs one
position thanks to the cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .capture import run_with_cache
from .model import GPT, KVCache
from .nanochat import NanochatGPT


@dataclass
class Step:
    index: int  # 0 for the first new character
    token: int
    char: str
    context_len: int  # characters the model saw to predict this one
    cropped: bool  # the context was cut to the last block_size characters
    probs_raw: np.ndarray  # (vocab,) softmax of the logits, temperature 1, no top-k
    probs: np.ndarray  # (vocab,) the distribution actually sampled from
    attention: np.ndarray | None  # (n_layer, n_head, context_len) the last query's weights


def sample_distribution(logits: torch.Tensor, temperature: float, top_k: int | None) -> torch.Tensor:
    """Probabilities after temperature and top-k; logits (vocab,) -> (vocab,)."""
    if temperature <= 0:
        raise ValueError("temperature must be above 0")
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return F.softmax(logits, dim=-1)


@torch.no_grad()
def generate_steps(
    model,
    idx: torch.Tensor | list[int],
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    *,
    use_cache: bool = True,
    capture_attention: bool = True,
    tokenizer=None,
    generator: torch.Generator | None = None,
) -> Iterator[Step]:
    """Yield one Step per new character. `idx` is the prompt's ids, (T,) or (1, T).

    `generator` (a CPU torch.Generator) replaces `seed`: sampling draws from it and leaves it
    advanced, so a caller can stop, keep its state, and continue the same stream later.
    """
    idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1)  # (T,)
    if idx.numel() == 0:
        raise ValueError("the prompt is empty: give at least one character")
    device = next(model.parameters()).device
    block_size = model.config.block_size
    if generator is None:
        generator = torch.Generator(device="cpu")
        if seed is not None:
            generator.manual_seed(seed)
        else:
            generator.seed()
    is_gpt = isinstance(model, (GPT, NanochatGPT))  # both keep keys and values in a KVCache
    capture_attention = capture_attention and is_gpt
    use_cache = use_cache and is_gpt
    tokens = idx.tolist()
    cache, pending = None, []  # pending: tokens not yet in the cache
    for i in range(max_new_tokens):
        cropped = len(tokens) > block_size
        context = tokens[-block_size:]
        if use_cache and cache is not None and cache.length + len(pending) <= block_size and not cropped:
            feed = pending  # only the new positions
        else:
            cache = KVCache(model.config.n_layer) if use_cache else None
            feed = context
        x = torch.tensor([feed], dtype=torch.long, device=device)  # (1, T_new)
        if capture_attention:
            logits, captured = run_with_cache(model, x, names=lambda n: n.endswith("hook_pattern"), kv_cache=cache)
            rows = [captured[f"blocks.{layer}.attn.hook_pattern"][0, :, -1, :] for layer in range(model.config.n_layer)]
            attention = torch.stack(rows).float().numpy()  # (n_layer, n_head, len(context))
        else:
            logits, _ = model(x, kv_cache=cache) if use_cache else model(x)
            attention = None
        pending = []
        last = logits[0, -1].float().cpu()  # (vocab,)
        probs = sample_distribution(last, temperature, top_k)
        token = int(torch.multinomial(probs, 1, generator=generator))
        tokens.append(token)
        pending = [token]
        yield Step(
            index=i,
            token=token,
            char=tokenizer.piece(token) if tokenizer is not None else "",
            context_len=len(context),
            cropped=cropped,
            probs_raw=F.softmax(last, dim=-1).numpy(),
            probs=probs.numpy(),
            attention=attention,
        )


@torch.no_grad()
def generate(
    model,
    idx: torch.Tensor | list[int],
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    *,
    use_cache: bool = True,
) -> list[int]:
    """The prompt's ids followed by max_new_tokens sampled ids."""
    prompt = torch.as_tensor(idx, dtype=torch.long).reshape(-1).tolist()
    steps = generate_steps(model, prompt, max_new_tokens, temperature, top_k, seed,
                           use_cache=use_cache, capture_attention=False)  # fmt: skip
    return prompt + [step.token for step in steps]
