"""url_state: every page's declared keys round-trip through a link, nonsense in a link opens the
defaults with a notice, and a key that follows another starts again when it changes."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from viz_app import url_state
from viz_app.pages import PAGES
from viz_app.url_state import DEFAULT_PROMPT, MAX_URL_PROMPT, Key

from .app_helpers import assert_clean, texts


def declared(slug: str) -> tuple[Key, ...]:
    """A page's STATE: importing a view file does not draw it (it runs as __main__ only in the app)."""
    module = importlib.import_module("viz_app." + PAGES[slug].file.removesuffix(".py").replace("/", "."))
    return getattr(module, "STATE", ())


def one_run(slug: str) -> None:
    """A run of the shell around a page that draws nothing: start, declare, end (writes the URL)."""
    import importlib

    from viz_app import url_state
    from viz_app.pages import PAGES

    module = importlib.import_module("viz_app." + PAGES[slug].file.removesuffix(".py").replace("/", "."))
    url_state.start_run()
    url_state.declare(getattr(module, "STATE", ()))
    url_state.say_notices()
    url_state.end_run(slug)


def a_value_that_is_not_the_default(key: Key):
    if key.pair:
        return (5, 25)
    if key.choices is not None:
        return next(c for c in reversed(key.choices) if c != key.default)
    if isinstance(key.default, bool):
        return not key.default
    if isinstance(key.default, float):
        return round((key.lo + key.hi) / 2, 3) if key.hi is not None else key.default + 1.5
    if isinstance(key.default, int) or key.lo is not None:
        value = max(key.default or 0, key.lo or 0) + 1
        return value if key.hi is None else min(value, int(key.hi))
    return "To be, or not" if key.name == "prompt" else f"some {key.name}"


@pytest.mark.parametrize("slug", list(PAGES))
def test_every_declared_key_round_trips_through_a_link(slug):
    keys = [k for k in url_state.SHELL + declared(slug) if k.url]
    wanted = {k.name: a_value_that_is_not_the_default(k) for k in keys}
    first = AppTest.from_function(one_run, args=(slug,))
    for name, value in wanted.items():
        first.session_state[name] = value
    first.run()
    assert_clean(first)
    link = {name: first.query_params[name] for name in first.query_params}
    assert link["page"] == [slug] or link["page"] == slug
    assert set(wanted) <= set(link), set(wanted) - set(link)
    assert not {k.name for k in url_state.SHELL + declared(slug) if not k.url} & set(link)  # only url keys
    second = AppTest.from_function(one_run, args=(slug,))
    second.query_params = {name: v[0] if isinstance(v, list) else v for name, v in link.items()}
    second.run()
    assert_clean(second)
    assert not second.warning, texts(second.warning)
    for name, value in wanted.items():
        assert second.session_state[name] == value, name


def test_keys_at_their_default_stay_out_of_the_link_unless_always():
    at = AppTest.from_function(one_run, args=("generate",)).run()
    link = set(at.query_params)
    assert {"page", "layer", "head", "scale"} <= link  # "always": a link without a head means "pick one"
    assert not {"prompt", "cmp", "presenter", "gen_temp", "tf_source"} & link


def test_every_page_declares_each_key_once_and_never_a_shell_key():
    shell = {k.name for k in url_state.SHELL}
    owners: dict[str, str] = {}
    for slug in PAGES:
        names = [k.name for k in declared(slug)]
        assert len(names) == len(set(names)), slug
        assert not shell & set(names), slug
        for name in names:
            assert owners.setdefault(name, slug) == slug, f"{name}: {owners[name]} and {slug}"


@pytest.mark.parametrize(
    "key, raw",
    [
        (Key("layer", 0, lo=0), "-3"),
        (Key("layer", 0, lo=0), "x"),
        (Key("gen_temp", 0.8, lo=0.05, hi=2.0), "9"),
        (Key("scale", "head_size", choices=("head_size", "none")), "banana"),
        (Key("presenter", False), "maybe"),
        (Key("prompt", "", max_len=5), "123456"),
    ],
)
def test_parse_refuses_what_makes_no_sense(key, raw):
    with pytest.raises(ValueError):
        key.parse(raw)


def test_nonsense_in_a_link_opens_the_defaults_with_a_notice(make_app):
    long = "a" * 100_000
    at = make_app(layer="99", head="-3", scale="banana", page="nope", prompt=long).run()
    assert_clean(at)
    assert [h.value for h in at.header] == ["Attention"]
    # a head the model lacks opens the model's most focused head (layer 1 of the tiny model), not layer 0 head 0
    assert at.segmented_control(key="layer").value == 1
    assert "showing this model's most focused head instead" in texts(at.warning)
    assert at.segmented_control(key="scale").value == "head_size"
    assert at.sidebar.text_area(key="prompt").value == DEFAULT_PROMPT
    notices = texts(at.warning)
    for asked in ("layer=99", "head=-3", "scale=banana", "page=nope", "prompt="):
        assert asked in notices, asked
    assert f"longer than {MAX_URL_PROMPT:,} characters" in notices and long not in notices
    at.segmented_control(key="head").set_value(1).run()
    assert_clean(at)
    assert not at.warning  # said once
    assert at.query_params["layer"] == "1" and at.query_params["head"] == "1"


def test_a_megabyte_prompt_in_a_link_opens_the_defaults(make_app):
    # Streamlit drops a query string over 512 KiB before the app sees it: the page opens as with no link
    at = make_app(prompt="a" * 1_000_000, layer="1").run()
    assert_clean(at)
    assert at.sidebar.text_area(key="prompt").value == DEFAULT_PROMPT
    assert "prompt" not in at.query_params  # the default prompt is never written into a link


def follows_script() -> None:
    import streamlit as st

    from viz_app import url_state

    url_state.start_run()
    url_state.declare((url_state.Key("pos", 3, follows=("prompt",)),))
    st.session_state["pos"] = st.session_state["pos"] + 1  # what a page would change
    url_state.end_run("test")


def test_a_key_that_follows_another_starts_again_when_it_changes():
    at = AppTest.from_function(follows_script).run()
    assert at.session_state["pos"] == 4
    at.run()
    assert at.session_state["pos"] == 5  # kept while the prompt stays
    at.session_state["prompt"] = "another prompt"
    at.run()
    assert at.session_state["pos"] == 4  # back to its default, then the page's change


def open_link_script() -> None:
    import streamlit as st

    from viz_app import url_state

    url_state.start_run()
    url_state.open_link(st.session_state.pop("link", {}))  # what a question's view does (classroom.ask)
    url_state.end_run("attention")


def test_open_link_sets_what_the_link_names_and_keeps_the_rest():
    at = AppTest.from_function(open_link_script)
    at.session_state["link"] = {"layer": "1", "head": "2", "scale": "none"}
    at.run()
    assert (at.session_state["layer"], at.session_state["head"], at.session_state["scale"]) == (1, 2, "none")
    at.session_state["link"] = {"scale": "banana", "view": "layer"}
    at.run()
    assert (at.session_state["layer"], at.session_state["head"]) == (1, 2)  # no head named: the same head
    assert at.session_state["scale"] == "none" and at.session_state["view"] == "layer"  # nonsense left out


def window_script() -> None:
    import streamlit as st

    from viz_app import controls, url_state

    url_state.start_run()
    if "next_model" in st.session_state:  # what the sidebar does with an upload: after start_run
        st.session_state["model"] = st.session_state.pop("next_model")
    st.session_state.setdefault("model", "a")
    controls.window_picker(st.session_state.get("n", 30))
    url_state.end_run("attention")


def test_a_model_chosen_during_the_run_opens_its_map_at_the_prompts_end():
    at = AppTest.from_function(window_script).run()
    assert at.slider(key="window").value == (0, 30)  # shorter than the 40 a map opens on: all of it
    at.session_state["n"], at.session_state["next_model"] = 44, "b"  # a model with a longer context
    at.run()
    assert at.slider(key="window").value == (4, 44)  # its last 40 characters, not the old stretch


def switch_page_calls(source: str) -> int:
    """How many times `source` calls st.switch_page (an AppTest's at.switch_page is not one)."""
    return sum(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "switch_page"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "st"
        for node in ast.walk(ast.parse(source))
    )


def test_st_switch_page_is_called_in_one_place():
    """A click goes to another page through st.page_link with url_state.link's query: st.switch_page adds
    three browser-history entries. Where no one clicks (a follower, the router) url_state.switch_page
    (state_links.py) says why."""
    root = Path(url_state.__file__).parent
    calls = {str(path.relative_to(root)): switch_page_calls(path.read_text()) for path in root.rglob("*.py")}
    callers = {name: n for name, n in calls.items() if n}
    assert callers == {"state_links.py": 1}
    assert switch_page_calls("import streamlit as st\nst.switch_page('views/lesson.py')\nat.switch_page('x')") == 1
