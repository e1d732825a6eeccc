"""The `attention-lab` command and the shipped files, in the checkout: how the command reads its
arguments, what it hands Streamlit, and what the wheel is built from. tests/test_install.py runs the
same command from a wheel installed into a fresh virtual environment."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

import hatch_build
from nanogpt import data, shipped
from viz_app.backend import registry
from viz_app.backend.launch import OPEN_ENV, VOCAB_ENV
from viz_app.serving import app_process, cli

ROOT = Path(__file__).resolve().parents[1]
NANOGPT_DIR = ROOT / "tests" / "fixtures" / "import" / "nanogpt-shakespeare-char"


def refused(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        cli.main(list(argv))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]  # argparse: the usage, then the one sentence


def test_bad_arguments_get_one_sentence_before_any_server_starts(capsys, tmp_path):
    assert "no model file at 'nope.pt'" in refused(capsys, "nope.pt")
    (tmp_path / "notes.md").write_text("hi")
    assert "is not a model file the app opens; it takes a .safetensors, .pt or .pth file" in refused(
        capsys, str(tmp_path / "notes.md")
    )
    assert "no vocabulary file at 'meta.pkl'" in refused(capsys, str(NANOGPT_DIR / "ckpt.pt"), "--vocab", "meta.pkl")
    for port in ("abc", "0", "70000"):
        assert f"argument --port: '{port}' is not a port; give a number from 1 to 65535" in refused(
            capsys, "--port", port
        )


def test_the_app_gets_the_model_as_make_app_hands_it(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    shutil.copy2(NANOGPT_DIR / "ckpt.pt", tmp_path / "ckpt.pt")
    args = cli.app_parser(cli.commands()).parse_args(
        ["ckpt.pt", "--vocab", str(NANOGPT_DIR / "meta.pkl"), "--port", "9001"]
    )
    command, env = cli.app_command(args.ckpt, args.vocab, args.port)
    assert command == app_process.command(9001)  # as make app starts it: the same flags, then pinned
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(ROOT / "viz_app" / "app.py")]
    # absolute: the variables imported.py reads, whatever folder the server runs in
    assert env[OPEN_ENV] == str(tmp_path / "ckpt.pt") and env[VOCAB_ENV] == str(NANOGPT_DIR / "meta.pkl")


def test_without_a_model_the_app_opens_on_the_shipped_one(monkeypatch):
    monkeypatch.delenv(OPEN_ENV, raising=False)
    args = cli.app_parser(cli.commands()).parse_args([])
    command, env = cli.app_command(args.ckpt, args.vocab, args.port)
    assert OPEN_ENV not in env and command[command.index("--server.port") + 1] == "8501"
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(cli.APP)]


def test_the_librarys_verbs_run_under_the_commands_name(capsys, tmp_path):
    out = tmp_path / "model.safetensors"
    assert cli.main(["convert", str(NANOGPT_DIR / "ckpt.pt"), "--out", str(out)]) == 0
    assert out.is_file() and "nanogpt model from" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert capsys.readouterr().out.startswith("usage: attention-lab train")
    assert cli.main(["sample", "--ckpt", str(tmp_path / "missing.safetensors")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_the_help_names_the_app_and_every_verb(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "attention-lab [CKPT] [--vocab FILE] [--port N]" in text
    assert all(f"\n  {verb} " in text for verb in ("train", "sample", "eval", "inspect", "convert"))


def test_a_checkout_finds_the_shipped_files_in_the_repository(monkeypatch):
    monkeypatch.delenv(registry.CHECKPOINTS_ENV, raising=False)
    assert shipped.ROOT == ROOT  # no nanogpt/shipped/ here: only a wheel has one
    assert registry.checkpoint_dir() == ROOT / "checkpoints"
    assert registry.shipped_models()[0].label == registry.DEFAULT_CHECKPOINT
    assert data.SHIPPED_TINYSHAKESPEARE == ROOT / "data" / "tinyshakespeare.txt"
    assert registry.shown_path(ROOT / "checkpoints" / "ablations.json") == "checkpoints/ablations.json"


def test_the_wheel_takes_every_checkpoint_but_no_timeline_or_resume_state(tmp_path):
    (tmp_path / "checkpoints" / "small.timeline").mkdir(parents=True)
    (tmp_path / "data").mkdir()
    for name in ("checkpoints/small.safetensors", "checkpoints/shakespeare-lecture.safetensors",
                 "checkpoints/small.resume.safetensors", "checkpoints/small.timeline/step-000000.safetensors",
                 "checkpoints/ablations.json", "data/tinyshakespeare.txt"):  # fmt: skip
        (tmp_path / name).write_bytes(b"x")
    assert hatch_build.shipped_files(tmp_path) == [
        "checkpoints/shakespeare-lecture.safetensors",
        "checkpoints/small.safetensors",
        "checkpoints/ablations.json",
        "data/tinyshakespeare.txt",
    ]


def test_the_packages_dependencies_are_requirements_txt_without_its_comments(tmp_path):
    (tmp_path / "requirements.txt").write_text("# runtime\ntorch==2.13.0\n\norjson==3.13.0  # plotly uses it\n")
    assert hatch_build.requirements(tmp_path) == ["torch==2.13.0", "orjson==3.13.0"]
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert hatch_build.requirements(ROOT) == [line.split("#")[0].strip() for line in lines if "==" in line]


def test_a_hugging_face_folder_is_a_model_the_command_opens(monkeypatch, tmp_path):
    folder = ROOT / "tests" / "fixtures" / "gpt2" / "hf-gpt2"
    args = cli.app_parser(cli.commands()).parse_args([str(folder)])
    _, env = cli.app_command(args.ckpt, args.vocab, args.port)
    assert env[OPEN_ENV] == str(folder.resolve())
