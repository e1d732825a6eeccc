"""Issue #23 in a real browser: one student uploads files of a few kilobytes that claim models of
gigabytes while another keeps using the app. The uploader gets the sentence that says what the file
claims, the other session's page goes on working, and the server's memory stays where it was."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .conftest import serve
from .helpers import wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_ckpt):
    """A server of this module's own: the test measures its memory, which other tests' sessions would move."""
    import shutil

    folder = tmp_path_factory.mktemp("checkpoints")
    shutil.copy2(tiny_ckpt, folder / "tiny.safetensors")
    yield from serve(folder, tmp_path_factory.mktemp("log") / "streamlit.log")


NANOGPT_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "import" / "nanogpt-shakespeare-char"
PROMPTS = ["First Citizen:\nSpeak, speak.", "All:\nResolved. resolved.", "You are all resolved"]  # < 32: the context


def server_pid(url: str) -> int:
    """The streamlit process serving url (its command line names the port)."""
    port = str(urlparse(url).port)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(args) and port.encode() in args:
            return int(proc.name)
    raise AssertionError(f"no streamlit process serves port {port}")


def memory_mb(pid: int) -> dict[str, float]:
    """The process's resident memory now (VmRSS) and at its peak so far (VmHWM), in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {name: int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM")}


def lying_files(tiny_ckpt: Path, folder: Path) -> list[Path]:
    """The tiny checkpoint claiming 65,536 wide, and nanoGPT's ckpt.pt claiming 100,000 layers."""
    with safe_open(str(tiny_ckpt), "pt") as f:
        header = json.loads(f.metadata()["nanogpt"])
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    header["model_config"]["n_embd"] = 65536
    wide = folder / "wide.safetensors"
    save_file(tensors, wide, metadata={"nanogpt": json.dumps(header)})
    ckpt = torch.load(NANOGPT_DIR / "ckpt.pt", weights_only=True)
    ckpt["model_args"]["n_embd"] = 16384
    del ckpt["optimizer"]
    deep = folder / "ckpt.pt"
    torch.save(ckpt, deep)
    return [wide, deep]


def test_a_lying_upload_is_refused_while_another_session_goes_on_and_the_server_stays_small(
    server, tabs, page, tiny_ckpt, tmp_path
):
    from playwright.sync_api import expect

    other = tabs.take()  # the student who goes on
    other.goto(server)
    other.locator("[data-testid=stPlotlyChart]").first.wait_for()
    page.goto(server)
    page.locator("[data-testid=stPlotlyChart]").first.wait_for()
    wait_idle(page)
    pid = server_pid(server)
    before = memory_mb(pid)
    measured = []
    for path, said in zip(lying_files(tiny_ckpt, tmp_path),
                          ["wide.safetensors claims a model of 2 layers x 2 heads x 65,536 wide",
                           "ckpt.pt claims a model of 2 layers x 4 heads x 16,384 wide"], strict=True):  # fmt: skip
        assert path.stat().st_size < 1_000_000
        page.reload()  # a new session for each file, as another student would be
        page.locator("[data-testid=stPlotlyChart]").first.wait_for()
        sidebar = page.locator("[data-testid=stSidebar]")
        sidebar.get_by_text("Use your own checkpoint").click()
        start = time.perf_counter()
        sidebar.locator("input[type=file]").set_input_files(path)
        for prompt in PROMPTS:  # the other student types while the file is read
            box = other.locator("[data-testid=stSidebar] textarea")
            box.fill(prompt)
            box.press("Control+Enter")
            other.get_by_text(f"Reading {len(prompt)} characters").wait_for()
            expect(other.locator("[data-testid=stPlotlyChart]").first).to_be_visible()
            assert not other.locator("[data-testid=stException]").count()
        sidebar.get_by_text(said).wait_for()
        measured.append((path.name, path.stat().st_size, round(time.perf_counter() - start, 2), memory_mb(pid)))
        assert not page.locator("[data-testid=stException]").count()
        assert "/tmp/" not in sidebar.locator("[data-testid=stAlertContentError]").first.inner_text()
        expect(sidebar.get_by_role("combobox", name="Model")).to_have_value("tiny")
    after = memory_mb(pid)
    print(f"server memory before {before}, after {after}; per upload (name, bytes, s to the sentence, memory): "
          f"{measured}")  # fmt: skip
    # the files claim models of 100+ GB; refusing them costs the server nothing it would notice
    assert after["VmHWM"] - before["VmHWM"] < 150, (before, after)
