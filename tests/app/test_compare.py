"""Two models side by side: untrained, a timeline step, or another model, on Attention, Sharpness, Residual."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from conftest import tiny_config

from nanogpt.checkpoint import load_checkpoint
from nanogpt.timeline import snapshot_path
from nanogpt.train import train
from viz_app.backend import captures, comparisons, registry, uploads

from .app_helpers import array, assert_clean, charts, heatmaps, texts


@pytest.fixture(scope="module")
def pair_folder(tmp_path_factory, tiny_text_file, tiny_ckpt):
    """tiny, an identical copy `twin`, a 1-layer `small`, and `tl` with a snapshot at step 0."""
    folder = tmp_path_factory.mktemp("compare-checkpoints")
    shutil.copy2(tiny_ckpt, folder / "tiny.safetensors")
    shutil.copy2(tiny_ckpt, folder / "twin.safetensors")
    train(tiny_config(tiny_text_file, folder / "small.safetensors", n_layer=1, max_iters=10, eval_interval=10),
          progress=False, log=lambda msg: None)  # fmt: skip
    train(tiny_config(tiny_text_file, folder / "tl.safetensors", max_iters=20, eval_interval=10, snapshot_steps=[0]),
          progress=False, log=lambda msg: None)  # fmt: skip
    for resume in folder.glob("*.resume.safetensors"):
        resume.unlink()
    return folder


@pytest.fixture(autouse=True)
def private_uploads(tmp_path, monkeypatch):
    """A private uploads folder: comparing must write nothing there (the untrained copy lives in memory)."""
    monkeypatch.setattr(uploads, "UPLOAD_DIR", tmp_path / "uploads")
    yield
    assert not (tmp_path / "uploads").exists()


def compare_figure(at) -> dict:
    return next(f for f in charts(at) if len(heatmaps(f)) == 3)


def change_grids(at) -> list[np.ndarray]:
    titled = [(f, f["layout"].get("title", {}).get("text", "")) for f in charts(at)]
    return [array(heatmaps(f)[0]["z"]) for f, title in titled if title.startswith("change in")]


def test_a_model_against_itself_differs_nowhere(make_app, pair_folder):
    at = make_app(pair_folder, model="tiny", cmp="twin", layer="1", head="0").run()
    assert_clean(at)
    a, b, difference = (array(t["z"]) for t in heatmaps(compare_figure(at)))
    np.testing.assert_array_equal(a, b)
    assert np.nanmax(np.abs(difference)) == 0
    grids = change_grids(at)
    assert len(grids) == 2 and all(np.all(g == 0) for g in grids)


def test_trained_against_untrained_on_every_page_and_in_the_link(make_app, pair_folder):
    at = make_app(pair_folder, model="tiny", cmp=comparisons.UNTRAINED, layer="1", head="1").run()
    assert_clean(at)
    assert at.selectbox(key="cmp").value == comparisons.UNTRAINED and at.query_params["cmp"] == "untrained"
    # earlier first: untrained, trained, and what training changed, trained minus untrained
    untrained, trained, difference = (array(t["z"]) for t in heatmaps(compare_figure(at)))
    np.testing.assert_allclose(difference, trained - untrained, atol=1e-6)
    assert np.nanmax(np.abs(difference)) > 0.05  # training moved this head's weights
    assert compare_figure(at)["layout"]["annotations"][2]["text"] == "tiny − tiny, untrained"
    # an untrained model spreads its attention evenly: training lowered the mean entropy
    assert change_grids(at)[0].mean() < 0
    for page in ("views/sharpness.py", "views/residual.py"):
        at.switch_page(page).run()
        assert_clean(at)
        assert at.selectbox(key="cmp").value == comparisons.UNTRAINED
    assert any(len(f["data"]) == 2 and f["data"][1]["name"].endswith("untrained") for f in charts(at))  # residual


def test_the_untrained_copy_is_the_runs_real_step_0(pair_folder):
    entry = registry.ModelEntry("tl", str(pair_folder / "tl.safetensors"), "shipped")
    untrained = comparisons.resolve(comparisons.UNTRAINED, entry, [entry])
    assert untrained.path == entry.path  # built in memory from the model's own file: nothing written
    copy = captures.load_model(registry.model_ref(untrained)).model
    step0 = load_checkpoint(snapshot_path(entry.path, 0)).model  # fp16 on disk
    for name, weight in copy.state_dict().items():
        torch.testing.assert_close(weight.half().float(), step0.state_dict()[name], atol=0, rtol=0)


def test_a_timeline_step_is_offered_and_shown(make_app, pair_folder):
    at = make_app(pair_folder, model="tl", cmp="step-0").run()
    assert_clean(at)
    assert "this model at step 0" in at.selectbox(key="cmp").options
    assert compare_figure(at)


def test_other_sizes_and_models_without_attention_get_a_notice(make_app, pair_folder, bigram_ckpt):
    at = make_app(pair_folder, model="tiny", cmp="small", layer="1", head="0").run()
    assert_clean(at)
    notices = texts(at.info)
    assert "1 layers × 2 heads against 2 × 2" in notices and "the 1 × 2 both have" in notices
    assert "has no layer 1 · head 0" in notices
    assert [g.shape for g in change_grids(at)] == [(1, 2), (1, 2)]  # only what both have
    shutil.copy2(bigram_ckpt, pair_folder / "bigram.safetensors")
    try:
        at = make_app(pair_folder, model="tiny", cmp="bigram").run()
        assert_clean(at)
        assert "bigram table: it has no attention to compare" in texts(at.info)
    finally:
        (pair_folder / "bigram.safetensors").unlink()


def test_nothing_to_compare_with_by_default(make_app, pair_folder):
    at = make_app(pair_folder, model="tiny").run()
    assert_clean(at)
    assert at.selectbox(key="cmp").value == "" and "cmp" not in at.query_params
    assert not any(len(heatmaps(f)) == 3 for f in charts(at))


def test_a_broken_checkpoint_is_named_on_the_page_and_in_compare(make_app, tiny_ckpt, tmp_path):
    shutil.copy2(tiny_ckpt, tmp_path / "tiny.safetensors")
    data = tiny_ckpt.read_bytes()
    (tmp_path / "broken.safetensors").write_bytes(data[: len(data) // 2])  # cut off mid-weights
    at = make_app(tmp_path, model="broken").run()
    assert not at.exception
    assert "Could not load broken: " in texts(at.error) and "truncated or corrupt" in texts(at.error)
    at = make_app(tmp_path, model="tiny", cmp="broken").run()
    assert not at.exception
    assert "Could not load broken to compare with: " in texts(at.error)
