"""The shipped model (6 layers x 6 heads) in a real headless Chromium, as a teacher uses it in class:
presenter mode at the projector's sizes, colours drawn as given, the scale switch's story, the Sharpness
grids, the Lesson's links and a live ablation run."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import torch

from nanogpt import metrics
from nanogpt.capture import run_with_cache
from nanogpt.checkpoint import load_checkpoint
from viz_app.pages import PAGES
from viz_app.url_state import DEFAULT_PROMPT

from .conftest import ROOT
from .helpers import CLIPPED, chart, font_px, screenshot, scroll_main, wait_idle

pytestmark = pytest.mark.e2e
SHIPPED = ROOT / "checkpoints" / "shakespeare-small.safetensors"
TO_BE = quote("To be, or not to be")


def sidebar_open(page) -> bool:
    return page.locator("[data-testid=stSidebar]").bounding_box()["x"] >= 0


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080)])
def test_presenter_mode_makes_the_data_bigger_not_the_chrome(shipped_server, page, width, height):
    """Every check is made and every failure reported together: they are one mode."""
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{shipped_server}/?prompt={TO_BE}")
    metric = page.locator("[data-testid=stMetricValue] p").first  # the number as drawn
    metric.wait_for()
    wait_idle(page)
    caption = page.locator("[data-testid=stCaptionContainer]").first
    metric_px, caption_px = font_px(metric), font_px(caption)
    assert sidebar_open(page)

    page.locator("[data-testid=stSidebar]").get_by_text("Presenter mode").click()
    page.wait_for_url(lambda url: "presenter=1" in url)
    wait_idle(page)
    page.wait_for_timeout(1_000)  # the sidebar slides away
    problems = []
    if sidebar_open(page):
        problems.append("the sidebar stays open")
    # the header's bar is see-through in presenter mode: the title sits beside its one button, not under it
    button = page.locator("[data-testid=stExpandSidebarButton]").bounding_box()
    title = page.get_by_role("heading", name="Attention", exact=True).locator("h2, span").first.bounding_box()
    if title["x"] < button["x"] + button["width"] and title["y"] < button["y"] + button["height"]:
        problems.append(f"the title is under the button that opens the sidebar ({title} vs {button})")
    clipped = page.evaluate(CLIPPED)
    if clipped:
        problems.append(f"cut off on Attention: {clipped}")
    ticks = page.locator("[data-testid=stPlotlyChart]").first.locator(".xtick text").first
    if font_px(ticks) != 20:
        problems.append(f"tick labels {font_px(ticks)} px, not the figure's 20")
    if not font_px(metric) > metric_px >= 36:
        problems.append(f"metric numbers {font_px(metric)} px, were {metric_px}")
    if font_px(caption) > caption_px:
        problems.append(f"captions grew from {caption_px} to {font_px(caption)} px")
    screenshot(page, f"presenter-attention-{width}x{height}")
    scroll_main(page, 10_000)
    screenshot(page, f"presenter-attention-{width}x{height}-end")

    page.goto(f"{shipped_server}/generate?presenter=1&prompt={TO_BE}")
    page.get_by_role("button", name="Next").click()
    page.get_by_text("Step 1 of 1 ·").wait_for()
    wait_idle(page)
    if sidebar_open(page):
        problems.append("a link with presenter=1 opens with the sidebar open")
    clipped = page.evaluate(CLIPPED)
    if clipped:
        problems.append(f"cut off on Generate: {clipped}")
    screenshot(page, f"presenter-generate-{width}x{height}")
    assert not problems, problems


def colourbars(page) -> list[list[tuple[int, ...]]]:
    """Every colour bar's stops as drawn, (r, g, b) each."""
    stops = page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=stPlotlyChart] linearGradient')]"
        ".map(g => [...g.querySelectorAll('stop')].map(s => s.getAttribute('stop-color')))"
    )
    return [[tuple(int(v) for v in re.findall(r"\d+", stop)[:3]) for stop in bar] for bar in stops if bar]


def luminance(rgb: tuple[int, ...]) -> float:
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]


def test_colour_scales_are_drawn_as_given(shipped_server, page):
    for path in ("/", "/residual", "/sharpness"):
        page.goto(f"{shipped_server}{path}?prompt={TO_BE}")
        page.locator("[data-testid=stPlotlyChart] .main-svg").first.wait_for()
        wait_idle(page)
        for bar in colourbars(page):  # every scale on these pages is sequential: its lightness runs one way
            steps = [luminance(b) - luminance(a) for a, b in zip(bar, bar[1:], strict=False)]
            assert all(s >= -1 for s in steps) or all(s <= 1 for s in steps), bar
    (magma,) = [bar for bar in colourbars(page) if bar[-1] == (252, 253, 191)]  # the max-weight grid
    assert magma[0] == (0, 0, 4)  # Magma's darkest colour, not Streamlit's pink


def test_no_plotly_colour_warnings(shipped_server, page):
    page.goto(f"{shipped_server}/?prompt={TO_BE}")  # bars: q, k, q ⊙ k, the softmax row
    chart(page, "softmax → weights").locator(".barlayer .point").first.wait_for(state="attached")
    wait_idle(page)
    page.get_by_role("link", name="Generate").click()  # bars: both distributions, one head's row
    page.get_by_role("button", name="Next").click()
    chart(page, "every next character").locator(".barlayer .point").first.wait_for(state="attached")
    wait_idle(page)
    page.get_by_role("link", name="Residual stream").click()  # bars: what each sublayer writes
    chart(page, "mean over positions").locator(".barlayer .point").first.wait_for(state="attached")
    wait_idle(page)
    warnings = [line for line in page.console if "Invalid color specifier" in line]
    assert not warnings, f"{len(warnings)} warnings, e.g. {warnings[0]}"


def metric_value(page, label: str) -> float:
    box = page.locator("[data-testid=stMetric]").filter(has_text=label).first
    return float(box.locator("[data-testid=stMetricValue]").inner_text().split()[0])


def test_the_scale_side_by_side_tells_what_its_numbers_show(shipped_server, page):
    page.goto(f"{shipped_server}/?prompt={TO_BE}&layer=1&head=2&scale=none")
    compare = page.get_by_role("radiogroup", name="Compare with")
    where = page.get_by_role("radiogroup", name="Change the scale in")
    where.wait_for()
    wait_idle(page)
    # by default: the model's own scale, changed in this layer only
    assert "(as trained)" in compare.get_by_role("radio", checked=True).inner_text()
    assert where.get_by_role("radio", checked=True).inner_text() == "this layer only"
    caption = page.locator("[data-testid=stCaptionContainer]").filter(has_text="Layer 1 · head 2: mean entropy")
    unscaled, trained = metric_value(page, "Mean entropy · none"), metric_value(page, "Mean entropy · 1/√head_size")
    assert unscaled < trained  # the same scores times a larger number: a sharper softmax
    text = caption.inner_text()
    assert f"{unscaled:.3f} nats under none" in text and f"{trained:.3f} under 1/√head_size" in text
    assert "layer 1 only" in text and "entropy falls" in text

    where.get_by_role("radio", name="every layer").click()
    caption = page.locator("[data-testid=stCaptionContainer]").filter(has_text="changes in every layer")
    caption.wait_for()
    wait_idle(page)
    unscaled, trained = metric_value(page, "Mean entropy · none"), metric_value(page, "Mean entropy · 1/√head_size")
    text = caption.inner_text()
    assert f"{unscaled:.3f} nats under none" in text and f"{trained:.3f} under 1/√head_size" in text
    assert ("higher entropy" in text) == (unscaled > trained)  # the words follow the numbers on screen


def test_the_lesson_labels_a_whole_model_and_opens_a_head_that_focuses(shipped_server, page):
    page.goto(f"{shipped_server}/lesson")
    page.get_by_role("heading", name="3. Characters talk: one self-attention head").wait_for()  # after the scale
    page.locator("[data-testid=stMetricLabel]").filter(has_text="single-head").first.wait_for()
    wait_idle(page)
    labels = page.locator("[data-testid=stMetricLabel]").all_inner_texts()
    assert "with it · single-head" in labels and "in the lecture" in labels  # short: a long label was cut
    captions = " ".join(page.locator("[data-testid=stCaptionContainer]").all_inner_texts())
    assert "single-head is the whole 6-layer model, 1 wide head per layer" in captions
    assert "the lecture's number is 1 head alone on the embeddings" in captions
    link = page.get_by_role("link", name=re.compile("One head's weights"))
    query = parse_qs(urlsplit(link.get_attribute("href")).query)
    layer, head = int(query["layer"][0]), int(query["head"][0])
    assert "most focused head" in link.inner_text()

    lecture = SHIPPED.with_name(f"{PAGES['lesson'].model}.safetensors")  # the Lesson's own model, once shipped
    ckpt = load_checkpoint(lecture if lecture.is_file() else SHIPPED)
    ids = torch.tensor([ckpt.tokenizer.encode(DEFAULT_PROMPT)])
    _, cache = run_with_cache(ckpt.model, ids, r"blocks\.\d+\.attn\.hook_pattern")
    heads = {(r["layer"], r["head"]): r for r in metrics.head_summary(cache.stack("attn.hook_pattern")[:, 0])}
    assert "uniform" not in heads[layer, head]["tags"]
    assert heads[layer, head]["mean_normalized_entropy"] == min(
        r["mean_normalized_entropy"] for r in heads.values() if "first-token" not in r["tags"]
    )


def test_a_live_ablation_run_says_how_long_it_took_and_what_to_compare_it_with(shipped_server, page):
    page.goto(f"{shipped_server}/ablations")
    live = page.get_by_role("heading", name="Train a variant live")
    live.wait_for()
    wait_idle(page)
    before = page.locator("[data-testid=stCaptionContainer]").filter(has_text="trained here").inner_text()
    assert "few seconds" not in before and "depends on this machine" in before
    page.get_by_role("button", name="Train it").click()
    table = page.locator("[data-testid=stDataFrame]").filter(has_text="change vs live full")
    table.wait_for(state="attached")
    wait_idle(page)
    cells = table.locator("td").all_text_contents()
    assert "None" not in cells
    assert "train full live at 100 steps to compare" in cells
    after = page.locator("[data-testid=stCaptionContainer]").filter(has_text="trained here").inner_text()
    assert re.search(r"The last live run here took \d+ s for 100 steps", after)
