"""Files that lie about their size (issue #23): a kilobyte whose metadata, model_args or tensor names claim
a model of gigabytes is refused with one sentence before anything is built, for every kind of file the
project opens and every dimension a file can claim."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_config
from safetensors import safe_open
from safetensors.torch import save_file

from nanogpt import limits
from nanogpt.__main__ import main
from nanogpt.checkpoint import (
    CheckpointError,
    check_claims,
    expected_shapes,
    load_checkpoint,
    save_checkpoint,
    tied_names,
)
from nanogpt.config import GPTConfig
from nanogpt.model import build_model
from nanogpt.timeline import snapshot_path, timeline
from nanogpt.tokenizer import CharTokenizer
from nanogpt.train import resume_path, train

ROOT = Path(__file__).resolve().parents[1]
LECTURE_PT = ROOT / "tests" / "fixtures" / "import" / "lecture-gpt" / "model.pt"
NANOGPT_DIR = ROOT / "tests" / "fixtures" / "import" / "nanogpt-shakespeare-char"
VOCAB = CharTokenizer(list("abcdefghij"))
SMALL = dict(vocab_size=10, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.0)


def small_checkpoint(path: Path, **config) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(path, build_model(GPTConfig(**(SMALL | config))), VOCAB)


def lying(path: Path, claims: dict, *, vocab: list | None = None, **config) -> Path:
    """A small real checkpoint whose metadata then claims `claims` (its tensors stay small)."""
    small_checkpoint(path, **config)
    with safe_open(str(path), "pt") as f:
        header = json.loads(f.metadata()["nanogpt"])
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    header["model_config"].update(claims)
    if vocab is not None:
        header["vocab"] = vocab
    save_file(tensors, path, metadata={"nanogpt": json.dumps(header)})
    assert path.stat().st_size < 1_000_000
    return path


def one_error_line(err: str, *needles) -> None:
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for needle in needles:
        assert str(needle) in err, (needle, err)


# --- what the checks compare with --------------------------------------------------------------------


SWITCHES = dict(residual=(True, False), layernorm=(True, False), ffn=(True, False), pos_emb=(True, False),
                bias=(True, False), qkv_bias=(True, False), lm_head_bias=(True, False),
                tied_lm_head=(True, False))  # fmt: skip


@pytest.mark.parametrize("switches", [dict(zip(SWITCHES, values, strict=True))
                                      for values in itertools.product(*SWITCHES.values())])  # fmt: skip
def test_expected_shapes_are_the_models_own(switches):
    config = GPTConfig(**(SMALL | switches))
    model = build_model(config)
    held = {name: tuple(t.shape) for name, t in model.state_dict().items() if name not in tied_names(config)}
    assert expected_shapes(config) == held


def test_expected_shapes_of_a_bigram_table_and_of_a_config_too_big_to_build():
    assert expected_shapes(GPTConfig(model_type="bigram", vocab_size=65)) == {"token_embedding_table.weight": (65, 65)}
    huge = expected_shapes(GPTConfig(n_layer=2, n_head=8, n_embd=65536, vocab_size=10**7))  # built: terabytes
    assert huge["blocks.1.attn.qkv.weight"] == (3 * 65536, 65536) and huge["tok_emb.weight"] == (10**7, 65536)


def test_the_lecture_model_fits_the_servers_limits_with_room_to_spare():
    lecture = GPTConfig()  # 6 x 6 x 384, context 256: 10.8M parameters
    n_params = sum(map(math.prod, expected_shapes(lecture).values()))
    assert n_params == 10_788_929
    assert limits.size_problem(lecture, n_params, "x", limits.SERVER) is None
    assert limits.activation_bytes(lecture) < limits.SERVER.activation_mb * 2**20 / 4
    assert limits.dimension_problem(lecture, "x", limits.SERVER) is None


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("ATTENTION_LAB_MAX_PARAMS", "1_000")
    monkeypatch.setenv("NANOGPT_MAX_CONTEXT", "64")
    assert limits.server().params == 1000 and limits.server().context == limits.SERVER.context
    assert limits.command_line().context == 64 and limits.command_line().params == limits.COMMAND_LINE.params
    assert limits.COMMAND_LINE.params > limits.SERVER.params  # the command line allows more
    monkeypatch.setenv("NANOGPT_MAX_CONTEXT", "lots")
    with pytest.raises(ValueError, match="NANOGPT_MAX_CONTEXT must be a whole number"):
        limits.command_line()


# --- .safetensors: metadata that claims more than the tensors hold ----------------------------------


@pytest.mark.parametrize(
    "claims, said",
    [
        ({"n_embd": 65536}, "65,536 wide, context 16, vocabulary 10 but holds tok_emb.weight of shape (10, 16) where"),
        ({"n_layer": 100_000}, "n_layer 100,000, over the limit of 512 (NANOGPT_MAX_LAYERS)"),
        ({"n_layer": 400}, "400 layers x 2 heads x 16 wide, context 16, vocabulary 10 but has no blocks.2.ln1.weight"),
        ({"block_size": 1_000_000, "pos_emb": False}, "block_size 1,000,000, over the limit of 16,384"),
        ({"block_size": 8192}, "holds pos_emb.weight of shape (16, 16) where that model has (8,192, 16)"),
        ({"n_embd": 4096, "n_head": 4096}, "4,096 heads x 4,096 wide"),
        ({"n_embd": 16.0}, "claims n_embd 16.0, which is not a whole number"),
    ],
)
def test_a_safetensors_file_that_claims_a_bigger_model_is_refused_before_it_is_built(tmp_path, claims, said):
    path = lying(tmp_path / "liar.safetensors", claims)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert str(e.value).startswith(str(path)) and said in str(e.value)


def test_a_claimed_vocabulary_of_ten_million_characters_is_refused(tmp_path, capsys):
    path = lying(tmp_path / "liar.safetensors", {"vocab_size": 10_000_000})  # and its vocab holds 10
    with pytest.raises(CheckpointError, match=r"liar\.safetensors has unreadable metadata \(vocab_size 10000000 but "
                                              r"a vocabulary of 10 characters\)"):  # fmt: skip
        load_checkpoint(path)
    # a vocabulary as long as it claims, over the limit (a real one would be a file of tens of MB)
    path = lying(tmp_path / "many.safetensors", {"vocab_size": 30_000}, vocab=[chr(i) for i in range(32, 30_032)])
    with pytest.raises(CheckpointError, match="claims vocab_size 30,000, over the limit of 20,000"):
        load_checkpoint(path, limits=dataclasses.replace(limits.SERVER, vocab=20_000))
    liar = str(tmp_path / "liar.safetensors")
    for args in (["inspect", "--ckpt", liar, "--prompt", "abc"], ["eval", "--ckpt", liar], ["sample", "--ckpt", liar]):
        assert main(args) == 2  # the command line says it in one line, exit status 2
        one_error_line(capsys.readouterr().err, liar, "vocab_size 10000000")


def test_the_number_of_heads_decides_the_activation_a_file_may_claim(tmp_path):
    """Heads change no tensor's shape, only how many (T, T) maps every layer computes."""
    tight = limits.Limits(params=10**6, activation_mb=8, context=4096, vocab=100, layers=8)
    path = small_checkpoint(tmp_path / "one.safetensors", block_size=512, n_head=1)  # (512, 16) positions
    assert load_checkpoint(path, limits=tight).model.config.n_head == 1
    path = lying(tmp_path / "many.safetensors", {"n_head": 16}, block_size=512, n_head=1)
    with pytest.raises(CheckpointError, match=r"claims a model that needs 66 MB of activations at its context "
                       r"\(2 layers x 16 heads.*over the limit of 8 MB \(NANOGPT_MAX_ACTIVATION_MB\)"):  # fmt: skip
        load_checkpoint(path, limits=tight)


def test_a_consistent_file_beyond_the_servers_limits_is_refused_there_and_opens_on_the_command_line(tmp_path):
    path = small_checkpoint(tmp_path / "wide.safetensors", block_size=4096, pos_emb=False)  # masks: 32 MB
    with pytest.raises(CheckpointError, match=r"block_size 4,096, over the limit of 2,048 \(ATTENTION_LAB_MAX_CONTEXT"):
        load_checkpoint(path, limits=limits.SERVER)
    assert load_checkpoint(path).model.config.block_size == 4096


def test_a_safetensors_header_that_claims_tensors_beyond_the_file_is_refused_before_reading(tmp_path):
    huge = {"dtype": "F32", "shape": [100000, 100000]}  # 40 GB
    for name, offsets in (("past-the-end", [0, 4 * 10**10]), ("inconsistent", [0, 16])):
        entry = huge | {"data_offsets": offsets}
        header = json.dumps({"tok_emb.weight": entry, "__metadata__": {"nanogpt": "{}"}}).encode()
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(16))
        with pytest.raises(CheckpointError, match="is not a readable .safetensors checkpoint"):
            load_checkpoint(path)
    path = tmp_path / "long-header.safetensors"
    path.write_bytes(struct.pack("<Q", 10**12) + b"{}")  # a header of a terabyte
    with pytest.raises(CheckpointError, match="is not a readable .safetensors checkpoint"):
        load_checkpoint(path)


# --- nanoGPT's ckpt.pt and the lecture's state_dict --------------------------------------------------


@pytest.mark.parametrize(
    "claims, said",
    [
        ({"n_embd": 65536}, "65,536 wide, context 64, vocabulary 65 but holds tok_emb.weight of shape (65, 64)"),
        ({"n_layer": 100_000}, "n_layer 100,000, over the limit of 512"),
        ({"n_head": 65536, "n_embd": 65536}, "65,536 heads x 65,536 wide"),
        ({"block_size": 10**6}, "block_size 1,000,000, over the limit of 16,384"),
        ({"vocab_size": 10**7}, "vocab_size 10,000,000, over the limit of 1,000,000"),
        ({"block_size": 8192}, "holds pos_emb.weight of shape (64, 64) where that model has (8,192, 64)"),
    ],
)
def test_a_nanogpt_ckpt_whose_model_args_claim_a_bigger_model_is_refused_by_convert(tmp_path, capsys, claims, said):
    ckpt = torch.load(NANOGPT_DIR / "ckpt.pt", weights_only=True)
    ckpt["model_args"].update(claims)
    del ckpt["optimizer"]  # under a megabyte
    src = tmp_path / "ckpt.pt"
    torch.save(ckpt, src)
    assert src.stat().st_size < 1_000_000
    assert main(["convert", str(src), "--out", str(tmp_path / "x.safetensors"), "--meta",
                 str(NANOGPT_DIR / "meta.pkl")]) == 2  # fmt: skip
    one_error_line(capsys.readouterr().err, src, said)
    assert not (tmp_path / "x.safetensors").exists()


def test_a_lecture_state_dict_whose_heads_disagree_is_refused_in_one_line(tmp_path, capsys):
    state = torch.load(LECTURE_PT, weights_only=True)
    state["blocks.1.sa.heads.2.key.weight"] = torch.zeros(16, 4096)  # the others are (16, 48)
    src = tmp_path / "model.pt"
    torch.save(state, src)
    assert main(["convert", str(src), "--out", str(tmp_path / "x.safetensors"), "--vocab-text", "tinyshakespeare"]) == 2
    one_error_line(capsys.readouterr().err, src, "blocks.1.sa.heads.2.key.weight of shape (16, 4096)", "(16, 48)")


def test_a_lecture_state_dict_of_a_context_beyond_the_limit_is_refused_before_the_model_is_built(tmp_path, capsys):
    state = torch.load(LECTURE_PT, weights_only=True)
    state["position_embedding_table.weight"] = torch.zeros(20_000, 48, dtype=torch.bool)  # 960 kB, 1 byte each
    src = tmp_path / "model.pt"
    torch.save(state, src)
    assert src.stat().st_size < 1_300_000
    assert main(["convert", str(src), "--out", str(tmp_path / "x.safetensors"), "--vocab-text", "tinyshakespeare"]) == 2
    one_error_line(capsys.readouterr().err, src, "block_size 20,000, over the limit of 16,384 (NANOGPT_MAX_CONTEXT)")


def test_a_pre_1_6_torch_file_is_refused_because_its_loader_trusts_the_sizes_it_states(tmp_path, capsys):
    src = tmp_path / "old.pt"
    torch.save(torch.load(LECTURE_PT, weights_only=True), src, _use_new_zipfile_serialization=False)
    assert main(["convert", str(src), "--out", str(tmp_path / "x.safetensors"), "--vocab-text", "tinyshakespeare"]) == 2
    one_error_line(capsys.readouterr().err, src, "not a torch.save zip file", "torch.save it again")


# --- resume files and timeline snapshots ----------------------------------------------------------------


@pytest.fixture
def stopped_run(tmp_path, tiny_text_file):
    cfg = tiny_config(tiny_text_file, tmp_path / "m.safetensors", max_iters=20, eval_interval=10,
                      snapshot_steps=[0, 10])  # fmt: skip
    train(cfg, progress=False, log=lambda msg: None, on_step=lambda event: event.step == 10)
    return cfg


def rewrite(path: Path, claims: dict | None = None, **tensors) -> None:
    with safe_open(str(path), "pt") as f:
        header = json.loads(f.metadata()["nanogpt"])
        held = {name: f.get_tensor(name) for name in f.keys()}
    header["model_config"].update(claims or {})
    save_file(held | tensors, path, metadata={"nanogpt": json.dumps(header)})


def test_a_resume_file_that_claims_a_bigger_model_is_refused(stopped_run):
    rewrite(resume_path(stopped_run.out), {"n_embd": 65536})
    with pytest.raises(CheckpointError, match=r"m\.resume\.safetensors claims .*65,536 wide.* but holds tok_emb"):
        train(stopped_run, progress=False, log=lambda msg: None, resume=True)


def test_a_resume_file_of_another_model_or_with_altered_optimiser_state_is_refused(stopped_run, tiny_text_file):
    other = tiny_config(tiny_text_file, stopped_run.out, n_embd=48, max_iters=20)
    with pytest.raises(CheckpointError, match=r"resume state of a model of 2 layers x 2 heads x 32 wide.* and this "
                                              r"run builds a model of 2 layers x 2 heads x 48 wide"):  # fmt: skip
        train(other, progress=False, log=lambda msg: None, resume=True)
    rewrite(resume_path(stopped_run.out), **{"optim.0.exp_avg": torch.zeros(3)})
    with pytest.raises(CheckpointError, match=r"holds optim\.0\.exp_avg of shape \(3\), which this run's optimiser "
                                              r"cannot take"):  # fmt: skip
        train(stopped_run, progress=False, log=lambda msg: None, resume=True)


def test_a_resume_file_with_a_random_state_of_another_size_is_refused_on_the_command_line(stopped_run, capsys):
    rewrite(resume_path(stopped_run.out), **{"state.torch_rng": torch.zeros(10**5, dtype=torch.uint8)})
    args = ["train", "--data", stopped_run.data, "--out", stopped_run.out, "--resume", "--n_layer", "2", "--n_head",
            "2", "--n_embd", "32", "--block_size", "32", "--dropout", "0", "--batch_size", "8", "--max_iters", "20",
            "--eval_interval", "10", "--eval_iters", "4", "--learning_rate", "3e-3"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds state.torch_rng of shape (100,000)" in err and "Traceback" not in err, err


def test_a_snapshot_that_claims_a_bigger_model_is_left_out_of_the_timeline_and_refused(stopped_run):
    assert [frame.step for frame in timeline(stopped_run.out)] == [0, 10]  # 10: the checkpoint, its best step
    rewrite(snapshot_path(stopped_run.out, 0), {"n_layer": 400})
    assert [frame.step for frame in timeline(stopped_run.out)] == [10]
    with pytest.raises(CheckpointError, match=r"step-000000\.safetensors claims a model of 400 layers"):
        load_checkpoint(snapshot_path(stopped_run.out, 0))


# --- what a refusal costs ------------------------------------------------------------------------------

REFUSALS = r"""
import json, resource, sys, time
from pathlib import Path
import torch
from nanogpt.checkpoint import CheckpointError, load_checkpoint
from nanogpt.convert import convert

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

# a safety net for the code before the checks: an allocation past a few GB fails instead of swapping
vm_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize"))
resource.setrlimit(resource.RLIMIT_AS, ((vm_kb + 3_000_000) * 1024, resource.RLIM_INFINITY))
folder, meta = Path(sys.argv[1]), sys.argv[2]
rows = []
for path in sorted(folder.iterdir()):
    before, start = peak_mb(), time.perf_counter()
    try:
        if path.suffix == ".safetensors":
            load_checkpoint(path)
        else:
            convert(path, folder / "out.st", meta)
        refused = None
    except CheckpointError as e:
        refused = str(e)
    except BaseException as e:  # what the code before the checks does: it tries to allocate
        refused = None
    rows.append(dict(file=path.name, bytes=path.stat().st_size, refused=refused, s=time.perf_counter() - start,
                     grew_mb=peak_mb() - before))
print(json.dumps(rows))
"""


def test_refusing_a_lying_file_costs_a_few_mb_not_the_model_it_claims(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    lying(folder / "wide.safetensors", {"n_embd": 65536})
    lying(folder / "long.safetensors", {"block_size": 1_000_000, "pos_emb": False})
    lying(folder / "vocab.safetensors", {"vocab_size": 10_000_000})
    ckpt = torch.load(NANOGPT_DIR / "ckpt.pt", weights_only=True)
    ckpt["model_args"]["n_embd"] = 16384
    del ckpt["optimizer"]
    torch.save(ckpt, folder / "wide.pt")
    proc = subprocess.run([sys.executable, "-c", REFUSALS, str(folder), str(NANOGPT_DIR / "meta.pkl")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == 4
    for row in rows:
        assert row["bytes"] < 1_000_000 and row["refused"], row
        assert row["grew_mb"] < 50, row  # the claimed models are gigabytes to terabytes


@pytest.mark.parametrize("n_layer, n_head, n_embd", [(12, 12, 768), (24, 16, 1024)], ids=["124M", "355M"])
def test_the_command_line_opens_gpt2_124m_and_355m_and_the_server_sends_them_there(n_layer, n_head, n_embd):
    """GPT-2 small and medium as Hugging Face ships them: the operator may name them on the command line;
    an upload of one is refused with a sentence that says to open it by path."""
    gpt2 = GPTConfig(vocab_size=50257, block_size=1024, n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                     activation="gelu_tanh", qkv_bias=True, lm_head_bias=False, tied_lm_head=True)  # fmt: skip
    held = expected_shapes(gpt2)
    n_params = sum(math.prod(shape) for shape in held.values())
    assert 124e6 < n_params < 125e6 or 354e6 < n_params < 356e6
    check_claims(gpt2, held, "gpt2", limits.command_line())  # no error
    with pytest.raises(CheckpointError) as refused:
        check_claims(gpt2, held, "gpt2.safetensors", limits.server())
    assert "ATTENTION_LAB_MAX_PARAMS" in str(refused.value) and "opens by path" in str(refused.value)
    assert "attention-lab PATH" in str(refused.value)
