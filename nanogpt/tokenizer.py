"""The one tokenizer interface, for the character models and the byte-pair (BPE) ones.

Every tokenizer has `vocab_size`, `encode(text, errors=...)`, `decode(ids)`, `label(id)` (how a token
is shown: its boundaries and whitespace visible, bytes that are not whole UTF-8 as <0xE2>), `unit`
("character" or "token", for the sentences a page writes) and `spec()`, a small JSON-able dict that
a checkpoint's metadata keeps so the file reopens on any machine (`from_spec`).

CharTokenizer: one id per character, the vocab taken from the training text (the lecture's model).
BPETokenizer: a tiktoken Encoding built from a name, a split pattern, mergeable ranks (bytes -> id)
and special tokens. GPT-2's ranks ship in nanogpt/assets/gpt2.tiktoken (checked against the sha256
tiktoken pins for them), so GPT-2's tokenizer needs no network.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import tempfile
import warnings
from abc import ABC, abstractmethod
from pathlib import Path

UNITS = ("character", "token")
ERRORS = ("strict", "drop")
# whitespace a label makes visible; other control characters are shown as their byte
VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}

GPT2_NAME = "gpt2"
GPT2_RANKS_FILE = Path(__file__).parent / "assets" / "gpt2.tiktoken"
GPT2_RANKS_SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"  # tiktoken's r50k_base pin
GPT2_RANKS_CACHE_NAME = "0ea1e91bbb3a60f729a8dc8f777fd2fc07cd8df4"  # tiktoken's cache name: sha1 of the ranks' URL
# tiktoken's r50k_base / gpt2 split pattern (tiktoken_ext/openai_public.py); written out so that
# building the tokenizer never asks tiktoken's registry, which would download the ranks
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
GPT2_SPECIAL_TOKENS = {"<|endoftext|>": 50256}
GPT2_VOCAB_SIZE = 50257
PROBE_IDS = 20_000  # how many of a BPE's ranks past the bytes a probe of random tokens draws from
MAX_EMBEDDED_RANKS_BYTES = 8 * 2**20  # ranks written into a checkpoint's JSON header: a spec, not a corpus


class UnknownCharactersError(ValueError):
    """Text holds characters the model never saw. `.chars` lists them."""

    def __init__(self, chars: list[str]):
        self.chars = chars
        shown = ", ".join(repr(c) for c in chars[:20]) + (" ..." if len(chars) > 20 else "")
        super().__init__(
            f"{len(chars)} character(s) are not in the model's vocabulary: {shown}. "
            "Remove them, or encode with errors='drop' to skip them."
        )


class TokenizerError(ValueError):
    """A tokenizer that cannot be built (a missing or altered ranks file, an unreadable spec)."""


def visible(text: str) -> str:
    """Text as a label shows it: a space as ␣, newline ↵, tab ⇥; other control characters as <0x07>."""
    return "".join(VISIBLE.get(c, f"<0x{ord(c):02X}>" if ord(c) < 32 or ord(c) == 127 else c) for c in text)


def show_bytes(data: bytes) -> str:
    """Bytes as a label: the UTF-8 they hold, made visible, and each byte that is not part of a whole
    UTF-8 character as <0xE2> (a BPE token can hold a piece of a character)."""
    out, rest = [], data
    while rest:
        try:
            out.append(visible(rest.decode("utf-8")))
            break
        except UnicodeDecodeError as e:
            out.append(visible(rest[: e.start].decode("utf-8")))
            out.extend(f"<0x{b:02X}>" for b in rest[e.start : e.end])
            rest = rest[e.end :]
    return "".join(out)


class Tokenizer(ABC):
    """What every page and loader asks of a tokenizer; see the module's docstring."""

    unit: str  # "character" | "token"

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """How many ids are tokens (a model may have more rows: nanoGPT pads 50257 to 50304)."""

    @abstractmethod
    def encode(self, text: str, errors: str = "strict") -> list[int]: ...

    @abstractmethod
    def decode(self, ids) -> str: ...

    @abstractmethod
    def label(self, token_id: int) -> str:
        """One token as a page shows it (see the module's docstring)."""

    @abstractmethod
    def spec(self) -> dict:
        """A JSON-able description from which from_spec rebuilds this tokenizer."""

    def labels(self, ids) -> list[str]:
        return [self.label(int(i)) for i in ids]

    def unknown_chars(self, text: str) -> list[str]:
        """Characters of `text` this tokenizer cannot encode, in order of first appearance (a byte-level
        BPE encodes every text: none)."""
        return []

    def piece(self, token_id: int) -> str:
        """The text one token decodes to on its own (a piece of a character decodes to U+FFFD)."""
        return self.decode([int(token_id)])

    def probe_ids(self) -> tuple[int, int]:
        """The ids [low, high) a probe of random tokens draws from (the induction probe): every one."""
        return 0, self.vocab_size

    @functools.cached_property
    def vocab_labels(self) -> list[str]:
        """label(i) for every id, in id order (distributions over the whole vocabulary)."""
        return [self.label(i) for i in range(self.vocab_size)]


class CharTokenizer(Tokenizer):
    unit = "character"

    def __init__(self, chars: str | list[str]):
        chars = list(chars)
        if not chars:
            raise ValueError("a tokenizer needs at least one character")
        if len(set(chars)) != len(chars):
            raise ValueError("the vocabulary has repeated characters")
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def unknown_chars(self, text: str) -> list[str]:
        """Characters of `text` outside the vocab, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.stoi))

    def encode(self, text: str, errors: str = "strict") -> list[int]:
        """Ids for `text`. errors='strict' raises UnknownCharactersError, 'drop' warns and skips."""
        _check_errors(errors)
        unknown = self.unknown_chars(text)
        if unknown:
            if errors != "drop":
                raise UnknownCharactersError(unknown)
            warnings.warn(str(UnknownCharactersError(unknown)) + " They were dropped.", stacklevel=2)
        return [self.stoi[c] for c in text if c in self.stoi]

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def label(self, token_id: int) -> str:
        return visible(self.chars[int(token_id)])

    def spec(self) -> dict:
        return {"kind": "char", "chars": list(self.chars)}

    def __eq__(self, other) -> bool:
        return isinstance(other, CharTokenizer) and self.chars == other.chars

    def __hash__(self) -> int:
        return hash(tuple(self.chars))

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


class BPETokenizer(Tokenizer):
    """A byte-pair tokenizer: tiktoken's Encoding of (name, pattern, mergeable ranks, special tokens).

    The constructor is the public way to build one (nanochat's tokenizer is built on it); GPT-2's is
    BPETokenizer.gpt2(). Text encodes as nanoGPT's sample.py encodes it (special tokens written in
    the text are those tokens) and decodes as it decodes (a piece of a character becomes U+FFFD).
    """

    unit = "token"

    def __init__(
        self,
        name: str,
        pattern: str,
        mergeable_ranks: dict[bytes, int],
        special_tokens: dict[str, int],
        bos: str | None = None,
    ):
        """bos: a special token every encoded text starts with (nanochat's `<|bos|>`), None for none."""
        import tiktoken  # here, not at the top: the character models never need it

        if not mergeable_ranks:
            raise TokenizerError(f"the tokenizer {name!r} has no ranks")
        self.name = name
        self.pattern = pattern
        self.mergeable_ranks = dict(mergeable_ranks)
        self.special_tokens = dict(special_tokens)
        try:
            self.encoding = tiktoken.Encoding(
                name, pat_str=pattern, mergeable_ranks=self.mergeable_ranks, special_tokens=self.special_tokens
            )
        except (ValueError, TypeError) as e:
            raise TokenizerError(f"the tokenizer {name!r} could not be built ({e})") from None
        self._special_of_id = {i: s for s, i in self.special_tokens.items()}
        self._is_gpt2 = False
        if bos is not None and bos not in self.special_tokens:
            raise TokenizerError(f"the tokenizer {name!r} has no special token {bos!r} to start texts with")
        self.bos = bos

    @classmethod
    def gpt2(cls) -> BPETokenizer:
        """GPT-2's tokenizer (tiktoken's `gpt2` = `r50k_base`), with no network; built once."""
        return _gpt2()

    @property
    def vocab_size(self) -> int:
        return self.encoding.n_vocab

    def encode(self, text: str, errors: str = "strict") -> list[int]:
        """Ids for `text`; every text has them, so `errors` changes nothing (it is the interface's)."""
        _check_errors(errors)
        ids = self.encoding.encode(text, allowed_special="all")
        if self.bos is not None and ids[:1] != [self.special_tokens[self.bos]]:
            ids.insert(0, self.special_tokens[self.bos])  # nanochat starts every document with <|bos|>
        return ids

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        bad = next((i for i in ids if not self.is_token(i)), None)
        if bad is not None:
            raise ValueError(f"id {bad} is not a token of {self.name} (ids 0..{self.vocab_size - 1})")
        return self.encoding.decode(ids)

    def is_token(self, token_id: int) -> bool:
        """Whether the id stands for a token (not a gap between ranks, not past the vocabulary)."""
        if token_id in self._special_of_id:
            return True
        try:
            self.encoding.decode_single_token_bytes(token_id)
            return True
        except (KeyError, ValueError, OverflowError):
            return False

    def probe_ids(self) -> tuple[int, int]:
        """Past the 256 single bytes (pieces of characters, control codes), the next PROBE_IDS ranks:
        ordinary, frequent tokens (GPT-2's rarest ranks include its glitch tokens), no special token."""
        high = min(len(self.mergeable_ranks), 256 + PROBE_IDS)
        return (256, high) if high - 256 >= 2 else (0, len(self.mergeable_ranks))

    def token_bytes(self, token_id: int) -> bytes:
        return self.encoding.decode_single_token_bytes(int(token_id))

    def label(self, token_id: int) -> str:
        token_id = int(token_id)
        if token_id in self._special_of_id:
            return self._special_of_id[token_id]
        if not self.is_token(token_id):
            return f"<unused {token_id}>"
        return show_bytes(self.token_bytes(token_id))

    def spec(self) -> dict:
        if self._is_gpt2:
            return {"kind": "bpe", "name": GPT2_NAME}
        ranks = "\n".join(f"{base64.b64encode(t).decode()} {r}" for t, r in sorted(self.mergeable_ranks.items(),
                                                                                     key=lambda kv: kv[1]))  # fmt: skip
        return {
            "kind": "bpe",
            "name": self.name,
            "pattern": self.pattern,
            "ranks": ranks,
            "special_tokens": dict(self.special_tokens),
            **({"bos": self.bos} if self.bos is not None else {}),
        }

    def __eq__(self, other) -> bool:
        return isinstance(other, BPETokenizer) and (self.pattern, self.mergeable_ranks, self.special_tokens) == (
            other.pattern,
            other.mergeable_ranks,
            other.special_tokens,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.pattern, len(self.mergeable_ranks)))

    def __repr__(self) -> str:
        return f"BPETokenizer({self.name!r}, vocab_size={self.vocab_size})"


def _check_errors(errors: str) -> None:
    if errors not in ERRORS:
        raise ValueError(f"errors must be one of {', '.join(ERRORS)}, not {errors!r}")


def parse_ranks(data: bytes | str, what: str) -> dict[bytes, int]:
    """tiktoken's ranks format: one `base64(token) rank` per line."""
    if isinstance(data, str):
        data = data.encode("ascii", errors="replace")
    ranks = {}
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except ValueError:
            raise TokenizerError(f"{what}: line {number} is not `base64 rank`") from None
    return ranks


def gpt2_ranks_candidates() -> list[Path]:
    """Where GPT-2's ranks are looked for: the copy this package ships, then tiktoken's cache (its
    TIKTOKEN_CACHE_DIR, DATA_GYM_CACHE_DIR or <tmp>/data-gym-cache, as tiktoken looks)."""
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    cache_dir = Path(cache) if cache else Path(tempfile.gettempdir()) / "data-gym-cache"
    return [GPT2_RANKS_FILE, cache_dir / GPT2_RANKS_CACHE_NAME]


@functools.cache
def _gpt2() -> BPETokenizer:
    seen = []
    for path in gpt2_ranks_candidates():
        try:
            data = path.read_bytes()
        except OSError:
            seen.append(f"{path} (absent)")
            continue
        if hashlib.sha256(data).hexdigest() != GPT2_RANKS_SHA256:
            seen.append(f"{path} (not the file: its sha256 differs)")
            continue
        tokenizer = BPETokenizer(GPT2_NAME, GPT2_PATTERN, parse_ranks(data, str(path)), GPT2_SPECIAL_TOKENS)
        tokenizer._is_gpt2 = True
        return tokenizer
    raise TokenizerError(
        "GPT-2's tokenizer needs its ranks file, and none was usable: " + "; ".join(seen) + ". Reinstall "
        "attention-lab, or put gpt2.tiktoken (from PyPI's openai-whisper, whisper/assets/) at the first path."
    )


def from_spec(spec: dict) -> Tokenizer:
    """The tokenizer a checkpoint's metadata describes (Tokenizer.spec's output)."""
    if not isinstance(spec, dict):
        raise TokenizerError(f"a tokenizer spec is a JSON object, not {type(spec).__name__}")
    kind = spec.get("kind")
    if kind == "char":
        chars = spec.get("chars")
        if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise TokenizerError("a character tokenizer's spec needs `chars`, a list of single characters")
        return CharTokenizer(chars)
    if kind != "bpe":
        raise TokenizerError(f"unknown tokenizer kind {kind!r} (known: char, bpe)")
    name = spec.get("name")
    if "ranks" not in spec:
        if name in (GPT2_NAME, "r50k_base"):
            return BPETokenizer.gpt2()
        raise TokenizerError(f"a BPE tokenizer named {name!r} with no ranks; only gpt2's ship with attention lab")
    ranks, pattern, specials = spec.get("ranks"), spec.get("pattern"), spec.get("special_tokens", {})
    if not isinstance(ranks, str) or len(ranks) > MAX_EMBEDDED_RANKS_BYTES:
        raise TokenizerError(
            f"the tokenizer {name!r}: its ranks are not a text of at most {MAX_EMBEDDED_RANKS_BYTES:,}"
        )
    if not isinstance(pattern, str) or not isinstance(specials, dict):
        raise TokenizerError(f"the tokenizer {name!r}: its pattern is not a string or its special tokens not a dict")
    if not all(isinstance(k, str) and type(v) is int for k, v in specials.items()):
        raise TokenizerError(f"the tokenizer {name!r}: its special tokens are not names -> ids")
    bos = spec.get("bos")
    if bos is not None and not isinstance(bos, str):
        raise TokenizerError(f"the tokenizer {name!r}: its bos is not a token name")
    return BPETokenizer(str(name), pattern, parse_ranks(ranks, f"the tokenizer {name!r}"), specials, bos=bos)
