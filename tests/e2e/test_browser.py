"""The real app in a real headless Chromium: type a prompt, see the heatmap, flip the scale."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from .helpers import chart, click_point, wait_idle, wait_until

pytestmark = pytest.mark.e2e
PROMPT = "First Citizen:\nSpeak, speak."


def test_type_a_prompt_see_the_heatmap_flip_the_scale(server, page):
    page.goto(server)

    prompt = page.locator("[data-testid=stSidebar] textarea")
    prompt.fill(PROMPT)
    prompt.press("Control+Enter")  # a text area commits on Ctrl+Enter (or on blur)
    page.get_by_text(f"Reading {len(PROMPT)} characters").wait_for()

    heatmap = page.locator("[data-testid=stPlotlyChart]").first
    heatmap.locator(".hm, .heatmaplayer image").first.wait_for(state="attached")
    assert heatmap.locator(".xtick text").count() > 5  # the prompt's characters label the axes
    assert "F" in heatmap.locator(".xtick text").all_text_contents()

    entropy = page.locator("[data-testid=stMetricValue]").first
    before = entropy.inner_text()
    assert re.fullmatch(r"\d+\.\d{3} nats", before)

    page.get_by_role("radiogroup", name="Scale of q·k").get_by_role("radio", name="none = 1").click()
    wait_until(page, "before => document.querySelector('[data-testid=stMetricValue]').innerText !== before", arg=before)
    after = entropy.inner_text()
    assert after != before
    assert float(after.split()[0]) < float(before.split()[0])  # no scale: a sharper softmax
    page.wait_for_url(re.compile(r"scale=none"))
    if os.environ.get("E2E_SCREENSHOT_DIR"):  # to look at the page while developing
        page.screenshot(path=str(Path(os.environ["E2E_SCREENSHOT_DIR"]) / "attention-lab-e2e.png"))


def thumb(page, label: str) -> str:
    """The value a slider shows, found by its label."""
    slider = page.locator("[data-testid=stSlider]").filter(has_text=label).first
    return slider.locator("[data-testid=stSliderThumbValue]").first.inner_text()


def test_the_score_breakdown_follows_a_prompt_change(server, page):
    page.goto(f"{server}/?prompt={quote(PROMPT)}&layer=0&head=0")
    heatmap = chart(page, "layer 0 · head 0")
    heatmap.locator(".scatterlayer .point").first.wait_for(state="attached")
    wait_idle(page)
    query, key = 20, 3  # the click targets run row by row over the lower triangle
    click_point(page, heatmap, query * (query + 1) // 2 + key)
    explanation = page.locator("[data-testid=stMarkdownContainer]").filter(has_text="q·k = Σ").first
    # the query too: in a loaded run a wait for the key alone passed while the sliders still showed the
    # breakdown the page opens with (query . @27), before the click's run
    explanation.filter(has_text="query , @20").filter(has_text="on key s @3").wait_for()
    assert thumb(page, "Query (the character looking)") == ", @20" and thumb(page, "Key (the") == "s @3"

    longer = "All:\nSpeak, speak, speak, all."  # 30 characters: position 20 is still there
    prompt = page.locator("[data-testid=stSidebar] textarea")
    prompt.fill(longer)
    prompt.press("Control+Enter")
    page.get_by_text(f"Reading {len(longer)} characters").wait_for()
    wait_idle(page)
    # the breakdown starts again at the new prompt's last character, and the sliders show what is explained
    last = f". @{len(longer) - 1}"
    assert thumb(page, "Query (the character looking)") == last
    assert f"query {last} may see" in explanation.inner_text()
    key_slider = page.locator("[data-testid=stSlider]").filter(has_text="Key (the").first
    assert key_slider.inner_text().split("\n")[-1].strip() == last  # its range ends at the query
    assert f"on key {thumb(page, 'Key (the')}" in explanation.inner_text()


def outlined(figure, target: int) -> bool:
    """Whether the figure's outline (its one shape) surrounds the middle of its target-th click target."""
    outline = figure.locator(".shapelayer path").first.bounding_box()
    box = figure.locator(".scatterlayer .point").nth(target).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    return outline["x"] < x < outline["x"] + outline["width"] and outline["y"] < y < outline["y"] + outline["height"]


def test_a_grid_tile_and_a_sharpness_cell_open_their_head_outlined(server, page):
    page.goto(f"{server}/?prompt={quote(PROMPT)}&view=model")
    grid = chart(page, "head 1")
    grid.locator(".scatterlayer .point").first.wait_for(state="attached")
    wait_idle(page)
    click_point(page, grid, 1 * 2 + 1)  # layer 1, head 1 of the 2 x 2 grid
    page.wait_for_url(lambda url: "layer=1" in url and "head=1" in url and "view=head" in url)
    chart(page, "layer 1 · head 1").wait_for()  # that head, opened
    page.get_by_role("radiogroup", name="Show").get_by_role("radio", name="Every layer × head").click()
    page.wait_for_url(lambda url: "view=model" in url)
    grid = chart(page, "head 1")
    grid.locator(".shapelayer path").first.wait_for(state="attached")
    wait_idle(page)
    assert outlined(grid, 3)  # the chosen head's tile

    page.get_by_role("link", name="Sharpness").click()
    grid = chart(page, "mean max weight")
    grid.locator(".scatterlayer .point").first.wait_for(state="attached")
    wait_idle(page)
    assert outlined(grid, 3)
    click_point(page, grid, 1 * 2 + 0)  # layer 1, head 0
    page.wait_for_url(lambda url: "layer=1" in url and "head=0" in url)
    wait_idle(page)
    assert outlined(grid, 2) and outlined(chart(page, "mean normalised entropy"), 2)
    page.get_by_role("link", name="Open layer 1 · head 0 on the Attention page").click()
    chart(page, "layer 1 · head 0").wait_for()


def download_name(page, figure) -> str:
    """What the figure's camera button saves it as."""
    figure.hover()
    with page.expect_download() as download:
        figure.locator(".modebar-btn[data-title^='Download plot']").click()
    return download.value.suggested_filename


def test_figures_download_named_by_view_layer_head_and_scale(server, page):
    page.goto(f"{server}/?prompt={quote(PROMPT)}&layer=1&head=1&scale=none")
    heatmap = chart(page, "layer 1 · head 1")
    heatmap.locator(".main-svg").first.wait_for()
    wait_idle(page)
    assert download_name(page, heatmap) == "attention-head-L1H1-weights-none.png"
    assert download_name(page, chart(page, "none = 1, layer 1 only")) == "attention-compare-L1H1-none-layer.png"
    page.get_by_role("radiogroup", name="Show").get_by_role("radio", name="Every head of the layer").click()
    layer = chart(page, "layer 1 · head 0")
    layer.locator(".main-svg").first.wait_for()
    wait_idle(page)
    assert download_name(page, layer) == "attention-layer-L1-weights-none.png"
    page.get_by_role("link", name="Sharpness").click()
    grid = chart(page, "mean normalised entropy")
    grid.locator(".main-svg").first.wait_for()
    wait_idle(page)
    assert download_name(page, grid) == "sharpness-entropy-none.png"
