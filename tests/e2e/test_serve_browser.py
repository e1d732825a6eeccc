"""make serve in a real browser: two Chromium users, each kept by nginx's cookie on a different one of
two app processes, upload a checkpoint and download the numbers; every request of each (page,
websocket, upload, download) reached the process that holds its session."""

from __future__ import annotations

import io
import os
import shutil
import signal
import time

import newcomer
import numpy as np
import pytest

from viz_app.bench.proxy import process_of
from viz_app.serving import app_process, serve

from .helpers import WAIT_MS, screenshot, wait_idle

pytestmark = pytest.mark.e2e
PROMPT = "First Citizen:\nSpeak, speak."


@pytest.fixture(scope="module")
def hall(tmp_path_factory, tiny_ckpt):
    if serve.find_nginx() is None:
        pytest.skip("needs Debian's nginx (make test installs it: apt-get install nginx)")
    folder = tmp_path_factory.mktemp("checkpoints")
    shutil.copy2(tiny_ckpt, folder / "tiny.safetensors")
    # a newcomer's machine (tests/newcomer.py): the class store where make serve puts it by default
    with newcomer.as_this_process(tmp_path_factory.mktemp("newcomer"), ATTENTION_LAB_CHECKPOINTS=str(folder)) as env:
        hall = serve.Hall(2, app_process.free_port(), "127.0.0.1", run=tmp_path_factory.mktemp("run"), env=env,
                          log=lambda line: None)  # fmt: skip
    with hall:
        yield hall


def cookie_on(hall, index: int) -> str:
    """A cookie value nginx sends to app process `index` (the values are random ids; half go to each)."""
    for i in range(200):
        value = f"{index:02d}{i:030x}"
        if process_of(hall, f"{serve.COOKIE}={value}", f"pick{index}-{i}") == index:
            return value
    raise AssertionError(f"no cookie went to process {index}")


def test_each_users_upload_and_download_reach_the_process_holding_their_page(hall, browser, tiny_ckpt, tmp_path):
    from playwright.sync_api import expect

    upload = tmp_path / "mine.safetensors"
    shutil.copy2(tiny_ckpt, upload)
    for index in (0, 1):
        value = cookie_on(hall, index)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        context.add_cookies([{"name": serve.COOKIE, "value": value, "url": hall.url}])
        try:
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{hall.url}/?prompt=Speak%2C%20speak.")
            sidebar = page.locator("[data-testid=stSidebar]")
            sidebar.get_by_text("Use your own checkpoint").click()
            sidebar.locator("input[type=file]").set_input_files(upload)
            expect(sidebar.get_by_role("combobox", name="Model")).to_have_value("mine (uploaded)")
            wait_idle(page)
            # the map is drawn: Plotly's 4.7 MB script came through whole (nginx once cut it at its temp file)
            page.locator("[data-testid=stPlotlyChart] .gtitle").first.wait_for()
            page.get_by_text("Download the numbers (NPZ / CSV)").click()
            with page.expect_download() as download:
                page.get_by_role("button", name="NPZ").first.click()
            assert download.value.suggested_filename.endswith(".npz")
            data = np.load(io.BytesIO(open(download.value.path(), "rb").read()))
            assert {"scores", "weights", "entropy"} <= set(data.files)
            assert not page.locator("[data-testid=stException]").count()
        finally:
            context.close()
        port = hall.worker_ports[index]
        kinds = {"GET /_stcore/stream", "upload_file", "/media/"}
        for _ in range(50):  # nginx logs the websocket when it closes, just after the page does
            theirs = [line for line in (hall.run / "access.log").read_text().splitlines() if f"key={value}" in line]
            seen = {kind for kind in kinds if any(kind in line for line in theirs)}
            if seen == kinds:
                break
            time.sleep(0.2)
        assert seen == kinds, (seen, theirs[-20:])  # the page's websocket, its upload and its download
        elsewhere = [line for line in theirs if line.split("upstream=", 1)[1].split()[0] != f"127.0.0.1:{port}"]
        assert not elsewhere, elsewhere  # every request of this browser reached its own process


def _title(page, text: str):
    return page.locator("[data-testid=stPlotlyChart] .gtitle").filter(has_text=text)


def test_a_process_killed_mid_class_its_students_reopen_their_view_and_the_others_never_notice(
    browser, tiny_ckpt, tmp_path
):
    """Two students on two processes; one process dies (SIGKILL): its student's page reconnects by
    itself to the live process and shows the same view again; the other student's websocket stays
    open and their next click works."""
    from urllib.parse import parse_qs, urlsplit

    if serve.find_nginx() is None:
        pytest.skip("needs Debian's nginx (make test installs it: apt-get install nginx)")
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy2(tiny_ckpt, folder / "tiny.safetensors")
    with newcomer.as_this_process(tmp_path / "newcomer", ATTENTION_LAB_CHECKPOINTS=str(folder)) as env:
        hall = serve.Hall(2, app_process.free_port(), "127.0.0.1", run=tmp_path / "run", env=env, log=lambda line: None)
    with hall:
        pages, cookies = [], [cookie_on(hall, 0), cookie_on(hall, 1)]
        for value, view in zip(cookies, ("layer=1&head=1&scale=none", "layer=0&head=1"), strict=True):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_cookies([{"name": serve.COOKIE, "value": value, "url": hall.url}])
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{hall.url}/?prompt=Speak%2C%20speak.&{view}")
            wait_idle(page)
            pages.append(page)
        moved, stayed = pages
        _title(moved, "layer 1 · head 1 · none").wait_for()
        _title(stayed, "layer 0 · head 1").wait_for()
        before = parse_qs(urlsplit(moved.url).query)

        os.killpg(hall.workers[0].pid, signal.SIGKILL)
        hall.workers[0].wait(timeout=30)

        def streams(value: str) -> list[str]:
            log = (hall.run / "access.log").read_text().splitlines()
            return [line for line in log if "GET /_stcore/stream" in line and f"key={value}" in line]

        # nginx cut the dead process's websocket (it logs a websocket when it closes)
        deadline = time.monotonic() + 60
        while not streams(cookies[0]):
            assert time.monotonic() < deadline, "the killed process's websocket was never closed"
            time.sleep(0.3)
        # the page reconnects by itself (to the live process: the other is dead) and the student goes on.
        # The first run of the new session there opens the view its link names (url_state.start_run), so
        # the click that woke it is not applied; the next one is
        assert parse_qs(urlsplit(moved.url).query) == before
        head = moved.get_by_role("radiogroup", name="Head")
        head.get_by_role("radio", name="0").click()
        moved.wait_for_timeout(1000)
        wait_idle(moved)
        _title(moved, "layer 1 · head 1 · none").wait_for()  # the link's view, drawn again
        assert parse_qs(urlsplit(moved.url).query) == before
        head.get_by_role("radio", name="0").click()
        _title(moved, "layer 1 · head 0 · none").wait_for()  # layer and scale kept, on the live process
        screenshot(moved, "killed-moved")
        assert not moved.locator("[data-testid=stException]").count()

        stayed.get_by_role("radiogroup", name="Head").get_by_role("radio", name="0").click()
        _title(stayed, "layer 0 · head 0").wait_for()
        assert not streams(cookies[1])  # its websocket never closed
        moved.context.close()
        deadline = time.monotonic() + 30  # nginx logs the reconnected websocket now that it closed
        live = f"127.0.0.1:{hall.worker_ports[1]} key="
        while not any(live in line for line in streams(cookies[0])):
            assert time.monotonic() < deadline, streams(cookies[0])
            time.sleep(0.3)
        stayed.context.close()
