"""At 1280 x 720 in a real Chromium: what the walkthrough found covered or cut is whole. Generate's
pick squares answer on their whole width, a legend is clear of its title, the Ablations page's line
of code shows to its end, and a path that is no page says so."""

from __future__ import annotations

import pytest

from .helpers import chart, scroll_main, steady_box, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture
def laptop(tabs):
    return tabs.take(viewport={"width": 1280, "height": 720})


def overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])  # fmt: skip


def test_the_right_half_of_a_pick_square_enlarges_its_head_and_the_link_names_it(shipped_server, laptop):
    page = laptop
    page.goto(f"{shipped_server}/generate")
    wait_idle(page)
    page.get_by_role("button", name="Next").click()
    page.get_by_text("Step 1 of 1 ·").wait_for()
    wait_idle(page)
    rows = chart(page, "every layer × head")
    square = rows.locator(".scatterlayer .point").nth(20)  # L3 · H2 of the 6 x 6 model
    box = steady_box(page, square)
    x, y = box["x"] + 0.85 * box["width"], box["y"] + box["height"] / 2
    # what the click lands on: the plot's own drag layer, not the next axis's resize strip
    on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y).getAttribute('class')", [x, y])
    assert "nsdrag" not in on_top, on_top
    page.mouse.click(x, y)
    page.locator("[data-testid=stPlotlyChart] .gtitle", has_text="layer 3 · head 2").wait_for()
    page.wait_for_url(lambda url: "layer=3" in url and "head=2" in url)


def test_the_residual_comparisons_legend_is_clear_of_its_title(shipped_server, laptop):
    page = laptop
    page.goto(f"{shipped_server}/residual?cmp=untrained")
    wait_idle(page)
    figure = chart(page, "mean ‖x‖ over positions")
    figure.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    title, legend = figure.locator(".gtitle").bounding_box(), figure.locator(".legend").bounding_box()
    assert not overlap(title, legend) and title["y"] + title["height"] <= legend["y"]


def test_the_ablations_line_of_code_shows_to_its_end(shipped_server, laptop):
    page = laptop
    page.goto(f"{shipped_server}/ablations")
    wait_idle(page)
    code = page.locator("[data-testid=stCode]", has_text="cfg.residual").first
    code.scroll_into_view_if_needed()
    assert "else attn_out" in code.inner_text()
    sizes = code.locator("pre").evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert sizes[0] <= sizes[1] + 1, sizes  # nothing hidden to the right


def test_a_path_that_is_no_page_says_so(shipped_server, laptop):
    page = laptop
    page.goto(f"{shipped_server}/doesnotexist")
    wait_idle(page)
    page.get_by_text("This app has no page at /doesnotexist: showing Attention.").wait_for()
    scroll_main(page, 0)
