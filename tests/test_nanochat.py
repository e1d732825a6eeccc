"""nanochat runs: every era's checkpoint, written and run by that era's own nanochat commit, gives
the logits and every head's attention nanochat computed (tests/fixtures/nanochat/README.md), through
the project's one capture; runs open the way their users have them; bad layouts are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nanogpt.capture import run_with_cache
from nanogpt.checkpoint import CheckpointError
from nanogpt.nanochat import ERAS
from nanogpt.nanochat_run import describe, find_checkpoints, load_nanochat

FIXTURES = Path(__file__).parent / "fixtures" / "nanochat"
BASE = FIXTURES / "base"
ERA_DIRS = {era: FIXTURES / "eras" / era for era in ERAS}
LOGIT_TOL, PATTERN_TOL = 1e-4, 1e-5
PATTERNS = r"blocks\.\d+\.attn\.hook_pattern"


def expected(folder: Path) -> dict:
    with np.load(folder / "expected.npz") as f:
        return {name: f[name] for name in f.files}


def differences(ckpt, want: dict) -> tuple[float, float]:
    """(logits, attention): the largest absolute difference from nanochat's own numbers, at its rows."""
    logits, cache = run_with_cache(ckpt.model, torch.tensor(want["ids"]), PATTERNS)
    rows = torch.from_numpy(want["rows"])
    patterns = cache.stack("attn.hook_pattern")[:, 0][:, :, rows]  # (L, H, rows, T)
    return (
        float((logits[0, rows] - torch.from_numpy(want["logits"])).abs().max()),
        float((patterns - torch.from_numpy(want["attentions"])).abs().max()),
    )


@pytest.mark.parametrize("era", [e for e in ERAS if e != "C-late"])
def test_every_era_computes_what_its_nanochat_computed(era):
    ckpt = load_nanochat(ERA_DIRS[era])
    assert ckpt.meta["nanochat"]["era"] == era
    want = expected(ERA_DIRS[era])
    windows = [-1 if w is None else w for w in ckpt.model.config.windows()]
    assert windows == want["windows"].tolist()
    logit_diff, pattern_diff = differences(ckpt, want)
    assert logit_diff < LOGIT_TOL and pattern_diff < PATTERN_TOL, (era, logit_diff, pattern_diff)


def test_c_late_shares_cs_layout_and_is_exact_when_named():
    """Nothing in the file tells C (softcap 15, bf16 RoPE tables) from C-late (20, float32): the
    default is C and says so; naming the era makes it exact, and the two differ far beyond 1e-4."""
    want = expected(ERA_DIRS["C-late"])
    guessed = load_nanochat(ERA_DIRS["C-late"])
    assert guessed.meta["nanochat"]["era"] == "C" and "C-late" in guessed.meta["nanochat"]["era_note"]
    assert differences(guessed, want)[0] > 0.1
    named = load_nanochat(ERA_DIRS["C-late"], era="C-late")
    logit_diff, pattern_diff = differences(named, want)
    assert logit_diff < LOGIT_TOL and pattern_diff < PATTERN_TOL


def test_the_base_dir_opens_at_its_newest_step_and_exactly():
    ckpt = load_nanochat(BASE)
    run = ckpt.meta["nanochat"]
    assert (run["stage"], run["tag"], run["step"], run["depth"], run["era"]) == ("base", "d4", 300, 4, "E")
    assert run["steps"] == [150, 300] and ckpt.meta["val_bpb"] == pytest.approx(1.1375)
    assert "step 300" in describe(ckpt) and "era E" in describe(ckpt)
    want = expected(BASE)
    assert ckpt.tokenizer.encode(json.loads((BASE / "text.json").read_text())["prompt"]) == want["ids"].tolist()
    logit_diff, pattern_diff = differences(ckpt, want)
    assert logit_diff < LOGIT_TOL and pattern_diff < PATTERN_TOL
    # with no hook the fast path (SDPA under the window mask) gives the same logits
    with torch.no_grad():
        fast, _ = ckpt.model(torch.tensor(want["ids"])[None])
    captured, _ = run_with_cache(ckpt.model, torch.tensor(want["ids"]), PATTERNS)
    assert float((fast - captured).abs().max()) < 1e-5


def test_any_step_by_dir_file_or_number():
    older = load_nanochat(BASE, step=150)
    assert older.meta["nanochat"]["step"] == 150
    by_file = load_nanochat(BASE / "base_checkpoints" / "d4" / "model_000150.pt")
    assert by_file.meta["nanochat"]["step"] == 150
    by_dir = load_nanochat(BASE / "base_checkpoints" / "d4")
    assert by_dir.meta["nanochat"]["step"] == 300
    assert not torch.equal(older.model.lm_head.weight, by_dir.model.lm_head.weight)
    with pytest.raises(CheckpointError, match="no step 7 .*150, 300"):
        load_nanochat(BASE, step=7)
    with pytest.raises(CheckpointError, match="no sft checkpoints"):
        load_nanochat(BASE, stage="sft")


def nanochat_tree(tmp_path, stage_folder="base_checkpoints") -> Path:
    root = tmp_path / "run"
    shutil.copytree(BASE / "tokenizer", root / "tokenizer")
    shutil.copytree(BASE / "base_checkpoints" / "d4", root / stage_folder / "d4")
    return root


def test_stages_bf16_and_compiled_names_are_accepted(tmp_path):
    root = nanochat_tree(tmp_path)
    sft = root / "chatsft_checkpoints" / "d4"
    sft.mkdir(parents=True)
    state = torch.load(root / "base_checkpoints/d4/model_000300.pt", weights_only=True)
    # a GPU run's file: embeddings in bfloat16, every name under torch.compile's _orig_mod.
    gpu = {("_orig_mod." + k): (v.bfloat16() if "wte" in k or "value_embeds" in k else v) for k, v in state.items()}
    torch.save(gpu, sft / "model_000020.pt")
    meta = json.loads((root / "base_checkpoints/d4/meta_000300.json").read_text())
    (sft / "meta_000020.json").write_text(json.dumps({"step": 20, "val_bpb": 0.9, "model_config": meta["model_config"],
                                                      "user_config": {}}))  # fmt: skip
    files = find_checkpoints(root)
    assert [(f.stage, f.step) for f in files] == [("base", 150), ("base", 300), ("sft", 20)]
    ckpt = load_nanochat(root)  # the last stage by default
    run = ckpt.meta["nanochat"]
    assert (run["stage"], run["step"], run["compiled"], run["stages"]) == ("sft", 20, True, ["base", "sft"])
    assert ckpt.model.tok_emb.weight.dtype == torch.float32
    base = load_nanochat(root, stage="base")
    assert base.meta["nanochat"]["step"] == 300


def rewrite(root: Path, change) -> None:
    path = root / "base_checkpoints/d4/model_000300.pt"
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda s: s.update({"bigram_embed.embed.weight": torch.zeros(512, 64)}), "also holds bigram_embed"),
        (lambda s: s.update({"transformer.h.1.attn.ve_gate.weight": torch.zeros(4, 16)}), "shape (4, 16)"),
        (lambda s: s.pop("transformer.h.2.mlp.c_fc.weight"), "has no transformer.h.2.mlp.c_fc.weight"),
        (lambda s: s.pop("smear_lambda"), "smear_lambda"),
    ],
)
def test_unknown_layouts_are_refused_naming_the_key_or_shape(tmp_path, change, needle):
    root = nanochat_tree(tmp_path)
    rewrite(root, change)
    with pytest.raises(CheckpointError) as e:
        load_nanochat(root)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_a_claim_beyond_the_limits_is_refused_before_reading_weights(tmp_path):
    from nanogpt.limits import SERVER

    root = nanochat_tree(tmp_path)
    meta_path = root / "base_checkpoints/d4/meta_000300.json"
    meta = json.loads(meta_path.read_text())
    meta["model_config"].update(n_layer=4, vocab_size=10_000_000)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="vocab"):
        load_nanochat(root)
    with pytest.raises(CheckpointError, match="MAX_PARAMS|MAX_VOCAB|MAX_ACTIVATION"):
        # the fixture itself fits the command line; a server that allows 1,000 parameters refuses it
        load_nanochat(BASE, limits=SERVER.__class__(**{**SERVER.__dict__, "params": 1000}))


def test_a_tokenizer_of_another_size_is_refused(tmp_path):
    root = nanochat_tree(tmp_path)
    meta_path = root / "base_checkpoints/d4/meta_000300.json"
    meta = json.loads(meta_path.read_text())
    meta["model_config"]["vocab_size"] = 500  # the rows still fit (padded to 512), the tokenizer does not
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="512 tokens .* vocab_size is 500"):
        load_nanochat(root)


@pytest.mark.parametrize("era", ["A", "B", "C", "D", "E"])
def test_attribution_is_exact_on_the_pre_softcap_logit(era):
    """Why this token: the parts of the final stream, scaled by the lambdas after them and less
    backout's share, through the real pass's RMSNorm, add up to the logit before the softcap."""
    from nanogpt.attribution import attribute

    ckpt = load_nanochat(ERA_DIRS[era])
    ids = ckpt.tokenizer.encode("ROMEO:\nBut soft, what light through yonder window breaks?")
    cap = ckpt.model.config.constants.softcap
    with torch.no_grad():
        logits, _ = ckpt.model(torch.tensor([ids]))
    for position in (3, len(ids) - 1):
        a = attribute(ckpt.model, ids, position)
        assert abs(a.total() - a.logit) < 1e-4, (era, a.total(), a.logit)
        assert abs(cap * np.tanh(a.logit / cap) - float(logits[0, position, a.target])) < 1e-4
        assert "softcap" in a.note and a.heads.shape == (4, 4)


def test_convert_saves_the_one_checkpoint_format_and_stays_exact(tmp_path, capsys):
    from nanogpt.__main__ import main
    from nanogpt.checkpoint import load_checkpoint

    out = tmp_path / "chat.safetensors"
    assert main(["convert", str(BASE), "--out", str(out), "--step", "150"]) == 0
    printed = capsys.readouterr().out
    assert "base d4 step 150" in printed and "era E" in printed
    ckpt = load_checkpoint(out)
    assert ckpt.model.config.era == "E" and ckpt.meta["nanochat"]["step"] == 150
    assert ckpt.tokenizer.encode("hi")[0] == 503  # <|bos|> first, from the spec in the file
    direct = load_nanochat(BASE, step=150)
    ids = torch.tensor([direct.tokenizer.encode("ROMEO: But soft")])
    with torch.no_grad():
        assert float((ckpt.model(ids)[0] - direct.model(ids)[0]).abs().max()) < 1e-5
    assert main(["convert", str(BASE), "--out", str(out), "--stage", "rl"]) == 2
    assert "no rl checkpoints" in capsys.readouterr().err
    assert main(["convert", str(BASE / "tokenizer" / "tokenizer.pkl"), "--out", str(out), "--step", "1"]) == 2


@pytest.mark.parametrize("era", ["A", "B", "E"])
def test_the_residual_points_show_the_lambdas_and_backout_and_the_lens_ends_on_the_output(era):
    from nanogpt import metrics

    ckpt = load_nanochat(ERA_DIRS[era])
    ids = torch.tensor([ckpt.tokenizer.encode("ROMEO:\nBut soft, what light")])
    logits, cache = run_with_cache(ckpt.model, ids)
    labels = [label for label, _ in metrics.residual_points(cache)]
    assert ("L1 ×λ" in labels) == (era != "A") and ("−backout" in labels) == (era == "E")
    lens_labels, lens = metrics.logit_lens(ckpt.model, cache)
    assert lens_labels == labels
    # the last point goes through the final RMSNorm, the head and the softcap: the model's own output
    assert float((lens[-1] - torch.softmax(logits, dim=-1)).abs().max()) < 1e-5


def test_the_kv_cache_gives_the_full_forward_logits_with_windows_and_smear():
    """Generation's cached steps (keys after RoPE and QK norm, windows on absolute positions, smear
    from the previous token's embedding) give what the whole sequence gives, past the 128 window."""
    from nanogpt.model import KVCache

    ckpt = load_nanochat(BASE)
    ids = torch.tensor(expected(BASE)["ids"][None, :200])  # (1, 200)
    with torch.no_grad():
        full, _ = ckpt.model(ids)
        cache = KVCache(ckpt.model.config.n_layer)
        first, _ = ckpt.model(ids[:, :150], kv_cache=cache)
        steps = [ckpt.model(ids[:, t : t + 1], kv_cache=cache)[0] for t in range(150, 200)]
    stepped = torch.cat([first, *steps], dim=1)
    assert float((stepped - full).abs().max()) < 1e-4


def test_a_run_with_grouped_heads_written_here_opens_and_shares_its_kv_heads(tmp_path):
    from nanogpt.nanochat_bench import SMALL, write_random_run

    write_random_run(tmp_path, SMALL, step=5)
    ckpt = load_nanochat(tmp_path)
    assert (ckpt.model.config.n_head, ckpt.model.config.n_kv_head) == (4, 2)
    ids = torch.tensor(ckpt.tokenizer.encode("some text to read twice, some text to read twice"))
    _, cache = run_with_cache(ckpt.model, ids, r"blocks\.0\.attn\.hook_k")
    k = cache["blocks.0.attn.hook_k"][0]  # (H, T, D): query heads 0, 1 read KV head 0; 2, 3 read KV head 1
    assert torch.equal(k[0], k[1]) and torch.equal(k[2], k[3]) and not torch.equal(k[1], k[2])


def test_a_d20_is_refused_by_the_servers_limits_and_opens_under_the_command_lines():
    from nanogpt import limits
    from nanogpt.nanochat_bench import D20
    from nanogpt.nanochat_run import check_size

    with pytest.raises(CheckpointError) as e:
        check_size(D20, "model_001000.pt", limits.server())
    assert "896,533,746 parameters" in str(e.value) and "ATTENTION_LAB_MAX_PARAMS" in str(e.value)
    assert "opens by path" in str(e.value)
    fitted = check_size(D20, "model_001000.pt", limits.command_line())
    assert fitted.sequence_len == 2048 and 0 < fitted.context < 2048  # prompts cut so a capture fits the limit
    assert limits.activation_bytes(fitted) <= limits.command_line().activation_mb * 2**20


def test_a_hostile_or_foreign_tokenizer_in_a_run_is_one_sentence(tmp_path):
    import os
    import pickle

    class Boom:
        def __reduce__(self):
            return os.system, ("touch /tmp/pwned-by-nanochat-tokenizer",)

    root = nanochat_tree(tmp_path)
    pkl = root / "tokenizer" / "tokenizer.pkl"
    original = pkl.read_bytes()
    pkl.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError, match="was refused: it asks for (posix|os).system") as e:
        load_nanochat(root)
    assert "\n" not in str(e.value) and not Path("/tmp/pwned-by-nanochat-tokenizer").exists()
    # the same ranks under a split pattern nanochat never used: an untrusted regular expression
    old = b"\\p{N}{1,2}"
    pkl.write_bytes(original.replace(old, b"(a+)+$".ljust(len(old))))  # the same length: the pickle stays whole
    with pytest.raises(CheckpointError, match="pattern nanochat never used"):
        load_nanochat(root)


def test_attention_lab_takes_a_nanochat_dir(tmp_path):
    from viz_app.backend.launch import OPEN_ENV
    from viz_app.serving.cli import app_command, app_parser

    args = app_parser({}).parse_args([str(BASE)])
    _, env = app_command(args.ckpt, args.vocab, args.port)
    assert env[OPEN_ENV] == str(BASE.resolve())
