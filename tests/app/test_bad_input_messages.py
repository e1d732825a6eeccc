"""What a link or a file that makes no sense gets: one plain sentence each, and a sensible view."""

from __future__ import annotations

import zipfile

import torch

from nanogpt import convert, metrics
from viz_app import sidebar
from viz_app.backend import captures, registry

from .app_helpers import assert_clean, texts
from .test_import import upload


def focused_head_of(at) -> tuple[int, int]:
    entry = next(e for e in registry.available_models() if e.label == at.session_state["model"])
    ref = registry.model_ref(entry)
    ckpt = captures.load_model(ref)
    sharp = captures.sharpness(ref, captures.prepare_prompt(at.session_state["prompt"], ckpt).ids, "head_size")
    return metrics.focused_head(sharp.mean_normalized_entropy, sharp.tags)


def warnings(at) -> str:
    return texts(at.warning) + texts(at.sidebar.warning)


def test_a_head_the_model_lacks_opens_its_focused_head_and_says_so(make_app):
    at = make_app(layer="99", head="-3").run()  # the tiny model: 2 layers x 2 heads
    assert_clean(at)
    said = warnings(at)
    assert "head=-3 was ignored (below 0): showing this model's most focused head instead." in said
    assert "layer=99 is not in this model (2 layers × 2 heads): showing this model's most focused head" in said
    shown = (at.segmented_control(key="layer").value, at.segmented_control(key="head").value)
    assert shown == focused_head_of(at)
    assert (at.query_params["layer"], at.query_params["head"]) == tuple(str(v) for v in shown)


def test_a_layer_in_range_from_a_link_is_kept(make_app):
    at = make_app(layer="1", head="0").run()
    assert_clean(at)
    assert (at.segmented_control(key="layer").value, at.segmented_control(key="head").value) == (1, 0)
    assert "most focused head instead" not in warnings(at)


def test_an_unknown_model_name_is_said_to_be_unknown_not_browser_trained(make_app):
    at = make_app(model="nomodel").run()
    assert_clean(at)
    said = texts(at.sidebar.warning)
    assert "The link asked for a model named **nomodel**, and this app has no model of that name" in said
    assert "**tiny**" in said and "trained or uploaded in the browser" not in said


def test_a_model_trained_in_another_session_keeps_its_explanation(make_app):
    at = make_app(model="my-baby-1 (trained here)").run()
    assert "lives in that browser session only" in texts(at.sidebar.warning)


def test_a_damaged_pt_gets_one_sentence_of_what_is_wrong_and_what_to_upload(make_app, tmp_path):
    good = tmp_path / "good.pt"
    torch.save(torch.zeros(4), good)
    broken = bytearray(good.read_bytes())
    broken[200:600] = bytes(b ^ 0x5A for b in broken[200:600])  # a zip whose records torch cannot read
    path = tmp_path / "random.pt"
    path.write_bytes(bytes(broken))
    assert zipfile.is_zipfile(path)
    at = upload(make_app().run(), path)
    assert not at.exception
    (message,) = [e.value for e in at.sidebar.error]
    assert message == convert.unreadable("random.pt", verb="upload")  # the library's sentence, said to upload
    assert message.startswith("random.pt is not a model file PyTorch can read") and message.count(". ") == 0
    assert "upload nanoGPT's ckpt.pt" in message
    assert "weights_only" not in message and "PytorchStreamReader" not in message
    assert at.sidebar.selectbox(key="model").value == "tiny"


def test_other_refusals_keep_their_own_words():
    said = "evil.pt was refused: it asks for os.system, which could run code"
    assert sidebar.upload_refusal(said, "evil.pt") == said


def test_the_tiny_models_focused_head_is_not_layer_0_head_0(make_app):
    """Otherwise the fallback test above could not tell the focused head from the old layer 0 head 0."""
    assert focused_head_of(make_app().run()) != (0, 0)
