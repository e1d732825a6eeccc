"""A GPT whose heads are known because their weights were set by hand: a previous-token head and
an induction head built on it (Olsson et al.'s two-layer circuit), for tests that need a head to find.

No LayerNorm and no feed-forward (the config's ablation switches), so the residual stream is a
set of one-hot subspaces that each head reads and writes exactly:

    dims [0, V)          the current character, one-hot      (token embedding)
    dims [V, V + T)      the position, one-hot                (position embedding)
    dims [V + T, 2V + T) the character before this one       (written by L0H0)
    dims [2V + T, 3V + T) the character that came after the last occurrence of this one (L1H0)

L0H0: query p matches key p - 1 (positions), value = that key's character -> "previous" dims.
L1H0: query p's character matches key j's "previous" dims, so it attends to the key just after an
earlier occurrence of its character; value = key j's character -> "predicted" dims, which the
unembedding reads. L0H1 and L1H1 are all zero: uniform attention, no output.
"""

from __future__ import annotations

import torch

from nanogpt.config import GPTConfig
from nanogpt.model import GPT
from nanogpt.tokenizer import CharTokenizer

VOCAB = "abcdefghijklmnop"  # V = 16 characters
BLOCK = 32  # T
SHARP = 20.0  # the score of a matching key, after the 1/sqrt(head_size) scale: weight ~1 - e^-20
PREV_TOKEN_HEAD, INDUCTION_HEAD = (0, 0), (1, 0)


def induction_model() -> tuple[GPT, CharTokenizer]:
    """The hand-built model (eval mode) and its tokenizer."""
    V, T = len(VOCAB), BLOCK
    tok, pos, prev, pred = 0, V, V + T, 2 * V + T  # where each subspace starts
    C = 96  # 3V + T = 80 used, rounded up to 2 heads of 48
    d = C // 2
    config = GPTConfig(vocab_size=V, block_size=T, n_layer=2, n_head=2, n_embd=C, dropout=0.0, layernorm=False,
                       ffn=False, bias=False, lm_head_bias=False)  # fmt: skip
    model = GPT(config).eval()
    gain = SHARP * d**0.5  # undoes the 1/sqrt(head_size) the scores are multiplied by
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.tok_emb.weight[:, tok : tok + V] = torch.eye(V)
        model.pos_emb.weight[:, pos : pos + T] = torch.eye(T)
        q_rows, k_rows, v_rows = slice(0, d), slice(C, C + d), slice(2 * C, 2 * C + d)  # head 0 of q, k, v
        # L0H0: q = position p, k = position j shifted by one, so q.k is large when j = p - 1
        attn0 = model.blocks[0].attn
        attn0.qkv.weight[q_rows][:T, pos : pos + T] = gain * torch.eye(T)
        attn0.qkv.weight[k_rows][1:T, pos : pos + T - 1] = torch.eye(T - 1)  # key j -> slot j + 1
        attn0.qkv.weight[v_rows][:V, tok : tok + V] = torch.eye(V)
        attn0.proj.weight[prev : prev + V, :V] = torch.eye(V)  # head 0's value -> the "previous" dims
        # L1H0: q = the current character, k = the key's previous character: a match is an earlier occurrence
        attn1 = model.blocks[1].attn
        attn1.qkv.weight[q_rows][:V, tok : tok + V] = gain * torch.eye(V)
        attn1.qkv.weight[k_rows][:V, prev : prev + V] = torch.eye(V)
        attn1.qkv.weight[v_rows][:V, tok : tok + V] = torch.eye(V)
        attn1.proj.weight[pred : pred + V, :V] = torch.eye(V)  # -> the "predicted" dims
        model.lm_head.weight[:, pred : pred + V] = 10.0 * torch.eye(V)  # predict what the induction head read
    return model, CharTokenizer(VOCAB)
