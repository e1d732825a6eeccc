"""The ablation lab: every variant trains, results round-trip, reruns resume, the lines are real."""

from __future__ import annotations

import json
import math

import pytest

from nanogpt.__main__ import main
from nanogpt.ablate import (
    VARIANTS,
    AblationError,
    checkpoint_dir,
    load_results,
    results_table,
    run_ablation,
    variant_lines,
)
from nanogpt.source_lines import MODEL_SOURCE, switch_lines

# a tiny model and a few steps: seconds for all ten variants on one CPU thread
TINY = dict(n_layer=2, n_head=2, n_embd=32, block_size=32, dropout=0.0, batch_size=8,
            learning_rate=3e-3, eval_interval=3, eval_iters=2)  # fmt: skip
STEPS = 6


def ablate(data, out, variants=None, steps=STEPS, events=None, **overrides):
    on_progress = events.append if events is not None else None
    return run_ablation(str(data), None, {**TINY, **overrides}, variants, steps, 7, out, on_progress,
                        progress=False, log=lambda msg: None)  # fmt: skip


@pytest.fixture(scope="module")
def all_variants(tmp_path_factory, tiny_text_file):
    out = tmp_path_factory.mktemp("ablate") / "results.json"
    return out, ablate(tiny_text_file, out)


def test_every_variant_builds_and_trains(all_variants):
    out, results = all_variants
    assert list(results["variants"]) == list(VARIANTS)
    assert results["steps"] == STEPS and results["seed"] == 7 and len(results["data_sha256"]) == 64
    for name, record in results["variants"].items():
        assert record["steps"] == STEPS
        assert [h["step"] for h in record["history"]] == [0, 3, 6]
        assert math.isfinite(record["val_loss"]), name
        assert len(record["sample"]) == 300
        # the diff against full is exactly the variant's switches
        assert record["diff"] == {k: [record["diff"][k][0], v] for k, v in VARIANTS[name].items()}
    assert results["variants"]["single-head"]["model_config"]["n_head"] == 1
    assert results["variants"]["single-head"]["model_config"]["n_embd"] == TINY["n_embd"]
    assert results["variants"]["full"]["diff"] == {}
    assert not checkpoint_dir(out).exists()  # the per-variant checkpoints are gone once measured


def test_results_round_trip(all_variants):
    out, results = all_variants
    assert load_results(out) == results
    rows = results_table(load_results(out))
    assert [r["variant"] for r in rows] == list(VARIANTS)
    assert rows[0]["delta"] == 0.0


def test_rerun_trains_only_new_variants(tmp_path, tiny_text_file):
    out = tmp_path / "r.json"
    first = ablate(tiny_text_file, out, ["full", "bigram"])
    events = []
    second = ablate(tiny_text_file, out, ["full", "bigram", "no-ffn"], events=events)
    trained = {e.variant for e in events if e.status == "step"}
    assert trained == {"no-ffn"}
    assert {e.variant for e in events if e.status == "skipped"} == {"full", "bigram"}
    for name in ("full", "bigram"):
        assert second["variants"][name] == first["variants"][name]
    assert list(load_results(out)["variants"]) == ["full", "no-ffn", "bigram"]  # the table's order


@pytest.mark.parametrize("stop_at", [4, STEPS])  # mid-run, and after the last step but before measuring
def test_interrupted_variant_resumes_where_it_stopped(tmp_path, tiny_text_file, all_variants, stop_at):
    out = tmp_path / "r.json"

    def stop_mid_no_ffn(event):
        if event.variant == "no-ffn" and event.status == "step" and event.step == stop_at:
            raise KeyboardInterrupt  # what Ctrl-C does inside train's loop

    with pytest.raises(KeyboardInterrupt):
        run_ablation(str(tiny_text_file), None, TINY, ["full", "no-ffn"], STEPS, 7, out, stop_mid_no_ffn,
                     progress=False, log=lambda msg: None)  # fmt: skip
    assert list(load_results(out)["variants"]) == ["full"]  # the half-trained variant is not recorded

    events = []
    results = ablate(tiny_text_file, out, ["full", "no-ffn"], events=events)
    start = next(e for e in events if e.variant == "no-ffn" and e.status == "start")
    assert start.step == stop_at  # picked up from its own save, not from step 0
    assert [e.step for e in events if e.status == "step"] == list(range(stop_at + 1, STEPS + 1))
    # and it ends where an uninterrupted run ends
    assert results["variants"]["no-ffn"]["val_loss"] == pytest.approx(all_variants[1]["variants"]["no-ffn"]["val_loss"])


def test_changed_settings_are_refused(tmp_path, tiny_text_file):
    out = tmp_path / "r.json"
    ablate(tiny_text_file, out, ["bigram"])
    with pytest.raises(AblationError, match=r"steps: 6 in the file, 8 now.*another --out"):
        ablate(tiny_text_file, out, ["bigram"], steps=8)
    with pytest.raises(AblationError, match="n_embd: 32 in the file, 48 now"):
        ablate(tiny_text_file, out, ["bigram"], n_embd=48)
    with pytest.raises(AblationError, match="unknown variant"):
        ablate(tiny_text_file, tmp_path / "other.json", ["no-such-thing"])


def test_load_results_rejects_bad_files(tmp_path, all_variants):
    bad = tmp_path / "bad.json"
    with pytest.raises(AblationError, match="no ablation results"):
        load_results(bad)
    bad.write_text("{not json")
    with pytest.raises(AblationError, match="bad.json is not a JSON file"):
        load_results(bad)
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(AblationError, match="not an ablation results file"):
        load_results(bad)
    damaged = json.loads(all_variants[0].read_text())
    del damaged["variants"]["full"]["val_loss"]
    damaged["variants"]["bigram"]["history"] = [{"step": 0}]
    bad.write_text(json.dumps(damaged))
    with pytest.raises(AblationError, match=r"damaged.*'full' has no valid 'val_loss'.*'bigram' has a history"):
        load_results(bad)


def test_switch_lines_are_real_lines_of_model_py():
    source = MODEL_SOURCE.read_text().splitlines()
    assert variant_lines("full") == {}
    for name in VARIANTS:
        for switch, lines in variant_lines(name).items():
            assert lines, f"{name}: no line uses config.{switch}"
            assert any(f"config.{switch}" in t or f"cfg.{switch}" in t for _, t in lines), name
            for number, text in lines:
                assert source[number - 1].rstrip() == text
    # followed one step further: the scale reaches the line that multiplies q @ k^T
    assert any("q @ k.transpose" in t for _, t in switch_lines("attn_scale"))
    with pytest.raises(AblationError):
        variant_lines("no-such-thing")


def test_cli_ablate(tmp_path, tiny_text_file, capsys):
    out = tmp_path / "cli.json"
    tiny = [x for k, v in TINY.items() for x in (f"--{k}", str(v))]
    argv = ["ablate", "--data", str(tiny_text_file), "--variants", "full,bigram", "--steps", "3", "--out", str(out)]
    assert main(argv + tiny) == 0
    printed = capsys.readouterr().out
    assert "vs full" in printed and "bigram" in printed
    assert list(load_results(out)["variants"]) == ["full", "bigram"]
    assert main(argv + tiny + ["--steps", "4"]) == 2  # settings changed: a clear error, no traceback
    assert "another --out" in capsys.readouterr().err
