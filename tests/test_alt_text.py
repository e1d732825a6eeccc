"""Every figure's text alternative (viz_app/figures/alt_text.py): a sentence with the headline number and
the numbers as a table, read off the figure itself."""

from __future__ import annotations

import numpy as np

from viz_app.figures import alt_text, classroom, heads
from viz_app.figures import sharpness as sharpness_figs
from viz_app.figures.ablations import val_loss_bars

CHARS = "to be or not"


def space_head(chars: str) -> np.ndarray:
    """Attention weights of a 'last space' head: each position puts 0.8 on the latest space (or itself)."""
    n = len(chars)
    w = np.zeros((n, n))
    for q in range(n):
        w[q, : q + 1] = 0.2 / (q + 1)
        spaces = [k for k in range(q + 1) if chars[k] == " "]
        w[q, spaces[-1] if spaces else q] += 0.8
    return w


def test_an_attention_map_says_where_its_rows_look_and_its_mean_largest_weight():
    w = space_head(CHARS)
    alt = alt_text.describe(heads.head_heatmap(w, CHARS, title="layer 1 · head 2"))
    spaces = sum(1 for q in range(len(CHARS)) if " " in CHARS[: q + 1])
    assert alt.sentence.startswith("layer 1 · head 2: each row's largest weight falls on '␣'")
    assert f"in {spaces / len(CHARS):.0%} of the rows" in alt.sentence
    assert f"mean largest weight {w.max(axis=1).mean():.2f}" in alt.sentence
    assert alt.columns == ["row", *[f"{'␣' if c == ' ' else c} @{i}" for i, c in enumerate(CHARS)]]
    assert alt.rows[2][0] == "␣ @2" and alt.rows[2][1] == round(w[2, 0], 3) and alt.rows[0][2] is None  # the future


def test_a_long_map_keeps_the_last_rows_and_columns_and_says_so():
    chars = "abcd " * 20
    alt = alt_text.describe(heads.head_heatmap(space_head(chars), chars, max_ticks=100))
    assert len(alt.rows) == alt_text.MAX_ROWS and len(alt.columns) == alt_text.MAX_COLS + 1
    assert alt.rows[-1][0] == "␣ @99" and "100 x 100" in alt.note


def test_a_grid_of_numbers_names_its_largest_cell():
    values = np.array([[0.1, 0.2], [0.9, 0.3]])
    alt = alt_text.describe(heads.head_grid(values, title="mean max weight"))
    assert "largest value 0.9 at layer 1 and head 0" in alt.sentence


def test_lines_say_where_each_ends():
    values = np.array([[0.5, 0.25], [0.75, 0.125]])
    alt = alt_text.describe(sharpness_figs.entropy_curves(values, "ab", layer=0, highlight=1, ylabel="nats"))
    assert alt.sentence == "layer 0: nats of each query row: head 0 ends at 0.25; head 1 ends at 0.125."
    assert alt.columns == ["series", "at", "value"] and ["head 1", "a @0", 0.75] in alt.rows


def test_bars_name_the_largest():
    alt = alt_text.describe(val_loss_bars([dict(variant="full", val_loss=1.5, delta=0.0),
                                           dict(variant="bigram", val_loss=2.5, delta=1.0)]))  # fmt: skip
    assert "largest bigram 2.5" in alt.sentence
    alt = alt_text.describe(classroom.tally(["yes", "no"], [1, 4], answer=1))
    assert "largest ✓ B. no 4" in alt.sentence


def test_an_untitled_map_is_called_a_map():
    alt = alt_text.describe(heads.head_grid(np.array([[0.1, 0.2]]), title=""))
    assert alt.sentence.startswith("The map: largest value 0.2")


def test_plain_text_of_a_title():
    assert alt_text.plain("<b>a</b> &amp; b<br>c") == "a & b · c"
