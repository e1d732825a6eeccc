"""Issue #35 in real Chromium, on a newcomer's machine: the app started as `make app` starts it where
it never ran (an empty temp folder and home, no ATTENTION_LAB_* setting, the shipped models). A teacher
leads a class, its QR code draws and scans back to the student link, a student follows, the class
ends; a walk over every page, clicking each control that has a callback, meets no exception box; and
the box Streamlit shows for an error that slips through has no "Ask Google"/"Ask ChatGPT" links."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pytest

from viz_app.pages import PAGES
from viz_app.serving import app_process

from .conftest import ROOT, free_port, serve, wait_until_healthy
from .helpers import lead_a_class, steady_box, wait_idle

pytestmark = pytest.mark.e2e
PROMPT = "First Citizen:\nSpeak, speak."
EXCEPTION = "[data-testid=stException]"


@pytest.fixture(scope="module")
def newcomer_server(tmp_path_factory):
    """`make app` on a new machine: the shipped checkpoints, no setting at all."""
    yield from serve(None, tmp_path_factory.mktemp("log") / "streamlit.log")


def no_exception_box(page, where: str) -> None:
    boxes = page.locator(EXCEPTION)
    assert boxes.count() == 0, f"{where}: {boxes.first.inner_text()}"


def scanned(image) -> list[str]:
    """What a phone's QR reader reads off the element's pixels (zxing-cpp on a screenshot)."""
    import zxingcpp
    from PIL import Image

    picture = Image.open(io.BytesIO(image.screenshot()))
    return [code.text for code in zxingcpp.read_barcodes(picture)]


def test_a_teacher_leads_a_class_with_a_qr_code_a_student_follows_and_the_class_ends(newcomer_server, tabs):
    teacher, student = tabs.take(), tabs.take()
    teacher.goto(f"{newcomer_server}/?prompt=First%20Citizen")
    wait_idle(teacher)
    side = teacher.locator("[data-testid=stSidebar]")
    code = lead_a_class(teacher)
    wait_idle(teacher)
    no_exception_box(teacher, "leading")
    link = f"{newcomer_server}/?class={code}"
    qr = side.locator(f'img[alt="QR code for {link}"]')
    qr.wait_for()
    qr.scroll_into_view_if_needed()
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 0  # drawn, not its alt text
    assert scanned(qr) == [link]

    student.goto(link)
    student.get_by_text(f"Following your teacher's screen (class {code})").wait_for()
    student.wait_for_url(lambda url: "prompt=First" in url)  # the teacher's prompt
    teacher.get_by_text("1 following").wait_for()

    side.get_by_text("Lead a class").click()  # off: the class ends for everyone
    teacher.get_by_text(re.compile(r"Leading class")).wait_for(state="detached")
    student.get_by_text("The class has ended: the app is yours now.").wait_for()
    for page, who in ((teacher, "teacher"), (student, "student")):
        wait_idle(page)
        no_exception_box(page, who)


def test_every_page_and_every_control_with_a_callback_shows_no_exception_box(newcomer_server, page):
    from playwright.sync_api import expect

    outside = []  # the app runs in offline rooms: nothing it loads may come from another host

    def from_another_host(request):
        if request.url.startswith(("http:", "https:")) and not request.url.startswith(newcomer_server):
            outside.append(request.url)

    page.on("request", from_another_host)
    try:
        for slug, info in PAGES.items():
            page.goto(f"{newcomer_server}/{info.url_path}?prompt=First%20Citizen")
            wait_idle(page)
            no_exception_box(page, slug)
            # a chart whose clicks pick a head or a cell (on_select): its click targets are markers
            targets = page.locator("[data-testid=stPlotlyChart] .scatterlayer .point")
            if targets.count():
                box = steady_box(page, targets.first)
                page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                wait_idle(page)
                no_exception_box(page, f"{slug}, a click on its chart")
            if slug == "generate":  # Play and Pause (on_click)
                page.get_by_role("button", name="Play").click()
                page.get_by_role("button", name="Pause").click()
                wait_idle(page)
                no_exception_box(page, "generate, Play and Pause")
        # the class's own controls: join with a code that does not exist
        side = page.locator("[data-testid=stSidebar]")
        side.get_by_text("Class", exact=True).click()
        box = side.get_by_label("Join a class")
        box.fill("NOPE42")
        box.press("Enter")  # the code is the session's before Join is clicked (a ci15 run never showed the notice)
        wait_idle(page)
        expect(box).to_have_value("NOPE42")
        side.get_by_role("button", name="Join").click()
        page.get_by_text("There is no class NOPE42 on this server").wait_for()
        no_exception_box(page, "join")
        assert outside == [], outside  # the tab's icon came from fonts.gstatic.com
    finally:
        page.remove_listener("request", from_another_host)


def test_an_error_that_slips_through_has_no_search_links_and_no_details(tmp_path, page):
    """A script that raises, beside the app's own .streamlit/config.toml: Streamlit's box says only
    that something failed (no message, no traceback) and offers no Google or ChatGPT."""
    shutil.copytree(ROOT / "viz_app" / ".streamlit", tmp_path / ".streamlit")
    script = tmp_path / "planted.py"
    script.write_text('import streamlit as st\nst.title("Planted")\nraise RuntimeError("a planted secret")\n')
    port, log = free_port(), tmp_path / "streamlit.log"
    with open(log, "w") as out:
        server = subprocess.Popen(app_process.command(port, "127.0.0.1", script), cwd=tmp_path, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"  # 127.0.0.1: where Streamlit's "auto" shows the links
        wait_until_healthy(url, server, log)
        page.goto(url)
        page.locator(EXCEPTION).wait_for()
        text = page.locator(EXCEPTION).inner_text()
        assert "a planted secret" not in text and "Traceback" not in text
        for name in ("Ask Google", "Ask ChatGPT"):
            assert page.get_by_text(name).count() == 0, name
        assert page.locator("a[href*='google.com'], a[href*='chatgpt.com']").count() == 0
    finally:
        server.terminate()
        server.wait(timeout=15)
