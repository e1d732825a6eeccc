"""GPT-2-style models written by other code: nanoGPT's BPE ckpt.pt (no meta.pkl, vocabulary padded to
50304) and Hugging Face GPT-2 folders (save_pretrained's, and the hub cache's layout), against the
logits and attention the original code computed (tests/fixtures/gpt2/README.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from nanogpt import convert as convert_module
from nanogpt.capture import run_with_cache
from nanogpt.checkpoint import CheckpointError, load_checkpoint, read_metadata
from nanogpt.convert import convert, import_model
from nanogpt.tokenizer import BPETokenizer

ROOT = Path(__file__).resolve().parents[1]

FIXTURES = Path(__file__).parent / "fixtures" / "gpt2"
OWT, HF = FIXTURES / "nanogpt-owt", FIXTURES / "hf-gpt2"
TEXT = json.loads((Path(__file__).parent / "fixtures" / "gpt2-texts.json").read_text())["public"]["text"]


def logits_and_patterns(ckpt, ids):
    with torch.no_grad():
        logits, cache = run_with_cache(ckpt.model, torch.tensor([ids]))  # (1, T, V)
    patterns = [cache[f"blocks.{i}.attn.hook_pattern"][0] for i in range(ckpt.model.config.n_layer)]
    return logits[0].numpy(), torch.stack(patterns).numpy()  # (T, V), (L, H, T, T)


def test_a_nanogpt_owt_checkpoint_opens_as_gpt2_tokens_with_nanogpts_logits(tmp_path):
    expected = np.load(OWT / "expected.npz")
    ckpt = convert(OWT / "ckpt.pt", tmp_path / "owt.safetensors")  # no meta.pkl anywhere: GPT-2's tokens
    assert isinstance(ckpt.tokenizer, BPETokenizer) and ckpt.tokenizer.unit == "token"
    assert ckpt.tokenizer.encode(TEXT) == expected["ids"].tolist()
    logits, _ = logits_and_patterns(ckpt, expected["ids"].tolist())
    # ids 50257-50303 are nanoGPT's padding, no token: their rows are gone, so they cannot be sampled or shown
    assert logits.shape[-1] == 50257 and ckpt.model.config.vocab_size == 50257
    assert expected["logits"].shape[-1] == 50304
    np.testing.assert_allclose(logits[expected["positions"]], expected["logits"][:, :50257], atol=1e-4, rtol=0)
    meta = read_metadata(tmp_path / "owt.safetensors")  # the file says which tokenizer it needs
    assert meta["tokenizer"] == {"kind": "bpe", "name": "gpt2"} and meta["padded_vocab_size"] == 50304
    assert meta["source_vocab"] == "gpt2" and meta["iter_num"] > 0


def test_torch_compiles_prefix_is_taken_too(tmp_path):
    ckpt = torch.load(OWT / "ckpt.pt", map_location="cpu", weights_only=True)
    ckpt["model"] = {"_orig_mod." + name: t for name, t in ckpt["model"].items()}
    torch.save(ckpt, tmp_path / "ckpt.pt")
    expected = np.load(OWT / "expected.npz")
    logits, _ = logits_and_patterns(import_model(tmp_path / "ckpt.pt"), expected["ids"].tolist())
    np.testing.assert_allclose(logits[expected["positions"]], expected["logits"][:, :50257], atol=1e-4, rtol=0)


def test_a_vocabulary_that_cannot_be_told_is_one_sentence_naming_what_was_found(tmp_path):
    ckpt = torch.load(OWT / "ckpt.pt", map_location="cpu", weights_only=True)
    ckpt["model_args"]["vocab_size"] = 1000
    for name in ("transformer.wte.weight", "lm_head.weight"):
        ckpt["model"][name] = ckpt["model"][name][:1000]
    torch.save(ckpt, tmp_path / "ckpt.pt")
    with pytest.raises(CheckpointError) as e:
        import_model(tmp_path / "ckpt.pt")
    said = str(e.value)
    assert "vocabulary 1,000" in said and "no meta.pkl beside it or in data/openwebtext/" in said
    assert "--meta" in said and "--tokenizer gpt2" in said and "\n" not in said
    with pytest.raises(CheckpointError, match="cannot be GPT-2's 50,257 tokens"):
        import_model(tmp_path / "ckpt.pt", tokenizer="gpt2")


def test_a_hugging_face_folder_opens_with_transformers_logits_and_attention(tmp_path):
    expected = np.load(HF / "expected.npz")
    ckpt = convert(HF, tmp_path / "hf.safetensors")
    assert ckpt.model.config.activation == "gelu_tanh"  # gelu_new; nanoGPT's exact gelu would miss by ~1e-3
    logits, patterns = logits_and_patterns(ckpt, expected["ids"].tolist())
    np.testing.assert_allclose(logits[expected["positions"]], expected["logits"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(patterns, expected["attentions"], atol=1e-5, rtol=0)
    assert read_metadata(tmp_path / "hf.safetensors")["source_format"] == "huggingface"


def hub_cache(root: Path, source: Path = HF, commit: str = "607a30d783dfa663caf39e06633721c8d4cfcd7e") -> Path:
    """HF's hub cache layout of a model folder (the fixture's by default), as huggingface_hub writes one
    download: blobs named by sha256, a snapshot of relative symlinks, refs/main naming the commit."""
    repo = root / "hub" / "models--gpt2"
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    files = sorted(file for file in source.iterdir() if file.name != "expected.npz")
    for i, file in enumerate(files):
        blob = f"{i:064x}"
        shutil.copyfile(file, repo / "blobs" / blob)
        os.symlink(f"../../blobs/{blob}", repo / "snapshots" / commit / file.name)
    return repo


@pytest.mark.parametrize("where", ["models--gpt2", "snapshot"])
def test_the_hub_caches_layout_opens_offline(tmp_path, where):
    repo = hub_cache(tmp_path)
    src = repo if where == "models--gpt2" else next((repo / "snapshots").iterdir())
    expected = np.load(HF / "expected.npz")
    logits, _ = logits_and_patterns(import_model(src), expected["ids"].tolist())
    np.testing.assert_allclose(logits[expected["positions"]], expected["logits"], atol=1e-4, rtol=0)


def test_a_hub_cache_copied_without_its_symlinks_still_opens(tmp_path):
    """A copy that lost the snapshot's links (an archive, a checkout) keeps each as a text file naming its
    blob: followed into that cache's blobs/ only."""
    repo = hub_cache(tmp_path)
    snapshot = next((repo / "snapshots").iterdir())
    for link in snapshot.iterdir():
        target = os.readlink(link)
        link.unlink()
        link.write_text(target)
    expected = np.load(HF / "expected.npz")
    logits, _ = logits_and_patterns(import_model(repo), expected["ids"].tolist())
    np.testing.assert_allclose(logits[expected["positions"]], expected["logits"], atol=1e-4, rtol=0)
    (snapshot / "config.json").write_text("../../../../etc/passwd")  # not a blob of this cache: read as it is
    with pytest.raises(CheckpointError, match="not readable JSON"):
        import_model(repo)


def test_hugging_face_folders_that_are_not_gpt2_or_lie_are_refused_before_building(tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(HF, folder)
    config = json.loads((HF / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"model_type": "llama"}))
    with pytest.raises(CheckpointError, match="type 'llama'"):
        import_model(folder)
    (folder / "config.json").write_text(json.dumps(config | {"n_layer": 40}))
    with pytest.raises(CheckpointError, match="has no blocks.2.ln1.weight"):
        import_model(folder)
    (folder / "config.json").write_text(json.dumps(config | {"n_positions": 10**6}))
    with pytest.raises(CheckpointError, match="over the limit"):
        import_model(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not readable JSON"):
        import_model(folder)
    (folder / "config.json").write_text(json.dumps(config | {"padding": "x" * 2_000_000}))
    with pytest.raises(CheckpointError, match="not a config.json"):
        import_model(folder)  # refused by its size, before it is read
    (folder / "config.json").write_text(json.dumps(config | {"activation_function": "swish"}))
    with pytest.raises(CheckpointError, match="activation_function 'swish'"):
        import_model(folder)
    with pytest.raises(CheckpointError, match="no config.json"):
        import_model(tmp_path)


def test_the_converted_gpt2_file_reopens_on_its_own(tmp_path):
    convert(OWT / "ckpt.pt", tmp_path / "owt.safetensors")
    again = load_checkpoint(tmp_path / "owt.safetensors")
    assert again.tokenizer is BPETokenizer.gpt2() and again.model.config.vocab_size == 50257


SHARDS = 3
INDEX = "model.safetensors.index.json"


def shard_name(i: int) -> str:
    return f"model-{i:05d}-of-{SHARDS:05d}.safetensors"  # as save_pretrained names them


def sharded_copy(folder: Path) -> Path:
    """The fixture as save_pretrained writes a model over max_shard_size: its tensors dealt into
    SHARDS files and model.safetensors.index.json naming each one's file, no model.safetensors."""
    folder.mkdir(parents=True)
    for name in ("config.json", "generation_config.json"):
        shutil.copyfile(HF / name, folder / name)
    tensors = load_file(HF / "model.safetensors")
    weight_map = {}
    for i in range(1, SHARDS + 1):
        names = sorted(tensors)[i - 1 :: SHARDS]
        save_file({name: tensors[name] for name in names}, folder / shard_name(i), metadata={"format": "pt"})
        weight_map |= dict.fromkeys(names, shard_name(i))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    write_index(folder, weight_map, total)
    return folder


def write_index(folder: Path, weight_map: dict, total: int = 0) -> None:
    (folder / INDEX).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))


def index_of(folder: Path) -> dict:
    return json.loads((folder / INDEX).read_text())["weight_map"]


def largest_differences(ckpt, expected) -> tuple[float, float]:
    """(logits, attention): the largest absolute difference from what transformers computed."""
    logits, patterns = logits_and_patterns(ckpt, expected["ids"].tolist())
    return (
        float(np.abs(logits[expected["positions"]] - expected["logits"]).max()),
        float(np.abs(patterns - expected["attentions"]).max()),
    )


def test_a_sharded_hugging_face_folder_opens_with_transformers_logits_and_attention(tmp_path):
    folder = sharded_copy(tmp_path / "m")
    assert not (folder / "model.safetensors").exists() and len(set(index_of(folder).values())) == SHARDS
    ckpt = convert(folder, tmp_path / "hf.safetensors")
    logit_diff, attention_diff = largest_differences(ckpt, np.load(HF / "expected.npz"))
    print(f"sharded folder: logits {logit_diff:.2g}, attention {attention_diff:.2g}")  # -s shows what was reached
    assert logit_diff <= 1e-4 and attention_diff <= 1e-5
    assert read_metadata(tmp_path / "hf.safetensors")["source_format"] == "huggingface"


def test_a_sharded_model_in_the_hub_cache_converts_with_the_real_command(tmp_path):
    repo = hub_cache(tmp_path, sharded_copy(tmp_path / "saved"))
    snapshot = next((repo / "snapshots").iterdir())
    assert (snapshot / shard_name(2)).is_symlink() and not (snapshot / "model.safetensors").exists()
    out = tmp_path / "hf.safetensors"
    proc = subprocess.run([sys.executable, "-m", "nanogpt", "convert", str(repo), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    logit_diff, attention_diff = largest_differences(load_checkpoint(out), np.load(HF / "expected.npz"))
    print(f"sharded hub cache: logits {logit_diff:.2g}, attention {attention_diff:.2g}")
    assert logit_diff <= 1e-4 and attention_diff <= 1e-5


def refusal(folder: Path) -> str:
    with pytest.raises(CheckpointError) as e:
        import_model(folder)
    said = str(e.value)
    assert "\n" not in said, said  # one sentence, no traceback
    return said


def test_a_shard_named_outside_its_folder_is_refused_though_the_file_is_there(tmp_path):
    folder = sharded_copy(tmp_path / "m")
    shutil.move(folder / shard_name(1), tmp_path / shard_name(1))  # readable, one folder up
    weight_map = index_of(folder)
    for reach in (f"../{shard_name(1)}", str(tmp_path / shard_name(1)), "..", ""):
        write_index(folder, {name: reach if shard == shard_name(1) else shard for name, shard in weight_map.items()})
        said = refusal(folder)
        assert f"in {reach!r}, which is not a file name beside it" in said and str(folder) in said
    shutil.move(tmp_path / shard_name(1), folder / shard_name(1))
    write_index(folder, weight_map)
    import_model(folder)  # the same files, named as files of the folder: read


def test_a_missing_shard_or_a_tensor_its_shard_lacks_is_one_sentence(tmp_path):
    folder = sharded_copy(tmp_path / "m")
    weight_map = index_of(folder)
    (folder / shard_name(2)).rename(tmp_path / "elsewhere")
    said = refusal(folder)
    assert f"{folder} has no {shard_name(2)}, the shard {INDEX} names for" in said
    (tmp_path / "elsewhere").rename(folder / shard_name(2))
    moved = next(name for name, shard in weight_map.items() if shard == shard_name(1))
    write_index(folder, weight_map | {moved: shard_name(3)})
    said = refusal(folder)
    assert f"{folder / INDEX} names {moved} in {shard_name(3)}, which does not hold it" in said


def test_an_index_that_is_not_one_is_refused(tmp_path):
    folder = sharded_copy(tmp_path / "m")
    (folder / INDEX).write_text("{not json")
    assert "not readable JSON" in refusal(folder)
    for wrong in ([], {"metadata": {}}, {"weight_map": {}}, {"weight_map": {"wte.weight": 3}}):
        (folder / INDEX).write_text(json.dumps(wrong))
        assert "is not a transformers shard index" in refusal(folder)
    (folder / INDEX).write_text(json.dumps({"weight_map": {}, "padding": "x" * (5 << 20)}))
    assert "not a shard index" in refusal(folder)  # refused by its size, before it is read
    (folder / INDEX).unlink()
    assert "has no model.safetensors (nor the model.safetensors.index.json of its shards)" in refusal(folder)


def test_shards_that_disagree_with_the_config_are_refused_before_a_tensor_is_read(tmp_path, monkeypatch):
    folder = sharded_copy(tmp_path / "m")
    name = "transformer.h.1.mlp.c_fc.weight"
    shard = folder / index_of(folder)[name]
    tensors = load_file(shard)
    tensors[name] = torch.zeros(32, 64)  # (in, out) = (C, 4C) = (32, 128) in the config
    save_file(tensors, shard)
    read = []

    class Spying:
        """safe_open, noting every tensor whose data is read."""

        def __init__(self, *args, **kwargs):
            self.file = safe_open(*args, **kwargs)

        def __enter__(self):
            self.f = self.file.__enter__()
            return self

        def __exit__(self, *exc):
            return self.file.__exit__(*exc)

        def keys(self):
            return self.f.keys()

        def get_slice(self, name):
            return self.f.get_slice(name)

        def get_tensor(self, name):
            read.append(name)
            return self.f.get_tensor(name)

    monkeypatch.setattr(convert_module, "safe_open", Spying)
    said = refusal(folder)
    assert f"{folder / INDEX} claims" in said and "holds blocks.1.ffwd.net.0.weight of shape" in said
    assert read == []
    tensors[name] = torch.zeros(32, 128)
    save_file(tensors, shard)
    import_model(folder)
    assert len(read) == len(index_of(folder))  # the spy sees reads: every tensor once, the config's shapes held
