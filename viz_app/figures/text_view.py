"""One head as big text, for a class (BertViz's head view): the prompt's shown window in large
characters; hovering or clicking a character shades every earlier one by the head's weight from it.

Pure numpy -> an HTML string with a small self-contained script (no network, no library): hover
must answer at once, so the (window x window) weights travel with the page and the browser shades
the characters itself. The page draws the string with st.html (scripts allowed)."""

from __future__ import annotations

import hashlib
import html
import json
import re

import numpy as np

from .kit import DEFAULT_STYLE, FigureStyle, clamp_window, visible_char

SHADE = (8, 48, 107)  # the darkest colour of the maps' "Blues": a weight of 1 is this, 0 is the page's white
DARK_TEXT_FROM = 0.5  # white characters on a background at least this dark


def font_px(style: FigureStyle) -> int:
    """The characters' size: 1.6 times the figures' text (32 px projected, 21 px on a laptop)."""
    return round(1.6 * style.font_size)


def percent_rows(weights: np.ndarray) -> list[list[int]]:
    """A (n, n) causal pattern's lower triangle as whole percentages: row q holds keys 0..q (q + 1 numbers)."""
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=0.0)
    p = np.rint(np.clip(w, 0.0, 1.0) * 100).astype(int)
    return [p[q, : q + 1].tolist() for q in range(p.shape[0])]


def shade(percent: int) -> str:
    """A key's background for a weight in whole percent (the script computes the same)."""
    return f"rgba({SHADE[0]}, {SHADE[1]}, {SHADE[2]}, {percent / 100:.2f})"


_SCRIPT = """<script>
(() => {
  const root = document.getElementById("__UID__");
  if (!root) return;
  const rows = __ROWS__;  // rows[q][k]: the weight in whole percent query q puts on key k <= q
  const keys = [...root.querySelectorAll(".tv-c")];
  const names = __NAMES__;
  let pinned = keys.length - 1;
  function show(q) {
    keys.forEach((span, k) => {
      const p = k <= q ? rows[q][k] : 0;
      span.style.backgroundColor = `rgba(__SHADE__, ${(p / 100).toFixed(2)})`;
      span.style.color = p >= __DARK__ ? "#ffffff" : "";
      span.classList.toggle("tv-query", k === q);
      span.classList.toggle("tv-future", k > q);
      span.title = k <= q ? `${names[k]}: weight ${p}% from ${names[q]}` : `${names[k]}: in the future of ${names[q]}`;
    });
    root.dataset.query = String(q);
  }
  keys.forEach((span, i) => {
    span.addEventListener("mouseenter", () => show(i));
    span.addEventListener("click", () => { pinned = i; show(i); });
  });
  root.querySelector(".tv-text").addEventListener("mouseleave", () => show(pinned));
  show(pinned);
})();
</script>"""


def head_text_html(
    matrix: np.ndarray,
    chars: str,
    *,
    window: tuple[int, int] | None = None,
    title: str = "",
    unit: str = "character",
    style: FigureStyle = DEFAULT_STYLE,
) -> str:
    """One head's (T, T) weights over the window of chars (or tokens' labels; `unit` says which) as big
    text, shaded from the window's last character until a hover or click picks another (drawn shaded
    already, so it reads without the script too). Spaces and newlines show as ␣ and ↵, as on the maps'
    axes; a line breaks after ↵."""
    start, stop = clamp_window(matrix.shape[-1], window)
    rows = percent_rows(np.asarray(matrix)[start:stop, start:stop])
    shown = chars[start:stop]
    last = len(shown) - 1
    digest = hashlib.sha1(json.dumps([shown, start, rows, title]).encode()).hexdigest()[:12]
    uid = f"tv-{digest}"
    px = font_px(style)
    spans = []
    for k, c in enumerate(shown):
        p = rows[last][k]
        colour = ";color:#ffffff" if p >= 100 * DARK_TEXT_FROM else ""
        whitespace = " tv-ws" if c in " \n\t\r" else ""
        query = " tv-query" if k == last else ""
        spans.append(
            f'<span class="tv-c{whitespace}{query}" data-pos="{start + k}" '
            f'style="background-color:{shade(p)}{colour}">{html.escape(visible_char(c))}</span>'
            + ("<br>" if c == "\n" else "<wbr>" if c == " " else "")
        )
    names = [f"'{visible_char(c)}' @{start + k}" for k, c in enumerate(shown)]
    css = f"""<style>
#{uid} .tv-title {{ font-size: {max(style.font_size, 16)}px; margin: 0 0 0.4em 0; color: #31333f; }}
#{uid} .tv-text {{ font-family: "Source Code Pro", monospace; font-size: {px}px; line-height: 1.6;
  color: #31333f; overflow-wrap: anywhere; user-select: none; }}
#{uid} .tv-c {{ padding: 0.05em 0.04em; border-radius: 0.15em; cursor: pointer; }}
#{uid} .tv-ws {{ color: #5c6570; }}
#{uid} .tv-query {{ outline: 3px solid {style.accent}; outline-offset: 1px; }}
#{uid} .tv-future {{ opacity: 0.35; }}
#{uid} .tv-note {{ font-size: {max(round(0.8 * style.font_size), 14)}px; color: #6b7280; margin-top: 0.6em; }}
</style>"""
    fill = {
        "__UID__": uid,
        "__ROWS__": json.dumps(rows, separators=(",", ":")),
        "__NAMES__": json.dumps(names, ensure_ascii=False).replace("</", "<\\/"),  # no early </script>
        "__SHADE__": ", ".join(map(str, SHADE)),
        "__DARK__": str(round(100 * DARK_TEXT_FROM)),
    }
    script = re.sub("|".join(fill), lambda m: fill[m.group(0)], _SCRIPT)  # one pass: a prompt may hold a mark
    return (
        f'{css}<div class="tv" id="{uid}" data-query="{last}">'
        + (f'<div class="tv-title">{html.escape(title)}</div>' if title else "")
        + f'<div class="tv-text">{"".join(spans)}</div>'
        + f'<div class="tv-note">Hover or click a {unit}: every earlier one is shaded by how much weight '
        "this head puts on it from there (dark = most).</div></div>" + script
    )
