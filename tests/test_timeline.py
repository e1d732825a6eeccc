"""Training snapshots: saved at the asked steps, loadable like any checkpoint, listed with the best step."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_config

from nanogpt.checkpoint import load_checkpoint, read_metadata
from nanogpt.timeline import snapshot_path, timeline, timeline_dir
from nanogpt.train import train


@pytest.fixture(scope="module")
def run_with_snapshots(tmp_path_factory, tiny_text_file):
    out = tmp_path_factory.mktemp("timeline") / "m.safetensors"
    cfg = tiny_config(tiny_text_file, out, max_iters=60, eval_interval=20, snapshot_steps=[0, 5, 20, 45])
    return out, train(cfg, progress=False, log=lambda msg: None)


def test_snapshots_are_saved_at_the_asked_steps_with_their_losses(run_with_snapshots):
    out, result = run_with_snapshots
    files = sorted(p.name for p in timeline_dir(out).iterdir())
    assert files == [f"step-{s:06d}.safetensors" for s in (0, 5, 20, 45)]
    for step in (0, 5, 20, 45):
        meta = read_metadata(snapshot_path(out, step))
        assert meta["step"] == step and meta["weights_dtype"] == "float16"
        assert meta["losses"]["train"] > 0 and meta["losses"]["val"] > 0
    evaluated = {h["step"]: h["val"] for h in result.history}
    assert read_metadata(snapshot_path(out, 20))["losses"]["val"] == evaluated[20]  # an eval step: the same number


def test_a_snapshot_loads_as_the_model_it_was_then(run_with_snapshots):
    out, result = run_with_snapshots
    start = load_checkpoint(snapshot_path(out, 0)).model
    later = load_checkpoint(snapshot_path(out, 45)).model
    torch.manual_seed(result.config.seed)  # what train() does before it builds the model
    fresh = type(start)(start.config)
    for name, weight in start.state_dict().items():
        # the untrained weights, as fp16 keeps them
        torch.testing.assert_close(weight, fresh.state_dict()[name].half().float(), atol=0, rtol=0)
    assert not torch.equal(start.tok_emb.weight, later.tok_emb.weight)


def test_the_timeline_runs_from_step_0_to_the_best_and_its_loss_falls(run_with_snapshots):
    out, result = run_with_snapshots
    frames = timeline(out)
    assert [f.step for f in frames] == sorted({0, 5, 20, 45, result.best_step})
    best = next(f for f in frames if f.is_best)
    assert best.step == result.best_step and best.path == str(out) and best.val_loss == result.best_val
    assert frames[0].val_loss > best.val_loss + 0.5 and best.val_loss == min(f.val_loss for f in frames)


def test_no_folder_no_timeline_and_a_broken_snapshot_is_skipped(run_with_snapshots, tmp_path, tiny_ckpt):
    assert timeline(tiny_ckpt) == []
    out, _ = run_with_snapshots
    broken = timeline_dir(out) / "step-000050.safetensors"
    broken.write_bytes(b"not a checkpoint")
    try:
        assert 50 not in [f.step for f in timeline(out)]
    finally:
        broken.unlink()


def test_snapshot_steps_from_the_command_line():
    from nanogpt.config import make_train_config

    assert make_train_config("baby", snapshot_steps="250,0,100").snapshot_steps == [0, 100, 250]
    with pytest.raises(ValueError, match="snapshot_steps"):
        make_train_config("baby", snapshot_steps="-5")
