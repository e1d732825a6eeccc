"""What the browser tests do the same way: wait for a run to end, click a figure's point, read what is drawn."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from viz_app.pages import PAGES

# the run is over and the browser has drawn every element it sent: Streamlit's frontend draws a chart, a table
# and the like as a placeholder (stSkeleton) until their code is loaded, after the run: on an idle machine 37
# placeholders for 3-6 s of an Attention page's first load, longer on a busy one (a keyboard walk that began
# then skipped the page's buttons, a chart waited for 60 s)
IDLE = """() => document.querySelector('[data-test-script-state]')?.dataset.testScriptState === 'notRunning'
  && !document.querySelector('[data-testid=stSkeleton]')"""

# every button and widget label of the page that is cut off by a box around it, or ends in an ellipsis
CLIPPED = """() => {
  const out = [];
  const main = document.querySelector('[data-testid=stMain]');
  for (const el of main.querySelectorAll('button, [data-testid=stWidgetLabel]')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    let clipped = false;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX === 'visible') continue;
      const b = a.getBoundingClientRect();
      if (r.right > b.right + 1 || r.left < b.left - 1) { clipped = true; break; }
    }
    const cut = [el, ...el.querySelectorAll('*')].some(
      c => c.scrollWidth > c.clientWidth + 1 && getComputedStyle(c).textOverflow === 'ellipsis');
    if (clipped || cut) out.push((el.innerText || '').trim().split('\\n').pop());
  }
  return out;
}"""


# Playwright's wait_for_function checks at every animation frame by default, and asking for frames keeps
# Chromium drawing them: a 10 s wait for a run cost 1.1 CPU-s of Chromium that way, 0.55 s checking every 100 ms
POLL_MS = 100

# the longest a browser test waits for the page (a tab's default; wait_idle's; Playwright's expect, in
# conftest): a first page load or a run on the CI machine, 2 cores shared by four test processes, their
# servers and browsers, took over 60 s twice (a chart not drawn yet at 60 s, drawn when the report was read),
# and a GPT-2 server's first projected page took 102 s of its test in a CI run that passed
WAIT_MS = 180_000


def wait_until(page, expression: str, arg=None, timeout: float | None = None) -> None:
    """Until the JavaScript expression (a function) is truthy in the page, checked every POLL_MS."""
    page.wait_for_function(expression, arg=arg, timeout=timeout, polling=POLL_MS)


def wait_idle(page, timeout: float = WAIT_MS) -> None:
    """Until the app's script run is over and the browser has drawn what it sent (IDLE), and 300 ms."""
    wait_until(page, IDLE, timeout=timeout)
    page.wait_for_timeout(300)


def switch_in_app(page, slug: str, timeout: float = WAIT_MS) -> None:
    """Go to another page by the sidebar's navigation link, clicked (by script: presenter mode and a phone
    hide the sidebar), until that page is drawn. Streamlit draws it without starting the app again: a fresh
    load costs about 8 s of Chromium's CPU on this 2-core machine, most of it the frontend's JavaScript
    starting, a switch 2-3 s; Chromium is about 60 % of the whole suite's CPU."""
    before = page.locator("[data-testid=stMain] h2").first.inner_text()
    page.locator(f"[data-testid=stSidebarNav] a[href$='/{PAGES[slug].url_path}']").evaluate("a => a.click()")
    wait_until(
        page, "t => document.querySelector('[data-testid=stMain] h2')?.innerText !== t", arg=before, timeout=timeout
    )
    page.wait_for_url(lambda url: f"page={slug}&" in url or url.endswith(f"page={slug}"), timeout=timeout)
    wait_idle(page, timeout=timeout)


def open_sidebar(page, shows: str, tries: int = 10):
    """Open presenter mode's folded sidebar until `shows` (a text in it) is visible: a run that ends just
    after the click folds it again (a loaded CI machine: the Class section stayed hidden for 60 s)."""
    side = page.locator("[data-testid=stSidebar]")
    wanted = side.get_by_text(shows, exact=True)
    for _ in range(tries):
        if wanted.is_visible():
            return side
        button = page.locator("[data-testid=stExpandSidebarButton]")
        if button.is_visible():
            button.click()
        try:
            wanted.wait_for(state="visible", timeout=5_000)
        except PlaywrightTimeout:  # folded again, or not yet drawn: the next try clicks again
            wait_idle(page)
    wanted.wait_for(state="visible", timeout=5_000)
    return side


def chart(page, title: str):
    """The Plotly chart whose text (title, axes, annotations) contains title."""
    return page.locator("[data-testid=stPlotlyChart]").filter(has_text=title).first


def steady_box(page, locator, *, scroll: bool = True) -> dict:
    """The element's box once it has stayed put 200 ms, scrolled into view first (scroll=False: where it
    is): on a loaded machine a figure may still be laid out again after the run (its height set late), and
    a click at a stale box lands on another point (it did)."""
    if scroll:
        locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    for _ in range(50):
        page.wait_for_timeout(200)
        now = locator.bounding_box()
        if now == box:
            break
        box = now
    return box


def click_point(page, figure, index: int) -> None:
    """Click the index-th marker of a figure (its click targets), as a student would."""
    box = steady_box(page, figure.locator(".scatterlayer .point").nth(index))
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def scroll_main(page, to: float) -> None:
    """Streamlit scrolls inside its own container, not the window."""
    page.evaluate("y => document.querySelector('[data-testid=stMain]').scrollTo(0, y)", to)
    page.wait_for_timeout(300)


def screenshot(page, name: str) -> Path | None:
    """Save what the page shows under E2E_SCREENSHOT_DIR, when it is set (to look at while developing)."""
    folder = os.environ.get("E2E_SCREENSHOT_DIR")
    if not folder:
        return None
    path = Path(folder) / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def font_px(locator) -> float:
    return float(locator.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))


def lead_a_class(page) -> str:
    """Turn on the sidebar's "Lead a class" (the Class section opened first) and return the class's code."""
    side = page.locator("[data-testid=stSidebar]")
    side.get_by_text("Class", exact=True).click()
    side.get_by_text("Lead a class").click()
    banner = page.get_by_text(re.compile(r"Leading class [A-Z0-9]{6}"))
    banner.wait_for()
    return re.search(r"Leading class ([A-Z0-9]{6})", banner.inner_text()).group(1)
