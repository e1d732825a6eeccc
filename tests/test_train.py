import os
import signal

import pytest
import torch
from conftest import tiny_config

from nanogpt import train as train_module
from nanogpt.checkpoint import CheckpointError, load_checkpoint, read_metadata
from nanogpt.data import load_text, split
from nanogpt.train import cpu_has_native_bf16, evaluate, lr_at, resolve_dtype, resume_path, train


def quiet(cfg, **kw):
    return train(cfg, progress=False, log=lambda msg: None, **kw)


def test_loss_falls_in_a_few_dozen_steps(tmp_path, tiny_text_file):
    result = quiet(tiny_config(tiny_text_file, tmp_path / "m.safetensors", max_iters=40, eval_interval=20))
    assert [h["step"] for h in result.history] == [0, 20, 40]
    assert result.history[-1]["val"] < result.history[0]["val"] - 1.0
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt.meta["best_val_loss"] == result.best_val
    assert ckpt.meta["step"] == result.best_step
    assert ckpt.meta["data"]["sha256"] and ckpt.meta["train_config"]["max_iters"] == 40


def test_the_same_seed_trains_the_same_model(tmp_path, tiny_text_file):
    a = quiet(tiny_config(tiny_text_file, tmp_path / "a.safetensors", max_iters=10, eval_interval=10))
    b = quiet(tiny_config(tiny_text_file, tmp_path / "b.safetensors", max_iters=10, eval_interval=10))
    assert a.history[-1]["val"] == b.history[-1]["val"]


def test_resume_continues_exactly_where_it_stopped(tmp_path, tiny_text_file):
    full = quiet(
        tiny_config(tiny_text_file, tmp_path / "full.safetensors", max_iters=30, eval_interval=10, dropout=0.1)
    )
    cfg = tiny_config(tiny_text_file, tmp_path / "part.safetensors", max_iters=30, eval_interval=10, dropout=0.1)
    stopped = quiet(cfg, on_step=lambda event: event.step == 20)  # the app's Stop button
    assert stopped.stopped and stopped.steps == 20
    assert read_metadata(resume_path(cfg.out))["step"] == 20
    resumed = quiet(cfg, resume=True)
    assert resumed.steps == 30 and not resumed.stopped
    assert [h["step"] for h in resumed.history] == [0, 10, 20, 30]
    for p, q in zip(full.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_an_interrupt_saves_the_state(tmp_path, tiny_text_file):
    cfg = tiny_config(tiny_text_file, tmp_path / "m.safetensors", max_iters=30, eval_interval=10)

    def interrupt(event):
        if event.step == 15:
            raise KeyboardInterrupt  # what Ctrl-C does mid-run

    messages = []
    result = train(cfg, on_step=interrupt, progress=False, log=messages.append)
    assert result.stopped and result.steps == 15
    assert read_metadata(resume_path(cfg.out))["step"] == 15
    assert "run again with --resume" in messages[-1]
    assert quiet(cfg, resume=True).steps == 30


def test_a_tied_lm_head_resumes(tmp_path, tiny_text_file):
    cfg = tiny_config(tiny_text_file, tmp_path / "t.safetensors", max_iters=20, eval_interval=10, tied_lm_head=True,
                      bias=False, lm_head_bias=False)  # fmt: skip
    assert quiet(cfg, on_step=lambda event: event.step == 10).stopped
    resumed = quiet(cfg, resume=True)
    assert resumed.steps == 20 and resumed.model.lm_head.weight is resumed.model.tok_emb.weight


def test_resume_without_a_saved_state(tmp_path, tiny_text_file):
    with pytest.raises(CheckpointError, match="nothing to resume"):
        quiet(tiny_config(tiny_text_file, tmp_path / "m.safetensors"), resume=True)


def test_on_step_sees_every_step_and_the_evals(tmp_path, tiny_text_file):
    events = []
    quiet(tiny_config(tiny_text_file, tmp_path / "m.safetensors", max_iters=6, eval_interval=3), on_step=events.append)
    assert [e.step for e in events] == [0, 1, 2, 3, 4, 5, 6]  # step 0: the evaluation before training
    assert [e.eval is not None for e in events] == [True, False, False, True, False, False, True]
    assert events[0].loss is None and events[0].eval["step"] == 0
    assert all(e.loss > 0 and e.lr > 0 for e in events[1:])


def test_on_step_can_stop_before_the_first_step(tmp_path, tiny_text_file):
    result = quiet(tiny_config(tiny_text_file, tmp_path / "m.safetensors"), on_step=lambda e: e.step == 0)
    assert result.stopped and result.steps == 0 and [h["step"] for h in result.history] == [0]


def test_bigram_trains_through_the_same_code(tmp_path, tiny_text_file):
    cfg = tiny_config(tiny_text_file, tmp_path / "b.safetensors", model_type="bigram", learning_rate=0.1)
    result = quiet(cfg)
    assert result.best_val < result.history[0]["val"] - 0.5
    assert type(load_checkpoint(result.checkpoint).model).__name__ == "BigramLM"


def test_evaluate_is_deterministic_and_covers_every_character(tiny_ckpt, tiny_text_file):
    ckpt = load_checkpoint(tiny_ckpt)
    splits = split(load_text(str(tiny_text_file)), 32, tokenizer=ckpt.tokenizer)
    a = evaluate(ckpt.model, splits.val, 32)
    b = evaluate(ckpt.model, splits.val, 32, batch_size=3)
    assert a == pytest.approx(b, abs=1e-6)
    # by hand: consecutive windows of 32, every character after the first is a target once
    total, count = 0.0, 0
    for start in range(0, len(splits.val) - 1, 32):
        x = splits.val[start : start + 32]
        y = splits.val[start + 1 : start + 33]
        x = x[: len(y)]
        logits, _ = ckpt.model(x[None])
        total += torch.nn.functional.cross_entropy(logits[0], y, reduction="sum").item()
        count += len(y)
    assert count == len(splits.val) - 1
    assert a == pytest.approx(total / count, abs=1e-5)


def test_cosine_schedule():
    from nanogpt.config import make_train_config

    cfg = make_train_config("baby")
    assert lr_at(0, cfg) < lr_at(cfg.warmup_iters, cfg)
    assert lr_at(cfg.warmup_iters, cfg) == pytest.approx(cfg.learning_rate, rel=1e-3)
    assert lr_at(cfg.max_iters, cfg) == pytest.approx(cfg.min_lr)
    assert lr_at(10_000, make_train_config("lecture")) == 3e-4


def test_patience_stops_when_val_stops_improving(tmp_path, tiny_text_file):
    # a large learning rate on a tiny text overfits fast, so val turns up within a few evaluations
    cfg = tiny_config(tiny_text_file, tmp_path / "m.safetensors", max_iters=400, eval_interval=10,
                      learning_rate=3e-2, patience=2)  # fmt: skip
    result = quiet(cfg)
    assert result.early_stopped and result.steps < 400
    after_best = [h for h in result.history if h["step"] > result.best_step]
    assert len(after_best) == 2 and all(h["val"] >= result.best_val for h in after_best)
    assert load_checkpoint(result.checkpoint).meta["step"] == result.best_step


def test_init_from_starts_a_second_phase_at_the_first_ones_weights(tmp_path, tiny_text_file):
    first = quiet(tiny_config(tiny_text_file, tmp_path / "first.safetensors", max_iters=40, eval_interval=20))
    cfg = tiny_config(tiny_text_file, tmp_path / "second.safetensors", max_iters=20, eval_interval=10,
                      learning_rate=1e-3, lr_schedule="cosine", min_lr=1e-5, dropout=0.1,
                      init_from=str(first.checkpoint), save_dtype="float16")  # fmt: skip
    second = quiet(cfg)
    # step 0 of the second phase is the first phase's best model, not a fresh one (val about 4.2 there)
    assert second.history[0]["val"] == pytest.approx(first.best_val, abs=0.02)
    assert second.best_val < first.best_val
    assert read_metadata(second.checkpoint)["train_config"]["init_from"] == str(first.checkpoint)
    # and a float16 parent trains on in float32
    third = quiet(tiny_config(tiny_text_file, tmp_path / "third.safetensors", max_iters=10, eval_interval=10,
                              init_from=str(second.checkpoint)))  # fmt: skip
    assert third.history[0]["val"] == pytest.approx(second.best_val, abs=0.02)
    assert all(p.dtype == torch.float32 for p in third.model.parameters())


def test_init_from_another_model_or_vocabulary_is_refused(tmp_path, tiny_text_file):
    parent = quiet(tiny_config(tiny_text_file, tmp_path / "p.safetensors", max_iters=2, eval_interval=2)).checkpoint
    wider = tiny_config(tiny_text_file, tmp_path / "w.safetensors", n_embd=64, init_from=str(parent))
    with pytest.raises(CheckpointError, match="n_embd 32 there, 64 here"):
        quiet(wider)
    other_text = tmp_path / "digits.txt"
    other_text.write_text("0123456789" * 200)
    elsewhere = tiny_config(other_text, tmp_path / "d.safetensors", init_from=str(parent))
    with pytest.raises(CheckpointError, match="another vocabulary"):
        quiet(elsewhere)


ZEN4_FLAGS = "flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni\n"
OLD_AVX512_FLAGS = "flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n"


def test_auto_dtype_is_bf16_where_the_cpu_has_it(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert cpu_has_native_bf16(ZEN4_FLAGS) and cpu_has_native_bf16("flags : sse2 amx_bf16 amx_tile\n")
    assert not cpu_has_native_bf16(OLD_AVX512_FLAGS)
    assert not cpu_has_native_bf16("model name : avx512_bf16 in a name, not a flag\n")
    monkeypatch.setattr(train_module, "cpu_has_native_bf16", lambda: True)
    assert resolve_dtype("auto", "cpu") == "bfloat16" and resolve_dtype("auto", "cuda") == "bfloat16"
    assert resolve_dtype("float32", "cpu") == "float32" and resolve_dtype("auto", "mps") == "float32"
    monkeypatch.setattr(train_module, "cpu_has_native_bf16", lambda: False)
    assert resolve_dtype("auto", "cpu") == "float32" and resolve_dtype("bfloat16", "cpu") == "bfloat16"


def test_onednn_held_below_bf16_counts_as_no_native_bf16(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")
    assert not cpu_has_native_bf16(ZEN4_FLAGS)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX")
    assert cpu_has_native_bf16(ZEN4_FLAGS)


def test_an_unknown_dtype_is_refused(tmp_path, tiny_text_file):
    with pytest.raises(ValueError, match="dtype must be one of auto, float32, bfloat16"):
        tiny_config(tiny_text_file, tmp_path / "m.safetensors", dtype="float16")


def test_bf16_trains_like_fp32_and_saves_fp32_weights(tmp_path, tiny_text_file):
    runs = {}
    for dtype in ("float32", "bfloat16"):
        cfg = tiny_config(tiny_text_file, tmp_path / f"{dtype}.safetensors", max_iters=30, eval_interval=10,
                          dtype=dtype)  # fmt: skip
        runs[dtype] = quiet(cfg)
    fp32, bf16 = ([h["val"] for h in runs[d].history] for d in ("float32", "bfloat16"))
    assert max(abs(a - b) for a, b in zip(fp32, bf16, strict=True)) < 0.05
    assert fp32 != bf16  # bf16 really ran: the numbers differ in their last digits
    ckpt = load_checkpoint(runs["bfloat16"].checkpoint)
    assert ckpt.meta["compute_dtype"] == "bfloat16"
    assert all(p.dtype == torch.float32 for p in ckpt.model.parameters())


def test_resume_across_dtypes(tmp_path, tiny_text_file):
    cfg = tiny_config(tiny_text_file, tmp_path / "m.safetensors", max_iters=30, eval_interval=10, dtype="float32")
    assert quiet(cfg, on_step=lambda event: event.step == 20).stopped
    cfg.dtype = "bfloat16"
    resumed = quiet(cfg, resume=True)
    assert resumed.steps == 30 and [h["step"] for h in resumed.history] == [0, 10, 20, 30]
    assert read_metadata(resume_path(cfg.out))["compute_dtype"] == "bfloat16"


def test_a_first_ctrl_c_stops_after_the_step_and_saves_it(tmp_path, tiny_text_file):
    cfg = tiny_config(tiny_text_file, tmp_path / "m.safetensors", max_iters=30, eval_interval=10)
    messages = []

    def press_ctrl_c(event):
        if event.step == 13:
            os.kill(os.getpid(), signal.SIGINT)  # a signal, as a terminal sends it, not an exception

    result = train(cfg, on_step=press_ctrl_c, progress=False, log=messages.append)
    assert result.stopped and result.steps == 13
    assert read_metadata(resume_path(cfg.out))["step"] == 13  # not the last evaluation's step 10
    assert "continue from it" in messages[-1]
    assert quiet(cfg, resume=True).steps == 30
