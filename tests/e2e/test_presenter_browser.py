"""Presenter mode as a class sees it on a projector, in a real headless Chromium at 1280 x 720 and
1920 x 1080 on the shipped model: a way back to the controls, the picture inside the window with
every character of it labelled big enough for the back row."""

from __future__ import annotations

import pytest

from .helpers import screenshot, wait_idle

pytestmark = pytest.mark.e2e
SIZES = [(1280, 720), (1920, 1080)]


def sidebar_open(page) -> bool:
    return page.locator("[data-testid=stSidebar]").bounding_box()["x"] >= 0


def open_presenting(page, url: str, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url)
    page.locator("[data-testid=stPlotlyChart] .nsewdrag").first.wait_for()
    wait_idle(page)
    page.wait_for_timeout(800)  # the sidebar slides away


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_presenter_mode_always_has_a_way_back_to_the_controls(shipped_server, page, width, height):
    open_presenting(page, f"{shipped_server}/?presenter=1", width, height)
    assert not sidebar_open(page)
    button = page.locator("[data-testid=stExpandSidebarButton]")
    box = button.bounding_box()
    assert box and box["width"] >= 24 and box["height"] >= 24, f"the button that opens the sidebar is {box}"
    assert 0 <= box["x"] < width and 0 <= box["y"] < height
    button.click()
    toggle = page.locator("[data-testid=stSidebar]").get_by_text("Presenter mode")
    toggle.wait_for()
    page.wait_for_timeout(500)
    assert sidebar_open(page)
    toggle.click()
    page.wait_for_url(lambda url: "presenter=1" not in url)
    wait_idle(page)
    screenshot(page, f"presenter-left-{width}x{height}")


# the one plot area of a chart, its tick labels, and their sizes, as the browser draws them
PICTURE = """chart => {
  const box = chart.querySelector('.nsewdrag').getBoundingClientRect();
  const axis = a => [...chart.querySelectorAll(`.${a}tick text`)].map(t => ({
    text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize), box: t.getBoundingClientRect()}));
  const title = chart.querySelector('.gtitle');
  return {top: box.top, bottom: box.bottom, left: box.left, right: box.right, height: box.height,
          x: axis('x'), y: axis('y'), title: title ? title.textContent : ''};
}"""


def picture(page, title: str) -> dict:
    chart = page.locator("[data-testid=stPlotlyChart]").filter(has_text=title).first
    return chart.evaluate(PICTURE)


def shown_characters(page) -> str:
    """The characters of the zoom window, as its caption names them ('Showing characters 93–116 of 117')."""
    import re

    from viz_app.figures.kit import visible_char
    from viz_app.url_state import DEFAULT_PROMPT

    caption = page.locator("[data-testid=stCaptionContainer]").filter(has_text="Showing characters").first
    start, stop = map(int, re.search(r"Showing characters (\d+)–(\d+)", caption.inner_text()).groups())
    return "".join(visible_char(c) for c in DEFAULT_PROMPT[start : stop + 1])


def check_fits(pic: dict, chars: str, width: int, height: int) -> list[str]:
    problems = []
    if pic["top"] < 0 or pic["bottom"] > height or pic["left"] < 0 or pic["right"] > width:
        problems.append(f"plot area {pic['top']:.0f}-{pic['bottom']:.0f} px tall in a {height} px window")
    if height >= 1000 and pic["height"] < 0.6 * height:
        problems.append(f"plot area {pic['height']:.0f} px, under 60% of {height}")
    for axis in ("x", "y"):
        labels = "".join(t["text"] for t in pic[axis])
        if labels != chars:
            problems.append(f"{axis} labels {labels!r}, the window is {chars!r}")
        small = [t["px"] for t in pic[axis] if t["px"] < 20]
        if small:
            problems.append(f"{axis} labels at {small[0]} px")
    ys = [t["box"]["top"] for t in pic["y"]]
    if any(b - a < 19 for a, b in zip(ys, ys[1:], strict=False)):  # rows closer than a 20 px label: they touch
        problems.append(f"y labels {min(b - a for a, b in zip(ys, ys[1:], strict=False)):.1f} px apart")
    return problems


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_projected_head_map_fits_the_window_with_every_character_labelled(shipped_server, page, width, height):
    open_presenting(page, f"{shipped_server}/?presenter=1", width, height)
    pic = picture(page, "layer 1 · head 2")
    screenshot(page, f"presenter-head-{width}x{height}")
    problems = check_fits(pic, shown_characters(page), width, height)
    if "last space: each letter looks at the space before its word" not in pic["title"]:
        problems.append(f"the head's job is not said above the map: {pic['title']!r}")
    assert not problems, problems


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_projected_timeline_map_fits_the_window_with_every_character_labelled(shipped_server, page, width, height):
    open_presenting(page, f"{shipped_server}/timeline?presenter=1&layer=1&head=2&tl_step=3500", width, height)
    pic = picture(page, "layer 1 · head 2")
    screenshot(page, f"presenter-timeline-{width}x{height}")
    play = page.get_by_role("button", name="Play").bounding_box()
    problems = check_fits(pic, shown_characters(page), width, height)
    if play["y"] + play["height"] > pic["top"]:
        problems.append("Play is not above the map")
    assert not problems, problems
