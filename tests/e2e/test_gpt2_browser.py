"""A GPT-2-style model (the Hugging Face fixture, GPT-2's tokens) on a projector, in headless Chromium:
the 24-token window labels every token at 20 px or more, long tokens shortened."""

from __future__ import annotations

import pytest

from nanogpt.convert import convert
from nanogpt.tokenizer import BPETokenizer
from viz_app.figures.kit import TICK_CHARS, short
from viz_app.url_state import DEFAULT_PROMPT

from .conftest import ROOT, serve
from .helpers import screenshot
from .test_presenter_browser import SIZES, open_presenting, picture

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gpt2_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpt2")
    convert(ROOT / "tests" / "fixtures" / "gpt2" / "hf-gpt2", folder / "hf-gpt2.safetensors")
    yield from serve(folder, tmp_path_factory.mktemp("log") / "streamlit.log")


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_projected_head_map_labels_every_token_of_its_window(gpt2_server, page, width, height):
    open_presenting(page, f"{gpt2_server}/?presenter=1&layer=1&head=1", width, height)
    pic = picture(page, "layer 1 · head 1")
    screenshot(page, f"presenter-gpt2-{width}x{height}")
    tok = BPETokenizer.gpt2()
    labels = [short(label) for label in tok.labels(tok.encode(DEFAULT_PROMPT))]
    for axis in ("x", "y"):
        shown = [t["text"] for t in pic[axis]]
        assert len(shown) >= 20 and shown == labels[-len(shown) :], (axis, shown)  # every token of the window
        assert all(t["px"] >= 20 for t in pic[axis]), [t["px"] for t in pic[axis]]
        assert max(map(len, shown)) <= TICK_CHARS
    assert 0 <= pic["top"] and pic["bottom"] <= height and pic["right"] <= width
    # the columns' tokens stand upright, side by side: centres at least a 20 px glyph's height (~14 px) apart
    # (their boxes count the line's whole height, 27 px, and may touch)
    xs = sorted((t["box"]["left"] + t["box"]["right"]) / 2 for t in pic["x"])
    assert all(b - a >= 14 for a, b in zip(xs, xs[1:], strict=False)), xs
    flat = [t for t in pic["x"] if len(t["text"]) > 4 and t["box"]["height"] <= t["box"]["width"]]
    assert not flat, flat  # upright
