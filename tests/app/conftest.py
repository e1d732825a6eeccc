"""AppTest fixtures: the app pointed at a folder of tiny checkpoints through ATTENTION_LAB_CHECKPOINTS."""

from __future__ import annotations

import functools
import shutil
import tomllib
from pathlib import Path

import pytest
import torch
from streamlit import config as streamlit_config
from streamlit.components.v2 import manifest_scanner
from streamlit.testing.v1 import AppTest

from nanogpt.checkpoint import save_checkpoint
from nanogpt.config import GPTConfig
from nanogpt.model import BigramLM
from nanogpt.tokenizer import CharTokenizer
from viz_app.backend.registry import CHECKPOINTS_ENV

from .app_helpers import PROMPT

APP = Path(__file__).resolve().parents[2] / "viz_app" / "app.py"

# AppTest reads no config beside the script, as `streamlit run` does: the AppTests run with the app's own
# settings (viz_app/.streamlit/config.toml: no magic, no collection after a run, error details hidden).
for section, options in tomllib.loads((APP.parent / ".streamlit" / "config.toml").read_text()).items():
    for name, value in options.items():
        streamlit_config.set_option(f"{section}.{name}", value, where_defined=str(APP.parent / ".streamlit"))

# Every new AppTest scans every installed package's metadata for Streamlit components (about 0.25 s
# here, half of tests/app's time); the packages do not change during a test run, so scan once.
# tests/app/test_compat.py fails when an upgrade moves the scan.
manifest_scanner.scan_component_manifests = functools.cache(manifest_scanner.scan_component_manifests)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, tiny_ckpt) -> Path:
    """A checkpoints folder holding the tiny GPT as tiny.safetensors (shared: its caches stay warm)."""
    folder = tmp_path_factory.mktemp("checkpoints")
    shutil.copy2(tiny_ckpt, folder / "tiny.safetensors")
    return folder


@pytest.fixture(scope="session")
def bigram_ckpt(tmp_path_factory, tiny_text) -> Path:
    """The lecture's first model, untrained: enough for the app to tell it has no attention."""
    tokenizer = CharTokenizer.from_text(tiny_text)
    torch.manual_seed(0)
    model = BigramLM(GPTConfig(model_type="bigram", vocab_size=tokenizer.vocab_size, block_size=8, dropout=0.0))
    path = tmp_path_factory.mktemp("bigram") / "bigram.safetensors"
    return save_checkpoint(path, model, tokenizer, {"data": {"name": "tiny.txt"}})


@pytest.fixture
def make_app(monkeypatch, tiny_dir):
    """make_app(folder=None, **query_params) -> an AppTest not yet run, on the tiny checkpoint by default."""

    def make(folder: Path | None = None, **query_params) -> AppTest:
        monkeypatch.setenv(CHECKPOINTS_ENV, str(folder or tiny_dir))
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.query_params = {"prompt": PROMPT, **query_params}
        return at

    return make


@pytest.fixture
def quick_bench(monkeypatch):
    """The classroom bench's built-in waits, shortened: a test checks that every case runs and reports,
    not the numbers (python -m viz_app.bench measures those with the full waits)."""
    from viz_app.bench import classroom, follow

    monkeypatch.setattr(follow, "IDLE_S", 1.0)  # the idle CPU measured over 1 s, not 10
    monkeypatch.setattr(follow, "SETTLE_S", 0.5)
    monkeypatch.setattr(classroom, "NEW_PROMPTS", 2)  # prompts typed one after another, not 10
