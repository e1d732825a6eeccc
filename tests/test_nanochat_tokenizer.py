"""nanochat's tokenizer.pkl, read without running it: the fixture's file (written by nanochat's own
RustBPETokenizer.save) gives the ids nanochat gave, and hostile pickles are refused with one sentence
before anything in them is imported, called or allocated."""

from __future__ import annotations

import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from nanogpt.tiktoken_pickle import MAX_BYTES, TokenizerFileError, read_encoding_state
from nanogpt.tokenizer import BPETokenizer, from_spec

FIXTURE = Path(__file__).parent / "fixtures" / "nanochat" / "base"
PKL = FIXTURE / "tokenizer" / "tokenizer.pkl"
HEADER = b"\x80\x04\x8c\rtiktoken.core\x94\x8c\x08Encoding\x94\x93\x94)\x81\x94"  # the class, then NEWOBJ


def encoding_pickle(state_ops: bytes) -> bytes:
    """A pickle shaped as nanochat's: tiktoken.core.Encoding built empty, then BUILD with the state ops."""
    return HEADER + state_ops + b"b."


def state_ops(state) -> bytes:
    return pickle.dumps(state, protocol=3)[2:-1]  # without PROTO and STOP (3: bytes as BINBYTES, no frames)


def good_state() -> dict:
    return {"name": "t", "pat_str": r"\s+|\S+", "mergeable_ranks": {bytes([i]): i for i in range(256)},
            "special_tokens": {"<|bos|>": 256}}  # fmt: skip


def write(tmp_path, data: bytes) -> Path:
    path = tmp_path / "tokenizer.pkl"
    path.write_bytes(data)
    return path


def test_the_fixture_reads_as_nanochat_encoded_it():
    state = read_encoding_state(PKL)
    assert state.name == "rustbpe" and len(state.mergeable_ranks) == 503 and state.n_vocab == 512
    assert list(state.special_tokens) == ["<|bos|>", "<|user_start|>", "<|user_end|>", "<|assistant_start|>",
                                          "<|assistant_end|>", "<|python_start|>", "<|python_end|>",
                                          "<|output_start|>", "<|output_end|>"]  # fmt: skip
    tok = BPETokenizer(state.name, state.pat_str, state.mergeable_ranks, state.special_tokens, bos="<|bos|>")
    text = json.loads((FIXTURE / "text.json").read_text())
    with np.load(FIXTURE / "expected.npz") as f:
        ids = f["ids"].tolist()
    assert tok.encode(text["prompt"]) == ids  # <|bos|> first, as nanochat's encode(prepend=bos)
    assert tok.label(ids[0]) == "<|bos|>" and tok.label(504) == "<|user_start|>"
    assert tok.encode("<|bos|>hi") == tok.encode("hi")  # not twice
    assert from_spec(tok.spec()) == tok and from_spec(tok.spec()).bos == "<|bos|>"


def test_a_pickle_tiktoken_itself_writes_is_read(tmp_path):
    tiktoken = pytest.importorskip("tiktoken")
    s = good_state()
    enc = tiktoken.Encoding(s["name"], pat_str=s["pat_str"], mergeable_ranks=s["mergeable_ranks"],
                            special_tokens=s["special_tokens"])  # fmt: skip
    for protocol in (3, 4, 5):  # 2 writes bytes through _codecs.encode, which is refused
        state = read_encoding_state(write(tmp_path, pickle.dumps(enc, protocol=protocol)))
        assert state.mergeable_ranks == s["mergeable_ranks"] and state.special_tokens == s["special_tokens"]


class Boom:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return self.fn, (self.arg,)


@pytest.mark.parametrize(
    "data, needle",
    [
        (pickle.dumps(Boom(os.system, "touch /tmp/pwned-by-pickle")), "system"),
        (pickle.dumps(Boom(eval, "1+1")), "builtins.eval"),
        # the allowed class called through REDUCE inside the state: a nested reduce
        (encoding_pickle(b"}(\x8c\x04name\x8c\rtiktoken.core\x8c\x08Encoding\x93)Ru."), "REDUCE"),
        # the os.system global hidden inside an otherwise well-formed state
        (encoding_pickle(b"}(\x8c\x04name\x8c\x02os\x8c\x06system\x93u."), "os.system"),
        # the class name assembled from the memo rather than written out
        (HEADER[:2] + b"\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93)\x81}b.", "computed name"),
    ],
)
def test_hostile_pickles_are_refused_unrun(tmp_path, data, needle):
    with pytest.raises(TokenizerFileError) as e:
        read_encoding_state(write(tmp_path, data))
    message = str(e.value)
    assert needle in message and "refused" in message and "\n" not in message
    assert not Path("/tmp/pwned-by-pickle").exists()


def test_a_gigabyte_claim_is_refused_before_allocating(tmp_path):
    # BINBYTES8 claiming 1 GB with 10 bytes behind it: refused from the length, nothing allocated
    claim = b"\x8e" + struct.pack("<Q", 2**30) + b"0123456789"
    with pytest.raises(TokenizerFileError, match="not a readable pickle"):
        read_encoding_state(write(tmp_path, encoding_pickle(b"}(\x8c\x04name" + claim + b"u")))
    big = write(tmp_path, b"\x80\x04" + b"\x00" * 2048)
    with pytest.raises(TokenizerFileError, match="more than any tokenizer.pkl"):
        read_encoding_state(big, max_bytes=1024)
    assert MAX_BYTES < 2**30


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda s: s["mergeable_ranks"].pop(bytes([7])), "0..254"),
        (lambda s: s["special_tokens"].update({"<|bos|>": 300}), "should follow"),
        (lambda s: s.pop("pat_str"), "keys"),
        (lambda s: s["mergeable_ranks"].update({"x": 999}), "byte strings"),
    ],
)
def test_states_that_are_no_vocabulary_are_refused(tmp_path, change, needle):
    state = good_state()
    change(state)
    with pytest.raises(TokenizerFileError, match=needle):
        read_encoding_state(write(tmp_path, encoding_pickle(state_ops(state))))


def test_a_registered_name_instead_of_ranks_is_refused(tmp_path):
    # tiktoken pickles a registered encoding ("gpt2") as its name; unpickling would download the ranks
    with pytest.raises(TokenizerFileError, match="registered encoding"):
        read_encoding_state(write(tmp_path, encoding_pickle(state_ops("gpt2"))))
