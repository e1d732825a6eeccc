"""The shipped ablation results: real tiny-Shakespeare runs, and the ordering a student should see."""

from pathlib import Path

from nanogpt.ablate import VARIANTS, load_results, results_table

RESULTS = Path(__file__).resolve().parent.parent / "checkpoints" / "ablations.json"


def test_every_variant_ran_on_tiny_shakespeare_with_one_budget():
    results = load_results(RESULTS)
    assert set(results["variants"]) == set(VARIANTS)
    assert results["data"] == "tinyshakespeare"
    steps = {record["steps"] for record in results["variants"].values()}
    assert steps == {results["steps"]}
    assert all(len(record["sample"]) == 300 for record in results["variants"].values())


def test_the_ordering_a_student_should_see():
    rows = {row["variant"]: row for row in results_table(load_results(RESULTS))}
    assert rows["full"]["val_loss"] < 1.75
    assert rows["no-residual"]["delta"] > 0.5 and rows["no-layernorm"]["delta"] > 0.1  # deep and unnormalised
    assert rows["bigram"]["delta"] > 0.6  # the lecture's first model is far behind
    assert rows["no-pos-emb"]["delta"] > 0 and rows["no-ffn"]["delta"] > 0


def test_the_models_page_table_matches_the_results():
    models = (RESULTS.parent.parent / "docs" / "models.md").read_text(encoding="utf-8")
    for row in results_table(load_results(RESULTS)):
        line = next(line for line in models.splitlines() if line.startswith(f"| `{row['variant']}` "))
        assert f"{row['val_loss']:.4f}" in line
