"""The Attention page's big text view of a head: drawn from the map's capture, beside the map when
projected, under it otherwise."""

from __future__ import annotations

import re

import numpy as np

from .app_helpers import array, assert_clean, figure_titled


def text_views(at) -> list[str]:
    return [e.proto.body for e in at.get("html") if 'class="tv"' in e.proto.body]


def shaded(body: str) -> list[float]:
    return [float(a) for a in re.findall(r'data-pos="\d+" style="background-color:rgba\(8, 48, 107, ([\d.]+)\)', body)]


def test_the_text_view_shows_the_maps_window_shaded_by_the_maps_weights(make_app):
    at = make_app(layer="1", head="0", view="head").run()
    assert_clean(at)
    (body,) = text_views(at)
    heatmap = figure_titled(at, "layer 1 · head 0")["data"][0]
    shown = [label.rsplit(" @", 1) for label in heatmap["x"]]
    assert re.findall(r'data-pos="(\d+)"', body) == [pos for _, pos in shown]  # the map's window
    weights = array(heatmap["z"])  # (window, window), masked future as NaN
    assert np.allclose(shaded(body), np.round(np.nan_to_num(weights[-1]), 2), atol=0.006)  # the last query's row


def test_the_text_view_goes_with_the_one_head_view_only(make_app):
    at = make_app(view="layer").run()
    assert not text_views(at)
    at = make_app(view="head", presenter="1").run()
    assert_clean(at)
    (body,) = text_views(at)
    assert re.search(r"\.tv-text \{[^}]*font-size: 32px", body)
