"""The Why and Induction pages in a real browser: a click on a head answers, and the link says so."""

from __future__ import annotations

import shutil

import pytest
from hand_built import INDUCTION_HEAD, induction_model

from nanogpt.checkpoint import save_checkpoint

from .conftest import ROOT, serve
from .helpers import chart, click_point, screenshot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """The shipped 6 x 6 model and the hand-built one with an induction head."""
    folder = tmp_path_factory.mktemp("checkpoints")
    shutil.copy2(ROOT / "checkpoints" / "shakespeare-small.safetensors", folder)
    model, tokenizer = induction_model()
    save_checkpoint(folder / "hand-built.safetensors", model, tokenizer, {"data": {"name": "set by hand"}})
    yield from serve(folder, tmp_path_factory.mktemp("log") / "streamlit.log")


def test_a_click_on_a_head_shows_where_it_looks_from_the_character(lab_server, page):
    page.goto(f"{lab_server}/why?model=shakespeare-small")
    page.get_by_role("heading", name="Why this character?").wait_for()
    wait_idle(page)
    chart(page, "What pushed the logit").wait_for()
    grid = chart(page, "Each head's share")
    click_point(page, grid, 1 * 6 + 2)  # layer 1, head 2
    wait_idle(page)
    chart(page, "Where layer 1 · head 2 looks").wait_for()
    # the link is written at the run's end, which may come after the chart is drawn
    page.wait_for_url(lambda url: "layer=1" in url and "head=2" in url and "page=why" in url)
    screenshot(page, "why-L1H2")


def test_the_induction_head_is_found_and_a_click_opens_another_map(lab_server, page):
    page.goto(f"{lab_server}/induction?model=hand-built")
    page.get_by_role("heading", name="Induction heads").wait_for()
    wait_idle(page)
    layer, head = INDUCTION_HEAD
    chart(page, f"Layer {layer} · head {head} on the probe").wait_for()
    assert page.get_by_text("has not learned to copy").count() == 0
    click_point(page, chart(page, "Induction score"), 0)  # layer 0, head 0: the previous-token head
    wait_idle(page)
    chart(page, "Layer 0 · head 0 on the probe").wait_for()
    page.wait_for_url(lambda url: "ind_head=L0H0" in url)  # written at the run's end, after the chart
    screenshot(page, "induction-hand-built")
