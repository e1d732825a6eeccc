"""python -m viz_app.bench [--quick] [--only NAME] [--ckpt FILE] [--repeats N] [--threads N]
python -m viz_app.bench classroom [--sessions 30] [--url URL | --workers N] [--checkpoints DIR] [--app PATH]"""

from __future__ import annotations

import argparse
import sys

from nanogpt import bench as library_bench


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["classroom"]:
        return classroom(argv[1:])
    from . import page_runs

    parser = argparse.ArgumentParser(prog="python -m viz_app.bench", description="the library's and the app's "
                                     "benchmarks, each a ratio or percentile from one run")  # fmt: skip
    library_bench.add_arguments(parser)
    opts, only = library_bench.options_from(parser.parse_args(argv))
    try:
        return library_bench.run_benchmarks(opts, library_bench.SECTIONS + page_runs.SECTIONS, only)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def classroom(argv: list[str]) -> int:
    from . import classroom as hall

    parser = argparse.ArgumentParser(prog="python -m viz_app.bench classroom",
                                     description=hall.__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("--sessions", type=int, default=30, help="students at once (default 30)")
    parser.add_argument("--url", default=None, help="a running app to measure (default: start one)")
    parser.add_argument("--checkpoints", default=None, help="the app's checkpoint folder (default: checkpoints/)")
    parser.add_argument(
        "--app", default=hall.APP, help="the app.py to serve, e.g. another checkout's (default: this one)"
    )
    parser.add_argument("--model", default=None, help="the model every link opens, e.g. shakespeare-lecture "
                        "(default: the app's default)")  # fmt: skip
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="start make serve's nginx and this many app processes, measure through it, then kill one mid-class",
    )
    args = parser.parse_args(argv)
    if args.sessions < 1:
        parser.error("--sessions must be at least 1")
    if args.workers is not None and (args.workers < 1 or args.url):
        parser.error("--workers must be at least 1, and measures a server it starts (not --url)")
    for line in hall.run(args.sessions, args.url, args.checkpoints, args.app, args.workers, args.model):
        print(f"[classroom] {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
