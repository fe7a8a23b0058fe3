"""Weighting by the propensity score: the score, weights, positivity, balance, IPTW Cox.

The estimand is stated. **ATT** (the primary: the effect in patients like those who
were operated on): weight 1 for surgical patients and e / (1 - e) for non-surgical
ones, e the propensity score. **ATE** (beside it: the whole cohort): stabilized weights
P(surgical) / e and (1 - P(surgical)) / (1 - e).

- :func:`propensity`: logistic propensity score of surgery (statsmodels GLM, as R's
  ``glm``), the weights of the estimand, optional truncation, standardized mean
  differences before and after weighting, positivity diagnostics (:class:`Positivity`).
- :func:`iptw_cox`: the weighted Cox hazard ratio with R's robust variance
  (:func:`nethep.cox.weighted_cox_robust`), a percentile CI from a bootstrap of the
  whole pipeline (:mod:`nethep.robustness.iptw_bootstrap`), and weighted Kaplan-Meier
  curves per arm (:func:`nethep.km.weighted_km`). No deaths in an arm: the hazard
  ratio is not estimable and is said so (never 0.00).

Every number that R also computes is checked against it in ``tests/test_robustness.py``
(reference values from ``tests/reference/make_robustness_reference.R``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd
import statsmodels.api as sm

from nethep import privacy
from nethep.contract import ARMS
from nethep.cox import HazardRatio, weighted_cox_robust
from nethep.estimable import arms_reason, comparison_reason, with_reason, words
from nethep.formats import finite_or_none
from nethep.km import weighted_km
from nethep.permutation import DEFAULT_SEED
from nethep.robustness.design import (
    DEFAULT_COVARIATES,
    design_matrix,
    hr_results,
    no_death_reason,
    simulated_inputs,
    survival_frame,
)
from nethep.robustness.iptw_bootstrap import (
    N_BOOT,
    Estimand,
    bootstrap_log_hr,
    iptw_weights,
    percentile_limits,
    stratified_counts,
)

#: The primary estimand of the weighted analysis, and the one shown beside it.
PRIMARY_ESTIMAND: Estimand = "ATT"
SECONDARY_ESTIMAND: Estimand = "ATE"
ESTIMAND_WORDS = MappingProxyType({
    "ATT": "average effect in the treated (ATT: patients like those operated on; weights "
           "1 for surgical and e/(1 - e) for non-surgical patients)",
    "ATE": "average effect in the whole cohort (ATE; stabilized weights P(surgical)/e and "
           "(1 - P(surgical))/(1 - e))",
})

#: Weight trimming: none in the main analysis; this truncation as the alternative.
TRUNCATION_ALTERNATIVE: tuple[float, float] = (0.01, 0.99)

# --------------------------------------------------------------------------- propensity


def _weighted_smd(x: np.ndarray, treated: np.ndarray, w: np.ndarray, binary: bool) -> float:
    """Standardized mean difference with weights (Austin 2009; weights 1 = unweighted)."""
    def moments(xs: np.ndarray, ws: np.ndarray) -> tuple[float, float]:
        mean = float(np.sum(ws * xs) / np.sum(ws))
        if binary:
            return mean, mean * (1 - mean)
        v1, v2 = np.sum(ws), np.sum(ws**2)
        return mean, float(v1 / (v1**2 - v2) * np.sum(ws * (xs - mean) ** 2))

    if treated.all() or not treated.any():
        return math.nan  # one arm: nothing to compare
    m1, s1 = moments(x[treated], w[treated])
    m0, s0 = moments(x[~treated], w[~treated])
    pooled = math.sqrt((s1 + s0) / 2)
    if pooled == 0:
        return 0.0 if m1 == m0 else math.copysign(math.inf, m1 - m0)
    return (m1 - m0) / pooled


def _kish(w: np.ndarray) -> float:
    """Kish's effective sample size, (sum w)^2 / sum w^2 (NaN for no patients)."""
    return float(np.sum(w) ** 2 / np.sum(w**2)) if len(w) and np.sum(w**2) > 0 else math.nan


@dataclass(frozen=True)
class Positivity:
    """Positivity diagnostics of a propensity model (see :meth:`Propensity.positivity`).

    Common support (overlap region) is the interval of scores seen in both arms:
    [the larger of the arms' smallest scores, the smaller of their largest]. Patients
    outside it have no counterpart with a similar score in the other arm.
    """

    ps_range: dict[str, tuple[float, float]]  # per arm: smallest and largest score
    overlap: tuple[float, float] | None  # None: the arms' score ranges do not overlap
    n_outside: dict[str, int]  # per arm: patients outside the overlap region
    n: dict[str, int]
    max_weight: float
    ess: dict[str, float]  # Kish effective sample size per arm, after weighting

    @property
    def reason(self) -> str:
        """Why positivity cannot be assessed ("" when it can): an arm with no patients."""
        empty = [a for a in ARMS if not self.n.get(a)]
        return (f"no {'non-surgical' if empty[0] == 'nonsurgical' else 'surgical'} patients"
                if empty else "")

    @property
    def share_outside(self) -> float:
        """Share of all patients outside the overlap region."""
        return sum(self.n_outside.values()) / sum(self.n.values())

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per arm: n, score range, patients outside the overlap region, largest
        weight and effective sample size (counts from 1 to min_cell - 1 read ``<N``)."""
        rows = [{"arm": arm, "n": self.n[arm], "ps_min": self.ps_range[arm][0],
                 "ps_max": self.ps_range[arm][1], "n_outside_overlap": self.n_outside[arm],
                 "ess": self.ess[arm]} for arm in ARMS]
        return privacy.suppress_table(pd.DataFrame(rows), ["n", "n_outside_overlap"],
                                      min_cell)

    def sentence(self, min_cell: int = 0) -> str:
        """The overlap region, who lies outside it, the largest weight and the effective
        sample sizes, in words (a count from 1 to min_cell - 1 reads ``<N``)."""
        if self.reason:
            return f"Positivity {words(self.reason)}: there is no other arm to overlap with."
        outside = sum(self.n_outside.values())
        ess = ", ".join(f"{self.ess[a]:.1f} of {privacy.mark(self.n[a], min_cell)} "
                        f"{'surgical' if a == 'surgical' else 'non-surgical'}"
                        for a in ARMS)
        if self.overlap is None:
            where = ("The arms' propensity scores do not overlap at all: no weighting can "
                     "make them comparable (positivity fails).")
        else:
            where = (f"Propensity scores overlap between {self.overlap[0]:.2f} and "
                     f"{self.overlap[1]:.2f}; {privacy.mark(outside, min_cell)} patient(s) "
                     f"({self.share_outside:.0%}) lie outside that common support.")
        return (f"{where} Largest weight {self.max_weight:.2f}; effective sample size "
                f"after weighting {ess}.")

    def to_results(self) -> dict[str, object]:
        """``robustness.positivity``: score range per arm, overlap region, patients and
        share outside it, largest weight, effective sample size per arm."""
        why = self.reason or ("the arms' propensity scores do not overlap"
                              if self.overlap is None else "")
        return with_reason({
            "ps_min": {a: finite_or_none(self.ps_range[a][0]) for a in ARMS},
            "ps_max": {a: finite_or_none(self.ps_range[a][1]) for a in ARMS},
            "overlap_lower": None if self.overlap is None else finite_or_none(self.overlap[0]),
            "overlap_upper": None if self.overlap is None else finite_or_none(self.overlap[1]),
            "n_outside": dict(self.n_outside),
            "share_outside": finite_or_none(self.share_outside),
            "max_weight": finite_or_none(self.max_weight),
            "ess": {a: finite_or_none(self.ess[a]) for a in ARMS},
        }, why)


@dataclass(frozen=True)
class Propensity:
    """Propensity score model, IPT weights for the estimand, balance (see
    :func:`propensity`)."""

    covariates: tuple[str, ...]
    coefficients: pd.DataFrame  # term, coef, se, odds_ratio, p
    scores: pd.DataFrame  # patient_id, arm, surgical, ps, weight (index as the cohort)
    balance: pd.DataFrame  # term, binary, smd_before, smd_after
    ess: dict[str, float]  # Kish effective sample size per arm, after weighting
    n: dict[str, int]  # patients per arm
    truncate: tuple[float, float] | None
    truncation_bounds: tuple[float, float] | None
    p_treated: float
    warnings: tuple[str, ...] = ()
    simulated: tuple[str, ...] = ()  # covariates simulated in the bundled reconstruction
    estimand: Estimand = PRIMARY_ESTIMAND
    smd_formula: str = (
        "SMD = (m1 - m0) / sqrt((s1^2 + s0^2) / 2); weighted means m = sum(w x) / sum(w); "
        "weighted variance s^2 = sum(w) / (sum(w)^2 - sum(w^2)) * sum(w (x - m)^2) for "
        "continuous terms and s^2 = m (1 - m) for binary terms (Austin, Stat Med "
        "2009;28:3083); unweighted = all weights 1")

    @property
    def weights(self) -> pd.Series:
        return self.scores["weight"]

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """The balance table: SMD of every term before and after weighting."""
        return self.balance.copy()

    @property
    def positivity(self) -> Positivity:
        """Score range per arm, overlap region, patients outside it, largest weight, ESS."""
        ps, treated = self.scores["ps"].to_numpy(float), self.scores["surgical"].to_numpy(bool)
        masks = {"surgical": treated, "nonsurgical": ~treated}
        ranges = {a: (float(ps[m].min()), float(ps[m].max())) if m.any()
                  else (math.nan, math.nan) for a, m in masks.items()}
        lo = max(r[0] for r in ranges.values())
        hi = min(r[1] for r in ranges.values())
        overlap = (lo, hi) if lo <= hi else None  # NaN (an empty arm): no overlap
        inside = (ps >= lo) & (ps <= hi) if overlap else np.zeros(len(ps), dtype=bool)
        return Positivity(
            ps_range=ranges, overlap=overlap,
            n_outside={a: int((m & ~inside).sum()) for a, m in masks.items()},
            n=dict(self.n), max_weight=float(self.weights.max()), ess=dict(self.ess))

    def weight_summary(self, min_cell: int = 0) -> pd.DataFrame:
        """Propensity scores and weights per arm: range, median and Kish effective size.

        One row per arm (surgical first): n, smallest / median / largest propensity score
        and weight, their sum, and the effective sample size ``(sum w)^2 / sum w^2``;
        overlap of the score ranges is the first thing to read (no overlap: no weighting
        can help). An n from 1 to ``min_cell - 1`` reads ``<N``.
        """
        rows = []
        for arm in ARMS:
            sub = self.scores[self.scores["arm"] == arm]
            ps, w = sub["ps"].to_numpy(float), sub["weight"].to_numpy(float)
            if not len(sub):
                rows.append({"arm": arm, "n": 0, "note": f"no {arm} patients"})
                continue
            rows.append({"arm": arm, "n": len(sub), "ps_min": ps.min(),
                         "ps_median": np.median(ps), "ps_max": ps.max(),
                         "weight_min": w.min(), "weight_median": np.median(w),
                         "weight_max": w.max(), "weight_sum": w.sum(), "ess": _kish(w)})
        return privacy.suppress_table(pd.DataFrame(rows), ["n"], min_cell)

    def to_results(self) -> dict[str, dict[str, float | None]]:
        """``robustness.propensity``: SMD before and after weighting, effective sizes."""
        terms = self.balance["term"]
        return with_reason({
            "smd_before": {t: finite_or_none(v)
                           for t, v in zip(terms, self.balance["smd_before"], strict=True)},
            "smd_after": {t: finite_or_none(v)
                          for t, v in zip(terms, self.balance["smd_after"], strict=True)},
            "ess": {k: finite_or_none(v) for k, v in self.ess.items()},
        }, "; ".join(self.warnings) if self.n_empty else (
            "" if self.balance[["smd_before", "smd_after"]].notna().all().all() else
            "a standardized mean difference is not defined when an arm has a single patient "
            "(no variance within the arm)"))

    @property
    def n_empty(self) -> bool:
        """True when an arm has no patients (nothing was modelled)."""
        return not all(self.n.values())


def propensity(
    df: pd.DataFrame,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    truncate: tuple[float, float] | None = None,
    estimand: Estimand = PRIMARY_ESTIMAND,
) -> Propensity:
    """Propensity score for surgery and inverse-probability-of-treatment weights.

    Method and defaults:

    - Logistic regression of ``surgical`` on ``covariates`` (main effects, linear;
      statsmodels ``GLM`` with ``Binomial`` family, logit link, IRLS), as R's
      ``glm(surgical ~ ..., family = binomial)`` (verified to 1e-6).
    - Weights by ``estimand`` (default ``"ATT"``, the primary): ATT weights 1 for
      surgical patients and e(x) / (1 - e(x)) for the others (Sato and Matsuyama,
      Epidemiology 2003;14:680; Austin, Stat Med 2016;35:5642), as R WeightIt's
      ``estimand = "ATT"``; ``"ATE"``: stabilized weights (Robins, Hernan and Brumback,
      Epidemiology 2000;11:550; Cole and Hernan, Am J Epidemiol 2008;168:656)
      w = P(surgical) / e(x) for surgical patients and (1 - P(surgical)) / (1 - e(x))
      for the others, P(surgical) the observed proportion. Trimming: none by default;
      ``truncate=(0.01, 0.99)`` caps the weights at their 1st and 99th percentiles
      (numpy linear interpolation, R ``quantile`` type 7).
    - Balance: standardized mean differences before and after weighting, formula in
      ``Propensity.smd_formula`` (Austin, Stat Med 2009;28:3083; |SMD| < 0.1 is the
      usual target). Effective sample size per arm after weighting: Kish's
      (sum w)^2 / sum w^2.
    """
    covariates = tuple(c for c in covariates if c not in df or df[c].nunique() > 1)
    design = design_matrix(df, covariates)
    treated = df["surgical"].to_numpy(dtype=bool)
    y = treated.astype(float)
    exog = sm.add_constant(design, has_constant="add")
    one_arm = arms_reason(df)
    if one_arm:  # nothing to model: every score is the one arm's 0 or 1
        notes = [f"no propensity model: {one_arm}"]
        ps = y.copy()
        params = bse = pvalues = np.full(exog.shape[1], math.nan)
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = sm.GLM(y, exog, family=sm.families.Binomial()).fit()
        notes = [str(w.message) for w in caught if "separation" in str(w.message).lower()]
        ps = np.asarray(fit.fittedvalues, dtype=float)
        params, bse = np.asarray(fit.params, float), np.asarray(fit.bse, float)
        pvalues = np.asarray(fit.pvalues, float)
    if (ps < 1e-8).any() or (ps > 1 - 1e-8).any():
        notes.append("some propensity scores are 0 or 1 to machine precision: the "
                     "covariates (nearly) separate the arms and the weights are unstable")
    p1 = float(y.mean())
    w = iptw_weights(ps, treated, estimand, p1)
    bounds = None
    if truncate is not None:
        lo_q, hi_q = truncate
        if not 0 <= lo_q < hi_q <= 1:
            raise ValueError(f"truncate must be two quantiles 0 <= lo < hi <= 1, not {truncate}")
        bounds = (float(np.quantile(w, lo_q)), float(np.quantile(w, hi_q)))
        w = np.clip(w, *bounds)
    coef = pd.DataFrame({
        "term": list(exog.columns),
        "coef": params,
        "se": bse,
        "odds_ratio": np.exp(params),
        "p": pvalues,
    })
    pid = df["patient_id"].to_numpy() if "patient_id" in df else np.asarray(df.index)
    scores = pd.DataFrame({"patient_id": pid, "arm": np.where(treated, *ARMS),
                           "surgical": treated, "ps": ps, "weight": w}, index=df.index)
    rows = []
    ones = np.ones(len(w))
    for term in design.columns:
        x = design[term].to_numpy(float)
        binary = bool(np.isin(x, (0.0, 1.0)).all())
        rows.append({"term": term, "binary": binary,
                     "smd_before": _weighted_smd(x, treated, ones, binary),
                     "smd_after": _weighted_smd(x, treated, w, binary)})
    return Propensity(
        covariates=covariates, coefficients=coef, scores=scores,
        balance=pd.DataFrame(rows, columns=["term", "binary", "smd_before", "smd_after"]),
        ess={"surgical": _kish(w[treated]), "nonsurgical": _kish(w[~treated])},
        n={"surgical": int(treated.sum()), "nonsurgical": int((~treated).sum())},
        truncate=None if truncate is None else (float(truncate[0]), float(truncate[1])),
        truncation_bounds=bounds, p_treated=p1, warnings=tuple(notes),
        simulated=simulated_inputs(df, covariates), estimand=estimand,
    )


# ----------------------------------------------------------------------------- IPTW Cox


@dataclass(frozen=True)
class IPTWCox:
    """Inverse-probability-weighted Cox HR and weighted KM curves (see :func:`iptw_cox`)."""

    coef: float
    se_robust: float
    se_naive: float  # model-based SE, which ignores the weighting: not for inference
    hazard_ratio: HazardRatio  # Wald 95% CI and P from the robust SE (NaN: not estimable)
    n: int
    events: int
    propensity: Propensity
    curves: pd.DataFrame  # arm, time, n_risk, n_event (weighted), surv; from time 0
    boot_lower: float = float("nan")  # percentile bootstrap 95% limits of the HR
    boot_upper: float = float("nan")
    n_boot: int = 0
    boot_zero: int = 0  # resamples with no surgical death (HR 0)
    boot_infinite: int = 0  # resamples with no non-surgical death (HR infinite)
    boot_separated: int = 0  # resamples whose propensity model separates
    seed: int | None = None
    frame: pd.DataFrame | None = None  # T, E, surgical, w per patient (numbers at risk)

    @property
    def estimand(self) -> Estimand:
        """``"ATT"`` or ``"ATE"`` (the weights' target population)."""
        return self.propensity.estimand

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row: estimand, coefficient, both SEs, HR, robust CI, bootstrap CI, P, n and
        deaths (small counts ``<N``)."""
        hr = self.hazard_ratio
        lo_ok = self.boot_lower > 0 and math.isfinite(self.boot_lower)
        hi_ok = math.isfinite(self.boot_upper)
        row = {
            "estimand": self.estimand, "term": "surgical", "coef": self.coef,
            "se_robust": self.se_robust, "se_naive": self.se_naive, "hr": hr.hr,
            "lower": hr.lower, "upper": hr.upper,
            "boot_lower": self.boot_lower if lo_ok else math.nan,
            "boot_upper": self.boot_upper if hi_ok else math.nan, "p": hr.p, "n": self.n,
            "events": self.events}
        if not hr.estimable:
            row["note"] = words(hr.note)
        elif self.n_boot and not (lo_ok and hi_ok):
            row["note"] = self.bootstrap_words()
        return pd.DataFrame([row]).pipe(privacy.suppress_table, ["n", "events"], min_cell)

    def curve(self, arm: str) -> pd.DataFrame:
        """Weighted survival curve of one arm: time, surv (step function, right-continuous)."""
        return self.curves[self.curves["arm"] == arm][["time", "surv"]].reset_index(drop=True)

    def at_risk(self, arm: str, times: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Patients at risk (follow-up >= t) in ``arm`` at each of ``times``: the count and
        the sum of their weights (the weighted number at risk)."""
        if self.frame is None:
            raise ValueError("this fit holds no per-patient data")
        sub = self.frame[self.frame["surgical"].to_numpy(bool) == (arm == ARMS[0])]
        t, w = sub["T"].to_numpy(float), sub["w"].to_numpy(float)
        at = t[None, :] >= np.asarray(times, dtype=float)[:, None]
        return at.sum(axis=1), (at * w).sum(axis=1)

    def truncation_sentence(self, untruncated: IPTWCox) -> str:
        """Where this fit's weights were capped, beside the range of the ``untruncated``
        weights."""
        bounds = self.propensity.truncation_bounds
        if bounds is None:
            raise ValueError("these weights were not truncated")
        weights = untruncated.propensity.weights
        return (f"Truncation bounds: weights capped to [{bounds[0]:.3f}, {bounds[1]:.3f}]; "
                f"untruncated weights range from {weights.min():.3f} to "
                f"{weights.max():.3f}.")

    def bootstrap_words(self) -> str:
        """The whole-pipeline bootstrap interval in words; a limit at 0 or infinity (an
        arm with no deaths in more than 2.5% of resamples) is said, not printed."""
        if self.n_boot == 0 or not self.hazard_ratio.estimable:
            return "no bootstrap interval (the hazard ratio is not estimable)"
        lo_ok, hi_ok = self.boot_lower > 0, bool(np.isfinite(self.boot_upper))
        if lo_ok and hi_ok:
            limits = (f"{HazardRatio.number(self.boot_lower)} to "
                      f"{HazardRatio.number(self.boot_upper)}")
        else:
            said = [f"upper limit {HazardRatio.number(self.boot_upper)}" if hi_ok
                    else "no finite upper limit",
                    f"lower limit {HazardRatio.number(self.boot_lower)}" if lo_ok
                    else "lower limit 0, not estimable"]
            limits = ": " + ", ".join(said)
        why = []
        if self.boot_zero:
            why.append(f"{self.boot_zero / self.n_boot:.1%} of resamples had no surgical "
                       "death (HR 0)")
        if self.boot_infinite:
            why.append(f"{self.boot_infinite / self.n_boot:.1%} had no non-surgical death")
        tail = f"; {'; '.join(why)}" if why else ""
        limits = limits if limits.startswith(":") else f" {limits}"
        return (f"bootstrap percentile 95% CI{limits} ({self.n_boot:,} resamples of "
                f"the whole pipeline, stratified by arm, seed {self.seed}{tail})")

    def sentence(self) -> str:
        """The estimand, the HR with its robust CI, and the bootstrap interval."""
        hr = self.hazard_ratio
        if not hr.estimable:
            return f"IPTW ({self.estimand}): {hr.words()}."
        return (f"IPTW ({self.estimand}): {hr.words()} with the robust (sandwich) SE; "
                f"{self.bootstrap_words()}.")

    def to_results(self) -> dict[str, object]:
        """``robustness.iptw_att`` / ``iptw_ate`` (and ``iptw``, the primary ATT):
        ``{hr, lower, upper, boot_lower, boot_upper, n_boot, estimand}``; a bootstrap
        limit at 0 or infinity is None with ``boot_note`` saying why."""
        out: dict[str, object] = {**hr_results(self.hazard_ratio), "estimand": self.estimand}
        lo = self.boot_lower if self.boot_lower > 0 else float("nan")
        out |= {"boot_lower": finite_or_none(lo), "boot_upper": finite_or_none(self.boot_upper),
                "n_boot": self.n_boot, "boot_zero": self.boot_zero,
                "boot_infinite": self.boot_infinite}
        if self.n_boot and (not self.boot_lower > 0 or not np.isfinite(self.boot_upper)):
            out["boot_note"] = self.bootstrap_words()
        if "reason" not in out and (out["boot_lower"] is None or out["boot_upper"] is None):
            out["reason"] = (out["boot_note"] if self.n_boot else
                             "no bootstrap of this weighting (run for the untruncated "
                             "weights only)")
        return out


def _bootstrap(data: pd.DataFrame, df: pd.DataFrame, covariates: Sequence[str],
               estimand: Estimand, n_boot: int, seed: int) -> dict[str, float | int]:
    """Percentile limits and counts from :func:`bootstrap_log_hr` (no truncation)."""
    treated = data["surgical"].to_numpy(bool)
    x = sm.add_constant(design_matrix(df, covariates), has_constant="add").to_numpy(float)
    counts = stratified_counts(treated, n_boot, seed)
    beta, converged = bootstrap_log_hr(data["T"].to_numpy(float), data["E"].to_numpy(int),
                                       treated, x, counts, estimand)
    lo, hi = percentile_limits(beta)
    with np.errstate(over="ignore"):
        return {"boot_lower": math.exp(lo), "boot_upper": math.exp(hi), "n_boot": n_boot,
                "boot_zero": int(np.sum(beta == -np.inf)),
                "boot_infinite": int(np.sum(beta == np.inf)),
                "boot_separated": int(np.sum(~converged)), "seed": seed}


def iptw_cox(df: pd.DataFrame, covariates: Sequence[str] = DEFAULT_COVARIATES,
             truncate: tuple[float, float] | None = None,
             estimand: Estimand = PRIMARY_ESTIMAND, *, n_boot: int = N_BOOT,
             seed: int = DEFAULT_SEED) -> IPTWCox:
    """Marginal HR of surgical by inverse probability of treatment weighting.

    Method and defaults:

    - Weights: :func:`propensity` for ``estimand`` (default ``"ATT"``, the primary;
      ``"ATE"`` stabilized), no trimming unless ``truncate``.
    - Weighted Cox model with surgical as the only term: lifelines ``CoxPHFitter``
      with ``weights_col`` (Efron ties) for the estimate; robust sandwich variance
      (Lin and Wei, JASA 1989;84:1074) computed as R does it, from Efron score
      residuals (lifelines' ``robust=True`` mishandles tied times, see
      :func:`nethep.cox.weighted_cox_robust`), Wald 95% CI and P; the robust SE
      accounts for the weighting but treats the propensity score as known (slightly
      conservative; Austin, Stat Med 2016;35:5642). Verified against R
      ``coxph(Surv(t, d) ~ surgical, weights = w, robust = TRUE)`` to 1e-6.
    - Bootstrap of the whole pipeline (propensity model refitted, weights recomputed,
      weighted Cox refitted per resample; :mod:`nethep.robustness.iptw_bootstrap`):
      ``n_boot`` (default 2,000) resamples stratified by arm, ``seed`` (default
      :data:`nethep.permutation.DEFAULT_SEED`), percentile 95% CI; a resample with no
      surgical death gives HR 0 and is kept (counted in ``boot_zero``). ``n_boot=0``
      skips it; not run for truncated weights.
    - No deaths in an arm: the hazard ratio is not estimable (NaN, with the reason),
      no model is fitted.
    - Weighted Kaplan-Meier curve per arm: the weighted product-limit estimator
      (Xie and Liu, Stat Med 2005;24:3089), :func:`nethep.km.weighted_km`, verified
      against R ``survfit(..., weights = w)``. ``curves`` holds time, weighted
      numbers at risk and dying, and survival per arm from time 0, for a step plot.
    """
    prop = propensity(df, covariates, truncate=truncate, estimand=estimand)
    data = survival_frame(df)
    data["w"] = prop.weights.to_numpy(float)
    method = (f"lifelines CoxPHFitter with {estimand} IPT weights (Efron ties); robust "
              "sandwich SE as R coxph(robust = TRUE); Wald 95% CI and P")
    treated = data["surgical"].to_numpy(bool)
    frames = []
    for arm, mask in zip(ARMS, (treated, ~treated), strict=True):
        sub = data[mask]
        if sub.empty:
            continue
        curve = weighted_km(sub["T"].to_numpy(float), sub["E"].to_numpy(int),
                            sub["w"].to_numpy(float))
        frames.append(curve.assign(arm=arm))
    curves = pd.concat(frames, ignore_index=True)[["arm", "time", "n_risk", "n_event", "surv"]] \
        if frames else pd.DataFrame(columns=["arm", "time", "n_risk", "n_event", "surv"])
    common = {"n": len(data), "events": int(data["E"].sum()), "propensity": prop,
              "curves": curves, "frame": data[["T", "E", "surgical", "w"]].copy()}
    w = data["w"].to_numpy(float)
    reason = comparison_reason(df) or no_death_reason(data) or (
        None if np.isfinite(w).all() and (w > 0).all() else
        "the propensity model separates the arms (fitted probabilities of 0 or 1), so "
        "some weights are 0 or infinite: there is no overlap to weight")
    if reason is not None:
        nan = float("nan")
        return IPTWCox(coef=nan, se_robust=nan, se_naive=nan,
                       hazard_ratio=HazardRatio.not_estimable(reason, method), **common)
    beta, robust_var, naive_var = weighted_cox_robust(data, ["surgical"])
    coef, se = float(beta[0]), float(math.sqrt(robust_var[0, 0]))
    boot = (_bootstrap(data, df, prop.covariates, estimand, n_boot, seed)
            if n_boot > 0 and truncate is None else {})
    return IPTWCox(
        coef=coef, se_robust=se, se_naive=float(math.sqrt(naive_var[0, 0])),
        hazard_ratio=HazardRatio.wald(coef, se, method=method), **common, **boot,
    )
