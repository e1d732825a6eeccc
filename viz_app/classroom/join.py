"""How a class is joined: the student link and its QR code (the join card, for the projector and the
sidebar), the teacher's private link, and the sidebar's box for a class code."""

from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import streamlit as st

from .. import page
from ..pages import PAGES, href


def _base_url() -> str:
    """The app's address as the teacher's browser sees it, without a page's own path."""
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    path = parts.path.rstrip("/")
    for info in PAGES.values():
        if info.url_path and path.endswith("/" + info.url_path):
            path = path[: -len(info.url_path) - 1]
    return urlunsplit((parts.scheme, parts.netloc, path + "/", "", ""))


def student_link(code: str) -> str:
    return urljoin(_base_url(), href(None, {"class": code}))


def qr_data_uri(text: str) -> str:
    import segno  # only a teacher's run draws one

    # a data URI of a standalone SVG (with its xmlns): svg_inline's markup, without one, never draws in an <img>
    return segno.make(text, error="m").svg_data_uri(scale=8, border=2, dark="#000", light="#fff")


def card(code: str, *, big: bool = False) -> None:
    """The class code, the student link and its QR code."""
    link = student_link(code)
    st.markdown(f"Class code **{code}** · students open")
    st.code(link, language=None)
    # big: the popover above the page, whose height is bounded (about 70vh): the code, the link and the caption
    # above and below it take about 12rem, so a 720p projector shows the whole QR code, not its top two thirds
    width = "min(calc(70vh - 12rem), 100%)" if big else "100%"
    st.html(f'<img alt="QR code for {link}" src="{qr_data_uri(link)}" style="width:{width}">')
    if urlsplit(link).hostname in ("localhost", "127.0.0.1"):
        st.caption("This address works on this computer only: students need its network address instead.")


def teacher_link(token: str) -> None:
    """The private teacher link, in a popover of the sidebar: it leads the class from any browser."""
    with st.popover("Your private teacher link", icon=":material/key:"):
        st.caption("Only this link can lead the class: keep it off the projector. Open it to lead again "
                   "after a refresh or from another browser.")  # fmt: skip
        st.code(f"{_base_url()}?teach={quote(token)}", language=None)


def code_box() -> None:
    """A box for a class code and its Join button: the code becomes the session's `class` key, which
    the next run's start takes (follow.take_class_code), as from a student link."""
    st.text_input("Join a class", key="class_join", placeholder="class code", max_chars=16)
    st.button("Join", key="class_join_go", on_click=page.guarded(_join))


def _join() -> None:
    st.session_state["class"] = st.session_state.get("class_join", "")
