"""The app's pages: URL slug -> page file, title and icon. The router (app.py) registers them; the
Lesson's links (lesson_steps.py) address them by slug.

Page files live in views/, not pages/: Streamlit treats a pages/ folder beside the entrypoint as
an old-style multipage app and would run a page file without the router (no sidebar, no URL).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from urllib.parse import quote, urlencode


@dataclass(frozen=True)
class PageInfo:
    file: str  # relative to viz_app/, as st.Page and st.switch_page take it
    title: str
    icon: str
    url_path: str  # "" for the default page
    model: str = ""  # the shipped model this page opens on while the session has chosen none ("": the app's default)

    @property
    def default(self) -> bool:
        return self.url_path == ""


PAGES: dict[str, PageInfo] = {  # the slug is also the `page` query parameter of a link
    "attention": PageInfo("views/attention.py", "Attention", ":material/grid_on:", ""),
    "sharpness": PageInfo("views/sharpness.py", "Sharpness", ":material/filter_center_focus:", "sharpness"),
    "residual": PageInfo("views/residual.py", "Residual stream", ":material/stacked_line_chart:", "residual"),
    "why": PageInfo("views/attribution.py", "Why this character?", ":material/help:", "why"),
    "induction": PageInfo(
        "views/induction.py", "Induction heads", ":material/content_copy:", "induction", model="python-small"
    ),  # Shakespeare's models learn no induction head; the model of Python source does
    "timeline": PageInfo("views/timeline.py", "Timeline", ":material/timeline:", "timeline"),
    "generate": PageInfo("views/generate.py", "Generate", ":material/edit_note:", "generate"),
    "train": PageInfo("views/train.py", "Train", ":material/model_training:", "train"),
    "ablations": PageInfo("views/ablations.py", "Ablations", ":material/content_cut:", "ablations"),
    "lesson": PageInfo("views/lesson.py", "Lesson", ":material/school:", "lesson", model="shakespeare-lecture"),
}


@functools.cache
def state_of(slug: str | None) -> tuple:
    """A page's declared STATE (its url_state.Keys), for links to it and a class that follows it:
    the app's one import of a view by name (importing a view file does not draw it)."""
    if slug not in PAGES:
        return ()
    module = importlib.import_module("viz_app." + PAGES[slug].file.removesuffix(".py").replace("/", "."))
    return tuple(getattr(module, "STATE", ()))


def href(slug: str | None, params: dict[str, str]) -> str:
    """The one builder of an in-app link: a relative URL to a page's own path with the query (slug
    None: the app's root, e.g. a class's student link ?class=CODE). Streamlit's st.page_link takes
    the query as a dict (url_state.link) and builds the same."""
    path = PAGES[slug].url_path if slug is not None else ""
    return f"./{path}?{query(params)}"


def query(params: dict[str, str]) -> str:
    """A link's query string, as href writes it (spaces as %20, as browsers show them)."""
    return urlencode(params, quote_via=quote)
