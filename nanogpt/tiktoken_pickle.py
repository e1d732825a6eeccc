"""nanochat's tokenizer.pkl read without running it: the state of one pickled tiktoken.Encoding.

nanochat saves its tokenizer with `pickle.dump(encoding)`. Unpickling such a file the ordinary way
imports whatever it names and calls it, so a hostile file runs code. Here the opcodes are read first
(pickletools.genops, which reads lengths from the bytes and never allocates what a length claims) and
only the handful a pickled Encoding uses are admitted: one global, tiktoken.core.Encoding, built once
with no arguments and given one dict of state. Then the unpickler runs with a find_class that hands
back a local stand-in for that one class (tiktoken is never imported) and refuses any other name.
Every refusal is one TokenizerFileError sentence that names the file and what was wrong.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 64 * 2**20  # a 200k-token vocabulary pickles to ~3 MB; anything far beyond is not a tokenizer
ENCODING_CLASS = ("tiktoken.core", "Encoding")
STATE_KEYS = {"name", "pat_str", "mergeable_ranks", "special_tokens"}
# what pickle.dump of an Encoding (protocols 2-5) writes: strings, bytes, ints, dicts, memo traffic,
# the one global, NEWOBJ of an empty tuple and BUILD; nothing that calls anything else (REDUCE, INST,
# OBJ, NEWOBJ_EX, EXT*, PERSID) and no container a state dict has no use for
ALLOWED_OPCODES = {
    "PROTO", "FRAME", "STOP", "MARK",
    "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
    "SHORT_BINBYTES", "BINBYTES", "BINBYTES8",
    "BININT", "BININT1", "BININT2", "LONG1",
    "EMPTY_DICT", "SETITEM", "SETITEMS", "EMPTY_TUPLE",
    "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET",
    "STACK_GLOBAL", "GLOBAL", "NEWOBJ", "BUILD",
}  # fmt: skip


class TokenizerFileError(ValueError):
    """A tokenizer file that was refused; the message names the file and the problem."""


@dataclass(frozen=True)
class EncodingState:
    """What a pickled tiktoken.Encoding holds: its name, split regex, byte-sequence ranks and specials."""

    name: str
    pat_str: str
    mergeable_ranks: dict[bytes, int]
    special_tokens: dict[str, int]

    @property
    def n_vocab(self) -> int:
        return len(self.mergeable_ranks) + len(self.special_tokens)


class _EncodingStandIn:
    """Takes the place of tiktoken.core.Encoding while unpickling: it only keeps the state it is given."""

    def __setstate__(self, state):
        self.state = state


class _OnlyEncoding(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ENCODING_CLASS:
            return _EncodingStandIn
        raise pickle.UnpicklingError(f"it asks for {module}.{name}")


def read_encoding_state(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> EncodingState:
    """The state of the tiktoken.Encoding pickled in `path`, read without importing or calling anything."""
    path = Path(path)
    if not path.is_file():
        raise TokenizerFileError(f"no tokenizer file at {path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise TokenizerFileError(
            f"{path} is {size:,} bytes, more than any tokenizer.pkl ({max_bytes:,}); refused before reading it."
        )
    data = path.read_bytes()
    _check_opcodes(data, path)
    try:
        obj = _OnlyEncoding(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        if str(e).startswith("it asks for"):
            raise TokenizerFileError(_refused(path, str(e))) from None
        raise TokenizerFileError(f"{path} is not a readable pickle ({e}); it may be truncated.") from None
    except Exception as e:  # noqa: BLE001 - a damaged pickle fails in many ways; none of them ran code
        kind = type(e).__name__
        raise TokenizerFileError(f"{path} is not a readable pickle ({kind}); it may be truncated.") from None
    if not isinstance(obj, _EncodingStandIn) or not hasattr(obj, "state"):
        raise TokenizerFileError(f"{path} holds no tiktoken.Encoding; nanochat's tokenizer.pkl is one.")
    return _checked_state(obj.state, path)


def _refused(path: Path, asked: str) -> str:
    return (
        f"{path} was refused: {asked}, which could run code; nanochat's tokenizer.pkl holds one "
        "tiktoken.Encoding and its plain state. Use the file nanochat's tok_train.py wrote."
    )


def _check_opcodes(data: bytes, path: Path) -> None:
    """Every opcode is one an Encoding's pickle uses, and the file builds one object of one class."""
    globals_seen = builds = 0
    strings: list[str] = []  # the last strings pushed: STACK_GLOBAL takes its module and name from them
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
            name = opcode.name
            if name not in ALLOWED_OPCODES:
                raise TokenizerFileError(_refused(path, f"it uses the pickle opcode {name}"))
            if name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                strings = (strings + [arg])[-2:]
            elif name == "GLOBAL":
                module, _, attr = str(arg).partition(" ")
                if (module, attr) != ENCODING_CLASS:
                    raise TokenizerFileError(_refused(path, f"it asks for {module}.{attr}"))
                globals_seen += 1
            elif name == "STACK_GLOBAL":
                if tuple(strings) != ENCODING_CLASS:
                    raise TokenizerFileError(_refused(path, f"it asks for {'.'.join(strings) or 'a computed name'}"))
                globals_seen += 1
            elif name in ("NEWOBJ", "BUILD"):
                builds += 1
            if name not in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "FRAME"):
                if name not in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                    strings = []
    except TokenizerFileError:
        raise
    except Exception as e:  # noqa: BLE001 - genops raises ValueError for short reads, others for garbage
        raise TokenizerFileError(f"{path} is not a readable pickle ({e}); it may be truncated or damaged.") from None
    if globals_seen != 1 or builds != 2:
        raise TokenizerFileError(
            f"{path} is not one pickled tiktoken.Encoding ({globals_seen} class references, {builds} object "
            "builds where nanochat's file has 1 and 2); refused."
        )


def _checked_state(state, path: Path) -> EncodingState:
    if not isinstance(state, dict):
        what = f"the name {state!r} of a registered encoding" if isinstance(state, str) else type(state).__name__
        raise TokenizerFileError(
            f"{path} holds {what} instead of an Encoding's ranks; nanochat's tokenizer.pkl carries its own."
        )
    if set(state) != STATE_KEYS:
        raise TokenizerFileError(
            f"{path} holds an Encoding state with keys {sorted(map(str, state))}, not {sorted(STATE_KEYS)}."
        )
    name, pat_str, ranks, specials = (state[k] for k in ("name", "pat_str", "mergeable_ranks", "special_tokens"))
    if not isinstance(name, str) or not isinstance(pat_str, str):
        raise TokenizerFileError(f"{path}: the Encoding's name and split pattern should be strings.")
    if not isinstance(ranks, dict) or not all(type(k) is bytes and type(v) is int for k, v in ranks.items()):
        raise TokenizerFileError(f"{path}: mergeable_ranks should map byte strings to ints.")
    if not isinstance(specials, dict) or not all(type(k) is str and type(v) is int for k, v in specials.items()):
        raise TokenizerFileError(f"{path}: special_tokens should map strings to ints.")
    n = len(ranks)
    if n == 0 or set(ranks.values()) != set(range(n)):
        raise TokenizerFileError(
            f"{path}: the {n:,} ranks are not the ids 0..{n - 1:,} each once; the vocabulary would have holes."
        )
    if sorted(specials.values()) != list(range(n, n + len(specials))):
        raise TokenizerFileError(
            f"{path}: the special tokens should follow the {n:,} ranks as ids {n:,}..{n + len(specials) - 1:,}, "
            f"not {sorted(specials.values())[:5]}."
        )
    return EncodingState(name, pat_str, dict(ranks), dict(specials))
