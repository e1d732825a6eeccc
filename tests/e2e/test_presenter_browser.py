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
