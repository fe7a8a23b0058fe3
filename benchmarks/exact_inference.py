"""Benchmark: nethep's permutation log-rank (Monte Carlo and exact) against R coin and lifelines.

Prints, in one run on the bundled 48-patient cohort (surgical vs non-surgical):

* nethep Monte Carlo, 100,000 permutations (``permutation_logrank``), 2 and 3 groups;
* nethep exact P (``exact_logrank``, shift algorithm with bounded discretization), at its
  default tolerance (P within 5e-7 of the exact P) and with the coarse ``rtol=0.01``;
* R coin ``logrank_test(..., distribution = approximate(nresample = 1e5))`` timed inside
  R (R start-up and package loading excluded), when ``Rscript`` and coin are installed;
  skipped with a message otherwise. coin's ``distribution = "exact"`` is tried only with
  ``--coin-exact-timeout SECONDS`` (it did not finish in 3 minutes at this size);
* a loop over ``lifelines.statistics.logrank_test``, one call per permutation, for a
  smaller count, scaled to 100,000.

Goals: Monte Carlo faster than coin in the same run; the coarse exact P under 1 second.
Every time is the best of ``--repeats`` runs after one warm-up. Not a test: prints numbers.

    PYTHONPATH=. python benchmarks/exact_inference.py [--repeats 3] [--lifelines 200]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines.statistics import logrank_test

from nethep.cohort import load_cohort
from nethep.exact_logrank import exact_logrank
from nethep.permutation import permutation_logrank

N_PERMUTATIONS = 100_000

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages({library(survival); library(coin)})
d <- read.csv(args[1], stringsAsFactors = FALSE)
repeats <- as.integer(args[2])
mode <- args[3]
best <- function(expr_fun) {
  expr_fun()  # warm-up
  min(vapply(seq_len(repeats), function(i) {
    t0 <- proc.time()[["elapsed"]]; expr_fun(); proc.time()[["elapsed"]] - t0
  }, 0))
}
set.seed(20061001)
cat(sprintf("coin_version %s\n", as.character(packageVersion("coin"))))
if (mode == "approximate") {
  mc2 <- best(function() logrank_test(Surv(time, event) ~ factor(arm), data = d,
                                      distribution = approximate(nresample = 1e5)))
  mc3 <- best(function() logrank_test(Surv(time, event) ~ factor(group), data = d,
                                      distribution = approximate(nresample = 1e5)))
  cat(sprintf("coin_mc2 %.6f\n", mc2))
  cat(sprintf("coin_mc3 %.6f\n", mc3))
} else {
  t0 <- proc.time()[["elapsed"]]
  e <- logrank_test(Surv(time, event) ~ factor(arm), data = d, distribution = "exact")
  cat(sprintf("coin_exact_p %.10g\n", pvalue(e)))
  cat(sprintf("coin_exact %.3f\n", proc.time()[["elapsed"]] - t0))
}
"""


def best_of(fn, repeats: int) -> tuple[float, object]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def coin_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    check = subprocess.run(
        ["Rscript", "-e", 'quit(status = !requireNamespace("coin", quietly = TRUE))'],
        capture_output=True, check=False,
    )
    return check.returncode == 0


def run_coin(data: Path, script: Path, repeats: int, mode: str,
             timeout: float | None) -> dict[str, str]:
    out = subprocess.run(["Rscript", str(script), str(data), str(repeats), mode],
                         capture_output=True, text=True, check=True, timeout=timeout)
    values = {}
    for line in out.stdout.splitlines():
        key, _, rest = line.partition(" ")
        values[key] = rest
    return values


def time_coin(df: pd.DataFrame, repeats: int, exact_timeout: float) -> dict[str, str]:
    """coin's Monte Carlo times (and, if asked, its exact run, killed at the timeout)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cohort.csv"
        script = Path(tmp) / "bench.R"
        pd.DataFrame({"time": df["followup_months"], "event": df["died"],
                      "arm": df["arm"], "group": df["treatment_group"]}).to_csv(data,
                                                                                index=False)
        script.write_text(R_SCRIPT, encoding="utf-8")
        values = run_coin(data, script, repeats, "approximate", timeout=600)
        if exact_timeout > 0:
            try:
                values |= run_coin(data, script, 1, "exact", timeout=exact_timeout)
            except subprocess.TimeoutExpired:
                values["coin_exact_timeout"] = f"{exact_timeout:g}"
    return values


def time_lifelines(time_: np.ndarray, event: np.ndarray, arm: np.ndarray, count: int) -> float:
    """Seconds per permutation of a loop over lifelines' logrank_test."""
    rng = np.random.default_rng(1)
    surgical = arm == "surgical"
    logrank_test(time_[surgical], time_[~surgical], event[surgical], event[~surgical])
    start = time.perf_counter()
    for _ in range(count):
        g = rng.permutation(surgical)
        logrank_test(time_[g], time_[~g], event_observed_A=event[g],
                     event_observed_B=event[~g])
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs (default 3)")
    parser.add_argument("--lifelines", type=int, default=200,
                        help="permutations run through lifelines (default 200), scaled")
    parser.add_argument("--coin-exact-timeout", type=float, default=0,
                        help="seconds to let coin's exact distribution run (default: skip)")
    args = parser.parse_args()

    df = load_cohort()
    t = df["followup_months"].to_numpy(float)
    e = df["died"].to_numpy(int)
    arm = df["arm"].to_numpy()
    group = df["treatment_group"].to_numpy()
    print(f"cohort: {len(df)} patients, {int((arm == 'surgical').sum())} surgical; "
          f"best of {args.repeats} after a warm-up")

    mc2, res2 = best_of(lambda: permutation_logrank(t, e, arm), args.repeats)
    mc3, res3 = best_of(lambda: permutation_logrank(t, e, group), args.repeats)
    ex, exact = best_of(lambda: exact_logrank(t, e, arm), args.repeats)
    ex_coarse, coarse = best_of(lambda: exact_logrank(t, e, arm, rtol=0.01), args.repeats)
    print(f"nethep Monte Carlo, 2 groups, {N_PERMUTATIONS:,} permutations: {mc2:.4f} s "
          f"(P = {res2.p:.5f}, MC SE {res2.mc_se:.5f})")
    print(f"nethep Monte Carlo, 3 groups, {N_PERMUTATIONS:,} permutations: {mc3:.4f} s "
          f"(P = {res3.p:.5f}, MC SE {res3.mc_se:.5f})")
    print(f"nethep exact P, 2 groups, C(48, 13) assignments:       {ex:.4f} s "
          f"(P = {exact.p:.8f}, bounds [{exact.p_lower:.8f}, {exact.p_upper:.8f}], "
          f"grid 1/{exact.grid_factor:g})")
    print(f"nethep exact P, coarse (rtol=0.01):                     {ex_coarse:.4f} s "
          f"(P = {coarse.p:.8f}, bounds [{coarse.p_lower:.8f}, {coarse.p_upper:.8f}], "
          f"grid 1/{coarse.grid_factor:g}) -> goal < 1 s: "
          f"{'met' if ex_coarse < 1 else 'NOT met'}")

    if coin_available():
        coin = time_coin(df, args.repeats, args.coin_exact_timeout)
        c2, c3 = float(coin["coin_mc2"]), float(coin["coin_mc3"])
        print(f"R coin {coin['coin_version']} approximate(1e5), 2 groups:          {c2:.4f} s "
              f"-> nethep is {c2 / mc2:.2f}x faster "
              f"({'goal met' if mc2 < c2 else 'goal NOT met'})")
        print(f"R coin {coin['coin_version']} approximate(1e5), 3 groups:          {c3:.4f} s "
              f"-> nethep is {c3 / mc3:.2f}x faster")
        if "coin_exact" in coin:
            print(f"R coin exact, 2 groups: {float(coin['coin_exact']):.1f} s "
                  f"(P = {coin['coin_exact_p']})")
        elif "coin_exact_timeout" in coin:
            print(f"R coin exact, 2 groups: did not finish within "
                  f"{coin['coin_exact_timeout']} s (stopped)")
        else:
            print("R coin exact: not run (did not finish in 3 min in the issue; "
                  "--coin-exact-timeout SECONDS to try)")
    else:
        print("R coin: skipped (Rscript or the coin package is not installed)")

    per = time_lifelines(t, e, arm, args.lifelines)
    scaled = per * N_PERMUTATIONS
    print(f"lifelines logrank_test loop: {per * 1e3:.2f} ms per permutation "
          f"({args.lifelines} run), {scaled:.0f} s scaled to {N_PERMUTATIONS:,} -> "
          f"nethep Monte Carlo is {scaled / mc2:,.0f}x faster, exact {scaled / ex:,.0f}x")


if __name__ == "__main__":
    main()
