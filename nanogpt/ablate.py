"""The ablation lab: train the lecture's model with one piece removed at a time, same budget for all.

Each variant is a handful of config overrides (VARIANTS), nothing else. `run_ablation` trains
every variant on the same data, seed and steps, and writes one JSON file after each finished
variant, so an interrupted run picks up where it stopped. `variant_lines` names the lines of
model.py a variant's switches change (source_lines.py reads them).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .checkpoint import CheckpointError, load_checkpoint, read_metadata
from .config import MODEL_FIELDS, make_train_config
from .data import load_text, split
from .files import atomic_write
from .generate import generate
from .source_lines import switch_lines
from .train import evaluate, resume_path, train

FORMAT = "nanogpt-ablation/1"

# name -> config overrides of the lecture model (GPTConfig switches); the order of the table
VARIANTS: dict[str, dict] = {
    "full": {},
    "no-residual": {"residual": False},
    "no-layernorm": {"layernorm": False},
    "post-norm": {"norm": "post"},
    "no-scale": {"attn_scale": "none"},
    "n_embd-scale": {"attn_scale": "n_embd"},
    "single-head": {"n_head": 1},  # same width: one head of size n_embd
    "no-ffn": {"ffn": False},
    "no-pos-emb": {"pos_emb": False},
    # the lecture trains its bigram at 1e-2: at the transformer's 1e-3 the table is still filling
    # in when the budget ends (3.3 instead of 2.5 on tiny Shakespeare), which would flatter `full`
    "bigram": {"model_type": "bigram", "learning_rate": 1e-2},
}

# settings that must match for a rerun to reuse the variants already in a results file
RESUME_KEYS = ("data_sha256", "base_config", "steps", "seed")
SAMPLE_CHARS, SAMPLE_TEMPERATURE, SAMPLE_SEED, SAMPLE_PROMPT = 300, 0.8, 1, "\n"


class AblationError(ValueError):
    """A results file or request that cannot be used; the message says what to do."""


@dataclass
class AblationEvent:
    """What `on_progress` receives: a variant skipped, started, stepped or done."""

    variant: str
    index: int  # position among the variants of this run
    total: int
    status: str  # "skipped" (already in the file) | "start" | "step" | "done"
    step: int = 0
    max_iters: int = 0
    record: dict | None = None  # the variant's results, when skipped or done


def flat_config(cfg) -> dict:
    """A TrainConfig as one flat dict (model and run fields share a namespace, as on the CLI)."""
    d = cfg.to_dict()
    return {**d.pop("model"), **d}


def config_diff(base: dict, other: dict) -> dict:
    """{field: [base value, other value]} for every field that differs."""
    return {k: [base[k], other[k]] for k in base if base[k] != other.get(k)}


def _write_json(path: Path, obj: dict):
    atomic_write(path, (json.dumps(obj, indent=1) + "\n").encode("utf-8"))


def _check_settings(path: Path, old: dict, new: dict):
    """Refuse to mix runs: a results file only grows with variants trained the same way."""
    problems = []
    for key in RESUME_KEYS:
        if key == "base_config":
            diff = config_diff(old.get(key, {}), new[key])
            problems += [f"{k}: {a!r} in the file, {b!r} now" for k, (a, b) in diff.items()]
        elif old.get(key) != new[key]:
            problems.append(f"{key}: {old.get(key)!r} in the file, {new[key]!r} now")
    if problems:
        raise AblationError(
            f"{path} holds an ablation run with other settings ({'; '.join(problems)}). "
            "Pass another --out to start a new run, or delete the file to start this one over."
        )


def checkpoint_dir(out_path: str | os.PathLike) -> Path:
    """results.json -> results.ckpt/: per-variant checkpoints while the run is going."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.stem + ".ckpt")


def run_ablation(
    data: str,
    preset: str | None = None,
    overrides: dict | None = None,
    variants: list[str] | None = None,
    steps: int | None = None,
    seed: int = 1337,
    out_path: str | os.PathLike = "ablations.json",
    on_progress: Callable[[AblationEvent], None] | None = None,
    *,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    keep_checkpoints: bool = False,
) -> dict:
    """Train each variant with the same data, seed and steps; return (and write) the results.

    Variants already in `out_path` with the same settings are skipped; a variant that was
    interrupted resumes from its last evaluation. KeyboardInterrupt stops the run after saving.
    """
    log = log or (lambda msg: tqdm.write(msg))
    variants = list(VARIANTS) if variants is None else list(variants)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise AblationError(
            f"unknown variant(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(VARIANTS)}"
        )
    overrides = dict(overrides or {})
    for key in ("data", "out", "seed", "max_iters"):
        if key in overrides:
            raise AblationError(f"--{key} is set by ablate itself; use --data, --out, --seed or --steps")
    out_path = Path(out_path)
    ckpt_dir = checkpoint_dir(out_path)

    def make_config(variant: str, vocab_size: int):
        run = dict(data=data, seed=seed, out=str(ckpt_dir / f"{variant}.safetensors"))
        if steps is not None:
            run["max_iters"] = steps
        cfg = make_train_config(preset, **{**overrides, **VARIANTS[variant], **run})
        cfg.model.vocab_size = vocab_size  # what train sets; set it first so configs compare equal
        return cfg

    # the data is read and tokenised once; every variant trains on the same tensors
    probe = make_train_config(preset, **overrides, data=data, seed=seed)
    splits = split(load_text(data), probe.model.block_size)
    vocab_size = splits.tokenizer.vocab_size
    base = flat_config(make_config("full", vocab_size))
    del base["out"], base["data"]  # out differs per variant; the data is pinned by its sha256
    settings = dict(
        data=splits.source.name,
        data_sha256=splits.source.sha256,
        preset=preset,
        base_config=base,
        steps=base["max_iters"],
        seed=seed,
        torch_version=torch.__version__,
    )

    results = {"format": FORMAT, **settings, "variants": {}}
    if out_path.exists():
        old = load_results(out_path)
        _check_settings(out_path, old, settings)
        results["variants"] = old["variants"]

    total = len(variants) * settings["steps"]
    overall = tqdm(total=total, desc="ablation", unit="step", disable=not progress, position=0)
    try:
        for index, name in enumerate(variants):
            record = results["variants"].get(name)
            if record is not None:
                if record["overrides"] != VARIANTS[name]:
                    raise AblationError(
                        f"{out_path} has a {name!r} trained with {record['overrides']}, but {name!r} is now "
                        f"{VARIANTS[name]}. Pass another --out to start a new run."
                    )
                overall.update(settings["steps"])
                log(f"{name}: already in {out_path} (val loss {record['val_loss']:.4f}), skipped")
                if on_progress:
                    on_progress(AblationEvent(name, index, len(variants), "skipped", record["steps"],
                                              settings["steps"], record))  # fmt: skip
                continue
            overall.set_description(f"ablation: {name}")
            record = _run_variant(name, index, len(variants), make_config(name, vocab_size), splits, base,
                                  overall, on_progress, progress, log)  # fmt: skip
            results["variants"][name] = record
            order = [v for v in VARIANTS if v in results["variants"]]
            results["variants"] = {v: results["variants"][v] for v in order}
            _write_json(out_path, results)
            if not keep_checkpoints:
                _remove_variant_files(ckpt_dir, name)
            log(f"{name}: val loss {record['val_loss']:.4f} in {record['wall_time']:.0f}s -> {out_path}")
            if on_progress:
                on_progress(AblationEvent(name, index, len(variants), "done", record["steps"],
                                          settings["steps"], record))  # fmt: skip
    finally:
        overall.close()
    return results


def _run_variant(name, index, total, cfg, splits, base, overall, on_progress, progress, log) -> dict:
    """Train one variant (resuming its own last save if there is one) and measure it."""
    out = Path(cfg.out)
    state = resume_path(out)
    try:
        meta = read_metadata(state) if state.exists() else None
    except CheckpointError:
        meta = None
    # resume only a state saved by this very config; anything else starts over
    resume = meta is not None and meta.get("train_config") == cfg.to_dict()
    done_before = meta["step"] if resume else 0
    overall.update(done_before)
    if on_progress:
        on_progress(AblationEvent(name, index, total, "start", done_before, cfg.max_iters))

    last = [done_before]

    def on_step(event):
        overall.update(event.step - last[0])
        last[0] = event.step
        if on_progress:
            on_progress(AblationEvent(name, index, total, "step", event.step, event.max_iters))

    result = train(cfg, on_step, resume=resume, splits=splits, progress=progress,
                   log=lambda msg: log(f"[{name}] {msg}"))  # fmt: skip
    if result.stopped:  # train caught Ctrl-C and saved its state; stop the whole run here
        raise KeyboardInterrupt

    # the number in the table: the best checkpoint, read back, over the whole val split
    best = result.checkpoint or (out if resume and out.exists() else None)  # a resumed run may not improve
    device = next(result.model.parameters()).device
    model = load_checkpoint(best, device=device).model if best else result.model  # None: nan from the start
    block_size = cfg.model.block_size
    val_loss = evaluate(model, splits.val, block_size)
    ids = splits.tokenizer.encode(SAMPLE_PROMPT)
    sample = splits.tokenizer.decode(
        generate(model, ids, SAMPLE_CHARS, SAMPLE_TEMPERATURE, seed=SAMPLE_SEED)[len(ids) :]
    )
    flat = flat_config(cfg)
    del flat["out"], flat["data"]
    return dict(
        name=name,
        overrides=VARIANTS[name],
        diff=config_diff(base, flat),
        model_config=dataclasses.asdict(cfg.model),
        n_params=sum(p.numel() for p in model.parameters()),
        history=result.history,
        best_val=None if math.isinf(result.best_val) else result.best_val,  # estimate_loss's number
        best_step=result.best_step,
        val_loss=val_loss,  # evaluate() over the whole val split
        steps=result.steps,
        wall_time=round(result.wall_time, 2),
        sample=sample,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )


def _remove_variant_files(ckpt_dir: Path, name: str):
    out = ckpt_dir / f"{name}.safetensors"
    for path in (out, resume_path(out)):
        path.unlink(missing_ok=True)
    if ckpt_dir.is_dir() and not any(ckpt_dir.iterdir()):
        shutil.rmtree(ckpt_dir)


# ---------------------------------------------------------------------------------------------
# reading results


_RECORD_KEYS = {"overrides": dict, "diff": dict, "history": list, "val_loss": (int, float),
                "steps": int, "wall_time": (int, float), "sample": str}  # fmt: skip
_TOP_KEYS = {"data": str, "data_sha256": str, "base_config": dict, "steps": int, "seed": int, "variants": dict}


def load_results(path: str | os.PathLike) -> dict:
    """A results file written by run_ablation, checked; bad files get an error naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise AblationError(f"no ablation results at {path}; make them with: python -m nanogpt ablate --out {path}")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AblationError(f"{path} is not a JSON file ({e}); it is not an ablation results file") from None
    if not isinstance(results, dict) or results.get("format") != FORMAT:
        raise AblationError(f"{path} is not an ablation results file (no format {FORMAT!r} in it)")
    problems = [f"{k} should be {t.__name__}" for k, t in _TOP_KEYS.items() if not isinstance(results.get(k), t)]
    for name, record in results.get("variants", {}).items():
        if not isinstance(record, dict):
            problems.append(f"variant {name!r} is not an object")
            continue
        for key, kind in _RECORD_KEYS.items():
            if not isinstance(record.get(key), kind):
                problems.append(f"variant {name!r} has no valid {key!r}")
        history = record.get("history")
        if isinstance(history, list) and not all(
            isinstance(h, dict) and {"step", "train", "val"} <= h.keys() for h in history
        ):
            problems.append(f"variant {name!r} has a history without step/train/val in every entry")
    if problems:
        raise AblationError(f"{path} is a damaged ablation results file: {'; '.join(problems)}")
    return results


def results_table(results: dict) -> list[dict]:
    """One row per variant: its val loss and the change against `full` (None without a full run)."""
    full = results["variants"].get("full")
    rows = []
    for name, record in results["variants"].items():
        delta = record["val_loss"] - full["val_loss"] if full else None
        rows.append(dict(variant=name, val_loss=record["val_loss"], delta=delta, steps=record["steps"],
                         wall_time=record["wall_time"]))  # fmt: skip
    return rows


def variant_lines(variant: str) -> dict[str, list[tuple[int, str]]]:
    """{switch: lines} for each GPTConfig switch a variant flips ({} for full; run settings have no line)."""
    if variant not in VARIANTS:
        raise AblationError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    return {switch: switch_lines(switch) for switch in VARIANTS[variant] if switch in MODEL_FIELDS}
