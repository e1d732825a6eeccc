"""page.figure's cache key for arrays: every byte counts; a read-only array's key is made once."""

from __future__ import annotations

import gc

import numpy as np

from viz_app import page


def test_array_keys_tell_arrays_apart_by_content_shape_and_dtype():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = a.copy()
    b[2, 3] += 1  # one value differs
    assert page._array_key(a) != page._array_key(b)
    assert page._array_key(a) == page._array_key(a.copy())
    assert page._array_key(a) != page._array_key(a.reshape(4, 3))
    assert page._array_key(a) != page._array_key(a.astype(np.float64))
    assert page._array_key(a[:, 1]) == page._array_key(np.ascontiguousarray(a[:, 1]))  # a strided view


def test_a_read_only_arrays_key_is_kept_while_it_lives_and_a_writable_ones_never():
    shared = np.arange(1000, dtype=np.float32)
    shared.setflags(write=False)
    key = page._array_key(shared)
    assert page._DIGESTS[id(shared)] == key
    writable = np.arange(10)
    page._array_key(writable)
    assert id(writable) not in page._DIGESTS  # it may change: hashed every time
    view = writable[:5]
    view.setflags(write=False)  # read-only, but its base may still change
    page._array_key(view)
    assert id(view) not in page._DIGESTS
    gone = id(shared)
    del shared
    gc.collect()
    assert gone not in page._DIGESTS


def test_figure_keys_differ_with_any_argument_and_fall_back_for_unknown_kinds():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    base = page._key("f", (a, "text"), {"window": (0, 3), "style": page.DEFAULT_STYLE})
    assert base == page._key("f", (a.copy(), "text"), {"window": (0, 3), "style": page.DEFAULT_STYLE})
    others = [
        page._key("g", (a, "text"), {"window": (0, 3), "style": page.DEFAULT_STYLE}),  # another figure
        page._key("f", (a + 1, "text"), {"window": (0, 3), "style": page.DEFAULT_STYLE}),
        page._key("f", (a, "text "), {"window": (0, 3), "style": page.DEFAULT_STYLE}),
        page._key("f", (a, "text"), {"window": (0, 2), "style": page.DEFAULT_STYLE}),
        page._key("f", (a, "text"), {"window": [0, 3], "style": page.DEFAULT_STYLE}),  # a list is not a tuple
        page._key("f", (a, "text"), {"window": (0, 3.0), "style": page.DEFAULT_STYLE}),  # nor a float an int
        page._key("f", (a, "text"), {"window": (0, 3), "style": page.PRESENTER_STYLE}),
        page._key("f", (a, "te", "xt"), {"window": (0, 3), "style": page.DEFAULT_STYLE}),
        page._key("f", (a, "text"), {"window": (0, 3), "style": page.DEFAULT_STYLE, "title": None}),
    ]
    assert None not in others and len({base, *others}) == len(others) + 1
    assert base == page._key("f", (a, "text"), {"style": page.DEFAULT_STYLE, "window": (0, 3)})  # any order
    assert page._key("f", (object(),), {}) is None  # Streamlit's hashing takes it
