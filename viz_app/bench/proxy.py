"""The classroom through `make serve`: nginx and N app processes started here (hall: viz_app.serving.serve.Hall)
for classroom.through_nginx's cases, how nginx spread the sessions (spread), and one process killed
mid-class (kill_one).

Every session loads the page first, as a browser does, and sends the cookie nginx set with its
websocket, so nginx keeps it on one process. The kill: every student types a prompt of their own,
then one app process is killed (SIGKILL, as a crash); each student then clicks a head. Those whose
websocket was on the dead process reconnect as Streamlit's page does (same cookie, the link their
address bar shows) and must get the same view back from another process; the others must finish
their click without noticing.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import time
from pathlib import Path
from urllib.parse import parse_qs

from .. import compat
from .harness import PROMPT_CHARS, Processes, Session, attention_query, own_prompts, percentiles


def hall(workers: int, checkpoints: str | None, app: Path, class_db: Path):
    """make serve's nginx and `workers` app processes on a free port, as a context manager (serve.Hall)."""
    from viz_app.backend.classes import DB_ENV
    from viz_app.backend.registry import CHECKPOINTS_ENV
    from viz_app.serving.app_process import free_port
    from viz_app.serving.serve import Hall

    env = {DB_ENV: str(class_db), **({CHECKPOINTS_ENV: checkpoints} if checkpoints else {})}
    return Hall(workers, free_port(), "127.0.0.1", env=env, app=app, log=lambda line: None)


def processes(hall) -> Processes:
    """The hall's app processes, measured as one server."""
    return Processes([p.pid for p in hall.workers])


def spread(hall) -> str:
    """How many websockets nginx gave each app process (its access log)."""
    counts = collections.Counter()
    for line in (hall.run / "access.log").read_text().splitlines():
        if '"GET /_stcore/stream' in line and "upstream=" in line:
            counts[line.split("upstream=", 1)[1].split()[0].split(",")[-1]] += 1
    by_port = [counts.get(f"127.0.0.1:{port}", 0) for port in hall.worker_ports]
    return f"sessions per app process (websockets nginx passed on): {' / '.join(map(str, by_port))}"


def process_of(hall, cookie: str, probe: str) -> int | None:
    """Which app process (by index) nginx sends a browser with this cookie to: a health check with it,
    found in nginx's access log by its probe."""
    import urllib.request

    request = urllib.request.Request(f"{hall.url}{compat.HEALTH_PATH}?probe={probe}", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30):
        pass
    for _ in range(100):  # nginx logs a request just after its response: wait for the line
        for line in reversed((hall.run / "access.log").read_text().splitlines()):
            if f"probe={probe} " in line:
                port = int(line.split("upstream=", 1)[1].split()[0].split(",")[-1].rsplit(":", 1)[1])
                return hall.worker_ports.index(port)
        time.sleep(0.05)
    return None


def same_view(a: str, b: str) -> bool:
    return parse_qs(a) == parse_qs(b)


async def _kill(hall, n: int) -> list[str]:
    import websockets

    prompts = [p.upper() for p in own_prompts(n, PROMPT_CHARS)]  # passages no other case typed
    tabs = [Session(hall.url) for _ in range(n)]
    for tab in tabs:
        await tab.__aenter__()
    try:
        await asyncio.gather(*(tab.run(query=attention_query()) for tab in tabs))
        await asyncio.gather(*(tab.run(prompt=p) for tab, p in zip(tabs, prompts, strict=True)))
        links = [tab.query for tab in tabs]  # what each address bar shows
        where = [await asyncio.to_thread(process_of, hall, tab.cookie, f"tab{i}") for i, tab in enumerate(tabs)]
        if len(set(where)) < 2:
            return [f"one app process killed mid-class: not measured (nginx put all {n} sessions on one process)"]
        busiest = collections.Counter(where).most_common(1)[0][0]  # most students move
        on_it = where.count(busiest)
        victim = hall.workers[busiest]
        os.killpg(victim.pid, signal.SIGKILL)  # a crash: no goodbye to its websockets
        victim.wait(timeout=30)

        async def click(i: int):
            tab, start = tabs[i], time.perf_counter()
            try:
                await tab.run(head=[1])
                return "stayed", time.perf_counter() - start, True
            except (websockets.exceptions.ConnectionClosed, OSError):
                pass
            # the page reconnects with the same cookie and reruns with its link on whatever process answers
            again = Session(hall.url, cookie=tab.cookie)
            await again.__aenter__()
            tabs[i] = again
            await again.run(query=links[i])
            same = same_view(again.query, links[i])
            await again.run(head=[1])
            return "moved", time.perf_counter() - start, same

        outcomes = await asyncio.gather(*(click(i) for i in range(n)), return_exceptions=True)
    finally:
        for tab in tabs:
            try:
                await tab.__aexit__(None, None, None)
            except Exception:  # a websocket the dead process closed
                pass
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    moved = [o for o in outcomes if not isinstance(o, BaseException) and o[0] == "moved"]
    stayed = [o for o in outcomes if not isinstance(o, BaseException) and o[0] == "stayed"]
    same = sum(1 for o in moved if o[2])
    verdict = "ok" if not failed and same == len(moved) == on_it and len(stayed) == n - on_it else "MISS"
    if len(moved) != on_it:
        failed.append(RuntimeError(f"nginx's cookie put {on_it} on the killed process, {len(moved)} lost it"))
    lines = [
        f"one app process killed mid-class: {len(moved)} of {n} students were on it and reconnected to a live "
        f"one, {same} with the same view from their link ({percentiles([o[1] for o in moved])} to their next "
        f"click's page); the other {len(stayed)} finished that click without a reconnect "
        f"({percentiles([o[1] for o in stayed])}) · {verdict}",
    ]
    if failed:
        lines.append(f"  failed: {'; '.join(sorted({f'{type(e).__name__}: {e}' for e in failed})[:3])}")
    return lines


def kill_one(hall, n: int) -> list[str]:
    try:
        return asyncio.run(_kill(hall, n))
    except Exception as e:  # a failed case is a line of the report
        return [f"one app process killed mid-class: failed ({type(e).__name__}: {e})"]
