"""State that sticks and links that tell the truth, in a real headless Chromium on the shipped model:
the Timeline's and Generate's sliders (fragments: they rerun alone) write the link, and a page
switch after them keeps the head, the scale and the view; a link opened in a fresh browser shows
the same picture."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from .helpers import wait_idle, wait_until

pytestmark = pytest.mark.e2e


def link(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def settle(page) -> None:
    page.wait_for_timeout(300)
    wait_idle(page)


def test_the_timeline_slider_writes_the_link_and_a_page_switch_keeps_the_view(shipped_server, page, tabs):
    page.goto(f"{shipped_server}/timeline?layer=3&head=2&scale=none")
    slider = page.get_by_role("slider", name="Training step")
    slider.wait_for()
    settle(page)
    slider.press("ArrowRight")
    settle(page)
    slider.press("ArrowRight")
    wait_until(page, "() => location.search.includes('tl_step=250')")
    settle(page)
    page.locator("[data-testid=stPlotlyChart] .gtitle").filter(has_text="step 250 · layer 3 · head 2").wait_for()
    shared = page.url

    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Sharpness").click()
    page.wait_for_url(lambda url: "page=sharpness" in url)
    settle(page)
    assert {k: link(page).get(k) for k in ("layer", "head", "scale")} == {"layer": "3", "head": "2", "scale": "none"}

    fresh = tabs.take()  # the shared link, in a browser that never saw this session
    fresh.goto(shared)
    fresh.locator("[data-testid=stPlotlyChart] .gtitle").filter(has_text="step 250 · layer 3 · head 2").wait_for()


def test_the_generate_step_slider_writes_the_link_and_a_page_switch_keeps_the_head(shipped_server, page):
    page.goto(f"{shipped_server}/generate?layer=3&head=4&scale=n_embd")
    page.get_by_role("button", name="Run 50 steps").click()
    page.get_by_text("Step 50 of 50 ·").wait_for()
    settle(page)
    slider = page.get_by_role("slider", name="Timeline: step")
    slider.press("ArrowLeft")
    page.get_by_text("Step 49 of 50 ·").wait_for()
    # the slider's fragment writes its step; the run that sampled the 50 wrote gen_n: both in the link
    wait_until(page, "() => location.search.includes('gen_step=49') && location.search.includes('gen_n=50')")
    settle(page)
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Attention").click()
    page.wait_for_url(lambda url: "page=attention" in url)
    settle(page)
    assert {k: link(page).get(k) for k in ("layer", "head", "scale")} == {"layer": "3", "head": "4", "scale": "n_embd"}


def shown(page) -> tuple[str, str]:
    """The page's title, and the page its link names."""
    header = page.locator("[data-testid=stMain] h2").first.inner_text()
    return header, link(page).get("page", "")


def test_back_after_an_in_app_link_returns_to_each_view_it_left_one_step_at_a_time(shipped_server, page):
    """Sharpness's 'Open … on the Attention page' adds one history entry (st.switch_page added three:
    its cleared query under the old page, the new path, the new query), and Back shows the link it
    goes back to rather than the session's newest view written over it."""
    page.goto(f"{shipped_server}/sharpness?layer=3&head=4&prompt=To+be+or+not")
    page.locator("[data-testid=stPlotlyChart]").first.wait_for()
    settle(page)
    before = page.evaluate("history.length")
    page.get_by_role("link", name="Open layer 3 · head 4 on the Attention page").click()
    page.wait_for_url(lambda url: "page=attention" in url)
    settle(page)
    page.locator("[data-testid=stPlotlyChart] .gtitle").filter(has_text="layer 3 · head 4").wait_for()
    assert page.evaluate("history.length") == before + 1
    assert {k: link(page).get(k) for k in ("view", "layer", "head")} == {"view": "head", "layer": "3", "head": "4"}

    page.get_by_role("radiogroup", name="Head").get_by_role("radio", name="1", exact=True).click()
    page.wait_for_url(lambda url: "head=1" in url)
    settle(page)
    page.go_back()  # to layer 3 head 4 on the Attention page, not head 1 written over it
    page.wait_for_url(lambda url: "head=4" in url)
    settle(page)
    page.locator("[data-testid=stPlotlyChart] .gtitle").filter(has_text="layer 3 · head 4").wait_for()
    assert shown(page) == ("Attention", "attention") and link(page)["head"] == "4"

    page.go_back()  # to the Sharpness page it left, in one step
    page.wait_for_url(lambda url: "page=sharpness" in url)
    settle(page)
    assert shown(page) == ("Sharpness", "sharpness") and (link(page)["layer"], link(page)["head"]) == ("3", "4")
    page.get_by_role("link", name="Open layer 3 · head 4 on the Attention page").wait_for()

    page.go_forward()
    page.wait_for_url(lambda url: "page=attention" in url)
    settle(page)
    assert shown(page) == ("Attention", "attention") and link(page)["head"] == "4"
