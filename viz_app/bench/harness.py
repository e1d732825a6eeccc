"""The bench's harness: what a measurement of the running app is made of. A Server (`streamlit run
viz_app/app.py` started as `make app` starts it, its CPU and memory read from /proc) or make serve's
Processes; a Session that talks to it through Streamlit's websocket protocol as a browser tab's
JavaScript does; the link a session opens; the prompts students type; and the percentiles a report
prints. classroom.py, follow.py and proxy.py measure with it, and tests use it to drive a real server.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from nanogpt.data import OPENING_LINES, SHIPPED_TINYSHAKESPEARE

from .. import compat
from ..pages import query
from ..serving import app_process

APP = app_process.APP
RUN_TIMEOUT_S = 300  # one run; a session that waits longer counts as not finished
PROMPT_CHARS = 100  # a student's own prompt: a line or two


class Session:
    """One browser tab, as the server sees it: a websocket and the widget ids its page drew."""

    def __init__(self, url: str, cookie: str | None = None):
        self.base = url.rstrip("/")
        self.widget_ids: dict[str, str] = {}  # user key -> widget id
        self.page_hash = ""
        self.query = ""
        self.auto_rerun: tuple[str, float] | None = None  # a fragment's (id, interval) the page reruns on a timer
        self.cookie = cookie  # what the server set on the page's response (make serve's nginx: which process)

    async def __aenter__(self):
        import websockets

        if self.cookie is None:  # a browser loads the page before its script opens the websocket
            self.cookie = await asyncio.to_thread(page_cookie, self.base)
        stream = self.base.replace("http", "ws", 1) + "/_stcore/stream"
        headers = {"Cookie": self.cookie} if self.cookie else None
        self.ws = await websockets.connect(stream, subprotocols=["streamlit"], origin=self.base, max_size=None,
                                           additional_headers=headers)  # fmt: skip
        return self

    async def __aexit__(self, *exc):
        await self.ws.close()

    async def run(self, query: str | None = None, **widgets) -> float:
        """One rerun (the link's first, or after widget changes); seconds until the run finished."""
        BackMsg, ForwardMsg = compat.wire_messages()

        if query is not None:
            self.query = query
        back = BackMsg()
        back.rerun_script.query_string = self.query
        back.rerun_script.page_script_hash = self.page_hash
        for key, value in widgets.items():
            if key not in self.widget_ids:
                raise RuntimeError(f"the page drew no widget {key!r} (it drew {', '.join(sorted(self.widget_ids))})")
            state = back.rerun_script.widget_states.widgets.add()
            state.id = self.widget_ids[key]
            if isinstance(value, bool):
                state.bool_value = value
            elif isinstance(value, str):
                state.string_value = value
            else:  # a row of buttons (st.segmented_control) sends its selection as formatted strings
                state.string_array_value.data[:] = [str(v) for v in value]
        start = time.perf_counter()
        await self.ws.send(back.SerializeToString())
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await asyncio.wait_for(self.ws.recv(), RUN_TIMEOUT_S))
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.page_hash = msg.new_session.page_script_hash
            elif kind == "page_info_changed":
                self.query = msg.page_info_changed.query_string  # the app mirrors its view into the URL
            elif kind == "auto_rerun":
                self.auto_rerun = (msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                widget_id = getattr(getattr(element, element.WhichOneof("type")), "id", "")
                if widget_id.startswith("$$ID-"):
                    self.widget_ids[widget_id.split("-", 2)[2]] = widget_id
            elif kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return time.perf_counter() - start  # (a run cut short for a rerun is followed by that rerun)


# --- the server --------------------------------------------------------------------------------


class Server:
    """`streamlit run viz_app/app.py` on a free port, as `make app` starts it; CPU and memory from /proc."""

    def __init__(self, checkpoints: str | None = None, app: Path = APP, env: dict[str, str] | None = None):
        self.port = app_process.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, **(env or {}))
        if checkpoints:
            env["ATTENTION_LAB_CHECKPOINTS"] = checkpoints
        self.log = tempfile.NamedTemporaryFile(prefix="attention-lab-classroom-", suffix=".log", delete=False)
        command = app_process.command(self.port, "127.0.0.1", Path(app))
        self.proc = subprocess.Popen(command, cwd=Path(app).parents[1], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=app_process.pin())  # fmt: skip

    def wait_healthy(self, timeout: float = 120) -> None:
        app_process.wait_healthy(self.url, self.proc, timeout, self.log.name)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def page_cookie(url: str) -> str:
    """GET the page as a browser does first; the cookies its response sets, as a Cookie header ("" if none)."""
    with urllib.request.urlopen(f"{url}/", timeout=60) as response:
        cookies = response.headers.get_all("Set-Cookie") or []
    return "; ".join(c.split(";", 1)[0] for c in cookies)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024


class Processes:
    """make serve's app processes as one server: CPU and peak memory summed (a process that died
    counts what it had used when last read)."""

    def __init__(self, pids: list[int]):
        self.pids = list(pids)
        self.last_cpu = {pid: 0.0 for pid in self.pids}
        self.last_rss = {pid: 0.0 for pid in self.pids}

    def _read(self, table: dict, read) -> float:
        for pid in self.pids:
            try:
                table[pid] = read(pid)
            except (OSError, StopIteration):
                pass  # gone: its last reading stands
        return sum(table.values())

    def cpu_seconds(self) -> float:
        return self._read(self.last_cpu, cpu_seconds)

    def peak_rss_mb(self) -> float:
        return self._read(self.last_rss, peak_rss_mb)


# --- what sessions open and type, and the report's numbers ----------------------------------------


def attention_query(model: str | None = None, **more) -> str:
    """The query string of a link to the Attention page (pages.query, as every in-app link is written):
    on `model` (None: the app's default), with `more` of its keys, e.g. view="model"."""
    return query({"page": "attention", **({"model": model} if model else {}), **more})


def own_prompts(n: int, length: int = PROMPT_CHARS) -> list[str]:
    """n different Shakespeare passages as long as the default prompt (offline: the shipped text)."""
    text = SHIPPED_TINYSHAKESPEARE.read_text(encoding="utf-8") if SHIPPED_TINYSHAKESPEARE.is_file() else OPENING_LINES
    step = max(1, (len(text) - length) // (n + 1))
    return [text[(i + 1) * step : (i + 1) * step + length] for i in range(n)]  # none is the default prompt


def percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    return f"p50 {statistics.median(ordered):.2f} / p95 {p95(ordered):.2f} / max {ordered[-1]:.2f} s"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else float("inf")
