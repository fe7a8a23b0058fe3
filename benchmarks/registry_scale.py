"""Benchmark: the core survival pipeline on a registry-sized cohort, nethep against R.

Generates a contract-conforming cohort of ``--n`` patients (default 1,000,000;
deterministic seed; follow-up in tenths of a month, so every time is heavily tied)
into a temporary folder, then times each step and measures its peak memory:

1. read + validate   ``nethep.cohort.load_cohort`` (read as text, parse, pandera
                     checks, cross-field rules)        | R ``utils::read.csv``
2. Kaplan-Meier      ``nethep.survival.survival_at`` at 12/36/60 months with
                     log-log 95% CIs for the 3 groups, the non-surgical pool and
                     all patients                      | ``survfit`` + ``summary``
3. log-rank          ``nethep.survival.logrank(df, "treatment_group")`` (3 groups)
                                                       | ``survdiff``
4. Cox               ``nethep.survival.cox_surgical`` (surgical vs non-surgical,
                     Efron ties, with the proportional-hazards test)
                                                       | ``coxph(ties = "efron")``
                                                         + ``cox.zph(transform = "km")``

How it measures. Every step runs in a fresh process (Python, or ``Rscript`` when it
is installed) that first loads its input (for steps 2-4 a pickle / RDS of the
frame step 1 produced; not timed), then resets the kernel's peak-RSS counter
(``echo 5 > /proc/self/clear_refs``, which resets both ``VmHWM`` and
``getrusage().ru_maxrss``), times the step with a monotonic clock
(``time.perf_counter`` / R ``system.time`` elapsed) and reads the peak resident set
size of the process during the step from ``/proc/self/status`` ``VmHWM``. "peak MiB"
is that process peak (interpreter, libraries and the input frame included);
"+MiB" is the part above the resident size just before the step. tracemalloc is
not used (too slow for numpy-heavy code, and blind to R). Without ``clear_refs``
(not Linux) the peak falls back to ``ru_maxrss`` of the whole process.

Then the whole nethep pipeline runs once more end to end in one fresh process
(steps 1-4, as a user's script would), giving the total time and peak memory that
the goals are about: under 30 s and 4 GiB at 1M rows, and no slower than R's steps
on the same file in the same run. R's read.csv does not validate anything, so the
read step compares unlike work; the ratio is shown for the survival steps and the
total alike.

Not a test: prints numbers, never part of the pytest suite.

    PYTHONPATH=. python benchmarks/registry_scale.py [--n 1000000] [--seed 2006]
        [--keep DIR] [--no-r] [--no-end-to-end]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
TIMES = (12, 36, 60)
STEPS = ("read+validate", "Kaplan-Meier", "log-rank", "Cox")


# ---------------------------------------------------------------------------------
# A contract-conforming registry cohort
# ---------------------------------------------------------------------------------

def _tenths(k: np.ndarray) -> pd.Series:
    """Integer tenths as decimal text: 123 -> '12.3'."""
    k = pd.Series(k)
    return (k // 10).astype(str) + "." + (k % 10).astype(str)


def make_cohort(n: int, seed: int = 2006) -> pd.DataFrame:
    """``n`` synthetic patients that satisfy every field constraint and rule of the contract.

    Groups medical / embolization / surgical in proportion 45 / 25 / 30; survival
    exponential with a median of 40, 55 and 110 months by group (so the log-rank and
    the Cox HR are far from null), administrative censoring uniform over 0.1 to 180
    months; times rounded to tenths of a month (about 1,800 distinct values, so ties
    are heavy, as in a registry that records months).
    """
    rng = np.random.default_rng(seed)
    groups = np.array(["medical", "embolization", "surgical"])
    g = rng.choice(3, size=n, p=[0.45, 0.25, 0.30])
    treatments = {
        0: (["octreotide", "observation", "chemotherapy"], [0.6, 0.25, 0.15]),
        1: (["embolization"], [1.0]),
        2: (["resection", "ablation", "resection_ablation"], [0.6, 0.25, 0.15]),
    }
    treatment = np.empty(n, dtype=object)
    for code, (labels, p) in treatments.items():
        idx = np.flatnonzero(g == code)
        treatment[idx] = np.asarray(labels, dtype=object)[rng.choice(len(labels), len(idx), p=p)]
    median = np.array([40.0, 55.0, 110.0])[g]
    death = rng.exponential(median / np.log(2))
    censor = rng.uniform(0.1, 180.0, size=n)
    died = (death <= censor).astype(int)
    follow = np.maximum(np.rint(np.minimum(death, censor) * 10).astype(np.int64), 1)
    treated = treatment != "observation"
    to_treat = np.minimum(np.floor(rng.exponential(2.0, n) * 10).astype(np.int64), follow)
    symptomatic = rng.random(n) < 0.6
    palliated = (rng.random(n) < 0.7).astype(int)
    liver = rng.integers(1, 100, n)
    frame = pd.DataFrame({
        "patient_id": pd.Series(np.arange(1, n + 1)).map("R{:07d}".format),
        "tumor_type": np.where(rng.random(n) < 0.75, "carcinoid", "islet_cell"),
        "treatment_group": groups[g],
        "treatment": treatment,
        "liver_involvement_pct": liver.astype(str),
        "months_to_treatment": np.where(treated, _tenths(to_treat), ""),
        "followup_months": _tenths(follow),
        "died": died.astype(str),
        "symptomatic": symptomatic.astype(int).astype(str),
        "palliated": np.where(symptomatic, palliated.astype(str), ""),
        "year_of_diagnosis": rng.integers(1996, 2021, n).astype(str),
        "age_years": rng.integers(18, 101, n).astype(str),
        "sex": np.where(rng.random(n) < 0.5, "female", "male"),
    })
    return frame


def write_cohort(path: Path, n: int, seed: int) -> None:
    make_cohort(n, seed).to_csv(path, index=False, lineterminator="\n")


# ---------------------------------------------------------------------------------
# Measuring one step in this process (called in a fresh child process)
# ---------------------------------------------------------------------------------

def _status_mib(key: str) -> float | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    hit = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(hit.group(1)) / 1024 if hit else None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mib(reset: bool) -> float:
    hwm = _status_mib("VmHWM") if reset else None
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _summary(step: str, result) -> dict:
    """A few numbers of each result, to check nethep and R computed the same thing."""
    if step == "Kaplan-Meier":
        rows = result.table()
        pick = rows[(rows["group"] == "surgical") & (rows["time"] == 60)].iloc[0]
        return {"surv_surgical_60": float(pick["surv"]), "lower_surgical_60": float(pick["lower"]),
                "upper_surgical_60": float(pick["upper"])}
    if step == "log-rank":
        return {"chisq": result.statistic}
    if step == "Cox":
        return {"hr": result.hazard_ratio.hr, "se": result.se, "ph_chisq": result.ph_statistic}
    return {"rows": len(result)}


def run_step(step: str, folder: Path) -> dict:
    """Run one step on the files in ``folder``; return seconds, peak and baseline MiB."""
    import gc

    from nethep import survival
    from nethep.cohort import load_cohort

    csv_path = folder / "cohort.csv"
    frame_path = folder / "validated.pkl"
    actions = {
        "read+validate": lambda df: load_cohort(csv_path),
        "Kaplan-Meier": lambda df: survival.survival_at(df, TIMES),
        "log-rank": lambda df: survival.logrank(df, "treatment_group"),
        "Cox": lambda df: survival.cox_surgical(df),
    }
    df = None
    if step != "read+validate":
        with frame_path.open("rb") as fh:
            df = pickle.load(fh)
    gc.collect()
    base = _status_mib("VmRSS") or 0.0
    reset = _reset_peak()
    start = time.perf_counter()
    result = actions[step](df)
    seconds = time.perf_counter() - start
    peak = _peak_mib(reset)
    if step == "read+validate":
        with frame_path.open("wb") as fh:
            pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return {"seconds": seconds, "peak_mib": peak, "base_mib": base, "peak_reset": reset,
            "check": _summary(step, result)}


def run_pipeline(folder: Path) -> dict:
    """All four steps in this one process, as a user's script would run them."""
    start = time.perf_counter()
    from nethep import survival
    from nethep.cohort import load_cohort
    imports = time.perf_counter() - start
    start = time.perf_counter()
    df = load_cohort(folder / "cohort.csv")
    survival.survival_at(df, TIMES)
    survival.logrank(df, "treatment_group")
    survival.cox_surgical(df)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "imports": imports, "peak_mib": peak}


# ---------------------------------------------------------------------------------
# The same steps in R
# ---------------------------------------------------------------------------------

R_SCRIPT = r"""
# One step of the registry benchmark in R's survival (written by registry_scale.py).
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
step <- args[1]; folder <- args[2]
status_mib <- function(key) {
  line <- grep(paste0("^", key, ":"), readLines("/proc/self/status"), value = TRUE)
  if (length(line) == 0) return(NA_real_)
  as.numeric(gsub("[^0-9]", "", line)) / 1024
}
reset_peak <- function() {
  ok <- tryCatch({ writeLines("5", "/proc/self/clear_refs"); TRUE },
                 error = function(e) FALSE, warning = function(w) FALSE)
  ok
}
x <- NULL
if (step != "read") x <- readRDS(file.path(folder, "validated.rds"))
invisible(gc())
base <- status_mib("VmRSS")
reset <- reset_peak()
check <- list()
extra <- list()
if (step == "read") {
  el <- system.time({
    x <- utils::read.csv(file.path(folder, "cohort.csv"), stringsAsFactors = FALSE)
    x$surgical <- as.integer(x$treatment_group == "surgical")
  })[["elapsed"]]
  check$rows <- nrow(x)
} else if (step == "km") {
  el <- system.time({
    by_group <- survfit(Surv(followup_months, died) ~ treatment_group, data = x,
                        conf.type = "log-log")
    s <- summary(by_group, times = c(12, 36, 60))
    ns <- x[x$surgical == 0, ]
    s_ns <- summary(survfit(Surv(followup_months, died) ~ 1, data = ns, conf.type = "log-log"),
                    times = c(12, 36, 60))
    s_all <- summary(survfit(Surv(followup_months, died) ~ 1, data = x, conf.type = "log-log"),
                     times = c(12, 36, 60))
  })[["elapsed"]]
  k <- which(s$strata == "treatment_group=surgical" & s$time == 60)
  check$surv_surgical_60 <- s$surv[k]
  check$lower_surgical_60 <- s$lower[k]
  check$upper_surgical_60 <- s$upper[k]
} else if (step == "logrank") {
  el <- system.time(sd <- survdiff(Surv(followup_months, died) ~ treatment_group,
                                   data = x))[["elapsed"]]
  check$chisq <- sd$chisq
} else if (step == "cox") {
  t_fit <- system.time(fit <- coxph(Surv(followup_months, died) ~ surgical, data = x,
                                    ties = "efron"))[["elapsed"]]
  t_zph <- system.time(zph <- cox.zph(fit, transform = "km"))[["elapsed"]]
  el <- t_fit + t_zph
  extra$coxph_seconds <- t_fit
  extra$zph_seconds <- t_zph
  check$hr <- unname(exp(coef(fit)))
  check$se <- unname(sqrt(fit$var[1, 1]))
  check$ph_chisq <- unname(zph$table[1, "chisq"])
}
peak <- if (isTRUE(reset)) status_mib("VmHWM") else NA_real_
if (step == "read") saveRDS(x, file.path(folder, "validated.rds"), compress = FALSE)
kv <- c(list(seconds = el, peak_mib = peak, base_mib = base, peak_reset = as.numeric(reset)),
        extra, setNames(check, paste0("check.", names(check))))
for (nm in names(kv)) cat(nm, "=", sprintf("%.17g", kv[[nm]]), "\n", sep = "")
"""

R_STEPS = {"read+validate": "read", "Kaplan-Meier": "km", "log-rank": "logrank", "Cox": "cox"}


def run_r_step(rscript: str, script: Path, step: str, folder: Path) -> dict:
    out = subprocess.run([rscript, "--vanilla", str(script), R_STEPS[step], str(folder)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"R step {step} failed:\n{out.stderr}")
    values: dict = {"check": {}}
    for line in out.stdout.splitlines():
        if "=" not in line:
            continue
        key, value = line.split("=", 1)
        number = float(value)
        if key.startswith("check."):
            values["check"][key[len("check."):]] = number
        else:
            values[key] = number
    values["peak_reset"] = bool(values.get("peak_reset"))
    return values


# ---------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------

def _child(args: list[str]) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"step {args} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else format(x, spec)


def _report(n: int, py: dict, r: dict | None, pipeline: dict | None, r_note: str) -> None:
    print()
    print(f"Registry-scale pipeline, {n:,} patients "
          f"({os.cpu_count()} CPUs; peak = process VmHWM during the step, "
          "+ = above the resident size before it)")
    head = (f"{'step':<15} {'nethep s':>9} {'peak MiB':>9} {'+MiB':>7}   "
            f"{'R s':>7} {'peak MiB':>9} {'+MiB':>7}   {'time nethep/R':>13}")
    print(head)
    print("-" * len(head))
    total_py = total_r = 0.0
    for step in STEPS:
        a = py[step]
        b = r.get(step) if r else None
        total_py += a["seconds"]
        ratio = "-"
        if b:
            total_r += b["seconds"]
            ratio = f"{a['seconds'] / b['seconds']:.2f}" if b["seconds"] > 0 else "-"
        print(f"{step:<15} {a['seconds']:>9.2f} {a['peak_mib']:>9.0f} "
              f"{a['peak_mib'] - a['base_mib']:>7.0f}   "
              f"{_fmt(b and b['seconds'], '7.2f'):>7} {_fmt(b and b['peak_mib'], '9.0f'):>9} "
              f"{_fmt(b and b['peak_mib'] - b['base_mib'], '7.0f'):>7}   {ratio:>13}")
    survival_py = total_py - py["read+validate"]["seconds"]
    print("-" * len(head))
    if r:
        survival_r = total_r - r["read+validate"]["seconds"]
        print(f"{'survival steps':<15} {survival_py:>9.2f} {'':>17}   {survival_r:>7.2f} "
              f"{'':>17}   {survival_py / survival_r:>13.2f}")
        print(f"{'all four steps':<15} {total_py:>9.2f} {'':>17}   {total_r:>7.2f} "
              f"{'':>17}   {total_py / total_r:>13.2f}")
        cox = r["Cox"]
        print(f"R's Cox step: coxph {cox['coxph_seconds']:.2f} s + cox.zph "
              f"{cox['zph_seconds']:.2f} s. R's read step is utils::read.csv only "
              "(no validation); nethep's reads as text and validates the contract.")
    else:
        print(f"{'survival steps':<15} {survival_py:>9.2f}")
        print(f"{'all four steps':<15} {total_py:>9.2f}")
        print(r_note)
    if pipeline:
        ok_time = pipeline["seconds"] <= 30
        ok_mem = pipeline["peak_mib"] <= 4096
        print(f"\nWhole nethep pipeline in one fresh process: {pipeline['seconds']:.2f} s "
              f"(+ {pipeline['imports']:.2f} s imports), peak RSS "
              f"{pipeline['peak_mib']:.0f} MiB (ru_maxrss)")
        verdict = [f"under 30 s: {'yes' if ok_time else 'NO'}",
                   f"under 4 GiB: {'yes' if ok_mem else 'NO'}"]
        if r:
            verdict.append(f"no slower than R's four steps ({total_r:.2f} s): "
                           f"{'yes' if pipeline['seconds'] <= total_r else 'NO'}")
        print("Goals: " + "; ".join(verdict))
    if r:
        print("\nSame answers (relative difference nethep vs R):")
        for step in STEPS[1:]:
            for key, value in py[step]["check"].items():
                other = r[step]["check"].get(key)
                if other is None:
                    continue
                rel = abs(value - other) / max(abs(other), 1e-300)
                print(f"  {step:<13} {key:<18} nethep {value:.10g}  R {other:.10g}  ({rel:.1e})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="patients (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=2006, help="random seed (default 2006)")
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    parser.add_argument("--no-r", action="store_true", help="skip R even if Rscript is found")
    parser.add_argument("--no-end-to-end", action="store_true",
                        help="skip the whole-pipeline run in one process")
    parser.add_argument("--_step", help=argparse.SUPPRESS)
    parser.add_argument("--_pipeline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._step:
        print(json.dumps(run_step(args._step, args._dir)))
        return
    if args._pipeline:
        print(json.dumps(run_pipeline(args._dir)))
        return

    with tempfile.TemporaryDirectory(prefix="nethep-registry-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        write_cohort(folder / "cohort.csv", args.n, args.seed)
        size = (folder / "cohort.csv").stat().st_size / 2**20
        print(f"generated {args.n:,} patients ({size:.0f} MiB CSV, seed {args.seed}) in "
              f"{time.perf_counter() - start:.1f} s")
        py = {}
        for step in STEPS:
            py[step] = _child(["--_step", step, "--_dir", str(folder)])
            print(f"  nethep {step:<14} {py[step]['seconds']:7.2f} s  "
                  f"peak {py[step]['peak_mib']:6.0f} MiB", flush=True)
        r, r_note = None, ""
        rscript = shutil.which("Rscript")
        if args.no_r:
            r_note = "R skipped (--no-r)."
        elif rscript is None:
            r_note = ("R skipped: Rscript is not installed "
                      "(apt-get install r-base-core r-cran-survival).")
        else:
            script = folder / "registry_step.R"
            script.write_text(R_SCRIPT)
            r = {}
            for step in STEPS:
                r[step] = run_r_step(rscript, script, step, folder)
                print(f"  R      {step:<14} {r[step]['seconds']:7.2f} s  "
                      f"peak {r[step]['peak_mib']:6.0f} MiB", flush=True)
        pipeline = None
        if not args.no_end_to_end:
            pipeline = _child(["--_pipeline", "--_dir", str(folder)])
        _report(args.n, py, r, pipeline, r_note)


if __name__ == "__main__":
    main()
