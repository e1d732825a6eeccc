"""Character-level tokenizer: one id per character, the vocab taken from the training text."""

from __future__ import annotations

import warnings


class UnknownCharactersError(ValueError):
    """Text holds characters the model never saw. `.chars` lists them."""

    def __init__(self, chars: list[str]):
        self.chars = chars
        shown = ", ".join(repr(c) for c in chars[:20]) + (" ..." if len(chars) > 20 else "")
        super().__init__(
            f"{len(chars)} character(s) are not in the model's vocabulary: {shown}. "
            "Remove them, or encode with errors='drop' to skip them."
        )


class CharTokenizer:
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
        unknown = self.unknown_chars(text)
        if unknown:
            if errors != "drop":
                raise UnknownCharactersError(unknown)
            warnings.warn(str(UnknownCharactersError(unknown)) + " They were dropped.", stacklevel=2)
        return [self.stoi[c] for c in text if c in self.stoi]

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def __eq__(self, other) -> bool:
        return isinstance(other, CharTokenizer) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
