"""viz_app.figures.attribution and .induction: pure numpy -> Plotly."""

from __future__ import annotations

import numpy as np

from viz_app.figures import attribution, induction
from viz_app.figures.kit import PRESENTER_STYLE


def test_component_bars_keep_the_largest_and_sum_the_rest_to_the_total():
    names = [f"L0H{h}" for h in range(20)] + ["embed", "L1mlp", "lm_head_bias"]
    values = np.linspace(-1, 1, len(names)) ** 3
    fig = attribution.component_bars(names, values, title="t", total_label="= the logit", top=5)
    bar = fig.data[0]
    assert len(bar.y) == 5 + 2 and bar.y[-2] == f"the other {len(names) - 5}" and bar.y[-1] == "= the logit"
    assert abs(sum(bar.x[:-1]) - values.sum()) < 1e-9 and abs(bar.x[-1] - values.sum()) < 1e-9
    assert abs(bar.x[0]) == max(abs(values))  # the biggest first
    assert "embedding" in " ".join(attribution.component_names(n) for n in ("embed", "pos_embed"))
    assert attribution.component_names("L1mlp") == "L1 MLP" and attribution.component_names("L2H3") == "L2H3 head"


def test_the_query_row_shows_the_keys_up_to_the_query_with_ticks_that_fit():
    chars = "First Citizen:\nBefore we proceed any further, hear me speak." * 2
    weights = np.full(len(chars), 1 / 50, dtype=np.float32)
    fig = attribution.query_row(weights, chars, 49, title="row", style=PRESENTER_STYLE)
    assert len(fig.data[0].y) == 50
    assert len(fig.layout.xaxis.tickvals) <= 1000 / (1.25 * PRESENTER_STYLE.font_size) + 1


def test_copy_losses_mark_where_the_second_copy_starts():
    per = np.concatenate([np.full(15, 4.0), np.full(16, 0.1)]).astype(np.float32)
    fig = induction.copy_losses(per, 16, ablated=per + 1, ablated_label="L1H0 zeroed")
    assert [t.name for t in fig.data] == ["the model", "L1H0 zeroed"]
    assert fig.layout.shapes[0].x0 == 16.5 and list(fig.data[0].x) == list(range(1, 32))


def test_scores_over_training_name_the_heads_that_end_highest():
    scores = np.zeros((3, 2, 2))
    scores[:, 1, 0] = [0.0, 0.5, 0.9]  # L1H0 grows into an induction head
    fig = induction.scores_over_training([0, 100, 200], scores, top=1)
    named = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in named] == ["layer 1 · head 0"] and list(named[0].y) == [0.0, 0.5, 0.9]
    assert len(fig.data) == 4  # the other three heads as thin lines
