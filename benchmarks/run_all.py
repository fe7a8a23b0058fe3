"""Benchmark: `nethep run` against the floor of the same notebooks cut to their imports.

The floor runs the same command on every notebook cut to its parameters cell and
the first code cell after it (imports, style, loading the cohort), so it measures
kernel starts, imports, papermill and the pages; the ratio full / floor says what
the analysis itself adds. Both use the same runner (notebooks executed concurrently
on the available cores). Goal (issue 10): ratio at most 1.5x. The two are timed
alternately, best of N each, so a busy machine slows both alike; the CPU seconds of
the runner and its kernels are printed too, a ratio that other load on the machine
changes less, and each notebook's seconds in the best full run beside its floor (the
longest notebook bounds the run however many cores there are). Not a test: prints numbers.

    .venv/bin/python benchmarks/run_all.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import nbformat

from nethep import cli
from nethep.run import available_cores, find_notebooks

GOAL = 1.5


def cut_to_imports(source: Path, target: Path) -> None:
    """Keep the parameters cell and the first code cell after it."""
    nb = nbformat.read(source, as_version=4)
    kept, seen_params = [], False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "parameters" in cell.metadata.get("tags", []):
            seen_params = True
            kept.append(cell)
        elif seen_params:
            kept.append(cell)
            break
    nb.cells = kept
    nbformat.write(nb, target)


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the kernels)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kernels = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kernels.ru_utime + kernels.ru_stime


def notebook_seconds(out: Path) -> dict[str, float]:
    """Wall seconds of each executed notebook (papermill's record, kernel start included)."""
    return {path.stem: float(nbformat.read(path, as_version=4).metadata
                             .get("papermill", {}).get("duration") or 0.0)
            for path in sorted((out / "notebooks").glob("*.ipynb"))}


def timed_run(notebooks_dir: Path | None,
              jobs: int | None = None) -> tuple[float, float, dict[str, float]]:
    """Wall and CPU seconds of one `nethep run` (no progress bar; ``jobs`` notebooks at a
    time, default the cores) into a fresh folder, and each notebook's wall seconds."""
    with tempfile.TemporaryDirectory() as out:
        args = ["run", "--output", out, "--no-progress"]
        if notebooks_dir is not None:
            args += ["--notebooks", str(notebooks_dir)]
        if jobs is not None:
            args += ["--jobs", str(jobs)]
        cpu, start = _cpu_seconds(), time.perf_counter()
        code = cli.main(args)
        elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
        per_notebook = notebook_seconds(Path(out))
    if code != cli.EXIT_OK:
        raise SystemExit(f"nethep run exited {code}")
    return elapsed, cpu, per_notebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs (default 3)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="notebooks at a time in both runs (default: nethep run's)")
    args = parser.parse_args()
    notebooks = find_notebooks()
    with tempfile.TemporaryDirectory() as tmp:
        floor_dir = Path(tmp)
        for nb in notebooks:
            cut_to_imports(nb, floor_dir / nb.name)
        timed_run(floor_dir, args.jobs)  # warm-up: imports of this process, caches
        floors, fulls = [], []
        for _ in range(args.repeats):
            floors.append(timed_run(floor_dir, args.jobs))
            fulls.append(timed_run(None, args.jobs))
    floor, floor_cpu, floor_nbs = min(floors, key=lambda run: run[0])  # best wall time
    full, full_cpu, full_nbs = min(fulls, key=lambda run: run[0])
    print(f"notebooks: {len(notebooks)}, cores: {available_cores()}, jobs: "
          f"{args.jobs or 'default'}, best of {args.repeats}")
    print(f"floor (imports only): {floor:.2f} s ({floor_cpu:.1f} s CPU)")
    print(f"nethep run (full):    {full:.2f} s ({full_cpu:.1f} s CPU)")
    verdict = "meets" if full / floor <= GOAL else "misses"
    print(f"ratio full / floor:   {full / floor:.2f}x ({verdict} the goal <= {GOAL}x); "
          f"CPU {full_cpu / floor_cpu:.2f}x")
    print("seconds per notebook (wall, best full run vs its floor; the longest bounds the run):")
    for name, seconds in sorted(full_nbs.items(), key=lambda item: -item[1]):
        print(f"  {name:<40}{seconds:7.2f}{floor_nbs.get(name, float('nan')):7.2f}")


if __name__ == "__main__":
    main()
