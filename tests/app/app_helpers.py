"""Reading an AppTest run: its figures, its texts, and whether anything went wrong."""

from __future__ import annotations

import base64
import json

import numpy as np
from streamlit.testing.v1 import AppTest

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
