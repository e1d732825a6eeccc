import pytest

from nanogpt.tokenizer import CharTokenizer, UnknownCharactersError


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
