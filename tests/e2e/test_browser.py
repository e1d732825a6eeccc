"""The real app in a real headless Chromium: type a prompt, see the heatmap, flip the scale."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

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
    page.wait_for_function(
        "before => document.querySelector('[data-testid=stMetricValue]').innerText !== before", arg=before
    )
    after = entropy.inner_text()
    assert after != before
    assert float(after.split()[0]) < float(before.split()[0])  # no scale: a sharper softmax
    page.wait_for_url(re.compile(r"scale=none"))
    if os.environ.get("E2E_SCREENSHOT_DIR"):  # to look at the page while developing
        page.screenshot(path=str(Path(os.environ["E2E_SCREENSHOT_DIR"]) / "attention-lab-e2e.png"))
