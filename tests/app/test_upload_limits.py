"""Uploads that ask too much of a server a class shares (issue #23): a file that lies about its size gets
the sentence that says so in the sidebar, a session's share of uploads is bounded, and the uploads
folder is trimmed oldest first without taking a file a live session uses."""

from __future__ import annotations

import gc
import json
import os
import tomllib
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from viz_app.backend import uploads
from viz_app.backend.registry import SESSION_MODELS_KEY

from .app_helpers import texts

ROOT = Path(__file__).resolve().parents[2]
NANOGPT_DIR = ROOT / "tests" / "fixtures" / "import" / "nanogpt-shakespeare-char"


@pytest.fixture(autouse=True)
def private_uploads(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "UPLOAD_DIR", tmp_path / "uploads")
    return tmp_path / "uploads"


def upload(at, *files: tuple[str, bytes]):
    uploader = at.sidebar.file_uploader(key="upload")
    for name, data in files:
        uploader.upload(name, data)
    return at.run()


def claiming(ckpt: Path, tmp_path: Path, **claims) -> bytes:
    """The tiny checkpoint's bytes, its metadata claiming `claims` (its tensors as they are)."""
    with safe_open(str(ckpt), "pt") as f:
        header = json.loads(f.metadata()["nanogpt"])
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    header["model_config"].update(claims)
    path = tmp_path / "liar.safetensors"
    save_file(tensors, path, metadata={"nanogpt": json.dumps(header)})
    return path.read_bytes()


def only_error(at) -> str:
    assert not at.exception, [e.value for e in at.exception]
    return texts(at.error)


def test_a_safetensors_that_claims_a_huge_model_gets_the_sentence_and_is_not_offered(make_app, tiny_ckpt, tmp_path):
    at = make_app().run()
    at = upload(at, ("liar.safetensors", claiming(tiny_ckpt, tmp_path, n_embd=65536)))
    error = only_error(at)
    assert "liar.safetensors claims a model of 2 layers x 2 heads x 65,536 wide" in error, error
    assert "its config and its weights disagree" in error and str(uploads.UPLOAD_DIR) not in error
    assert not (at.session_state[SESSION_MODELS_KEY] if SESSION_MODELS_KEY in at.session_state else {})
    assert at.sidebar.selectbox(key="model").value == "tiny"


def test_a_ckpt_pt_whose_model_args_claim_a_huge_model_is_refused_with_the_servers_limit(make_app, tmp_path):
    ckpt = torch.load(NANOGPT_DIR / "ckpt.pt", weights_only=True)
    ckpt["model_args"]["n_layer"] = 100_000
    del ckpt["optimizer"]
    torch.save(ckpt, tmp_path / "ckpt.pt")
    at = upload(make_app().run(), ("ckpt.pt", (tmp_path / "ckpt.pt").read_bytes()),
                ("meta.pkl", (NANOGPT_DIR / "meta.pkl").read_bytes()))  # fmt: skip
    error = only_error(at)
    assert "ckpt.pt claims n_layer 100,000, over the limit of 48 (ATTENTION_LAB_MAX_LAYERS)" in error, error


def test_the_servers_limits_come_from_its_environment(make_app, tiny_ckpt, monkeypatch):
    monkeypatch.setenv("ATTENTION_LAB_MAX_PARAMS", "1000")
    at = upload(make_app().run(), ("mine.safetensors", tiny_ckpt.read_bytes()))
    error = only_error(at)
    assert "mine.safetensors claims a model of " in error, error
    assert "over the limit of 1,000 (ATTENTION_LAB_MAX_PARAMS)" in error and "opens by path" in error
    monkeypatch.delenv("ATTENTION_LAB_MAX_PARAMS")
    at = upload(make_app().run(), ("mine.safetensors", tiny_ckpt.read_bytes()))
    assert not only_error(at) and at.sidebar.selectbox(key="model").value == "mine (uploaded)"


def test_a_session_uploads_at_most_its_share(make_app, monkeypatch):
    monkeypatch.setenv(uploads.SESSION_FILES_ENV, "1")
    at = upload(make_app().run(), ("ckpt.pt", (NANOGPT_DIR / "ckpt.pt").read_bytes()),
                ("meta.pkl", (NANOGPT_DIR / "meta.pkl").read_bytes()))  # fmt: skip
    error = only_error(at)
    assert "This session has uploaded 1 files" in error and "meta.pkl" in error, error
    assert f"1 files, 400 MB: {uploads.SESSION_FILES_ENV}" in error and "new tab" in error
    assert at.sidebar.selectbox(key="model").value == "tiny"


def test_the_uploads_folder_is_trimmed_oldest_first_and_never_a_file_a_live_session_uses(make_app, private_uploads):
    at = upload(make_app().run(), ("ckpt.pt", (NANOGPT_DIR / "ckpt.pt").read_bytes()),
                ("meta.pkl", (NANOGPT_DIR / "meta.pkl").read_bytes()))  # fmt: skip
    assert at.sidebar.selectbox(key="model").value == "ckpt (uploaded)"
    used = sorted(p for p in private_uploads.rglob("*") if p.is_file())
    assert len(used) == 3  # ckpt.pt, meta.pkl and the converted .safetensors
    old = [uploads.store(bytes([i]) * 1000, ".json") for i in range(3)]  # no session: nobody keeps them
    for i, path in enumerate(old):
        os.utime(path, ns=(i * 10**9, i * 10**9))  # older than anything the session stored
    pinned = uploads.store(b"pinned", ".json")
    os.utime(pinned, ns=(0, 0))
    uploads.pin(pinned)

    total_mb = sum(p.stat().st_size for p in private_uploads.rglob("*") if p.is_file()) / 2**20
    cap = int(total_mb) + 1  # room for everything: nothing goes
    assert uploads.trim(cap_mb=cap) == []
    assert uploads.trim(cap_mb=0) == old  # oldest first, and only what no live session keeps
    assert all(p.exists() for p in used) and pinned.exists()

    del at  # the session ends: its state, and what it kept, go with it
    gc.collect()
    assert sorted(uploads.trim(cap_mb=0)) == used and pinned.exists()
    assert not [p for p in private_uploads.iterdir() if p.is_dir() and p.name != "converted"]  # no empty <hash>/


def test_streamlit_takes_a_real_nanogpt_checkpoint_and_not_much_more():
    """nanoGPT's shakespeare_char ckpt.pt is about 130 MB (10.8M parameters with AdamW's two moments)."""
    config = tomllib.loads((ROOT / "viz_app" / ".streamlit" / "config.toml").read_text())
    assert 130 < config["server"]["maxUploadSize"] <= 200  # MB; Streamlit's default is 200
