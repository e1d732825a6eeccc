"""A full run whose end never reached the browser (Streamlit drops a finished run's last messages when
a fragment's timer rerun lands just then): the end of a run waits for its messages to be taken, and a
later poll that still comes with the older link asks for the page again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from unittest.mock import MagicMock

import pytest

from viz_app import url_state
from viz_app.bench.harness import Server, Session

ROOT = Path(__file__).resolve().parents[2]


class FakeStreamlit:
    """What url_state reads in a fragment's run: the session's state and the link the browser sent."""

    def __init__(self, link: dict):
        self.session_state: dict = {}
        self.query_params = self
        self.link = link

    def to_dict(self) -> dict:
        return dict(self.link)


@pytest.fixture
def fake(monkeypatch):
    clock = [100.0]
    fake = FakeStreamlit({"page": "attention", "head": "0"})
    monkeypatch.setattr(url_state, "st", fake)
    monkeypatch.setattr(url_state.time, "monotonic", lambda: clock[0])
    fake.session_state[url_state._WRITTEN] = {"page": "attention", "head": "1"}  # the last full run wrote head 1
    fake.session_state[url_state._WRITTEN_AT] = clock[0]
    fake.clock = clock
    return fake


def test_a_poll_with_the_older_link_keeps_the_view_the_last_run_drew(fake, monkeypatch):
    """The browser sent head 0 with its link and widgets from before the run that drew head 1 (a
    follower taking the teacher's view): Streamlit put head 0 in the session; the view drawn is kept."""
    from viz_app import state_links, state_session

    monkeypatch.setattr(state_links, "st", fake)
    monkeypatch.setattr(state_session, "st", fake)
    fake.session_state.update({"layer": 0, "head": 0})  # the widget values the browser sent
    url_state.keep_drawn_view()
    assert (fake.session_state["layer"], fake.session_state["head"]) == (0, 1)
    assert "page" not in fake.session_state
    fake.session_state["head"] = 3  # a browser on the written link sent its own value: it stays
    fake.link = {"page": "attention", "head": "1"}
    url_state.keep_drawn_view()
    assert fake.session_state["head"] == 3


def test_a_poll_with_the_older_link_redraws_only_once_the_run_had_time_to_arrive(fake):
    assert not url_state.browser_missed_run()  # the run may still be on its way
    fake.clock[0] += url_state.MISSED_RUN_S + 0.01
    assert url_state.browser_missed_run()
    assert fake.session_state[url_state._RESEND]  # the redraw must not take the older link for a Back


def test_a_browser_on_the_written_link_is_never_redrawn(fake):
    fake.link = {"page": "attention", "head": "1"}
    fake.clock[0] += 60
    assert not url_state.browser_missed_run()
    assert url_state._RESEND not in fake.session_state


def test_a_browser_that_stays_behind_is_redrawn_less_and_less_often(fake):
    fake.clock[0] += url_state.MISSED_RUN_S + 0.01
    assert url_state.browser_missed_run()
    fake.session_state[url_state._WRITTEN_AT] = fake.clock[0]  # the redraw ran, and the browser is still behind
    fake.clock[0] += url_state.MISSED_RUN_S + 0.01
    assert not url_state.browser_missed_run()  # twice as long now
    fake.clock[0] += url_state.MISSED_RUN_S
    assert url_state.browser_missed_run()
    fake.link = {"page": "attention", "head": "1"}  # caught up: back to the short wait
    assert not url_state.browser_missed_run()
    assert fake.session_state[url_state._REDRAWS] == 0


def test_the_fragment_drawn_inside_a_full_run_never_asks(fake):
    fake.session_state[url_state._FULL_RUN] = True
    fake.clock[0] += 60
    assert not url_state.browser_missed_run()


def test_a_step_that_only_a_fragment_writes_is_not_a_missed_run(fake):
    fake.session_state[url_state.DECLARED] = {"tl_step": url_state.Key("tl_step", 0, fragment=True)}
    fake.session_state[url_state._WRITTEN] = {"page": "attention", "head": "0", "tl_step": "500"}
    fake.link = {"page": "attention", "head": "0", "tl_step": "250"}  # Play is ahead of the browser
    fake.clock[0] += 60
    assert not url_state.browser_missed_run()


APP = """
import os, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from viz_app import delivery
Path(os.environ["DELIVERY_OUT"]).write_text(str(delivery.wait_for_delivery()))
"""


@pytest.mark.slow  # a real server
def test_the_end_of_a_run_waits_for_the_server_to_take_its_messages(tmp_path):
    app, out = tmp_path / "app.py", tmp_path / "delivered.txt"
    app.write_text(APP.format(root=str(ROOT)))
    server = Server(app=app, env={"DELIVERY_OUT": str(out)})
    try:
        server.wait_healthy()

        async def one_run():
            async with Session(server.url) as tab:
                await tab.run(query="")

        asyncio.run(one_run())
    finally:
        server.stop()
    # False would mean Streamlit's event loop was not reached (an internal moved): the race is open again
    assert out.read_text() == "True"


def test_without_a_server_there_is_nothing_to_wait_for():
    from viz_app import delivery

    assert delivery.wait_for_delivery() is False


class FakeRuntime:
    def __init__(self, loop):
        self.eventloop = loop

    def _get_async_objs(self):
        return self


def test_a_loop_that_does_not_run_is_not_waited_for_and_a_running_one_is(monkeypatch):
    """AppTest's runtime is a mock whose loop never runs: waiting there would cost every test run a second."""
    import asyncio
    import threading
    import time

    from streamlit import runtime

    from viz_app import delivery

    monkeypatch.setattr(delivery, "DELIVERY_WAIT_S", 30.0)  # a wait here would hang the test, not pass it
    monkeypatch.setattr(runtime, "get_instance", lambda: MagicMock(spec=runtime.Runtime))  # what AppTest installs
    assert delivery.wait_for_delivery() is False
    idle = asyncio.new_event_loop()
    monkeypatch.setattr(runtime, "get_instance", lambda: FakeRuntime(idle))
    assert delivery.wait_for_delivery() is False
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    while not running.is_running():
        time.sleep(0.01)
    try:
        monkeypatch.setattr(runtime, "get_instance", lambda: FakeRuntime(running))
        assert delivery.wait_for_delivery() is True
    finally:
        running.call_soon_threadsafe(running.stop)
        thread.join(5)
        running.close()
        idle.close()
