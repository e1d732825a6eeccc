"""Attention lab: `streamlit run viz_app/app.py`. The router: pages, the shared sidebar, the URL."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run viz_app/app.py` puts viz_app/ on sys.path, not the repository root that holds
# both packages; add it so `import viz_app` and `import nanogpt` work from any working directory.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from viz_app import session, sidebar, ui  # noqa: E402

# Page files live in views/, not pages/: Streamlit treats a pages/ folder beside the entrypoint as
# an old-style multipage app and would run a page file without this router (no sidebar, no URL).
HERE = Path(__file__).resolve().parent
PAGES = {  # url slug -> page; the slug is also the `page` query parameter
    "attention": st.Page(HERE / "views/attention.py", title="Attention", icon=":material/grid_on:", default=True),
    "sharpness": st.Page(
        HERE / "views/sharpness.py", title="Sharpness", icon=":material/filter_center_focus:", url_path="sharpness"
    ),
    "residual": st.Page(
        HERE / "views/residual.py", title="Residual stream", icon=":material/stacked_line_chart:", url_path="residual"
    ),
    "generate": st.Page(HERE / "views/generate.py", title="Generate", icon=":material/edit_note:", url_path="generate"),
    "train": st.Page(HERE / "views/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    "ablations": st.Page(
        HERE / "views/ablations.py", title="Ablations", icon=":material/content_cut:", url_path="ablations"
    ),
    "lesson": st.Page(HERE / "views/lesson.py", title="Lesson", icon=":material/school:", url_path="lesson"),
}

st.set_page_config(page_title="Attention lab", page_icon=":material/science:", layout="wide")
wanted_page = session.start_run()
page = st.navigation(list(PAGES.values()))
slug = next(name for name, p in PAGES.items() if p.url_path == page.url_path)
if wanted_page in PAGES and wanted_page != slug and page.url_path == "":
    # a link like /?page=sharpness&...: open that page, keeping the rest of the link
    st.switch_page(PAGES[wanted_page], query_params=st.query_params.to_dict())
ui.run_page(sidebar.render)
page.run()
session.write_url(slug)
