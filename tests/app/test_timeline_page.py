"""The Timeline page: a model's training snapshots behind one slider."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import tiny_config

from nanogpt.train import train

from .app_helpers import (
    SHORT_CHAR_PROMPT,
    array,
    assert_clean,
    charts,
    figure_titled,
    heatmaps,
    on_prompt,
    texts,
    words,
)

STEPS = [0, 10, 30]


@pytest.fixture(scope="module")
def timeline_folder(tmp_path_factory, tiny_text_file, tiny_ckpt):
    """A checkpoints folder with `tl` (snapshots at STEPS, best at the end) and `tiny` (no timeline)."""
    folder = tmp_path_factory.mktemp("timeline-checkpoints")
    cfg = tiny_config(tiny_text_file, folder / "tl.safetensors", max_iters=60, eval_interval=30, snapshot_steps=STEPS)
    train(cfg, progress=False, log=lambda msg: None)
    (folder / "tl.resume.safetensors").unlink()
    shutil.copy2(tiny_ckpt, folder / "tiny.safetensors")
    return folder


def open_timeline(make_app, folder, **params):
    at = make_app(folder, model="tl", **params).run()
    return at.switch_page("views/timeline.py").run()


def head_map(at) -> np.ndarray:
    figure = next(f for f in charts(at) if f["layout"].get("title", {}).get("text", "").startswith("step "))
    return array(heatmaps(figure)[0]["z"])


def test_the_slider_runs_from_step_0_to_the_best_and_the_pattern_changes(make_app, timeline_folder):
    at = open_timeline(make_app, timeline_folder)
    assert_clean(at)
    slider = at.select_slider(key="tl_step")
    assert list(slider.options) == ["step 0", "step 10", "step 30", "step 60"] and slider.value == 0
    untrained = head_map(at)
    assert "step 0" in texts(at.metric) or at.metric[0].value.startswith("0")
    assert len(at.code) == 1 and 190 <= len(at.code[0].value) <= 200  # what the model wrote then (edges trimmed)
    at.select_slider(key="tl_step").set_value(60).run()
    assert_clean(at)
    trained = head_map(at)
    assert untrained.shape == trained.shape and not np.allclose(untrained, trained, equal_nan=True)
    assert "(best)" in at.metric[0].value
    assert float(at.metric[1].value) < 3.0  # val loss fell from about ln(vocab)
    assert at.query_params["tl_step"] == "60" and at.query_params["page"] == "timeline"


def test_a_link_opens_the_same_step(make_app, timeline_folder):
    at = open_timeline(make_app, timeline_folder, tl_step="10", layer="1", head="1")
    assert_clean(at)
    assert at.select_slider(key="tl_step").value == 10
    titles = [f["layout"]["title"]["text"] for f in charts(at) if "title" in f["layout"]]
    assert any(t.startswith("step 10 · layer 1 · head 1 · ") for t in titles), titles  # then the head's job


def test_a_heads_job_and_tags_say_character_on_a_character_model(make_app, timeline_folder):
    """The map's title and the tags beside the grid name the model's unit (a GPT-2 model's say token:
    test_gpt2_pages)."""
    said = words(on_prompt(make_app(timeline_folder, model="tl", page="timeline"), SHORT_CHAR_PROMPT))
    assert "each character looks" in said and "**: the character " in said


def test_play_starts_from_the_beginning_and_pause_stops(make_app, timeline_folder):
    at = open_timeline(make_app, timeline_folder, tl_step="60")
    at.button(key="tl_play").click().run()
    assert_clean(at)
    assert at.session_state["_tl_playing"] and at.select_slider(key="tl_step").value == 0
    assert at.button(key="tl_play").label == "Pause"
    at.button(key="tl_play").click().run()
    assert not at.session_state["_tl_playing"] and at.button(key="tl_play").label == "Play"


def test_a_model_without_a_timeline_says_so(make_app, timeline_folder):
    at = make_app(timeline_folder, model="tiny").run()
    at = at.switch_page("views/timeline.py").run()
    assert_clean(at)
    said = texts(at.info)
    assert "has no training timeline" in said
    # the Train page saves snapshots as it trains (c1e334e): its models do have a timeline
    assert "model trained on the Train page has one" in said, said
    at.button(key="tl_open").click().run()
    assert at.sidebar.selectbox(key="model").value == "tl"


def test_the_head_map_zooms_like_the_attention_page_and_keeps_the_window_there(make_app, timeline_folder):
    at = open_timeline(make_app, timeline_folder, tl_step="30")
    at.slider(key="window").set_value((10, 20)).run()
    assert_clean(at)
    figure = next(f for f in charts(at) if f["layout"].get("title", {}).get("text", "").startswith("step 30"))
    labels = heatmaps(figure)[0]["x"]
    assert labels[0].endswith("@10") and len(labels) == 10
    assert len(figure["layout"]["xaxis"]["ticktext"]) == 10  # every character of the window named
    assert "Showing characters 10–19 of" in texts(at.caption)
    at = at.switch_page("views/attention.py").run()
    assert at.slider(key="window").value == (10, 20)
    assert heatmaps(figure_titled(at, " · 1/√head_size"))[0]["x"][0].endswith("@10")


def test_the_max_weight_grid_is_coloured_as_on_the_sharpness_page(make_app, timeline_folder):
    """The same number in the same colours on both pages (Sharpness draws mean max weight in magma)."""
    at = open_timeline(make_app, timeline_folder, tl_step="30")
    assert_clean(at)
    timeline = heatmaps(figure_titled(at, "mean max weight"))[0]["colorscale"]
    at = at.switch_page("views/sharpness.py").run()
    sharpness = heatmaps(figure_titled(at, "mean max weight (1 = one-hot)"))[0]["colorscale"]
    assert timeline == sharpness
