"""page.figure's cache key for arrays: every byte counts; a read-only array's key is made once."""

from __future__ import annotations

import gc

import numpy as np

from viz_app.backend import figure_cache
from viz_app.backend.figure_cache import figure_key
from viz_app.figures import kit


def test_array_keys_tell_arrays_apart_by_content_shape_and_dtype():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = a.copy()
    b[2, 3] += 1  # one value differs
    assert figure_cache.array_key(a) != figure_cache.array_key(b)
    assert figure_cache.array_key(a) == figure_cache.array_key(a.copy())
    assert figure_cache.array_key(a) != figure_cache.array_key(a.reshape(4, 3))
    assert figure_cache.array_key(a) != figure_cache.array_key(a.astype(np.float64))
    assert figure_cache.array_key(a[:, 1]) == figure_cache.array_key(np.ascontiguousarray(a[:, 1]))  # a strided view


def test_a_read_only_arrays_key_is_kept_while_it_lives_and_a_writable_ones_never():
    shared = np.arange(1000, dtype=np.float32)
    shared.setflags(write=False)
    key = figure_cache.array_key(shared)
    assert figure_cache.DIGESTS[id(shared)] == key
    writable = np.arange(10)
    figure_cache.array_key(writable)
    assert id(writable) not in figure_cache.DIGESTS  # it may change: hashed every time
    view = writable[:5]
    view.setflags(write=False)  # read-only, but its base may still change
    figure_cache.array_key(view)
    assert id(view) not in figure_cache.DIGESTS
    gone = id(shared)
    del shared
    gc.collect()
    assert gone not in figure_cache.DIGESTS


def test_figure_keys_differ_with_any_argument_and_fall_back_for_unknown_kinds():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    base = figure_key("f", (a, "text"), {"window": (0, 3), "style": kit.DEFAULT_STYLE})
    assert base == figure_key("f", (a.copy(), "text"), {"window": (0, 3), "style": kit.DEFAULT_STYLE})
    others = [
        figure_key("g", (a, "text"), {"window": (0, 3), "style": kit.DEFAULT_STYLE}),  # another figure
        figure_key("f", (a + 1, "text"), {"window": (0, 3), "style": kit.DEFAULT_STYLE}),
        figure_key("f", (a, "text "), {"window": (0, 3), "style": kit.DEFAULT_STYLE}),
        figure_key("f", (a, "text"), {"window": (0, 2), "style": kit.DEFAULT_STYLE}),
        figure_key("f", (a, "text"), {"window": [0, 3], "style": kit.DEFAULT_STYLE}),  # a list is not a tuple
        figure_key("f", (a, "text"), {"window": (0, 3.0), "style": kit.DEFAULT_STYLE}),  # nor a float an int
        figure_key("f", (a, "text"), {"window": (0, 3), "style": kit.PRESENTER_STYLE}),
        figure_key("f", (a, "te", "xt"), {"window": (0, 3), "style": kit.DEFAULT_STYLE}),
        figure_key("f", (a, "text"), {"window": (0, 3), "style": kit.DEFAULT_STYLE, "title": None}),
    ]
    assert None not in others and len({base, *others}) == len(others) + 1
    assert base == figure_key("f", (a, "text"), {"style": kit.DEFAULT_STYLE, "window": (0, 3)})  # any order
    assert figure_key("f", (object(),), {}) is None  # Streamlit's hashing takes it
