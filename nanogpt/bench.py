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
import os
import resource
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import torch

from .capture import run_with_cache
from .config import GPTConfig, make_train_config
from .generate import generate
from .model import GPT, build_model
from .train import autocast_for, cpu_has_native_bf16, make_optimizer, resolve_dtype

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


def in_fresh_process(fn: Callable, *args):
    """fn(*args) in a new Python process (spawned: none of this one's memory, threads or oneDNN state);
    its result, or its exception raised here. The child imports fn by its module and never runs this
    process's __main__: after a Streamlit script run (the app's bench, a test's AppTest) __main__ is
    that page's script, which spawn would run again in the child, and a multiprocessing.Pool whose child
    dies that way starts another forever (a CI run hung on it)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        main, sys.modules["__main__"] = sys.modules["__main__"], types.ModuleType("__main__")
        try:
            future = pool.submit(fn, *args)  # the child starts here, told of the blank __main__
        finally:
            sys.modules["__main__"] = main
        return future.result()


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
    m = in_fresh_process(measure_capture_memory, opts.ckpt, opts.quick)
    mb = 1e6
    return [
        f"one full capture at T={m['T']} keeps {m['cache_bytes'] / mb:.1f} MB of tensors alive "
        f"({m['n_points']} hook points; scores + patterns {m['map_bytes'] / mb:.1f} MB)",
        f"peak RSS of a fresh process: model loaded {m['loaded'] / mb:.0f} MB, "
        f"+{(m['fast'] - m['loaded']) / mb:.1f} MB after fast forwards, "
        f"+{(m['capture'] - m['fast']) / mb:.1f} MB more for the full capture   (no target)",
    ]


# what oneDNN is held to when the bench plays a CPU without native bf16 (AVX512 without its BF16 part)
NO_NATIVE_BF16_ISA = "AVX512_CORE"


def train_sizes(quick: bool) -> list[tuple[str, dict]]:
    """(name, make_train_config overrides) of the sizes the step times are measured at."""
    if quick:
        return [("quick", dict(n_layer=2, n_head=2, n_embd=64, block_size=64, batch_size=8))]
    return [("lecture", dict(preset="lecture")), ("baby (the app's Train default)", dict(preset="baby"))]


def step_times(overrides: dict, repeats: int) -> dict[str, float]:
    """Median seconds of one optimiser step (forward, backward, AdamW) in float32 and in bfloat16 autocast,
    on the same model and batch, the two dtypes interleaved."""
    overrides = dict(overrides)
    cfg = make_train_config(overrides.pop("preset", None), **overrides)
    cfg.model.vocab_size = 65
    torch.manual_seed(0)
    model = build_model(cfg.model)
    optimizer = make_optimizer(model, cfg)
    x = torch.randint(65, (cfg.batch_size, cfg.model.block_size))  # (B, T)

    def step(dtype: str):
        with autocast_for("cpu", dtype):
            _, loss = model(x, x)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    fp32, bf16 = timings([lambda: step("float32"), lambda: step("bfloat16")], repeats)
    return {"float32": fp32, "bfloat16": bf16}


def step_times_without_native_bf16(overrides: dict, repeats: int) -> dict[str, float]:
    """step_times in a fresh process whose oneDNN may not use the CPU's bf16 instructions."""
    before = os.environ.get("ONEDNN_MAX_CPU_ISA")
    os.environ["ONEDNN_MAX_CPU_ISA"] = NO_NATIVE_BF16_ISA  # read once, when the child's oneDNN starts
    try:
        return in_fresh_process(_emulated_step_times, overrides, repeats, torch.get_num_threads())
    finally:
        os.environ.pop("ONEDNN_MAX_CPU_ISA") if before is None else os.environ.update(ONEDNN_MAX_CPU_ISA=before)


def _emulated_step_times(overrides: dict, repeats: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    return step_times(overrides, repeats) | {"auto": resolve_dtype("auto", "cpu")}


def loss_curves_agree(overrides: dict, steps: int) -> tuple[float, float]:
    """Train one config (make_train_config overrides) from one seed on the same batches in float32 and in
    bfloat16; the largest difference of their evaluated val losses and of their 50-step mean train losses."""
    from .train import train

    overrides = dict(overrides)
    preset = overrides.pop("preset", None)
    curves = {}
    with tempfile.TemporaryDirectory() as folder:
        for dtype in ("float32", "bfloat16"):
            cfg = make_train_config(preset, max_iters=steps, eval_interval=50, eval_iters=10, dtype=dtype,
                                    out=f"{folder}/{dtype}.safetensors", **overrides)  # fmt: skip
            losses = []
            result = train(cfg, on_step=lambda e, into=losses: into.append(e.loss), progress=False, log=lambda m: 0)
            train_losses = [v for v in losses if v is not None]
            means = [statistics.fmean(train_losses[i : i + 50]) for i in range(0, len(train_losses), 50)]
            curves[dtype] = ([h["val"] for h in result.history], means)
    (val32, mean32), (val16, mean16) = curves["float32"], curves["bfloat16"]
    val_gap = max(abs(a - b) for a, b in zip(val32, val16, strict=True))
    train_gap = max(abs(a - b) for a, b in zip(mean32, mean16, strict=True))
    return val_gap, train_gap


def bench_train_dtype(opts: BenchOptions) -> list[str]:
    """(d) a training step in bf16 autocast vs float32 on this CPU, with and without its native bf16,
    and whether the two dtypes train alike."""
    repeats = 2 if opts.quick else 3
    native = "native bf16 (AVX512-BF16/AMX)" if cpu_has_native_bf16() else "no native bf16"
    lines = [f"this CPU: {native}; --dtype auto picks {resolve_dtype('auto', 'cpu')} here"]
    sizes = train_sizes(opts.quick)
    for name, overrides in sizes:
        t = step_times(overrides, repeats)
        lines.append(f"{name}: step {t['float32'] * 1e3:.0f} ms fp32, {t['bfloat16'] * 1e3:.0f} ms bf16 -> "
                     f"bf16 / fp32 = {t['bfloat16'] / t['float32']:.2f}x (median of {repeats})")  # fmt: skip
    name, overrides = sizes[-1]
    t = step_times_without_native_bf16(overrides, repeats)
    lines.append(f"{name}, oneDNN held to {NO_NATIVE_BF16_ISA} (a CPU without native bf16): bf16 / fp32 = "
                 f"{t['bfloat16'] / t['float32']:.2f}x; --dtype auto picks {t['auto']} there")  # fmt: skip
    steps = 40 if opts.quick else 300  # quick: the small config, which trains in seconds (baby's bf16 took 40 s)
    val_gap, train_gap = loss_curves_agree(overrides, steps)
    lines.append(f"{name} config, {steps} steps from one seed: bf16 and fp32 val losses differ by at most "
                 f"{val_gap:.4f}, 50-step mean train losses by {train_gap:.4f}   (target about 0.02)")  # fmt: skip
    return lines


SECTIONS: list[Section] = [
    ("capture", bench_capture),
    ("generate", bench_generate),
    ("memory", bench_memory),
    ("train_dtype", bench_train_dtype),
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
