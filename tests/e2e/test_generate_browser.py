"""The Generate page in a real headless Chromium: press Next three times, see three new characters
and the next-character distribution drawn."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.e2e
PROMPT = "First Citizen:\nSpeak, speak."


def generated(page) -> str:
    """The characters generated so far, as the page shows them (a newline is drawn as ↵ and a break)."""
    text = page.locator("[data-generated]").first.inner_text()
    return text.replace("↵\n", "\n")


def test_press_next_three_times(server, page):
    page.goto(f"{server}/generate?prompt={quote(PROMPT)}")
    page.get_by_text("Press Next to sample the first character").wait_for()
    next_button = page.get_by_role("button", name="Next")
    for k in (1, 2, 3):
        next_button.click()
        page.get_by_text(f"Step {k} of {k} ·").wait_for()
        assert len(generated(page)) == k
    text = page.locator("[data-generated]").first.locator("xpath=ancestor::div[1]").inner_text()
    assert text.replace("↵\n", "\n").startswith(PROMPT)
    assert page.locator("[data-new-char]").count() == 1  # the newest character stands out
    chart = page.locator("[data-testid=stPlotlyChart]").filter(has_text="step 3: every next character").first
    chart.wait_for()
    bars = chart.locator(".barlayer .point")
    assert bars.count() >= 2 * 20  # both distributions over the whole vocabulary
    assert "sampled" in chart.locator(".annotation-text").first.text_content()
    page.wait_for_url(lambda url: "page=generate" in url or "/generate" in url)
    if os.environ.get("E2E_SCREENSHOT_DIR"):
        shot = Path(os.environ["E2E_SCREENSHOT_DIR"]) / "attention-lab-generate.png"
        page.screenshot(path=str(shot), full_page=True)
