"""Each Streamlit internal of viz_app/compat.py, checked against the installed Streamlit: a test here
fails when an upgrade moves one, in `make test-fast` (seconds), before a browser or a class notices."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit
from streamlit.testing.v1 import AppTest

from viz_app import compat, presenter

STATIC_JS = Path(streamlit.__file__).parent / "static" / "static" / "js"


def frontend() -> str:
    return "\n".join(path.read_text(errors="ignore") for path in STATIC_JS.glob("*.js"))


def test_the_version_every_name_was_read_from_is_the_one_installed():
    assert streamlit.__version__ == compat.STREAMLIT  # an upgrade: read every name below again


def test_apptest_scans_for_components_where_the_tests_scan_once():
    """tests/app/conftest.py caches the scan every new AppTest makes: an upgrade that scans elsewhere
    would make tests/app twice as slow without a word, so it fails here."""
    import inspect

    from streamlit.components.v2 import manifest_scanner
    from streamlit.components.v2.component_manager import BidiComponentManager

    assert "scan_component_manifests" in inspect.getsource(BidiComponentManager.discover_and_register_components)
    assert "discover_and_register_components" in inspect.getsource(AppTest._run)
    assert hasattr(manifest_scanner.scan_component_manifests, "cache_info")  # the conftest's cache is in place
    assert manifest_scanner.scan_component_manifests() is manifest_scanner.scan_component_manifests()


def test_the_event_loop_is_where_compat_reaches_for_it():
    from streamlit.runtime.runtime import AsyncObjects, Runtime

    assert callable(Runtime._get_async_objs) and "eventloop" in AsyncObjects._fields
    assert compat.event_loop() is None  # no runtime in this process: nothing to wait for, no error


def test_the_asked_page_path_is_in_the_run_context():
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext

    assert isinstance(PagesManager.intended_page_name, property)
    assert "pages_manager" in ScriptRunContext.__dataclass_fields__


def script_reporting_compat():
    import streamlit as st

    from viz_app import compat

    st.text(f"in run: {compat.in_script_run()}")
    st.text(f"asked: {compat.asked_page_path()!r}")


def test_in_a_script_run_the_run_context_answers():
    at = AppTest.from_function(script_reporting_compat).run()
    assert not at.exception
    shown = [t.value for t in at.text]
    assert "in run: True" in shown and any(line.startswith("asked: ") for line in shown)
    assert compat.in_script_run() is False  # here, outside any run


def test_the_wire_protocol_has_what_the_bench_sends_and_reads():
    BackMsg, ForwardMsg = compat.wire_messages()
    back = BackMsg()
    back.rerun_script.query_string = "class=ABC"
    back.rerun_script.fragment_id = "f"
    assert back.WhichOneof("type") == "rerun_script"
    forward = ForwardMsg()
    forward.script_finished = ForwardMsg.FINISHED_EARLY_FOR_RERUN
    assert forward.WhichOneof("type") == "script_finished"
    assert {"auto_rerun", "delta", "page_info_changed"} <= {f.name for f in ForwardMsg.DESCRIPTOR.fields}


def test_the_health_endpoint_is_where_the_servers_wait_for_it():
    from streamlit.web.server.starlette import starlette_routes

    assert "/" + starlette_routes.ROUTE_HEALTH == compat.HEALTH_PATH


def test_every_data_testid_the_app_addresses_is_in_the_frontend():
    bundle = frontend()
    missing = [name for name in compat.TESTIDS if f"`{name}`" not in bundle and f'"{name}"' not in bundle]
    assert not missing, missing
    assert compat.KEY_CLASS_PREFIX in bundle  # st-key-<key> on keyed elements


def test_presenter_mode_addresses_only_the_listed_data_testids():
    used = set(re.findall(r'data-testid="(\w+)"', presenter.PRESENTER_CSS + presenter.FOLD_SIDEBAR_JS))
    assert used and used <= set(compat.TESTIDS), used - set(compat.TESTIDS)
    assert compat.KEY_CLASS_PREFIX in presenter.PRESENTER_CSS


def script_drawing_a_shared_figure_twice():
    import plotly.graph_objects as go
    import streamlit as st

    from viz_app.figures import kit

    calls = []
    fig = kit.shared(go.Figure(go.Bar(y=[1, 2, 3])))
    original = type(fig).__mro__[1].to_dict  # go.Figure's: what SharedFigure calls once

    def counting(self):
        calls.append(1)
        return original(self)

    type(fig).__mro__[1].to_dict = counting
    try:
        st.plotly_chart(fig, key="one")
        st.plotly_chart(fig, key="two")
    finally:
        type(fig).__mro__[1].to_dict = original
    st.text(f"to_dict: {len(calls)}")


def test_plotly_chart_takes_a_shared_figures_dict_made_once():
    """figures/kit.SharedFigure: st.plotly_chart asks the figure for its dict (to_dict), so one made
    once serves every draw; if an upgrade stopped calling to_dict, each draw would rebuild it."""
    at = AppTest.from_function(script_drawing_a_shared_figure_twice).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.text] == ["to_dict: 1"]
    assert len(at.get("plotly_chart")) == 2


def test_the_element_cache_is_off_by_an_option_streamlit_still_reads():
    import inspect
    import tomllib

    from streamlit import config
    from streamlit.runtime import forward_msg_cache

    (name,) = compat.HIDDEN_OPTIONS
    assert name in config._config_options_template  # an upgrade that drops it would make the setting do nothing
    assert f'"{name}"' in inspect.getsource(forward_msg_cache.populate_hash_if_needed)  # where caching is decided
    section, key = name.split(".")
    toml = tomllib.loads((Path(compat.__file__).parent / ".streamlit" / "config.toml").read_text())
    assert toml[section][key] >= 1e12  # above any message: nothing is sent as a reference
