"""Command line: ``nethep --version`` and ``nethep run``.

Exit codes: 0 success; 1 a notebook failed (the message names the notebook and
cell); 2 a usage or input problem (bad arguments, a missing --data file, no
notebooks, an output folder that would write into the notebooks or data folder).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_OK = 0
EXIT_NOTEBOOK_FAILED = 1
EXIT_USAGE = 2


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nethep")
    except PackageNotFoundError:
        import nethep

        return getattr(nethep, "__version__", "unknown")


# --------------------------------------------------------------------------- run


def _add_run_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="execute every notebook headless and build an HTML report",
        description=(
            "Execute notebooks/NN_*.ipynb in order, then write the executed notebooks, "
            "one HTML page per notebook, results.json and index.html into the output folder."
        ),
    )
    p.add_argument("--output", "-o", default="build", metavar="DIR",
                   help="output folder (default: ./build)")
    p.add_argument("--data", metavar="PATH", default=None,
                   help="a cohort CSV to analyse instead of the bundled cohort")
    p.add_argument("--notebooks", metavar="DIR", default=None,
                   help="folder holding the NN_*.ipynb notebooks (default: the repository's)")
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.set_defaults(handler=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    from nethep.run import NotebookFailed, run_all

    if args.data is not None and not Path(args.data).is_file():
        where = Path(args.data).resolve()
        print(
            f"nethep run: data file not found: {args.data} (looked for {where}).\n"
            "Pass --data with the path to your cohort CSV, or leave --data out to use the "
            "bundled cohort.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        report = run_all(
            output_dir=args.output,
            data_path=args.data,
            notebooks_dir=args.notebooks,
            progress=not args.no_progress,
        )
    except NotebookFailed as exc:
        print(f"nethep run: {exc}", file=sys.stderr)
        return EXIT_NOTEBOOK_FAILED
    except (FileNotFoundError, ValueError) as exc:
        print(f"nethep run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Report: {report.index_path}")
    print(f"Results: {report.results_path}")
    return EXIT_OK


# --------------------------------------------------------------------------- validate
# Reserved for a later `nethep validate PATH` subcommand (check a cohort CSV against
# data/datapackage.json without running the notebooks). To add it, write
# `_add_validate_parser(sub)` + `_cmd_validate(args) -> int` like the run pair above
# and append `_add_validate_parser` to SUBCOMMANDS below.

SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_run_parser]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nethep",
        description="Reproducible supplement: rerun the whole nethep analysis headless.",
    )
    parser.add_argument("--version", action="version", version=f"nethep {_version()}")
    sub = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nethep`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --version, --help, or a usage error
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return handler(args)
