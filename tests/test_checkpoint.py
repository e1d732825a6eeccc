import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from nanogpt.checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from nanogpt.config import GPTConfig
from nanogpt.model import GPT, build_model
from nanogpt.tokenizer import CharTokenizer

VOCAB = CharTokenizer(list("abcdefghij"))


def small_model(**kw):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=10, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.0, **kw)).eval()


def test_round_trip_gives_identical_logits(tmp_path):
    model = small_model()
    path = save_checkpoint(tmp_path / "m.safetensors", model, VOCAB, {"best_val_loss": 1.5})
    ckpt = load_checkpoint(path)
    idx = torch.randint(0, 10, (2, 16))
    assert torch.equal(model(idx)[0], ckpt.model(idx)[0])
    assert not ckpt.model.training
    assert ckpt.tokenizer == VOCAB
    assert ckpt.meta["best_val_loss"] == 1.5
    assert ckpt.meta["model_config"] == model.config
    assert read_metadata(path)["n_params"] == model.num_params()


def test_half_precision_weights_load_as_float32(tmp_path):
    model = small_model()
    path = save_checkpoint(tmp_path / "m.safetensors", model, VOCAB, dtype="float16")
    ckpt = load_checkpoint(path)
    assert all(p.dtype == torch.float32 for p in ckpt.model.parameters())
    idx = torch.randint(0, 10, (1, 16))
    assert torch.allclose(model(idx)[0], ckpt.model(idx)[0], atol=1e-2)


def test_ablated_and_bigram_models_round_trip(tmp_path):
    for kw in ({"ffn": False, "pos_emb": False, "layernorm": False}, {"model_type": "bigram"}):
        torch.manual_seed(0)
        model = build_model(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=1, n_embd=8, **kw))
        ckpt = load_checkpoint(save_checkpoint(tmp_path / "m.safetensors", model, VOCAB))
        assert type(ckpt.model) is type(model)
        idx = torch.randint(0, 10, (1, 8))
        assert torch.equal(model.eval()(idx)[0], ckpt.model(idx)[0])


def test_a_tied_lm_head_is_saved_once_and_tied_again_on_load(tmp_path):
    model = small_model(bias=False, lm_head_bias=False, tied_lm_head=True, activation="gelu")
    path = save_checkpoint(tmp_path / "m.safetensors", model, VOCAB)  # safetensors refuses shared memory
    with safe_open(str(path), framework="pt") as f:
        assert "tok_emb.weight" in f.keys() and "lm_head.weight" not in f.keys()
    ckpt = load_checkpoint(path)
    assert ckpt.model.lm_head.weight is ckpt.model.tok_emb.weight
    idx = torch.randint(0, 10, (2, 16))
    assert torch.equal(model(idx)[0], ckpt.model(idx)[0])
    again = load_checkpoint(save_checkpoint(tmp_path / "again.safetensors", ckpt.model, VOCAB))
    assert again.model.lm_head.weight is again.model.tok_emb.weight
    assert torch.equal(model(idx)[0], again.model(idx)[0])


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint file at .*nothing.safetensors"):
        load_checkpoint(tmp_path / "nothing.safetensors")


def test_truncated_file(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", small_model(), VOCAB)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"m\.safetensors.*(truncated|corrupt)"):
        load_checkpoint(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("To be, or not to be, that is the question")
    with pytest.raises(CheckpointError, match=r"notes\.safetensors is not a readable"):
        load_checkpoint(path)


def test_pickle_file_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"model": small_model().state_dict()}, path)
    with pytest.raises(CheckpointError, match="pickled PyTorch file"):
        load_checkpoint(path)


def test_safetensors_without_our_metadata(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not an attention-lab checkpoint"):
        load_checkpoint(path)


def test_weights_that_do_not_match_the_config(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", small_model(), VOCAB)
    tensors = {}
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    header = json.loads(meta["nanogpt"])
    header["model_config"]["n_embd"] = 32
    save_file(tensors, path, metadata={"nanogpt": json.dumps(header)})
    with pytest.raises(CheckpointError, match=r"m\.safetensors claims .* 32 wide.* holds tok_emb\.weight of shape "
                       r"\(10, 16\) where that model has \(10, 32\); its config and its weights disagree"):  # fmt: skip
        load_checkpoint(path)


KILLER = r"""
import sys, torch
from nanogpt.checkpoint import save_checkpoint
from nanogpt.config import GPTConfig
from nanogpt.model import GPT
from nanogpt.tokenizer import CharTokenizer
path = sys.argv[1]
model = GPT(GPTConfig(vocab_size=10, n_layer=4, n_embd=384, n_head=6, block_size=64))
tok = CharTokenizer(list("abcdefghij"))
step = 0
while True:
    save_checkpoint(path, model, tok, {"step": step})
    print(step, flush=True)
    step += 1
"""


def test_a_killed_save_leaves_the_previous_checkpoint_loadable(tmp_path):
    """Kill a process (SIGKILL) while it saves over and over: the file on disk always loads."""
    path = tmp_path / "m.safetensors"
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    for delay in (0.05, 0.13, 0.31):
        proc = subprocess.Popen([sys.executable, "-c", KILLER, str(path)], stdout=subprocess.PIPE, env=env)
        assert proc.stdout.readline()  # one save finished
        time.sleep(delay)  # now somewhere in the middle of another
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ckpt = load_checkpoint(path)
        assert ckpt.model.config.n_embd == 384 and ckpt.meta["step"] >= 0
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "m.safetensors"]
    # a killed save may leave hidden temp files behind, never a half-written checkpoint
    assert all(name.startswith(".") and not name.endswith(".safetensors") for name in leftovers), leftovers


def test_a_header_length_that_looks_like_a_pickle_still_loads(tmp_path):
    """safetensors starts with its header length; a first byte of 0x80 is not a pickle."""
    model, path = small_model(), tmp_path / "m.safetensors"
    for pad in range(300):
        save_checkpoint(path, model, VOCAB, {"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no padding gave a header length with a first byte of 0x80")
    assert load_checkpoint(path).meta["pad"] == "x" * pad


def test_update_metadata_keeps_the_weights(tmp_path):
    model = small_model()
    path = save_checkpoint(tmp_path / "m.safetensors", model, VOCAB, {"step": 7}, dtype="float16")
    before = path.read_bytes()
    from nanogpt.checkpoint import update_metadata

    update_metadata(path, eval_val_loss=1.2345)
    ckpt = load_checkpoint(path)
    assert ckpt.meta["eval_val_loss"] == 1.2345 and ckpt.meta["step"] == 7
    assert ckpt.meta["weights_dtype"] == "float16"
    assert len(path.read_bytes()) - len(before) < 100  # still half precision: only the header grew
    idx = torch.randint(0, 10, (1, 16))
    assert torch.allclose(model(idx)[0], ckpt.model(idx)[0], atol=1e-2)


def test_a_saved_checkpoint_is_readable_by_everyone(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", small_model(), VOCAB)
    assert path.stat().st_mode & 0o444 == 0o444
