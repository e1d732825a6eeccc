"""Issue #41: a student's phone. Every page in a real headless Chromium emulating a phone (touch, device scale
3) at 390 x 844 and 360 x 740, on the shipped models: the page laid out for the width it reported
(viz_app/phone.py), no horizontal scrolling, nothing drawn past the screen's right edge, the first figure's
top within the first screen on the pages that lead with a picture, no two tick labels of a figure
overlapping (their boxes measured), every character of the Attention map's window labelled. And a class: a
teacher at 1280 x 720, a student's phone that shows the teacher's map readable and answers with taps.

E2E_PHONE_REPORT=path appends, per page and size, the first figure's top, its plot size and its smallest
tick label (the numbers of the issue's note)."""

from __future__ import annotations

import json
import os
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from viz_app import phone
from viz_app.backend.classes import DB_ENV

from .conftest import serve
from .helpers import WAIT_MS, lead_a_class, screenshot, switch_in_app, wait_idle, wait_until
from .test_presenter_browser import shown_characters

pytestmark = pytest.mark.e2e
PHONES = [(390, 844), (360, 740)]
PAGES = ("", "sharpness", "residual", "why", "induction", "timeline", "generate", "train", "ablations", "lesson")
PICTURE_FIRST = ("", "sharpness", "why", "generate")  # their first figure's top within the first screen
PROMPT = "First Citizen:\nBefore we proceed any further, hear me speak."

# what the page draws past the screen: the page's own scroll widths, and every element of the page's main
# column (a table scrolls inside itself: not the page) and every SVG text of a figure past its right edge
OVERFLOW = """() => {
  const w = window.innerWidth, main = document.querySelector('[data-testid=stMain]');
  const out = [];
  if (document.documentElement.scrollWidth > w) out.push('document ' + document.documentElement.scrollWidth);
  if (main.scrollWidth > main.clientWidth) out.push('main ' + main.scrollWidth);
  const clipped = el => {  // cut by a box of its own (an input inside its field), not by the screen
    for (let a = el.parentElement; a && a !== main; a = a.parentElement)
      if (getComputedStyle(a).overflowX !== 'visible' && a.getBoundingClientRect().right <= w + 1) return true;
    return false;
  };
  for (const el of main.querySelectorAll('[data-testid=stElementContainer] *')) {
    if (el.closest('[data-testid=stDataFrame], [data-testid=stTable], .js-plotly-plot, [data-testid=stCode]')) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 1 && !clipped(el))
      out.push(`${el.tagName}.${el.className} '${(el.innerText || '').slice(0, 30)}' right ${Math.round(r.right)}`);
  }
  for (const t of main.querySelectorAll('.js-plotly-plot svg text')) {
    const r = t.getBoundingClientRect();
    if (r.width > 0 && t.textContent.trim() && r.right > w + 1) out.push(`svg text '${t.textContent}' ${r.right}`);
  }
  return out.slice(0, 10);
}"""

# every figure of the page: its top (in the page, not the screen), its plot area, its tick labels' smallest
# font size, and the pairs of tick labels of one axis whose boxes overlap
FIGURES = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const scrolled = main.scrollTop;
  const out = [];
  for (const c of document.querySelectorAll('[data-testid=stPlotlyChart]')) {
    const box = c.getBoundingClientRect();
    if (box.height === 0) continue;
    const plots = [...c.querySelectorAll('.nsewdrag')].map(d => d.getBoundingClientRect());
    const plot = plots.length ? plots[0] : {width: 0, height: 0};
    let smallest = null;
    const overlaps = [];
    for (const axis of c.querySelectorAll('.xaxislayer-above, .yaxislayer-above')) {
      const texts = [...axis.querySelectorAll('text')].filter(t => t.textContent.trim());
      const boxes = texts.map(t => t.getBoundingClientRect());
      for (const t of texts) {
        const px = parseFloat(getComputedStyle(t).fontSize);
        smallest = smallest === null ? px : Math.min(smallest, px);
      }
      for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5)
          overlaps.push(texts[i].textContent + ' / ' + texts[j].textContent);
      }
    }
    const title = c.querySelector('.gtitle');
    out.push({top: Math.round(box.top + scrolled), plot: [Math.round(plot.width), Math.round(plot.height)],
              smallest, overlaps, title: title ? title.textContent : ''});
  }
  return out;
}"""


def open_on_phone(tabs, url: str, width: int, height: int):
    page = tabs.take(viewport={"width": width, "height": height}, has_touch=True, is_mobile=True, device_scale_factor=3)
    page.goto(url)
    wait_laid_out(page, width)
    return page


def wait_laid_out(page, width: int) -> None:
    """Until the server has laid the page out for this phone's width (phone.py marks it) and the run is over."""
    wait_until(page, f"() => document.documentElement.dataset.phoneLayout === '{width}'")
    wait_idle(page)
    page.wait_for_timeout(500)  # Plotly draws after the run
    wait_idle(page)


def picture_first(page, height: int) -> None:
    """Until the page's first figure starts within the first screen, as a phone's layout puts it (at most a
    minute): on a loaded machine the run that lays the page out for the phone can still be drawing when the
    marker is set, and the laptop layout's elements are on the screen until it ends. The test then measures
    what is there, and says if it is not."""
    try:
        wait_until(
            page,
            "(h) => { const c = document.querySelector('[data-testid=stPlotlyChart] .main-svg');"
            " return !!c && c.getBoundingClientRect().top + window.scrollY < h; }",
            arg=height,
            timeout=WAIT_MS,
        )
    except PlaywrightTimeoutError:
        return
    wait_idle(page)
    page.wait_for_timeout(500)  # Plotly draws after the run
    wait_idle(page)


def report(name: str, width: int, height: int, first: dict | None) -> None:
    path = os.environ.get("E2E_PHONE_REPORT")
    if path and first is not None:
        with open(path, "a") as out:
            out.write(json.dumps({"page": name, "size": f"{width}x{height}", "top": first["top"],
                                  "plot": first["plot"], "smallest": first["smallest"]}) + "\n")  # fmt: skip


@pytest.mark.parametrize(("width", "height"), PHONES)
def test_every_page_fits_a_phone(shipped_server, tabs, width, height):
    page = open_on_phone(tabs, f"{shipped_server}/", width, height)
    problems = []
    for slug in PAGES:
        name = slug or "attention"
        if slug:  # by the (hidden) navigation, as a phone's menu does: not a fresh load of the app
            switch_in_app(page, slug)
            wait_laid_out(page, width)
        if slug in PICTURE_FIRST:
            picture_first(page, height)
        screenshot(page, f"phone-{width}-{name}")
        for what in page.evaluate(OVERFLOW):
            problems.append(f"{name}: past the screen: {what}")
        figures = page.evaluate(FIGURES)
        for figure in figures:
            if figure["overlaps"]:
                problems.append(f"{name}: '{figure['title']}' tick labels overlap: {figure['overlaps'][:3]}")
            if figure["smallest"] is not None and figure["smallest"] < 12:
                problems.append(f"{name}: '{figure['title']}' tick labels at {figure['smallest']} px")
        if slug in PICTURE_FIRST:
            if not figures or figures[0]["top"] >= height:
                problems.append(f"{name}: the first figure starts at {figures and figures[0]['top']} px")
        report(name, width, height, figures[0] if figures else None)
        if not slug:  # the map: as wide as the screen, every character of its window labelled
            first = figures[0]
            assert first["plot"][0] >= width - 80, first
            chars = shown_characters(page)
            assert len(chars) == phone.zoom(width), chars
            ticks = page.locator("[data-testid=stPlotlyChart]").first.locator(".yaxislayer-above text")
            assert "".join(ticks.all_text_contents()) == chars
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    """The app on the shipped checkpoints, its class store in a temp folder."""
    db = tmp_path_factory.mktemp("classes") / "classes.sqlite3"
    yield from serve(None, tmp_path_factory.mktemp("log") / "streamlit.log", **{DB_ENV: str(db)})


def test_a_student_on_a_phone_reads_the_teachers_map_and_answers_with_taps(class_server, tabs):
    teacher = tabs.take(viewport={"width": 1280, "height": 720})
    teacher.goto(f"{class_server}/?prompt={quote(PROMPT)}")
    wait_idle(teacher)
    side = teacher.locator("[data-testid=stSidebar]")
    code = lead_a_class(teacher)

    student = open_on_phone(tabs, f"{class_server}/?class={code}", 390, 844)
    screenshot(student, "phone-class-joined")
    student.get_by_text(f"Following your teacher's screen (class {code})").wait_for()
    student.wait_for_url(lambda url: "prompt=First" in url)
    wait_laid_out(student, 390)
    screenshot(student, "phone-class-following")
    figures = student.evaluate(FIGURES)
    first = figures[0]
    assert first["top"] < 844 and first["plot"][0] >= 300 and not first["overlaps"], first
    assert first["smallest"] >= 12
    # the teacher's controls are behind "Explore on my own"
    assert not student.get_by_role("radiogroup", name="Scale of q·k").is_visible()
    assert (
        student.get_by_text("Layer", exact=True).count() == 0
        or not student.get_by_text("Layer", exact=True).first.is_visible()
    )
    assert not student.evaluate(OVERFLOW)

    side.get_by_label("Question").fill("Where does this head look?")
    side.get_by_label("Choices, one per line").fill("The character just before\nThe first character")
    side.get_by_label("The right choice's letter (blank: no single answer)").fill("A")
    side.get_by_role("button", name="Ask the class").click()
    student.get_by_role("heading", name="Where does this head look?").wait_for()
    wait_idle(student)
    screenshot(student, "phone-class-question")
    answer = student.get_by_role("button", name=re.compile(r"^A\. "))
    box = answer.bounding_box()
    assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    answer.tap()
    student.get_by_text("Your answer: A.").wait_for()
    teacher.locator("[data-testid=stPlotlyChart]").filter(has_text="1 answer").wait_for()

    # exploring shows the controls again
    student.get_by_role("button", name="Explore on my own").tap()
    student.get_by_text("Exploring on your own").wait_for()
