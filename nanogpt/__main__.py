"""Command line: python -m nanogpt {train, sample, eval, inspect, bench, ablate} ..."""

from __future__ import annotations

import argparse
import sys

from .checkpoint import CheckpointError
from .data import DataError
from .tokenizer import UnknownCharactersError


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
    from .train import train

    overrides = parse_overrides(extra)
    if args.data is not None:
        overrides["data"] = args.data
    if args.out is not None:
        overrides["out"] = args.out
    cfg = make_train_config(args.preset, **overrides)
    n_params_note = f"{cfg.model.n_layer} layers x {cfg.model.n_head} heads x {cfg.model.n_embd} wide"
    print(f"training {cfg.model.model_type} ({n_params_note}, block {cfg.model.block_size}) on {cfg.data}")
    result = train(cfg, resume=args.resume)
    rate = (result.steps - (result.history[0]["step"] if result.history else 0)) / max(result.wall_time, 1e-9)
    print(f"done: {result.steps} steps in {result.wall_time:.1f}s ({rate:.2f} steps/s overall); "
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
    from .checkpoint import load_checkpoint
    from .data import load_text, split
    from .train import evaluate

    ckpt = load_checkpoint(args.ckpt, device=args.device)
    splits = split(load_text(args.data), ckpt.model.config.block_size, tokenizer=ckpt.tokenizer)
    loss = evaluate(ckpt.model, splits.val, ckpt.model.config.block_size, batch_size=args.batch_size)
    print(f"val loss {loss:.4f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nanogpt", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model; any config field can be overridden: --n_layer 8")
    p.add_argument("--preset", default="baby", help="baby | lecture | bigram (default: baby)")
    p.add_argument("--data", default=None, help="tinyshakespeare | shakespeare-plays | path to a .txt")
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
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "train":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args, extra)
    except (DataError, CheckpointError, UnknownCharactersError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
