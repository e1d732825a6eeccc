"""Every checkpoint shipped in checkpoints/ is a real trained model with its numbers recorded.

These never retrain anything: they load what is shipped and check it.
"""

import re
from pathlib import Path

import pytest
import torch

from nanogpt.checkpoint import load_checkpoint
from nanogpt.generate import generate

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
SHIPPED = sorted(CHECKPOINTS.glob("*.safetensors"))
# docs/models.md's table quotes these (upper bounds of val loss from `eval`); the eval command reproduces them
EXPECTED = {"shakespeare-small": 1.60, "bigram": 2.55, "python-small": 1.10, "shakespeare-lecture": 1.47}
DATA = {"python-small": "python-stdlib"}  # the text each was trained on; the rest: tiny Shakespeare


def test_the_default_model_and_the_baseline_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {"shakespeare-small", "bigram"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_checkpoint_metadata(path):
    ckpt = load_checkpoint(path)
    meta = ckpt.meta
    data = DATA.get(path.stem, "tinyshakespeare")
    assert meta["data"]["name"] == data
    if data == "tinyshakespeare":
        assert ckpt.tokenizer.vocab_size == 65 and ckpt.model.config.vocab_size == 65
        assert "".join(ckpt.tokenizer.chars).startswith("\n !$&',-.3:;?ABC")
    else:  # python-stdlib: printable ASCII and the newline
        assert set(ckpt.tokenizer.chars) <= {"\n"} | {chr(c) for c in range(32, 127)}
    assert meta["eval_data_sha256"] == meta["data"]["sha256"]
    assert meta["step"] > 0 and meta["wall_time"] > 0 and meta["history"]
    assert meta["eval_val_loss"] <= EXPECTED.get(path.stem, 1.60)
    assert path.stat().st_size <= 25 * 2**20


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_checkpoint_generates_deterministic_text(path):
    ckpt = load_checkpoint(path)
    ids = ckpt.tokenizer.encode("ROMEO:")
    a = generate(ckpt.model, ids, 80, temperature=0.8, seed=1)
    b = generate(ckpt.model, ids, 80, temperature=0.8, seed=1)
    assert a == b and len(a) == len(ids) + 80
    assert a != generate(ckpt.model, ids, 80, temperature=0.8, seed=2)


def test_the_lecture_model_is_the_lectures_10_8m_config_saved_in_half_precision():
    ckpt = load_checkpoint(CHECKPOINTS / "shakespeare-lecture.safetensors")
    config = ckpt.model.config
    assert (config.n_layer, config.n_head, config.n_embd, config.block_size) == (6, 6, 384, 256)
    assert config.dropout == 0.2 and sum(p.numel() for p in ckpt.model.parameters()) == 10_788_929
    assert ckpt.meta["weights_dtype"] == "float16" and ckpt.meta["compute_dtype"] == "bfloat16"
    assert ckpt.meta["step"] == ckpt.meta["best_step"]  # the best step kept


def test_the_small_model_has_the_lectures_36_heads():
    config = load_checkpoint(CHECKPOINTS / "shakespeare-small.safetensors").model.config
    assert (config.n_layer, config.n_head) == (6, 6)
    assert config.residual and config.layernorm and config.attn_scale == "head_size"


def test_the_small_model_writes_shakespeare_shaped_text():
    ckpt = load_checkpoint(CHECKPOINTS / "shakespeare-small.safetensors")
    torch.manual_seed(0)
    text = ckpt.tokenizer.decode(generate(ckpt.model, ckpt.tokenizer.encode("\n"), 400, temperature=0.8, seed=1))
    assert ":\n" in text  # a speaker's name, a colon, a line break: the play format
    words = [w.strip(".,;:!?'") for w in text.split()]
    common = {"the", "and", "to", "of", "I", "you", "my", "a", "that", "in", "is", "not", "with", "me", "be"}
    assert sum(w in common for w in words) >= 8


def test_the_small_model_ships_its_timeline_from_step_0_to_the_best():
    from nanogpt.timeline import timeline, timeline_dir

    path = CHECKPOINTS / "shakespeare-small.safetensors"
    frames = timeline(path)
    assert len(frames) >= 5 and frames[0].step == 0 and frames[-1].is_best and frames[-1].path == str(path)
    assert frames[-1].step == load_checkpoint(path).meta["best_step"]
    losses = [f.val_loss for f in frames]
    assert losses == sorted(losses, reverse=True) and losses[0] > 4.0 > 1.6 > losses[-1]  # ln(65) down to trained
    assert sum(f.stat().st_size for f in timeline_dir(path).iterdir()) <= 25 * 2**20


def test_the_models_table_quotes_what_eval_recorded():
    models = (CHECKPOINTS.parent / "docs" / "models.md").read_text(encoding="utf-8")
    readme = (CHECKPOINTS.parent / "README.md").read_text(encoding="utf-8")
    for path in SHIPPED:
        recorded = load_checkpoint(path).meta["eval_val_loss"]
        row = next(line for line in models.splitlines() if line.startswith(f"| `{path.name}`"))
        assert float(row.split("**")[1]) == recorded, path.name
        # the README's short table rounds it to three places where it quotes one
        short = next((line for line in readme.splitlines() if line.startswith(f"| `{path.stem}` ")), "")
        for quoted in re.findall(r"val loss (\d\.\d+)", short):
            assert quoted == f"{recorded:.3f}", path.name


def test_the_python_model_copies_from_its_context_and_the_shakespeare_model_does_not():
    """#25: python-small has an induction head (L1H2) over a previous-token head, and zeroing it undoes the
    copying; shakespeare-small has neither. The numbers the README quotes, at the probe's default length."""
    from nanogpt.induction import COPY_GAIN, induction

    python = induction(load_checkpoint(CHECKPOINTS / "python-small.safetensors").model, seed=0)
    (layer, head, score), *_ = python.top_heads(1)
    assert (layer, head) == (1, 2) and 0.2 < score
    assert float(python.prev_scores[0].max()) > 0.3  # the previous-token head it reads its key from
    assert python.loss_second < python.loss_first - 1.5 * COPY_GAIN
    assert python.ablated_heads[0] == (1, 2) and python.ablated_loss_second > python.loss_second + 1.5
    shakespeare = induction(load_checkpoint(CHECKPOINTS / "shakespeare-small.safetensors").model, seed=0)
    assert float(shakespeare.scores.max()) < 0.05 and shakespeare.loss_second > shakespeare.loss_first - COPY_GAIN


def test_the_python_models_timeline_shows_its_induction_head_forming():
    from nanogpt.induction import induction
    from nanogpt.timeline import timeline, timeline_dir

    path = CHECKPOINTS / "python-small.safetensors"
    frames = timeline(path)
    assert frames[0].step == 0 and frames[-1].is_best and frames[-1].step == 6000
    scores = [float(induction(load_checkpoint(f.path).model, seed=0).scores[1, 2]) for f in frames]
    assert scores[0] < 0.02 < 0.2 < scores[-1]  # from an even spread (about 0.007) to the head
    assert max(scores[: len(scores) // 3]) < 0.05  # the first third of the run copies nothing yet
    assert sum(f.stat().st_size for f in timeline_dir(path).iterdir()) <= 12 * 2**20
