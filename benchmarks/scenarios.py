"""Benchmark: the known-truth scenarios (notebook 06), time per 1,000 replicates per method.

For each scenario kind (at true HR 0.5), simulates ``--replicates`` cohorts shaped like
the bundled one and times each method of :mod:`nethep.robustness.scenarios.methods`
over all of them (vectorised, no loop over replicates), scaled to 1,000 replicates.
Prints wall and CPU seconds (the machine may be shared: CPU time is the steadier
number), then the whole of :func:`run_scenarios` (8 scenarios) at ``--replicates``, and
:func:`scenario_study` as ``nethep run`` calls it on the bundled cohort (the study read
from ``data/scenarios/``, at the shipped replicates and seed).
For comparison, one single-cohort ``nethep.cox.coxph`` fit per replicate in a Python
loop (the naive Cox model only), scaled to 1,000. Not a test: prints numbers.

    PYTHONPATH=. python benchmarks/scenarios.py [--replicates 1000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from nethep.cohort import load_cohort
from nethep.cox import coxph
from nethep.robustness.scenarios import KINDS, Scenario, run_scenarios, scenario_study
from nethep.robustness.scenarios import methods as M
from nethep.robustness.scenarios.simulate import cohort_shape, simulate


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--loop", type=int, default=100,
                        help="replicates for the per-replicate coxph loop")
    args = parser.parse_args()
    df = load_cohort(None)
    shape = cohort_shape(df)
    scale = 1000 / args.replicates
    methods: dict[str, Callable[..., object]] = {
        "naive": M.naive_cox, "firth": M.firth_cox, "adjusted": M.adjusted_cox,
        "iptw_att": lambda r: M.iptw(r, "att"), "iptw_ate": lambda r: M.iptw(r, "ate"),
        "landmark_3": lambda r: M.landmark(r, 3.0), "landmark_6": lambda r: M.landmark(r, 6.0),
        "time_varying": M.time_varying, "rmst": M.rmst_difference,
        "permutation": lambda r: M.permutation_logrank(r, np.random.default_rng(1)),
    }
    print(f"seconds per 1,000 replicates (measured at {args.replicates}), wall / CPU")
    print(f"{'method':14s}" + "".join(f"{k:>20s}" for k in KINDS))
    reps = {k: simulate(shape, Scenario(k, 0.5), args.replicates, np.random.default_rng(1))
            for k in KINDS}
    for name, fn in methods.items():
        cells = []
        for k in KINDS:
            wall, cpu = timed(lambda fn=fn, k=k: fn(reps[k]))
            cells.append(f"{wall * scale:8.2f} / {cpu * scale:6.2f}")
        print(f"{name:14s}" + "".join(f"{c:>20s}" for c in cells))
    null = reps["null"]
    n_loop = min(args.loop, args.replicates)

    def loop() -> None:
        for i in range(n_loop):
            coxph(null.time[i], null.event[i].astype(int), null.surgical[i].astype(float))

    wall, cpu = timed(loop)
    print(f"\nnaive Cox, one coxph per replicate in a Python loop: {wall * 1000 / n_loop:.2f} / "
          f"{cpu * 1000 / n_loop:.2f} s per 1,000")
    wall, cpu = timed(lambda: run_scenarios(df, n_replicates=args.replicates))
    print(f"run_scenarios, 8 scenarios x {args.replicates} replicates: {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU")
    found: list[str] = []
    wall, cpu = timed(lambda: found.append(scenario_study(df).source))
    print(f"scenario_study on the bundled cohort ({found[0]}): {wall:.2f} s wall, "
          f"{cpu:.2f} s CPU")


if __name__ == "__main__":
    main()
