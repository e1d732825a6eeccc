"""The README and docs/: their pictures exist and are the ones `make screenshots` takes, their relative links
and #anchors resolve, and the shell blocks marked runnable (```bash runnable) run offline and exit 0."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

from viz_app import screenshots

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]
IMAGES = ROOT / "docs" / "images"
MAX_IMAGE_KB = 300  # a few hundred KB at most: the repository carries every version of each
RUNNABLE_S = 300  # a wait, not a measure: the shared 2-core test machine is slow

FENCE = re.compile(r"^(```+|~~~+)(.*)$")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")  # [text](target)
IMG_TAG = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_and_blocks(path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The lines outside fenced code blocks, and each block as (info string, its text)."""
    prose, blocks, fence, info, body = [], [], None, "", []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = FENCE.match(line.strip())
        if fence is None and match:
            fence, info, body = match.group(1), match.group(2).strip(), []
        elif fence is not None and line.strip().startswith(fence) and not line.strip()[len(fence) :].strip():
            blocks.append((info, "\n".join(body) + "\n"))
            fence = None
        elif fence is not None:
            body.append(line)
        else:
            prose.append(line)
    return prose, blocks


def targets(path: Path) -> list[str]:
    """Every link and picture address in the file's prose (code spans left out)."""
    found = []
    for line in prose_and_blocks(path)[0]:
        line = re.sub(r"`[^`]*`", "", line)
        found += LINK.findall(line) + IMG_TAG.findall(line)
    return found


def images(path: Path) -> list[str]:
    found = []
    for line in prose_and_blocks(path)[0]:
        found += re.findall(r"!\[[^\]]*\]\(\s*([^)\s]+)", line) + IMG_TAG.findall(line)
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text as shown (code marks and link targets gone), lower case, every
    character but letters, digits, spaces, hyphens and underscores dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in prose_and_blocks(path)[0]:
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            found.add(f"{base}-{seen[base]}" if base in seen else base)
            seen[base] = seen.get(base, 0) + 1
    return found


def relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)  # http:, https:, mailto:, data: ...


def runnable_blocks() -> list[tuple[str, str]]:
    """(where, the block's text) for every ```bash runnable block of the README and docs."""
    found = []
    for path in DOCS:
        for n, (info, text) in enumerate(prose_and_blocks(path)[1]):
            if info.split()[1:2] == ["runnable"]:
                found.append((f"{path.relative_to(ROOT)}:block{n}", text))
    return found


# --- the tests ---------------------------------------------------------------------------------------


def test_the_readme_is_a_front_page():
    """Read in a minute: under 150 lines, the app's picture before the first section, the two commands
    right under it, and the docs linked."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines"
    first_section = next(i for i, line in enumerate(lines) if line.startswith("## "))
    picture = next(i for i, line in enumerate(lines) if line.startswith("!["))
    assert picture < first_section and "docs/images/attention.png" in lines[picture]
    info, first_block = prose_and_blocks(ROOT / "README.md")[1][0]
    assert [line.split("#")[0].strip() for line in first_block.splitlines()] == ["make app", "make test"]
    assert text.index(first_block) - text.index(lines[picture]) < 400  # right under the picture
    for page in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in text, f"README.md does not link docs/{page.name}"


def test_every_picture_the_docs_use_exists_and_make_screenshots_takes_it():
    used = set()
    for path in DOCS:
        for target in images(path):
            assert relative(target), f"{path.name}: a picture from the network, {target}"
            image = (path.parent / unquote(target)).resolve()
            assert image.is_file(), f"{path.relative_to(ROOT)}: {target} does not exist"
            assert image.parent == IMAGES, f"{path.relative_to(ROOT)}: {target} is not in docs/images/"
            used.add(image.name)
    taken = {f"{shot.name}.png" for shot in screenshots.SHOTS}
    assert used <= taken, f"not taken by make screenshots: {sorted(used - taken)}"
    on_disk = {p.name for p in IMAGES.glob("*.png")}
    assert on_disk == taken, f"docs/images/ and viz_app/screenshots.py differ: {sorted(on_disk ^ taken)}"
    assert taken <= used, f"taken but used nowhere: {sorted(taken - used)}"


def test_the_pictures_are_small():
    for image in IMAGES.glob("*.png"):
        assert image.stat().st_size <= MAX_IMAGE_KB * 1024, f"{image.name}: {image.stat().st_size // 1024} KB"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path):
    broken = []
    for target in targets(path):
        if not relative(target):
            continue
        file, _, anchor = unquote(target).partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert not broken, broken


def test_the_link_checker_sees_links_anchors_and_pictures():
    """The checks above can fail: the parser finds what a reader would click, and GitHub's anchors."""
    assert slug("The library: `nanogpt/`") == "the-library-nanogpt"
    assert slug("A lecture hall on several processes: make serve") == "a-lecture-hall-on-several-processes-make-serve"
    assert slug("Training in bf16 or float32") == "training-in-bf16-or-float32"
    readme = targets(ROOT / "README.md")
    assert "docs/lecture-hall.md" in readme and "docs/images/phone.png" in readme
    assert "docs/images/attention.png" in images(ROOT / "README.md")
    assert "benchmarks.md#training-in-bf16-or-float32" in targets(ROOT / "docs" / "engineers.md")
    assert "shipped-checkpoints" in anchors(ROOT / "docs" / "models.md")
    # a heading inside a code block is not a heading, a link inside a code span is not a link
    assert "train-presets-baby-lecture-bigram-any-config-field-can-be-overridden" not in anchors(
        ROOT / "docs" / "engineers.md"
    )
    assert len(runnable_blocks()) >= 2


def test_optimise_makes_a_small_palette_png_of_the_same_size():
    from PIL import Image

    rows = [[(x % 256, y % 256, (x * y) % 256) for x in range(320)] for y in range(200)]
    image = Image.new("RGB", (320, 200))
    image.putdata([pixel for row in rows for pixel in row])
    raw = io.BytesIO()
    image.save(raw, format="PNG")
    small = Image.open(io.BytesIO(screenshots.optimise(raw.getvalue())))
    assert small.size == (320, 200) and small.mode == "P" and len(small.getcolors(256) or []) <= 256


@pytest.mark.slow
@pytest.mark.parametrize(("where", "block"), runnable_blocks(), ids=[w for w, _ in runnable_blocks()])
def test_the_runnable_commands_run(where, block, tmp_path):
    """As a newcomer runs them: from the repository's root, the venv's python first on the PATH, a fresh
    home, none of the project's variables, no network needed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATTENTION_LAB_", "NANOGPT_"))}
    env.update(HOME=str(tmp_path), TMPDIR=str(tmp_path), OMP_NUM_THREADS="1",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)]))  # fmt: skip
    done = subprocess.run(["bash", "-e", "-c", block], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=RUNNABLE_S)  # fmt: skip
    assert done.returncode == 0, f"{where} exited {done.returncode}:\n{block}\n{done.stderr[-3000:]}"
