"""The Generate page, driven through AppTest on the tiny checkpoint (2 layers x 2 heads, block 32)."""

from __future__ import annotations

import html
import re

import numpy as np
import torch

from nanogpt.__main__ import main as cli
from nanogpt.checkpoint import load_checkpoint
from viz_app.figures.kit import DEFAULT_STYLE

from .app_helpers import PROMPT, array, assert_clean, charts, heatmaps, texts


def open_generate(make_app, **params):
    at = make_app(**params).run()
    return at.switch_page("views/generate.py").run()


def run_of(at):
    return at.session_state["gen_run"]


def shown_text(at) -> str:
    """The text block (prompt + generated so far) as the reader sees it, tags stripped."""
    block = next(str(m.value) for m in at.markdown if "data-generated" in str(m.value))
    return readable(re.sub(r"<[^>]+>", "", block))


def readable(shown: str) -> str:
    """What the reader sees back to characters: ↵ marks a newline, a highlighted space is drawn as ␣."""
    return html.unescape(shown).replace("↵\n", "\n").replace("␣", " ")


def new_char(at) -> str:
    block = next(str(m.value) for m in at.markdown if "data-new-char" in str(m.value))
    return readable(re.search(r'data-new-char="1"[^>]*>([^<]*)</span>', block).group(1))


def distribution(at) -> dict:
    return next(f for f in charts(at) if "every next character" in f["layout"].get("title", {}).get("text", ""))


def attention_rows(at) -> dict:
    return next(f for f in charts(at) if "every layer × head" in f["layout"].get("title", {}).get("text", ""))


def test_opens_with_the_prompt_and_no_steps(make_app):
    at = open_generate(make_app)
    assert_clean(at)
    assert [h.value for h in at.header] == ["Generate"]
    assert shown_text(at) == PROMPT
    assert "Press **Next**" in texts(at.info)
    assert len(run_of(at).steps) == 0


def test_next_adds_a_character_and_redraws_the_distribution_and_attention(make_app):
    at = open_generate(make_app, gen_all_chars="1")
    at.button(key="gen_next").click().run()
    assert_clean(at)
    run = run_of(at)
    assert len(run.steps) == 1
    first = run.steps[0]
    assert shown_text(at) == PROMPT + first.char
    dist = distribution(at)
    raw, sampled = (array(t["y"]) for t in dist["data"])
    vocab = len(first.probs)
    assert len(raw) == len(sampled) == vocab
    order = np.argsort(-first.probs_raw, kind="stable")  # the most likely first
    assert np.array_equal(raw, first.probs_raw[order]) and np.array_equal(sampled, first.probs[order])
    assert np.isclose(raw.sum(), 1, atol=1e-4) and np.isclose(sampled.sum(), 1, atol=1e-4)
    rank = int(np.flatnonzero(order == first.token)[0])
    assert "sampled" in dist["layout"]["annotations"][0]["text"]
    assert dist["layout"]["annotations"][0]["x"] == rank  # the sampled character is marked
    colours = list(dist["data"][1]["marker"]["color"])
    assert [c == DEFAULT_STYLE.accent for c in colours] == [i == rank for i in range(vocab)]
    rows = heatmaps(attention_rows(at))[0]
    z = array(rows["z"])
    assert z.shape == (4, len(PROMPT))  # 2 layers x 2 heads, one row each, over the 28 characters read
    assert np.allclose(z.sum(-1), 1, atol=1e-2)

    at.button(key="gen_next").click().run()
    assert_clean(at)
    assert len(run_of(at).steps) == 2
    assert shown_text(at) == PROMPT + first.char + run_of(at).steps[1].char
    assert "step 2" in distribution(at)["layout"]["title"]["text"]
    assert not np.allclose(array(distribution(at)["data"][0]["y"]), raw)  # a new context, a new distribution
    assert array(heatmaps(attention_rows(at))[0]["z"]).shape == (4, len(PROMPT) + 1)


def test_the_timeline_replays_an_earlier_step_exactly(make_app):
    at = open_generate(make_app, gen_count="6", gen_all_chars="1")
    at.button(key="gen_many").click().run()
    assert_clean(at)
    run = run_of(at)
    assert len(run.steps) == 6 and at.slider(key="gen_step").value == 6
    last = [array(t["y"]) for t in distribution(at)["data"]]

    at.slider(key="gen_step").set_value(2).run()
    assert_clean(at)
    assert len(run_of(at).steps) == 6  # replaying samples nothing new
    step = run.steps[1]
    raw, sampled = (array(t["y"]) for t in distribution(at)["data"])
    order = np.argsort(-step.probs_raw, kind="stable")
    assert np.array_equal(raw, step.probs_raw[order]) and np.array_equal(sampled, step.probs[order])  # as stored
    assert "step 2" in distribution(at)["layout"]["title"]["text"]
    assert shown_text(at) == PROMPT + run.steps[0].char + run.steps[1].char
    assert new_char(at) == step.char
    z = array(heatmaps(attention_rows(at))[0]["z"])
    assert np.array_equal(z, step.attention.astype(np.float32).reshape(4, -1))
    assert at.query_params["gen_step"] == "2"

    at.slider(key="gen_step").set_value(6).run()
    assert all(
        np.array_equal(a, b) for a, b in zip(last, (array(t["y"]) for t in distribution(at)["data"]), strict=True)
    )


def test_same_seed_same_text_as_the_cli(make_app, tiny_ckpt, capsys):
    at = open_generate(make_app, gen_seed="7", gen_temp="0.9", gen_topk="5", gen_count="10")
    for _ in range(3):
        at.button(key="gen_next").click().run()
    at.button(key="gen_many").click().run()
    assert_clean(at)
    generated = "".join(s.char for s in run_of(at).steps)
    assert len(generated) == 13
    capsys.readouterr()
    args = ["sample", "--ckpt", str(tiny_ckpt), "--prompt", PROMPT, "--max-new-tokens", "13", "--temperature", "0.9",
            "--top-k", "5", "--seed", "7"]  # fmt: skip
    assert cli(args) == 0
    assert capsys.readouterr().out == PROMPT + generated + "\n"
    # and a different seed gives another text: the comparison above can fail
    at.number_input(key="gen_seed").set_value(8).run()
    assert len(run_of(at).steps) == 0  # a new seed starts a new run
    at.button(key="gen_many").click().run()
    assert "".join(s.char for s in run_of(at).steps) != generated[:10]


def test_a_link_opens_the_same_generated_text(make_app, tiny_ckpt, capsys):
    at = open_generate(make_app, gen_n="5", gen_seed="3", gen_step="4")
    assert_clean(at)
    run = run_of(at)
    assert len(run.steps) == 5 and at.slider(key="gen_step").value == 4
    capsys.readouterr()
    cli(["sample", "--ckpt", str(tiny_ckpt), "--prompt", PROMPT, "--max-new-tokens", "5", "--seed", "3"])
    assert capsys.readouterr().out == PROMPT + "".join(s.char for s in run.steps) + "\n"
    at.slider(key="gen_temp").set_value(1.2).run()
    params = at.query_params
    assert params["gen_temp"] == "1.2" and params["gen_seed"] == "3"
    assert "gen_n" not in params  # the steps so far used another temperature: a link could not replay them


def test_clicking_a_head_enlarges_it(make_app):
    at = open_generate(make_app, layer="0", head="0")
    at.button(key="gen_next").click().run()
    enlarged = next(f for f in charts(at) if f["layout"].get("title", {}).get("text") == "layer 0 · head 0")
    assert enlarged["data"][0]["type"] == "bar"
    at.segmented_control(key="layer").set_value(1)
    at.segmented_control(key="head").set_value(1).run()
    assert_clean(at)
    titles = [f["layout"].get("title", {}).get("text") for f in charts(at)]
    assert "layer 1 · head 1" in titles
    step = run_of(at).steps[0]
    bars = next(f for f in charts(at) if f["layout"].get("title", {}).get("text") == "layer 1 · head 1")
    assert np.allclose(array(bars["data"][0]["y"]), step.attention[1, 1].astype(np.float32))


def test_teacher_forcing_gives_the_probability_of_every_true_next_character(make_app, tiny_ckpt):
    at = open_generate(make_app)
    assert_clean(at)
    assert at.radio(key="tf_source").value == "validation"
    figure = next(f for f in charts(at) if any("true next" in a["text"] for a in f["layout"].get("annotations", [])))
    p_true = array(figure["data"][0]["y"])
    loss = array(figure["data"][1]["y"])
    assert len(p_true) == 32  # block_size + 1 characters: 32 predictions
    assert np.allclose(loss, -np.log(p_true), atol=1e-4)
    surprising = np.array(figure["data"][0]["marker"]["color"]) == DEFAULT_STYLE.accent
    assert np.array_equal(surprising, p_true < 0.05)

    # the same numbers from the model itself, for my own passage
    at.radio(key="tf_source").set_value("own").run()
    at.text_area(key="tf_text").input(PROMPT).run()
    assert_clean(at)
    figure = next(f for f in charts(at) if any("true next" in a["text"] for a in f["layout"].get("annotations", [])))
    ckpt = load_checkpoint(tiny_ckpt)
    ids = ckpt.tokenizer.encode(PROMPT)
    with torch.no_grad():
        logits, _ = ckpt.model(torch.tensor([ids[:-1]]))
    expected = torch.softmax(logits[0], -1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].numpy()
    assert np.allclose(array(figure["data"][0]["y"]), expected, atol=1e-5)
    mean = next(m for m in at.metric if m.label == "Mean loss on this passage")
    assert abs(float(mean.value.split()[0]) - float(-np.log(expected).mean())) < 1e-3
    assert "surprised the model" in texts(at.caption)


def test_a_bigram_model_generates_without_attention(make_app, tmp_path, bigram_ckpt):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "bigram.safetensors").write_bytes(bigram_ckpt.read_bytes())
    at = open_generate(make_app, folder=folder)
    at.button(key="gen_next").click().run()
    assert_clean(at)
    assert len(run_of(at).steps) == 1
    assert "no attention to show" in texts(at.info)
    assert distribution(at)


def test_play_samples_on_its_own_until_paused(make_app):
    at = open_generate(make_app)
    at.button(key="gen_play").click().run()
    assert_clean(at)
    assert at.session_state["gen_playing"]
    assert len(run_of(at).steps) >= 1  # the fragment samples on each of its runs
    at.button(key="gen_play").click().run()  # Pause
    n = len(run_of(at).steps)
    at.run()
    assert not at.session_state["gen_playing"] and len(run_of(at).steps) == n
