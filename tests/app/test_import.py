"""Opening a model trained by other code in the app: nanoGPT's ckpt.pt with its meta.pkl and the
lecture's gpt.py weights through the sidebar's upload, and `make app CKPT=...` (ATTENTION_LAB_CKPT)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from nanogpt.capture import run_with_cache
from nanogpt.checkpoint import load_checkpoint
from viz_app.backend.imported import OPEN_ENV
from viz_app.backend.registry import SESSION_MODELS_KEY

from .app_helpers import PROMPT, array, assert_clean, charts, figure_titled, heatmaps, texts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import"
NANOGPT_DIR = FIXTURES / "nanogpt-shakespeare-char"
LECTURE_PT = FIXTURES / "lecture-gpt" / "model.pt"


def upload(at, *paths: Path):
    uploader = at.sidebar.file_uploader(key="upload")
    for path in paths:
        uploader.upload(path.name, path.read_bytes())
    return at.run()


def shown_model(at):
    """The checkpoint the sidebar's choice points at, loaded as the app loads it."""
    label = at.sidebar.selectbox(key="model").value
    return load_checkpoint(at.session_state[SESSION_MODELS_KEY][label].path)


def test_a_nanogpt_ckpt_with_its_meta_pkl_is_shown_on_every_page(make_app):
    at = upload(make_app(layer="0", head="0").run(), NANOGPT_DIR / "ckpt.pt", NANOGPT_DIR / "meta.pkl")
    assert_clean(at)
    assert at.sidebar.selectbox(key="model").value == "ckpt (uploaded)"
    facts = texts(at.sidebar.caption)
    assert "2 layers × 4 heads" in facts and "from nanoGPT `ckpt.pt`" in facts and "vocabulary from `meta.pkl`" in facts
    assert "at step 300" in facts and "trained on `shakespeare_char`" in facts
    # the Attention page draws this model's own head 0 of layer 0
    ckpt = shown_model(at)
    assert ckpt.meta["source_format"] == "nanogpt"
    _, cache = run_with_cache(ckpt.model, torch.tensor([ckpt.tokenizer.encode(PROMPT)]))
    z = array(heatmaps(figure_titled(at, "layer 0 · head 0 ·"))[0]["z"])
    assert np.allclose(np.nan_to_num(z), cache["blocks.0.attn.hook_pattern"][0, 0].numpy(), atol=1e-5)

    at.switch_page("views/sharpness.py").run()
    assert_clean(at)
    entropy = heatmaps(figure_titled(at, "mean normalised entropy"))[0]
    assert array(entropy["z"]).shape == (2, 4)  # every head of the imported model
    at.switch_page("views/residual.py").run()
    assert_clean(at)
    norms = heatmaps(figure_titled(at, "‖x‖ per position"))[0]
    assert norms["y"] == ["embed", "L0 +attn", "L0 +mlp", "L1 +attn", "L1 +mlp"]
    at.switch_page("views/generate.py").run()
    at.button(key="gen_next").click().run()
    assert_clean(at)
    rows = next(f for f in charts(at) if "every layer × head" in f["layout"].get("title", {}).get("text", ""))
    assert array(heatmaps(rows)[0]["z"]).shape == (2 * 4, len(PROMPT))
    assert at.sidebar.selectbox(key="model").value == "ckpt (uploaded)"


def test_a_lecture_pt_alone_reads_tiny_shakespeares_vocabulary_and_says_so(make_app):
    at = upload(make_app().run(), LECTURE_PT)
    assert_clean(at)
    assert at.sidebar.selectbox(key="model").value == "model (uploaded)"
    facts = texts(at.sidebar.caption)
    assert "from the lecture's gpt.py `model.pt`" in facts and "tiny Shakespeare's characters, the default" in facts
    assert shown_model(at).tokenizer.vocab_size == 65 and charts(at)


def test_a_hostile_pt_is_refused_on_screen_and_nothing_runs(make_app, tmp_path):
    marker = tmp_path / "ran"

    class CreatesAFile:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pt"
    torch.save({"model_args": {}, "model": {"w": CreatesAFile()}}, evil)
    meta = tmp_path / "meta.pkl"
    meta.write_bytes(pickle.dumps({"itos": CreatesAFile()}))
    at = upload(make_app().run(), evil)
    assert not at.exception
    assert "evil.pt was refused" in texts(at.sidebar.error) and "could run code" in texts(at.sidebar.error)
    assert at.sidebar.selectbox(key="model").value == "tiny"  # the app goes on with the model it had
    at.sidebar.file_uploader(key="upload").clear()
    at = upload(at.run(), NANOGPT_DIR / "ckpt.pt", meta)
    assert not at.exception and "meta.pkl was refused" in texts(at.sidebar.error)
    assert not marker.exists()


def test_make_app_ckpt_opens_the_file_and_shows_it_first(make_app, monkeypatch):
    monkeypatch.setenv(OPEN_ENV, str(NANOGPT_DIR / "ckpt.pt"))  # its meta.pkl is found beside it
    at = make_app().run()
    assert_clean(at)
    picker = at.sidebar.selectbox(key="model")
    assert picker.value == "ckpt (opened)" and picker.options[0] == "ckpt (opened)" and "tiny" in picker.options
    assert "2 layers × 4 heads" in texts(at.sidebar.caption)
    assert len(heatmaps(figure_titled(at, " · 1/√head_size"))[0]["x"]) == len(PROMPT)  # the one-head map


def test_make_app_ckpt_on_a_bad_file_is_a_message_not_a_traceback(make_app, monkeypatch, tmp_path):
    broken = tmp_path / "ckpt.pt"
    broken.write_bytes((NANOGPT_DIR / "ckpt.pt").read_bytes()[:5000])
    monkeypatch.setenv(OPEN_ENV, str(broken))
    at = make_app().run()
    assert not at.exception
    assert "Could not open" in texts(at.sidebar.error) and "truncated" in texts(at.sidebar.error)
    assert at.sidebar.selectbox(key="model").value == "tiny"
    assert charts(at)


GPT2_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "gpt2"


def test_a_model_named_on_the_command_line_is_allowed_by_that_choice_not_the_servers_limits(make_app, monkeypatch):
    """`attention-lab FOLDER` on a Hugging Face GPT-2: the operator's choice opens it under the command
    line's limits, where an upload of the same model would meet the server's."""
    monkeypatch.setenv("ATTENTION_LAB_MAX_PARAMS", "1000")  # the server's: far below this model's 1.6M
    monkeypatch.setenv(OPEN_ENV, str(GPT2_DIR / "hf-gpt2"))
    at = make_app().run()
    assert_clean(at)
    assert at.sidebar.selectbox(key="model").value == "hf-gpt2 (opened)"
