"""Colour never alone, as the browser draws it: the Ablations page's loss curves under Chromium's emulated
deuteranopia and protanopia (CDP Emulation.setEmulatedVisionDeficiency). Every two curves must differ in
their rendered colour (CIE76 ΔE of at least MIN_DELTA_E, on pixels of the screenshot at their markers) or
in their drawn marker symbol, and each is named by a label at its end."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest

from .helpers import chart, scroll_main, wait_idle

pytestmark = pytest.mark.e2e

MIN_DELTA_E = 12.0  # about "different at a glance" for lines a few pixels wide
# each curve's name, drawn marker symbol (its path), and the centres of its markers, as drawn
CURVES = """chart => [...chart.querySelectorAll('.scatterlayer .trace')].map(t => {
  const points = [...t.querySelectorAll('.point')];
  return {name: t.__data__[0].trace.name, symbol: points[0]?.getAttribute('d') || '',
          centres: points.map(p => {
            const r = p.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2];
          })};
})"""


def lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (0-255, (..., 3)) to CIE L*a*b* (D65)."""
    c = rgb / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = c @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def marker_colour(image: np.ndarray, centres: list) -> np.ndarray:
    """The median colour of the non-background pixels at a curve's markers (3 px around each centre)."""
    pixels = []
    for x, y in centres:
        x, y = int(round(x)), int(round(y))
        patch = image[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2].reshape(-1, 3)
        pixels.extend(p for p in patch if p.min() < 235)  # not the white plot background
    return np.median(np.array(pixels), axis=0) if pixels else np.array([255.0, 255.0, 255.0])


@pytest.mark.parametrize("deficiency", ["deuteranopia", "protanopia"])
def test_the_ablation_curves_stay_apart_under_colour_blindness(shipped_server, page, deficiency):
    from PIL import Image

    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{shipped_server}/ablations")
    curves = chart(page, "during training")
    curves.locator(".scatterlayer .point").first.wait_for()
    wait_idle(page)
    top = curves.evaluate("c => c.getBoundingClientRect().top")
    scroll_main(page, top - 80)
    page.wait_for_timeout(500)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setEmulatedVisionDeficiency", {"type": deficiency})
    page.wait_for_timeout(300)
    drawn = curves.evaluate(CURVES)
    image = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"), dtype=float)
    assert len(drawn) >= 8, [d["name"] for d in drawn]  # the shipped results: every variant shown
    colours = {d["name"]: lab(marker_colour(image, d["centres"])) for d in drawn}
    symbols = {d["name"]: d["symbol"] for d in drawn}
    alike = []
    for a, b in itertools.combinations(colours, 2):
        delta = float(np.linalg.norm(colours[a] - colours[b]))
        if delta < MIN_DELTA_E and symbols[a] == symbols[b]:
            alike.append(f"{a} / {b}: ΔE {delta:.1f}, the same marker")
    assert not alike, alike
    labels = curves.evaluate("c => [...c.querySelectorAll('.annotation-text')].map(t => t.textContent)")
    assert {d["name"] for d in drawn} <= set(labels), labels  # each curve named at its end
    pairs = list(itertools.combinations(colours, 2))
    close = sum(1 for a, b in pairs if np.linalg.norm(colours[a] - colours[b]) < MIN_DELTA_E)
    print(f"{deficiency}: {close} of {len(pairs)} pairs under ΔE {MIN_DELTA_E}, each told apart by its marker")
