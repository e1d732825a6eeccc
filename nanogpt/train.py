"""Training: the lecture's loop (AdamW, periodic evaluation, best checkpoint) on one process, or on
many with torchrun and DistributedDataParallel.

`train(cfg, on_step=...)` is what the CLI and the app both call. Every `eval_interval` steps it
estimates train and val loss on random batches (the lecture's `estimate_loss`), prints the
lecture's line, saves the best checkpoint, and saves a resume state beside it so an interrupted
run continues where it stopped. `evaluate` is the deterministic number quoted in docs/models.md.

Under torchrun (WORLD_SIZE > 1) every rank runs this same function: DDP averages the gradients,
and rank 0 alone evaluates, prints and saves. An optimiser step is K = gradient_accumulation_steps
micro-batches on each of N ranks, and micro-batch j of rank r comes from its own seeded stream,
r * K + j. So one process with K = 2 computes exactly what two ranks with K = 1 compute, and the
global batch can be held fixed while N changes.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from .checkpoint import CheckpointError, load_checkpoint, load_resume_state, read_metadata, save_checkpoint, tied_names
from .config import TrainConfig
from .data import Splits, TextData, get_batch, load_text, random_starts, split, windows
from .model import GPT, BigramLM, build_model
from .timeline import SNAPSHOT_DTYPE, snapshot_path
from .tokenizer import CharTokenizer

EVAL_SEED = 1234  # estimate_loss draws the same batches at every evaluation


def pick_device(name: str = "auto") -> str:
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX). Without it, oneDNN emulates
    bf16 and autocast can be slower than float32. ONEDNN_MAX_CPU_ISA below AVX512_CORE_BF16 switches
    the native path off, so it counts as absent."""
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if isa and isa not in ("ALL", "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16",
                           "AVX10_1_512", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16"):  # fmt: skip
        return False
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux: no way to tell cheaply, so no
            return False
    flags = {word for line in cpuinfo.splitlines() if line.startswith("flags") for word in line.split()}
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def resolve_dtype(setting: str, device: str) -> str:
    """The dtype a run computes in: "auto" is bfloat16 on CUDA and on CPUs with native bf16, else float32."""
    if setting != "auto":
        return setting
    if device.startswith("cuda") or (device == "cpu" and cpu_has_native_bf16()):
        return "bfloat16"
    return "float32"


def autocast_for(device: str, dtype: str = "float32"):
    """bf16 autocast for a run that computes in bfloat16 (on CUDA or CPU); full precision otherwise."""
    if dtype == "bfloat16" and device.split(":")[0] in ("cuda", "cpu"):
        return torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16)
    return contextlib.nullcontext()


def resume_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name.removesuffix(".safetensors") + ".resume.safetensors")


@torch.no_grad()
def estimate_loss(
    model, splits: Splits, batch_size: int, block_size: int, eval_iters: int, device: str = "cpu",
    dtype: str = "float32",
) -> dict:  # fmt: skip
    """Mean loss over `eval_iters` random batches of each split (the lecture's estimate)."""
    was_training = model.training
    model.eval()
    out = {}
    for name in ("train", "val"):
        generator = torch.Generator().manual_seed(EVAL_SEED)
        losses = torch.zeros(eval_iters)
        for i in range(eval_iters):
            x, y = get_batch(getattr(splits, name), batch_size, block_size, generator)
            with autocast_for(device, dtype):
                _, loss = model(x.to(device), y.to(device))
            losses[i] = loss.item()
        out[name] = losses.mean().item()
    model.train(was_training)
    return out


@torch.no_grad()
def evaluate(model, tokens: torch.Tensor, block_size: int, batch_size: int = 32, device: str | None = None) -> float:
    """Mean next-character loss over the whole split, in fixed non-overlapping windows.

    Every character after the first is predicted exactly once, so the number is deterministic.
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    n_windows = max(1, math.ceil((len(tokens) - 1) / block_size))
    total, count = 0.0, 0
    for start in range(0, n_windows, batch_size):
        xs, ys = [], []
        for w in range(start, min(start + batch_size, n_windows)):
            chunk = tokens[w * block_size : (w + 1) * block_size + 1]
            xs.append(chunk[:-1])
            ys.append(chunk[1:])
        # the last window may be short: run it on its own rather than pad
        groups = [(xs, ys)] if len({len(x) for x in xs}) == 1 else [([x], [y]) for x, y in zip(xs, ys, strict=True)]
        for gx, gy in groups:
            x = torch.stack(gx).to(device)  # (b, T)
            y = torch.stack(gy).to(device)  # (b, T)
            logits, _ = model(x)
            loss = torch.nn.functional.cross_entropy(
                logits.float().view(-1, logits.size(-1)), y.view(-1), reduction="sum"
            )
            total += loss.item()
            count += y.numel()
    model.train(was_training)
    return total / count


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Constant, or linear warmup then cosine decay to min_lr (nanoGPT's get_lr)."""
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate
    if step < cfg.warmup_iters:
        return cfg.learning_rate * (step + 1) / (cfg.warmup_iters + 1)
    progress = (step - cfg.warmup_iters) / max(1, cfg.max_iters - cfg.warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return cfg.min_lr + coeff * (cfg.learning_rate - cfg.min_lr)


def make_optimizer(model, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices and embeddings only, never on biases or LayerNorm gains."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2))


def checkpoint_meta(
    cfg: TrainConfig, source: TextData, *, step: int, history: list[dict], best_val: float, best_step: int,
    device: str, wall_time: float, **extra,
) -> dict:  # fmt: skip
    """The metadata of a checkpoint a training run saves (the CLI's and the app's alike)."""
    return dict(
        train_config=cfg.to_dict(),
        data={"name": source.name, "sha256": source.sha256},
        step=step,
        history=history,
        best_val_loss=best_val,
        best_step=best_step,
        seed=cfg.seed,
        device=device,
        torch_version=torch.__version__,
        wall_time=wall_time,
        **extra,
    )


# --- distributed: which process this is, and its micro-batches ----------------------------------


@dataclass(frozen=True)
class Ranks:
    """This process's place in a torchrun job (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


class RankLostError(RuntimeError):
    """Another training process died or stopped answering; this one stopped too."""


def ranks_from_env() -> Ranks:
    """torchrun's RANK / WORLD_SIZE / LOCAL_RANK, or a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    return Ranks(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def stream_seed(seed: int, stream: int) -> int:
    """Micro-batch stream `stream`'s seed; stream 0 keeps the run's seed, as a single process always had."""
    return seed + 1_000_003 * stream


class BatchStreams:
    """One seeded generator per micro-batch of an optimiser step, for every rank.

    Each process advances every stream at every step (drawing offsets is cheap) and builds only
    its own micro-batches, so rank 0's resume state holds every rank's streams and a run can
    resume with another number of processes.
    """

    def __init__(self, seed: int, n_streams: int):
        self.generators = [torch.Generator().manual_seed(stream_seed(seed, s)) for s in range(n_streams)]

    def next(self, tokens: torch.Tensor, batch_size: int, block_size: int, mine: range) -> list:
        """This step's (x, y) micro-batches of the streams in `mine`, each (B, T)."""
        starts = [random_starts(len(tokens), batch_size, block_size, g) for g in self.generators]
        return [windows(tokens, starts[s], block_size) for s in mine]

    def state(self) -> dict[str, torch.Tensor]:
        return {f"state.batch_rng.{s}": g.get_state() for s, g in enumerate(self.generators)}

    def restore(self, tensors: dict[str, torch.Tensor]) -> int:
        """Restore the streams a resume state holds; returns how many (older files hold stream 0 alone)."""
        saved = {0: tensors["state.batch_rng"]} if "state.batch_rng" in tensors else {}
        saved |= {int(k.rsplit(".", 1)[1]): v for k, v in tensors.items() if k.startswith("state.batch_rng.")}
        for s, state in saved.items():
            if s < len(self.generators):
                self.generators[s].set_state(state)
        return len(saved)


@contextlib.contextmanager
def process_group(ranks: Ranks, device: str, timeout_s: float):
    """Join torchrun's process group for the duration of a run (NCCL on CUDA, gloo on CPU)."""
    if not ranks.distributed or dist.is_initialized():
        yield
        return
    if device.startswith("cuda"):
        torch.cuda.set_device(ranks.local_rank)
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo", timeout=timedelta(seconds=timeout_s))
    try:
        yield
        # every rank done (rank 0's last save included) before any tears its connections down: a rank that left
        # early aborted at exit under load ("terminate called without an active exception", exit -6) with gloo's
        # work still in flight. Only after a run that ended well: a barrier after a failure waits for the dead
        dist.barrier()
    finally:
        dist.destroy_process_group()


@contextlib.contextmanager
def others_alive(ranks: Ranks):
    """Turn a collective that failed because another rank died (or timed out) into one clear error.

    torchrun stops the surviving processes of a node with SIGTERM when one of them fails; that
    becomes the same error, so every rank says why it stopped instead of vanishing.
    """
    if not ranks.distributed:
        yield
        return

    def stopped_by_torchrun(signum, frame):
        raise RankLostError(
            f"rank {ranks.rank} was stopped by torchrun because another process of this run failed (see torchrun's "
            "report for which). Rerun the same command with --resume to continue from the last saved state."
        )

    previous = signal.signal(signal.SIGTERM, stopped_by_torchrun)
    try:
        yield
    except RuntimeError as e:
        words = ("gloo", "nccl", "connection", "timed out", "timeout", "peer")
        if isinstance(e, RankLostError) or not (
            isinstance(e, dist.DistError) or any(w in str(e).lower() for w in words)
        ):
            raise  # this rank's own failure: its own message
        raise RankLostError(
            f"rank {ranks.rank} lost contact with the other training processes ({type(e).__name__}: "
            f"{str(e).strip().splitlines()[0][:200]}); another rank died or stopped answering, so this one stopped "
            "too. Rerun the same command with --resume to continue from the last saved state."
        ) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- the run ------------------------------------------------------------------------------------


@dataclass
class TrainEvent:
    """What `on_step` receives after the first evaluation (step 0) and after every optimiser step.
    Return True from on_step to stop."""

    step: int  # optimiser steps done
    max_iters: int
    loss: float | None  # this step's batch loss (None at step 0, before any training)
    lr: float
    elapsed: float  # seconds of training so far (across resumes)
    eval: dict | None  # {"step", "train", "val"} when this step evaluated
    model: GPT | BigramLM
    tokenizer: CharTokenizer


@dataclass
class TrainResult:
    model: GPT | BigramLM  # the weights at the last step (the best are in the checkpoint)
    tokenizer: CharTokenizer
    config: TrainConfig
    history: list[dict] = field(default_factory=list)  # one {"step", "train", "val", "time"} per eval
    best_val: float = float("inf")
    best_step: int = -1
    steps: int = 0
    wall_time: float = 0.0
    checkpoint: Path | None = None
    stopped: bool = False  # stopped early by on_step (or Ctrl-C)
    early_stopped: bool = False  # stopped by `patience`
    tokens_per_step: int = 0  # the global batch: batch_size x block_size x accumulation x ranks


def _optimizer_tensors(opt: torch.optim.AdamW) -> dict[str, torch.Tensor]:
    state = opt.state_dict()["state"]
    return {f"optim.{i}.{k}": v.reshape(-1) if k == "step" else v for i, s in state.items() for k, v in s.items()}


def _restore_optimizer(opt: torch.optim.AdamW, tensors: dict[str, torch.Tensor]):
    state_dict = opt.state_dict()
    for name, t in tensors.items():
        if name.startswith("optim."):
            _, i, k = name.split(".", 2)
            state_dict["state"].setdefault(int(i), {})[k] = t.reshape(()) if k == "step" else t
    opt.load_state_dict(state_dict)


def resume_meta_step(path: Path) -> int | None:
    try:
        return read_metadata(path)["step"]
    except CheckpointError:
        return None


class _Run:
    """One training run's state between steps: the model, its optimiser and batch streams, and
    what has been measured and saved. Only rank 0 saves and evaluates."""

    def __init__(self, cfg: TrainConfig, splits: Splits, ranks: Ranks, log: Callable[[str], None]):
        self.cfg, self.splits, self.ranks, self.log = cfg, splits, ranks, log
        device = pick_device(cfg.device)
        self.device = f"cuda:{ranks.local_rank}" if ranks.distributed and device == "cuda" else device
        self.dtype = resolve_dtype(cfg.dtype, device)
        self.out = Path(cfg.out)
        self.state_path = resume_path(self.out)
        torch.manual_seed(cfg.seed)  # every rank builds the same initial weights
        cfg.model.vocab_size = splits.tokenizer.vocab_size
        self.model = build_model(cfg.model).to(self.device)
        if cfg.init_from:
            self.start_from(cfg.init_from)
        if ranks.rank:
            torch.manual_seed(cfg.seed + ranks.rank)  # but draws its own dropout masks
        self.optimizer = make_optimizer(self.model, cfg)
        K = cfg.gradient_accumulation_steps
        self.streams = BatchStreams(cfg.seed, K * ranks.world_size)
        self.mine = range(ranks.rank * K, (ranks.rank + 1) * K)
        global_batch = cfg.batch_size * cfg.model.block_size * K * ranks.world_size  # tokens per optimiser step
        self.result = TrainResult(self.model, splits.tokenizer, cfg, tokens_per_step=global_batch)
        self.start_step, self.elapsed_before, self.t0 = 0, 0.0, time.perf_counter()
        forward = torch.compile(self.model) if cfg.compile else self.model
        if ranks.distributed:
            ids = [ranks.local_rank] if self.device.startswith("cuda") else None
            forward = torch.nn.parallel.DistributedDataParallel(forward, device_ids=ids)
        self.forward = forward

    def check_vocabulary(self, chars: list[str], what: str) -> None:
        if chars != self.splits.tokenizer.chars:
            raise CheckpointError(f"{what} was trained on text with another vocabulary than {self.cfg.data}")

    def start_from(self, path: str) -> None:
        """The weights of the checkpoint at `path`; it must be this run's model and vocabulary."""
        parent = load_checkpoint(path, device=self.device)
        self.check_vocabulary(parent.tokenizer.chars, f"--init_from {path}")
        mine, theirs = asdict(self.cfg.model), asdict(parent.model.config)
        differ = [f"{k} {theirs[k]} there, {mine[k]} here" for k in mine if k != "dropout" and mine[k] != theirs[k]]
        if differ:
            raise CheckpointError(
                f"--init_from {path} is another model than this run's: {'; '.join(differ)}. "
                "Give the run the checkpoint's architecture (its preset, or --n_layer and the rest)."
            )
        self.model.load_state_dict(parent.model.state_dict())  # copied into this run's float32 parameters
        self.log(f"starting from the weights of {path} (its step {parent.meta.get('step')})")

    def resume(self) -> None:
        if not self.state_path.exists():
            raise CheckpointError(f"nothing to resume: no resume state at {self.state_path}")
        tensors, meta = load_resume_state(self.state_path, self.model, self.optimizer)
        self.check_vocabulary(meta["vocab"], str(self.state_path))
        weights = {k: v for k, v in tensors.items() if not k.startswith(("optim.", "state."))}
        for name, original in tied_names(self.model.config).items():  # saved once: the same Parameter
            weights[name] = weights[original]
        self.model.load_state_dict(weights)
        _restore_optimizer(self.optimizer, tensors)
        restored = self.streams.restore(tensors)
        if restored != len(self.streams.generators):
            self.log(f"the resume state holds {restored} batch streams and this run draws "
                     f"{len(self.streams.generators)}: the batches differ from an uninterrupted run")  # fmt: skip
        torch.set_rng_state(tensors["state.torch_rng"])
        self.start_step, self.elapsed_before = meta["step"], meta["wall_time"]
        r = self.result
        r.history, r.best_val, r.best_step = meta["history"], meta["best_val_loss"], meta["best_step"]
        self.log(f"resuming from step {self.start_step} ({self.state_path})")

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.t0

    def meta(self, step: int, **extra) -> dict:
        r = self.result
        return checkpoint_meta(self.cfg, self.splits.source, step=step, history=r.history, best_val=r.best_val,
                               best_step=r.best_step, device=self.device, wall_time=self.elapsed(),
                               compute_dtype=self.dtype, **extra)  # fmt: skip

    def evaluate(self, step: int) -> dict:
        """Estimate the losses, print the lecture's line, keep the checkpoint if it is the best (rank 0)."""
        cfg = self.cfg
        losses = estimate_loss(self.model, self.splits, cfg.batch_size, cfg.model.block_size, cfg.eval_iters,
                               self.device, self.dtype)  # fmt: skip
        record = {"step": step, "train": losses["train"], "val": losses["val"], "time": round(self.elapsed(), 2)}
        self.result.history.append(record)
        self.log(f"step {step}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
        if losses["val"] < self.result.best_val:
            self.result.best_val, self.result.best_step = losses["val"], step
            self.result.checkpoint = save_checkpoint(self.out, self.model, self.splits.tokenizer, self.meta(step),
                                                     dtype=cfg.save_dtype)  # fmt: skip
        return record

    def save_snapshot(self, step: int, record: dict | None) -> None:
        """The model as it is at `step`, for the timeline; evaluated here if this step was not."""
        if record is None:
            cfg = self.cfg
            record = estimate_loss(self.model, self.splits, cfg.batch_size, cfg.model.block_size, cfg.eval_iters,
                                   self.device, self.dtype)  # fmt: skip
        meta = self.meta(step, losses={"train": record["train"], "val": record["val"]})
        save_checkpoint(snapshot_path(self.out, step), self.model, self.splits.tokenizer, meta, dtype=SNAPSHOT_DTYPE)

    def save_resume_state(self, step: int) -> None:
        extra = _optimizer_tensors(self.optimizer) | self.streams.state()
        extra["state.torch_rng"] = torch.get_rng_state()
        save_checkpoint(self.state_path, self.model, self.splits.tokenizer, self.meta(step), extra_tensors=extra)

    def step(self, step: int) -> float:
        """One optimiser step over this rank's K micro-batches; the mean loss over every rank's."""
        cfg, K = self.cfg, self.cfg.gradient_accumulation_steps
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        micro = self.streams.next(self.splits.train, cfg.batch_size, cfg.model.block_size, self.mine)
        total = torch.zeros((), device=self.device)
        for j, (x, y) in enumerate(micro):
            # DDP averages gradients over ranks on the last micro-batch's backward only
            last = j == K - 1
            sync = contextlib.nullcontext() if last or not self.ranks.distributed else self.forward.no_sync()
            with sync:
                with autocast_for(self.device, self.dtype):
                    _, loss = self.forward(x.to(self.device), y.to(self.device))
                (loss / K).backward()  # gradients add up over micro-batches: divide for their mean
            total += loss.detach()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ranks.distributed:
            dist.all_reduce(total)
        return total.item() / (K * self.ranks.world_size)

    def all_agree_to_stop(self, stop: bool) -> bool:
        """Rank 0's decision, for every rank (early stopping and on_step are decided where the losses are)."""
        if not self.ranks.distributed:
            return stop
        flag = torch.tensor([float(stop)], device=self.device)
        dist.broadcast(flag, src=0)
        return bool(flag.item())


def train(
    cfg: TrainConfig,
    on_step: Callable[[TrainEvent], bool | None] | None = None,
    *,
    resume: bool = False,
    splits: Splits | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train `cfg.model` on `cfg.data`; save the best checkpoint to `cfg.out` as it goes.

    Under torchrun every rank calls this; on_step, printing and saving happen on rank 0.
    """
    ranks = ranks_from_env()
    say = log or (lambda msg: tqdm.write(msg))
    log = say if ranks.main else (lambda msg: None)
    if splits is None:
        splits = split(load_text(cfg.data), cfg.model.block_size)
    with process_group(ranks, pick_device(cfg.device), cfg.ddp_timeout), others_alive(ranks):
        run = _Run(cfg, splits, ranks, log)
        if resume:
            run.resume()
        return _loop(run, on_step if ranks.main else None, progress and ranks.main)


@contextlib.contextmanager
def stop_requests(enabled: bool):
    """A first Ctrl-C (or SIGTERM) asks the run to stop after the step it is in, so the resume state
    is that step's; a second one interrupts at once. Yields a list that is non-empty once asked."""
    asked: list[int] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield asked
        return

    def ask(signum, frame):
        if asked:
            raise KeyboardInterrupt
        asked.append(signum)
        tqdm.write("stopping after this step (press Ctrl-C again to stop at once)")

    previous = {sig: signal.signal(sig, ask) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield asked
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _loop(run: _Run, on_step, progress: bool) -> TrainResult:
    with stop_requests(not run.ranks.distributed) as asked:
        return _steps(run, on_step, progress, asked)


def _steps(run: _Run, on_step, progress: bool, asked: list) -> TrainResult:
    cfg, result, main = run.cfg, run.result, run.ranks.main
    step = run.start_step
    consistent = True  # False while the optimiser is mid-update: not a state worth saving
    bar = tqdm(total=cfg.max_iters, initial=step, disable=not progress, desc="train", unit="step")

    def report(loss: float | None, record: dict | None) -> bool:
        """Hand the step to on_step, with the learning rate it trained at; True when it asks to stop."""
        if on_step is None:
            return False
        event = TrainEvent(step, cfg.max_iters, loss, lr_at(max(step - 1, 0), cfg), run.elapsed(), record,
                           run.model, run.splits.tokenizer)  # fmt: skip
        return bool(on_step(event))

    try:
        if step == 0 and not result.history:
            stop = False
            if main:
                record = run.evaluate(0)
                if 0 in cfg.snapshot_steps:
                    run.save_snapshot(0, record)
                stop = report(None, record)
            result.stopped = run.all_agree_to_stop(stop)
        while step < cfg.max_iters and not result.stopped:
            consistent = False
            loss = run.step(step)
            step += 1
            consistent = True
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
            if cfg.log_interval and step % cfg.log_interval == 0:
                run.log(f"iter {step}: loss {loss:.6f}")
            record, stop = None, False
            if main and (step % cfg.eval_interval == 0 or step == cfg.max_iters):
                record = run.evaluate(step)
                run.save_resume_state(step)
                # early stopping: the best checkpoint is on disk, and val only gets worse from here
                since_best = sum(1 for h in result.history if h["step"] > result.best_step)
                if cfg.patience and since_best >= cfg.patience:
                    run.log(f"val loss has not improved for {since_best} evaluations: stopping at step {step}")
                    result.early_stopped = stop = True
            if main and step in cfg.snapshot_steps:
                run.save_snapshot(step, record)
            if main and (report(loss, record) or asked):
                result.stopped = stop = True
                if record is None:
                    run.save_resume_state(step)
                if asked:
                    run.log(f"stopped at step {step}; run again with --resume to continue from it")
            if run.all_agree_to_stop(stop):
                break
    except KeyboardInterrupt:
        if consistent and main:
            run.save_resume_state(step)
        saved = resume_meta_step(run.state_path)
        run.log(f"interrupted at step {step}; run again with --resume to continue from step {saved}")
        result.stopped = True
    finally:
        bar.close()
    run.model.eval()
    result.steps = step
    result.wall_time = run.elapsed()
    return result
