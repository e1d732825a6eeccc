"""Training across processes with torchrun (DDP over gloo on this CPU), run as a user runs it.

Two ranks with one micro-batch each and one process accumulating two micro-batches make the same
global batch from the same streams, so they must print the same losses and save the same weights.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nanogpt.checkpoint import load_checkpoint, load_tensors
from nanogpt.data import get_batch
from nanogpt.train import BatchStreams, resume_path, stream_seed

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--preset", "baby", "--device", "cpu", "--n_layer", "2", "--n_head", "2", "--n_embd", "32",
        "--block_size", "32", "--batch_size", "8", "--eval_iters", "2", "--log_interval", "1"]  # fmt: skip
ENV = dict(os.environ, OMP_NUM_THREADS="1")  # two ranks on a 2-core machine: one thread each


def torchrun(nproc: int, *args) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
            "-m", "nanogpt", "train", *map(str, args)]  # fmt: skip


def single(*args) -> list[str]:
    return [sys.executable, "-m", "nanogpt", "train", *map(str, args)]


def run(command: list[str]) -> str:
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, env=ENV, cwd=ROOT)
    output = (proc.stdout + proc.stderr).replace("\r", "\n")
    assert proc.returncode == 0, output[-3000:]
    return output


def losses(output: str) -> dict[str, float]:
    """{'iter 3': 3.51, 'step 5 val': 3.49, ...}: every per-step loss and evaluation the run printed."""
    found = {f"iter {m[0]}": float(m[1]) for m in re.findall(r"^iter (\d+): loss ([\d.]+)$", output, re.M)}
    for step, train, val in re.findall(r"^step (\d+): train loss ([\d.]+), val loss ([\d.]+)$", output, re.M):
        found[f"step {step} train"], found[f"step {step} val"] = float(train), float(val)
    return found


def test_two_ranks_compute_what_one_process_accumulating_two_micro_batches_computes(tmp_path, tiny_text_file):
    common = [*TINY, "--data", tiny_text_file, "--max_iters", 10, "--eval_interval", 5]
    two = run(torchrun(2, *common, "--out", tmp_path / "two.safetensors"))
    one = run(single(*common, "--gradient_accumulation_steps", 2, "--out", tmp_path / "one.safetensors"))
    assert "on 2 processes" in two and two.count("done: 10 steps") == 1  # rank 0 alone speaks
    a, b = losses(two), losses(one)
    assert len(a) == 10 + 3 * 2 and a.keys() == b.keys()
    assert max(abs(a[k] - b[k]) for k in a) <= 1e-5
    ddp, accumulated = load_checkpoint(tmp_path / "two.safetensors"), load_checkpoint(tmp_path / "one.safetensors")
    assert not any(name.startswith("module.") for name in ddp.model.state_dict())  # the plain model, not DDP's
    for name, weight in ddp.model.state_dict().items():
        torch.testing.assert_close(weight, accumulated.model.state_dict()[name], atol=1e-5, rtol=0)
    # a different global batch is a different computation: the comparison above can fail
    plain = losses(run(single(*common, "--out", tmp_path / "plain.safetensors")))
    assert abs(plain["iter 10"] - b["iter 10"]) > 1e-4


def test_a_run_resumes_with_another_number_of_processes(tmp_path, tiny_text_file):
    common = [*TINY, "--data", tiny_text_file, "--eval_interval", 5]
    out = tmp_path / "m.safetensors"
    run(torchrun(2, *common, "--max_iters", 5, "--out", out))
    state, _ = load_tensors(resume_path(out))
    assert {k for k in state if k.startswith("state.batch_rng")} == {"state.batch_rng.0", "state.batch_rng.1"}
    resumed = run(single(*common, "--gradient_accumulation_steps", 2, "--max_iters", 10, "--out", out, "--resume"))
    assert "resuming from step 5" in resumed
    straight = run(single(*common, "--gradient_accumulation_steps", 2, "--max_iters", 10,
                          "--out", tmp_path / "straight.safetensors"))  # fmt: skip
    a, b = losses(resumed), losses(straight)
    assert [k for k in a if k.startswith("iter")] == [f"iter {i}" for i in range(6, 11)]
    assert max(abs(a[k] - b[k]) for k in a) <= 1e-5


def _children_with_rank(parent: int, rank: int) -> list[int]:
    """Processes under `parent` whose environment says RANK=rank (torchrun's workers)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and f"RANK={rank}".encode() in env:
            found.append(int(proc.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds torchrun's workers through /proc")
def test_a_dead_rank_stops_the_others_with_a_clear_error(tmp_path, tiny_text_file):
    command = torchrun(2, *TINY, "--data", tiny_text_file, "--max_iters", 1_000_000, "--eval_interval", 100_000,
                       "--log_interval", 100, "--out", tmp_path / "m.safetensors")  # fmt: skip
    log = tmp_path / "run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=ENV, cwd=ROOT,
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "iter 100:" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        victims = _children_with_rank(proc.pid, 1)
        assert victims, "no rank 1 under torchrun"
        os.kill(victims[0], signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(timeout=90)  # bounded: never a hang
        ended_after = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = log.read_text().replace("\r", "\n")
    assert proc.returncode != 0 and ended_after < 60
    assert re.search(r"^error: rank 0 (was stopped by torchrun|lost contact)", output, re.M), output[-3000:]
    assert "--resume" in output


def test_micro_batch_j_of_rank_r_is_stream_r_times_k_plus_j(tiny_text_file):
    tokens = torch.arange(1000)
    K, seed = 2, 7
    everyone = BatchStreams(seed, n_streams=2 * K)
    rank1 = BatchStreams(seed, n_streams=2 * K)
    mine = rank1.next(tokens, 4, 8, range(1 * K, 2 * K))
    for j, (x, _) in enumerate(mine):
        alone = torch.Generator().manual_seed(stream_seed(seed, 1 * K + j))
        assert torch.equal(x, get_batch(tokens, 4, 8, alone)[0])
    # every process advances every stream, so any rank's state is everyone's
    everyone.next(tokens, 4, 8, range(0, K))
    pairs = zip(everyone.generators, rank1.generators, strict=True)
    assert all(torch.equal(a.get_state(), b.get_state()) for a, b in pairs)
    assert stream_seed(seed, 0) == seed  # one process, one micro-batch: the batches it always drew
