"""python -m viz_app.bench: the page sections run with the server's one thread and give the count back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from viz_app.bench.page_runs import as_served


@pytest.mark.slow  # a subprocess
def test_a_page_section_leaves_the_next_section_torch_s_default_threads(tiny_ckpt):
    # the Generate page section imports the app's captures, which set one thread for the server's
    # sessions; the training section after it must still time the CLI with torch's default
    env = dict(os.environ, OMP_NUM_THREADS="2")  # torch's default then, on any machine with 2 cores or more
    default = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"], env=env,
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    args = ["--quick", "--ckpt", str(tiny_ckpt), "--repeats", "1", "--only", "app-generate,app-train"]
    # a bound, not a timing: on the shared 2-core machine under load (and beside another pytest-xdist
    # worker) the quick bench once took 310 s
    done = subprocess.run([sys.executable, "-m", "viz_app.bench", *args], env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"bench: torch {torch.__version__}, {default} CPU threads;" in done.stdout, done.stdout
    assert "[app-generate] generate page rerun" in done.stdout, done.stdout
    assert "CLI train(): " in done.stdout and f"steps/s ({default} torch threads;" in done.stdout, done.stdout


def test_a_served_section_runs_on_one_thread_and_gives_the_count_back():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert as_served(lambda opts: [torch.get_num_threads()])(None) == [1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
