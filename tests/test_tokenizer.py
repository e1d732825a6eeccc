import base64
import hashlib
import json
from pathlib import Path

import pytest
import tiktoken

from nanogpt import tokenizer as tokenizers
from nanogpt.tokenizer import (
    BPETokenizer,
    CharTokenizer,
    TokenizerError,
    UnknownCharactersError,
    from_spec,
    show_bytes,
    visible,
)


def test_round_trip_and_sorted_vocab():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == sorted(set("hello world"))
    assert tok.decode(tok.encode("low hold")) == "low hold"


def test_unknown_characters_are_named():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(UnknownCharactersError) as err:
        tok.encode("abz€z")
    assert err.value.chars == ["z", "€"]
    assert "'z'" in str(err.value) and "'€'" in str(err.value) and "errors='drop'" in str(err.value)


def test_unknown_characters_can_be_dropped_with_a_warning():
    tok = CharTokenizer.from_text("abc")
    with pytest.warns(UserWarning, match="dropped"):
        assert tok.decode(tok.encode("a?b!c", errors="drop")) == "abc"


def test_bad_vocab():
    with pytest.raises(ValueError):
        CharTokenizer("")
    with pytest.raises(ValueError):
        CharTokenizer(["a", "a"])


# --- the one interface, and GPT-2's byte-pair tokenizer -----------------------------------------------------

GPT2_TEXTS = json.loads((Path(__file__).parent / "fixtures" / "gpt2-texts.json").read_text())["public"]


def test_gpt2_encodes_and_decodes_as_tiktoken_gpt2_did_for_the_fixture():
    tok = BPETokenizer.gpt2()
    assert tok.vocab_size == 50257 and tok.unit == "token"
    ids = tok.encode(GPT2_TEXTS["text"])
    assert ids == GPT2_TEXTS["ids"]  # written by tiktoken.get_encoding("gpt2")
    assert [tok.piece(i) for i in ids] == GPT2_TEXTS["pieces"]
    assert tok.decode(ids) == GPT2_TEXTS["text"]
    # nanoGPT's sample.py encodes with allowed_special={"<|endoftext|>"}: the text of the token is the token
    assert tok.encode("a<|endoftext|>b") == [64, 50256, 65]


def test_the_shipped_ranks_are_tiktokens_pinned_file():
    data = tokenizers.GPT2_RANKS_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == tokenizers.GPT2_RANKS_SHA256
    assert (tokenizers.GPT2_RANKS_FILE.parent / "LICENSE-gpt2.tiktoken").read_text().startswith("MIT License")


def test_gpt2_is_refused_with_a_sentence_when_no_ranks_file_is_the_pinned_one(tmp_path, monkeypatch):
    altered = tmp_path / "gpt2.tiktoken"
    altered.write_bytes(tokenizers.GPT2_RANKS_FILE.read_bytes().replace(b" 0\n", b" 1\n", 1))
    monkeypatch.setattr(tokenizers, "GPT2_RANKS_FILE", altered)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    tokenizers._gpt2.cache_clear()
    try:
        with pytest.raises(TokenizerError, match="sha256 differs.*absent"):
            BPETokenizer.gpt2()
        # a user's tiktoken cache (the file under tiktoken's cache name) is the second place looked in
        (tmp_path / "cache").mkdir()
        (tmp_path / "cache" / tokenizers.GPT2_RANKS_CACHE_NAME).write_bytes(
            (Path(tokenizers.__file__).parent / "assets" / "gpt2.tiktoken").read_bytes()
        )
        assert BPETokenizer.gpt2().encode(" the") == [262]
    finally:
        tokenizers._gpt2.cache_clear()


def test_labels_show_boundaries_whitespace_and_partial_bytes():
    tok = BPETokenizer.gpt2()
    ids = tok.encode("ROMEO:\nBut\tsoft")
    assert tok.labels(ids) == ["ROM", "EO", ":", "↵", "But", "⇥", "soft"]
    assert tok.label(262) == "␣the"
    # “ is three bytes, E2 80 9C, that GPT-2 splits after the second: neither half is a character
    ids = tok.encode(" “hi”")
    assert tok.labels(ids)[:2] == ["␣<0xE2><0x80>", "<0x9C>"]
    assert tok.decode(ids) == " “hi”"
    assert tok.label(50256) == "<|endoftext|>" and tok.label(50257) == "<unused 50257>"
    with pytest.raises(ValueError, match="50300 is not a token"):
        tok.decode([1, 50300])
    assert show_bytes("é".encode() + b"\xff") == "é<0xFF>" and visible("a\x07 b") == "a<0x07>␣b"


def test_char_tokenizer_speaks_the_same_interface():
    tok = CharTokenizer.from_text("ab \n")
    assert tok.unit == "character" and tok.labels(tok.encode("a b\n")) == ["a", "␣", "b", "↵"]
    assert from_spec(json.loads(json.dumps(tok.spec()))) == tok
    with pytest.raises(ValueError, match="errors must be"):
        tok.encode("a", errors="ignore")


def test_a_bpe_tokenizer_from_its_parts_round_trips_through_its_json_spec():
    """What nanochat's tokenizer is built on: name, pattern, ranks and special tokens, no file."""
    ranks = {bytes([b]): b for b in range(256)} | {b"ab": 256, b"abab": 257}
    tok = BPETokenizer("tiny", tokenizers.GPT2_PATTERN, ranks, {"<|bos|>": 258})
    assert tok.encode("ababab<|bos|>") == [257, 256, 258] and tok.vocab_size == 259
    again = from_spec(json.loads(json.dumps(tok.spec())))
    assert again == tok and again.encode("abab ab") == tok.encode("abab ab") and again.label(258) == "<|bos|>"
    same = tiktoken.Encoding("tiny", pat_str=tokenizers.GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})
    assert tok.encode("xx abab") == same.encode("xx abab")
    assert from_spec({"kind": "bpe", "name": "gpt2"}) is BPETokenizer.gpt2()


@pytest.mark.parametrize(
    "spec, problem",
    [
        ({"kind": "sentencepiece"}, "unknown tokenizer kind"),
        ({"kind": "bpe", "name": "cl100k_base"}, "only gpt2's ship"),
        ({"kind": "bpe", "name": "x", "pattern": ".", "ranks": "not base64!! 0"}, "line 1"),
        (
            {"kind": "bpe", "name": "x", "pattern": ".", "ranks": "x" * (tokenizers.MAX_EMBEDDED_RANKS_BYTES + 1)},
            "at most",
        ),
        ({"kind": "bpe", "name": "x", "pattern": 3, "ranks": base64.b64encode(b"a").decode() + " 0"}, "pattern"),
        ({"kind": "char", "chars": ["ab"]}, "single characters"),
        ([], "JSON object"),
    ],
)
def test_unreadable_specs_are_one_sentence(spec, problem):
    with pytest.raises(TokenizerError, match=problem):
        from_spec(spec)
