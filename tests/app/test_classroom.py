"""Classroom features: presenter mode kept in the URL, page state in the URL, export buttons."""

from __future__ import annotations

import json

from viz_app.figures.kit import DEFAULT_STYLE, PRESENTER_STYLE

from .app_helpers import assert_clean, charts, figure_titled


def fonts(at) -> set[int]:
    return {f["layout"].get("font", {}).get("size") for f in charts(at)}


def test_presenter_mode_is_a_sidebar_toggle_kept_in_the_url(make_app):
    at = make_app().run()
    assert_clean(at)
    assert at.sidebar.toggle(key="presenter").value is False
    assert fonts(at) == {DEFAULT_STYLE.font_size}
    assert "presenter" not in at.query_params
    at.sidebar.toggle(key="presenter").set_value(True).run()
    assert_clean(at)
    assert fonts(at) == {PRESENTER_STYLE.font_size}
    assert at.query_params["presenter"] == "1"
    heatmap = next(t for t in figure_titled(at, " · 1/√head_size")["data"] if t["type"] == "heatmap")  # one head
    assert heatmap["colorscale"][0][1] != heatmap["colorscale"][-1][1]
    # every page, including the ones built before presenter mode: Sharpness's palette changes
    at.switch_page("views/sharpness.py").run()
    assert_clean(at)
    assert fonts(at) == {PRESENTER_STYLE.font_size}


def test_a_link_opens_presenter_mode_on_the_generate_page(make_app):
    at = make_app(presenter="1", gen_temp="1.3", gen_topk="4").run()
    at.switch_page("views/generate.py").run()
    assert_clean(at)
    assert at.sidebar.toggle(key="presenter").value is True
    assert at.slider(key="gen_temp").value == 1.3 and at.number_input(key="gen_topk").value == 4
    at.button(key="gen_next").click().run()
    dist = next(f for f in charts(at) if "every next character" in f["layout"].get("title", {}).get("text", ""))
    assert dist["layout"]["font"]["size"] == PRESENTER_STYLE.font_size
    assert PRESENTER_STYLE.accent in dist["data"][0]["marker"]["color"]  # the sampled bar, colour-blind-safe
    params = at.query_params
    assert params["page"] == "generate" and params["presenter"] == "1" and params["gen_temp"] == "1.3"


def charts_config(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.config)


def test_figures_download_as_png_or_svg_from_the_browser(make_app):
    at = make_app().run()
    config = charts_config(at)
    assert config["toImageButtonOptions"]["format"] == "png"
    at.sidebar.radio(key="fig_format").set_value("svg").run()
    assert charts_config(at)["toImageButtonOptions"]["format"] == "svg"


def test_every_page_offers_its_tensors_as_npz_and_csv(make_app):
    at = make_app().run()
    for page in ("views/attention.py", "views/sharpness.py", "views/residual.py"):
        at.switch_page(page).run()
        assert_clean(at)
        labels = {b.proto.label for b in at.get("download_button")}
        assert {"NPZ", "CSV"} <= labels, (page, labels)
