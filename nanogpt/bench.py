"""python -m nanogpt bench: the performance targets of design.md, each a ratio measured in one run.

A benchmark section is a pair (name, fn): fn(opts) takes the run's BenchOptions (--quick, --ckpt,
--repeats) and returns the lines to print. Add a section by appending to SECTIONS. Code built on
this library (the app's benchmarks) runs these sections beside its own through the same
run_benchmarks and options (add_arguments / options_from); the library imports none of it.

Timings are medians of several repeats, fast and slow variants interleaved, so a busy machine
slows both sides of a ratio alike.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch

from .capture import run_with_cache
from .config import GPTConfig
from .generate import generate
from .model import GPT

LECTURE = GPTConfig(dropout=0.0)  # 6 layers x 6 heads x 384 wide, block 256: the lecture's model
QUICK = GPTConfig(n_layer=2, n_head=2, n_embd=64, block_size=64, dropout=0.0)  # a smoke run in seconds

CAPTURE_TARGET = 1.5  # full-capture forward / fast forward, at most
KV_CACHE_TARGET = 5.0  # KV-cache generation / no-cache loop, tokens per second, at least


@dataclass
class BenchOptions:
    quick: bool = False  # smaller model and fewer repeats: checks that every section runs
    ckpt: str | None = None  # measure this checkpoint's model instead of a random lecture-size one
    repeats: int | None = None  # timing repeats; default 7, or 3 with quick

    @property
    def n_repeats(self) -> int:
        return self.repeats or (3 if self.quick else 7)

    @cached_property
    def model(self):
        return bench_model(self.ckpt, self.quick)

    def describe(self) -> str:
        c = self.model.config
        origin = self.ckpt or ("random init, quick" if self.quick else "random init")
        return f"{c.n_layer} layers x {c.n_head} heads x {c.n_embd} wide, block {c.block_size} ({origin})"


Section = tuple[str, Callable[[BenchOptions], list[str]]]


def bench_model(ckpt: str | None, quick: bool):
    """The model a run measures, on CPU in eval mode; the same weights in every process."""
    if ckpt is not None:
        from .checkpoint import load_checkpoint

        return load_checkpoint(ckpt, device="cpu").model
    torch.manual_seed(0)
    return GPT(QUICK if quick else LECTURE).eval()


def random_ids(model, n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(model.config.vocab_size, (n,), generator=torch.Generator().manual_seed(seed))


def timings(fns: list[Callable[[], object]], repeats: int, warmup: bool = True) -> list[float]:
    """Median seconds per call of each fn, the fns called in turn within each repeat."""
    if warmup:
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - start)
    return [statistics.median(ts) for ts in times]


def target_line(label: str, value: float, target: float, at_most: bool, quick: bool = False) -> str:
    ok = value <= target if at_most else value >= target
    verdict = "(quick run: the target is for the full-size model)" if quick else "ok" if ok else "MISS"
    return f"{label} = {value:.2f}x   (target {'<=' if at_most else '>='} {target}x)  {verdict}"


@torch.no_grad()
def bench_capture(opts: BenchOptions) -> list[str]:
    """(a) forward with every hook point captured vs the fast (SDPA) forward, full block, batch 1."""
    model = opts.model
    T = model.config.block_size
    x = random_ids(model, T)[None]  # (1, T)
    fast, full = timings([lambda: model(x), lambda: run_with_cache(model, x)], opts.n_repeats)
    n = len(run_with_cache(model, x)[1])
    return [
        f"fast forward {fast * 1e3:.1f} ms, forward capturing all {n} hook points {full * 1e3:.1f} ms "
        f"(T={T}, batch 1, median of {opts.n_repeats})",
        target_line("full capture / fast forward", full / fast, CAPTURE_TARGET, at_most=True, quick=opts.quick),
    ]


def bench_generate(opts: BenchOptions) -> list[str]:
    """(b) KV-cache generate vs the no-cache loop, growing a short prompt to a full block on CPU."""
    model = opts.model
    block = model.config.block_size
    prompt = random_ids(model, max(1, block * 7 // 32))  # 56 characters for block 256
    new = block - len(prompt)
    cached = lambda: generate(model, prompt, new, seed=1)  # noqa: E731
    plain = lambda: generate(model, prompt, new, seed=1, use_cache=False)  # noqa: E731
    repeats = max(1, opts.n_repeats // 2)  # each call is already `new` forwards
    t_cached, t_plain = timings([cached, plain], repeats, warmup=False)
    same = "yes" if cached() == plain() else "NO"
    return [
        f"KV cache {new / t_cached:.0f} tok/s, no cache {new / t_plain:.0f} tok/s "
        f"({len(prompt)}-char prompt grown to {block}, CPU, median of {repeats}; same text: {same})",
        target_line("KV cache / no cache", t_plain / t_cached, KV_CACHE_TARGET, at_most=False, quick=opts.quick),
    ]


def max_rss_bytes() -> int:
    """This process's peak resident set so far: VmHWM on Linux, where ru_maxrss would start a
    spawned child at its parent's peak; ru_maxrss (bytes on macOS) elsewhere."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


@torch.no_grad()
def measure_capture_memory(ckpt: str | None, quick: bool) -> dict:
    """Peak RSS after loading the model, after fast forwards, after one full capture; cache bytes.

    Meant for a fresh process (bench_memory spawns one): ru_maxrss only ever grows, so earlier
    work in the same process would hide the capture's peak.
    """
    model = bench_model(ckpt, quick)
    x = random_ids(model, model.config.block_size)[None]  # (1, T)
    loaded = max_rss_bytes()
    for _ in range(2):
        model(x)
    fast = max_rss_bytes()
    _, cache = run_with_cache(model, x)
    maps = sum(t.nbytes for name, t in cache.items() if name.endswith(("hook_scores", "hook_pattern")))
    return dict(T=x.shape[1], n_points=len(cache), loaded=loaded, fast=fast, capture=max_rss_bytes(),
                cache_bytes=cache.nbytes(), map_bytes=maps)  # fmt: skip


def bench_memory(opts: BenchOptions) -> list[str]:
    """(c) peak memory of one full capture at the full block, in a fresh process."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        m = pool.apply(measure_capture_memory, (opts.ckpt, opts.quick))
    mb = 1e6
    return [
        f"one full capture at T={m['T']} keeps {m['cache_bytes'] / mb:.1f} MB of tensors alive "
        f"({m['n_points']} hook points; scores + patterns {m['map_bytes'] / mb:.1f} MB)",
        f"peak RSS of a fresh process: model loaded {m['loaded'] / mb:.0f} MB, "
        f"+{(m['fast'] - m['loaded']) / mb:.1f} MB after fast forwards, "
        f"+{(m['capture'] - m['fast']) / mb:.1f} MB more for the full capture   (no target)",
    ]


SECTIONS: list[Section] = [
    ("capture", bench_capture),
    ("generate", bench_generate),
    ("memory", bench_memory),
]


def run_benchmarks(opts: BenchOptions, sections: list[Section], only: list[str] | None = None) -> int:
    """Run the sections (those named in `only`, if given) and print their lines; 1 if one raised."""
    names = [name for name, _ in sections]
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise ValueError(f"unknown bench section(s) {', '.join(unknown)}; known: {', '.join(names)}")
    print(f"bench: torch {torch.__version__}, {torch.get_num_threads()} CPU threads; model: {opts.describe()}")
    failed = 0
    for name, fn in sections:
        if only and name not in only:
            continue
        start = time.perf_counter()
        try:
            lines = fn(opts)
        except Exception as e:  # one broken section must not hide the others' numbers
            print(f"[{name}] FAILED: {type(e).__name__}: {e}")
            failed += 1
            continue
        for line in lines:
            print(f"[{name}] {line}")
        print(f"[{name}] done in {time.perf_counter() - start:.1f}s")
    return 1 if failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every bench command takes (nanogpt's and the app's)."""
    parser.add_argument("--quick", action="store_true", help="a small model and few repeats: a fast smoke run")
    parser.add_argument("--only", action="append", help="run only this section (repeat, or comma-separate)")
    parser.add_argument("--ckpt", default=None, help="measure this checkpoint (default: a random lecture-size GPT)")
    parser.add_argument("--repeats", type=int, default=None, help="timing repeats (default 7, quick 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own choice)")


def options_from(args: argparse.Namespace) -> tuple[BenchOptions, list[str] | None]:
    """BenchOptions and the --only list from parsed arguments; applies --threads."""
    if args.threads:
        torch.set_num_threads(args.threads)
    only = [name.strip() for part in args.only or () for name in part.split(",") if name.strip()]
    return BenchOptions(quick=args.quick, ckpt=args.ckpt, repeats=args.repeats), only or None
