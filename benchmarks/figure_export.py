"""Benchmark: CPU seconds of exporting every figure of notebooks 01-05, before and after.

The notebooks' code cells are executed in this process (bundled cohort, output into a
temporary folder) with ``Notebook.figure``'s export replaced by a recorder, so the
figures are drawn from exactly the objects the notebooks build. Each figure is then
exported at both journal widths (PNG 300 dpi, PDF, SVG) by

- ``before``: plain ``savefig`` of each format, as :mod:`nethep.plots.export` did
  before the PDF font subsets were reused (kept here verbatim as the reference), and
- ``after``: :func:`nethep.plots.export.export_figure` as it is now,

alternately, best of N, timed with ``time.process_time`` (CPU seconds of this process,
which other load on the machine changes less than wall time). The bytes of every file
written by the two are compared. Not a test: prints numbers.

    .venv/bin/python benchmarks/figure_export.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
from IPython.display import display  # noqa: E402
from matplotlib.backends import _backend_pdf_ps  # noqa: E402

import nethep.notebook  # noqa: E402
from nethep.plots import export  # noqa: E402
from nethep.run import find_notebooks  # noqa: E402

NOTEBOOKS = ("01", "02", "03", "04", "05")
Call = tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def figure_calls(out: Path) -> list[Call]:
    """Execute the code cells of notebooks 01-05 here; return each figure's
    ``(name, make, args, kwargs)`` as ``Notebook.figure`` passes it to the export."""
    calls: list[Call] = []

    def record(name: str, output_dir: Path, make: Callable[..., Any], *args: Any,
               caption: Any = None, **kwargs: Any) -> export.SavedFigure:
        calls.append((name, make, args, kwargs))
        return export.SavedFigure(name, Path(output_dir), b"", caption)

    nethep.notebook.export_figure = record  # type: ignore[assignment]
    here = Path.cwd()
    try:
        for path in find_notebooks():
            if not path.name.startswith(NOTEBOOKS):
                continue
            os.chdir(path.parent)
            namespace: dict[str, Any] = {"display": display}
            with contextlib.redirect_stdout(io.StringIO()):
                for cell in nbformat.read(path, as_version=4).cells:
                    if cell.cell_type != "code":
                        continue
                    source = cell.source
                    if "parameters" in cell.metadata.get("tags", []):
                        source += f"\noutput_dir = {str(out)!r}\n"
                    exec(compile(source, path.name, "exec"), namespace)  # noqa: S102
    finally:
        os.chdir(here)
        nethep.notebook.export_figure = export.export_figure
    return calls


def export_before(name: str, output_dir: Path, make: Callable[..., Any], *args: Any,
                  **kwargs: Any) -> None:
    """The export as it was: each width drawn, each format saved by plain savefig."""
    folder = output_dir / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    for width in export.JOURNAL_WIDTHS_MM:
        fig = make(*args, width_mm=width, **kwargs)
        try:
            with mpl.rc_context({"svg.hashsalt": "nethep", "svg.fonttype": "none",
                                 "pdf.fonttype": 42}):
                for fmt in export.FORMATS:
                    buffer = io.BytesIO()
                    fig.savefig(buffer, format=fmt, metadata=dict(export.METADATA[fmt]),
                                dpi=export.EXPORT_DPI)
                    (folder / f"{name}_{width}mm.{fmt}").write_bytes(buffer.getvalue())
        finally:
            plt.close(fig)


def export_after(name: str, output_dir: Path, make: Callable[..., Any], *args: Any,
                 **kwargs: Any) -> None:
    """The export as it is now."""
    export.export_figure(name, output_dir, make, *args, **kwargs)


def _counted(original: Callable[..., Any], made: dict[str, int], variant: str,
             fontfile: Any, glyphs: Any) -> Any:
    """matplotlib's font subsetting, counted per variant."""
    made[variant] += 1
    return original(fontfile, glyphs)


def cpu_seconds(run: Callable[[], None]) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    args = parser.parse_args()
    variants = {"before": export_before, "after": export_after}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        calls = figure_calls(root / "notebooks")
        best: dict[tuple[str, str], float] = {}
        made = dict.fromkeys(variants, 0)  # fontTools subsettings, last repeat
        original = _backend_pdf_ps.get_glyphs_subset
        for _ in range(args.repeats):
            for name, make, fargs, kwargs in calls:
                for variant, run in variants.items():
                    _backend_pdf_ps.get_glyphs_subset = partial(_counted, original, made,
                                                                variant)
                    try:
                        seconds = cpu_seconds(partial(run, name, root / variant, make,
                                                      *fargs, **kwargs))
                    finally:
                        _backend_pdf_ps.get_glyphs_subset = original
                    key = (name, variant)
                    best[key] = min(best.get(key, seconds), seconds)
        print(f"CPU seconds per figure (both widths; PNG, PDF, SVG), best of {args.repeats}; "
              f"font subsets reused: {export.SUBSET_HOOK_ACTIVE}")
        print(f"{'figure':<28}{'before':>8}{'after':>8}{'saved':>8}")
        for name, *_ in calls:
            b, a = best[(name, "before")], best[(name, "after")]
            print(f"{name:<28}{b:8.2f}{a:8.2f}{b - a:8.2f}")
        before = sum(best[(name, "before")] for name, *_ in calls)
        after = sum(best[(name, "after")] for name, *_ in calls)
        print(f"{'total':<28}{before:8.2f}{after:8.2f}{before - after:8.2f} "
              f"({1 - after / before:.0%} less)")
        print(f"PDF font subsets made by fontTools: {made['before'] // args.repeats} before, "
              f"{made['after'] // args.repeats} after")
        for fmt in export.FORMATS:
            files = sorted((root / "before" / "figures").glob(f"*.{fmt}"))
            differ = [f.name for f in files
                      if f.read_bytes() != (root / "after" / "figures" / f.name).read_bytes()]
            size = {v: sum(f.stat().st_size for f in (root / v / "figures").glob(f"*.{fmt}"))
                    for v in variants}
            print(f"{fmt}: {len(files)} files, {size['before'] / 1e6:.2f} MB before, "
                  f"{size['after'] / 1e6:.2f} MB after; "
                  + ("bytes identical" if not differ else f"bytes differ: {differ}"))


if __name__ == "__main__":
    main()
