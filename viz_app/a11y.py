"""Every student can use it (WCAG 2.1 AA): what the browser needs beyond Streamlit's own page.

- alt_text: under every figure (page.chart), one sentence saying what it shows and its headline number,
  and its numbers as a table one click or key away (WCAG 1.1.1).
- KEYS_JS, one script for the whole browser tab: a presenter's clicker (PageDown / → and PageUp / ← press
  the page's Next and Previous buttons, from the moment the page loads), the focus on a page's heading
  after a page switch, the figures' toolbars and the headings' anchor links out of the Tab order, and
  the maps by keyboard (a clickable map takes the focus; arrow keys move a visible cursor over its
  cells, Enter picks one, as a click would; an ARIA live region says which).
- CSS: text colours that meet 4.5:1 on the app's backgrounds (Streamlit's caption grey is 3.9:1, code in
  a caption 3.0:1), and a focus ring on every control a keyboard reaches.

app.py calls apply() once a run, for every page. The colours are measured by tests/e2e/
test_accessibility_browser.py with axe-core on every page in both modes.
"""

from __future__ import annotations

import json

import streamlit as st

from .figures.alt_text import AltText, describe

# 5.9:1 on white, 5.3:1 on the sidebar's grey (#f0f2f6): the app's text that should read as secondary
SECONDARY_TEXT = "#5c6570"
FOCUS_RING = "#1d5a94"  # 7.1:1 on white: the primary colour, darker

CSS = f"""<style>
/* captions: Streamlit draws them in the text colour at 60% opacity (#828180 on white, 3.9:1) */
[data-testid="stCaptionContainer"] {{ opacity: 1 !important; color: {SECONDARY_TEXT} !important; }}
[data-testid="stCaptionContainer"] p {{ color: {SECONDARY_TEXT} !important; }}
[data-testid="stCaptionContainer"] code {{ color: #1f5e4a !important; }}
[data-testid="stCaptionContainer"] a {{ color: {FOCUS_RING} !important; }}
/* st.code's syntax colours (a number 2.6:1, a keyword 3.8:1 on its #fcfcfb) */
[data-testid="stCode"] .token:is(.keyword, .boolean, .function, .builtin, .tag, .selector)
  {{ color: {FOCUS_RING} !important; }}
[data-testid="stCode"] .token:is(.number, .string, .char, .attr-value, .constant, .symbol, .regex, .variable)
  {{ color: #1f5e4a !important; }}
[data-testid="stCode"] .token:is(.comment, .prolog, .doctype, .cdata) {{ color: {SECONDARY_TEXT} !important; }}
[data-testid="stCode"] .token:is(.operator, .punctuation, .entity, .url, .parameter, .property, .attr-name)
  {{ color: inherit !important; }}
/* the element that carries a script of this module takes no room (a gap of the page's column otherwise) */
[data-testid="stElementContainer"]:has(.a11y-script) {{ display: none !important; }}
/* a visible focus on every control a keyboard reaches */
:is(a, button, input, textarea, select, summary, [role="slider"], [role="radio"], [role="checkbox"],
    [role="switch"], [role="tab"], [role="option"], [role="combobox"], [tabindex]):focus-visible {{
  outline: 3px solid {FOCUS_RING} !important; outline-offset: 2px !important; }}
[data-testid="stSidebarNav"] a:focus-visible {{ background: #dbe7f3 !important; }}
/* a page's heading takes the focus after a page switch (not a control: no ring, the reader says it) */
[data-testid="stMain"] :is(h2, h3)[tabindex="-1"]:focus {{ outline: none !important; }}
/* the Lesson's steps: scrolled to below the header bar */
[class*="st-key-lesson-step-"] {{ scroll-margin-top: 4rem; }}
</style>"""


# the buttons the clicker presses, by their widget keys: the first drawn and enabled one of each list
CLICKER_NEXT = ("gen_next", "tl_next", "lesson_next")
CLICKER_PREVIOUS = ("gen_back", "tl_prev", "lesson_prev")
LIVE_REGION = "a11y-live"  # the id of the polite live region the maps and the clicker speak through

KEYS_JS = """<span class="a11y-script"></span><script>
(() => {
  if (window.__attentionLabKeys) return;  // one set of listeners for the tab: Streamlit's reruns and page
  window.__attentionLabKeys = true;       // switches keep the document
  const NEXT = __NEXT__, PREVIOUS = __PREVIOUS__;
  const main = () => document.querySelector('[data-testid=stMain]');
  const idle = () => document.querySelector('[data-test-script-state]')?.dataset.testScriptState === 'notRunning';

  // --- the live region: what a screen reader says after a key ---
  const live = document.createElement('div');
  live.id = '__LIVE__';
  live.setAttribute('role', 'status');
  live.setAttribute('aria-live', 'polite');
  live.style.cssText = 'position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap';
  document.body.appendChild(live);
  const say = text => { live.textContent = ''; setTimeout(() => { live.textContent = text; }, 30); };

  // --- a presenter's clicker: PageDown / -> and PageUp / <- ---
  const usesArrows = el => el && el.closest && el.closest(
    'input, textarea, select, [contenteditable=true], [role=slider], [role=radio], [role=radiogroup], ' +
    '[role=listbox], [role=combobox], [role=option], [role=tab], [role=menu], [data-a11y-map]');
  const press = keys => {
    for (const key of keys) {
      const button = document.querySelector(`.st-key-${key} button`);
      if (button && !button.disabled) { button.click(); return button; }
    }
    return null;
  };
  document.addEventListener('keydown', e => {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const forward = e.key === 'PageDown' || e.key === 'ArrowRight';
    const back = e.key === 'PageUp' || e.key === 'ArrowLeft';
    if (!(forward || back)) return;
    const arrow = e.key.startsWith('Arrow');
    if (arrow && usesArrows(document.activeElement)) return;  // the control's own keys come first
    const pressed = press(forward ? NEXT : PREVIOUS);
    if (pressed) {
      e.preventDefault(); e.stopPropagation();
      say((pressed.querySelector('[data-testid=stMarkdownContainer]') || pressed).innerText.trim());
    }
  }, true);

  // --- after a page switch, the focus goes to the new page's heading ---
  const FOCUS_TRIES = 600;  // every 100 ms: 60 s for the new page's run (10 s ran out on a loaded machine in CI)
  let path = location.pathname;
  // `before`: the heading shown when the switch was seen. Streamlit may draw the new page's heading in the
  // same batch as the new path, so the same text for half a second (5 tries) is taken as the new page's too
  const focusHeading = (before, tries) => {
    const h = main()?.querySelector('h1, h2');
    if (h && idle() && (h.textContent !== before || tries <= FOCUS_TRIES - 5)) {
      h.setAttribute('tabindex', '-1');
      h.focus({preventScroll: false});
      return;
    }
    if (tries > 0) setTimeout(() => focusHeading(before, tries - 1), 100);
  };

  // --- the maps by keyboard ---
  const CURSOR = 'a11y-cursor';
  const targets = chart => [...chart.querySelectorAll('.scatterlayer .trace')]
    .filter(t => t.__data__?.[0]?.trace?.mode === 'markers' && t.__data__[0].trace.marker?.opacity === 0)
    .flatMap(t => [...t.querySelectorAll('.point')].map(p => ({el: p, trace: t.__data__[0].trace})));
  const centre = el => {
    const r = el.getBoundingClientRect();
    return {x: r.left + r.width / 2, y: r.top + r.height / 2, r};
  };
  const describe = (target) => {
    const i = target.el.__data__?.i;
    const t = target.trace;
    const data = t.customdata?.[i];
    if (Array.isArray(data) && data.length >= 2 && Number.isInteger(data[0]) && Number.isInteger(data[1]))
      return `layer ${data[0]} head ${data[1]}`;
    const x = t.x?.[i], y = t.y?.[i];
    if (typeof x === 'string' && x.includes(' @')) return `query ${y}, key ${x}`;
    return `${y}, ${x}`;
  };
  const show = (chart, target, quiet) => {
    if (!quiet) target.el.scrollIntoView({block: 'nearest', inline: 'nearest'});  // a tall map: the cell in view
    let box = chart.querySelector('.' + CURSOR);
    if (!box) {
      box = document.createElement('div');
      box.className = CURSOR;
      box.style.cssText = 'position:fixed;pointer-events:none;border:3px solid #1d5a94;' +
        'box-shadow:0 0 0 2px #ffffff;border-radius:2px;z-index:5';
      chart.appendChild(box);
    }
    const {r} = centre(target.el);
    const side = Math.max(r.width, r.height, 8);
    const c = centre(target.el);
    Object.assign(box.style, {left: `${c.x - side / 2 - 2}px`, top: `${c.y - side / 2 - 2}px`,
                              width: `${side + 4}px`, height: `${side + 4}px`, display: 'block'});
    chart.__a11yAt = target;
    if (!quiet) say(describe(target));
  };
  // the cursor is drawn in the window's coordinates: it follows the page as it scrolls
  document.addEventListener('scroll', () => {
    const chart = document.activeElement;
    if (chart?.hasAttribute?.('data-a11y-map') && chart.__a11yAt?.el.isConnected) show(chart, chart.__a11yAt, true);
  }, true);
  const neighbour = (list, from, dx, dy) => {
    const a = centre(from.el);
    let best = null, bestScore = Infinity;
    for (const t of list) {
      if (t.el === from.el) continue;
      const b = centre(t.el);
      const along = dx ? (b.x - a.x) * dx : (b.y - a.y) * dy;
      const across = dx ? Math.abs(b.y - a.y) : Math.abs(b.x - a.x);
      if (along <= 1) continue;
      const score = along + 4 * across;
      if (score < bestScore) { bestScore = score; best = t; }
    }
    return best;
  };
  // as a mouse would: Plotly picks the point it last hovered, so hover it first, then press and release
  const click = el => {
    el.scrollIntoView({block: 'nearest', inline: 'nearest'});
    const {x, y} = centre(el);
    const at = document.elementFromPoint(x, y) || el;
    const opts = {bubbles: true, cancelable: true, clientX: x, clientY: y, button: 0, view: window};
    at.dispatchEvent(new MouseEvent('mousemove', opts));
    setTimeout(() => {
      at.dispatchEvent(new MouseEvent('mousemove', opts));
      at.dispatchEvent(new MouseEvent('mousedown', {...opts, buttons: 1}));
      at.dispatchEvent(new MouseEvent('mouseup', opts));
      at.dispatchEvent(new MouseEvent('click', opts));
    }, 120);
  };
  // the cell the figure outlines (the chosen head, the picked cell): the cursor starts there
  const chosen = (chart, all) => {
    const boxes = [...chart.querySelectorAll('.shapelayer path')].map(p => p.getBoundingClientRect())
      .filter(r => r.width > 0 && r.height > 0).sort((a, b) => a.width * a.height - b.width * b.height);
    for (const r of boxes) {
      const inside = all.filter(t => {
        const c = centre(t.el);
        return c.x > r.left && c.x < r.right && c.y > r.top && c.y < r.bottom;
      });
      if (inside.length) return inside[Math.floor(inside.length / 2)];
    }
    return null;
  };
  let refocus = null;  // after Enter: the map (or the map that replaced it) takes the focus back
  const prepare = chart => {
    const list = targets(chart);
    if (!list.length) return;
    if (!chart.hasAttribute('data-a11y-map')) {
      chart.setAttribute('data-a11y-map', '1');
      chart.setAttribute('tabindex', '0');
      chart.setAttribute('role', 'application');
      chart.setAttribute('aria-roledescription', 'map');
      const title = chart.querySelector('.gtitle')?.textContent || 'map';
      chart.setAttribute('aria-label', `${title}: arrow keys move over the cells, Enter picks one`);
      chart.addEventListener('focus', () => {
        const all = targets(chart);
        show(chart, (chart.__a11yAt && all.find(t => t.el === chart.__a11yAt.el)) || chosen(chart, all)
                    || all[all.length - 1]);
      });
      chart.addEventListener('blur', () => {
        const b = chart.querySelector('.' + CURSOR);
        if (b) b.style.display = 'none';
      });
      chart.addEventListener('keydown', e => {
        const moves = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]};
        const all = targets(chart);
        if (!all.length) return;
        let at = chart.__a11yAt && all.find(t => t.el === chart.__a11yAt.el);
        if (!at) at = all[all.length - 1];
        if (moves[e.key]) {
          e.preventDefault(); e.stopPropagation();
          const next = neighbour(all, at, ...moves[e.key]);
          if (next) show(chart, next);
        } else if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault(); e.stopPropagation();
          say(`picked ${describe(at)}`);
          refocus = {key: [...chart.parentElement.closest('[class*=st-key-]')?.classList || []]
                       .find(c => c.startsWith('st-key-')), until: Date.now() + 8000};
          click(at.el);
        }
      });
    }
  };
  const tidy = () => {
    // out of the Tab order: a figure's toolbar (8 stops a figure; its numbers are in the table under it) and
    // a heading's link-to-this-section (a stop before every section's controls)
    for (const b of document.querySelectorAll('.modebar-btn:not([tabindex="-1"]), '
                                              + '[data-testid=stHeaderActionElements] a:not([tabindex="-1"])'))
      b.setAttribute('tabindex', '-1');
    for (const c of document.querySelectorAll('[data-testid=stPlotlyChart]')) prepare(c);
    if (location.pathname !== path) {
      path = location.pathname;
      focusHeading(main()?.querySelector('h1, h2')?.textContent, FOCUS_TRIES);
    }
    if (refocus && idle() && document.activeElement === document.body) {
      const maps = [...document.querySelectorAll('[data-a11y-map]')];
      const same = refocus.key && document.querySelector(`.${refocus.key} [data-a11y-map]`);
      const target = same || maps[0];
      if (target) { target.focus(); refocus = null; }
    }
    if (refocus && Date.now() > refocus.until) refocus = null;
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; tidy(); });
  }).observe(document.body, {childList: true, subtree: true});
  tidy();
})();
</script>"""


def keys_js() -> str:
    return (
        KEYS_JS.replace("__NEXT__", json.dumps(list(CLICKER_NEXT)))
        .replace("__PREVIOUS__", json.dumps(list(CLICKER_PREVIOUS)))
        .replace("__LIVE__", LIVE_REGION)
    )


SHOW_SECTION_JS = """<span class="a11y-script"></span><script>
(() => {
  const box = document.querySelector('.st-key-__KEY__');
  if (!box) return;
  box.scrollIntoView({block: 'start', behavior: 'instant'});
  const heading = box.querySelector('h1, h2, h3');  // a screen reader reads where the page went
  if (heading) { heading.setAttribute('tabindex', '-1'); heading.focus({preventScroll: true}); }
})();
</script>"""


def show_section(key: str) -> None:
    """Scroll the container with this key into view and put the focus on its heading (the Lesson's step
    the class moved to)."""
    st.html(SHOW_SECTION_JS.replace("__KEY__", key), unsafe_allow_javascript=True)


KEYBOARD_HELP = """\
- **A presenter's clicker** (or PageDown / → and PageUp / ←): the next and the previous step on the
  Lesson, Generate and the Timeline, as soon as the page has loaded. A class that follows you follows
  the step.
- **Tab** moves through the page's controls; after a page switch the focus is on the page's heading.
- **A map**: Tab to it, move over its cells with the arrow keys, press **Enter** to pick one (a head on the
  layers × heads grid opens it; a cell of a head's map explains its score). A screen reader says where you are.
- **Every figure** has a sentence under it saying what it shows, and its numbers as a table
  ("The numbers as a table").
"""


def keyboard_help() -> None:
    """The keys, in the sidebar's last expander (app.py draws it after the sidebar)."""
    with st.sidebar, st.expander("Keyboard, clicker and screen readers", icon=":material/keyboard:"):
        st.markdown(KEYBOARD_HELP)


def apply() -> None:
    """The page's accessibility CSS and key script, on every run (st.html adds no visible element; the
    script installs its listeners once a tab)."""
    st.html(CSS)
    st.html(keys_js(), unsafe_allow_javascript=True)


def _described(fig) -> AltText:
    """The figure's text alternative, made once per figure: page.figure shares one figure between
    every session that draws it, and a shared figure never changes."""
    alt = fig.__dict__.get("_alt_text")
    if alt is None:
        alt = fig.__dict__["_alt_text"] = describe(fig)
    return alt


def alt_text(fig, name: str) -> None:
    """Under a figure: its sentence (read by a screen reader, seen by everyone) and its numbers as a
    table in a folded expander, made only once it is opened (on_change="rerun": Streamlit then runs
    the body of an open expander alone)."""
    alt = _described(fig)
    st.caption(alt.sentence)
    if not alt.rows:
        return
    box = st.expander("The numbers as a table", icon=":material/table:", key=f"alt_{name}", on_change="rerun")
    if box.open:
        with box:
            if alt.note:
                st.caption(alt.note)
            st.table({column: [row[i] for row in alt.rows] for i, column in enumerate(alt.columns)})
