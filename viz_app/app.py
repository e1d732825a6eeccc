"""Attention lab: `streamlit run viz_app/app.py`. The router: pages, the shared sidebar, the URL."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run viz_app/app.py` puts viz_app/ on sys.path, not the repository root that holds
# both packages; add it so `import viz_app` and `import nanogpt` work from any working directory.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# pandas and pyarrow (Streamlit's tables, installed with it: every figure's "numbers as a table") imported whole at
# the top of every run, where the run's thread holds no other module's import lock: imported lazily deep in two
# sessions' first runs at once, one thread saw pandas half made ("partially initialized module 'pandas' has no
# attribute 'Series'", the Residual page in CI). After the first run these lines cost nothing.
import pandas  # noqa: E402, F401
import pyarrow  # noqa: E402, F401
import streamlit as st  # noqa: E402

from viz_app import a11y, classroom, compat, delivery, page, phone, presenter, sidebar, url_state  # noqa: E402
from viz_app.backend import captures  # noqa: E402
from viz_app.pages import PAGES  # noqa: E402

HERE = Path(__file__).resolve().parent


def run() -> None:
    wanted_slug = url_state.start_run()
    # presenter mode folds the sidebar away: the room goes to the figures
    sidebar_state = "collapsed" if presenter.on() else "auto"
    # an emoji icon is drawn in the browser; a :material/: one is fetched from fonts.gstatic.com (offline rooms)
    st.set_page_config(page_title="Attention lab", page_icon="🔬", layout="wide", initial_sidebar_state=sidebar_state)
    pages = {
        slug: st.Page(HERE / info.file, title=info.title, icon=info.icon, url_path=info.url_path or None,
                      default=info.default)
        for slug, info in PAGES.items()
    }  # fmt: skip
    asked_path = compat.asked_page_path()
    current = st.navigation(list(pages.values()))
    slug = next(name for name, p in pages.items() if p.url_path == current.url_path)
    if asked_path and asked_path not in {p.url_path for p in pages.values()}:
        # st.navigation opens the default page for a path it does not know, and says nothing
        url_state.notice(
            f"This app has no page at /{asked_path[:40]}: showing {current.title}. Its pages are listed in the sidebar."
        )
    if wanted_slug in pages and wanted_slug != slug and current.url_path == "":
        # a link like /?page=sharpness&...: open that page, keeping the rest of the link
        url_state.switch_page(wanted_slug, st.query_params.to_dict())
    if wanted_slug is not None and wanted_slug not in pages:
        url_state.notice(f"The link's page={wanted_slug[:40]} is not a page of this app: showing {current.title}.")
    page.guard(phone.watch)  # the screen's width: a phone's page leads with its picture
    page.guard(a11y.apply)  # contrast, focus rings (every page, both modes)
    page.guard(lambda: classroom.start(pages, slug))  # a follower takes the teacher's view before any widget draws
    # the run's model, resolved once (label -> entry -> the file's handle) by the sidebar's picker and handed
    # down: the head-link check and the page (page.page_context) take it from url_state.run_model
    url_state.hand_down(page.guard(lambda: sidebar.render(PAGES[slug].model), otherwise=url_state.UNRESOLVED))
    page.guard(a11y.keyboard_help)
    page.guard(_check_head_link)  # a link's layer 99 of a 6-layer model: said, and a focused head instead
    notices = st.container()  # above the page: what a link asked for, the class's news, a callback's failure
    page.guard(classroom.banner)
    if page.guard(lambda: classroom.question_panel(slug), otherwise=True):  # an open question hides the picture
        current.run()
    url_state.say_notices(notices)
    url_state.end_run(slug)
    page.guard(lambda: classroom.publish(slug))  # a teacher's view and question, for the followers
    delivery.wait_for_delivery()  # before this run ends: see there


def _check_head_link() -> None:
    model = url_state.run_model()
    if model is None:
        return
    facts = captures.model_facts(model.ref)
    if facts["model_type"] != "bigram":
        url_state.check_head_link(facts["n_layer"], facts["n_head"])


run()
