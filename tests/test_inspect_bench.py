"""The inspect and bench commands, and the bench registry other modules extend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nanogpt.__main__ import main
from nanogpt.bench import (
    SECTIONS,
    BenchOptions,
    bench_capture,
    bench_generate,
    measure_capture_memory,
    run_benchmarks,
)
from nanogpt.capture import run_with_cache
from nanogpt.checkpoint import load_checkpoint
from nanogpt.metrics import head_summary, patterns

PROMPT = "First Citizen:\nSpeak, speak."


def table(out: str) -> dict[str, list[tuple[float, float]]]:
    """The layers x heads table of `inspect`: {'L0': [(entropy, max weight) per head], ...}."""
    rows = {}
    for line in out.splitlines():
        if line.startswith("L") and " / " in line:
            label, *cells = line.replace(" / ", "/").split()
            rows[label] = [tuple(float(v) for v in cell.split("/")) for cell in cells]
    return rows


def test_inspect_prints_the_table_and_norms(tiny_ckpt, tmp_path, capsys):
    npz, js = tmp_path / "out.npz", tmp_path / "out.json"
    assert main(["inspect", "--ckpt", str(tiny_ckpt), "--prompt", PROMPT, "--npz", str(npz), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    ckpt = load_checkpoint(tiny_ckpt)
    _, cache = run_with_cache(ckpt.model, torch.tensor([ckpt.tokenizer.encode(PROMPT)]))
    rows = table(out)
    assert list(rows) == ["L0", "L1"] and "head 1" in out
    for h in head_summary(patterns(cache)):
        entropy, peak = rows[f"L{h['layer']}"][h["head"]]
        assert entropy == pytest.approx(h["mean_normalized_entropy"], abs=1e-3)
        assert peak == pytest.approx(h["mean_max_weight"], abs=1e-2)
    norms = dict(line.split() for line in out.split("residual norm after each block")[1].splitlines()[1:4])
    assert float(norms["embed"]) == pytest.approx(float(cache["blocks.0.hook_resid_pre"].norm(dim=-1).mean()), abs=1e-3)
    assert float(norms["L1"]) == pytest.approx(float(cache["blocks.1.hook_resid_post"].norm(dim=-1).mean()), abs=1e-3)
    with np.load(npz) as saved:
        np.testing.assert_allclose(saved["blocks.1.attn.hook_pattern"], cache["blocks.1.attn.hook_pattern"].numpy())
    summary = json.loads(js.read_text(encoding="utf-8"))
    assert summary["prompt"] == PROMPT and summary["attn_scale"] == "head_size" and len(summary["heads"]) == 4


def test_inspect_scale_off_sharpens_the_table(tiny_ckpt, capsys):
    main(["inspect", "--ckpt", str(tiny_ckpt), "--prompt", PROMPT])
    scaled = table(capsys.readouterr().out)
    main(["inspect", "--ckpt", str(tiny_ckpt), "--prompt", PROMPT, "--attn-scale", "none"])
    out = capsys.readouterr().out
    assert "attn_scale none" in out
    unscaled = table(out)
    mean = lambda rows, i: np.mean([cell[i] for cells in rows.values() for cell in cells])  # noqa: E731
    assert mean(unscaled, 0) < mean(scaled, 0)  # lower entropy
    assert mean(unscaled, 1) > mean(scaled, 1)  # higher max weight


def test_inspect_errors(tiny_ckpt, capsys):
    assert main(["inspect", "--ckpt", str(tiny_ckpt), "--prompt", "héllo ~"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'é'" in err and "'~'" in err and "vocabulary" in err
    assert main(["inspect", "--ckpt", str(tiny_ckpt), "--prompt", ""]) == 2
    assert "empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["inspect", "--ckpt", str(tiny_ckpt), "--prompt", "First", "--attn-scale", "sqrt"])
    assert "expected head_size, n_embd, none or a number" in capsys.readouterr().err


def test_inspect_crops_a_long_prompt(tiny_ckpt, tiny_text, capsys):
    assert main(["inspect", "--ckpt", str(tiny_ckpt), "--prompt", tiny_text[:50], "--attn-scale", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "the prompt has 50 characters; inspecting the last 32" in out and "attn_scale 0.5" in out


def test_registry_runs_every_section_and_survives_a_broken_one(capsys):
    calls = []

    def fine(opts):  # a section is given the run's options
        calls.append(opts.quick)
        return ["first line", "second line"]

    def broken(opts):
        raise RuntimeError("no luck")

    opts = BenchOptions(quick=True)
    assert run_benchmarks(opts, [("fine", fine), ("broken", broken)]) == 1
    out = capsys.readouterr().out
    assert "[fine] first line\n[fine] second line\n" in out and "[broken] FAILED: RuntimeError: no luck" in out
    assert run_benchmarks(opts, [("fine", fine), ("broken", broken)], only=["fine"]) == 0
    assert "broken" not in capsys.readouterr().out and calls == [True, True]
    with pytest.raises(ValueError, match="unknown bench section"):
        run_benchmarks(opts, [("fine", fine)], only=["nope"])
    assert [name for name, _ in SECTIONS] == ["capture", "generate", "memory", "train_dtype"]


def test_bench_sections_on_the_tiny_model(tiny_ckpt):
    opts = BenchOptions(quick=True, ckpt=str(tiny_ckpt), repeats=1)
    capture_lines = bench_capture(opts)
    assert "T=32, batch 1" in capture_lines[0] and "full capture / fast forward = " in capture_lines[1]
    generate_lines = bench_generate(opts)
    assert "7-char prompt grown to 32" in generate_lines[0] and "same text: yes" in generate_lines[0]
    assert "KV cache / no cache = " in generate_lines[1] and "(target >= 5.0x)" in generate_lines[1]
    memory = measure_capture_memory(str(tiny_ckpt), quick=True)
    assert memory["T"] == 32 and memory["n_points"] == 2 * 11 + 3  # 11 per block, embed, pos, ln_f
    assert 0 < memory["map_bytes"] < memory["cache_bytes"] and memory["loaded"] <= memory["fast"] <= memory["capture"]


def test_bench_cli_quick(tiny_ckpt, capsys):
    assert main(["bench", "--quick", "--ckpt", str(tiny_ckpt), "--only", "capture", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "model: 2 layers x 2 heads x 32 wide, block 32" in out
    assert "[capture] full capture / fast forward = " in out and "[generate]" not in out
    assert main(["bench", "--only", "nope"]) == 2
    assert "unknown bench section(s) nope" in capsys.readouterr().err


def test_the_library_never_imports_streamlit_or_the_app():
    root = Path(__file__).resolve().parents[1]
    modules = ", ".join(f"nanogpt.{p.stem}" for p in sorted((root / "nanogpt").glob("*.py")) if p.stem != "__init__")
    code = f"import sys, {modules}; print(sorted(m for m in sys.modules if m.startswith(('streamlit', 'viz_app'))))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root)
    assert result.stdout.strip() == "[]", result.stderr
    sources = {p.name: p.read_text(encoding="utf-8") for p in (root / "nanogpt").glob("*.py")}
    assert [name for name, text in sources.items() if "viz_app" in text] == []


@pytest.mark.slow
def test_the_train_dtype_section_measures_both_dtypes_and_the_emulated_case():
    from nanogpt.bench import bench_train_dtype

    lines = bench_train_dtype(BenchOptions(quick=True))
    assert lines[0].startswith("this CPU: ") and "--dtype auto picks" in lines[0]
    assert "bf16 / fp32 = " in lines[1] and "ms fp32" in lines[1]
    assert "held to AVX512_CORE" in lines[2] and "--dtype auto picks float32 there" in lines[2]
    gap = float(lines[3].split("differ by at most ")[1].split(",")[0])
    assert gap < 0.05  # the two dtypes train alike


def test_a_fresh_process_never_runs_this_ones_main(tmp_path, monkeypatch):
    """After a Streamlit script run __main__ is the page's script: the bench's child must not run it."""
    import math
    import types

    from nanogpt.bench import in_fresh_process

    script = tmp_path / "page.py"
    script.write_text("raise SystemExit('the page ran again in the child')\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)
    assert in_fresh_process(math.factorial, 5) == 120
    assert sys.modules["__main__"] is page  # given back
