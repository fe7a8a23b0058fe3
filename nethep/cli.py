"""Command line: ``nethep --version``, ``nethep run`` and ``nethep validate``.

Exit codes: 0 success; 1 a notebook failed (the message names the notebook and
cell) or the cohort file did not validate (every problem is listed); 2 a usage
or input problem (bad arguments, a missing --data file, no
notebooks, an output folder that would write into the notebooks or data folder).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_OK = 0
EXIT_NOTEBOOK_FAILED = 1
EXIT_INVALID = 1  # the cohort file did not validate
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
                   help="a cohort file (CSV, TSV, .xlsx, .parquet) to analyse instead of the "
                        "bundled cohort")
    _add_input_options(p)
    p.add_argument("--notebooks", metavar="DIR", default=None,
                   help="folder holding the NN_*.ipynb notebooks (default: the repository's)")
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.add_argument("--min-cell", type=int, default=0, metavar="N",
                   help="suppress every count from 1 to N-1 in tables, numbers at risk and "
                        "results.json (data-use agreements); default 0: none")
    p.set_defaults(handler=_cmd_run)


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--map", metavar="MAP.yaml", default=None,
                   help="mapping of your column names and labels to the contract's "
                        "(start from data/template_map.yaml)")
    p.add_argument("--sheet", default=None, help="the sheet to read from an .xlsx workbook")
    p.add_argument("--allow-identifiers", action="store_true",
                   help="drop direct-identifier columns on reading instead of refusing the file")


def _load(args: argparse.Namespace, path: str):
    from nethep.cohort import load_cohort

    return load_cohort(path, map_path=args.map, allow_identifiers=args.allow_identifiers,
                       sheet=args.sheet)


def _cmd_run(args: argparse.Namespace) -> int:
    from nethep.errors import CohortValidationError
    from nethep.intake import needs_prepared_copy, write_prepared
    from nethep.run import NotebookFailed, run_all

    if args.data is not None and not Path(args.data).is_file():
        where = Path(args.data).resolve()
        print(
            f"nethep run: data file not found: {args.data} (looked for {where}).\n"
            "Pass --data with the path to your cohort file, or leave --data out to use the "
            "bundled cohort.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix="nethep-") as private:
        data = args.data
        if data is not None:
            try:
                df = _load(args, data)
            except CohortValidationError as exc:
                print(f"nethep run: the cohort did not validate; nothing was run.\n{exc}",
                      file=sys.stderr)
                return EXIT_INVALID
            if needs_prepared_copy(df, Path(data)):
                # Mapped, dated, identifier-stripped or non-CSV input: the notebooks read a
                # contract-conforming copy in a private temporary folder, removed afterwards.
                data = str(write_prepared(df, Path(private), Path(data).stem + ".csv"))
        try:
            report = run_all(
                output_dir=args.output,
                data_path=data,
                notebooks_dir=args.notebooks,
                progress=not args.no_progress,
                min_cell=args.min_cell,
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


def _add_validate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check a cohort file against the data contract",
        description=(
            "Read a cohort file (CSV, TSV, .xlsx, .parquet), apply an optional mapping file, "
            "and report every problem at once (exit 1) or a summary (exit 0). The file is "
            "only read."
        ),
    )
    p.add_argument("path", metavar="PATH", help="the cohort file")
    _add_input_options(p)
    p.set_defaults(handler=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    from nethep.errors import CohortValidationError
    from nethep.intake import summary_text

    try:
        df = _load(args, args.path)
    except CohortValidationError as exc:
        n = len(exc.problems)
        print(f"{args.path}: INVALID, {n} problem{'s' if n != 1 else ''}", file=sys.stderr)
        for problem in exc.problems:  # every one, not only the first that fit the message
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_INVALID
    print(summary_text(df))
    return EXIT_OK


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_run_parser, _add_validate_parser,
]


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
