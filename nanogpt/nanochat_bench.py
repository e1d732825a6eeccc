"""How big a nanochat run opens here: a random d20-shaped run written as nanochat lays it out, then
opened by path in a fresh process (memory and the time to the first attention map measured).

`write_random_run` writes a `$NANOCHAT_BASE_DIR` tree: tokenizer/tokenizer.pkl (a pickled
tiktoken.Encoding of the run's vocabulary, as nanochat's RustBPETokenizer.save writes one) and
base_checkpoints/d{L}/model_<step>.pt + meta_<step>.json, with embeddings in bfloat16 as a GPU run
saves them. The weights are random: the timings and memory do not depend on their values.
"""

from __future__ import annotations

import json
import pickle
import tempfile
import time
from pathlib import Path

import torch

from .bench import in_fresh_process
from .nanochat import SMEAR_CHANNELS, NanochatConfig, expected_shapes
from .nanochat_run import BOS, KNOWN_PATTERNS

# nanochat's d20 at HEAD (base_train.py: depth 20, aspect ratio 64, head_dim 128, vocab 32768, seq 2048)
D20 = NanochatConfig(vocab_size=32768, sequence_len=2048, n_layer=20, n_head=10, n_kv_head=10, n_embd=1280,
                     window_pattern="SSSL", era="E")  # fmt: skip
SMALL = NanochatConfig(vocab_size=512, sequence_len=256, n_layer=4, n_head=4, n_kv_head=2, n_embd=64,
                       window_pattern="SL", era="E")  # fmt: skip
SPECIALS = ["<|bos|>", "<|user_start|>", "<|user_end|>", "<|assistant_start|>", "<|assistant_end|>",
            "<|python_start|>", "<|python_end|>", "<|output_start|>", "<|output_end|>"]  # fmt: skip
MAP_TOKENS = 256  # the prompt the first map is drawn for


def tokenizer_pickle(vocab_size: int) -> bytes:
    """A pickled tiktoken.Encoding of vocab_size tokens: the 256 bytes, then two-byte tokens, then
    nanochat's 9 specials (what nanochat's tokenizer.pkl is, with made-up merges)."""
    import tiktoken

    n = vocab_size - len(SPECIALS)
    ranks = {bytes([i]): i for i in range(256)}
    pairs = (bytes([a, b]) for a in range(256) for b in range(256))  # 65,536: enough for any vocabulary here
    while len(ranks) < n:
        ranks[next(pairs)] = len(ranks)
    specials = {name: n + i for i, name in enumerate(SPECIALS)}
    return pickle.dumps(tiktoken.Encoding("rustbpe", pat_str=KNOWN_PATTERNS[0], mergeable_ranks=ranks,
                                          special_tokens=specials))  # fmt: skip


def write_random_run(root: Path, config: NanochatConfig = D20, step: int = 1000, seed: int = 0) -> Path:
    """A nanochat base dir with one random model of `config` (era E's layout); returns its model file."""
    folder = root / "base_checkpoints" / f"d{config.n_layer}"
    folder.mkdir(parents=True, exist_ok=True)
    (root / "tokenizer").mkdir(exist_ok=True)
    (root / "tokenizer" / "tokenizer.pkl").write_bytes(tokenizer_pickle(config.vocab_size))
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in expected_shapes(config).items():
        if name.endswith("lambdas") or name in ("smear_lambda", "backout_lambda"):
            state[name] = torch.full(shape, 0.5)
        elif name == "smear_gate.weight":
            state[name] = torch.rand(1, SMEAR_CHANNELS, generator=generator) * 0.02
        else:
            tensor = torch.randn(shape, generator=generator) * shape[-1] ** -0.5
            embedding = name == "transformer.wte.weight" or name.startswith("value_embeds.")
            state[name] = tensor.bfloat16() if embedding else tensor  # a GPU run's embeddings are bf16
    path = folder / f"model_{step:06d}.pt"
    torch.save(state, path)
    del state
    meta = {"step": step, "val_bpb": 0.8, "model_config": {k: getattr(config, k) for k in (
        "sequence_len", "vocab_size", "n_layer", "n_head", "n_kv_head", "n_embd", "window_pattern")},
        "user_config": {"depth": config.n_layer}}  # fmt: skip
    (folder / f"meta_{step:06d}.json").write_text(json.dumps(meta))
    return path


def _rss() -> int:
    from .bench import max_rss_bytes

    return max_rss_bytes()


@torch.no_grad()
def measure_open(root: str, tokens: int = MAP_TOKENS) -> dict:
    """In a fresh process: open the run by path, then capture every head's map of a `tokens` prompt as
    the Attention page does (q, k, scores, patterns)."""
    from .capture import run_with_cache
    from .nanochat_run import load_nanochat

    start = time.perf_counter()
    ckpt = load_nanochat(root)
    opened = time.perf_counter() - start
    loaded = _rss()
    ids = torch.randint(0, len(ckpt.tokenizer.mergeable_ranks), (1, min(tokens, ckpt.model.config.block_size)))
    ids[0, 0] = ckpt.tokenizer.special_tokens[BOS]
    start = time.perf_counter()
    _, cache = run_with_cache(ckpt.model, ids, r"blocks\.\d+\.attn\.hook_(q|k|scores|pattern)")
    first_map = time.perf_counter() - start
    cfg = ckpt.model.config
    return dict(n_params=ckpt.model.num_params(), opened_s=opened, first_map_s=first_map, loaded=loaded, peak=_rss(),
                cache_bytes=cache.nbytes(), T=ids.shape[1], context=cfg.context, sequence_len=cfg.sequence_len,
                threads=torch.get_num_threads())  # fmt: skip


def bench_nanochat_size(opts) -> list[str]:
    """(nanochat) a d20-shaped run (896M parameters at HEAD) opened by path: memory and first map."""
    config = SMALL if opts.quick else D20
    with tempfile.TemporaryDirectory(prefix="nanochat-bench-") as tmp:
        start = time.perf_counter()
        model_file = write_random_run(Path(tmp), config)
        written = time.perf_counter() - start
        size = model_file.stat().st_size
        m = in_fresh_process(measure_open, tmp)
    gb = 1e9
    return [
        f"d{config.n_layer} run ({m['n_params']:,} parameters; model_*.pt {size / gb:.2f} GB with bf16 embeddings, "
        f"written in {written:.0f}s)",
        f"opened by path in {m['opened_s']:.1f}s, peak RSS {m['loaded'] / gb:.2f} GB; "
        + (
            f"prompts cut to {m['context']:,} of its {m['sequence_len']:,} tokens by the command line's activation "
            "limit"
            if m["context"] < m["sequence_len"]
            else f"its whole context of {m['context']:,} tokens fits the command line's activation limit"
        ),  # fmt: skip
        f"first attention map (every head, T={m['T']}) in {m['first_map_s']:.1f}s on {m['threads']} threads, "
        f"capture {m['cache_bytes'] / gb:.2f} GB, peak RSS {m['peak'] / gb:.2f} GB   (no target)",
    ]
