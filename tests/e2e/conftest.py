"""Shared by the browser tests: the real app served by `streamlit run` on a free port, and a page of
Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import newcomer
import pytest

from viz_app.serving import app_process

from .helpers import WAIT_MS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Several pages of one test (a teacher and students) are each a window, and all but the newest are in the
# background, where Chromium slows timers to once a minute: Streamlit's timed reruns (a follower's poll,
# the teacher's count) would stall. Every tab in a lecture hall is someone's foreground tab.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-background-timer-throttling",
                 "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"]  # fmt: skip
STARTUP_S = 90  # a cold start on a busy 2-core machine imports torch and streamlit


def free_port() -> int:
    return app_process.free_port()


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    try:
        app_process.wait_healthy(url, server, STARTUP_S, log)
    except RuntimeError as e:
        pytest.fail(str(e))


def worker_core() -> int:
    """The core this test process's servers run on: under pytest-xdist (make test runs four workers)
    worker gwN's on core N (wrapping round: app_process.pin), so the workers' servers spread over the
    cores; alone, the last core, as `make app` pins its server."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else -1


def serve(folder: Path | None, log: Path, **env):
    """The app on the checkpoints in folder (None: the shipped ones, as `make app` finds them), as
    `make app` serves it on a newcomer's machine (tests/newcomer.py: an empty temp folder and home, no
    ATTENTION_LAB_* but those given); yields its URL, always stopped."""
    port = free_port()
    settings = {**({"ATTENTION_LAB_CHECKPOINTS": str(folder)} if folder is not None else {}), **env}
    env = newcomer.environ(log.parent / "newcomer", **settings)
    command = app_process.command(port, "127.0.0.1")
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=app_process.pin(worker_core()))  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, proc, log)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and anything it started
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


@pytest.fixture(scope="session")
def server(tmp_path_factory, tiny_ckpt):
    """The app on the tiny checkpoint (2 layers x 2 heads), one server for every test module (of a
    pytest-xdist worker): each test has its own page and so its own session; a cold start is seconds."""
    folder = tmp_path_factory.mktemp("checkpoints")
    shutil.copy2(tiny_ckpt, folder / "tiny.safetensors")
    yield from serve(folder, tmp_path_factory.mktemp("log") / "streamlit.log")


@pytest.fixture(scope="session")
def shipped_server(tmp_path_factory, tiny_text_file):
    """The app on the shipped checkpoints (shakespeare-small: 6 layers x 6 heads) and ablation results;
    live ablation runs train on the tiny text. Pages never write into the checkpoints folder."""
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    yield from serve(None, log, ATTENTION_LAB_LIVE_DATA=str(tiny_text_file))


def require_chromium():
    """Skip on a developer's machine without Chromium; in CI (where make test installs it) fail."""
    if not Path(CHROMIUM).exists():
        message = "needs Debian's chromium at /usr/bin/chromium (make test installs it)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)


VIEWPORT = {"width": 1400, "height": 1000}


class Tabs:
    """The tabs a test process's browser tests take turns in, each in a context of its own (cookies, storage). A
    test opens its link in a tab: a new document and so a new Streamlit session, as a new tab would, but
    in a renderer that has compiled the app's JavaScript already: a page load cost ~6 s of Chromium's CPU
    in a new tab on this 2-core machine, ~3 s in a used one (Chromium was 60 % of the suite's CPU)."""

    def __init__(self, browser):
        self.browser, self.free, self.taken = browser, {}, []

    def take(self, viewport: dict | None = None, **options):
        """A tab whose context has these options (Playwright's new_context: has_touch, is_mobile, ...),
        its window at viewport (VIEWPORT); tab.console holds what the browser logged."""
        viewport = viewport or VIEWPORT
        key = repr(sorted(options.items()))
        free = [t for t in self.free.get(key, []) if not t.is_closed()]
        if free:
            tab = free.pop()
            self.free[key] = free
        else:
            tab = self.browser.new_context(viewport=viewport, accept_downloads=True, **options).new_page()
            tab.console = []
            tab.on("console", lambda message: tab.console.append(message.text))
        tab.set_viewport_size(viewport)
        tab.set_default_timeout(WAIT_MS)
        tab.console.clear()
        self.taken.append((key, tab))
        return tab

    def give_back(self) -> None:
        """Every tab the test took, as a new one is again: storage and cookies cleared and its document
        left (its session ends); a tab that broke is closed, and the next test gets a new one."""
        for key, tab in self.taken:
            if tab.is_closed():
                continue
            try:
                tab.evaluate("() => { try { localStorage.clear(); sessionStorage.clear(); } catch (e) {} }")
                tab.context.clear_cookies()
                tab.goto("about:blank")
                self.free.setdefault(key, []).append(tab)
            except Exception:
                tab.context.close()
        self.taken = []

    def close(self) -> None:
        for tab in [t for ts in self.free.values() for t in ts] + [t for _, t in self.taken]:
            if not tab.is_closed():
                tab.context.close()


E2E = Path(__file__).resolve().parent


class SharedBrowser:
    """One headless Chromium and its tabs for a test process's browser tests, one module after another: a
    tab's renderer keeps the JavaScript it compiled across modules too (a new renderer's first load cost
    ~7 CPU-s, a used one's ~4), and Chromium starts once, not once a module. Closed before any other test of
    the process runs: Playwright's sync API keeps an asyncio loop running in the thread while it is open,
    and a test that calls asyncio.run (the classroom bench) would fail."""

    manager = browser = tabs = None

    def open(self) -> Tabs:
        if self.browser is not None and not self.browser.is_connected():  # it crashed: the next test gets a new one
            self.close()
        if self.browser is None:
            require_chromium()
            from playwright import sync_api

            sync_api.expect.set_options(timeout=WAIT_MS)  # its default is 5 s
            self.manager = sync_api.sync_playwright().start()
            self.browser = self.manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            self.tabs = Tabs(self.browser)
        return self.tabs

    def close(self) -> None:
        if self.browser is not None:
            try:
                if self.browser.is_connected():
                    self.tabs.close()
                    self.browser.close()
            finally:
                self.manager.stop()
                self.manager = self.browser = self.tabs = None

    # hooks of a plugin registered for every test of the session, not only this folder's
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        if E2E not in item.path.parents:
            self.close()


@pytest.fixture(scope="session")
def _shared_browser(request):
    shared = SharedBrowser()
    request.config.pluginmanager.register(shared, "attention-lab-shared-browser")
    try:
        yield shared
    finally:
        request.config.pluginmanager.unregister(shared)
        shared.close()


@pytest.fixture
def _tab_pool(_shared_browser):
    return _shared_browser.open()


@pytest.fixture
def browser(_tab_pool):
    """Headless Chromium, shared by the browser tests of this test process that follow one another (each
    test takes its own tabs, or contexts: their own cookies, and so their own Streamlit sessions)."""
    return _tab_pool.browser


@pytest.fixture
def tabs(_tab_pool):
    """tabs.take(...) for each window a test needs (a teacher and students each take one), given back
    when it ends. A listener a test adds to a tab (tab.on) it removes itself."""
    try:
        yield _tab_pool
    finally:
        _tab_pool.give_back()


@pytest.fixture
def page(tabs):
    """The test's tab, at VIEWPORT."""
    return tabs.take()


# what a failed browser test's page showed, in its report: the URL, Streamlit's connection and script
# state (DISCONNECTED_FOREVER was a student page's death, f0aeee7), any exception box, the main area's text and
# how many charts it holds (and placeholders for elements still loading), the sidebar's text boxes, the focus,
# and the console's end
PAGE_STATE = """() => ({
  url: location.href,
  connection: document.querySelector('[data-test-connection-state]')?.dataset.testConnectionState,
  script: document.querySelector('[data-test-script-state]')?.dataset.testScriptState,
  exceptions: [...document.querySelectorAll('[data-testid=stException]')].map(e => e.innerText.slice(0, 300)),
  main: document.querySelector('[data-testid=stMain]')?.innerText.slice(0, 800),
  charts: document.querySelectorAll('[data-testid=stPlotlyChart]').length,
  skeletons: document.querySelectorAll('[data-testid=stSkeleton]').length,
  boxes: [...document.querySelectorAll("[data-testid=stSidebar] input[type=text]")]
    .map(i => `${i.ariaLabel}=${i.value}`),
  focus: `${document.activeElement?.tagName} ${(document.activeElement?.innerText || '').slice(0, 40)}`,
})"""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if not (report.failed and call.when == "call" and hasattr(item, "funcargs")):
        return report
    pool = item.funcargs.get("tabs")  # a test's page is one of its tabs too
    for n, tab in enumerate(t for _, t in (pool.taken if pool else []) if not t.is_closed()):
        try:
            state = tab.evaluate(PAGE_STATE)
        except Exception as e:  # the page itself may be what broke
            state = f"could not read the page: {e}"
        console = "\n".join(getattr(tab, "console", [])[-15:])
        report.sections.append((f"tab {n} at the failure", f"{state}\nconsole (last 15):\n{console}"))
    return report
