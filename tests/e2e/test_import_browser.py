"""nanoGPT's own ckpt.pt and meta.pkl, uploaded in the sidebar of the real app in a real headless
Chromium: the model is converted, selected, and drawn on every page."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.e2e
PROMPT = "ROMEO:\nWhat light through yonder window breaks?"
NANOGPT_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "import" / "nanogpt-shakespeare-char"
LABEL = "ckpt (uploaded)"


def test_upload_a_nanogpt_ckpt_with_its_meta_pkl_and_see_it_on_every_page(server, page):
    from playwright.sync_api import expect

    page.goto(f"{server}/?prompt={quote(PROMPT)}")
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_text("Use your own checkpoint").click()
    sidebar.locator("input[type=file]").set_input_files([NANOGPT_DIR / "ckpt.pt", NANOGPT_DIR / "meta.pkl"])
    picker = sidebar.get_by_role("combobox", name="Model")
    expect(picker).to_have_value(LABEL)  # converted, registered and chosen (seconds on a busy CPU)
    sidebar.get_by_text("from nanoGPT ckpt.pt").wait_for()  # the facts of the imported model
    sidebar.get_by_text("2 layers × 4 heads").wait_for()

    # Attention: this model's four heads to pick from (the tiny shipped one has two), and its heatmap
    page.get_by_role("radiogroup", name="Head").get_by_role("radio", name="3").wait_for()
    heatmap = page.locator("[data-testid=stPlotlyChart]").first
    heatmap.locator(".hm, .heatmaplayer image").first.wait_for(state="attached")
    assert "?" in heatmap.locator(".xtick text").all_text_contents()  # the prompt's end: the page opens zoomed there

    for title in ("Sharpness", "Residual stream", "Generate"):
        sidebar.locator("[data-testid=stSidebarNav] a", has_text=title).click()
        page.get_by_role("heading", name=title).first.wait_for()
        expect(picker).to_have_value(LABEL)  # still the uploaded model
        if title == "Generate":
            page.get_by_role("button", name="Next").click()
            page.get_by_text("Step 1 of 1 ·").wait_for()
        first_chart = page.locator("[data-testid=stPlotlyChart]").first
        first_chart.wait_for(state="attached")
        first_chart.scroll_into_view_if_needed()  # Plotly draws a chart once it comes into view: a notice above
        first_chart.wait_for()  # may push it under the fold (the Residual page's timed out once, passing alone)
        assert not page.locator("[data-testid=stException]").count()
        assert not page.locator("[data-testid=stAlertContentError]").count()
    if os.environ.get("E2E_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["E2E_SCREENSHOT_DIR"]) / "attention-lab-import.png"), full_page=True)
