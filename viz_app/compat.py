"""Every part of Streamlit the app relies on that is not its public API, in one place, each with the
reason in one line. Streamlit is pinned (requirements.txt); tests/app/test_compat.py, in
`make test-fast`, fails when an upgrade moves any of them, so the fix starts here.

Public API (st.*, st.context, st.query_params) is used directly everywhere else; this module holds
private attributes, internal imports, the wire protocol, URL paths and the DOM's data-testid names.
"""

from __future__ import annotations

import asyncio

STREAMLIT = "1.67.0"  # the version every name below was read from (requirements.txt pins it)

# the server's health endpoint: make serve, its nginx config, the bench and the tests wait on it
HEALTH_PATH = "/_stcore/health"

# data-testid values of Streamlit's frontend that presenter.py's CSS and script address: the
# presenter layout hides the toolbar's menu, keeps the way back to the sidebar, folds the sidebar
TESTIDS = (
    "stMetricValue", "stToolbarActions", "stAppDeployButton", "stMainMenu", "stExpandSidebarButton",
    "stHeader", "stToolbar", "stMain", "stSidebarCollapseButton",
)  # fmt: skip
# a widget or container made with key=K carries the CSS class st-key-K: presenter.py sizes its picture by it
KEY_CLASS_PREFIX = "st-key-"


def event_loop() -> asyncio.AbstractEventLoop | None:
    """The server's running event loop (delivery.wait_for_delivery waits on it until a finished run's
    messages have left, the missed-run fix); None without a runtime or in AppTest's mock one.
    Reached through Runtime._get_async_objs(), private: there is no public way."""
    try:
        from streamlit import runtime

        loop = runtime.get_instance()._get_async_objs().eventloop
    except Exception:  # no runtime (a plain import), or an upgrade moved it (the compat test says so)
        return None
    if not isinstance(loop, asyncio.AbstractEventLoop) or not loop.is_running():
        return None  # AppTest's runtime is a MagicMock: its loop would never run a callback
    return loop


def asked_page_path() -> str | None:
    """The page path the browser asked for ("" for the default page): st.navigation opens the default
    page for a path it does not know and says nothing, so app.py says it. Only the script run's
    context (an internal) keeps it; None where that is not available."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx(suppress_warning=True)
        return ctx.pages_manager.intended_page_name if ctx is not None else None
    except Exception:
        return None


def in_script_run() -> bool:
    """True in a session's script run (its thread has Streamlit's run context): backend/uploads.py
    counts a session's uploads there and not when a test or the bench calls it directly."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return get_script_run_ctx(suppress_warning=True) is not None


def wire_messages():
    """(BackMsg, ForwardMsg): the protocol buffers a browser and the server exchange over the
    websocket; the classroom bench speaks it to run hundreds of sessions without browsers."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    return BackMsg, ForwardMsg


# figures/kit.SharedFigure: st.plotly_chart turns a figure into its dict through figure.to_dict()
# (plotly.tools.return_figure_from_figure_or_data) and hands that dict on unchanged; a SharedFigure
# makes it once for every session. tests/app/test_compat.py counts the calls.
PLOTLY_CHART_CALLS_TO_DICT = True

# .streamlit/config.toml's [global] minCachedMessageSize: a hidden option (not in `streamlit config show`).
# Set above any message, it turns off Streamlit's element cache, whose references a run the server starts
# itself can send for elements the browser already dropped (the browser then disconnects for good).
HIDDEN_OPTIONS = ("global.minCachedMessageSize",)
