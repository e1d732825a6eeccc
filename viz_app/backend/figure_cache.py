"""Figures built once for every session that asks for the same one: page.figure. An st.cache_resource
keyed by a digest of the build function's name and arguments (arrays by content), so it lives in
backend/ with the other caches.
"""

from __future__ import annotations

import hashlib
import weakref

import numpy as np
import streamlit as st

from ..figures import kit
from ..figures.kit import FigureStyle

DIGESTS: dict[int, tuple] = {}  # id of a live read-only array -> its key (removed when the array goes)


def array_key(array: np.ndarray) -> tuple:
    """An array's key in the figure cache: shape, dtype and a digest of every byte. A read-only
    array (the captures' shared ones) cannot change, so its key is made once, not on every run
    (a layers x heads grid's (L, H, T, T) weights: 2 ms of hashing a run at T=100)."""
    key = DIGESTS.get(id(array))
    if key is None:
        key = (array.shape, array.dtype.str, hashlib.blake2b(np.ascontiguousarray(array).data).digest())
        if not array.flags.writeable and not getattr(array.base, "flags", array.flags).writeable:
            DIGESTS[id(array)] = key
            weakref.finalize(array, DIGESTS.pop, id(array), None)
    return key


_SCALARS = (str, int, float, bool, type(None), FigureStyle)


def _feed(h, value) -> bool:
    """Feed one figure argument into the key's hash, by content and type; False for a kind it does not
    know (Streamlit's hashing takes the call then)."""
    kind = type(value)
    if kind in _SCALARS or isinstance(value, np.generic):
        text = f"{kind.__name__}{value!r}"  # repr: exact for floats, quoted and escaped for strings
    elif kind is np.ndarray:
        text = f"ndarray{array_key(value)!r}"
    elif kind in (tuple, list):
        h.update(f"{kind.__name__}{len(value)}(".encode())
        return all(_feed(h, item) for item in value)
    elif kind is dict:
        h.update(f"dict{len(value)}(".encode())
        keys = sorted(value) if all(type(k) is str for k in value) else list(value)  # keywords in any order
        return all(_feed(h, k) and _feed(h, value[k]) for k in keys)
    else:
        return False
    h.update(f"{len(text)}:{text}".encode())  # length first: no two sequences of arguments read the same
    return True


def figure_key(name: str, args: tuple, kwargs: dict) -> str | None:
    h = hashlib.blake2b(name.encode())
    return h.hexdigest() if _feed(h, args) and _feed(h, kwargs) else None


# ~100 kB to 1 MB a figure; a class on one prompt shares a few dozen of them
@st.cache_resource(max_entries=512, show_spinner=False)
def _built_by_key(key: str, _build, _args: tuple, _kwargs: dict):
    """Keyed by figure_key alone (Streamlit leaves arguments named _* out of its hash): hashing every
    argument the way Streamlit does took 0.15 ms a figure on every run, this 0.014 ms."""
    return kit.shared(_build(*_args, **_kwargs))


@st.cache_resource(max_entries=128, show_spinner=False, hash_funcs={FigureStyle: repr, np.ndarray: array_key})
def _built(_build, name: str, args: tuple, kwargs: dict):
    return kit.shared(_build(*args, **kwargs))  # name stands for _build in the cache key: hashed by name


def figure(build, *args, **kwargs):
    """build(*args, **kwargs), a figure of viz_app.figures, built once for every session that asks for
    the same one (its arrays are hashed by content) and shared: Plotly checks every value of a figure
    as it is built, the costliest part of a page run. Shared, so nobody may change it afterwards."""
    name = f"{build.__module__}.{build.__qualname__}"
    key = figure_key(name, args, kwargs)
    if key is None:  # an argument of a kind _feed does not know: Streamlit hashes it
        return _built(build, name, args, kwargs)
    return _built_by_key(key, build, args, kwargs)
