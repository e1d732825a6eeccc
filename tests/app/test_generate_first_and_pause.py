"""The Generate page before its first sample, and Pause: the bars Next will draw from are on screen
before anything is sampled, and Pause shows the newest step whatever the browser's slider said."""

from __future__ import annotations

import numpy as np
import torch

from nanogpt.checkpoint import load_checkpoint

from .app_helpers import PROMPT, array, assert_clean, figure_titled, texts


def open_generate(make_app, **params):
    at = make_app(**params).run()
    return at.switch_page("views/generate.py").run()


def test_the_distribution_is_shown_before_the_first_sample(make_app, tiny_ckpt):
    at = open_generate(make_app)
    assert_clean(at)
    assert len(at.session_state["gen_run"].steps) == 0  # nothing sampled
    bars = figure_titled(at, "before the first character")
    ckpt = load_checkpoint(tiny_ckpt)
    with torch.no_grad():
        logits, _ = ckpt.model(torch.tensor([ckpt.tokenizer.encode(PROMPT)]))
    expected = torch.softmax(logits[0, -1], -1).numpy()
    shown = array(bars["data"][0]["y"])  # the model's own, most likely first
    assert np.allclose(shown, np.sort(expected)[::-1][: len(shown)], atol=1e-5)
    assert not bars["layout"]["annotations"]  # no "sampled" label: nothing was
    assert "Nothing is sampled yet" in texts(at.caption)


def test_the_bars_before_the_first_sample_follow_the_temperature_and_next_draws_from_them(make_app):
    at = open_generate(make_app)
    cold = array(figure_titled(at, "before the first character")["data"][1]["y"])
    at.slider(key="gen_temp").set_value(1.5).run()
    warm = array(figure_titled(at, "before the first character")["data"][1]["y"])
    assert warm[0] < cold[0]  # a higher temperature flattens: the top character loses probability
    at.button(key="gen_next").click().run()
    assert_clean(at)
    step = at.session_state["gen_run"].steps[0]
    # the first sample was drawn from exactly the bars shown (both most likely first)
    assert np.allclose(np.sort(step.probs)[::-1][: len(warm)], warm, atol=1e-6)


def test_pause_shows_the_newest_step_even_when_the_browser_sends_an_older_one(make_app):
    at = open_generate(make_app, gen_count="5")
    at.button(key="gen_many").click().run()
    at.button(key="gen_play").click().run()  # Play samples the first character at once
    n = len(at.session_state["gen_run"].steps)
    # 5 drawn, then Play's first at once; on a loaded machine Play's timer may have drawn another already
    assert n >= 6 and at.slider(key="gen_step").value == n
    # the race: a character sampled while the click was on its way, so the browser's slider is one behind
    at.slider(key="gen_step").set_value(n - 1)
    at.button(key="gen_play").click().run()  # Pause
    assert_clean(at)
    assert not at.session_state["gen_playing"]
    assert at.slider(key="gen_step").value == n
    assert f"Step {n} of {n} ·" in texts(at.caption)
    assert at.query_params["gen_step"] == str(n)


def test_the_head_and_step_shown_survive_a_page_switch_and_the_link_names_them(make_app):
    at = open_generate(make_app, gen_count="4")
    at.slider(key="gen_temp").set_value(1.3).run()  # a page-only control
    at.button(key="gen_many").click().run()
    at.segmented_control(key="layer").set_value(1)
    at.segmented_control(key="head").set_value(0).run()
    at.slider(key="gen_step").set_value(2).run()  # a fragment's own run
    assert_clean(at)
    params = at.query_params
    assert (params["layer"], params["head"], params["gen_step"], params["gen_n"]) == ("1", "0", "2", "4")
    at.switch_page("views/sharpness.py").run()
    assert_clean(at)
    assert (at.query_params["layer"], at.query_params["head"]) == ("1", "0")
    at.switch_page("views/generate.py").run()
    assert_clean(at)
    assert (at.segmented_control(key="layer").value, at.segmented_control(key="head").value) == (1, 0)
    assert at.slider(key="gen_step").value == 2 and at.slider(key="gen_temp").value == 1.3
