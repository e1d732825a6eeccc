"""Export the tensors a page shows (scores, weights, entropies, norms, probabilities) as NPZ and CSV.

A page hands over named arrays with named axes; `to_npz` and `to_csv` are plain functions (tested
on their own), and `download_buttons` draws the two buttons. The files are built only when a
button is clicked (Streamlit runs a callable `data` then), so a rerun never pays for them.
Figures export themselves as PNG or SVG from the browser, through Plotly's modebar (page.chart).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

CSV_MAX_VALUES = 1_000_000  # one row per value: past this a CSV is too big to be useful; NPZ still works


@dataclass(frozen=True)
class Named:
    """An array and the name of each of its axes, e.g. ('layer', 'head', 'query', 'key')."""

    values: np.ndarray
    dims: tuple[str, ...]

    def __post_init__(self):
        if np.ndim(self.values) != len(self.dims):
            raise ValueError(f"{np.ndim(self.values)}-d array with {len(self.dims)} axis names {self.dims}")


Tensors = dict[str, Named]


def to_npz(tensors: Tensors) -> bytes:
    """One compressed .npz: each tensor under its name, and its axis names under '<name>.dims'."""
    arrays = {}
    for name, t in tensors.items():
        arrays[name] = np.asarray(t.values)
        arrays[f"{name}.dims"] = np.array(t.dims, dtype=str)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def n_values(tensors: Tensors) -> int:
    return sum(int(np.size(t.values)) for t in tensors.values())


def to_csv(tensors: Tensors) -> bytes:
    """One tidy CSV: a row per value, columns `tensor`, every axis name used, `value`.

    An axis a tensor does not have is left empty; -inf (a masked score) is written as -inf.
    """
    dims: list[str] = []
    for t in tensors.values():
        dims.extend(d for d in t.dims if d not in dims)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["tensor", *dims, "value"])
    for name, t in tensors.items():
        values = np.asarray(t.values)
        columns = {d: i for i, d in enumerate(t.dims)}
        for index in np.ndindex(values.shape):
            value = values[index]
            cell = repr(float(value)) if np.issubdtype(values.dtype, np.floating) else str(value)
            writer.writerow([name, *(index[columns[d]] if d in columns else "" for d in dims), cell])
    return out.getvalue().encode()


def download_buttons(name: str, tensors: Tensors | Callable[[], Tensors], *, key: str, label: str = "") -> None:
    """NPZ and CSV buttons for the tensors (or a function returning them, called on click)."""
    get = tensors if callable(tensors) else (lambda: tensors)
    size = n_values(tensors) if not callable(tensors) else None
    too_big = size is not None and size > CSV_MAX_VALUES
    formats = (  # (kind, its bytes, mime, disabled, help)
        ("npz", lambda: to_npz(get()), "application/octet-stream", False,
         "numpy's .npz: np.load(file) gives each tensor by name, and its axis names under '<name>.dims'."),
        ("csv", lambda: to_csv(get()), "text/csv", too_big,
         f"{size:,} values is too many for a CSV; use the NPZ, or zoom in first." if too_big
         else "One row per value: tensor, its axes (layer, head, query, key, ...), value."),
    )  # fmt: skip
    for column, (kind, data, mime, disabled, help_text) in zip(st.columns([1, 1, 3]), formats, strict=False):
        column.download_button(
            kind.upper() if not label else f"{label} · {kind.upper()}",
            data=data,
            file_name=f"{name}.{kind}",
            mime=mime,
            key=f"{key}_{kind}",
            on_click="ignore",
            icon=":material/download:",
            disabled=disabled,
            help=help_text,
        )
