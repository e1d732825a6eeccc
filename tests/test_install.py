"""The package as an engineer installs it beside their own nanoGPT run: the wheel built from this
checkout, installed into a fresh virtual environment outside it, then `attention-lab` from another
folder. Offline: the wheel is built with this environment's hatchling, and the new environment
installs from the runtime's wheels that `make test` downloads into .venv/wheelhouse (--no-index)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from viz_app.serving import app_process

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"  # the Makefile's $(VENV)/wheelhouse
NANOGPT_DIR = ROOT / "tests" / "fixtures" / "import" / "nanogpt-shakespeare-char"
MAX_WHEEL_MB = 50  # the shipped checkpoints with the lecture model's ~22 MB still fit


def run(*command, cwd: Path | None = None, env: dict | None = None) -> str:
    proc = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(map(str, command))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, ROOT)
    (built,) = dist.glob("attention_lab-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    if not any(WHEELHOUSE.glob("torch-*.whl")):
        pytest.fail(f"no runtime wheels in {WHEELHOUSE}; `make test` downloads them there before the tests run")
    env_dir = tmp_path_factory.mktemp("elsewhere") / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", env_dir)
    # this environment's pip installs into the new one (--python), which needs no pip of its own
    run(sys.executable, "-m", "pip", "--python", env_dir / "bin" / "python", "install", "-q", "--no-index",
        "--no-compile", "--find-links", WHEELHOUSE, "--find-links", wheel.parent, "attention-lab")  # fmt: skip
    return env_dir


@pytest.fixture
def user_env(tmp_path) -> dict[str, str]:
    """A shell with nothing pointing back at the checkout, and its own temporary folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env = {k: v for k, v in env.items() if not k.startswith("ATTENTION_LAB_")}
    (tmp_path / "tmp").mkdir()
    return {**env, "TMPDIR": str(tmp_path / "tmp")}


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """An engineer's nanoGPT out-dir: ckpt.pt with its meta.pkl."""
    folder = tmp_path / "out-shakespeare-char"
    folder.mkdir()
    for name in ("ckpt.pt", "meta.pkl"):
        shutil.copy2(NANOGPT_DIR / name, folder / name)
    return folder


def test_the_wheel_holds_both_packages_the_command_and_the_shipped_files(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    wanted = {"nanogpt/model.py", "viz_app/app.py", "viz_app/serving/cli.py", "viz_app/.streamlit/config.toml"}
    assert wanted <= set(names)
    # GPT-2's tokenizer works offline from the wheel alone: its ranks and their licence are package data
    assert {"nanogpt/assets/gpt2.tiktoken", "nanogpt/assets/LICENSE-gpt2.tiktoken"} <= set(names)
    shipped = {n.removeprefix("nanogpt/shipped/") for n in names if n.startswith("nanogpt/shipped/")}
    checkpoints = {p.relative_to(ROOT).as_posix() for p in (ROOT / "checkpoints").glob("*.safetensors")}
    assert shipped == {*checkpoints, "checkpoints/ablations.json", "data/tinyshakespeare.txt"}
    assert not [n for n in names if ".timeline/" in n or n.startswith("tests/")]
    assert wheel.stat().st_size < MAX_WHEEL_MB * 2**20, f"the wheel weighs {wheel.stat().st_size / 2**20:.1f} MB"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "attention-lab = viz_app.serving.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_command_runs_from_another_folder(venv, tmp_path, user_env):
    text = run(venv / "bin" / "attention-lab", "--help", cwd=tmp_path, env=user_env)
    assert "attention-lab [CKPT] [--vocab FILE] [--port N]" in text and "\n  convert " in text


def test_the_installed_app_finds_its_checkpoints_data_and_config_in_the_package(venv, tmp_path, user_env):
    probe = """
import json
import streamlit.config as config
import viz_app
from nanogpt import data
from viz_app.serving import cli
from viz_app.backend import registry
config._main_script_path = str(cli.APP)  # what `streamlit run APP` sets before it reads the config files
config.get_config_options(force_reparse=True)
print(json.dumps({"viz_app": viz_app.__file__, "models": [e.path for e in registry.shipped_models()],
                  "text": str(data.tinyshakespeare_path(download=False)),
                  "upload_mb": config.get_option("server.maxUploadSize")}))
"""
    found = json.loads(run(venv / "bin" / "python", "-c", probe, cwd=tmp_path, env=user_env))
    site = Path(found["viz_app"]).parents[1]
    assert site.is_relative_to(venv)  # the installed copy, not the checkout
    assert [Path(p).name for p in found["models"]][0] == "shakespeare-small.safetensors"
    assert all(Path(p).is_relative_to(site / "nanogpt" / "shipped" / "checkpoints") for p in found["models"])
    assert Path(found["text"]).is_relative_to(site)
    assert found["upload_mb"] == 160  # viz_app/.streamlit/config.toml, not Streamlit's default of 200


def test_convert_a_nanogpt_checkpoint_and_open_the_app_on_it(venv, run_dir, user_env):
    command = venv / "bin" / "attention-lab"
    run(command, "convert", "ckpt.pt", "--out", "model.safetensors", cwd=run_dir, env=user_env)
    assert run(command, "sample", "--ckpt", "model.safetensors", "--prompt", "ROMEO:", "--max-new-tokens", "20",
               cwd=run_dir, env=user_env).startswith("ROMEO:")  # fmt: skip
    # the app's first run on the ckpt.pt itself (converted inside the app, as make app CKPT= does)
    probe = """
from pathlib import Path
from streamlit.testing.v1 import AppTest
from viz_app.serving import cli
at = AppTest.from_file(str(cli.APP), default_timeout=300).run()
assert not at.exception, [e.value for e in at.exception]
box = at.sidebar.selectbox(key="model")
print(box.value, "|", ",".join(box.options))
"""
    shown = run(venv / "bin" / "python", "-c", probe, cwd=run_dir, env={**user_env, "ATTENTION_LAB_CKPT": "ckpt.pt"})
    chosen, options = shown.strip().split(" | ")
    assert chosen == "ckpt (opened)" and "shakespeare-small" in options.split(",")
    # and the real server, started by the command, answers
    port = app_process.free_port()
    with open(run_dir / "server.log", "w") as log:
        server = subprocess.Popen([command, "ckpt.pt", "--port", str(port)], cwd=run_dir, env=user_env,
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        app_process.wait_healthy(f"http://127.0.0.1:{port}", server, 120, run_dir / "server.log")  # or says why
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert b"<title>Streamlit</title>" in page.read()
    finally:
        server.terminate()  # the command exec'd Streamlit: this is the server itself
        server.wait(timeout=60)
    assert "Local URL" in (run_dir / "server.log").read_text()
