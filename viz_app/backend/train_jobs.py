"""Training inside the app: nanogpt's train() in a background thread, watched by the Train page.

A `TrainJob` owns one run: its thread calls `nanogpt.train.train(cfg, on_step=...)` and records,
under a lock, everything the page draws: the step, every batch loss, the train / val estimates at
each evaluation, a sample at each evaluation, and every few evaluations the attention of a fixed
prompt (so a student can scrub through training and watch attention form). The page reads a
consistent copy with `job.view()` and never waits for the thread: a training run in one browser
session never freezes the app for the others.

Fairness on a shared laptop: each run uses `train_threads()` torch threads (set for its own
thread only, see limit_threads), and at most `max_running()` runs train at
once across the server; the others wait for a slot, and say so.

Stop keeps what was learned: the thread finishes the step in flight, estimates the loss of the
weights it has, and keeps them if they beat the best checkpoint saved at an evaluation.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nanogpt.capture import run_with_cache
from nanogpt.checkpoint import CheckpointError, save_checkpoint
from nanogpt.config import TrainConfig
from nanogpt.data import OPENING_LINES, DataError, Splits, load_text, split
from nanogpt.generate import generate
from nanogpt.model import GPT
from nanogpt.train import checkpoint_meta, estimate_loss, resume_path, train

from . import uploads

log = logging.getLogger("viz_app.training")

MAX_RUNNING_ENV = "ATTENTION_LAB_MAX_TRAINING"  # runs training at once on this server
TRAIN_DIR = Path(tempfile.gettempdir()) / "attention-lab-trained"
CAPTURE_PROMPT = OPENING_LINES[:60]  # "First Citizen:\nBefore we proceed any further, hear me speak."
CAPTURE_MAX_CHARS = 64  # attention snapshots: (L, H, T, T) with T at most this
MAX_SNAPSHOTS = 40
SAMPLE_CHARS = 200
SAMPLE_TEMPERATURE = 0.8
SAMPLE_SEED = 1
# the model's weights at a few evaluations, beside its checkpoint (<label>.timeline/), so the Timeline
# page plays a model trained here as it plays a shipped one; fp16, at most this many and this many bytes
TIMELINE_FRAMES = 12
TIMELINE_BYTES = 64 * 2**20


def train_threads() -> int:
    """Torch threads for one training run: half the cores (at most 4), so pages stay responsive."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def max_running() -> int:
    """How many runs may train at once on this server (ATTENTION_LAB_MAX_TRAINING overrides)."""
    raw = os.environ.get(MAX_RUNNING_ENV, "")
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, (os.cpu_count() or 2) // (2 * train_threads()))


def limit_threads(n: int) -> None:
    """Give the calling thread n torch threads, and no other thread.

    torch.set_num_threads sets the calling thread's OpenMP count, and also the count every thread
    started later begins with (Streamlit starts a thread for each script run). So: initialise this
    thread's count first, set it, then put the starting count back from a helper thread.
    """
    default = torch.get_num_threads()  # also this thread's lazy init, so the restore below cannot undo n
    torch.set_num_threads(n)
    restore = threading.Thread(target=torch.set_num_threads, args=(default,), name="attention-lab-threads")
    restore.start()
    restore.join()


_slots = threading.Condition()
_active = 0
_waiting = 0


def _acquire(stop: threading.Event) -> bool:
    """Wait for a training slot; False when the run was stopped while waiting."""
    global _active, _waiting
    with _slots:
        _waiting += 1
        try:
            while _active >= max_running():
                if stop.is_set():
                    return False
                _slots.wait(timeout=0.2)
            _active += 1
            return True
        finally:
            _waiting -= 1


def _release() -> None:
    global _active
    with _slots:
        _active -= 1
        _slots.notify_all()


def server_load() -> tuple[int, int]:
    """(runs training now, runs waiting for a slot) across every session of this server."""
    with _slots:
        return _active, _waiting


# --- the text to train on -----------------------------------------------------------------------


def _friendly(message: str, path: Path, name: str) -> str:
    return message.replace(str(path), name).replace("a smaller --block_size", "a smaller context (block size)")


def save_text(name: str, data: bytes) -> Path:
    """An uploaded text as a file named like the upload (its training metadata names it)."""
    return uploads.store(data, name=Path(name).name or "upload.txt")


def check_text(name: str, data: bytes, block_size: int) -> tuple[Path, str | None]:
    """Save an upload and check it can train a model of this context: (path, None) or (path, message).

    The message says what is wrong: not UTF-8, empty, or too short for the context."""
    path = save_text(name, data)
    try:
        split(load_text(str(path)), block_size)
    except DataError as e:
        return path, _friendly(str(e), path, name)
    return path, None


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    step: int
    patterns: np.ndarray  # (L, H, T, T) float32 attention of the capture prompt


@dataclass
class JobView:
    """A consistent copy of a job's progress, for one page run."""

    label: str
    status: str  # waiting | loading | running | stopping | done | stopped | failed
    step: int
    max_iters: int
    elapsed: float
    steps: np.ndarray  # every step's number ...
    losses: np.ndarray  # ... and its batch loss
    evals: list[dict]  # {"step", "train", "val"}
    samples: list[tuple[int, str]]  # (step, text) at each evaluation
    snapshots: list[Snapshot]
    capture_text: str
    error: str | None
    checkpoint: Path | None
    best_val: float | None
    n_layer: int
    n_head: int

    @property
    def active(self) -> bool:
        return self.status in ("waiting", "loading", "running", "stopping")

    @property
    def steps_per_s(self) -> float:
        return self.step / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class TrainJob:
    cfg: TrainConfig
    label: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self):
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._status = "waiting"
        self._step = 0
        self._steps: list[int] = []
        self._losses: list[float] = []
        self._evals: list[dict] = []
        self._samples: list[tuple[int, str]] = []
        self._snapshots: list[Snapshot] = []
        self._capture_ids: list[int] = []
        self._capture_text = ""
        self._error: str | None = None
        self._checkpoint: Path | None = None
        self._best_val: float | None = None
        self._elapsed = 0.0
        self._n_evals = 0
        self._capture_every = 1
        folder = TRAIN_DIR / self.id
        self.cfg.out = str(folder / f"{self.label}.safetensors")
        self.cfg.snapshot_steps = timeline_steps(self.cfg)
        self._thread = threading.Thread(target=self._run, name=f"attention-lab-train-{self.id}", daemon=True)

    # --- the page's side

    def start(self) -> TrainJob:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to stop after the step in flight; what it learned is kept."""
        self._stop.set()
        with self._lock:
            if self._status in ("loading", "running"):
                self._status = "stopping"

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def view(self) -> JobView:
        with self._lock:
            return JobView(
                label=self.label,
                status=self._status,
                step=self._step,
                max_iters=self.cfg.max_iters,
                elapsed=self._elapsed,
                steps=np.asarray(self._steps, dtype=np.int32),
                losses=np.asarray(self._losses, dtype=np.float32),
                evals=list(self._evals),
                samples=list(self._samples),
                snapshots=list(self._snapshots),
                capture_text=self._capture_text,
                error=self._error,
                checkpoint=self._checkpoint,
                best_val=self._best_val,
                n_layer=self.cfg.model.n_layer,
                n_head=self.cfg.model.n_head,
            )

    # --- the thread's side

    def _set(self, **fields) -> None:
        with self._lock:
            for name, value in fields.items():
                setattr(self, f"_{name}", value)

    def _run(self) -> None:
        limit_threads(train_threads())
        if not _acquire(self._stop):
            self._set(status="stopped", error="stopped before it started: nothing was trained")
            return
        try:
            self._set(status="stopping" if self._stop.is_set() else "loading")
            data = load_text(self.cfg.data)
            splits = split(data, self.cfg.model.block_size)
            self._prepare_capture(splits)
            n_evals = max(1, self.cfg.max_iters // self.cfg.eval_interval)
            self._capture_every = max(1, math.ceil(n_evals / (MAX_SNAPSHOTS - 1)))
            with self._lock:
                if self._status == "loading":
                    self._status = "running"
            t0 = time.perf_counter()
            result = train(self.cfg, on_step=self._on_step, splits=splits, progress=False, log=lambda msg: None)
            if result.stopped:
                self._keep_last(result, splits)
            final = result.checkpoint or (Path(self.cfg.out) if Path(self.cfg.out).exists() else None)
            self._set(
                status="stopped" if result.stopped else "done",
                checkpoint=final,
                best_val=None if math.isinf(result.best_val) else result.best_val,
                elapsed=time.perf_counter() - t0,
            )
        except (DataError, CheckpointError, ValueError) as e:
            self._set(status="failed", error=str(e))
        except Exception as e:  # the page shows it; the server goes on
            log.exception("training run %s failed", self.id)
            self._set(status="failed", error=f"{type(e).__name__}: {e}")
        finally:
            _release()
            try:
                resume_path(self.cfg.out).unlink(missing_ok=True)  # the app never resumes; save the disk
            except OSError:
                pass

    def _prepare_capture(self, splits: Splits) -> None:
        """The fixed prompt whose attention is captured: a Shakespeare line, or the validation text's start."""
        n = min(self.cfg.model.block_size, CAPTURE_MAX_CHARS)
        tokenizer = splits.tokenizer
        if not tokenizer.unknown_chars(CAPTURE_PROMPT):
            ids = tokenizer.encode(CAPTURE_PROMPT)[:n]
        else:
            ids = splits.val[:n].tolist()
        self._capture_ids = ids
        self._capture_text = tokenizer.decode(ids)

    def _on_step(self, event) -> bool:
        with self._lock:
            self._step = event.step
            self._elapsed = event.elapsed
            if event.loss is not None:  # step 0 reports the evaluation before training, no batch loss
                self._steps.append(event.step)
                self._losses.append(event.loss)
        if event.eval is not None:
            model = event.model
            was_training = model.training
            model.eval()
            try:
                self._n_evals += 1
                sample = self._sample(model, event.tokenizer)
                with self._lock:
                    self._evals.append(dict(step=event.step, train=event.eval["train"], val=event.eval["val"]))
                    self._samples.append((event.step, sample))
                # attention before training (step 0), then every few evaluations
                if event.step == 0 or self._n_evals % self._capture_every == 0:
                    self._snapshot(model, event.step)
            finally:
                model.train(was_training)
        return self._stop.is_set()

    @torch.no_grad()
    def _sample(self, model, tokenizer) -> str:
        start = [tokenizer.stoi.get("\n", 0)]
        device = next(model.parameters()).device
        ids = generate(model, torch.tensor(start, device=device), SAMPLE_CHARS, SAMPLE_TEMPERATURE, seed=SAMPLE_SEED)
        return tokenizer.decode(ids[1:])

    def _snapshot(self, model, step: int) -> None:
        if not isinstance(model, GPT) or not self._capture_ids:
            return
        if self._snapshots and self._snapshots[-1].step == step:
            return
        device = next(model.parameters()).device
        idx = torch.tensor([self._capture_ids], device=device)
        _, cache = run_with_cache(model, idx, r"blocks\.\d+\.attn\.hook_pattern")
        patterns = cache.stack("attn.hook_pattern")[:, 0].numpy()  # (L, H, T, T)
        with self._lock:
            self._snapshots.append(Snapshot(step, patterns))

    def _keep_last(self, result, splits: Splits) -> None:
        """Stopped: keep the weights it has if they beat the best saved at an evaluation."""
        model, cfg = result.model, self.cfg
        device = str(device_of(model))
        losses = estimate_loss(model, splits, cfg.batch_size, cfg.model.block_size, cfg.eval_iters, device)
        record = dict(step=result.steps, train=losses["train"], val=losses["val"])
        with self._lock:
            if not self._evals or self._evals[-1]["step"] != result.steps:
                self._evals.append(record)
        if losses["val"] < result.best_val or result.checkpoint is None:
            history = [*result.history, {**record, "time": round(result.wall_time, 2)}]
            meta = checkpoint_meta(cfg, splits.source, step=result.steps, history=history, best_val=losses["val"],
                                   best_step=result.steps, device=device, wall_time=result.wall_time,
                                   stopped_early=True)  # fmt: skip
            result.checkpoint = save_checkpoint(cfg.out, model, result.tokenizer, meta, dtype=cfg.save_dtype)
            result.best_val = losses["val"]


def timeline_steps(cfg: TrainConfig) -> list[int]:
    """The steps whose weights a run saves for the Timeline: step 0 and evaluations spread over the
    run (the checkpoint itself is the best step's frame), as many as TIMELINE_FRAMES and
    TIMELINE_BYTES allow. None for a bigram table: the Timeline is about attention forming."""
    m = cfg.model
    if m.model_type == "bigram":
        return []
    # parameters, over-counted with a 256-character vocabulary (the text is not read yet); 2 bytes each
    n_params = 12 * m.n_layer * m.n_embd**2 + (m.block_size + 2 * 256) * m.n_embd
    frames = max(2, min(TIMELINE_FRAMES, TIMELINE_BYTES // (2 * n_params)))
    evals = list(range(cfg.eval_interval, cfg.max_iters + 1, cfg.eval_interval))
    if not evals or evals[-1] != cfg.max_iters:
        evals.append(cfg.max_iters)  # train() evaluates the last step too
    every = max(1, math.ceil(len(evals) / (frames - 1)))
    return [0] + evals[every - 1 :: every][: frames - 1]


def device_of(model) -> torch.device:
    return next(model.parameters()).device


# --- the session's side: which job a session owns, and its model in the sidebar ---------------

JOB_KEY = "train_job"  # st.session_state: this session's TrainJob
REGISTERED_KEY = "_tr_registered"  # job id -> the label its model got in the sidebar


def register_finished() -> str | None:
    """Put this session's finished run in its sidebar (once); the sidebar calls this on every run,
    so a run that ends while the student is on another page shows up there too. Returns the label."""
    import streamlit as st

    from . import registry

    job = st.session_state.get(JOB_KEY)
    if job is None:
        return None
    view = job.view()
    if view.active or view.checkpoint is None or not Path(view.checkpoint).is_file():
        return None
    registered = st.session_state.setdefault(REGISTERED_KEY, {})
    if job.id not in registered:
        registered[job.id] = registry.register_session_model(view.label, view.checkpoint).label
    return registered[job.id]
