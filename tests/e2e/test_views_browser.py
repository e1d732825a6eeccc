"""The shipped model in a real browser: its training timeline plays, two models side by side, a link
reopens the same view, and the Lesson's "Open here" lands on the view it names."""

from __future__ import annotations

import re

import pytest

from .helpers import chart, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def metric(page, label: str) -> str:
    box = page.locator("[data-testid=stMetric]").filter(has_text=label).first
    return box.locator("[data-testid=stMetricValue]").inner_text()


def test_the_timeline_plays_from_step_0_to_the_best(shipped_server, page):
    page.goto(f"{shipped_server}/timeline")
    page.get_by_role("heading", name="Timeline").wait_for()
    wait_idle(page)
    assert metric(page, "Step") == "0"
    assert float(metric(page, "val loss")) > 4.0  # an untrained model: about ln(65)
    chart(page, "step 0 · layer").locator(".hm, .heatmaplayer image").first.wait_for(state="attached")
    page.get_by_role("button", name="Play").click()
    page.get_by_role("button", name="Pause").wait_for()
    seen = set()
    for _ in range(120):  # one step every 1.5 s: five steps in well under a minute
        seen.add(metric(page, "Step"))
        if "3,500 (best)" in seen:
            break
        page.wait_for_timeout(500)
    assert {"0", "100", "250", "1,000", "3,500 (best)"} <= seen, seen
    page.get_by_role("button", name="Play").wait_for()  # it stopped at the end of training
    assert float(metric(page, "val loss")) < 1.6
    screenshot(page, "timeline-best")


def test_trained_against_untrained_side_by_side(shipped_server, page):
    page.goto(f"{shipped_server}/?cmp=untrained")
    page.get_by_role("heading", name="Beside another model").wait_for()
    wait_idle(page)
    pair = chart(page, "shakespeare-small − shakespeare-small, untrained")  # what training changed
    pair.wait_for()
    assert pair.locator(".hm, .heatmaplayer image").count() >= 3  # the untrained head, the trained, the difference
    chart(page, "change in mean entropy").wait_for()  # drawn after the pair: waited for, not glanced at
    assert "cmp=untrained" in page.url
    screenshot(page, "compare-untrained")


def test_a_link_reopens_the_same_view(shipped_server, tabs, page):
    page.goto(f"{shipped_server}/sharpness?layer=3&head=4&scale=none&cmp=step-250")
    page.get_by_role("heading", name="Sharpness").wait_for()
    wait_idle(page)
    page.wait_for_url(re.compile(r"cmp=step-250"))
    link = page.url
    other = tabs.take(viewport={"width": 1280, "height": 720})
    other.goto(link)
    other.get_by_role("heading", name="Sharpness").wait_for()
    wait_idle(other)
    for group, name in (("Layer", "3"), ("Head", "4")):
        chosen = other.get_by_role("radiogroup", name=group).get_by_role("radio", name=name, exact=True)
        assert chosen.get_attribute("aria-checked") == "true", group
    scale = other.get_by_role("radiogroup", name="Scale of q·k").get_by_role("radio", name="none = 1")
    assert scale.get_attribute("aria-checked") == "true"
    assert other.get_by_role("combobox", name="Compare with").input_value() == "this model at step 250"


def test_the_lessons_open_here_lands_on_the_view_it_names(shipped_server, page):
    page.goto(f"{shipped_server}/lesson")
    link = page.get_by_role("link", name="Attention with the scale switched off")
    link.wait_for()
    wait_idle(page)
    link.locator("xpath=following::a[contains(., 'Open here')][1]").click()  # the page link beside it
    page.get_by_role("heading", name="Attention", exact=True).wait_for()
    wait_idle(page)
    page.wait_for_url(re.compile(r"scale=none"))
    scale = page.get_by_role("radiogroup", name="Scale of q·k").get_by_role("radio", name="none = 1")
    assert scale.get_attribute("aria-checked") == "true"
