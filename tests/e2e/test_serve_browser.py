"""make serve in a real browser: two Chromium users, each kept by nginx's cookie on a different one of
two app processes, upload a checkpoint and download the numbers; every request of each (page,
websocket, upload, download) reached the process that holds its session."""

from __future__ import annotations

import io
import shutil
import time

import numpy as np
import pytest

from viz_app import serve
from viz_app.bench.proxy import process_of

from .helpers import wait_idle

pytestmark = pytest.mark.e2e
PROMPT = "First Citizen:\nSpeak, speak."


@pytest.fixture(scope="module")
def hall(tmp_path_factory, tiny_ckpt):
    if serve.find_nginx() is None:
        pytest.skip("needs Debian's nginx (make test installs it: apt-get install nginx)")
    folder = tmp_path_factory.mktemp("checkpoints")
    shutil.copy2(tiny_ckpt, folder / "tiny.safetensors")
    env = {"ATTENTION_LAB_CHECKPOINTS": str(folder),
           "ATTENTION_LAB_CLASS_DB": str(tmp_path_factory.mktemp("classes") / "classes.sqlite3")}  # fmt: skip
    with serve.Hall(2, serve.free_port(), "127.0.0.1", run=tmp_path_factory.mktemp("run"), env=env,
                    log=lambda line: None) as hall:  # fmt: skip
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
            page.set_default_timeout(60_000)
            page.goto(f"{hall.url}/?prompt=Speak%2C%20speak.")
            sidebar = page.locator("[data-testid=stSidebar]")
            sidebar.get_by_text("Use your own checkpoint").click()
            sidebar.locator("input[type=file]").set_input_files(upload)
            expect(sidebar.get_by_role("combobox", name="Model")).to_have_value("mine (uploaded)", timeout=60_000)
            wait_idle(page)
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
