"""A run works out which model it shows once: the sidebar resolves the picker's label (registry.resolve:
the entry, and an os.stat of its file in model_ref), and app.py hands that down to the head-link check
and the page (url_state.run_model), instead of each of them resolving it again."""

from __future__ import annotations

import pytest

from viz_app.backend import registry
from viz_app.pages import PAGES

from .app_helpers import assert_clean


@pytest.fixture
def resolutions(monkeypatch):
    """Every registry.resolve and every model_ref of the tiny model, from here on: a list of labels each."""
    seen = {"resolve": [], "model_ref": []}
    resolve, model_ref = registry.resolve, registry.model_ref

    def counted_resolve(label):
        seen["resolve"].append(label)
        return resolve(label)

    def counted_model_ref(entry):
        seen["model_ref"].append(entry.label)
        return model_ref(entry)

    monkeypatch.setattr(registry, "resolve", counted_resolve)
    monkeypatch.setattr(registry, "model_ref", counted_model_ref)
    return seen


@pytest.mark.parametrize("slug", ["attention", "sharpness", "lesson"])
def test_a_page_run_resolves_its_model_once(make_app, resolutions, slug):
    at = make_app().run()
    for run in range(2):  # the page's first run, then a rerun of it (a widget's change)
        if run == 0 and slug != "attention":
            at.switch_page(PAGES[slug].file)
        resolutions["resolve"].clear()
        resolutions["model_ref"].clear()
        at.run()
        assert_clean(at)
        assert resolutions["resolve"] == ["tiny"], (slug, run)
        assert resolutions["model_ref"] == ["tiny"], (slug, run)  # one os.stat of its file
