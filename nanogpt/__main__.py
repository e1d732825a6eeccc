"""Command line: python -m nanogpt {train, sample, eval, inspect, attribute, induction, bench, ablate, convert} ..."""

from __future__ import annotations

import argparse
import sys

from .checkpoint import CheckpointError
from .data import DataError
from .tokenizer import UnknownCharactersError
from .train import RankLostError


def parse_overrides(extra: list[str]) -> dict[str, str]:
    """['--n_layer', '8', '--dropout=0.1'] -> {'n_layer': '8', 'dropout': '0.1'}."""
    overrides, i = {}, 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--"):
            raise ValueError(f"unexpected argument {arg!r}; config fields are given as --name value")
        name, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(extra) or extra[i + 1].startswith("--"):
                raise ValueError(f"--{name} needs a value")
            value = extra[i + 1]
            i += 1
        overrides[name.replace("-", "_")] = value
        i += 1
    return overrides


def cmd_train(args, extra) -> int:
    from .config import make_train_config
    from .train import pick_device, ranks_from_env, resolve_dtype, train

    overrides = parse_overrides(extra)
    if args.data is not None:
        overrides["data"] = args.data
    if args.out is not None:
        overrides["out"] = args.out
    cfg = make_train_config(args.preset, **overrides)
    ranks = ranks_from_env()
    say = print if ranks.main else (lambda *a, **k: None)  # under torchrun, rank 0 speaks for all
    shape = f"{cfg.model.n_layer} layers x {cfg.model.n_head} heads x {cfg.model.n_embd} wide"
    where = f" on {ranks.world_size} processes" if ranks.distributed else ""
    dtype = resolve_dtype(cfg.dtype, pick_device(cfg.device))
    say(f"training {cfg.model.model_type} ({shape}, block {cfg.model.block_size}) on {cfg.data}{where}, in {dtype}")
    result = train(cfg, resume=args.resume)
    steps_done = result.steps - (result.history[0]["step"] if result.history else 0)
    rate = steps_done / max(result.wall_time, 1e-9)
    say(f"done: {result.steps} steps in {result.wall_time:.1f}s ({rate:.2f} steps/s, "
        f"{rate * result.tokens_per_step:,.0f} tokens/s overall); "
        f"best val loss {result.best_val:.4f} at step {result.best_step} -> {cfg.out}")  # fmt: skip
    return 0


def cmd_sample(args, extra) -> int:
    from .checkpoint import load_checkpoint
    from .generate import generate

    ckpt = load_checkpoint(args.ckpt, device=args.device)
    prompt = args.prompt if args.prompt else "\n"
    ids = ckpt.tokenizer.encode(prompt, errors="drop" if args.drop_unknown else "strict")
    if not ids:
        raise ValueError("the prompt has no characters the model knows; type some text")
    out = generate(ckpt.model, ids, args.max_new_tokens, args.temperature, args.top_k, args.seed)
    print(ckpt.tokenizer.decode(out))
    return 0


def cmd_eval(args, extra) -> int:
    from .checkpoint import load_checkpoint, update_metadata
    from .data import load_text, split
    from .train import evaluate

    ckpt = load_checkpoint(args.ckpt, device=args.device)
    splits = split(load_text(args.data), ckpt.model.config.block_size, tokenizer=ckpt.tokenizer)
    loss = evaluate(ckpt.model, splits.val, ckpt.model.config.block_size, batch_size=args.batch_size)
    print(f"val loss {loss:.4f}")
    if args.record:
        update_metadata(args.ckpt, eval_val_loss=round(loss, 4), eval_data=splits.source.name,
                        eval_data_sha256=splits.source.sha256)  # fmt: skip
        print(f"recorded in {args.ckpt}")
    return 0


def cmd_ablate(args, extra) -> int:
    from .ablate import results_table, run_ablation

    variants = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None
    try:
        results = run_ablation(args.data, args.preset, parse_overrides(extra), variants, args.steps, args.seed,
                               args.out, keep_checkpoints=args.keep_checkpoints)  # fmt: skip
    except KeyboardInterrupt:
        print(f"interrupted; run the same command again to continue where it stopped (-> {args.out})")
        return 130
    print(f"{'variant':<14} {'val loss':>8} {'vs full':>8}")
    for row in results_table(results):
        delta = "" if row["delta"] is None else f"{row['delta']:+.4f}"
        print(f"{row['variant']:<14} {row['val_loss']:>8.4f} {delta:>8}")
    print(f"-> {args.out}")
    return 0


def parse_attn_scale(text: str) -> str | float:
    """--attn-scale: one of ATTN_SCALES, or a number the scores are multiplied by."""
    from .config import ATTN_SCALES

    if text in ATTN_SCALES:
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected head_size, n_embd, none or a number, not {text!r}") from None


def cmd_inspect(args, extra) -> int:
    import torch

    from .capture import run_with_cache
    from .checkpoint import load_checkpoint
    from .metrics import summary, write_summary

    ckpt = load_checkpoint(args.ckpt, device=args.device)
    model, block = ckpt.model, ckpt.model.config.block_size
    if model.config.model_type == "bigram":
        raise ValueError(f"{args.ckpt} holds a {model.config.model_type} model: it has no attention to inspect")
    ids = ckpt.tokenizer.encode(args.prompt)
    if not ids:
        raise ValueError("the prompt is empty; type some text")
    if len(ids) > block:
        print(f"note: the prompt has {len(ids)} characters; inspecting the last {block} (block_size)")
        ids = ids[-block:]
    _, cache = run_with_cache(model, torch.tensor([ids], device=next(model.parameters()).device),
                              attn_scale=args.attn_scale)  # fmt: skip
    info = summary(cache, chars=ckpt.tokenizer.decode(ids))
    scale = args.attn_scale or model.config.attn_scale
    print(f"{len(ids)} characters, attn_scale {scale}; per head: mean normalised entropy / mean max weight")
    print("(over query rows t >= 1; entropy 0 = all weight on one key, 1 = spread evenly over all t + 1)")
    print("      " + "".join(f"{f'head {h}':>15}" for h in range(info["n_head"])))
    for layer in range(info["n_layer"]):
        heads = [h for h in info["heads"] if h["layer"] == layer]
        cells = [f"{h['mean_normalized_entropy']:>8.3f} / {h['mean_max_weight']:.2f}" for h in heads]
        print(f"L{layer:<5}" + "".join(cells))
    tagged = [f"L{h['layer']}H{h['head']} {'+'.join(h['tags'])}" for h in info["heads"] if h["tags"]]
    print("tags: " + ("; ".join(tagged) if tagged else "none"))
    print("residual norm after each block (mean over positions):")
    print(f"  embed {cache['blocks.0.hook_resid_pre'][0].norm(dim=-1).mean():8.3f}")
    for layer in range(info["n_layer"]):
        print(f"  L{layer:<4} {cache[f'blocks.{layer}.hook_resid_post'][0].norm(dim=-1).mean():8.3f}")
    if args.npz:
        cache.to_npz(args.npz)
        print(f"-> {args.npz} ({len(cache)} tensors)")
    if args.json:
        write_summary(cache, args.json, chars=ckpt.tokenizer.decode(ids), prompt=ckpt.tokenizer.decode(ids),
                      attn_scale=scale, checkpoint=str(args.ckpt))  # fmt: skip
        print(f"-> {args.json}")
    return 0


def _prompt_ids(ckpt, prompt: str, quiet: bool) -> list[int]:
    """The prompt's ids, cropped to the model's context (said on stderr, so --json stays clean)."""
    ids = ckpt.tokenizer.encode(prompt)
    if not ids:
        raise ValueError("the prompt is empty; type some text")
    block = ckpt.model.config.block_size
    if len(ids) > block:
        print(f"note: the prompt has {len(ids)} characters; using the last {block} (block_size)", file=sys.stderr)
        ids = ids[-block:]
    return ids


def _one_character(ckpt, text: str) -> int:
    """--target: one character of the vocabulary; escapes like \\n are read as the character."""
    if len(text) > 1:
        text = text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    if len(text) != 1:
        raise ValueError(f"--target must be one character, not {text!r}")
    return ckpt.tokenizer.encode(text)[0]


def cmd_attribute(args, extra) -> int:
    import json

    from .attribution import attribute
    from .checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.ckpt)
    ids = _prompt_ids(ckpt, args.prompt, args.json)
    target = None if args.target is None else _one_character(ckpt, args.target)
    a = attribute(ckpt.model, ids, args.position, target)
    char = ckpt.tokenizer.decode([a.target])
    if args.json:
        print(json.dumps({"position": a.position, "target": char, "logit": a.logit, "components": a.components}))
        return 0
    after = ckpt.tokenizer.decode(ids[: a.position + 1])[-20:]
    print(f"after {after!r} (position {a.position}): logit of {char!r} = {a.logit:.4f}, "
          f"the sum of its {len(a.components)} components = {a.total():.4f}")  # fmt: skip
    if a.note:
        print(f"  ({a.note})")
    for name, value in sorted(a.components.items(), key=lambda kv: -abs(kv[1]))[: args.top]:
        print(f"  {name:<14} {value:+9.4f}")
    return 0


def cmd_induction(args, extra) -> int:
    import json

    from .checkpoint import load_checkpoint
    from .induction import induction

    ckpt = load_checkpoint(args.ckpt)
    r = induction(ckpt.model, args.length, args.seed)
    if args.json:
        print(json.dumps({
            "tokens": r.tokens, "text": ckpt.tokenizer.decode(r.tokens), "n": r.n,
            "scores": r.scores.tolist(), "prev_scores": r.prev_scores.tolist(),
            "loss_first": r.loss_first, "loss_second": r.loss_second,
            "ablated_heads": [f"L{l}H{h}" for l, h in r.ablated_heads], "ablated_loss_second": r.ablated_loss_second,
        }))  # fmt: skip
        return 0
    print(f"two copies of {r.n} distinct random characters (seed {args.seed})")
    print(f"loss on the first copy {r.loss_first:.3f}, on the second {r.loss_second:.3f} "
          f"({r.loss_second - r.loss_first:+.3f}; copying in context makes it far lower)")  # fmt: skip
    for layer, head, score in r.top_heads(3):
        prev = float(r.prev_scores[layer, head])
        print(f"  L{layer}H{head} induction score {score:.3f}, previous-token {prev:.3f}")
    names = ", ".join(f"L{l}H{h}" for l, h in r.ablated_heads)
    print(f"with {names} zeroed: second copy's loss {r.ablated_loss_second:.3f}")
    return 0


def cmd_convert(args, extra) -> int:
    from .convert import convert, summary

    print(summary(convert(args.src, args.out, args.meta, args.vocab_text, tokenizer=args.tokenizer, step=args.step,
                          stage=args.stage, era=args.era)))  # fmt: skip
    return 0


def cmd_bench(args, extra) -> int:
    from .bench import SECTIONS, options_from, run_benchmarks
    from .nanochat_bench import bench_nanochat_size

    opts, only = options_from(args)
    # opt-in (--only nanochat_d20): it writes a 2.7 GB run to a temporary folder first
    opt_in = [("nanochat_d20", bench_nanochat_size)]
    return run_benchmarks(opts, SECTIONS + [s for s in opt_in if only and s[0] in only], only)


def build_parser(prog: str = "python -m nanogpt") -> argparse.ArgumentParser:
    """prog: how usage lines name the command (the installed `attention-lab` runs these verbs too)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model; any config field can be overridden: --n_layer 8")
    p.add_argument("--preset", default="baby", help="baby | lecture | bigram (default: baby)")
    p.add_argument("--data", default=None, help="tinyshakespeare | shakespeare-plays | python-stdlib | path to a .txt")
    p.add_argument("--out", default=None, help="checkpoint path (default: out/model.safetensors)")
    p.add_argument("--resume", action="store_true", help="continue from the last saved state")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="generate text from a checkpoint")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--prompt", default="\n")
    p.add_argument("--max-new-tokens", type=int, default=500)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--drop-unknown", action="store_true", help="drop prompt characters outside the vocab")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("eval", help="val loss over the whole validation split, deterministic")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--data", default="tinyshakespeare")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--record", action="store_true", help="write the val loss into the checkpoint's metadata")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("ablate", help="train the lecture's variants on one budget; config fields as in train")
    p.add_argument(
        "--data", default="tinyshakespeare", help="tinyshakespeare | shakespeare-plays | python-stdlib | path to a .txt"
    )
    p.add_argument("--preset", default="baby", help="baby | lecture | bigram (default: baby)")
    p.add_argument("--variants", default=None, help="comma-separated, e.g. full,no-residual (default: all)")
    p.add_argument("--steps", type=int, default=None, help="training steps per variant (default: the preset's)")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--out", required=True, help="results JSON; rerunning the same command resumes it")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep each variant's checkpoint beside --out")
    p.set_defaults(func=cmd_ablate)

    p = sub.add_parser("inspect", help="every head's entropy and max weight, and the residual norms, for one prompt")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--prompt", required=True)
    p.add_argument("--attn-scale", type=parse_attn_scale, default=None,
                   help="head_size (1/sqrt(d_k)) | n_embd | none | a number (default: the model's own)")  # fmt: skip
    p.add_argument("--npz", default=None, help="save every captured tensor to this .npz")
    p.add_argument("--json", default=None, help="save the per-head summary to this .json")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("attribute", help="why this character: each component's share of its logit (exact)")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--prompt", required=True)
    p.add_argument("--position", type=int, default=None, help="the query position (default: the last)")
    p.add_argument("--target", default=None, help="the character explained (default: the model's top choice)")
    p.add_argument("--top", type=int, default=12, help="components listed without --json")
    p.add_argument("--json", action="store_true", help="print {position, target, logit, components} as JSON")
    p.set_defaults(func=cmd_attribute)

    p = sub.add_parser("induction", help="induction and previous-token scores of every head on a repeated sequence")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--length", type=int, default=None, help="characters per copy (default: the context allows)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the tokens, scores and losses as JSON")
    p.set_defaults(func=cmd_induction)

    p = sub.add_parser(
        "convert", help="a nanoGPT ckpt.pt, the lecture's weights, a Hugging Face GPT-2, a nanochat run -> .safetensors"
    )
    p.add_argument(
        "src",
        help="nanoGPT's ckpt.pt, the lecture model's torch.save(model.state_dict()), a Hugging "
        "Face GPT-2 folder (config.json + model.safetensors or its shards; or the hub cache's models--gpt2), "
        "or a nanochat base dir, checkpoint dir or model_<step>.pt",
    )
    p.add_argument("--out", required=True, help="the .safetensors file to write")
    p.add_argument("--meta", default=None, help="nanoGPT's meta.pkl (default: beside SRC, or data/<dataset>/meta.pkl)")
    p.add_argument("--vocab-text", default=None, help="the training text: its sorted characters are the vocabulary")
    p.add_argument("--tokenizer", choices=["gpt2"], default=None,
                   help="GPT-2's tokens (the default for a nanoGPT run of vocabulary 50257 or 50304 with no "
                   "character meta.pkl, and for Hugging Face GPT-2)")  # fmt: skip
    p.add_argument("--step", type=int, default=None, help="nanochat: the step to open (default: the newest)")
    p.add_argument("--stage", default=None, help="nanochat: base | mid | sft | rl (default: the last one present)")
    p.add_argument("--era", default=None, help="nanochat: A | B | C | C-late | D | E (default: read off the weights)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("bench", help="the library's performance targets, each a ratio measured in this run")
    from .bench import add_arguments

    add_arguments(p)
    p.set_defaults(func=cmd_bench)
    return parser


def commands() -> dict[str, str]:
    """Every verb and its one-line help, in the order `--help` lists them."""
    parser = build_parser()
    (verbs,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {choice.dest: choice.help for choice in verbs._choices_actions}


def main(argv: list[str] | None = None, prog: str = "python -m nanogpt") -> int:
    parser = build_parser(prog)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("train", "ablate"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args, extra)
    except (DataError, CheckpointError, UnknownCharactersError, ValueError, RankLostError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
