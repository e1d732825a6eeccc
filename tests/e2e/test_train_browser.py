"""The Train page in a real headless Chromium: a model trained here is one click from every page, says it
lives in this browser session only, offers its file, and a link to it after a refresh says it is gone."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from .helpers import chart, wait_idle

pytestmark = pytest.mark.e2e
TINY_RUN = "tr_layers=1&tr_heads=2&tr_embd=16&tr_block=16&tr_steps=6&tr_eval_every=3&tr_eval_iters=2&tr_batch=4"


def picked_model(page) -> str:
    return page.locator("[data-testid=stSidebar]").get_by_role("combobox", name="Model").input_value()


def train_a_tiny_model(server, page) -> None:
    page.goto(f"{server}/train?{TINY_RUN}")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("It is in the sidebar as").wait_for()
    wait_idle(page)


def test_look_at_it_opens_the_trained_model(server, page):
    train_a_tiny_model(server, page)
    page.get_by_role("link", name="Look at it").click()
    page.get_by_role("heading", name="Attention", exact=True).wait_for()
    page.wait_for_url(lambda url: "my-baby-1" in url)
    wait_idle(page)
    assert picked_model(page) == "my-baby-1 (trained here)"
    assert "1 layers × 2 heads" in page.locator("[data-testid=stSidebar]").inner_text()  # its facts, not tiny's
    chart(page, "layer 0 · head").wait_for()  # its one layer


def test_a_trained_model_is_offered_for_download_and_a_refresh_says_it_is_gone(server, page):
    train_a_tiny_model(server, page)
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name="my-baby-1 (trained here)").click()
    page.wait_for_url(lambda url: "my-baby-1" in url)
    wait_idle(page)
    assert "In this browser session only" in sidebar.inner_text()
    with page.expect_download() as download:
        sidebar.get_by_role("button", name="Download it").click()
    assert download.value.suggested_filename == "my-baby-1.safetensors"

    page.goto(f"{server}/?model={quote('my-baby-1 (trained here)')}")  # a refresh, or the link sent to a class
    page.get_by_role("heading", name="Attention", exact=True).wait_for()
    wait_idle(page)
    warning = sidebar.locator("[data-testid=stAlert]").filter(has_text="my-baby-1 (trained here)")
    assert "this session does not have" in warning.inner_text()
    assert picked_model(page) == "tiny"
