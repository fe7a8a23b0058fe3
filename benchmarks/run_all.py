"""Benchmark: `nethep run` against the floor of the same notebooks cut to their imports.

The floor executes every notebook with only its parameters cell and its first
code cell after it (imports, style, loading the cohort), so it measures kernel
starts, imports and papermill overhead. The ratio full / floor says what the
analysis itself costs. Goal (issue 3): at most 1.5x. Not a test: prints numbers.

    .venv/bin/python benchmarks/run_all.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nbformat

from nethep.run import DEFAULT_NOTEBOOKS_DIR, find_notebooks, run_all


def cut_to_imports(source: Path, target: Path) -> None:
    """Keep markdown, the parameters cell and the first code cell after it."""
    nb = nbformat.read(source, as_version=4)
    kept, code_after_params, seen_params = [], 0, False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "parameters" in cell.metadata.get("tags", []):
            seen_params = True
            kept.append(cell)
        elif seen_params and code_after_params == 0:
            kept.append(cell)
            code_after_params += 1
    nb.cells = kept
    nbformat.write(nb, target)


def timed(notebooks_dir: Path, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            run_all(output_dir=out, notebooks_dir=notebooks_dir, progress=False)
            best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="best of N runs (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        floor_dir = Path(tmp)
        for nb in find_notebooks(DEFAULT_NOTEBOOKS_DIR):
            cut_to_imports(nb, floor_dir / nb.name)
        floor = timed(floor_dir, args.repeats)
    full = timed(DEFAULT_NOTEBOOKS_DIR, args.repeats)
    n = len(find_notebooks(DEFAULT_NOTEBOOKS_DIR))
    print(f"notebooks: {n}")
    print(f"floor (imports only): {floor:.2f} s")
    print(f"nethep run (full):    {full:.2f} s")
    print(f"ratio full / floor:   {full / floor:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
