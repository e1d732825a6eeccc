"""Importing models trained by other code: nanoGPT's ckpt.pt and the lecture's gpt.py weights, checked
against what the original code computed on them (tests/fixtures/import/, its README says how they
were made), and files that must be refused with one line and nothing run."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from nanogpt import metrics
from nanogpt.__main__ import main
from nanogpt.capture import run_with_cache
from nanogpt.checkpoint import load_checkpoint
from nanogpt.generate import generate

FIXTURES = Path(__file__).parent / "fixtures" / "import"
NANOGPT_DIR = FIXTURES / "nanogpt-shakespeare-char"
LECTURE_DIR = FIXTURES / "lecture-gpt"
TINYSHAKESPEARE = Path(__file__).resolve().parents[1] / "data" / "tinyshakespeare.txt"
LOGIT_TOL, PATTERN_TOL = 1e-4, 1e-5  # what a faithful import reaches (the originals agree to ~1e-6)
PATTERNS = r"blocks\.\d+\.attn\.hook_pattern"


def expected(folder: Path) -> dict:
    with np.load(folder / "expected.npz") as f:
        return {name: f[name] for name in f.files}


def largest_differences(ckpt, want: dict) -> tuple[float, float]:
    """(logits, patterns): the largest absolute difference from what the original code computed."""
    assert ckpt.tokenizer.encode(str(want["prompt"])) == want["ids"][0].tolist()  # the same vocabulary
    logits, cache = run_with_cache(ckpt.model, torch.tensor(want["ids"]), PATTERNS)
    patterns = cache.stack("attn.hook_pattern")[:, 0]  # (L, H, T, T)
    return (
        float((logits - torch.from_numpy(want["logits"])).abs().max()),
        float((patterns - torch.from_numpy(want["patterns"])).abs().max()),
    )


def convert(*args) -> int:
    return main(["convert", *map(str, args)])


def one_error_line(err: str, *needles) -> None:
    """The CLI's refusal: one `error: ...` line naming what it must, no traceback."""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert str(needle) in err, (needle, err)


# --- nanoGPT's architecture, from its description, to check imports of files made here ------------


def nanogpt_state(n_layer=2, n_head=4, n_embd=32, block_size=64, vocab_size=65, bias=True, seed=0) -> dict:
    """A random state_dict under nanoGPT's names and shapes, lm_head tied to wte, biases far from zero."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=0.3):
        return torch.randn(*shape, generator=g) * scale

    C = n_embd
    wte = rand(vocab_size, C)
    sd = {"transformer.wte.weight": wte, "transformer.wpe.weight": rand(block_size, C)}
    linears = {"attn.c_attn": (3 * C, C), "attn.c_proj": (C, C), "mlp.c_fc": (4 * C, C), "mlp.c_proj": (C, 4 * C)}
    for i in range(n_layer):
        h = f"transformer.h.{i}."
        for ln in ("ln_1", "ln_2"):
            sd[h + ln + ".weight"] = 1 + rand(C, scale=0.2)
            if bias:
                sd[h + ln + ".bias"] = rand(C, scale=0.2)
        for name, shape in linears.items():
            sd[h + name + ".weight"] = rand(*shape, scale=shape[1] ** -0.5)
            if bias:
                sd[h + name + ".bias"] = rand(shape[0], scale=0.2)
        # the causal-mask buffer older nanoGPT versions keep in the state_dict
        sd[h + "attn.bias"] = torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size)
    sd["transformer.ln_f.weight"] = 1 + rand(C, scale=0.2)
    if bias:
        sd["transformer.ln_f.bias"] = rand(C, scale=0.2)
    sd["lm_head.weight"] = wte  # tied: one tensor under two names, as nanoGPT saves it
    return sd


def nanogpt_forward(sd: dict, n_head: int, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """nanoGPT's GPT.forward written from its description: logits (B, T, V) and patterns (L, H, T, T).

    x = wte[idx] + wpe[:T]; each block x += c_proj(attention(ln_1(x))), x += c_proj(gelu(c_fc(ln_2(x))));
    attention splits c_attn's output into q, k, v (n_embd each), heads of n_embd / n_head, softmax of
    q k^T / sqrt(head size) under a causal mask; then ln_f and logits = x @ wte^T (tied, no bias).
    LayerNorm eps 1e-5, exact GELU; a missing bias (bias=False) is no bias.
    """
    B, T = idx.shape
    C = sd["transformer.wte.weight"].shape[1]
    hs = C // n_head
    n_layer = len({k.split(".")[2] for k in sd if k.startswith("transformer.h.")})

    def ln(x, name):
        return F.layer_norm(x, (C,), sd[name + ".weight"], sd.get(name + ".bias"), 1e-5)

    def linear(x, name):
        return F.linear(x, sd[name + ".weight"], sd.get(name + ".bias"))

    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    x = sd["transformer.wte.weight"][idx] + sd["transformer.wpe.weight"][:T]
    patterns = []
    for i in range(n_layer):
        h = f"transformer.h.{i}."
        q, k, v = linear(ln(x, h + "ln_1"), h + "attn.c_attn").split(C, dim=-1)
        q, k, v = (t.reshape(B, T, n_head, hs).permute(0, 2, 1, 3) for t in (q, k, v))  # (B, H, T, hs)
        att = torch.softmax((q @ k.transpose(-1, -2) / math.sqrt(hs)).masked_fill(future, float("-inf")), dim=-1)
        patterns.append(att[0])
        y = (att @ v).permute(0, 2, 1, 3).reshape(B, T, C)
        x = x + linear(y, h + "attn.c_proj")
        x = x + linear(F.gelu(linear(ln(x, h + "ln_2"), h + "mlp.c_fc")), h + "mlp.c_proj")
    return ln(x, "transformer.ln_f") @ sd["transformer.wte.weight"].T, torch.stack(patterns)


def save_nanogpt(path: Path, sd: dict, *, n_head: int, bias: bool, dataset="shakespeare_char") -> Path:
    """A ckpt.pt laid out as nanoGPT's train.py writes it."""
    C, block_size = sd["transformer.wpe.weight"].shape[1], sd["transformer.wpe.weight"].shape[0]
    n_layer = len({k.split(".")[2] for k in sd if k.startswith("transformer.h.")})
    args = dict(n_layer=n_layer, n_head=n_head, n_embd=C, block_size=block_size, bias=bias,
                vocab_size=sd["transformer.wte.weight"].shape[0], dropout=0.0)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": sd, "optimizer": {}, "model_args": args, "iter_num": 7,
                "best_val_loss": torch.tensor(3.25), "config": dict(args, dataset=dataset)}, path)  # fmt: skip
    return path


# --- the originals ------------------------------------------------------------------------------


def test_a_nanogpt_checkpoint_computes_what_nanogpt_computed(tmp_path, capsys):
    out = tmp_path / "shakespeare-char.safetensors"
    assert convert(NANOGPT_DIR / "ckpt.pt", "--out", out) == 0  # its meta.pkl is found beside it
    printed = capsys.readouterr().out
    for fact in ("106,880 parameters", "2 layers x 4 heads", "context 64", "vocabulary 65", "meta.pkl", "iter 300"):
        assert fact in printed, (fact, printed)
    ckpt = load_checkpoint(out)
    logits, patterns = largest_differences(ckpt, expected(NANOGPT_DIR))
    assert logits < LOGIT_TOL and patterns < PATTERN_TOL
    cfg = ckpt.model.config
    assert (cfg.bias, cfg.qkv_bias, cfg.lm_head_bias, cfg.tied_lm_head, cfg.activation) == (
        False, False, False, True, "gelu")  # fmt: skip
    assert ckpt.model.lm_head.weight is ckpt.model.tok_emb.weight  # the tie survived the file
    meta = ckpt.meta
    assert meta["source_format"] == "nanogpt" and meta["source_file"].endswith("ckpt.pt")
    assert meta["iter_num"] == 300 and meta["best_val_loss"] == pytest.approx(2.5487, abs=1e-4)
    assert meta["original_config"]["config"]["dataset"] == "shakespeare_char"
    assert meta["original_config"]["model_args"]["bias"] is False


def test_a_lecture_state_dict_computes_what_gpt_py_computed(tmp_path, capsys):
    out = tmp_path / "lecture.safetensors"
    assert convert(LECTURE_DIR / "model.pt", "--out", out, "--vocab-text", TINYSHAKESPEARE) == 0
    assert "2 layers x 3 heads" in capsys.readouterr().out
    ckpt = load_checkpoint(out)
    logits, patterns = largest_differences(ckpt, expected(LECTURE_DIR))
    assert logits < LOGIT_TOL and patterns < PATTERN_TOL
    assert ckpt.model.config.activation == "relu" and not ckpt.model.config.tied_lm_head
    assert ckpt.meta["source_format"] == "lecture-gpt" and ckpt.meta["source_vocab"] == str(TINYSHAKESPEARE)


def test_a_compiled_nanogpt_checkpoint_with_mask_buffers_still_matches(tmp_path):
    """compile=True runs save every name under `_orig_mod.`; older versions keep attn.bias masks.
    The vocabulary is found where nanoGPT keeps it: data/<dataset>/meta.pkl of its repository."""
    ckpt = torch.load(NANOGPT_DIR / "ckpt.pt", weights_only=True)
    state = dict(ckpt["model"])
    for i in range(ckpt["model_args"]["n_layer"]):
        state[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(64, 64)).view(1, 1, 64, 64)
    ckpt["model"] = {f"_orig_mod.{name}": t for name, t in state.items()}
    repo = tmp_path / "nanoGPT"
    (repo / "out-compiled").mkdir(parents=True)
    torch.save(ckpt, repo / "out-compiled" / "ckpt.pt")
    (repo / "data" / "shakespeare_char").mkdir(parents=True)
    (repo / "data" / "shakespeare_char" / "meta.pkl").write_bytes((NANOGPT_DIR / "meta.pkl").read_bytes())
    out = tmp_path / "compiled.safetensors"
    assert convert(repo / "out-compiled" / "ckpt.pt", "--out", out) == 0
    imported = load_checkpoint(out)
    logits, patterns = largest_differences(imported, expected(NANOGPT_DIR))
    assert logits < LOGIT_TOL and patterns < PATTERN_TOL
    assert imported.meta["compiled"] is True
    assert imported.meta["source_vocab"] == str(repo / "data" / "shakespeare_char" / "meta.pkl")


def test_the_reference_forward_reproduces_nanogpts_own_numbers():
    """The test's nanoGPT (nanogpt_forward) is faithful: on the real file it gives nanoGPT's numbers."""
    sd = torch.load(NANOGPT_DIR / "ckpt.pt", weights_only=True)["model"]
    want = expected(NANOGPT_DIR)
    logits, patterns = nanogpt_forward(sd, 4, torch.tensor(want["ids"]))
    assert torch.allclose(logits, torch.from_numpy(want["logits"]), atol=LOGIT_TOL)
    assert torch.allclose(patterns, torch.from_numpy(want["patterns"]), atol=PATTERN_TOL)


def test_a_bias_true_nanogpt_checkpoint_matches_nanogpts_architecture(tmp_path):
    sd = nanogpt_state(bias=True)
    src = save_nanogpt(tmp_path / "out" / "ckpt.pt", sd, n_head=4, bias=True)
    out = tmp_path / "bias.safetensors"
    assert convert(src, "--out", out, "--meta", NANOGPT_DIR / "meta.pkl") == 0
    ckpt = load_checkpoint(out)
    cfg = ckpt.model.config
    assert cfg.bias and cfg.qkv_bias and not cfg.lm_head_bias and cfg.tied_lm_head
    idx = torch.randint(0, 65, (1, 64), generator=torch.Generator().manual_seed(1))
    want_logits, want_patterns = nanogpt_forward(sd, 4, idx)
    logits, cache = run_with_cache(ckpt.model, idx, PATTERNS)
    assert (logits - want_logits).abs().max() < LOGIT_TOL
    assert (cache.stack("attn.hook_pattern")[:, 0] - want_patterns).abs().max() < PATTERN_TOL
    assert ckpt.meta["iter_num"] == 7 and ckpt.meta["best_val_loss"] == 3.25


def test_every_hook_metric_and_intervention_works_on_an_imported_6x6_model_at_T_256(tmp_path):
    sd = nanogpt_state(n_layer=6, n_head=6, n_embd=48, block_size=256, bias=True, seed=3)
    src = save_nanogpt(tmp_path / "ckpt.pt", sd, n_head=6, bias=True)
    out = tmp_path / "six.safetensors"
    assert convert(src, "--out", out, "--vocab-text", TINYSHAKESPEARE) == 0
    model = load_checkpoint(out).model
    idx = torch.randint(0, 65, (1, 256), generator=torch.Generator().manual_seed(2))
    want_logits, want_patterns = nanogpt_forward(sd, 6, idx)
    logits, cache = run_with_cache(model, idx)  # every hook point
    assert (logits - want_logits).abs().max() < LOGIT_TOL
    assert (cache.stack("attn.hook_pattern")[:, 0] - want_patterns).abs().max() < PATTERN_TOL
    assert cache["blocks.5.attn.hook_pattern"].shape == (1, 6, 256, 256)
    assert len(metrics.summary(cache)["heads"]) == 36
    labels, lens = metrics.logit_lens(model, cache)
    assert lens.shape[0] == len(labels) and torch.allclose(lens[-1], torch.softmax(logits, -1), atol=1e-5)
    for intervention in ({"ablate_heads": [(5, 2)]}, {"attn_scale": "none"}, {"causal": False}):
        changed, _ = run_with_cache(model, idx, PATTERNS, **intervention)
        assert not torch.allclose(changed, logits, atol=1e-3), intervention
    prompt = idx[0, :200].tolist()
    assert generate(model, prompt, 40, seed=1) == generate(model, prompt, 40, seed=1, use_cache=False)


# --- files that must be refused -----------------------------------------------------------------


class CreatesAFile:
    """Unpickling this calls open(path, "w"): a file appears if anything in a pickle is run."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_the_hostile_objects_would_run_if_unpickled_plainly(tmp_path):
    """What makes the refusals below mean something: a plain pickle.load does create the file."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps({"itos": CreatesAFile(marker)}))
    assert marker.exists()


def test_a_hostile_meta_pkl_is_refused_and_nothing_runs(tmp_path, capsys):
    marker = tmp_path / "ran"
    folder = tmp_path / "out-evil"
    folder.mkdir()
    (folder / "ckpt.pt").write_bytes((NANOGPT_DIR / "ckpt.pt").read_bytes())
    (folder / "meta.pkl").write_bytes(pickle.dumps({"itos": CreatesAFile(marker), "vocab_size": 65}))
    assert convert(folder / "ckpt.pt", "--out", tmp_path / "x.safetensors") == 2
    one_error_line(capsys.readouterr().err, folder / "meta.pkl", "asks for", "open")
    assert not marker.exists() and not (tmp_path / "x.safetensors").exists()


def test_a_hostile_pt_is_refused_by_the_real_command_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    src = tmp_path / "ckpt.pt"
    torch.save({"model_args": {"n_layer": 1}, "model": {"w": CreatesAFile(marker)}}, src)
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "nanogpt", "convert", str(src), "--out", str(tmp_path / "x.st")],
                          capture_output=True, text=True, cwd=root)  # fmt: skip
    assert proc.returncode == 2
    one_error_line(proc.stderr, src, "asks for", "open")
    assert not marker.exists()


def test_a_truncated_file_gets_one_line(tmp_path, capsys):
    data = (NANOGPT_DIR / "ckpt.pt").read_bytes()
    src = tmp_path / "ckpt.pt"
    src.write_bytes(data[: len(data) // 2])
    assert convert(src, "--out", tmp_path / "x.safetensors", "--meta", NANOGPT_DIR / "meta.pkl") == 2
    one_error_line(capsys.readouterr().err, src, "truncated")
    meta = tmp_path / "meta.pkl"
    meta.write_bytes((NANOGPT_DIR / "meta.pkl").read_bytes()[:300])
    assert convert(NANOGPT_DIR / "ckpt.pt", "--out", tmp_path / "x.safetensors", "--meta", meta) == 2
    one_error_line(capsys.readouterr().err, meta, "truncated")


def test_a_missing_vocabulary_says_where_it_looked_and_what_to_pass(tmp_path, capsys):
    src = tmp_path / "out-x" / "ckpt.pt"
    src.parent.mkdir()
    src.write_bytes((NANOGPT_DIR / "ckpt.pt").read_bytes())
    assert convert(src, "--out", tmp_path / "x.safetensors") == 2
    one_error_line(capsys.readouterr().err, src, "data/shakespeare_char/", "--meta")
    assert convert(LECTURE_DIR / "model.pt", "--out", tmp_path / "x.safetensors") == 2
    one_error_line(capsys.readouterr().err, "model.pt", "--vocab-text")
    assert not (tmp_path / "x.safetensors").exists()


def test_weights_that_do_not_fit_get_one_line(tmp_path, capsys):
    ckpt = torch.load(NANOGPT_DIR / "ckpt.pt", weights_only=True)
    ckpt["model_args"]["n_embd"] = 32  # the file's weights are 64 wide
    src = tmp_path / "ckpt.pt"
    torch.save(ckpt, src)
    assert convert(src, "--out", tmp_path / "x.safetensors", "--meta", NANOGPT_DIR / "meta.pkl") == 2
    one_error_line(capsys.readouterr().err, src, "32 wide", "disagree")
    few = tmp_path / "few.txt"
    few.write_text("abc\n")
    assert convert(NANOGPT_DIR / "ckpt.pt", "--out", tmp_path / "x.safetensors", "--vocab-text", few) == 2
    one_error_line(capsys.readouterr().err, "65 characters", few)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.ones(2)}, other)
    assert convert(other, "--out", tmp_path / "x.safetensors") == 2
    one_error_line(capsys.readouterr().err, other, "neither a nanoGPT checkpoint")


def _damaged_zip(tmp_path) -> Path:
    """A torch.save zip whose records torch cannot read (PytorchStreamReader's miniz error)."""
    good = tmp_path / "good.pt"
    torch.save(torch.zeros(4), good)
    broken = bytearray(good.read_bytes())
    broken[200:600] = bytes(b ^ 0x5A for b in broken[200:600])
    path = tmp_path / "damaged.pt"
    path.write_bytes(bytes(broken))
    return path


def _garbage_pickle(tmp_path) -> Path:
    """A torch.save zip whose data.pkl is no pickle (PyTorch's 'Weights only load failed...' paragraph)."""
    import zipfile

    good = tmp_path / "good.pt"
    torch.save(torch.zeros(4), good)
    path = tmp_path / "garbage.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as out:
        for name in src.namelist():
            out.writestr(name, b"\x80\x02not a pickle" if name.endswith("data.pkl") else src.read(name))
    return path


@pytest.mark.parametrize("make", [_damaged_zip, _garbage_pickle])
def test_a_file_torch_cannot_read_gets_one_sentence_of_what_is_wrong_and_what_to_use(tmp_path, capsys, make):
    from nanogpt.convert import unreadable

    src = make(tmp_path)
    assert convert(src, "--out", tmp_path / "x.safetensors", "--meta", NANOGPT_DIR / "meta.pkl") == 2
    err = capsys.readouterr().err
    one_error_line(err, src, "damaged", "nanoGPT's ckpt.pt")
    said = err.removeprefix("error: ").strip()
    assert said == unreadable(src)  # the wording lives in one place, the app's upload message uses it too
    # PyTorch's own text is for its developers, and was cut mid-word: none of it
    assert "weights_only" not in said and "PytorchStreamReader" not in said and "miniz" not in said
    assert said.endswith(".") and said.count(". ") == 0  # one sentence
