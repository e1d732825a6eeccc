"""The end of a full run: its messages delivered before the run ends (the missed-run fix; the other
half, a redraw when the browser still missed it, is url_state.browser_missed_run)."""

from __future__ import annotations

import threading

from . import compat

DELIVERY_WAIT_S = 1.0  # at most; the wait is the server's backlog of messages, milliseconds when idle


def wait_for_delivery() -> bool:
    """At the end of a full run: wait until the server's event loop has taken every message the run
    made. A fragment's timer rerun (a follower's poll, Play) handled just as a run finishes makes
    Streamlit start a new ScriptRunner and ignore the finished one's events still queued: the run's
    last elements and its URL write never reach the browser (a class's followers kept the teacher's
    previous view). The loop runs callbacks in order, so once one scheduled now has run, those events
    are in the browser's queue, where a new run keeps them; for a class, url_state.browser_missed_run
    catches a wait that timed out. Streamlit's loop is reached through an internal (compat.event_loop);
    without a running loop (AppTest's mock runtime) there is nothing to wait for. True when the loop
    took the callback in time."""
    loop = compat.event_loop()  # an internal of Streamlit's; None where there is none to wait for
    if loop is None:
        return False
    taken = threading.Event()
    loop.call_soon_threadsafe(taken.set)
    return taken.wait(DELIVERY_WAIT_S)
