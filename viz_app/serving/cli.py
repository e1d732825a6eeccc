"""The installed command, `attention-lab`.

`attention-lab [CKPT] [--vocab FILE] [--port N]` opens the app: on the shipped model, or on CKPT
(a .safetensors as it is; a nanoGPT ckpt.pt or a lecture .pt converted first), exactly as
`make app CKPT=... VOCAB=...` does: both hand the file to the app through backend/imported.py's
environment variables, and the app converts it there. `attention-lab VERB ...` is
`python -m nanogpt VERB ...` (train, sample, eval, inspect, convert, ...).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nanogpt.__main__ import commands
from nanogpt.__main__ import main as library_main
from viz_app.backend.launch import MODEL_TYPES, OPEN_ENV, VOCAB_ENV, VOCAB_TYPES
from viz_app.serving import app_process

PROG = "attention-lab"
APP = app_process.APP  # its Streamlit config sits beside it, in .streamlit/
DEFAULT_PORT = 8501


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verbs = commands()
    if argv and argv[0] in verbs:
        return library_main(argv, prog=PROG)
    args = app_parser(verbs).parse_args(argv)
    command, env = app_command(args.ckpt, args.vocab, args.port)
    app_process.serve_here(command, env)
    return 0  # not reached


def app_parser(verbs: dict[str, str]) -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<10} {help_}" for name, help_ in verbs.items())
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [CKPT] [--vocab FILE] [--port N]\n       {PROG} {{{','.join(verbs)}}} ...",
        description="Open the attention lab app on the shipped model, or on CKPT.",
        epilog=f"the library's commands (as python -m nanogpt):\n{listing}\n\n"
        f"{PROG} VERB --help says what a command takes.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("ckpt", nargs="?", type=_model_file, metavar="CKPT",
                        help="a .safetensors checkpoint, nanoGPT's ckpt.pt, the lecture's .pt or a Hugging Face "
                        "GPT-2 folder (converted once)")  # fmt: skip
    parser.add_argument("--vocab", type=_vocab_file, metavar="FILE",
                        help="its vocabulary: nanoGPT's meta.pkl or the training text (default: meta.pkl beside "
                        "CKPT, else tiny Shakespeare)")  # fmt: skip
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, metavar="N",
                        help=f"the port the app listens on (default: {DEFAULT_PORT})")  # fmt: skip
    return parser


def app_command(ckpt: Path | None, vocab: Path | None, port: int) -> tuple[list[str], dict[str, str]]:
    """The Streamlit command that serves the app, and its environment."""
    env = dict(os.environ)
    for name, path in ((OPEN_ENV, ckpt), (VOCAB_ENV, vocab)):
        if path is not None:
            env[name] = str(path.resolve())  # the server may not stay in this folder
    return app_process.command(port, app=APP), env


def _model_file(value: str) -> Path:
    folder = Path(value).expanduser()
    if folder.is_dir():  # a Hugging Face GPT-2 folder (or the hub cache's models--gpt2): nanogpt.convert reads it
        return folder
    return _existing(value, "model file", MODEL_TYPES)


def _vocab_file(value: str) -> Path:
    return _existing(value, "vocabulary file", VOCAB_TYPES)


def _existing(value: str, what: str, suffixes: tuple[str, ...]) -> Path:
    path = Path(value).expanduser()
    *others, last = [f".{s}" for s in suffixes]
    kinds = f"{', '.join(others)} or {last}" if others else last
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no {what} at {value!r}; give the path of a {kinds} file.")
    if path.suffix.lstrip(".") not in suffixes:
        raise argparse.ArgumentTypeError(f"{value!r} is not a {what} the app opens; it takes a {kinds} file.")
    return path


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port; give a number from 1 to 65535, e.g. 8501.")
    return port


if __name__ == "__main__":
    sys.exit(main())
