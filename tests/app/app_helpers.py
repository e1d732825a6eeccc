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


# the elements whose words a page says, as AppTest names them: text, notices, headings, and the widgets
# (their labels and help texts)
SAYING = ("markdown", "caption", "info", "warning", "success", "header", "subheader", "title", "text")
WIDGETS = ("button", "slider", "select_slider", "number_input", "toggle", "radio", "text_area", "text_input",
           "selectbox", "checkbox", "metric", "expander")  # fmt: skip


def words(at: AppTest) -> str:
    """Every word the page's main area says: its text, captions, notices and headings, its widgets' labels
    and help texts, and its figures' titles, axis titles and hover templates (not their tick labels,
    which are the prompt's and the probe's own tokens)."""
    block = at.main
    said = [str(e.value) for kind in SAYING for e in block.get(kind)]
    said += [str(getattr(w, part, "") or "") for kind in WIDGETS for w in block.get(kind) for part in ("label", "help")]
    for chart in block.get("plotly_chart"):
        figure = json.loads(chart.proto.spec)
        said += titles(figure)
        for name, axis in figure["layout"].items():
            if name.startswith(("xaxis", "yaxis")):
                said.append(str(axis.get("title", {}).get("text", "")))
        said += [str(trace.get("hovertemplate", "")) for trace in figure["data"]]
    return "\n".join(said)


UNIT_PAGES = ("induction", "generate", "sharpness")  # the pages whose words name the model's unit throughout
# prompts so short that a head is tagged with a kind of key read off positions, whose job (the head map's title)
# names the unit: GPT-2's 3 tokens, where even a near-uniform head gives its own and the one before 0.4 of its
# weight; nanochat's 6 with its <|bos|>, where layer 2 head 0 looks at itself; the tiny character model's 3
# characters (its trained heads are near-uniform on PROMPT)
SHORT_PROMPT, SHORT_CHAR_PROMPT = "The cat sat", PROMPT[:3]
ATTENTION_VIEWS = ("head", "layer")  # the Attention page's views that name the unit: one head, the layer's grid


def unit_leftovers(said: str) -> list[str]:
    """The lines of a page's words (words(at)) that still say character."""
    return [line for line in said.split("\n") if "character" in line.lower()]


def on_prompt(at: AppTest, prompt: str, **params) -> AppTest:
    """The app (not yet run) on `prompt`, with more query parameters: run, checked clean."""
    at.query_params = {**at.query_params, "prompt": prompt, **params}
    at.run()
    assert_clean(at)
    return at


def every_section(at: AppTest, slug: str) -> AppTest:
    """The page run with each part of it that names the unit drawn: Generate after a step (the step view
    comes with it) and on the passage of its own box (a model that names no training text has no
    validation passage)."""
    at.run()
    if slug == "generate":
        at.button(key="gen_next").click().run()
        at.radio(key="tf_source").set_value("own").run()
    assert_clean(at)
    return at


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
