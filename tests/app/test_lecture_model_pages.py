"""The lecture's 10.8M model, shipped: every page of the app opens on it without an error."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from viz_app.backend.registry import CHECKPOINTS_ENV
from viz_app.pages import PAGES

from .app_helpers import assert_clean
from .conftest import APP

CHECKPOINTS = APP.parents[1] / "checkpoints"

pytestmark = pytest.mark.slow  # the real 21.6 MB model on every page


@pytest.mark.parametrize("slug", list(PAGES))
def test_every_page_opens_on_the_lecture_model(monkeypatch, slug):
    monkeypatch.setenv(CHECKPOINTS_ENV, str(CHECKPOINTS))
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.query_params = {"page": slug, "model": "shakespeare-lecture"}
    at.run()
    assert_clean(at)
    assert at.session_state["model"] == "shakespeare-lecture"
    headers = " ".join(h.value for h in at.header)
    assert PAGES[slug].title.rstrip("?").split(" ")[0] in headers, (slug, headers)  # that page was drawn
