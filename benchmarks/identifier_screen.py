"""Benchmark: the identifier screen's cost does not grow with the export's rows.

``screen_identifiers`` checks column names on every column and values on a seeded
sample of :data:`nethep.id_values.SAMPLE` rows, so an export of 200,000 rows should
cost about what one of 2,000 rows costs. One run times both (the export of
``tests/test_identifiers.big_export``: 16 columns, one exact birth-date column), best
of ``--repeats``, CPU and wall, and prints the ratio (goal: at most 2x; the screen
once asserted < 2 s of CPU for 200,000 rows inside a test, now measured here).

    PYTHONPATH=. .venv/bin/python benchmarks/identifier_screen.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from nethep.id_values import SAMPLE
from nethep.identifiers import screen_identifiers
from tests.test_identifiers import big_export

GOAL = 2.0
TODAY = date(2026, 1, 1)


def best_of(frame, repeats: int) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeats`` screens of ``frame``."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        screen_identifiers(frame, TODAY)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = (SAMPLE, 100 * SAMPLE)
    times = {n: best_of(big_export(n), args.repeats) for n in sizes}
    for n, (wall, cpu) in times.items():
        print(f"{n:>9,} rows: {wall:6.2f} s wall {cpu:6.2f} s CPU")
    ratio = times[sizes[1]][1] / times[sizes[0]][1]
    print(f"CPU ratio {sizes[1]:,} / {sizes[0]:,} rows: {ratio:.2f}x (goal <= {GOAL}x): "
          f"{'met' if ratio <= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
