"""Weighting by the propensity score: the score, stabilized weights, balance, IPTW Cox.

- :func:`propensity`: logistic propensity score of surgery (statsmodels GLM, as R's
  ``glm``), stabilized inverse-probability-of-treatment weights, optional truncation,
  standardized mean differences before and after weighting.
- :func:`iptw_cox`: the weighted Cox hazard ratio with R's robust variance
  (:func:`nethep.cox.weighted_cox_robust`) and weighted Kaplan-Meier curves per arm
  (:func:`nethep.km.weighted_km`).

Every number that R also computes is checked against it in ``tests/test_robustness.py``
(reference values from ``tests/reference/make_robustness_reference.R``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm

from nethep import privacy
from nethep.contract import ARMS
from nethep.cox import HazardRatio, weighted_cox_robust
from nethep.formats import finite_or_none
from nethep.km import weighted_km
from nethep.robustness.design import (
    DEFAULT_COVARIATES,
    check_both_arms,
    design_matrix,
    simulated_inputs,
    survival_frame,
)

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

    m1, s1 = moments(x[treated], w[treated])
    m0, s0 = moments(x[~treated], w[~treated])
    pooled = math.sqrt((s1 + s0) / 2)
    if pooled == 0:
        return 0.0 if m1 == m0 else math.copysign(math.inf, m1 - m0)
    return (m1 - m0) / pooled


def _kish(w: np.ndarray) -> float:
    """Kish's effective sample size, (sum w)^2 / sum w^2."""
    return float(np.sum(w) ** 2 / np.sum(w**2))


@dataclass(frozen=True)
class Propensity:
    """Propensity score model, stabilized IPT weights and balance (see :func:`propensity`)."""

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
            rows.append({"arm": arm, "n": len(sub), "ps_min": ps.min(),
                         "ps_median": np.median(ps), "ps_max": ps.max(),
                         "weight_min": w.min(), "weight_median": np.median(w),
                         "weight_max": w.max(), "weight_sum": w.sum(), "ess": _kish(w)})
        return privacy.suppress_table(pd.DataFrame(rows), ["n"], min_cell)

    def to_results(self) -> dict[str, dict[str, float | None]]:
        """``robustness.propensity``: SMD before and after weighting, effective sizes."""
        terms = self.balance["term"]
        return {
            "smd_before": {t: finite_or_none(v)
                           for t, v in zip(terms, self.balance["smd_before"], strict=True)},
            "smd_after": {t: finite_or_none(v)
                          for t, v in zip(terms, self.balance["smd_after"], strict=True)},
            "ess": {k: finite_or_none(v) for k, v in self.ess.items()},
        }


def propensity(
    df: pd.DataFrame,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    truncate: tuple[float, float] | None = None,
) -> Propensity:
    """Propensity score for surgery, stabilized inverse-probability-of-treatment weights.

    Method and defaults:

    - Logistic regression of ``surgical`` on ``covariates`` (main effects, linear;
      statsmodels ``GLM`` with ``Binomial`` family, logit link, IRLS), as R's
      ``glm(surgical ~ ..., family = binomial)`` (verified to 1e-6).
    - Stabilized weights (Robins, Hernan and Brumback, Epidemiology 2000;11:550; Cole
      and Hernan, Am J Epidemiol 2008;168:656): w = P(surgical) / e(x) for surgical
      patients and (1 - P(surgical)) / (1 - e(x)) for the others, P(surgical) the
      observed proportion. Trimming: none by default; ``truncate=(0.01, 0.99)`` caps
      the weights at their 1st and 99th percentiles (numpy linear interpolation,
      R ``quantile`` type 7).
    - Balance: standardized mean differences before and after weighting, formula in
      ``Propensity.smd_formula`` (Austin, Stat Med 2009;28:3083; |SMD| < 0.1 is the
      usual target). Effective sample size per arm after weighting: Kish's
      (sum w)^2 / sum w^2.
    """
    covariates = tuple(covariates)
    design = design_matrix(df, covariates)
    treated = df["surgical"].to_numpy(dtype=bool)
    y = treated.astype(float)
    if treated.all() or not treated.any():
        raise ValueError("both arms are needed for a propensity score")
    exog = sm.add_constant(design, has_constant="add")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = sm.GLM(y, exog, family=sm.families.Binomial()).fit()
    notes = [str(w.message) for w in caught if "separation" in str(w.message).lower()]
    ps = np.asarray(fit.fittedvalues, dtype=float)
    if (ps < 1e-8).any() or (ps > 1 - 1e-8).any():
        notes.append("some propensity scores are 0 or 1 to machine precision: the "
                     "covariates (nearly) separate the arms and the weights are unstable")
    p1 = float(y.mean())
    w = np.where(treated, p1 / ps, (1 - p1) / (1 - ps))
    bounds = None
    if truncate is not None:
        lo_q, hi_q = truncate
        if not 0 <= lo_q < hi_q <= 1:
            raise ValueError(f"truncate must be two quantiles 0 <= lo < hi <= 1, not {truncate}")
        bounds = (float(np.quantile(w, lo_q)), float(np.quantile(w, hi_q)))
        w = np.clip(w, *bounds)
    coef = pd.DataFrame({
        "term": list(exog.columns),
        "coef": np.asarray(fit.params, float),
        "se": np.asarray(fit.bse, float),
        "odds_ratio": np.exp(np.asarray(fit.params, float)),
        "p": np.asarray(fit.pvalues, float),
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
        covariates=covariates, coefficients=coef, scores=scores, balance=pd.DataFrame(rows),
        ess={"surgical": _kish(w[treated]), "nonsurgical": _kish(w[~treated])},
        n={"surgical": int(treated.sum()), "nonsurgical": int((~treated).sum())},
        truncate=None if truncate is None else (float(truncate[0]), float(truncate[1])),
        truncation_bounds=bounds, p_treated=p1, warnings=tuple(notes),
        simulated=simulated_inputs(df, covariates),
    )


# ----------------------------------------------------------------------------- IPTW Cox


@dataclass(frozen=True)
class IPTWCox:
    """Inverse-probability-weighted Cox HR and weighted KM curves (see :func:`iptw_cox`)."""

    coef: float
    se_robust: float
    se_naive: float  # model-based SE, which ignores the weighting: not for inference
    hazard_ratio: HazardRatio  # Wald 95% CI and P from the robust SE
    n: int
    events: int
    propensity: Propensity
    curves: pd.DataFrame  # arm, time, n_risk, n_event (weighted), surv; from time 0

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row: coefficient, both SEs, HR, CI, P, n and deaths (small counts ``<N``)."""
        hr = self.hazard_ratio
        return pd.DataFrame([{
            "term": "surgical", "coef": self.coef, "se_robust": self.se_robust,
            "se_naive": self.se_naive, "hr": hr.hr, "lower": hr.lower, "upper": hr.upper,
            "p": hr.p, "n": self.n, "events": self.events}]).pipe(
                privacy.suppress_table, ["n", "events"], min_cell)

    def curve(self, arm: str) -> pd.DataFrame:
        """Weighted survival curve of one arm: time, surv (step function, right-continuous)."""
        return self.curves[self.curves["arm"] == arm][["time", "surv"]].reset_index(drop=True)

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

    def to_results(self) -> dict[str, float | None]:
        """``robustness.iptw``: ``{hr, lower, upper}``."""
        return self.hazard_ratio.to_results()


def iptw_cox(df: pd.DataFrame, covariates: Sequence[str] = DEFAULT_COVARIATES,
             truncate: tuple[float, float] | None = None) -> IPTWCox:
    """Marginal HR of surgical by inverse probability of treatment weighting.

    Method and defaults:

    - Weights: :func:`propensity` (stabilized, no trimming unless ``truncate``).
    - Weighted Cox model with surgical as the only term: lifelines ``CoxPHFitter``
      with ``weights_col`` (Efron ties) for the estimate; robust sandwich variance
      (Lin and Wei, JASA 1989;84:1074) computed as R does it, from Efron score
      residuals (lifelines' ``robust=True`` mishandles tied times, see
      :func:`nethep.cox.weighted_cox_robust`), Wald 95% CI and P; the robust SE
      accounts for the weighting but treats the propensity score as known (slightly
      conservative; Austin, Stat Med 2016;35:5642). Verified against R
      ``coxph(Surv(t, d) ~ surgical, weights = w, robust = TRUE)`` to 1e-6.
    - Weighted Kaplan-Meier curve per arm: the weighted product-limit estimator
      (Xie and Liu, Stat Med 2005;24:3089), :func:`nethep.km.weighted_km`, verified
      against R ``survfit(..., weights = w)``. ``curves`` holds time, weighted
      numbers at risk and dying, and survival per arm from time 0, for a step plot.
    """
    prop = propensity(df, covariates, truncate=truncate)
    data = survival_frame(df)
    check_both_arms(data)
    data["w"] = prop.weights.to_numpy(float)
    beta, robust_var, naive_var = weighted_cox_robust(data, ["surgical"])
    coef, se = float(beta[0]), float(math.sqrt(robust_var[0, 0]))
    treated = data["surgical"].to_numpy(bool)
    frames = []
    for arm, mask in zip(ARMS, (treated, ~treated), strict=True):
        sub = data[mask]
        curve = weighted_km(sub["T"].to_numpy(float), sub["E"].to_numpy(int),
                            sub["w"].to_numpy(float))
        frames.append(curve.assign(arm=arm))
    curves = pd.concat(frames, ignore_index=True)[["arm", "time", "n_risk", "n_event", "surv"]]
    method = ("lifelines CoxPHFitter with stabilized IPT weights (Efron ties); robust "
              "sandwich SE as R coxph(robust = TRUE); Wald 95% CI and P")
    return IPTWCox(
        coef=coef, se_robust=se, se_naive=float(math.sqrt(naive_var[0, 0])),
        hazard_ratio=HazardRatio.wald(coef, se, method=method), n=len(data),
        events=int(data["E"].sum()), propensity=prop, curves=curves,
    )

