"""Training: the lecture's loop (AdamW, periodic evaluation, best checkpoint), callable from code.

`train(cfg, on_step=...)` is what the CLI and the app both call. Every `eval_interval` steps it
estimates train and val loss on random batches (the lecture's `estimate_loss`), prints the
lecture's line, saves the best checkpoint, and saves a resume state beside it so an interrupted
run continues where it stopped. `evaluate` is the deterministic number quoted in the README.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .checkpoint import CheckpointError, load_tensors, read_metadata, save_checkpoint
from .config import TrainConfig
from .data import Splits, get_batch, load_text, split
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


def autocast_for(device: str):
    """bf16 autocast on CUDA; full precision elsewhere."""
    if device.startswith("cuda"):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def resume_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name.removesuffix(".safetensors") + ".resume.safetensors")


@torch.no_grad()
def estimate_loss(
    model, splits: Splits, batch_size: int, block_size: int, eval_iters: int, device: str = "cpu"
) -> dict:
    """Mean loss over `eval_iters` random batches of each split (the lecture's estimate)."""
    was_training = model.training
    model.eval()
    out = {}
    for name in ("train", "val"):
        generator = torch.Generator().manual_seed(EVAL_SEED)
        losses = torch.zeros(eval_iters)
        for i in range(eval_iters):
            x, y = get_batch(getattr(splits, name), batch_size, block_size, generator)
            with autocast_for(device):
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


@dataclass
class TrainEvent:
    """What `on_step` receives after every optimiser step. Return True from on_step to stop."""

    step: int  # optimiser steps done
    max_iters: int
    loss: float  # this step's batch loss
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
    stopped: bool = False  # stopped early by on_step
    early_stopped: bool = False  # stopped by `patience`


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


def train(
    cfg: TrainConfig,
    on_step: Callable[[TrainEvent], bool | None] | None = None,
    *,
    resume: bool = False,
    splits: Splits | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train `cfg.model` on `cfg.data`; save the best checkpoint to `cfg.out` as it goes."""
    log = log or (lambda msg: tqdm.write(msg))
    device = pick_device(cfg.device)
    out = Path(cfg.out)
    state_path = resume_path(out)
    block_size = cfg.model.block_size
    if splits is None:
        splits = split(load_text(cfg.data), block_size)

    resume_tensors, resume_meta = None, None
    if resume:
        if not state_path.exists():
            raise CheckpointError(f"nothing to resume: no resume state at {state_path}")
        resume_tensors, resume_meta = load_tensors(state_path)
        if resume_meta["vocab"] != splits.tokenizer.chars:
            raise CheckpointError(f"{state_path} was trained on text with another vocabulary than {cfg.data}")
        splits.tokenizer = CharTokenizer(resume_meta["vocab"])

    torch.manual_seed(cfg.seed)
    model_cfg = cfg.model
    model_cfg.vocab_size = splits.tokenizer.vocab_size
    model = build_model(model_cfg).to(device)
    optimizer = make_optimizer(model, cfg)
    batch_gen = torch.Generator().manual_seed(cfg.seed)
    result = TrainResult(model=model, tokenizer=splits.tokenizer, config=cfg)
    start_step, elapsed_before = 0, 0.0
    if resume_tensors is not None:
        weights = {k: v for k, v in resume_tensors.items() if not k.startswith(("optim.", "state."))}
        model.load_state_dict(weights)
        _restore_optimizer(optimizer, resume_tensors)
        batch_gen.set_state(resume_tensors["state.batch_rng"])
        torch.set_rng_state(resume_tensors["state.torch_rng"])
        start_step = resume_meta["step"]
        elapsed_before = resume_meta["wall_time"]
        result.history = resume_meta["history"]
        result.best_val = resume_meta["best_val_loss"]
        result.best_step = resume_meta["best_step"]
        log(f"resuming from step {start_step} ({state_path})")
    forward = torch.compile(model) if cfg.compile else model

    def meta(step: int) -> dict:
        return dict(
            train_config=cfg.to_dict(),
            data={"name": splits.source.name, "sha256": splits.source.sha256},
            step=step,
            history=result.history,
            best_val_loss=result.best_val,
            best_step=result.best_step,
            seed=cfg.seed,
            device=device,
            torch_version=torch.__version__,
            wall_time=elapsed_before + (time.perf_counter() - t0),
        )

    def run_eval(step: int):
        losses = estimate_loss(model, splits, cfg.batch_size, block_size, cfg.eval_iters, device)
        record = {"step": step, "train": losses["train"], "val": losses["val"],
                  "time": round(elapsed_before + time.perf_counter() - t0, 2)}  # fmt: skip
        result.history.append(record)
        log(f"step {step}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
        if losses["val"] < result.best_val:
            result.best_val, result.best_step = losses["val"], step
            result.checkpoint = save_checkpoint(out, model, splits.tokenizer, meta(step), dtype=cfg.save_dtype)
        return record

    def save_snapshot(step: int, record: dict | None):
        """The model as it is at `step`, for the timeline; evaluated here if this step was not."""
        if record is None:
            losses = estimate_loss(model, splits, cfg.batch_size, block_size, cfg.eval_iters, device)
            record = {"step": step, "train": losses["train"], "val": losses["val"]}
        snapshot_meta = meta(step) | {"losses": {"train": record["train"], "val": record["val"]}}
        save_checkpoint(snapshot_path(out, step), model, splits.tokenizer, snapshot_meta, dtype=SNAPSHOT_DTYPE)

    def save_resume_state(step: int):
        extra = _optimizer_tensors(optimizer)
        extra["state.batch_rng"] = batch_gen.get_state()
        extra["state.torch_rng"] = torch.get_rng_state()
        save_checkpoint(state_path, model, splits.tokenizer, meta(step), extra_tensors=extra)

    t0 = time.perf_counter()
    model.train()
    step = start_step
    consistent = True  # False while the optimiser is mid-update: not a state worth saving
    bar = tqdm(total=cfg.max_iters, initial=start_step, disable=not progress, desc="train", unit="step")
    try:
        if step == 0 and not result.history:
            record = run_eval(0)
            if 0 in cfg.snapshot_steps:
                save_snapshot(0, record)
        while step < cfg.max_iters:
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = get_batch(splits.train, cfg.batch_size, block_size, batch_gen)
            with autocast_for(device):
                _, loss = forward(x.to(device), y.to(device))
            consistent = False
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            step += 1
            consistent = True
            loss_value = loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.3f}")
            record = None
            if step % cfg.eval_interval == 0 or step == cfg.max_iters:
                record = run_eval(step)
                save_resume_state(step)
            if step in cfg.snapshot_steps:
                save_snapshot(step, record)
            if record is not None:
                # early stopping: the best checkpoint is on disk, and val only gets worse from here
                evals_since_best = sum(1 for h in result.history if h["step"] > result.best_step)
                if cfg.patience and evals_since_best >= cfg.patience:
                    log(f"val loss has not improved for {evals_since_best} evaluations: stopping at step {step}")
                    result.early_stopped = True
                    break
            if on_step is not None:
                event = TrainEvent(step, cfg.max_iters, loss_value, lr, elapsed_before + time.perf_counter() - t0,
                                   record, model, splits.tokenizer)  # fmt: skip
                if on_step(event):
                    result.stopped = True
                    if record is None:
                        save_resume_state(step)
                    break
    except KeyboardInterrupt:
        if consistent:
            save_resume_state(step)
        saved = resume_meta_step(state_path)
        log(f"interrupted at step {step}; run again with --resume to continue from step {saved}")
        result.stopped = True
    finally:
        bar.close()
    model.eval()
    result.steps = step
    result.wall_time = elapsed_before + time.perf_counter() - t0
    return result
