"""A GPT-2-style model (the Hugging Face fixture, GPT-2's BPE) on every page: tokens, not characters."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanogpt import metrics
from nanogpt.checkpoint import load_checkpoint, save_checkpoint
from nanogpt.convert import convert
from nanogpt.timeline import SNAPSHOT_DTYPE, snapshot_path
from nanogpt.tokenizer import BPETokenizer
from viz_app.pages import PAGES

from .app_helpers import (
    ATTENTION_VIEWS,
    PROMPT,
    SHORT_CHAR_PROMPT,
    SHORT_PROMPT,
    UNIT_PAGES,
    assert_clean,
    charts,
    every_section,
    figure_titled,
    heatmaps,
    on_prompt,
    texts,
    unit_leftovers,
    words,
)

HF = Path(__file__).resolve().parents[1] / "fixtures" / "gpt2" / "hf-gpt2"


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gpt2")
    convert(HF, folder / "hf-gpt2.safetensors")
    return folder


@pytest.fixture(scope="module")
def gpt2_timeline_dir(tmp_path_factory) -> Path:
    """The GPT-2 fixture with a training timeline beside it: snapshots at steps 0 and 10 (its own weights
    in fp16, as a run saves them), so the Timeline page can draw on a token model."""
    folder = tmp_path_factory.mktemp("gpt2-timeline")
    out = folder / "hf-gpt2.safetensors"
    convert(HF, out)
    ckpt = load_checkpoint(out)
    for step, val in ((0, 10.8), (10, 9.5)):
        meta = {"losses": {"train": val, "val": val}}
        save_checkpoint(snapshot_path(out, step), ckpt.model, ckpt.tokenizer, meta, dtype=SNAPSHOT_DTYPE)
    return folder


@pytest.mark.parametrize("slug", list(PAGES))
def test_every_page_opens_on_a_gpt2_model(make_app, gpt2_dir, slug):
    at = make_app(gpt2_dir, page=slug).run()
    assert_clean(at)
    assert at.session_state["model"] == "hf-gpt2"


def test_the_attention_map_is_labelled_in_tokens_and_the_prompt_box_counts_them(make_app, gpt2_dir):
    at = make_app(gpt2_dir).run()
    assert_clean(at)
    ids = BPETokenizer.gpt2().encode(PROMPT)
    assert f"{len(ids)} tokens" in texts(at.sidebar.caption) and "context 64 tokens" in texts(at.sidebar.caption)
    x = heatmaps(figure_titled(at, " · 1/√head_size"))[0]["x"]
    assert len(x) == len(ids)  # one column per token, not per character
    assert any("␣" in str(label) for label in x)


def test_why_says_token(make_app, gpt2_dir):
    at = make_app(gpt2_dir, page="why").run()
    assert_clean(at)
    assert "Why this token?" in [h.value for h in at.header] and charts(at)


def test_generate_samples_tokens_and_never_a_padding_id(make_app, gpt2_dir):
    at = make_app(gpt2_dir, page="generate").run()
    for _ in range(3):
        at.button(key="gen_many").click().run()
    assert_clean(at)
    assert "New token" in [m.label for m in at.metric]
    bars = figure_titled(at, "every next token's probability")
    assert len(bars["data"][0]["x"]) < 100  # the top of 50,257, not every bar
    assert "All 50257 tokens" not in [t.label for t in at.toggle]


@pytest.mark.parametrize("slug", UNIT_PAGES)
def test_induction_generate_and_sharpness_say_token_where_the_character_model_says_character(make_app, gpt2_dir, slug):
    said = words(every_section(make_app(gpt2_dir, page=slug), slug))
    leftover = unit_leftovers(said)
    assert "token" in said and not leftover, leftover
    assert "character" in words(every_section(make_app(page=slug), slug))  # the tiny character model's pages


@pytest.mark.parametrize("view", ATTENTION_VIEWS)
def test_the_attention_page_says_token_in_a_heads_job_too(make_app, gpt2_dir, view):
    """One head's map is titled with its job ("previous-token: each token looks at the one just before it"),
    in the model's unit as every other word of the page; the layer's grid says it too."""
    said = words(on_prompt(make_app(gpt2_dir, view=view), SHORT_PROMPT))
    leftover = unit_leftovers(said)
    assert "token" in said and not leftover, leftover
    if view == "head":
        assert "previous-token: each token looks at the one just before it" in said
    said = words(on_prompt(make_app(view=view), SHORT_CHAR_PROMPT))  # the tiny character model's page
    assert "character" in said and (view != "head" or "each character looks" in said)


def test_the_timeline_says_token_in_a_heads_job_and_its_tags(make_app, gpt2_timeline_dir):
    at = on_prompt(make_app(gpt2_timeline_dir, page="timeline"), SHORT_PROMPT)
    assert at.select_slider(key="tl_step").options == ["step 0", "step 10"]
    said = words(at)
    leftover = unit_leftovers(said)
    assert "token" in said and not leftover, leftover
    assert "previous-token: each token looks at the one just before it" in said  # the map's title
    assert "**previous-token**: the token just before" in said  # the tags beside the grid


def test_the_pages_name_the_unit_in_their_own_words(make_app, gpt2_dir):
    """The sentences that said "character" whatever the model, each in its token form."""
    said = words(every_section(make_app(gpt2_dir, page="induction"), "induction"))
    assert "a sequence of distinct random tokens" in said and "from each token of the second copy" in said
    assert "Loss at every token of the probe" in said and "from token 32 + i it looks at token i + 1" in said
    at = every_section(make_app(gpt2_dir, page="generate"), "generate")
    said = words(at)
    for sentence in (
        "Tokens per run",
        "Keep only the k most likely tokens",
        "Sample the next token",
        "tokens it read",
        "The sampled token's bars",
        "the probability it gives the token",
        "Surprising tokens",
        "key (a token of the context)",
        "p(the true next token)",
        "next token, most likely first",
    ):
        assert sentence in said, sentence
    at.text_area(key="tf_text").set_value("Hi").run()  # one token of GPT-2's
    assert "The passage needs at least two tokens the model knows." in texts(at.info)
    said = words(every_section(make_app(gpt2_dir, page="sharpness"), "sharpness"))
    assert "on average over the prompt's tokens" in said and "**previous-token**: the token just before" in said
    assert "last vowel" not in said  # a tag that reads characters, which a token model's positions are not
    said = words(every_section(make_app(page="sharpness"), "sharpness"))
    assert "**previous-token**: the character just before" in said and "**last vowel**: the latest vowel" in said


def test_induction_probes_ordinary_tokens(make_app, gpt2_dir):
    at = make_app(gpt2_dir, page="induction").run()
    assert_clean(at)
    assert at.select_slider(key="ind_len").label == "Tokens per copy"
    assert at.select_slider(key="ind_len").value == 32  # two copies within the fixture's context of 64


def test_a_nanogpt_gpt2_ckpt_uploaded_in_the_sidebar_opens_in_tokens(make_app):
    """nanoGPT's openwebtext-style ckpt.pt, no vocabulary file: GPT-2's tokens, not tiny Shakespeare's."""
    at = make_app().run()
    at.sidebar.file_uploader(key="upload").upload("ckpt.pt", (HF.parent / "nanogpt-owt" / "ckpt.pt").read_bytes())
    at.run()
    assert_clean(at)
    assert at.sidebar.selectbox(key="model").value == "ckpt (uploaded)"
    facts = texts(at.sidebar.caption)
    assert "GPT-2's 50,257 tokens" in facts and "tokens" in facts


def test_an_upload_over_the_servers_limits_is_told_to_open_it_by_path(make_app, monkeypatch):
    monkeypatch.setenv("ATTENTION_LAB_MAX_PARAMS", "1000000")  # the owt run has 1.6M
    at = make_app().run()
    at.sidebar.file_uploader(key="upload").upload("ckpt.pt", (HF.parent / "nanogpt-owt" / "ckpt.pt").read_bytes())
    at.run()
    error = texts(at.error)
    assert "over the limit of 1,000,000 (ATTENTION_LAB_MAX_PARAMS)" in error and "`attention-lab PATH`" in error


def test_a_token_models_heads_get_only_the_kinds_of_key_read_off_positions(gpt2_dir, monkeypatch):
    """ "x.y.z" is five GPT-2 tokens of one character each: the kinds of key that read characters ("same
    character", the latest vowel ...) must still not be scored or tagged on a token model."""
    from viz_app.backend import captures, registry

    given = []
    summary = metrics.head_summary
    monkeypatch.setattr(metrics, "head_summary", lambda *a, **kw: given.append(kw.get("chars")) or summary(*a, **kw))
    ref = registry.model_ref(registry.ModelEntry("hf-gpt2", str(gpt2_dir / "hf-gpt2.safetensors"), "shipped"))
    ckpt = captures.load_model(ref)
    ids = tuple(ckpt.tokenizer.encode("x.y.z"))
    assert len(ids) == len(ckpt.tokenizer.decode(ids)) == 5  # one character per token, by chance
    sharp = captures.sharpness(ref, ids, ckpt.model.config.attn_scale)
    assert given == [None]  # the tags were made from positions alone
    tagged = {tag for row in sharp.tags for tags in row for tag in tags}
    assert tagged <= {*metrics.POSITIONAL_KINDS, "uniform"}, tagged
