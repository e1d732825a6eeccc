"""viz_app.export: the tensors a page shows, as NPZ and tidy CSV."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from viz_app.export import CSV_MAX_VALUES, Named, n_values, to_csv, to_npz


def tensors():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)
    scores[..., 0, 1:] = -np.inf  # a masked score
    return {
        "scores": Named(scores, ("layer", "head", "query", "key")),
        "entropy": Named(rng.random((2, 3, 4)).astype(np.float32), ("layer", "head", "query")),
        "points": Named(np.array(["embed", "L0 +attn"]), ("point",)),
    }


def test_npz_round_trips_every_tensor_and_its_axis_names():
    data = np.load(io.BytesIO(to_npz(tensors())))
    for name, t in tensors().items():
        assert np.array_equal(data[name], t.values)
        assert data[f"{name}.dims"].tolist() == list(t.dims)


def test_csv_has_a_row_per_value_and_reads_back_to_the_arrays():
    rows = list(csv.DictReader(io.StringIO(to_csv(tensors()).decode())))
    assert list(rows[0]) == ["tensor", "layer", "head", "query", "key", "point", "value"]
    assert len(rows) == n_values(tensors()) == 2 * 3 * 4 * 4 + 2 * 3 * 4 + 2
    scores = np.zeros((2, 3, 4, 4), dtype=np.float32)
    for r in rows:
        if r["tensor"] == "scores":
            scores[int(r["layer"]), int(r["head"]), int(r["query"]), int(r["key"])] = float(r["value"])
    assert np.array_equal(scores, tensors()["scores"].values)  # float32 exactly, -inf included
    entropy_row = next(r for r in rows if r["tensor"] == "entropy")
    assert entropy_row["key"] == "" and entropy_row["point"] == ""  # axes it does not have stay empty
    assert [r["value"] for r in rows if r["tensor"] == "points"] == ["embed", "L0 +attn"]


def test_axis_names_must_match_the_array():
    with pytest.raises(ValueError, match="axis names"):
        Named(np.zeros((2, 2)), ("query",))


def test_the_csv_limit_is_about_a_million_values():
    assert 500_000 < CSV_MAX_VALUES <= 2_000_000
