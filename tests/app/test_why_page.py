"""The "Why this character?" page: the logit taken apart, the runner-up, the heads and their ablation."""

from __future__ import annotations

import pytest
import torch

from nanogpt.attribution import attribute
from nanogpt.checkpoint import load_checkpoint, save_checkpoint
from nanogpt.config import GPTConfig
from nanogpt.model import GPT

from .app_helpers import PROMPT, array, assert_clean, figure_titled, heatmaps, texts

PAGE = "views/attribution.py"


def open_why(make_app, folder=None, **params):
    at = make_app(folder, **params).run()
    return at.switch_page(PAGE).run()


def bars(figure: dict) -> dict[str, float]:
    trace = figure["data"][0]
    return dict(zip(trace["y"], array(trace["x"]).tolist(), strict=True))


def test_the_bars_add_up_to_the_models_logit(make_app, tiny_ckpt):
    at = open_why(make_app)
    assert_clean(at)
    ckpt = load_checkpoint(tiny_ckpt)
    want = attribute(ckpt.model, ckpt.tokenizer.encode(PROMPT))  # the last position, the top choice
    shown = bars(figure_titled(at, "pushed the logit"))
    total = next(v for k, v in shown.items() if k.startswith("= the logit"))
    assert total == pytest.approx(want.logit, abs=1e-4)
    assert sum(v for k, v in shown.items() if not k.startswith("=")) == pytest.approx(want.logit, abs=1e-4)
    assert float(at.metric[0].value) == pytest.approx(want.logit, abs=0.01)
    grid = array(heatmaps(figure_titled(at, "Each head's share"))[0]["z"])
    assert grid.shape == (2, 2) and grid == pytest.approx(want.heads.numpy(), abs=1e-4)
    versus = bars(figure_titled(at, "and not"))  # the runner-up's difference adds up too
    assert sum(v for k, v in versus.items() if not k.startswith("=")) == pytest.approx(
        versus["= the difference of their logits"], abs=1e-4
    )


def test_position_target_and_ablation_follow_the_controls_and_the_link(make_app, tiny_ckpt):
    at = open_why(make_app)
    at.select_slider(key="why_pos").set_value(5).run()
    assert_clean(at)
    ckpt = load_checkpoint(tiny_ckpt)
    ids = ckpt.tokenizer.encode(PROMPT)
    logits = ckpt.model(torch.tensor([ids[:6]]))[0][0, -1]
    second = ckpt.tokenizer.decode([int(logits.topk(2).indices[1])])
    at.selectbox(key="why_target").set_value(second).run()
    assert_clean(at)
    want = attribute(ckpt.model, ids, 5, ckpt.tokenizer.stoi[second])
    assert float(at.metric[0].value) == pytest.approx(want.logit, abs=0.01)
    at.segmented_control(key="why_ablation").set_value("mean").run()
    assert_clean(at)
    assert "set to its mean" in figure_titled(at, "Change in log p")["layout"]["title"]["text"]
    assert at.query_params["page"] == "why" and at.query_params["why_pos"] == "5"
    assert at.query_params["why_target"] == second and at.query_params["why_ablation"] == "mean"
    again = make_app(page="why", why_pos="5", why_target=second, why_ablation="mean").run()  # a fresh browser
    assert_clean(again)
    assert float(again.metric[0].value) == pytest.approx(want.logit, abs=0.01)


def test_a_click_on_a_head_shows_where_it_looks_from_that_character(make_app):
    at = open_why(make_app)
    at.session_state["layer"], at.session_state["head"] = 1, 1  # what the grid's click callback writes
    at.run()
    assert_clean(at)
    row = figure_titled(at, "Where layer 1 · head 1 looks")
    weights = array(row["data"][0]["y"])
    assert len(weights) == len(PROMPT) and weights.sum() == pytest.approx(1.0, abs=1e-4)


def test_nonsense_in_the_link_opens_the_defaults(make_app):
    at = make_app(page="why", why_pos="999", why_target="nope", why_ablation="banana").run()
    assert_clean(at)
    assert bars(figure_titled(at, "pushed the logit"))
    notices = texts(at.warning)
    assert "why_ablation=banana" in notices and "why_pos=999" in notices, notices
    assert at.select_slider(key="why_pos").value == len(PROMPT) - 1  # the default: the last character


def test_a_post_norm_model_is_explained_not_crashed(make_app, tmp_path, tiny_ckpt):
    ckpt = load_checkpoint(tiny_ckpt)
    cfg = GPTConfig(**{**ckpt.model.config.__dict__, "norm": "post"})
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "post.safetensors", GPT(cfg).eval(), ckpt.tokenizer, {})
    at = open_why(make_app, tmp_path)
    assert_clean(at)
    assert "pre-norm model with residual" in texts(at.info)
