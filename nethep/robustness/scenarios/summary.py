"""Bias, coverage and rejection of every method in every scenario (notebook 06).

:func:`run_scenarios` simulates each :class:`~nethep.robustness.scenarios.simulate.Scenario`
(``n_replicates`` cohorts shaped like the analysed one), applies every method of
:mod:`~nethep.robustness.scenarios.methods` and summarises, per scenario and method,
over the replicates where the method is estimable:

- **bias**: mean of (estimate - truth), the truth log(true HR) for hazard ratios (log
  scale) and the true RMST difference (months) for the RMST;
- **coverage**: share of 95% CIs that contain the truth;
- **rejection**: share of replicates with two-sided P < .05 (the type I error when the
  true HR is 1, the power otherwise);
- each with its Monte Carlo SE (SD / sqrt(m) for the bias, sqrt(q (1 - q) / m) for a
  share q, m the estimable replicates); ``n_failed`` counts the replicates where the
  method had no estimate (they are left out of the three summaries, never silently).

A cohort whose shape cannot be simulated (fewer than 2 patients in an arm, no death in
the non-surgical arm, a liver involvement that does not vary:
:func:`~nethep.robustness.scenarios.simulate.simulation_reason`) gives a study with no
rows and that ``reason``; its tables, sentences, results and figure say "not estimable
(<reason>)" (:mod:`nethep.estimable`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nethep import estimable
from nethep.formats import finite_or_none, join_and
from nethep.results import to_jsonable
from nethep.robustness.scenarios.methods import (
    METHOD_LABELS,
    N_PERMUTATIONS,
    RMST_TAU,
    Estimates,
    apply_all,
)
from nethep.robustness.scenarios.simulate import (
    KINDS,
    CohortShape,
    Scenario,
    cohort_shape,
    default_scenarios,
    marginal_hr,
    simulate,
    simulation_reason,
    true_rmst_difference,
)

#: Replicates per scenario in notebook 06, and the seed of its random streams.
N_REPLICATES = 1000
SEED = 20061001
ALPHA = 0.05
#: Methods that estimate a hazard ratio (the candidates for "least biased").
HR_METHODS = tuple(k for k in METHOD_LABELS if k not in ("rmst", "permutation"))
#: The columns of :meth:`ScenarioStudy.table` (and of data/scenarios/study.csv), in order.
ROW_COLUMNS = ("scenario", "kind", "true_hr", "marginal_hr", "method", "label", "scale",
               "truth", "n_replicates", "n_failed", "bias", "mcse_bias", "median_bias",
               "coverage", "mcse_coverage", "rejection", "mcse_rejection")


def _share(flags: np.ndarray) -> tuple[float, float]:
    m = len(flags)
    if m == 0:
        return math.nan, math.nan
    q = float(flags.mean())
    return q, math.sqrt(q * (1 - q) / m)


def summarise(est: Estimates, truth: float) -> dict[str, float | int]:
    """Bias (mean, with its Monte Carlo SE, and median), coverage and rejection (with
    Monte Carlo SEs) over the estimable replicates. The median bias is shown beside the
    mean because a few replicates with one or two deaths in an arm give extreme log
    hazard ratios that pull the mean."""
    ok = est.ok
    m = int(ok.sum())
    e, lo, hi, p = est.estimate[ok], est.lower[ok], est.upper[ok], est.p[ok]
    has_ci = bool(np.isfinite(e).any())
    bias = float(np.mean(e - truth)) if has_ci and m else math.nan
    median_bias = float(np.median(e - truth)) if has_ci and m else math.nan
    mcse_bias = float(np.std(e - truth, ddof=1) / math.sqrt(m)) if has_ci and m > 1 else math.nan
    coverage, mcse_cov = _share((lo <= truth) & (truth <= hi)) if has_ci else (math.nan,
                                                                                 math.nan)
    rejection, mcse_rej = _share(p < ALPHA)
    return {"n_replicates": len(ok), "n_failed": len(ok) - m, "bias": bias,
            "mcse_bias": mcse_bias, "median_bias": median_bias, "coverage": coverage,
            "mcse_coverage": mcse_cov,
            "rejection": rejection, "mcse_rejection": mcse_rej}


def _rng(seed: int, scenario: Scenario, stream: int) -> np.random.Generator:
    """The random stream of one scenario (``stream`` 0: data, 1: permutations), fixed
    by the seed, the kind and the true HR, so adding a scenario changes no other's."""
    return np.random.default_rng(
        [seed, KINDS.index(scenario.kind), round(1000 * scenario.true_hr), stream])


@dataclass(frozen=True)
class ScenarioStudy:
    """Every method's bias, coverage and rejection in every scenario (:func:`run_scenarios`)."""

    rows: pd.DataFrame  # one row per scenario and method (columns: see table())
    scenarios: tuple[Scenario, ...]
    shape: CohortShape | None  # None when the cohort cannot be simulated (reason)
    n_replicates: int
    seed: int
    n_permutations: int = N_PERMUTATIONS
    rmst_tau: float = RMST_TAU
    source: str = "computed"  # or "stored": read from data/scenarios/ (store.scenario_study)
    reason: str = ""  # why nothing was simulated (simulate.simulation_reason); "" if run

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per scenario and method: scenario, true_hr, method, scale, truth,
        bias (log HR; RMST: months), coverage, rejection, their Monte Carlo SEs,
        n_replicates and n_failed (replicate counts, not patients: not suppressed).
        Not estimable (``reason``): one row per scenario, numbers empty, the reason in
        a ``note`` column."""
        if not self.reason:
            return self.rows.copy()
        out = pd.DataFrame({"scenario": [s.key for s in self.scenarios],
                            "kind": [s.kind for s in self.scenarios],
                            "true_hr": [s.true_hr for s in self.scenarios]},
                           columns=list(ROW_COLUMNS))
        return out.assign(method="all methods", note=estimable.words(self.reason))

    def wide(self, measure: str) -> pd.DataFrame:
        """``measure`` (bias, median_bias, coverage or rejection) as methods x scenarios; a method
        without that measure (the permutation test has no bias or coverage) is left out
        rather than shown as NaN. Not estimable (``reason``): one row that says so."""
        if self.reason:
            return pd.DataFrame({"note": [estimable.words(self.reason)]},
                                index=pd.Index(["all methods"], name="method"))
        out = self.rows.pivot(index="method", columns="scenario", values=measure)
        order = [s.key for s in self.scenarios]
        out = out.loc[[m for m in METHOD_LABELS if m in out.index], order]
        return out.dropna(how="all")

    def row(self, scenario: str, method: str) -> pd.Series:
        """The row of one scenario key and method key."""
        hit = self.rows[(self.rows["scenario"] == scenario) & (self.rows["method"] == method)]
        if hit.empty:
            raise KeyError(f"no row for scenario {scenario!r}, method {method!r}")
        return hit.iloc[0]

    def least_biased(self, scenario: str) -> str | None:
        """The best hazard-ratio method other than the naive one in ``scenario``: among
        those estimable in at least 90% of the replicates, the smallest |bias|; methods
        within 2 Monte Carlo SEs of that smallest |bias| count as tied, and the tie goes
        to the coverage closest to 95%. None when no such method was estimable that
        often (a cohort with very few patients or deaths in an arm)."""
        sub = self.rows[(self.rows["scenario"] == scenario)
                        & self.rows["method"].isin(HR_METHODS[1:])
                        & (self.rows["n_failed"] <= 0.1 * self.rows["n_replicates"])
                        & self.rows["bias"].notna()]
        if sub.empty:
            return None
        best = sub.loc[sub["bias"].abs().idxmin()]
        tied = sub[sub["bias"].abs() <= abs(best["bias"]) + 2 * best["mcse_bias"]]
        return str(tied.loc[(tied["coverage"] - 0.95).abs().idxmin(), "method"])

    def _pair(self, scenario: Scenario) -> str:
        naive = self.row(scenario.key, "naive")
        best_key = self.least_biased(scenario.key)

        def describe(r: pd.Series) -> str:
            if pd.isna(r["bias"]):
                return "no estimate in any replicate"
            return (f"bias {r['bias']:+.2f} (MC SE {r['mcse_bias']:.2f}), coverage "
                    f"{100 * r['coverage']:.0f}%, rejection {100 * r['rejection']:.0f}%")

        if best_key is None:
            return (f"{scenario.label}: naive Cox {describe(naive)}; no other method had "
                    "an estimate in at least 90% of the replicates.")
        best = self.row(scenario.key, best_key)
        return (f"{scenario.label}: naive Cox {describe(naive)}; best, "
                f"{METHOD_LABELS[best_key]}: {describe(best)}.")

    def kind_sentence(self, kind: str, tolerance: float = 0.1) -> str:
        """Which hazard-ratio methods stayed within ``tolerance`` of the true log HR
        (|bias|) at every true HR of scenario ``kind``, and whether the naive one did."""
        sub = self.rows[(self.rows["kind"] == kind) & self.rows["method"].isin(HR_METHODS)]
        worst = sub.groupby("method", sort=False)["bias"].apply(lambda b: b.abs().max())
        within = [METHOD_LABELS[m] for m in HR_METHODS if worst.get(m, np.inf) <= tolerance]
        names = {"confounding": "Confounding by indication", "immortal": "Immortal time",
                 "censoring": "Informative censoring"}
        naive = "within" if worst.get("naive", np.inf) <= tolerance else "outside"
        if not within:
            return (f"{names.get(kind, kind)}: no method kept its bias within "
                    f"{tolerance:g} on the log-HR scale at every true HR (the naive Cox "
                    f"model's largest |bias| {worst['naive']:.2f}).")
        return (f"{names.get(kind, kind)}: within {tolerance:g} of the true log HR at every "
                f"true HR: {', '.join(within)}; the naive Cox model is {naive} "
                f"(largest |bias| {worst['naive']:.2f}).")

    def marginal_sentence(self) -> str:
        """The marginal HR beside the conditional one where they differ (a prognostic
        factor makes the Cox HR non-collapsible)."""
        first = self.rows.drop_duplicates("scenario")
        differ = first[(first["marginal_hr"] - first["true_hr"]).abs() > 1e-9]
        if differ.empty:
            return "Marginal and conditional hazard ratios coincide in every scenario."
        parts = [f"{s} {m:.2f} (conditional {t:g})" for s, m, t in
                 zip(differ["scenario"], differ["marginal_hr"], differ["true_hr"],
                     strict=True)]
        return ("Marginal HR of the generating model (large randomised cohort; the naive "
                "and IPTW models target a marginal HR): " + "; ".join(parts) + ".")

    def findings(self) -> str:
        """One line per scenario: the naive Cox model against the best other hazard-ratio
        method (:meth:`least_biased`; bias on the log-HR scale, coverage of the 95% CI,
        share of P < .05); per kind of bias, the methods that kept it within 0.1; and
        the replicates without a naive estimate. Not estimable: one line that says why."""
        if self.reason:
            return (f"Known-truth scenarios {estimable.words(self.reason)}: no cohort was "
                    "simulated, so nothing is said here about what the methods detect.")
        lines = [self._pair(s) for s in self.scenarios]
        lines += [self.kind_sentence(kind) for kind in KINDS
                  if kind != "null" and any(s.kind == kind for s in self.scenarios)]
        lines.append(self.marginal_sentence())
        failed = self.rows[self.rows["method"] == "naive"]["n_failed"]
        firth = int(self.rows[self.rows["method"] == "firth"]["n_failed"].max())
        lines.append(
            f"The naive Cox model had no finite estimate (no deaths in one arm) in "
            f"{int(failed.min())} to {int(failed.max())} of {self.n_replicates} replicates "
            "per scenario; Firth's penalised model "
            + ("always had one." if firth == 0 else f"failed in up to {firth}."))
        return "\n".join(lines)

    def methods_text(self, min_cell: int = 0) -> str:
        """The shape the simulated cohorts copy, in one sentence (counts from 1 to
        ``min_cell - 1`` read ``<N``); not estimable: why no cohort was simulated."""
        if self.reason or self.shape is None:
            return (f"No cohort was simulated: the known-truth scenarios are "
                    f"{estimable.words(self.reason)}.")
        return (f"Each of the {len(self.scenarios)} scenarios: {self.n_replicates} cohorts "
                f"like the analysed one ({self.shape.describe(min_cell)}); seed {self.seed}; "
                f"{self.n_permutations} permutations per replicate for the permutation "
                f"test; RMST to {self.rmst_tau:g} months.")

    def provenance(self) -> str:
        """Which path gave this study: read from the shipped ``data/scenarios/`` (built
        from the same cohort values, seed and replicates; the test suite rebuilds it and
        compares it byte for byte) or computed now (or nothing: not estimable)."""
        if self.reason:
            return ("Neither read nor computed: this cohort's shape cannot be simulated "
                    f"({self.reason}).")
        if self.source == "stored":
            return ("Read from the shipped data/scenarios/, which was built from this "
                    f"same cohort with seed {self.seed} and {self.n_replicates} replicates "
                    "per scenario; the test suite rebuilds it and checks it byte for byte "
                    "(python -m nethep.robustness.scenarios --check).")
        return (f"Computed now from this cohort: {self.n_replicates} replicates per "
                f"scenario, seed {self.seed}.")

    def to_results(self) -> dict[str, Any]:
        """The ``scenarios`` section of results.json: ``<scenario>.<method>.{bias,
        coverage, rejection, n_replicates, n_failed, true_hr, marginal_hr, mcse_bias, median_bias,
        mcse_coverage, mcse_rejection, scale}`` (RMST: also ``true_rmst_difference``),
        and ``choices``. Not estimable: every scenario null, the cohort's shape null, and
        ``reason``."""
        if self.reason or self.shape is None:
            nulls = estimable.null_values([s.key for s in self.scenarios], self.reason)
            nulls["choices"] = {
                "n_replicates": self.n_replicates, "seed": self.seed,
                "n_permutations": self.n_permutations, "rmst_tau_months": self.rmst_tau,
                "n_patients": None, "n_surgical": None, "baseline_hazard_per_month": None}
            return to_jsonable(nulls)
        out: dict[str, Any] = {}
        for r in self.rows.to_dict(orient="records"):
            entry = {k: r[k] for k in ("bias", "coverage", "rejection", "n_replicates",
                                       "n_failed", "true_hr", "marginal_hr", "mcse_bias",
                                       "median_bias",
                                       "mcse_coverage", "mcse_rejection")}
            if r["method"] == "rmst":
                entry["true_rmst_difference"] = r["truth"]
            entry["scale"] = r["scale"]
            entry = {k: (finite_or_none(v) if isinstance(v, float) else v)
                     for k, v in entry.items()}
            missing = [k for k, v in entry.items() if v is None]
            if missing:
                entry["reason"] = (
                    "a permutation test gives a P value, not an estimate: "
                    f"{join_and(missing)} do not apply" if r["scale"] == "P value only" else
                    f"{join_and(missing)} not estimable: the method had no estimate in "
                    f"{r['n_failed']} of {r['n_replicates']} replicates")
            out.setdefault(r["scenario"], {})[r["method"]] = entry
        out["choices"] = {
            "n_replicates": self.n_replicates, "seed": self.seed,
            "n_permutations": self.n_permutations, "rmst_tau_months": self.rmst_tau,
            "n_patients": self.shape.n, "n_surgical": self.shape.n_surgical,
            "baseline_hazard_per_month": self.shape.lambda0,
        }
        return to_jsonable(out)


def run_scenarios(df: pd.DataFrame, n_replicates: int = N_REPLICATES, seed: int = SEED,
                  scenarios: Sequence[Scenario] | None = None) -> ScenarioStudy:
    """Simulate every scenario (default: :func:`default_scenarios`) ``n_replicates``
    times in the shape of ``df`` and summarise every method (module docstring); a study
    with no rows and a ``reason`` when ``df``'s shape cannot be simulated
    (:func:`~nethep.robustness.scenarios.simulate.simulation_reason`)."""
    if n_replicates < 2:
        raise ValueError("n_replicates must be at least 2")
    chosen = tuple(default_scenarios() if scenarios is None else scenarios)
    reason = simulation_reason(df)
    if reason:
        return ScenarioStudy(rows=pd.DataFrame(columns=list(ROW_COLUMNS)), scenarios=chosen,
                             shape=None, n_replicates=int(n_replicates), seed=int(seed),
                             reason=reason)
    shape = cohort_shape(df)
    rows = []
    for sc in chosen:
        reps = simulate(shape, sc, n_replicates, _rng(seed, sc, 0))
        # replicates with no death in an arm give inf/NaN fits: counted in n_failed by
        # summarise(), so numpy's floating-point warnings about them say nothing new
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            results = apply_all(reps, _rng(seed, sc, 1))
        rmst_truth = true_rmst_difference(shape, sc, RMST_TAU)
        marginal = marginal_hr(shape, sc)
        for method, est in results.items():
            on_rmst = method == "rmst"
            truth = rmst_truth if on_rmst else math.log(sc.true_hr)
            scale = ("months" if on_rmst else "P value only" if method == "permutation"
                     else "log hazard ratio")
            rows.append({"scenario": sc.key, "kind": sc.kind, "true_hr": sc.true_hr,
                         "marginal_hr": marginal,
                         "method": method, "label": METHOD_LABELS[method], "scale": scale,
                         "truth": truth, **summarise(est, truth)})
    return ScenarioStudy(rows=pd.DataFrame(rows), scenarios=chosen, shape=shape,
                         n_replicates=int(n_replicates), seed=int(seed))
