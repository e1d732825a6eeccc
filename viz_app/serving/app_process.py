"""How an app server process starts: `make app`, the `attention-lab` command, each of `make serve`'s
processes, the classroom bench, the browser tests.

One Streamlit process runs its page scripts as Python threads under one GIL. Left free to move over
two cores, its threads hand the GIL back and forth between cores: measured with 30 sessions typing
their own prompts (python -m viz_app.bench classroom), the same work took 5.0-5.5 s of server CPU
on two cores and 3.4-3.7 s pinned to one, and the p95 wait fell from 2.3-2.5 s to 1.5-1.9 s. So a
process is pinned to one core before it starts: the last one this process may use for `make app`,
one each for `make serve`'s processes. Where the OS cannot pin (not Linux) it runs unpinned.

    python -m viz_app.app_process [--port 8501] [--address 127.0.0.1]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .. import compat

APP = Path(__file__).resolve().parents[1] / "app.py"


def command(port: int, address: str | None = None, app: Path = APP) -> list[str]:
    """`streamlit run` of the app, with the settings of .streamlit/config.toml (there for a plain
    `streamlit run viz_app/app.py` from the repository root) given whatever the working folder."""
    line = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port), "--server.headless",
            "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]  # fmt: skip
    return line + (["--server.address", address] if address else [])


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def healthy(url: str, timeout: float = 3) -> bool:
    """The server at url answers its health check (compat.HEALTH_PATH) with 200."""
    try:
        with urllib.request.urlopen(f"{url}{compat.HEALTH_PATH}", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float, log: str | Path = "") -> None:
    """Until the server process answers at url: the one start-up wait of make serve, the bench and the
    tests. RuntimeError, with the log's last lines, when it exits first or takes longer than timeout_s
    (a bound, not a timing: a cold start imports torch and streamlit, seconds on a busy machine)."""
    deadline = time.monotonic() + timeout_s
    while not healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            what = f"exited ({process.returncode})" if process.poll() is not None else f"no answer in {timeout_s:.0f} s"
            tail = Path(log).read_text(errors="replace")[-3000:] if log and Path(log).exists() else ""
            raise RuntimeError(f"the app server at {url}: {what}; log {log}\n{tail}")
        time.sleep(0.3)


def cores() -> list[int]:
    """The cores this process may run on, in order ([] where the OS does not say)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return []


def pin(index: int = -1):
    """A preexec_fn for subprocess.Popen: the child on one core (cores()[index], wrapping round)
    before it starts any thread; None where pinning is not possible."""
    allowed = cores()
    if not allowed:
        return None
    core = allowed[index % len(allowed)]
    return lambda: os.sched_setaffinity(0, {core})


def serve_here(line: list[str], env: dict[str, str] | None = None) -> None:
    """Become the server: this process pinned to one core (the exec keeps it, so every thread of the
    server starts there), then exec'd into `line`, so Ctrl-C, a service manager's SIGTERM and the exit
    status reach Streamlit itself and no server is left behind. Does not return."""
    pinned = pin()
    if pinned is not None:
        pinned()
    os.execve(line[0], line, dict(os.environ) if env is None else env)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m viz_app.app_process", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", default=None, help="the address to listen on (default: Streamlit's)")
    args = parser.parse_args(argv)
    serve_here(command(args.port, args.address))


if __name__ == "__main__":
    main()
