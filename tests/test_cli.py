"""The command line, run as a user runs it: python -m nanogpt ..."""

import subprocess
import sys

import pytest


def cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "nanogpt", *map(str, args)], capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


TINY = ["--n_layer", "1", "--n_head", "2", "--n_embd", "16", "--block_size", "16", "--batch_size", "4",
        "--eval_interval", "10", "--eval_iters", "2", "--max_iters", "20"]  # fmt: skip


def test_train_prints_the_lectures_lines_and_saves(tmp_path, tiny_text_file):
    out = tmp_path / "m.safetensors"
    proc = cli("train", "--preset", "baby", "--data", tiny_text_file, "--out", out, *TINY, "--dropout=0.1")
    assert "step 0: train loss" in proc.stderr + proc.stdout
    assert "step 20: train loss" in proc.stderr + proc.stdout
    assert out.exists()
    proc = cli("train", "--data", tiny_text_file, "--out", out, *TINY, "--max_iters", "30", "--resume")
    assert "resuming from step 20" in proc.stderr + proc.stdout and "step 30:" in proc.stderr + proc.stdout


def test_unknown_fields_and_bad_values_are_rejected(tmp_path, tiny_text_file):
    proc = cli("train", "--data", tiny_text_file, "--n_layers", "8", check=False)
    assert proc.returncode == 2 and "unknown config field 'n_layers'" in proc.stderr
    proc = cli("train", "--data", tiny_text_file, "--n_layer", "eight", check=False)
    assert proc.returncode == 2 and "--n_layer expects a int" in proc.stderr
    proc = cli("train", "--preset", "huge", check=False)
    assert proc.returncode == 2 and "unknown preset 'huge'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sample_is_deterministic_for_a_seed(tiny_ckpt):
    args = ["sample", "--ckpt", tiny_ckpt, "--prompt", "First", "--max-new-tokens", "60", "--top-k", "5"]
    a = cli(*args, "--seed", "1").stdout
    assert a == cli(*args, "--seed", "1").stdout
    assert a != cli(*args, "--seed", "2").stdout
    assert a.startswith("First") and len(a.rstrip("\n")) >= 60


def test_sample_with_unknown_characters(tiny_ckpt):
    proc = cli("sample", "--ckpt", tiny_ckpt, "--prompt", "Zebra€", check=False)
    assert proc.returncode == 2 and "'€'" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("sample", "--ckpt", tiny_ckpt, "--prompt", "First€", "--drop-unknown", "--max-new-tokens", "5")
    assert proc.stdout.startswith("First")


def test_eval_prints_a_deterministic_val_loss(tiny_ckpt, tiny_text_file):
    a = cli("eval", "--ckpt", tiny_ckpt, "--data", tiny_text_file).stdout
    assert a.startswith("val loss ") and len(a.split()[2]) == 6  # X.XXXX
    assert a == cli("eval", "--ckpt", tiny_ckpt, "--data", tiny_text_file, "--batch-size", "5").stdout


@pytest.mark.parametrize("ckpt_text", ["not a checkpoint", ""])
def test_eval_on_a_bad_checkpoint(tmp_path, tiny_text_file, ckpt_text):
    bad = tmp_path / "bad.safetensors"
    bad.write_text(ckpt_text)
    proc = cli("eval", "--ckpt", bad, "--data", tiny_text_file, check=False)
    assert proc.returncode == 2 and "bad.safetensors" in proc.stderr and "Traceback" not in proc.stderr


def test_eval_record_writes_the_number_into_the_checkpoint(tmp_path, tiny_ckpt, tiny_text_file):
    import shutil

    from nanogpt.checkpoint import read_metadata

    ckpt = tmp_path / "copy.safetensors"
    shutil.copy(tiny_ckpt, ckpt)
    out = cli("eval", "--ckpt", ckpt, "--data", tiny_text_file, "--record").stdout
    loss = float(out.split()[2])
    meta = read_metadata(ckpt)
    assert meta["eval_val_loss"] == loss and meta["eval_data"] == str(tiny_text_file)
    assert cli("eval", "--ckpt", ckpt, "--data", tiny_text_file).stdout.split()[2] == out.split()[2]
