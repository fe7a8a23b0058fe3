"""Command line: ``nethep --version``, ``nethep run`` and ``nethep validate``.

This module owns everything nethep prints: the progress bar of a run, its result
lines (where the report and results.json are), validation summaries and errors.
The modules it calls print nothing.

Exit codes: 0 success; 1 a notebook failed (the message names the notebook and
cell) or the cohort file did not validate (every problem is listed); 2 a usage
or input problem (bad arguments, a missing --data file, no
notebooks, an output folder that would write into the notebooks or data folder).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from nethep import __version__, pages, run
from nethep.cohort import (
    DEFAULT_LABEL,
    USER_MIN_CELL,
    analysable_problems,
    default_min_cell,
    load_cohort,
    not_estimable_sections,
    refuse_unanalysable,
)
from nethep.contract import DAYS_PER_MONTH, GROUPS
from nethep.errors import CohortValidationError
from nethep.estimable import words
from nethep.intake import MONTHS_PER_UNIT, needs_prepared_copy, write_prepared
from nethep.reconstruct import store
from nethep.reconstruct.ensemble import ENSEMBLE_SEED, build_ensemble
from nethep.robustness.scenarios.simulate import simulation_reason

EXIT_OK = 0
EXIT_NOTEBOOK_FAILED = 1
EXIT_INVALID = 1  # the cohort file did not validate
EXIT_USAGE = 2
#: The neutral name of the private copy of a user's data that the notebooks read.
PRIVATE_NAME = "cohort.csv"


# --------------------------------------------------------------------------- run


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", default="build", metavar="DIR",
                   help="output folder (default: ./build)")
    p.add_argument("--data", metavar="PATH", default=None,
                   help="a cohort file (CSV, TSV, .xlsx, .parquet) to analyse instead of the "
                        "bundled cohort")
    _add_input_options(p)
    p.add_argument("--notebooks", metavar="DIR", default=None,
                   help="folder holding the NN_*.ipynb notebooks (default: the repository's)")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="notebooks executed at the same time (default: one more than the "
                        "cores available; the outputs are the same bytes for any N)")
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.add_argument("--min-cell", type=int, default=None, metavar="N",
                   help="suppress every count from 1 to N-1 in tables, figures, numbers at "
                        f"risk and results.json; default {USER_MIN_CELL} for your own data "
                        "(--data), 0 for the bundled reconstruction (public); --min-cell 0 "
                        "turns it off for your data (with a warning)")
    p.add_argument("--paper", choices=("a4", "letter"), default=None,
                   help="page size of supplement.pdf (default: a4)")
    p.add_argument("--label", metavar="TEXT", default=None,
                   help="how the notebooks, pages, results.json and supplement.pdf name your "
                        f"data (e.g. 'Clinic X, 2010-2020'; default '{DEFAULT_LABEL}'); no path "
                        "or file name of yours is written into any output")


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--map", metavar="MAP.yaml", default=None,
                   help="mapping of your column names and labels to the contract's "
                        "(start from data/template_map.yaml)")
    p.add_argument("--sheet", default=None, help="the sheet to read from an .xlsx workbook")
    p.add_argument("--allow-identifiers", action="store_true",
                   help="drop direct-identifier columns on reading instead of refusing the file")
    p.add_argument("--header-row", type=int, default=None, metavar="N",
                   help="the line (sheet row) of the column names, when title rows stand "
                        "above them (default: the first non-empty line)")
    p.add_argument("--time-unit", choices=tuple(MONTHS_PER_UNIT), default="months",
                   help="the unit of followup_months and months_to_treatment in your file "
                        "(default months); nethep converts to months of 30.4375 days")
    p.add_argument("--date-format", default=None, metavar="FORMAT",
                   help="how your dates are written, as a strptime format, e.g. %%d/%%m/%%Y "
                        "(default: YYYY-MM-DD)")


def _load(args: argparse.Namespace, path: str) -> pd.DataFrame:
    return load_cohort(path, map_path=args.map, allow_identifiers=args.allow_identifiers,
                       sheet=args.sheet, label=getattr(args, "label", None),
                       header_row=args.header_row, time_unit=args.time_unit,
                       date_format=args.date_format)


class Progress:
    """A progress bar on stderr, one step per finished notebook, naming the notebooks
    running and any that failed (``on_event`` of :func:`nethep.run.run_notebooks`;
    safe to call from several threads)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.lock = threading.Lock()
        self.running: list[str] = []
        self.failed: list[str] = []
        self.bar = tqdm(total=total, unit="notebook", file=sys.stderr, leave=True,
                        disable=not enabled)

    def __call__(self, name: str, status: str) -> None:
        with self.lock:
            if status == "started":
                self.running.append(name)
            else:
                self.running.remove(name)
            if status == "failed":
                self.failed.append(name)
            if status == "done":
                self.bar.update(1)
            failed = [f"{n} FAILED" for n in self.failed]
            self.bar.set_description(", ".join(failed + self.running))

    def close(self) -> None:
        self.bar.close()


class RunView:
    """What ``nethep run`` does as notebooks start and finish: moves the progress bar,
    and has the page of each finished notebook made while the others run."""

    def __init__(self, output_dir: str | Path, writer: pages.PageWriter,
                 progress: Progress) -> None:
        self.output_dir = output_dir
        self.writer = writer
        self.progress = progress

    def __call__(self, notebook: Path, status: str) -> None:
        self.progress(notebook.name, status)
        if status != "started":
            self.writer.submit(run.executed_path(self.output_dir, notebook), notebook)


def _cmd_run(args: argparse.Namespace) -> int:
    if args.data is not None and not Path(args.data).is_file():
        where = Path(args.data).resolve()
        print(
            f"nethep run: data file not found: {args.data} (looked for {where}).\n"
            "Pass --data with the path to your cohort file, or leave --data out to use the "
            "bundled cohort.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.min_cell is not None and args.min_cell < 0:
        print(f"nethep run: --min-cell {args.min_cell}: give 0 (none) or a positive whole "
              "number", file=sys.stderr)
        return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix="nethep-") as private:
        data = args.data
        min_cell = 0 if args.min_cell is None else args.min_cell
        if data is not None:
            try:
                df = _load(args, data)
                refuse_unanalysable(df, data)
            except CohortValidationError as exc:
                print(f"nethep run: the cohort did not validate; nothing was run.\n{exc}",
                      file=sys.stderr)
                return EXIT_INVALID
            min_cell = (default_min_cell(bool(df.attrs.get("reconstructed")))
                        if args.min_cell is None else args.min_cell)
            if min_cell == 0 and not df.attrs.get("reconstructed"):
                print("nethep run: WARNING: small-cell suppression is off (--min-cell 0): "
                      "every count of your data, however small, is shown in the outputs.",
                      file=sys.stderr)
            # The notebooks read a private copy with a neutral name, removed afterwards: a
            # contract-conforming CSV when the input was mapped, dated, identifier-stripped
            # or not CSV, else the file's own bytes. No name of the user's reaches them.
            target = Path(private) / PRIVATE_NAME
            if needs_prepared_copy(df, Path(data)):
                data = str(write_prepared(df, Path(private), PRIVATE_NAME))
            else:
                data = str(shutil.copyfile(data, target))
        try:
            total = len(run.find_notebooks(args.notebooks))
            with pages.PageWriter() as writer:
                view = RunView(args.output, writer, Progress(total, enabled=not args.no_progress))
                try:
                    execution = run.run_notebooks(
                        output_dir=args.output, data_path=data, notebooks_dir=args.notebooks,
                        min_cell=min_cell, jobs=args.jobs, on_event=view,
                        label=args.label or DEFAULT_LABEL,
                    )
                except run.NotebookFailed as exc:
                    # pages of what ran, the traceback in context; a page that cannot be
                    # made must not hide the notebook's error
                    with contextlib.suppress(Exception):
                        pages.write_partial_pages(exc.execution, writer)
                    raise
                finally:
                    view.progress.close()
                # only the options given, so write_pages' defaults stay in one place
                supplement = {k: v for k, v in (("paper", args.paper), ("label", args.label))
                              if v is not None}
                report = pages.write_pages(execution, writer, **supplement)
        except run.NotebookFailed as exc:
            print(f"nethep run: {exc}", file=sys.stderr)
            return EXIT_NOTEBOOK_FAILED
        except (FileNotFoundError, ValueError) as exc:
            print(f"nethep run: {exc}", file=sys.stderr)
            return EXIT_USAGE
    print(f"Report: {report.index_path}")
    print(f"Results: {execution.results_path}")
    return EXIT_OK


# --------------------------------------------------------------------------- validate


def _validate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="the cohort file")
    _add_input_options(p)


def summary_text(df: pd.DataFrame, heading: str | None = None) -> str:
    """What ``nethep validate`` prints for a valid file, under ``heading`` (default "NAME:
    valid"): aggregates only, no rows."""
    groups = df["treatment_group"].value_counts()
    empty = df.attrs.get("skipped_empty_rows", [])
    lines = [
        heading or f"{df.attrs.get('source', 'cohort')}: valid",
        f"  rows read {len(df) + len(empty)}: empty rows skipped {len(empty)}"
        + (f" (lines {', '.join(map(str, empty))})" if empty else "")
        + f", patients excluded 0, patients analysed {len(df)}",
        "  groups: " + ", ".join(f"{g} {int(groups.get(g, 0))}" for g in GROUPS),
        f"  deaths {int(df['died'].sum())}, censored {int((df['died'] == 0).sum())}",
        f"  follow-up {float(df['followup_months'].min()):.1f} to "
        f"{float(df['followup_months'].max()):.1f} months",
    ]
    if df.attrs.get("dropped_identifiers"):
        lines.append("  identifier columns dropped: " + ", ".join(df.attrs["dropped_identifiers"]))
    if df.attrs.get("derived_from_dates"):
        lines.append("  months derived from: " + ", ".join(df.attrs["derived_from_dates"])
                     + f" ({DAYS_PER_MONTH:g}-day months); dates dropped")
    return "\n".join(lines)


def _print_problems(heading: str, problems: Sequence[object]) -> None:
    n = len(problems)
    print(f"{heading}, {n} problem{'s' if n != 1 else ''}", file=sys.stderr)
    for problem in problems:  # every one, not only the first that fit the message
        print(f"  - {problem}", file=sys.stderr)


def _cmd_validate(args: argparse.Namespace) -> int:
    try:
        df = _load(args, args.path)
    except CohortValidationError as exc:
        _print_problems(f"{args.path}: INVALID", exc.problems)
        return EXIT_INVALID
    unanalysable = analysable_problems(df, args.path)
    name = Path(args.path).name
    print(summary_text(df, f"{name}: valid for the data contract" if unanalysable
                       else f"{name}: valid"))
    if unanalysable:  # what validate accepts, run completes: refused here, not there
        _print_problems(f"{args.path}: valid for the data contract, but the analysis cannot "
                        "run on it", unanalysable)
        return EXIT_INVALID
    sections = not_estimable_sections(df)
    if reason := simulation_reason(df):
        sections.append(f"known-truth scenarios (notebook 06): {words(reason)}")
    if sections:  # analysed all the same: the notebooks say these in words
        print("  reported as not estimable (in words; the run completes):")
        for text in sections:
            print(f"  - {text}")
    if not df.attrs.get("reconstructed"):
        print(f"  nethep run shows counts below {USER_MIN_CELL} as <{USER_MIN_CELL} "
              "(--min-cell)")
    return EXIT_OK


# --------------------------------------------------------------------------- ensemble


def _ensemble_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--members", default=str(store.DEFAULT_MEMBERS), metavar="N",
                   help=f"number of cohorts (default {store.DEFAULT_MEMBERS:,}; at most "
                        f"{store.MAX_MEMBERS:,})")
    p.add_argument("--seed", type=int, default=ENSEMBLE_SEED, help="random seed "
                   f"(default {ENSEMBLE_SEED})")
    p.add_argument("--output", "-o", default=None, metavar="DIR",
                   help="folder to write (default: data/ensemble, replaced atomically)")
    p.add_argument("--workers", type=int, default=store.DEFAULT_WORKERS, metavar="K",
                   help="worker processes (default %(default)s; the files are the same "
                        "whatever the number)")


def _cmd_ensemble(args: argparse.Namespace) -> int:
    try:
        n = store.check_members(args.members)
    except ValueError as exc:
        print(f"nethep ensemble: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.output) if args.output else store.ENSEMBLE_DIR
    print(f"nethep ensemble: drawing {n:,} abstract-consistent cohorts (seed {args.seed})",
          file=sys.stderr)
    workers = max(1, args.workers)
    files = store.ensemble_files(build_ensemble(n, args.seed, workers=workers), workers)
    store.write_ensemble(files, out)
    print(f"Ensemble: {out} ({', '.join(files)})")
    return EXIT_OK


#: name, one-line help, description, options, handler (returns the exit code).
SUBCOMMANDS: tuple[tuple[str, str, str, Callable[[argparse.ArgumentParser], None],
                         Callable[[argparse.Namespace], int]], ...] = (
    ("run", "execute every notebook headless and build an HTML report",
     "Execute notebooks/NN_*.ipynb (several at a time), then write the executed "
     "notebooks, one HTML page per notebook, results.json, methods.md, strobe.md "
     "and index.html into the output folder.", _run_options, _cmd_run),
    ("ensemble", "build the ensemble of abstract-consistent cohorts (data/ensemble/)",
     "Draw N cohorts that each reproduce every number in the abstract, under several "
     "stated survival models, palliation rates, tests and P readings, and write "
     "members.csv.gz, quantities.csv and manifest.json (same bytes for the same N and "
     "seed; an interrupted build leaves no partial folder).", _ensemble_options,
     _cmd_ensemble),
    ("validate", "check a cohort file against the data contract",
     "Read a cohort file (CSV, TSV, .xlsx, .parquet), apply an optional mapping file, "
     "and report every problem at once (exit 1) or a summary (exit 0). The file is "
     "only read.", _validate_options, _cmd_validate),
)


def build_parser() -> argparse.ArgumentParser:
    """The ``nethep`` argument parser with its subcommands."""
    parser = argparse.ArgumentParser(
        prog="nethep",
        description="Reproducible supplement: rerun the whole nethep analysis headless.",
    )
    parser.add_argument("--version", action="version", version=f"nethep {__version__}")
    sub = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for name, summary, description, add_options, handler in SUBCOMMANDS:
        p = sub.add_parser(name, help=summary, description=description)
        add_options(p)
        p.set_defaults(handler=handler)
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
