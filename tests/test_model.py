import pytest
import torch

from nanogpt.config import GPTConfig
from nanogpt.model import GPT, BigramLM, build_model, intervene

SWITCHES = [
    {},
    {"residual": False},
    {"layernorm": False},
    {"norm": "post"},
    {"attn_scale": "none"},
    {"attn_scale": "n_embd"},
    {"n_head": 1},
    {"ffn": False},
    {"pos_emb": False},
    {"activation": "gelu"},
    {"model_type": "bigram"},
    # nanoGPT's model (convert.py): bias=False, then bias=True; GELU and a tied lm_head without bias either way
    {"activation": "gelu", "bias": False, "lm_head_bias": False, "tied_lm_head": True},
    {"activation": "gelu", "qkv_bias": True, "lm_head_bias": False, "tied_lm_head": True},
]


def small(**kw) -> GPTConfig:
    base = dict(vocab_size=11, block_size=16, n_layer=2, n_head=4, n_embd=32, dropout=0.0)
    base.update(kw)
    return GPTConfig(**base)


def test_lecture_model_has_the_lectures_parameter_count():
    assert GPT(GPTConfig()).num_params() == 10_788_929


def test_shapes_and_loss():
    torch.manual_seed(0)
    model = GPT(small()).eval()
    idx = torch.randint(0, 11, (3, 16))
    logits, loss = model(idx)
    assert logits.shape == (3, 16, 11) and loss is None
    logits, loss = model(idx, idx)
    assert loss.ndim == 0 and abs(loss.item() - torch.log(torch.tensor(11.0)).item()) < 0.5


def test_too_long_input_is_refused():
    with pytest.raises(ValueError, match="longer than block_size"):
        GPT(small())(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.parametrize("switch", SWITCHES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "full")
def test_causality(switch):
    """Changing a later character never changes the logits of earlier positions."""
    torch.manual_seed(0)
    model = build_model(small(**switch)).eval()
    idx = torch.randint(0, 11, (1, 16))
    changed = idx.clone()
    changed[0, 10:] = (changed[0, 10:] + 1) % 11
    a, _ = model(idx)
    b, _ = model(changed)
    assert torch.allclose(a[0, :10], b[0, :10], atol=1e-6)
    assert not torch.allclose(a[0, 10:], b[0, 10:])


@pytest.mark.parametrize("switch", [s for s in SWITCHES if s.get("model_type") != "bigram"], ids=str)
def test_fast_path_equals_explicit_path(switch):
    torch.manual_seed(0)
    model = build_model(small(**switch)).eval()
    idx = torch.randint(0, 11, (2, 16))
    fast, _ = model(idx)
    with intervene():  # an (empty) intervention forces the explicit path
        explicit, _ = model(idx)
    seen = []
    handle = model.blocks[0].attn.hook_pattern.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    try:
        hooked, _ = model(idx)  # a user's own hook also takes the explicit path
    finally:
        handle.remove()
    H = model.config.n_head
    assert seen == [(2, H, 16, 16)]
    assert torch.allclose(fast, explicit, atol=1e-5)
    assert torch.allclose(fast, hooked, atol=1e-5)


def test_fast_path_is_taken_when_nothing_is_hooked():
    model = GPT(small()).eval()
    seen = []
    model.blocks[0].attn.hook_pattern.register_forward_hook(lambda m, i, o: seen.append(1)).remove()
    model(torch.zeros(1, 5, dtype=torch.long))
    assert seen == []


@pytest.mark.parametrize("switch", SWITCHES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "full")
def test_every_switch_trains(switch):
    """Each ablation builds, runs forward and backward, and its loss falls on a repeated batch."""
    torch.manual_seed(0)
    model = build_model(small(**switch))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    idx = torch.randint(0, 11, (4, 16))
    targets = torch.roll(idx, -1, dims=1)
    losses = []
    for _ in range(30):
        _, loss = model(idx, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]


def test_bigram_is_a_lookup_table():
    model = BigramLM(small(model_type="bigram"))
    assert model.num_params() == 11 * 11
    logits, _ = model(torch.tensor([[3, 3]]))
    assert torch.equal(logits[0, 0], logits[0, 1])


def test_ablation_switches_change_the_model():
    assert build_model(small(pos_emb=False)).pos_emb is None
    assert build_model(small(ffn=False)).blocks[0].ffwd is None
    assert isinstance(build_model(small(layernorm=False)).blocks[0].ln1, torch.nn.Identity)
    assert build_model(small(n_head=1)).blocks[0].attn.head_size == 32


def test_the_defaults_are_the_lectures_layers_and_nanogpts_switches_change_them():
    lecture = GPT(small())
    attn, ffn = lecture.blocks[0].attn, lecture.blocks[0].ffwd.net
    assert attn.qkv.bias is None and attn.proj.bias is not None and ffn[0].bias is not None
    assert lecture.blocks[0].ln1.bias is not None and lecture.ln_f.ln.bias is not None
    assert lecture.lm_head.bias is not None and lecture.lm_head.weight is not lecture.tok_emb.weight
    nanogpt = GPT(small(bias=False, lm_head_bias=False, tied_lm_head=True))
    attn, ffn = nanogpt.blocks[0].attn, nanogpt.blocks[0].ffwd.net
    assert attn.qkv.bias is None and attn.proj.bias is None and ffn[0].bias is None and ffn[2].bias is None
    assert nanogpt.blocks[1].ln2.bias is None and nanogpt.ln_f.ln.bias is None
    assert nanogpt.lm_head.bias is None and nanogpt.lm_head.weight is nanogpt.tok_emb.weight
    assert GPT(small(qkv_bias=True)).blocks[1].attn.qkv.bias.shape == (3 * 32,)
    # the shared weight counts once: the lecture's count less every bias and lm_head's own weight
    block_biases = 32 + (4 * 32 + 32) + 2 * 32  # proj, the feed-forward, ln1 and ln2
    assert nanogpt.num_params() == lecture.num_params() - 2 * block_biases - 32 - 11 - 11 * 32  # ln_f, lm_head


@pytest.mark.parametrize(
    "bad, message",
    [({"norm": "middle"}, "norm"), ({"attn_scale": "d"}, "attn_scale"), ({"n_head": 5}, "divisible"),
     ({"activation": "tanh"}, "activation"), ({"dropout": 1.5}, "dropout")],
)  # fmt: skip
def test_bad_config_is_refused_with_the_reason(bad, message):
    with pytest.raises(ValueError, match=message):
        small(**bad)
