"""The Ablations page, driven through AppTest on a results file made by the real ablation run."""

from __future__ import annotations

import re

import numpy as np

from nanogpt.ablate import VARIANTS
from nanogpt.source_lines import MODEL_SOURCE, switch_lines
from viz_app.backend.ablation_results import LIVE_DATA_ENV, RESULTS_FILE

from .ablation_fixtures import RUN, as_shown, read_results, results_dir  # noqa: F401  (results_dir is a fixture)
from .app_helpers import array, assert_clean, charts, texts


def open_ablations(make_app, folder, **params):
    at = make_app(folder, **params).run()
    return at.switch_page("views/ablations.py").run()


def figure(at, title: str) -> dict | None:
    return next((f for f in charts(at) if title in f["layout"].get("title", {}).get("text", "")), None)


def curves(at) -> dict | None:
    return figure(at, "during training")


def model_lines(at) -> list[tuple[int, str]]:
    """(number, text) of every numbered line in the page's python listings ('⋮' gap lines skipped)."""
    out = []
    for block in at.code:
        if block.language != "python":
            continue
        for line in block.value.splitlines():
            match = re.match(r"\s*(\d+)  (.*)$", line)
            if match:
                out.append((int(match.group(1)), match.group(2)))
    return out


def test_draws_the_curves_table_samples_and_lines(make_app, results_dir):  # noqa: F811
    results = read_results(results_dir)
    at = open_ablations(make_app, results_dir)
    assert_clean(at)
    assert [h.value for h in at.header] == ["Ablations"]
    fig = curves(at)
    assert [t["name"] for t in fig["data"]] == RUN
    for trace in fig["data"]:
        history = results["variants"][trace["name"]]["history"]
        assert list(array(trace["x"])) == [h["step"] for h in history]
        assert np.allclose(array(trace["y"]), [h["val"] for h in history], atol=1e-5)
    assert fig["data"][0]["line"]["width"] > fig["data"][1]["line"]["width"]  # full is the reference line
    table = at.dataframe[0].value
    assert list(table["variant"]) == RUN
    full = results["variants"]["full"]["val_loss"]
    for name, delta in zip(table["variant"], table["change vs full"], strict=True):
        assert abs(delta - (results["variants"][name]["val_loss"] - full)) < 1e-9
    assert list(table["what it changes"]) == [
        "—",
        "attn_scale: head_size → none",
        "model_type: gpt → bigram, learning_rate: 0.003 → 0.01",
    ]
    bars = figure(at, "final val loss")
    assert list(bars["data"][0]["y"]) == RUN
    assert len(at.tabs) == len(RUN)
    samples = [block.value for block in at.code if block.language == "text"]
    for name in RUN:
        assert as_shown(results["variants"][name]["sample"]) in samples


def test_toggling_variants_and_the_split_changes_the_curves(make_app, results_dir):  # noqa: F811
    results = read_results(results_dir)
    at = open_ablations(make_app, results_dir)
    at.pills(key="ablation_shown").set_value(["full", "bigram"]).run()
    assert_clean(at)
    assert [t["name"] for t in curves(at)["data"]] == ["full", "bigram"]
    at.segmented_control(key="ablation_split").set_value("train").run()
    assert_clean(at)
    fig = curves(at)
    assert "train loss" in fig["layout"]["title"]["text"]
    bigram = fig["data"][1]
    assert np.allclose(array(bigram["y"]), [h["train"] for h in results["variants"]["bigram"]["history"]], atol=1e-5)
    assert at.query_params["ablation_split"] == "train"
    at.pills(key="ablation_shown").set_value([]).run()
    assert_clean(at)
    assert curves(at)["data"] == []


def test_the_chosen_variant_shows_the_lines_of_model_py_its_switch_changes(make_app, results_dir):  # noqa: F811
    at = open_ablations(make_app, results_dir)
    source = MODEL_SOURCE.read_text(encoding="utf-8").splitlines()
    at.selectbox(key="ablation_variant").set_value("no-ffn").run()
    assert_clean(at)
    lines = model_lines(at)
    assert [n for n, _ in lines] == [n for n, _ in switch_lines("ffn")]
    # the real file, line for line (the indentation the lines share is taken off)
    assert all(source[n - 1].rstrip().endswith(text) and source[n - 1].strip() == text.strip() for n, text in lines)
    assert any("config.ffn" in text for _, text in lines)
    assert "No measured run of `no-ffn`" in texts(at.info)  # not in this results file
    at.selectbox(key="ablation_variant").set_value("no-scale").run()
    assert_clean(at)
    lines = model_lines(at)
    assert lines and all(
        source[n - 1].rstrip().endswith(text) and source[n - 1].strip() == text.strip() for n, text in lines
    )
    assert any("scale" in text for _, text in lines)
    results = read_results(results_dir)
    metric = next(m for m in at.metric if m.label == "val loss of no-scale")
    assert metric.value == f"{results['variants']['no-scale']['val_loss']:.3f}"
    assert at.query_params["ablation_variant"] == "no-scale"


def test_every_variant_has_its_lines(make_app, results_dir):  # noqa: F811
    at = open_ablations(make_app, results_dir)
    for variant in VARIANTS:
        at.selectbox(key="ablation_variant").set_value(variant).run()
        assert_clean(at)
        if variant == "full":
            assert not model_lines(at) and "flips no switch" in texts(at.markdown)
        else:
            assert model_lines(at), variant


def test_without_the_results_file_the_page_says_how_to_make_it(make_app, tiny_dir):
    assert not (tiny_dir / RESULTS_FILE).exists()
    at = open_ablations(make_app, tiny_dir)
    assert_clean(at)
    message = texts(at.info)
    assert "No ablation results at" in message and RESULTS_FILE in message
    assert "python -m nanogpt ablate" in message and "upload" in message
    assert curves(at) is None and not at.dataframe
    assert model_lines(at)  # the line of code needs no results
    assert at.button(key="live_run")


def test_a_damaged_results_file_is_reported(make_app, tmp_path, tiny_ckpt):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / RESULTS_FILE).write_text('{"format": "something else"}', encoding="utf-8")
    at = open_ablations(make_app, folder)
    assert not at.exception
    assert "is not an ablation results file" in texts(at.error)
    assert curves(at) is None


def test_uploaded_results_are_shown(make_app, tiny_dir, results_dir):  # noqa: F811
    at = open_ablations(make_app, tiny_dir)
    at.file_uploader(key="ablation_upload").upload("mine.json", (results_dir / RESULTS_FILE).read_bytes())
    at.run()
    assert_clean(at)
    assert [t["name"] for t in curves(at)["data"]] == RUN
    assert "showing the upload" in texts(at.caption)
    at.file_uploader(key="ablation_upload").upload("bad.json", b"not json")
    at.run()
    assert "bad.json is not a JSON file" in texts(at.error)


def test_a_live_run_adds_a_dashed_curve_and_leaves_the_shipped_file_alone(
    make_app, tiny_dir, tiny_text_file, monkeypatch
):
    monkeypatch.setenv(LIVE_DATA_ENV, str(tiny_text_file))
    at = open_ablations(make_app, tiny_dir)
    assert at.selectbox(key="live_data").value == str(tiny_text_file)
    at.selectbox(key="live_variant").set_value("full")
    at.select_slider(key="live_steps").set_value(10)
    at.button(key="live_run").click().run()
    assert_clean(at)
    fig = curves(at)
    assert [t["name"] for t in fig["data"]] == ["full (live, 10 steps)"]
    assert fig["data"][0]["line"]["dash"] == "dash"
    assert list(array(fig["data"][0]["x"]))[-1] == 10
    at.selectbox(key="live_variant").set_value("no-scale")
    at.button(key="live_run").click().run()
    assert_clean(at)
    assert [t["name"] for t in curves(at)["data"]] == ["full (live, 10 steps)", "no-scale (live, 10 steps)"]
    table = at.dataframe[0].value
    assert list(table["run"]) == ["full (live, 10 steps)", "no-scale (live, 10 steps)"]
    assert table["change vs live full"][0] == "reference"
    assert np.isfinite(float(table["change vs live full"][1]))  # e.g. "+0.012"
    assert all(seconds > 0 for seconds in table["took (s)"])
    assert not (tiny_dir / RESULTS_FILE).exists()  # live runs stay in the session
    at.button(key="live_clear").click().run()
    assert_clean(at)
    assert curves(at) is None
