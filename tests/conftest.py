"""Shared fixtures: tiny text made here, and a tiny trained checkpoint (real training, seconds)."""

from __future__ import annotations

import os
import sys

import pytest

# Tiny models, and make test runs as many test processes as cores: the math libraries' own thread pools
# on top of those only fight over the cores (make test-fast 65 s -> 60 s). Read when numpy and torch
# load, so set before either (torch is imported lazily here: pytest-xdist's controller never needs it);
# the processes a test starts inherit it (as a run under torchrun, which sets the same).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Python's default, as on a newcomer's machine: a module is compiled once and its .pyc read by every later
# process. Where PYTHONDONTWRITEBYTECODE is set (this CI's machine sets it) and the venv was installed
# without pip's compile step (the Makefile's --no-compile), every test server, torchrun rank and CLI run
# compiled torch's and Streamlit's sources again: importing torch 4.4 s instead of 2.1 s, Streamlit 1.9 s
# instead of 0.6 s, on this 2-core machine. The test processes' own imports and their children's alike.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

# `make test-fast` leaves out the e2e (browser) tests and these, marked slow: each starts other
# processes (torchrun, `python -m nanogpt`, a server), seconds apiece. tests/app marks its own.
SLOW_MODULES = {"test_distributed.py", "test_cli.py"}
SLOW_TESTS = {
    "test_a_killed_save_leaves_the_previous_checkpoint_loadable",
    "test_a_hostile_pt_is_refused_by_the_real_command_and_nothing_runs",
    "test_refusing_a_lying_file_costs_a_few_mb_not_the_model_it_claims",
}


INSTANT = {"test_micro_batch_j_of_rank_r_is_stream_r_times_k_plus_j"}  # in a slow module, but no process


def pytest_collection_modifyitems(items):
    for item in items:
        if item.originalname in INSTANT:
            continue
        if item.path.name in SLOW_MODULES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


VERSE = """First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

First Citizen:
You are all resolved rather to die than to famish?

All:
Resolved. resolved.

First Citizen:
First, you know Caius Marcius is chief enemy to the people.
"""


@pytest.fixture(scope="session")
def tiny_text() -> str:
    return VERSE * 40  # ~10k characters, 30-odd distinct ones


@pytest.fixture(scope="session")
def tiny_text_file(tmp_path_factory, tiny_text):
    path = tmp_path_factory.mktemp("data") / "tiny.txt"
    path.write_text(tiny_text, encoding="utf-8")
    return path


def tiny_config(data, out, **overrides):
    from nanogpt.config import make_train_config

    fields = dict(n_layer=2, n_head=2, n_embd=32, block_size=32, dropout=0.0, batch_size=8, max_iters=60,
                  learning_rate=3e-3, eval_interval=30, eval_iters=4, data=str(data), out=str(out))  # fmt: skip
    fields.update(overrides)
    return make_train_config(None, **fields)


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory, tiny_text_file):
    """Path to a 2-layer, 2-head GPT trained for 60 steps on the tiny text."""
    from nanogpt.train import train

    out = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    train(tiny_config(tiny_text_file, out), progress=False, log=lambda msg: None)
    return out


@pytest.fixture(scope="session")
def trained(tiny_ckpt):
    """The tiny checkpoint, loaded once: model (eval mode), tokenizer, metadata."""
    from nanogpt.checkpoint import load_checkpoint

    return load_checkpoint(tiny_ckpt)


@pytest.fixture(scope="session")
def gpt(trained):
    return trained.model
