"""The classroom benchmark's follow case: a teacher session leads a class, N sessions follow it.

Each follower does what a browser does on the student link: it opens ?class=CODE, and when the page
sends the poll fragment's auto_rerun (interval and fragment id) it asks for that fragment's rerun on
that interval, as the page's JavaScript timer does; a rerun of the whole app follows when the class's
version moved. Measured: the server's CPU per second with everyone idle, then after one teacher
change (a click on a head), and for each follower the time from the teacher's click to its page
showing that head (the app writes the view into the URL at the end of the run that drew it).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from .. import compat
from .harness import Server, Session, attention_query, p95, percentiles

FOLLOW_P95_S = 2.0  # the goal: every follower shows the teacher's change within 2 s
IDLE_S = 10.0  # how long the idle CPU is measured over
SETTLE_S = 3.0  # after the last follower joined, before measuring


class Follower(Session):
    """A student tab on the class link: reads the server's messages and answers the fragment's timer."""

    def __init__(self, url: str):
        super().__init__(url)
        self.shown: dict[str, float] = {}  # a head the URL showed -> when first
        self.tasks: list[asyncio.Task] = []

    async def join(self, code: str) -> float:
        took = await self.run(query=f"class={code}")
        self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._tick())]
        return took

    async def _read(self) -> None:
        _, ForwardMsg = compat.wire_messages()

        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await self.ws.recv())
            kind = msg.WhichOneof("type")
            if kind == "auto_rerun":  # each full run registers the poll again
                self.auto_rerun = (msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
            elif kind == "page_info_changed":
                self.query = msg.page_info_changed.query_string
                for part in self.query.split("&"):
                    if part.startswith("head="):
                        self.shown.setdefault(part[5:], time.perf_counter())

    async def _tick(self) -> None:
        BackMsg, _ = compat.wire_messages()

        while True:
            if self.auto_rerun is None:
                raise RuntimeError("the class page sent no auto_rerun: nothing polls")
            fragment_id, interval = self.auto_rerun
            await asyncio.sleep(interval)
            back = BackMsg()
            back.rerun_script.query_string = self.query
            back.rerun_script.page_script_hash = self.page_hash
            back.rerun_script.fragment_id = fragment_id
            back.rerun_script.is_auto_rerun = True
            await self.ws.send(back.SerializeToString())

    async def __aexit__(self, *exc):
        for task in self.tasks:
            task.cancel()
        await super().__aexit__(*exc)


def _the_code(db: Path) -> str:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT code FROM classes").fetchone()[0]


async def _class(url: str, n: int, server: Server, db: Path, model: str | None) -> list[str]:
    async with Session(url) as teacher:
        # on head 0: head 1, the change below, is not shown yet
        await teacher.run(query=attention_query(model=model, layer=0, head=0))
        await teacher.run(class_lead=True)
        code = _the_code(db)
        followers = [Follower(url) for _ in range(n)]
        for f in followers:
            await f.__aenter__()
        try:
            joins = await asyncio.gather(*(f.join(code) for f in followers))
            await asyncio.sleep(SETTLE_S)
            cpu0, t0 = server.cpu_seconds(), time.perf_counter()
            await asyncio.sleep(IDLE_S)
            idle = (server.cpu_seconds() - cpu0) / (time.perf_counter() - t0)
            head = "1"  # every model with attention has a head 1 but a 1-head model
            cpu0 = server.cpu_seconds()
            sent = time.perf_counter()
            await teacher.run(head=[int(head)])
            deadline = sent + 30
            while time.perf_counter() < deadline and not all(head in f.shown for f in followers):
                await asyncio.sleep(0.05)
            window = time.perf_counter() - sent
            change_cpu = server.cpu_seconds() - cpu0
            waits = [f.shown[head] - sent for f in followers if head in f.shown]
        finally:
            for f in followers:
                await f.__aexit__(None, None, None)
    done = len(waits)
    verdict = "ok" if done == n and p95(waits) <= FOLLOW_P95_S else "MISS"
    return [
        f"follow, idle: {n} followers joined (first view {percentiles(list(joins))}) · server CPU "
        f"{idle:.3f} s per s over {IDLE_S:.0f} s",
        f"follow, one teacher change: {done}/{n} followers showed it · {percentiles(waits)} after the click · "
        f"server CPU {change_cpu:.2f} s in those {window:.1f} s ({change_cpu / window:.2f} s per s) · "
        f"goal p95 <= {FOLLOW_P95_S:.0f} s: {verdict}",
    ]


def measure(url: str, n: int, server: Server, db: Path, model: str | None = None) -> list[str]:
    """The follow case's lines; `db` is the server's class store (ATTENTION_LAB_CLASS_DB)."""
    try:
        return asyncio.run(_class(url, n, server, db, model))
    except Exception as e:  # a failed case is a line of the report, not the end of the others
        return [f"follow: failed ({type(e).__name__}: {e})"]
