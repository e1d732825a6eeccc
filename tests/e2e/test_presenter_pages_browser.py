"""Presenter mode on every page, as a class sees it on a projector: in a real headless Chromium at
1280 x 720 and 1920 x 1080 on the shipped model, each page's picture inside the window under at
most one row of controls, growing with the window, its text at 20 px or more and, on a map of
characters, every character of the shown window labelled; the Attention page's big text view of a
head, shaded in the browser as the mouse moves over it."""

from __future__ import annotations

import pytest

from viz_app.figures.kit import visible_char
from viz_app.url_state import DEFAULT_PROMPT

from .helpers import screenshot, wait_until
from .test_presenter_browser import SIZES, open_presenting, shown_characters

pytestmark = pytest.mark.e2e

# every plot area of a chart (subplots too), the tick labels of each axis that draws them, and the
# size of every other text (cell numbers, bar labels, titles), as the browser draws them
MEASURE = """chart => {
  const boxes = [...chart.querySelectorAll('.nsewdrag')].map(d => d.getBoundingClientRect());
  const axes = {};
  for (const g of chart.querySelectorAll('.xaxislayer-above > g, .yaxislayer-above > g')) {
    const t = g.querySelector('text');
    if (!t || !t.textContent) continue;
    const id = g.getAttribute('class').replace('tick', '');
    const r = t.getBoundingClientRect();
    (axes[id] = axes[id] || []).push({text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize),
                                      top: r.top, left: r.left});
  }
  for (const [id, ticks] of Object.entries(axes))  // as read: down the side, left to right along the bottom
    ticks.sort((a, b) => id.startsWith('y') ? a.top - b.top : a.left - b.left);
  const texts = [...chart.querySelectorAll('svg text')].filter(t => t.textContent.trim() && !t.closest('.hoverlayer'))
    .map(t => ({text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize)}));
  return {top: Math.min(...boxes.map(b => b.top)), bottom: Math.max(...boxes.map(b => b.bottom)),
          left: Math.min(...boxes.map(b => b.left)), right: Math.max(...boxes.map(b => b.right)),
          cell: Math.min(...boxes.map(b => b.height)), axes, texts};
}"""


# the rows of controls above a y: the widgets' boxes, one row where they overlap in height
ROWS_ABOVE = """y => {
  const kinds = ['stSlider', 'stNumberInput', 'stButton', 'stSelectbox', 'stButtonGroup', 'stTextInput'];
  const boxes = kinds.flatMap(k => [...document.querySelectorAll(`[data-testid=stMain] [data-testid=${k}]`)])
    .map(e => e.getBoundingClientRect()).filter(b => b.height > 0 && b.bottom <= y + 1)
    .sort((a, b) => a.top - b.top);
  let rows = 0, bottom = -Infinity;
  for (const b of boxes) { if (b.top >= bottom - 1) { rows += 1; } bottom = Math.max(bottom, b.bottom); }
  return rows;
}"""


def rows_above(page, y: float) -> list[str]:
    rows = page.evaluate(ROWS_ABOVE, y)
    return [f"{rows} rows of controls above the picture"] if rows > 1 else []


def measure(page, title: str | None = None, index: int = 0) -> dict:
    charts = page.locator("[data-testid=stPlotlyChart]")
    chart = charts.filter(has_text=title).first if title else charts.nth(index)
    return chart.evaluate(MEASURE)


def fits(pic: dict, width: int, height: int) -> list[str]:
    """The plot area inside the window, at 1920 x 1080 at least 60% of its height, no text under 20 px."""
    problems = []
    if pic["top"] < 0 or pic["bottom"] > height or pic["left"] < 0 or pic["right"] > width:
        problems.append(f"plot area {pic['left']:.0f}-{pic['right']:.0f} x {pic['top']:.0f}-{pic['bottom']:.0f} px "
                        f"in a {width} x {height} window")  # fmt: skip
    if height >= 1000 and pic["bottom"] - pic["top"] < 0.6 * height:
        problems.append(f"plot area {pic['bottom'] - pic['top']:.0f} px tall, under 60% of {height}")
    small = [t for t in pic["texts"] if t["px"] < 20]
    if small:
        problems.append(f"{len(small)} texts under 20 px, e.g. {small[0]}")
    return problems


def labelled(pic: dict, chars: str) -> list[str]:
    """Every axis that draws characters draws every one of the window, rows at least 19 px apart."""
    problems = []
    drawn = {axis: ticks for axis, ticks in pic["axes"].items()}
    for side in "xy":
        if not any(axis.startswith(side) for axis in drawn):
            problems.append(f"no {side} axis draws the characters")
    for axis, ticks in drawn.items():
        text = "".join(t["text"] for t in ticks)
        if text != chars:
            problems.append(f"{axis} labels {text!r}, the window is {chars!r}")
        if axis.startswith("y"):
            tops = [t["top"] for t in ticks]
            gaps = [b - a for a, b in zip(tops, tops[1:], strict=False)]
            if gaps and min(gaps) < 19:
                problems.append(f"{axis} labels {min(gaps):.1f} px apart")
    return problems


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_every_head_of_a_layer_fits_the_window_with_every_character_labelled(shipped_server, page, width, height):
    open_presenting(page, f"{shipped_server}/?presenter=1&view=layer&layer=1&head=2", width, height)
    pic = measure(page, "layer 1 · head 5")
    screenshot(page, f"presenter-layer-{width}x{height}")
    chars = shown_characters(page)
    problems = fits(pic, width, height) + labelled(pic, chars) + rows_above(page, pic["top"])
    if len(chars) < 8:
        problems.append(f"only {len(chars)} characters shown")
    if not {"y", "y4"} <= set(pic["axes"]) or not {"x4", "x5", "x6"} <= set(pic["axes"]):
        problems.append(f"the first column and the bottom row should carry the characters: {sorted(pic['axes'])}")
    assert not problems, problems


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_layers_x_heads_grid_fits_the_window_with_tiles_big_enough_to_read(shipped_server, page, width, height):
    open_presenting(page, f"{shipped_server}/?presenter=1&view=model&layer=1&head=2", width, height)
    pic = measure(page, "layer 5")
    screenshot(page, f"presenter-model-{width}x{height}")
    problems = fits(pic, width, height) + rows_above(page, pic["top"])
    names = {axis: [t["text"] for t in ticks] for axis, ticks in pic["axes"].items()}
    if names != {"x": [f"head {h}" for h in range(6)], "y": [f"layer {i}" for i in range(6)]}:
        problems.append(f"the grid is named {names}")
    tile = (pic["bottom"] - pic["top"]) / 6
    if tile < 70:  # a head's pattern, 24 characters a side, seen from the back: at least 3 px a character
        problems.append(f"tiles {tile:.0f} px")
    assert not problems, problems


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_why_this_character_projects_its_bars_under_one_row_of_pickers(shipped_server, page, width, height):
    open_presenting(page, f"{shipped_server}/why?presenter=1", width, height)
    pic = measure(page, "What pushed the logit")
    screenshot(page, f"presenter-why-{width}x{height}")
    problems = fits(pic, width, height) + rows_above(page, pic["top"])
    rows = [t["text"] for t in pic["axes"].get("y", [])]
    if len(rows) < 10 or not rows[-1].startswith("= the logit"):
        problems.append(f"the bars are named {rows}")
    picker = page.get_by_text("Explain the logit of").bounding_box()
    if picker["y"] > pic["top"]:
        problems.append("the character's picker is not above the bars")
    assert not problems, problems


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_induction_projects_both_head_grids_under_one_row_of_pickers(shipped_server, page, width, height):
    open_presenting(page, f"{shipped_server}/induction?presenter=1", width, height)
    grids = [measure(page, "Induction score"), measure(page, "Previous-token score")]
    screenshot(page, f"presenter-induction-{width}x{height}")
    problems = [p for pic in grids for p in fits(pic, width, height) + rows_above(page, pic["top"])]
    for pic in grids:  # the page opens on python-small (pages.PAGES["induction"].model): 2 layers x 4 heads
        if [t["text"] for t in pic["axes"].get("y", [])] != [f"layer {i}" for i in range(2)]:
            problems.append(f"rows named {pic['axes'].get('y')}")
        if sum(1 for t in pic["texts"] if t["text"].replace(".", "").isdigit()) < 8:
            problems.append("not every head's score is written in its cell")
    assert not problems, problems


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_residual_stream_projects_its_norms_with_every_character_labelled(shipped_server, page, width, height):
    open_presenting(page, f"{shipped_server}/residual?presenter=1", width, height)
    pic = measure(page, "‖x‖ per position")
    screenshot(page, f"presenter-residual-{width}x{height}")
    problems = fits(pic, width, height) + rows_above(page, pic["top"])
    across = "".join(t["text"] for t in pic["axes"].get("x", []))
    if len(across) < 24 or across not in "".join(visible_char(c) for c in DEFAULT_PROMPT):
        problems.append(f"the characters across are {across!r}: not every character of a stretch of the prompt")
    assert not problems, problems


# the big text view of a head: its spans, their size and their computed background, as drawn
TEXT_VIEW = """() => {
  const root = document.querySelector('.tv');
  const spans = [...root.querySelectorAll('.tv-c')];
  const alpha = s => { const m = getComputedStyle(s).backgroundColor.match(/rgba?\\(([^)]*)\\)/);
                       const p = m[1].split(',').map(Number); return p.length === 4 ? p[3] : 1; };
  const box = root.getBoundingClientRect();
  return {chars: spans.map(s => s.textContent), px: parseFloat(getComputedStyle(spans[0]).fontSize),
          alphas: spans.map(alpha), query: Number(root.dataset.query),
          box: {top: box.top, bottom: box.bottom, left: box.left, right: box.right}};
}"""


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_text_view_shades_what_a_hovered_character_looks_at(shipped_server, page, width, height):
    """Layer 1 head 2 is the shipped model's 'last space' head: from a letter, nearly all its weight is
    on the space before the letter's word, and nothing is on the characters after the letter."""
    open_presenting(page, f"{shipped_server}/?presenter=1&layer=1&head=2", width, height)
    view = page.locator(".tv")
    view.wait_for()
    before = page.evaluate(TEXT_VIEW)
    chars = shown_characters(page)
    problems = []
    if "".join(before["chars"]) != chars:
        problems.append(f"the text view shows {''.join(before['chars'])!r}, the map {chars!r}")
    if before["px"] < 24:
        problems.append(f"its characters are {before['px']} px")
    b = before["box"]
    if b["top"] < 0 or b["bottom"] > height or b["right"] > width:
        problems.append(f"the text view is at {b}, outside the {width} x {height} window")
    # hover the letter after the window's first space but one: a letter inside a word
    spaces = [i for i, c in enumerate(chars) if c == "␣"]
    space = spaces[-2]
    letter = space + 2
    page.locator(".tv .tv-c").nth(letter).hover()
    wait_until(page, f"() => document.querySelector('.tv').dataset.query === '{letter}'")
    after = page.evaluate(TEXT_VIEW)
    screenshot(page, f"presenter-text-view-{width}x{height}")
    earlier, later = after["alphas"][: letter + 1], after["alphas"][letter + 1 :]
    if max(range(len(earlier)), key=earlier.__getitem__) != space or earlier[space] < 0.5:
        problems.append(f"from {chars[letter]!r} @{letter} the darkest key is not the space @{space}: {earlier}")
    if any(a > 0 for a in later):
        problems.append(f"characters after the hovered one are shaded: {later}")
    if after["alphas"] == before["alphas"]:
        problems.append("the hover changed nothing")
    assert not problems, problems


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_sharpness_projects_both_head_grids_growing_with_the_window(shipped_server, page, width, height):
    open_presenting(page, f"{shipped_server}/sharpness?presenter=1", width, height)
    grids = [measure(page, "mean normalised entropy"), measure(page, "mean max weight")]
    screenshot(page, f"presenter-sharpness-{width}x{height}")
    problems = [p for pic in grids for p in fits(pic, width, height) + rows_above(page, pic["top"])]
    assert not problems, problems


# the generated text as drawn: its box and its characters' size
GENERATED = """() => {
  const block = document.querySelector('[data-generated]').closest('div');
  const b = block.getBoundingClientRect();
  return {top: b.top, bottom: b.bottom, left: b.left, right: b.right, px: parseFloat(getComputedStyle(block).fontSize)};
}"""


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_generate_projects_its_text_under_one_row_of_controls(shipped_server, page, width, height):
    open_presenting(page, f"{shipped_server}/generate?presenter=1&gen_n=20", width, height)
    text = page.evaluate(GENERATED)
    screenshot(page, f"presenter-generate-{width}x{height}")
    problems = rows_above(page, text["top"])
    if text["top"] < 0 or text["bottom"] > height or text["right"] > width:
        problems.append(f"the text is at {text}, outside the {width} x {height} window")
    if text["px"] < 20:
        problems.append(f"the text is {text['px']} px")
    assert not problems, problems


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_ablations_loss_curves_fill_the_window_under_one_row_of_pills(shipped_server, page, width, height):
    open_presenting(page, f"{shipped_server}/ablations?presenter=1", width, height)
    pic = measure(page, "during training")
    screenshot(page, f"presenter-ablations-{width}x{height}")
    problems = fits(pic, width, height) + rows_above(page, pic["top"])
    assert not problems, problems
