"""No error of the app reaches the browser as Streamlit's own exception box (issue #35): every widget
callback goes through page.guarded and every fragment through page.fragment, read here in the source
of every module; and the box Streamlit shows for anything that slips through anyway has no "Ask
Google"/"Ask ChatGPT" links and no details (the app is for offline rooms). A real browser checks the
same in tests/e2e/test_newcomer_browser.py."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

VIZ_APP = Path(__file__).resolve().parents[2] / "viz_app"
CALLBACKS = ("on_change", "on_click", "on_select")


def _is_guarded(node: ast.expr) -> bool:
    """page.guarded(...) (or guarded(...) inside page.py)."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "guarded" and isinstance(func.value, ast.Name)
            and func.value.id == "page") or (isinstance(func, ast.Name) and func.id == "guarded")  # fmt: skip


def is_callback(name: str | None) -> bool:
    """Streamlit's callback arguments, and a custom component's on_<name>_change (phone.py's width)."""
    return name in CALLBACKS or bool(name and name.startswith("on_") and name.endswith("_change"))


def unguarded(source: str) -> list[str]:
    """The callbacks and fragments of one module that do not go through the guard."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.keyword) and is_callback(node.arg):
            constant = isinstance(node.value, ast.Constant)  # "rerun", "ignore": Streamlit's own, no code
            if not constant and not _is_guarded(node.value):
                found.append(f"line {node.value.lineno}: {node.arg}={ast.unparse(node.value)}")
        if isinstance(node, ast.Attribute) and node.attr == "fragment" and ast.unparse(node.value) == "st":
            found.append(f"line {node.lineno}: st.fragment (use page.fragment)")
    return found


def test_every_callback_and_fragment_goes_through_the_guard():
    problems = {}
    for path in sorted(VIZ_APP.rglob("*.py")):
        if path.name == "page.py" and path.parent == VIZ_APP:
            continue  # where the guard and page.fragment are made
        found = unguarded(path.read_text())
        if found:
            problems[str(path.relative_to(VIZ_APP))] = found
    assert not problems, problems


def test_the_check_catches_a_bare_callback_and_a_bare_fragment():
    planted = """
st.toggle("Lead a class", key="class_lead", on_change=_toggle)
st.button("Go", on_click=page.guarded(_go))
st.download_button("NPZ", data=b"", on_click="ignore")
st.plotly_chart(fig, on_select=controls.pick_head_on_click(key))
_poll = st.fragment(run_every=0.5)(_poll)
"""
    found = unguarded(planted)
    assert [line.split(":")[1].strip().split("=")[0] for line in found] == [
        "on_change",
        "on_select",
        "st.fragment (use page.fragment)",
    ]


def test_streamlits_error_box_has_no_links_to_search_engines_and_no_details():
    config = tomllib.loads((VIZ_APP / ".streamlit" / "config.toml").read_text())["client"]
    assert config["showErrorLinks"] == "false"  # "auto" shows Ask Google / Ask ChatGPT on localhost
    assert config["showErrorDetails"] == "none"  # a generic sentence, no type, message or traceback
