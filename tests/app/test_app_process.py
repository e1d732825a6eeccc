"""How a server process starts (make app, make serve's processes, the bench): on one core, no file watcher."""

from __future__ import annotations

import subprocess
import sys

import pytest

from viz_app.serving import app_process

pytestmark = pytest.mark.skipif(not app_process.cores(), reason="the OS does not say which cores a process may use")

AFFINITY = "import os; print(sorted(os.sched_getaffinity(0)))"


def test_a_server_process_runs_on_one_core_the_last_by_default():
    out = subprocess.run([sys.executable, "-c", AFFINITY], preexec_fn=app_process.pin(), capture_output=True, text=True)
    assert out.stdout.strip() == str([app_process.cores()[-1]])


def test_make_serves_processes_go_round_the_cores():
    cores = app_process.cores()
    for i in range(len(cores) + 1):
        out = subprocess.run([sys.executable, "-c", AFFINITY], preexec_fn=app_process.pin(i), capture_output=True,
                             text=True)  # fmt: skip
        assert out.stdout.strip() == str([cores[i % len(cores)]])


def test_the_command_serves_the_app_headless_without_watching_files_or_telling_anyone():
    line = app_process.command(8765, "127.0.0.1")
    assert line[:4] == [sys.executable, "-m", "streamlit", "run"] and line[4] == str(app_process.APP)
    flags = dict(zip(line[5::2], line[6::2], strict=True))
    assert flags == {"--server.port": "8765", "--server.headless": "true", "--browser.gatherUsageStats": "false",
                     "--server.fileWatcherType": "none", "--server.address": "127.0.0.1"}  # fmt: skip
