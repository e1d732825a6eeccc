"""WCAG 2.1 AA as axe-core (an independent rule engine) measures it, in a real headless Chromium on the
shipped models: every page, in normal and presenter mode, scrolled through to its end, with no serious
or critical violation of the WCAG 2.0/2.1 A and AA rules.

One browser tab per mode goes through every page as a user does, by the sidebar's navigation
(helpers.switch_in_app: a fraction of a fresh load's cost)."""

from __future__ import annotations

import pytest

from viz_app.pages import PAGES

from .helpers import steady_box, switch_in_app, wait_idle

pytestmark = pytest.mark.e2e

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# axe leaves what is outside the window unjudged ("incomplete"), and Streamlit scrolls inside its own container.
# So the window is made as tall as the page (the same width: the same layout and colours), and all of it is
# judged at once; presenter mode's picture is as tall as the window (presenter.py), so a taller window only
# makes a taller page: there the 720 px window scrolls down the page, colour contrast (the one rule that
# needs the text in view) judged at each window, every rule once at the end (all charts drawn by then).
# Judging each 720 px window of a long normal page (the Lesson: ~20) cost axe a pass over the whole document each.
SCROLL_TO = """y => { const main = document.querySelector('[data-testid=stMain]'); main.scrollTo(0, y);
  return {top: main.scrollTop, height: main.clientHeight, end: main.scrollHeight}; }"""
MAIN_HEIGHT = "() => document.querySelector('[data-testid=stMain]').scrollHeight"
WINDOW_TALL_PICTURE = "() => !!document.querySelector('div[class*=st-key-presenter-fit]')"  # presenter.py's picture
TALLEST = 16_000  # px: a page longer than that is judged a window at a time
IN_VIEW = {"runOnly": {"type": "rule", "values": ["color-contrast"]}, "resultTypes": ["violations"]}
EVERY_RULE = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}


def page_url(server: str, slug: str, presenting: bool) -> str:
    path = PAGES[slug].url_path
    return f"{server}/{path}" + ("?presenter=1" if presenting else "")


def serious_violations(page) -> dict[str, dict[str, str]]:
    """axe's serious and critical violations of the whole page, judged in view: rule id -> node -> why."""
    from axe_playwright_python.sync_playwright import Axe

    if not page.evaluate("typeof axe !== 'undefined'"):  # once a tab: Axe.run would parse its 500 kB at every window
        page.evaluate(Axe().axe_script)
    found: dict[str, dict[str, str]] = {}

    def judge(options) -> None:
        for rule in page.evaluate("options => axe.run(document, options)", options)["violations"]:
            if rule["impact"] in ("serious", "critical"):
                for node in rule["nodes"]:
                    found.setdefault(rule["id"], {})[str(node["target"])] = node.get("failureSummary", "")[:240]

    window = page.viewport_size
    if not page.evaluate(WINDOW_TALL_PICTURE):
        page.set_viewport_size({"width": window["width"], "height": min(page.evaluate(MAIN_HEIGHT), TALLEST)})
        page.wait_for_timeout(300)  # Plotly draws a chart as it comes into view
    y = 0
    for _ in range(60):
        where = page.evaluate(SCROLL_TO, y)
        page.wait_for_timeout(300)  # Plotly draws a chart as it comes into view
        if where["top"] + where["height"] >= where["end"] - 1:
            break  # the last window (a normal page's only one): judged by every rule below
        judge(IN_VIEW)
        y = where["top"] + where["height"] * 0.8
    judge(EVERY_RULE)  # colour contrast in this last window, and the rules that read the whole document
    page.evaluate(SCROLL_TO, 0)
    page.set_viewport_size(window)
    return found


def open_page(page, url: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(url)
    page.locator("[data-testid=stMain] h2").first.wait_for()
    wait_idle(page)
    page.wait_for_timeout(800)  # presenter mode's sidebar slides away; figures settle


@pytest.mark.parametrize("presenting", [False, True], ids=["normal", "presenter"])
def test_no_serious_axe_violation_on_any_page(shipped_server, page, presenting):
    problems = {}
    for n, slug in enumerate(PAGES):
        if n == 0:
            open_page(page, page_url(shipped_server, slug, presenting))
        else:
            switch_in_app(page, slug)
            assert ("presenter=1" in page.url) == presenting, page.url
            page.wait_for_timeout(800)  # figures settle
        found = serious_violations(page)
        mode = "presenter" if presenting else "normal"
        print(f"axe {slug} {mode}:", {rule: len(nodes) for rule, nodes in found.items()})
        for rule, nodes in found.items():
            for target, why in nodes.items():
                print("   ", rule, target, why.replace("\n", " ")[:200])
        if found:
            problems[slug] = {rule: (len(nodes), list(nodes.items())[:3]) for rule, nodes in found.items()}
    assert not problems, problems


def test_the_attention_map_starts_above_the_fold_on_a_laptop(shipped_server, page):
    """At 1280 x 720 in normal mode the map's plot area begins inside the window, not under the controls."""
    open_page(page, f"{shipped_server}/")
    # the first chart's plot area (the map's), not the first drawn: under load a chart below may be drawn first
    plot = page.locator("[data-testid=stPlotlyChart]").first.locator(".nsewdrag").first
    plot.wait_for(state="attached")
    # once it stays put: under load the map was first laid out far taller (its plot area at y 2219 and 2247 in
    # CI, 469 alone) before Streamlit sized it to its column
    top = steady_box(page, plot, scroll=False)["y"]  # where the page puts it, not scrolled to
    print(f"the Attention map's plot area starts at y {top:.0f} of 720")
    assert top < 720 - 100, f"the map starts at y {top:.0f}: under 100 px of it in a 720 px window"
