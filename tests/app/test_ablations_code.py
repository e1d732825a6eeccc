"""The Ablations page's line of code: shown whole, its shared indentation taken off."""

from __future__ import annotations

from viz_app.views.ablations import dedented


def test_the_shared_indentation_goes_and_the_nesting_stays():
    lines = [(194, "        x = x + attn_out if cfg.residual else attn_out"), (195, ""), (200, "            y = 1")]
    assert dedented(lines) == [(194, "x = x + attn_out if cfg.residual else attn_out"), (195, ""), (200, "    y = 1")]
    assert dedented([]) == []
