"""Reading an AppTest run: its figures, its texts, and whether anything went wrong."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl

import numpy as np
from streamlit.testing.v1 import AppTest

from viz_app.classroom.session import KEY as CLASS_KEY
from viz_app.classroom.session import ClassSession
from viz_app.pages import PAGES

PROMPT = "First Citizen:\nSpeak, speak."  # 28 characters, all in the tiny model's vocab (block_size 32)


def charts(at: AppTest) -> list[dict]:
    """Every Plotly figure on the current page, parsed from what the browser would receive."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def assert_clean(at: AppTest) -> None:
    """No exception and no error box reached the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def array(value) -> np.ndarray:
    """A figure's data as numpy: Plotly sends arrays as base64 typed arrays {'dtype', 'bdata', 'shape'}."""
    if isinstance(value, dict) and "bdata" in value:
        out = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
        shape = value.get("shape")
        return out.reshape([int(n) for n in str(shape).split(",")]) if shape else out
    return np.asarray(value)


def heatmaps(figure: dict) -> list[dict]:
    return [trace for trace in figure["data"] if trace["type"] == "heatmap"]


def titles(figure: dict) -> list[str]:
    """A figure's title and its subplots' titles (annotations)."""
    layout = figure["layout"]
    return [layout.get("title", {}).get("text", "")] + [a.get("text", "") for a in layout.get("annotations", [])]


def figure_titled(at: AppTest, text: str) -> dict:
    """The one figure on the page with `text` in its title or a subplot's: found by what it shows,
    so a page can gain a figure without breaking the tests of the others."""
    found = [f for f in charts(at) if any(text in t for t in titles(f))]
    assert len(found) == 1, (text, [titles(f)[0] for f in charts(at)])
    return found[0]


def page_links(at: AppTest, label: str) -> list[tuple[str, dict[str, str]]]:
    """(the page's slug, the query) of every st.page_link labelled `label` on the page, in order."""
    slugs = {info.url_path: slug for slug, info in PAGES.items()}
    return [
        (slugs[link.proto.page], dict(parse_qsl(link.proto.query_string, keep_blank_values=True)))
        for link in at.get("page_link")
        if link.proto.label == label
    ]


def follow_link(at: AppTest, slug: str, query: dict[str, str]) -> AppTest:
    """What a click on a page link does in the browser: its page, with its query as the whole URL query."""
    at.query_params = dict(query)
    return at.switch_page(PAGES[slug].file).run()


def class_session(at: AppTest) -> ClassSession:
    """The session's part in a class: the class it leads or follows, the teacher's question, its answers."""
    return at.session_state[CLASS_KEY]
