"""Benchmark: the vectorised ensemble against a plain R loop and a lifelines loop.

One run prints members per second (wall and CPU) for

* nethep: ``build_ensemble(N)`` (all 48 design cells) and every quantity of
  :mod:`nethep.reconstruct.quantities` (HR and CI, three P values, Firth HR, CI and
  P, Monte Carlo permutation P, RMST, deaths, medians, S(12), S(60), adjusted, IPTW
  and landmark HRs, palliation rates, tipping points), N = 10,000 by default, in
  ``--workers`` processes (default 2), timed separately and together; CPU time
  includes the worker processes;
* a plain R loop, one candidate at a time with survival's ``survfit`` (each arm's
  S(36)), then the median follow-up, ``survdiff`` and ``coxph`` (the P reading),
  ``kruskal.test`` (liver) and ``fisher.test`` (palliation), and for each accepted
  member the same quantities (``coxph`` adjusted, IPTW via ``glm``, landmarks,
  ``survfit`` RMST/medians/S(t), tipping point by ``survdiff``), for one cell
  (Weibull 1.5, equal palliation rates, log-rank, lenient reading) run for
  ``--budget`` seconds; members per second = members found / elapsed (extrapolated to
  10,000 members, since the loop cannot run that long);
* the floor of this exact sampler: the random numbers alone of as many arms as the
  build drew (:func:`nethep.reconstruct.ensemble._draws`, numpy's generator, no
  arithmetic, no screening), in the same worker processes. Rejection at the published
  rounding fixes how many arms are drawn, so no faster code that draws every arm in
  full can take less than this plus the quantities (drawing patients past 36 months
  only for arms that pass would save at most about a third of the draws);
* the same loop in Python with lifelines (``KaplanMeierFitter``,
  ``logrank_test``, ``CoxPHFitter``) for ``--budget`` seconds.

Arms are drawn and accepted separately in all three (the two arms share no
patient), so the rules and the model are the same; only the engine differs.
The machine may be shared: CPU time is printed beside wall time.

    PYTHONPATH=. python benchmarks/ensemble.py [--members 10000] [--workers 2] [--budget 60]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test
from scipy import stats

from nethep.exact import fisher_exact_rxc
from nethep.reconstruct.ensemble import (
    BATCH,
    COUNTS,
    Ensemble,
    Layout,
    _arm,
    _draws,
    build_ensemble,
    worker_pool,
)
from nethep.reconstruct.store import DEFAULT_WORKERS, quantity_table

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
budget <- as.numeric(args[1])
suppressPackageStartupMessages(library(survival))
set.seed(1)
treat <- c(rep("octreotide", 7), rep("observation", 6), rep("chemotherapy", 4),
           rep("embolization", 18), rep("resection", 6), rep("ablation", 4),
           rep("resection_ablation", 3))
grp <- ifelse(treat %in% c("octreotide", "observation", "chemotherapy"), "medical",
              ifelse(treat == "embolization", "embolization", "surgical"))
s <- as.integer(grp == "surgical")
delay_par <- list(surgical = c(2, 1.25), embolization = c(2, 2), octreotide = c(1.5, 1),
                  chemotherapy = c(2, 1))
span <- as.integer(as.Date("2004-05-31") - as.Date("1996-01-01"))
closure <- as.Date("2005-12-31")
arm <- function(rows, s36) {
  m <- length(rows)
  day <- sample.int(span + 1, m, replace = TRUE) - 1
  delay <- rep(NA_real_, m)
  for (k in names(delay_par)) {
    sel <- grp[rows] == k | treat[rows] == k
    delay[sel] <- round(rgamma(sum(sel), delay_par[[k]][1], scale = delay_par[[k]][2]), 1)
  }
  entry <- ifelse(is.na(delay), 0, delay)
  scale <- 36 / (-log(s36))^(1 / 1.5)
  h <- (entry / scale)^1.5 + rexp(m)
  death <- scale * h^(1 / 1.5)
  end <- pmin(entry + rexp(m, 0.015),
              as.numeric(closure - (as.Date("1996-01-01") + day)) / 30.4375)
  time <- pmax(round(pmin(death, end), 1), pmax(round(entry, 1), 0.1))
  list(time = time, died = as.integer(death <= end), delay = delay)
}
s36_ok <- function(a, target) {
  f <- survfit(Surv(a$time, a$died) ~ 1)
  if (max(a$time) < 36) return(FALSE)
  floor(100 * summary(f, times = 36)$surv + 0.5) == target
}
lr_p <- function(t, d) pchisq(survdiff(Surv(t, d) ~ s)$chisq, 1, lower.tail = FALSE)
quantities <- function(t, d, mtt, islet, liver, age) {
  fit <- coxph(Surv(t, d) ~ s); summary(fit)
  for (sel in list(s == 1, s == 0)) {
    f <- survfit(Surv(t[sel], d[sel]) ~ 1)
    summary(f, rmean = 36)$table; quantile(f, 0.5); summary(f, times = c(12, 60), extend = TRUE)
  }
  coxph(Surv(t, d) ~ s + islet + liver + age)
  ps <- fitted(glm(s ~ islet + liver + age, family = binomial))
  suppressWarnings(coxph(Surv(t, d) ~ s, weights = ifelse(s == 1, 1, ps / (1 - ps))))
  for (L in c(3, 6)) {
    keep <- t > L; sl <- as.integer(s == 1 & !is.na(mtt) & mtt <= L)[keep]
    suppressWarnings(coxph(Surv(t[keep] - L, d[keep]) ~ sl))
  }
  cens <- which(s == 1 & d == 0); cens <- cens[order(t[cens])]
  for (k in 0:length(cens)) { dk <- d; dk[cens[seq_len(k)]] <- 1; if (lr_p(t, dk) >= 0.05) break }
}
start <- proc.time()
members <- 0; candidates <- 0
while ((proc.time() - start)[["elapsed"]] < budget) {
  repeat { a <- arm(which(s == 1), 0.83); candidates <- candidates + 1; if (s36_ok(a, 83)) break }
  repeat { b <- arm(which(s == 0), 0.31); if (s36_ok(b, 31)) break }
  t <- c(b$time, a$time); d <- c(b$died, a$died); mtt <- c(b$delay, a$delay)
  if (floor(median(t) + 0.5) != 20) next
  p <- lr_p(t, d)
  coxph(Surv(t, d) ~ s)
  if (!(p >= 0.005 && p < 0.015)) next
  tumor <- sample(c(rep("carcinoid", 36), rep("islet_cell", 12)))
  liver <- pmin(pmax(round(100 * rbeta(48, 2, 3.5)), 1), 95)
  if (kruskal.test(liver, grp)$p.value <= 0.05) next
  sym <- rbinom(48, 1, ifelse(tumor == "carcinoid", 0.65, 0.45))
  found <- FALSE
  for (i in 1:400) {
    pal <- rbinom(48, 1, 0.65)[sym == 1]
    tab <- table(factor(pal, 0:1), grp[sym == 1])
    pf <- fisher.test(tab)$p.value
    if (pf >= 0.15 && pf < 0.25) { found <- TRUE; break }
  }
  if (!found) next
  quantities(t, d, mtt, as.integer(tumor == "islet_cell"), liver,
             pmin(pmax(round(rnorm(48, 58, 11)), 25), 85))
  members <- members + 1
}
el <- proc.time() - start
cat(members, el[["elapsed"]], el[["user.self"]] + el[["sys.self"]], candidates, "\n")
"""


def _cpu() -> float:
    """CPU seconds of this process and its finished worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bench_nethep(n: int, workers: int) -> tuple[dict[str, tuple[float, float]], Ensemble]:
    """Wall and CPU seconds (workers included) of the build and of the quantities, and
    the ensemble built."""
    t0, c0 = time.perf_counter(), _cpu()
    built = build_ensemble(n, workers=workers)
    t1, c1 = time.perf_counter(), _cpu()
    quantity_table(built, workers)
    t2, c2 = time.perf_counter(), _cpu()
    counts = built.tried[list(COUNTS)].sum()
    print(f"nethep: {int(counts['surgical_arms']):,} surgical and "
          f"{int(counts['nonsurgical_arms']):,} non-surgical arms drawn, "
          f"{int(counts['arm_pairs']):,} arm pairs, {int(counts['accepted']):,} members "
          f"accepted, {n:,} used", flush=True)
    return {"build": (t1 - t0, c1 - c0), "quantities": (t2 - t1, c2 - c1),
            "total": (t2 - t0, c2 - c0)}, built


def _draw_rounds(job: tuple[bool, int, int]) -> int:
    """``rounds`` batches of :data:`BATCH` arms' random numbers, nothing else."""
    surgical, rounds, stream = job
    lay = Layout.load()
    for r in range(rounds):
        _draws(lay, surgical, BATCH, np.random.default_rng([stream, r]))
    return rounds


def bench_draws(built: Ensemble, workers: int) -> tuple[float, float]:
    """Wall and CPU seconds of drawing only the random numbers of as many arms of each
    kind as ``built`` drew, split evenly over ``workers`` processes."""
    counts = built.tried[["surgical_arms", "nonsurgical_arms"]].sum()
    jobs = []
    for stream, (kind, surgical) in enumerate((("surgical_arms", True),
                                               ("nonsurgical_arms", False))):
        rounds = int(counts[kind]) // BATCH
        share = [len(range(w, rounds, workers)) for w in range(workers)]
        jobs += [(surgical, k, 2 * w + stream) for w, k in enumerate(share)]
    t0, c0 = time.perf_counter(), _cpu()
    with worker_pool(workers) as pool:
        list(pool.map(_draw_rounds, jobs))
    return time.perf_counter() - t0, _cpu() - c0


def bench_r(budget: float) -> tuple[int, float, float] | None:
    if shutil.which("Rscript") is None:
        print("R loop: skipped (Rscript not found)")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "loop.R"
        script.write_text(R_SCRIPT, encoding="utf-8")
        out = subprocess.run(["Rscript", str(script), str(budget)], capture_output=True,
                             text=True, check=True).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def _km36(t: np.ndarray, d: np.ndarray) -> float:
    if t.max() < 36:
        return float("nan")
    return float(KaplanMeierFitter().fit(t, d).survival_function_at_times(36).iloc[0])


def bench_lifelines(budget: float) -> tuple[int, float, float]:
    lay = Layout.load()
    rng = np.random.default_rng(1)
    surg = lay.surgical
    t0, c0 = time.perf_counter(), time.process_time()
    members = 0
    warnings.simplefilter("ignore")
    while time.perf_counter() - t0 < budget:
        while True:
            a = _arm(lay, "weibull_1.5", True, 1, rng)
            if np.floor(100 * _km36(a["time"][0], a["died"][0]) + 0.5) == 83:
                break
        while True:
            b = _arm(lay, "weibull_1.5", False, 1, rng)
            if np.floor(100 * _km36(b["time"][0], b["died"][0]) + 0.5) == 31:
                break
        t = np.empty(48)
        d = np.empty(48)
        t[surg], t[~surg] = a["time"][0], b["time"][0]
        d[surg], d[~surg] = a["died"][0], b["died"][0]
        if np.floor(np.median(t) + 0.5) != 20:
            continue
        p = logrank_test(t[surg], t[~surg], d[surg], d[~surg]).p_value
        frame = pd.DataFrame({"T": t, "E": d, "s": surg.astype(float)})
        CoxPHFitter().fit(frame, "T", "E")
        if not 0.005 <= p < 0.015:
            continue
        liver = np.clip(np.rint(100 * rng.beta(2, 3.5, 48)), 1, 95)
        if stats.kruskal(*(liver[lay.group == g] for g in np.unique(lay.group))).pvalue <= .05:
            continue
        sym = rng.random(48) < 0.6
        for _ in range(400):
            pal = rng.random(48) < 0.65
            tab = np.array([[np.sum(pal & sym & (lay.group == g)) for g in np.unique(lay.group)],
                            [np.sum(~pal & sym & (lay.group == g)) for g in np.unique(lay.group)]])
            if 0.15 <= fisher_exact_rxc(tab) < 0.25:
                break
        for covs in (["s"], ["s", "x1", "x2", "x3"]):  # unadjusted, adjusted
            extra = frame.assign(x1=rng.random(48), x2=rng.random(48), x3=rng.random(48))
            CoxPHFitter().fit(extra[["T", "E", *covs]], "T", "E")
        for arm in (surg, ~surg):
            KaplanMeierFitter().fit(t[arm], d[arm])
        members += 1
    return members, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help="worker processes for nethep (default %(default)s)")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds for each of the R and lifelines loops")
    args = parser.parse_args()
    loops = {"R loop": bench_r(args.budget), "lifelines": bench_lifelines(args.budget)}
    for name, res in loops.items():
        if res is not None:
            m, w, c = res
            print(f"{name:<11} {m:>6,} members  wall {w:7.1f} s  CPU {c:7.1f} s  "
                  f"{m / w:8.3f} members/s (wall), {m / c:8.3f} per CPU-second", flush=True)
    times, built = bench_nethep(args.members, args.workers)
    for stage, (wall, cpu) in times.items():
        print(f"nethep {stage:<11} {args.members:>6,} members  wall {wall:7.1f} s  "
              f"CPU {cpu:7.1f} s  ({args.workers} workers)", flush=True)
    d_wall, d_cpu = bench_draws(built, args.workers)
    q_wall, q_cpu = times["quantities"]
    print(f"draws alone        {args.members:>6,} members  wall {d_wall:7.1f} s  "
          f"CPU {d_cpu:7.1f} s  (the build's random numbers, nothing else)")
    print(f"floor of this sampler (draws alone + quantities): wall {d_wall + q_wall:.1f} s, "
          f"CPU {d_cpu + q_cpu:.1f} s; the build is {times['build'][1] / d_cpu:.1f}x its "
          "draws in CPU time", flush=True)
    wall, cpu = times["total"]
    rate, cpu_rate = args.members / wall, args.members / cpu
    met = "met" if wall <= 15 and args.members >= 10_000 else "not met"
    print(f"nethep      {rate:8.1f} members/s (wall), {cpu_rate:8.1f} per CPU-second; goal "
          f"10,000 members in <= 15 s wall: {met}")
    for name, res in loops.items():
        if res is None or res[0] == 0:
            continue
        m, w, c = res
        print(f"nethep vs {name}: {rate / (m / w):.0f}x (wall), {cpu_rate / (m / c):.0f}x (CPU); "
              f"{name} would need ~{10_000 / (m / w) / 3600:.1f} h for 10,000 members")


if __name__ == "__main__":
    main()
