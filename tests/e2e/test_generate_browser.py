"""The Generate page in a real headless Chromium: press Next three times, see three new characters
and the next-character distribution drawn."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from .helpers import chart, click_point, wait_idle, wait_until

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


def test_play_keeps_sampling_until_pause(server, page):
    page.goto(f"{server}/generate?prompt={quote(PROMPT)}")
    page.get_by_text("Press Next to sample the first character").wait_for()
    page.get_by_role("button", name="Play").click()
    pause = page.get_by_role("button", name="Pause")
    pause.wait_for()  # playing: the button offers to pause
    page.locator("[data-generated]").first.wait_for()
    counts = [len(generated(page))]
    for _ in range(60):  # Play samples by itself (two a second on an idle server): it keeps growing
        page.wait_for_timeout(500)
        counts.append(len(generated(page)))
        if counts[-1] >= counts[0] + 4:
            break
    assert counts[-1] >= counts[0] + 4, counts
    pause.click()
    page.get_by_role("button", name="Play").wait_for()
    wait_idle(page)
    stopped = len(generated(page))
    page.wait_for_timeout(2_000)
    assert len(generated(page)) == stopped


def first_step(server, page) -> None:
    page.goto(f"{server}/generate?prompt={quote(PROMPT)}")
    page.get_by_role("button", name="Next").click()
    page.get_by_text("Step 1 of 1 ·").wait_for()
    chart(page, "every layer × head").locator(".scatterlayer .point").first.wait_for(state="attached")
    wait_idle(page)


def test_a_square_of_the_pick_column_enlarges_its_head(server, page):
    first_step(server, page)
    click_point(page, chart(page, "every layer × head"), 2)  # the pick square of L1 · H0
    page.locator("[data-testid=stPlotlyChart] .gtitle", has_text="layer 1 · head 0").wait_for()


def test_the_distribution_follows_temperature_and_top_k_before_the_next_sample(server, page):
    first_step(server, page)
    dist = chart(page, "every next character")
    light = dist.locator(".barlayer .trace").nth(0).locator(".point path")
    heights = [light.nth(i).bounding_box()["height"] for i in range(light.count())]
    assert heights == sorted(heights, reverse=True) and len(heights) == 20  # the model's own, most likely first
    dark = dist.locator(".barlayer .trace").nth(1).locator(".point path")
    before = [dark.nth(i).get_attribute("d") for i in range(dark.count())]
    top_k = page.get_by_role("spinbutton", name="Top-k (0 = off)")
    top_k.fill("3")
    top_k.press("Enter")
    dist.get_by_text("top-k 3 cuts here").wait_for()
    wait_idle(page)
    assert [dark.nth(i).get_attribute("d") for i in range(dark.count())] != before
    drawn = [dark.nth(i).bounding_box()["height"] for i in range(dark.count())]
    assert min(drawn[:3]) > 2 >= max(drawn[3:])  # past the cut, probability 0: a bar's bare outline
    assert page.get_by_text("Step 1 of 1 ·").count() == 1  # nothing new was sampled
    everything = page.get_by_text(re.compile(r"All \d+ characters"))
    vocab = int(re.search(r"\d+", everything.inner_text()).group())
    everything.click()  # the whole vocabulary on demand
    wait_until(
        page,
        "([n]) => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].some(c => "
        "c.innerText.includes('every next character') && c.querySelectorAll('.barlayer .point').length === 2 * n)",
        arg=[vocab],
    )
