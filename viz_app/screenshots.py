"""`make screenshots`: every picture in README.md and docs/, taken from the running app.

The app is started the way `make app` starts it (viz_app/serving/app_process.py, one core, the shipped checkpoints),
with its home, temp folder and class store in a fresh temp folder (a shot of another model gets a server of its
own, started as `attention-lab PATH` starts one: that model opened first), and Debian's headless Chromium
(Playwright, /usr/bin/chromium) opens each page at a fixed size. A teacher leads a class in presenter mode
and a student follows on a phone, so the class pictures are the real classroom. Each PNG is reduced to 256
colours (Pillow, which Streamlit already installs), a few hundred KB at most.

    python -m viz_app.screenshots [--out docs/images] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-background-timer-throttling",
                 "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"]  # fmt: skip
# the app's script state as the page marks it (as tests/e2e/helpers.py waits for it)
IDLE = "() => document.querySelector('[data-test-script-state]')?.dataset.testScriptState === 'notRunning'"
SETTLE_MS = 1_500  # Plotly draws after the run ends, and the sidebar slides
PROJECTOR = {"width": 1280, "height": 720}  # 720p: a lecture hall's projector, and what presenter mode is made for
LAPTOP = {"width": 1280, "height": 1000}  # a page of the docs: its controls and its first figures
WHOLE = {"width": 1280, "height": 1600}  # the Attention page whole, sidebar and map
PHONE = {"width": 390, "height": 844}  # an iPhone 12 to 15's viewport in CSS pixels
# The class's address as the students' phones would see it: Chromium resolves this name to the server's
# 127.0.0.1, so the join card shows a network address, not "localhost" and its warning.
HALL = "attention-lab.local"
COLOURS = 256
# A model of tokens, not characters: the nanochat run of the tests (d4, 300 steps, its own 512-token BPE,
# every file written by nanochat), opened as `attention-lab DIR` opens a run. Trained a little, its maps have
# structure; the GPT-2 fixtures read GPT-2's own tokens, but their weights are barely trained and their maps
# near uniform. Ordinary words and a line break: the labels show the leading spaces (␣) and the ↵; 22 tokens,
# all in presenter mode's window.
NANOCHAT = "tests/fixtures/nanochat/base"
TOKENS_PROMPT = "The cat sat on the mat.\nThe dog sat on the rug."


@dataclass(frozen=True)
class Shot:
    name: str  # docs/images/<name>.png
    link: str  # the app's link, after its address
    viewport: dict
    what: str  # what the picture is for
    model: str = ""  # a model file or folder in the repository, opened first as `attention-lab PATH` opens it


# One browser session each, in this order; the class pictures come after them (see classroom()), and the shots of
# another model (Shot.model) last, on a server of its own.
PAGES = (
    Shot("attention", "/?presenter=1", PROJECTOR, "README: the Attention page, presenter mode at 720p"),
    Shot("attention-page", "/", WHOLE, "docs/pages.md: the Attention page with the sidebar"),
    Shot("sharpness", "/sharpness", LAPTOP, "docs/pages.md: every head's entropy and max weight"),
    Shot("why", "/why", LAPTOP, "docs/pages.md: the next character's logit taken apart"),
    Shot("induction", "/induction", LAPTOP, "docs/pages.md: the induction probe on python-small"),
    Shot("timeline", "/timeline?tl_step=1000", LAPTOP, "docs/pages.md: shakespeare-small at step 1,000"),
    Shot(
        "nanochat",
        "/?" + urlencode({"presenter": 1, "layer": 2, "head": 0, "prompt": TOKENS_PROMPT}),
        PROJECTOR,
        "README, docs/engineers.md: a nanochat run, its BPE tokens on the axes",
        NANOCHAT,
    ),  # fmt: skip
)
CLASS = (
    Shot("projector", "/", PROJECTOR, "README, docs/lecture-hall.md: a teacher leads a class; how students join"),
    Shot("phone", "/?class=CODE", PHONE, "README, docs/lecture-hall.md: a student following on a phone"),
)
SHOTS = PAGES + CLASS


def optimise(png: bytes) -> bytes:
    """The screenshot as a 256-colour PNG: the app's flat colours and colour scales survive, the size falls
    to a fraction. No dithering: its noise would cost more bytes than the colours it saves."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    reduced = image.quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    reduced.save(out, format="PNG", optimize=True)
    return out.getvalue()


def settle(page) -> None:
    page.wait_for_function(IDLE, timeout=120_000)
    page.wait_for_timeout(SETTLE_MS)
    page.mouse.move(page.viewport_size["width"] // 2, 4)  # over the empty header: no toolbar, tooltip or button


def save(page, shot: Shot, out: Path) -> Path:
    path = out / f"{shot.name}.png"
    path.write_bytes(optimise(page.screenshot()))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"{shown}: {path.stat().st_size // 1024} KB ({shot.what})", flush=True)
    return path


def open_page(browser, url: str, viewport: dict, **context):
    page = browser.new_context(viewport=viewport, **context).new_page()
    page.set_default_timeout(120_000)
    page.goto(url)
    page.locator("[data-testid=stPlotlyChart]").first.wait_for()
    settle(page)
    return page


def pages(browser, url: str, shots: list[Shot], out: Path) -> None:
    for shot in shots:
        page = open_page(browser, url + shot.link, shot.viewport)
        save(page, shot, out)
        page.context.close()


def classroom(browser, url: str, shots: list[Shot], out: Path) -> None:
    """A teacher leads a class in presenter mode and opens "How students join"; a student follows on a phone."""
    wanted = {shot.name: shot for shot in shots}
    url = url.replace("127.0.0.1", HALL)
    teacher = open_page(browser, url + "/", PROJECTOR)
    side = teacher.locator("[data-testid=stSidebar]")
    side.get_by_text("Class", exact=True).click()
    side.get_by_text("Lead a class").click()
    banner = teacher.get_by_text(re.compile(r"Leading class [A-Z0-9]{6}"))
    banner.wait_for()
    code = re.search(r"Leading class ([A-Z0-9]{6})", banner.inner_text()).group(1)
    settle(teacher)
    side.get_by_text("Presenter mode").click()
    teacher.wait_for_url(lambda link: "presenter=1" in link)
    settle(teacher)

    phone = open_page(browser, f"{url}/?class={code}", PHONE, is_mobile=True, has_touch=True)
    phone.wait_for_function("() => !!document.documentElement.dataset.phoneLayout")  # laid out for it (phone.py)
    phone.get_by_text(f"Following your teacher's screen (class {code})").wait_for()
    teacher.get_by_text("1 following").wait_for(timeout=60_000)
    if "phone" in wanted:
        settle(phone)  # its top: the class's line, then the teacher's map
        save(phone, wanted["phone"], out)
    if "projector" in wanted:
        teacher.get_by_role("button", name="How students join").click()
        qr = teacher.get_by_role("img", name=re.compile("QR code")).last
        qr.wait_for()
        if not qr.evaluate("img => img.complete && img.naturalWidth > 0"):
            raise SystemExit("error: the join card's QR code did not draw")
        settle(teacher)
        save(teacher, wanted["projector"], out)
    phone.context.close()
    teacher.context.close()


def take(shots: list[Shot], out: Path = OUT) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"error: the screenshots need Debian's chromium at {CHROMIUM} (make chromium installs it)")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="attention-lab-screenshots-") as fresh:
        home, tmp = Path(fresh, "home"), Path(fresh, "tmp")
        home.mkdir()
        tmp.mkdir()
        # a newcomer's machine: the shipped checkpoints, no model of the user's, an empty home and temp folder
        env = {"HOME": str(home), "TMPDIR": str(tmp), "ATTENTION_LAB_CKPT": "", "ATTENTION_LAB_VOCAB": "",
               "ATTENTION_LAB_CLASS_DB": str(Path(fresh, "classes.sqlite3"))}  # fmt: skip
        with sync_playwright() as p:
            rules = f"--host-resolver-rules=MAP {HALL} 127.0.0.1"
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, rules])
            try:
                # one server at a time: the shipped models' (the class pictures too), then each other model's
                for model in dict.fromkeys(s.model for s in shots):
                    wanted = [s for s in shots if s.model == model]
                    with running(dict(env, ATTENTION_LAB_CKPT=str(ROOT / model) if model else "")) as url:
                        pages(browser, url, [s for s in wanted if s in PAGES], out)
                        if any(s in CLASS for s in wanted):
                            classroom(browser, url, [s for s in wanted if s in CLASS], out)
            finally:
                browser.close()


@contextlib.contextmanager
def running(env: dict[str, str]):
    """The app's address while a server runs with env (the shipped checkpoints beside whatever it opens)."""
    from .bench.harness import Server

    server = Server(checkpoints=str(ROOT / "checkpoints"), env=env)
    try:
        server.wait_healthy()
        yield server.url
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m viz_app.screenshots", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go (default: docs/images)")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in SHOTS], help="these pictures only")
    args = parser.parse_args(argv)
    take([s for s in SHOTS if not args.only or s.name in args.only], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
