"""The app on a nanochat run opened by path (`attention-lab DIR`): the sidebar offers its steps and
says what it is, and every page draws on it without an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from viz_app.backend.imported import OPEN_ENV
from viz_app.pages import PAGES

from .app_helpers import (
    ATTENTION_VIEWS,
    SHORT_PROMPT,
    UNIT_PAGES,
    assert_clean,
    charts,
    every_section,
    on_prompt,
    texts,
    unit_leftovers,
    words,
)

BASE = Path(__file__).resolve().parents[1] / "fixtures" / "nanochat" / "base"
PROMPT = "ROMEO:\nBut soft, what light through yonder window breaks?"


@pytest.fixture
def nanochat_app(make_app, monkeypatch, tmp_path):
    monkeypatch.setenv(OPEN_ENV, str(BASE))
    empty = tmp_path / "no-shipped-models"
    empty.mkdir()

    def make(**query_params):
        at = make_app(empty, **query_params)
        at.query_params = {**at.query_params, "prompt": PROMPT}
        return at

    return make


def test_the_sidebar_offers_every_step_newest_first_and_says_what_the_run_is(nanochat_app):
    at = nanochat_app().run()
    assert_clean(at)
    picker = at.sidebar.selectbox(key="model")
    assert picker.options == ["d4 base step 300 (opened)", "d4 base step 150 (opened)"]
    assert picker.value == "d4 base step 300 (opened)"
    facts = texts(at.sidebar.caption)
    assert "nanochat **base** · step 300 · depth 4 · val_bpb **1.1375**" in facts
    assert "era **E**" in facts and "sliding windows per layer: 128, full, 128, full" in facts
    picker.set_value("d4 base step 150 (opened)").run()
    assert_clean(at)
    assert "step 150" in texts(at.sidebar.caption) and "val_bpb **1.2947**" in texts(at.sidebar.caption)


@pytest.mark.parametrize("slug", list(PAGES))
def test_every_page_draws_on_it(nanochat_app, slug):
    at = nanochat_app(**({} if slug == "attention" else {"page": slug})).run()
    assert_clean(at)
    if slug in ("attention", "sharpness", "residual", "why", "induction", "generate"):
        assert charts(at), slug


@pytest.mark.parametrize("slug", UNIT_PAGES)
def test_induction_generate_and_sharpness_say_token_not_character(nanochat_app, slug):
    said = words(every_section(nanochat_app(page=slug), slug))
    leftover = unit_leftovers(said)
    assert "token" in said and not leftover, leftover


@pytest.mark.parametrize("view", ATTENTION_VIEWS)
def test_the_attention_page_says_token_in_a_heads_job_too(nanochat_app, view):
    said = words(on_prompt(nanochat_app(view=view), SHORT_PROMPT))
    leftover = unit_leftovers(said)
    assert "token" in said and not leftover, leftover
    if view == "head":
        assert "self: each token looks at itself" in said  # the map's title: the head's job


def test_every_layer_and_head_pooled_says_zoom_in_to_see_every_token(nanochat_app):
    long_prompt = json.loads((BASE / "text.json").read_text())["prompt"]  # its last 256 tokens: a cell pools 2
    at = on_prompt(nanochat_app(view="model"), long_prompt)
    at.slider(key="window").set_value((0, 256)).run()
    assert_clean(at)
    said = words(at)
    leftover = unit_leftovers(said)
    assert "zoom in to see every token" in said and not leftover, leftover


def test_why_says_its_logit_is_before_the_softcap(nanochat_app):
    at = nanochat_app(page="why").run()
    assert_clean(at)
    assert "before its softcap" in texts(at.caption)


def test_induction_runs_after_bos(nanochat_app):
    at = nanochat_app(page="induction").run()
    assert_clean(at)
    assert "after `<|bos|>`" in texts(at.caption)


def test_generate_samples_tokens(nanochat_app):
    at = nanochat_app(page="generate").run()
    at.button(key="gen_next").click().run()
    assert_clean(at)
    at.button(key="gen_next").click().run()
    assert_clean(at)
    assert len(charts(at)) >= 2


def test_the_attention_page_says_the_window_the_kv_head_and_the_scale_under_qk_norm(nanochat_app):
    long_prompt = json.loads((BASE / "text.json").read_text())["prompt"]  # 300 tokens: the 128 window bites
    at = nanochat_app()
    at.query_params = {**at.query_params, "prompt": long_prompt, "layer": "0", "head": "2"}
    at.run()
    assert_clean(at)
    said = texts(at.caption)
    assert "Layer 0 has a sliding window of 128 tokens" in said
    assert "Query head 2 reads key/value head 2" in said
    assert "|q·k| ≤ 1.44·16" in said and "±5.8" in said
