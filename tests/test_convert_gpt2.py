"""GPT-2-style models written by other code: nanoGPT's BPE ckpt.pt (no meta.pkl, vocabulary padded to
50304) and Hugging Face GPT-2 folders (save_pretrained's, and the hub cache's layout), against the
logits and attention the original code computed (tests/fixtures/gpt2/README.md)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nanogpt.capture import run_with_cache
from nanogpt.checkpoint import CheckpointError, load_checkpoint, read_metadata
from nanogpt.convert import convert, import_model
from nanogpt.tokenizer import BPETokenizer

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


def hub_cache(root: Path, commit: str = "607a30d783dfa663caf39e06633721c8d4cfcd7e") -> Path:
    """HF's hub cache layout of the fixture, as huggingface_hub writes one download: blobs named by
    sha256, a snapshot of relative symlinks, refs/main naming the commit."""
    repo = root / "hub" / "models--gpt2"
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for i, name in enumerate(("config.json", "generation_config.json", "model.safetensors")):
        blob = f"{i:064x}"
        shutil.copyfile(HF / name, repo / "blobs" / blob)
        os.symlink(f"../../blobs/{blob}", repo / "snapshots" / commit / name)
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
