"""The Induction heads page: the probe's scores, losses and map; a model that has the circuit and one that has not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hand_built import INDUCTION_HEAD, induction_model

from nanogpt.checkpoint import save_checkpoint

from .app_helpers import array, assert_clean, figure_titled, heatmaps, texts

PAGE = "views/induction.py"


def open_induction(make_app, folder=None, **params):
    at = make_app(folder, **params).run()
    return at.switch_page(PAGE).run()


@pytest.fixture(scope="module")
def hand_built_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hand_built")
    model, tokenizer = induction_model()
    save_checkpoint(folder / "hand.safetensors", model, tokenizer, {"data": {"name": "set by hand"}})
    return folder


def test_the_hand_built_models_induction_head_is_found_and_drawn(make_app, hand_built_folder):
    at = open_induction(make_app, hand_built_folder)
    assert_clean(at)
    scores = array(heatmaps(figure_titled(at, "Induction score"))[0]["z"])
    assert scores.shape == (2, 2) and scores[INDUCTION_HEAD] > 0.9
    layer, head = INDUCTION_HEAD
    assert f"Layer {layer} · head {head} on the probe" in figure_titled(at, "on the probe")["layout"]["title"]["text"]
    assert float(at.metric[1].value) < 0.1 < 2.0 < float(at.metric[0].value)  # second copy copied, first not
    assert "has not learned to copy" not in texts(at.info)
    losses = figure_titled(at, "Loss at every character")
    assert len(array(losses["data"][0]["y"])) == 2 * 16 - 1 and len(losses["data"]) == 2  # with the ablated line


def test_length_seed_and_head_are_in_the_link_and_reopen(make_app, hand_built_folder):
    at = open_induction(make_app, hand_built_folder)
    at.select_slider(key="ind_len").set_value(8)
    at.segmented_control(key="ind_seed").set_value(3).run()
    at.session_state["ind_head"] = "L0H0"  # what a click on the grid writes
    at.run()
    assert_clean(at)
    assert "Layer 0 · head 0 on the probe" in figure_titled(at, "on the probe")["layout"]["title"]["text"]
    params = dict(at.query_params)
    assert params["page"] == "induction" and params["ind_len"] == "8" and params["ind_seed"] == "3"
    assert params["ind_head"] == "L0H0"
    again = make_app(hand_built_folder, **{k: v for k, v in params.items() if k != "prompt"}).run()
    assert_clean(again)
    assert "Layer 0 · head 0 on the probe" in figure_titled(again, "on the probe")["layout"]["title"]["text"]
    assert len(array(figure_titled(again, "Loss at every")["data"][0]["y"])) == 15


def test_a_model_without_induction_says_so_honestly(make_app):
    at = open_induction(make_app)  # the tiny 2 x 2 model trained 60 steps
    assert_clean(at)
    assert "has not learned to copy from its context" in texts(at.info)


def test_a_model_without_induction_offers_the_shipped_one_that_has_it(make_app, tmp_path, tiny_ckpt, hand_built_folder):
    """Beside a model that learned no induction head, the page offers its own model (python-small) and opens it."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy2(tiny_ckpt, folder / "shakespeare-small.safetensors")
    shutil.copy2(hand_built_folder / "hand.safetensors", folder / "python-small.safetensors")
    at = open_induction(make_app, folder, model="shakespeare-small")  # the link chose the model without them
    assert_clean(at)
    assert "has not learned to copy from its context" in texts(at.info)
    at.button(key="ind_open_copying_model").click().run()
    assert_clean(at)
    assert at.sidebar.selectbox(key="model").value == "python-small"
    assert "has not learned to copy" not in texts(at.info)
    assert array(heatmaps(figure_titled(at, "Induction score"))[0]["z"])[INDUCTION_HEAD] > 0.9


def test_nonsense_in_the_link_opens_the_defaults(make_app, hand_built_folder):
    at = make_app(hand_built_folder, page="induction", ind_len="9999", ind_seed="-1", ind_head="L9H9").run()
    assert_clean(at)
    notices = texts(at.warning)
    assert "ind_len=9999" in notices and "ind_seed=-1" in notices
    assert "Layer 1 · head 0 on the probe" in figure_titled(at, "on the probe")["layout"]["title"]["text"]
