"""The Attention page, driven through AppTest on the tiny checkpoint (2 layers x 2 heads, block 32)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nanogpt import metrics
from viz_app.backend import captures, registry

from .app_helpers import PROMPT, array, assert_clean, charts, figure_titled, heatmaps, texts, titles

HEAD_MAP = " · 1/√head_size"  # the one-head map's title ends with its scale (the others do not)


def test_opens_with_the_one_head_heatmap_and_the_model_facts(make_app):
    at = make_app().run()
    assert_clean(at)
    assert [h.value for h in at.header] == ["Attention"]
    assert at.sidebar.selectbox(key="model").value == "tiny"
    facts = texts(at.sidebar.caption)
    assert "2 layers × 2 heads" in facts and "context 32 characters" in facts and "val loss" in facts
    head = heatmaps(figure_titled(at, HEAD_MAP))[0]
    assert len(head["x"]) == len(PROMPT) and head["x"] == head["y"]
    assert head["x"][0] == "F @0" and head["x"][14] == "↵ @14"
    assert "query %{y}" in head["hovertemplate"] and "key %{x}" in head["hovertemplate"]
    assert "weight %{z:.3f}" in head["hovertemplate"]
    z = array(head["z"])
    assert np.isnan(z[0, 1]) and np.allclose(np.nansum(z, axis=1), 1.0, atol=1e-4)  # future masked, rows sum to 1


def test_switching_the_scale_changes_the_entropy_shown(make_app):
    at = make_app().run()
    before = at.metric[0]
    assert "1/√head_size" in before.label
    at.segmented_control(key="scale").set_value("none").run()
    assert_clean(at)
    after = at.metric[0]
    assert "none" in after.label
    assert after.value != before.value
    # unscaled scores are sharper: lower entropy than under 1/sqrt(head_size)
    assert float(after.value.split()[0]) < float(before.value.split()[0])
    assert at.query_params["scale"] == "none"


def test_the_side_by_side_compares_the_same_head_under_another_scale(make_app):
    at = make_app(scale="n_embd").run()
    assert at.segmented_control(key="compare_scale").value == "head_size"  # the trained setting, the other side
    assert at.segmented_control(key="compare_where").value == "layer"  # this layer only, by default
    labels = [m.label for m in at.metric]
    assert any("1/√n_embd" in label for label in labels) and any("1/√head_size" in label for label in labels)
    titles = [fig["layout"].get("title", {}).get("text", "") for fig in charts(at)]
    assert any("1/√n_embd" in t for t in titles) and any("1/√head_size" in t for t in titles)


def test_each_none_says_where_the_scale_is_off(make_app):
    """The switch at the top takes the scale off in every layer; the side by side, by default, in the
    shown layer only: two different models under one word, so each label says which."""
    at = make_app(scale="none", layer="1", head="0").run()
    assert_clean(at)
    assert "layer 1 · head 0 · none, every layer" in titles(figure_titled(at, "layer 1 · head 0 · none"))[0]
    labels = [m.label for m in at.metric]
    assert "Mean entropy · none, layer 1 only" in labels, labels
    assert "Mean max weight · none, layer 1 only" in labels, labels
    assert "Mean entropy · 1/√head_size (as trained)" in labels, labels
    at.segmented_control(key="compare_where").set_value("all").run()
    assert "Mean entropy · none, every layer" in [m.label for m in at.metric]


def test_layer_and_head_pickers_change_what_is_drawn(make_app):
    at = make_app().run()
    first = array(heatmaps(figure_titled(at, HEAD_MAP))[0]["z"])
    at.segmented_control(key="layer").set_value(1)
    at.segmented_control(key="head").set_value(1).run()
    assert_clean(at)
    figure = figure_titled(at, "layer 1 · head 1 ·")
    assert not np.allclose(np.nan_to_num(first), np.nan_to_num(array(heatmaps(figure)[0]["z"])))
    assert at.query_params["layer"] == "1" and at.query_params["head"] == "1"


def test_every_head_of_a_layer_and_the_whole_model(make_app):
    at = make_app().run()
    at.segmented_control(key="view").set_value("layer").run()
    assert_clean(at)
    layer = heatmaps(figure_titled(at, " · head 1"))  # every head of the layer, one subplot each
    assert len(layer) == 2 and array(layer[0]["z"]).dtype == np.uint8  # whole percentages
    at.segmented_control(key="view").set_value("model").run()
    assert_clean(at)
    grid = heatmaps(next(f for f in charts(at) if f["layout"]["xaxis"].get("side") == "top"))  # heads on top
    assert len(grid) == 1
    z = array(grid[0]["z"])
    assert z.dtype == np.uint8 and z.max() <= 100
    assert z.shape == (2 * (len(PROMPT) + 1), 2 * (len(PROMPT) + 1))  # 2 x 2 heads, one blank cell between


def test_scores_show_pre_softmax_values(make_app):
    at = make_app().run()
    at.segmented_control(key="values").set_value("scores").run()
    assert_clean(at)
    head = heatmaps(figure_titled(at, HEAD_MAP))[0]
    assert "score" in head["hovertemplate"]
    z = array(head["z"])
    assert np.nanmin(z) < 0 or np.nanmax(z) > 1  # raw scores, not probabilities


def test_picking_a_cell_explains_its_score(make_app, tiny_dir):
    at = make_app().run()
    at.select_slider(key="query_pos").set_value(20).run()
    at.select_slider(key="key_pos").set_value(3).run()
    assert_clean(at)
    explanation = texts(at.markdown)
    assert "q·k = Σ (q ⊙ k)" in explanation and "on key `s @3`" in explanation
    key = registry.model_ref(registry.ModelEntry("tiny", str(tiny_dir / "tiny.safetensors"), "shipped"))
    ids = captures.prepare_prompt(PROMPT, captures.load_model(key)).ids
    data = captures.attention_data(key, ids, "head_size")
    b = metrics.score_breakdown(data.q[0, 0], data.k[0, 0], data.scores[0, 0], data.patterns[0, 0],
                                data.scale_value, 20, 3)  # fmt: skip
    assert np.isclose(b.dot * b.scale, b.score, atol=1e-4)  # the parts add up to what the model computed
    assert np.isclose(b.row_weights.sum(), 1.0, atol=1e-5) and len(b.row_scores) == 21


def test_the_zoom_window_narrows_every_view(make_app):
    at = make_app().run()
    at.slider(key="window").set_value((10, 20)).run()
    assert_clean(at)
    head = heatmaps(figure_titled(at, HEAD_MAP))[0]
    assert head["x"][0].endswith("@10") and len(head["x"]) == 10


def test_unknown_characters_are_named_and_dropped(make_app):
    at = make_app(prompt="Speak, spéak 😀.").run()
    assert_clean(at)
    warning = texts(at.warning)
    assert "'é'" in warning and "'😀'" in warning
    assert len(heatmaps(figure_titled(at, HEAD_MAP))[0]["x"]) == len("Speak, spak .")


def test_an_empty_prompt_asks_for_one(make_app):
    at = make_app(prompt="").run()
    assert_clean(at)
    assert "Type a prompt" in texts(at.info)
    assert not charts(at)


def test_a_prompt_of_only_unknown_characters_asks_for_another(make_app):
    at = make_app(prompt="ÄÖÜ").run()
    assert_clean(at)
    assert "'Ä'" in texts(at.warning) and "Type a prompt" in texts(at.info)


def test_a_prompt_longer_than_the_context_uses_its_end(make_app):
    long_prompt = PROMPT * 3  # 84 characters, block_size 32
    at = make_app(prompt=long_prompt).run()
    assert_clean(at)
    assert "context of 32 characters" in texts(at.info) and f"{len(long_prompt) - 32} cut" in texts(at.info)
    labels = heatmaps(figure_titled(at, HEAD_MAP))[0]["x"]
    assert len(labels) == 32 and labels[-1] == ". @31"


def test_a_link_reopens_the_same_view(make_app):
    at = make_app(layer="1", head="1", scale="n_embd", view="layer").run()
    assert_clean(at)
    assert at.segmented_control(key="layer").value == 1 and at.segmented_control(key="head").value == 1
    assert at.segmented_control(key="scale").value == "n_embd" and at.segmented_control(key="view").value == "layer"
    assert at.sidebar.text_area(key="prompt").value == PROMPT
    assert at.query_params["page"] == "attention" and at.query_params["prompt"] == PROMPT


def test_nonsense_in_the_link_is_ignored(make_app):
    at = make_app(layer="7", head="x", scale="huge", view="nope", model="missing").run()
    assert_clean(at)
    # layer 7 of a 2-layer model: the model's most focused head (layer 1 of the tiny one), said above the page
    assert at.segmented_control(key="layer").value == 1 and at.segmented_control(key="scale").value == "head_size"
    assert at.sidebar.selectbox(key="model").value == "tiny"


def test_an_unexpected_error_is_a_message_not_a_traceback(make_app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("capture exploded")

    monkeypatch.setattr(captures, "attention_data", broken)
    at = make_app().run()
    assert not at.exception
    assert "capture exploded" in texts(at.error) and "Something went wrong" in texts(at.error)


def test_a_first_look_opens_a_head_with_a_job_and_a_link_keeps_its_own(make_app):
    import torch

    from nanogpt.capture import run_with_cache
    from nanogpt.checkpoint import load_checkpoint
    from nanogpt.metrics import head_tags, patterns
    from viz_app.url_state import DEFAULT_PROMPT

    shipped = Path(__file__).resolve().parents[2] / "checkpoints"
    at = make_app(shipped, model="shakespeare-small", prompt=DEFAULT_PROMPT).run()
    assert_clean(at)
    layer, head = at.session_state["layer"], at.session_state["head"]
    ckpt = load_checkpoint(shipped / "shakespeare-small.safetensors")
    _, cache = run_with_cache(ckpt.model, torch.tensor([ckpt.tokenizer.encode(DEFAULT_PROMPT)]))
    pats = patterns(cache)
    assert head_tags(pats[0, 0], chars=DEFAULT_PROMPT) == ["uniform"]  # what it used to open on
    tags = head_tags(pats[layer, head], chars=DEFAULT_PROMPT)
    assert tags and "uniform" not in tags, (layer, head, tags)
    assert at.query_params["layer"] == str(layer) and at.query_params["head"] == str(head)
    linked = make_app(shipped, model="shakespeare-small", prompt=DEFAULT_PROMPT, layer="0", head="0").run()
    assert (linked.session_state["layer"], linked.session_state["head"]) == (0, 0)


def test_the_zoom_is_in_the_link_and_a_link_opens_it(make_app):
    at = make_app().run()
    at.slider(key="window").set_value((10, 20)).run()
    assert at.query_params["window"] in ("10-20", ["10-20"])
    opened = make_app(window="10-20").run()
    assert_clean(opened)
    assert opened.slider(key="window").value == (10, 20)
