"""Page state, declared once: a Key says which session-state key a widget holds, its choices or range,
its default, whether the URL carries it, whether it outlives its page. A view declares
`STATE = (Key(...), ...)`; the shell's own keys (model, prompt, layer, head, scale, ...) are SHELL.
What happens with the declarations is in state_session.py (a run's keys) and url_state.py (links)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nanogpt.config import ATTN_SCALES
from nanogpt.data import OPENING_LINES

DEFAULT_PROMPT = OPENING_LINES[:117]  # "...You are all resolved": ends mid-line, so the next character is a guess
MAX_URL_PROMPT = 2000  # characters; browsers and proxies cut long URLs
FIGURE_FORMATS = ("png", "svg")  # what the modebar's camera button saves, in the browser (no server dependency)
TRUE, FALSE = ("1", "true", "on", "yes"), ("0", "false", "off", "no")
PICK_HEAD = "_pick_head"  # the session's link named no head: the first page that shows one picks a focused one
HEAD_KEYS = ("layer", "head")
FOCUSED_INSTEAD = "showing this model's most focused head instead."  # not layer 0 head 0, often a uniform head


@dataclass(frozen=True)
class Key:
    """One session-state key a widget draws (its widget key is this name)."""

    name: str
    default: Any = None  # None: the widget picks one from its options at run time
    choices: tuple | None = None  # the only values it may take (a link's other values are refused)
    lo: float | None = None  # the range of a number
    hi: float | None = None
    url: str = ""  # "": not in the URL; "changed": when it is not the default; "always": whenever it is set
    shared: bool = False  # kept on pages that do not draw it
    follows: tuple[str, ...] = ()  # back to the default when one of these keys changes
    max_len: int | None = None  # of a text
    pair: bool = False  # two whole numbers, start < stop, written "93-117" (the zoom window)
    fragment: bool = False  # written by a fragment's runs (a step that Play advances): see _moved

    def parse(self, raw: str):
        """A link's text as this key's value; ValueError when it makes no sense here."""
        if self.pair:
            start, sep, stop = raw.partition("-")
            if not (sep and start.isdigit() and stop.isdigit() and int(start) < int(stop)):
                raise ValueError("not two positions, the first below the second, as 93-117")
            return int(start), int(stop)
        if self.choices is not None:
            for choice in self.choices:
                if url_value(choice) == raw:
                    return choice
            raise ValueError(f"not one of {', '.join(url_value(c) for c in self.choices)}")
        if isinstance(self.default, bool):
            if raw.lower() in TRUE + FALSE:
                return raw.lower() in TRUE
            raise ValueError("not on or off")
        if isinstance(self.default, (int, float)) or self.lo is not None:
            value = int(raw) if isinstance(self.default, int) or self.default is None else float(raw)
            if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
                raise ValueError(f"outside {self.lo:g}–{self.hi:g}" if self.hi is not None else f"below {self.lo:g}")
            return value
        if self.max_len is not None and len(raw) > self.max_len:
            raise ValueError(f"longer than {self.max_len:,} characters")
        return raw


# what every page shares: the sidebar's model and prompt, the head looked at, the scale switch
SHELL = (
    Key("model", url="always", shared=True),
    Key("prompt", DEFAULT_PROMPT, url="changed", shared=True, max_len=MAX_URL_PROMPT),
    Key("layer", 0, lo=0, url="always", shared=True),
    Key("head", 0, lo=0, url="always", shared=True),
    Key("scale", "head_size", choices=ATTN_SCALES, url="always", shared=True),
    Key("presenter", False, url="changed", shared=True),
    Key("cmp", "", url="changed", shared=True),  # the compared model (controls' compare picker)
    Key("window", url="changed", shared=True, follows=("model", "prompt"), pair=True),  # the one-head maps' zoom
    Key("fig_format", "png", choices=FIGURE_FORMATS, shared=True),
)


def url_value(value) -> str:
    """A value as a link writes it: 1/0, 93-117, or its text."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (tuple, list)):
        return "-".join(str(int(v)) for v in value)
    return str(value)


def shown(raw: str) -> str:
    """A link's text as a notice quotes it: a long one cut."""
    return raw if len(raw) <= 40 else f"{raw[:20]}… ({len(raw):,} characters)"
