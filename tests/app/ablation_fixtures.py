"""A small ablation results file made by the real `run_ablation` on the tiny text, for the page tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nanogpt.ablate import run_ablation
from viz_app.backend.ablation_results import RESULTS_FILE

RUN = ["full", "no-scale", "bigram"]  # the table's order; the rest of the variants are not in the file
STEPS = 6
TINY = dict(n_layer=2, n_head=2, n_embd=32, block_size=32, dropout=0.0, batch_size=8,
            learning_rate=3e-3, eval_interval=3, eval_iters=2)  # fmt: skip


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory, tiny_ckpt, tiny_text_file) -> Path:
    """A checkpoints folder with the tiny GPT and an ablations.json of three variants (seconds to make)."""
    folder = tmp_path_factory.mktemp("with-ablations")
    shutil.copy2(tiny_ckpt, folder / "tiny.safetensors")
    run_ablation(str(tiny_text_file), None, TINY, RUN, STEPS, 7, folder / RESULTS_FILE,
                 progress=False, log=lambda msg: None)  # fmt: skip
    return folder


def as_shown(sample: str) -> str:
    """A sample as st.code shows it: Streamlit drops one newline at each end of a code block."""
    sample = sample[1:] if sample.startswith("\n") else sample
    return sample[:-1] if sample.endswith("\n") else sample


def read_results(folder: Path) -> dict:
    return json.loads((folder / RESULTS_FILE).read_text(encoding="utf-8"))
