"""Robustness of the surgical vs non-surgical survival comparison.

The questions a statistical reviewer asks of a 48-patient observational comparison,
each answered by one function returning a small frozen dataclass with ``.table()``
(a tidy DataFrame) and ``.to_results()`` (the JSON-ready numbers that go into the
``robustness`` section of ``results.json``):

================================  ===============================================
:func:`cox_adjusted`              Cox model of surgical adjusted for covariates
:func:`propensity`                propensity score, stabilized weights, balance
:func:`iptw_cox`                  inverse-probability-weighted Cox and KM curves
:func:`evalue`                    E-value for unmeasured confounding
:func:`landmark`                  landmark analysis (immortal time)
:func:`time_varying_cox`          surgery as a time-varying covariate
:func:`rmst`                      restricted mean survival time per arm
:func:`power`                     Schoenfeld power and required events
:func:`robustness_summary`        the closing table
:func:`robustness_results`        the whole ``robustness`` section (notebook 05)
================================  ===============================================

Helpers for showing the results: :func:`compare_tables` (a main choice beside its
alternatives), :func:`weight_summary` (propensity scores and weights per arm),
:func:`logrank_comparison` (survdiff-style vs permutation log-rank: same numerator,
two variances) and :func:`power_note` (why power at the observed HR says little).
The choices notebook 05 states (permutations, resamples, landmarks, truncation, RMST
horizons) are module constants, so the notebook and :func:`robustness_results` use
the same ones.

Conventions shared by every function (stated once here, repeated where they matter):

- Time is ``followup_months`` from diagnosis of liver metastases, the event is
  ``died``; the exposure is the derived ``surgical`` flag (``nethep.cohort.derive``).
- Covariates are named by cohort column. A numeric or boolean column enters as is;
  a text column (``tumor_type``) enters as indicators of every level but the first
  level of the data contract's ``enum`` (so ``tumor_type=islet_cell``, with
  carcinoid as the reference). Missing covariate values raise ``ValueError``.
- Cox models: lifelines ``CoxPHFitter`` (Efron ties, Wald 95% CI and P), as R's
  ``coxph`` defaults. Every number that R's survival package also computes is
  checked against it in ``tests/test_robustness.py`` (reference values from
  ``tests/reference/make_robustness_reference.R``).
- Confidence level 95%, two-sided.
- Honesty about the bundled data: on the reconstruction (``df.attrs["reconstructed"]``)
  each result's ``simulated`` field lists the inputs the data contract marks
  ``simulated`` (age, time to treatment): the adjusted, weighted, landmark and
  time-varying analyses then show how the methods behave, not what the paper's
  patients experienced (see :func:`simulated_inputs`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nethep import privacy
from nethep.cox import FIT_OPTIONS, cox_zph, fit_lifelines, weighted_cox_robust
from nethep.km import restricted_mean_survival, weighted_km

__all__ = [
    "BOOTSTRAP_MONTHS",
    "DEFAULT_COVARIATES",
    "LANDMARK_ALTERNATIVES",
    "LANDMARK_MONTHS",
    "N_PERMUTATIONS",
    "N_RESAMPLES",
    "RMST_TAUS",
    "TRUNCATION_ALTERNATIVE",
    "AdjustedCox",
    "EValue",
    "IPTWCox",
    "LandmarkResult",
    "PowerResult",
    "Propensity",
    "RMSTResult",
    "RobustnessSummary",
    "TimeVaryingCox",
    "counting_process",
    "compare_tables",
    "cox_adjusted",
    "evalue",
    "iptw_cox",
    "landmark",
    "logrank_comparison",
    "outcome_is_common",
    "power",
    "power_note",
    "propensity",
    "rmst",
    "robustness_results",
    "robustness_summary",
    "simulated_inputs",
    "time_varying_cox",
    "weight_summary",
]

DEFAULT_COVARIATES: tuple[str, ...] = ("tumor_type", "liver_involvement_pct", "age_years")
DEFAULT_PENALIZER = 0.1
EPV_THRESHOLD = 10.0
_Z = float(stats.norm.ppf(0.975))
# A standardized log hazard ratio beyond this (a hazard ratio above e^10 per standard
# deviation) only arises when the partial likelihood has no finite maximum.
_STANDARDIZED_COEF_LIMIT = 10.0


def _r(x: float | None) -> float | None:
    """A float for JSON: NaN and infinities become None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# ------------------------------------------------------------------------------- design


def simulated_inputs(df: pd.DataFrame, columns: Sequence[str]) -> tuple[str, ...]:
    """Columns among ``columns`` that the data contract marks ``simulated``.

    Only for the bundled reconstruction (``df.attrs["reconstructed"]``): there those
    columns carry no information from the paper, so an analysis that uses them shows
    how the method behaves, not what happened to the patients. Empty for other files.
    """
    if not df.attrs.get("reconstructed", False):
        return ()
    from nethep.contract import fields

    spec = fields()
    return tuple(c for c in columns if spec.get(c, {}).get("provenance") == "simulated")


def _enum_levels(column: str) -> list[str] | None:
    try:
        from nethep.contract import fields

        spec = fields().get(column)
    except Exception:  # pragma: no cover - contract always present in the package
        spec = None
    if spec is None:
        return None
    enum = spec.get("constraints", {}).get("enum")
    return [str(v) for v in enum] if enum and spec.get("type") == "string" else None


def _design(df: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Numeric design columns for ``covariates`` (indicators for text columns)."""
    out: dict[str, np.ndarray] = {}
    for cov in covariates:
        if cov in ("surgical", "arm", "treatment_group", "treatment"):
            raise ValueError(f"'{cov}' is the exposure, not a covariate to adjust for")
        if cov not in df.columns:
            raise ValueError(f"covariate '{cov}' is not a column of the cohort; have "
                             f"{', '.join(map(str, df.columns))}")
        col = df[cov]
        if col.isna().any():
            ids = df.loc[col.isna(), "patient_id"].tolist() if "patient_id" in df else []
            raise ValueError(f"covariate '{cov}' is missing for {int(col.isna().sum())} "
                             f"patient(s) {ids}; complete it or leave it out of covariates")
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            out[cov] = col.to_numpy(dtype=float)
            continue
        values = col.astype(str)
        present = set(values)
        enum = _enum_levels(cov)
        levels = [v for v in enum if v in present] if enum else []
        levels += sorted(present - set(levels))
        if len(levels) < 2:
            raise ValueError(f"covariate '{cov}' has a single level ({levels}); it cannot be "
                             "adjusted for in this cohort")
        for level in levels[1:]:
            out[f"{cov}={level}"] = (values == level).to_numpy(dtype=float)
    return pd.DataFrame(out, index=df.index)


def _survival_frame(df: pd.DataFrame, covariates: Sequence[str] = ()) -> pd.DataFrame:
    """T, E, surgical and the design columns of ``covariates``, one row per patient."""
    base = pd.DataFrame({
        "T": df["followup_months"].to_numpy(dtype=float),
        "E": df["died"].to_numpy(dtype=int),
        "surgical": df["surgical"].to_numpy(dtype=float),
    }, index=df.index)
    return pd.concat([base, _design(df, covariates)], axis=1)


def _arm_counts(data: pd.DataFrame) -> None:
    n1 = int(data["surgical"].sum())
    if n1 == 0 or n1 == len(data):
        raise ValueError("both arms are needed: the cohort has "
                         f"{n1} surgical and {len(data) - n1} non-surgical patients")


# ----------------------------------------------------------------------------- Cox fits


def _cox_rows(cph: Any) -> pd.DataFrame:
    s = cph.summary
    return pd.DataFrame({
        "term": list(s.index),
        "coef": s["coef"].to_numpy(float),
        "se": s["se(coef)"].to_numpy(float),
        "hr": s["exp(coef)"].to_numpy(float),
        "lower": s["exp(coef) lower 95%"].to_numpy(float),
        "upper": s["exp(coef) upper 95%"].to_numpy(float),
        "p": s["p"].to_numpy(float),
    })


def _separation_problems(data: pd.DataFrame, terms: Sequence[str]) -> list[str]:
    """Binary terms with no deaths in one level: a monotone partial likelihood."""
    problems = []
    for term in terms:
        x = data[term].to_numpy(float)
        if not np.isin(x, (0.0, 1.0)).all():
            continue
        for level in (0.0, 1.0):
            inside = x == level
            if inside.any() and data.loc[inside, "E"].sum() == 0:
                problems.append(
                    f"no deaths among the {privacy.mark(int(inside.sum()))} patients with "
                    f"{term} = "
                    f"{int(level)}: the partial likelihood has no finite maximum "
                    f"(monotone likelihood), so the unpenalized {term} hazard ratio is "
                    f"{'0' if level == 1 else 'infinite'}")
    return problems


# ------------------------------------------------------------------------- adjusted Cox


@dataclass(frozen=True)
class AdjustedCox:
    """Cox model of ``surgical`` adjusted for covariates (see :func:`cox_adjusted`)."""

    rows: pd.DataFrame  # term, coef, se, hr, lower, upper, p, ph_statistic, ph_p
    covariates: tuple[str, ...]
    n: int
    events: int
    n_parameters: int
    epv: float
    epv_warning: str | None
    separation: tuple[str, ...]
    penalizer: float
    method: str
    simulated: tuple[str, ...] = ()  # covariates simulated in the bundled reconstruction
    ph_method: str = ("score test of x * (1 - KM(t-)) per term, R survival >= 3.0 "
                      "cox.zph(transform = 'km')")

    @property
    def penalized(self) -> bool:
        return self.penalizer > 0

    def term(self, name: str) -> pd.Series:
        """The row of one model term (e.g. ``"surgical"``)."""
        hit = self.rows[self.rows["term"] == name]
        if hit.empty:
            raise KeyError(f"no term {name!r}; have {', '.join(self.rows['term'])}")
        return hit.iloc[0]

    @property
    def surgical(self) -> pd.Series:
        return self.term("surgical")

    def table(self) -> pd.DataFrame:
        return self.rows.copy()

    def epv_sentence(self) -> str:
        """Events per parameter, as a sentence (a small number of deaths reads ``<N``)."""
        return (f"Events per variable: {privacy.mark(self.events)} deaths / "
                f"{self.n_parameters} parameters = {self.epv:.1f}.")

    def to_results(self) -> dict[str, Any]:
        """``robustness.cox_adjusted``: ``{"surgical": {hr, lower, upper}}``."""
        s = self.surgical
        return {"surgical": {"hr": _r(s["hr"]), "lower": _r(s["lower"]),
                             "upper": _r(s["upper"])}}


def cox_adjusted(
    df: pd.DataFrame,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    penalizer: float = DEFAULT_PENALIZER,
) -> AdjustedCox:
    """Cox proportional-hazards model of surgical adjusted for ``covariates``.

    Method and defaults:

    - lifelines ``CoxPHFitter``, Efron ties, Wald 95% CI and P for every term
      (R: ``coxph(Surv(followup_months, died) ~ surgical + ...)``, verified to 1e-6).
      Default covariates: tumour type (islet cell indicator, carcinoid reference),
      percentage of liver involved, age in years (both per unit, linear).
    - Events per variable, EPV = events / number of parameters; a warning text when
      EPV < 10 (Peduzzi et al., J Clin Epidemiol 1995;48:1503; Vittinghoff and
      McCulloch, Am J Epidemiol 2007;165:710 relax the rule to 5-9 for confounder
      adjustment).
    - Separation (monotone likelihood, Heinze and Schemper, Biometrics 2001;57:114):
      flagged when a binary term has no deaths in one of its levels, when lifelines'
      Newton-Raphson fails to converge (warning or error), or when a coefficient is non-finite or
      larger than 10 per standard deviation of its covariate. Then the model is refitted
      with lifelines' ridge penalty (``penalizer``, default 0.1, ``l1_ratio`` 0): the
      penalized log partial likelihood is l(b) - n * penalizer / 2 * sum(b_std^2),
      b_std the coefficients of the covariates standardized to unit SD (sample SD);
      this is R's ``coxph(... ridge(z, theta = n * penalizer))`` on standardized z, and
      is verified against it. It is a ridge (shrinkage) estimate, not Firth's
      correction; its CI is Wald from the penalized information. On the bundled cohort
      no term separates, so the unpenalized fit is reported.
    - Proportional hazards per term: R >= 3.0's ``cox.zph(fit, transform = "km")``
      score test at the fitted coefficients (:func:`nethep.cox.cox_zph`, the same
      test as notebook 03; verified against R). For a penalized fit it is evaluated
      at the penalized coefficients, which R's ``cox.zph`` of a ridge model does not
      do exactly: read it as approximate then.
    """
    from lifelines.exceptions import ConvergenceError

    covariates = tuple(covariates)
    data = _survival_frame(df, covariates)
    _arm_counts(data)
    terms = [c for c in data.columns if c not in ("T", "E")]
    for term in terms:
        if data[term].nunique() < 2:
            raise ValueError(f"term '{term}' is constant in this cohort; drop it from covariates")
    problems = _separation_problems(data, terms)
    cph = None
    if not problems:
        try:
            cph, messages = fit_lifelines(data)
            # lifelines' pre-fit checks (low variance, correlation with time) also warn;
            # only a failed Newton-Raphson counts as evidence of separation
            problems += [f"lifelines: {m.splitlines()[0]}" for m in messages
                         if "failed to converge" in m or "suspiciously close to 0" in m]
            std_coef = cph.params_ * data[terms].std()
            if not np.isfinite(cph.params_).all() or (
                    std_coef.abs() > _STANDARDIZED_COEF_LIMIT).any():
                problems.append("a coefficient is non-finite or exceeds 10 per standard "
                                "deviation: the partial likelihood has no finite maximum")
        except ConvergenceError as exc:
            problems.append(f"lifelines did not converge: {str(exc).splitlines()[0]}")
    used_penalizer = 0.0
    if problems:
        used_penalizer = float(penalizer)
        if used_penalizer <= 0:
            raise ValueError("the Cox model separates (" + "; ".join(problems)
                             + "); pass penalizer > 0 for a penalized estimate")
        cph, _ = fit_lifelines(data, penalizer=used_penalizer)
        method = (f"ridge-penalized Cox partial likelihood (lifelines penalizer = "
                  f"{used_penalizer:g}, l1_ratio = 0, on standardized covariates), Efron "
                  "ties, Wald CI from the penalized information; used because the "
                  "unpenalized model separates")
    else:
        method = "Cox partial likelihood, Efron ties, Wald 95% CI and P (lifelines)"
    rows = _cox_rows(cph)
    zph = cox_zph(data["T"].to_numpy(float), data["E"].to_numpy(int),
                  data[terms].to_numpy(float), cph.params_[terms].to_numpy(float),
                  names=terms)
    ph = dict(zip(zph.names, zip(zph.chisq, zph.p, strict=True), strict=True))
    rows["ph_statistic"] = [float(ph[t][0]) for t in rows["term"]]
    rows["ph_p"] = [float(ph[t][1]) for t in rows["term"]]
    events = int(data["E"].sum())
    n_par = len(terms)
    epv = events / n_par
    warning = None
    if epv < EPV_THRESHOLD:
        warning = (f"Only {epv:.1f} events per parameter ({privacy.mark(events)} deaths, {n_par} "
                   f"parameters), below the conventional 10: the adjusted hazard ratios "
                   "may be biased away from 1 and their intervals unreliable; read them "
                   "as a sensitivity check, not as a definitive estimate.")
    return AdjustedCox(
        rows=rows, covariates=covariates, n=len(data), events=events, n_parameters=n_par,
        epv=epv, epv_warning=warning, separation=tuple(problems), penalizer=used_penalizer,
        method=method, simulated=simulated_inputs(df, covariates),
    )


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

    def table(self) -> pd.DataFrame:
        """The balance table: SMD of every term before and after weighting."""
        return self.balance.copy()

    def to_results(self) -> dict[str, Any]:
        """Balance and effective sample size (not among the brief's results.json keys)."""
        return {
            "smd_before": {t: _r(v) for t, v in zip(self.balance["term"],
                                                     self.balance["smd_before"], strict=True)},
            "smd_after": {t: _r(v) for t, v in zip(self.balance["term"],
                                                    self.balance["smd_after"], strict=True)},
            "ess": {k: _r(v) for k, v in self.ess.items()},
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
    import statsmodels.api as sm

    covariates = tuple(covariates)
    design = _design(df, covariates)
    treated = df["surgical"].to_numpy(dtype=bool)
    y = treated.astype(float)
    if treated.all() or not treated.any():
        raise ValueError("both arms are needed for a propensity score")
    exog = sm.add_constant(design, has_constant="add")
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = sm.GLM(y, exog, family=sm.families.Binomial()).fit()
    notes += [str(w.message) for w in caught if "separation" in str(w.message).lower()]
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
    scores = pd.DataFrame({"patient_id": pid, "arm": np.where(treated, "surgical", "nonsurgical"),
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
    hr: float
    lower: float
    upper: float
    p: float
    n: int
    events: int
    propensity: Propensity
    curves: pd.DataFrame  # arm, time, n_risk, n_event (weighted), surv; from time 0
    method: str = ("lifelines CoxPHFitter with stabilized IPT weights (Efron ties); robust "
                   "sandwich SE as R coxph(robust = TRUE); Wald 95% CI and P")

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "term": "surgical", "coef": self.coef, "se_robust": self.se_robust,
            "se_naive": self.se_naive, "hr": self.hr, "lower": self.lower, "upper": self.upper,
            "p": self.p, "n": self.n, "events": self.events}]).pipe(
                privacy.suppress_table, ["n", "events"])

    def curve(self, arm: str) -> pd.DataFrame:
        """Weighted survival curve of one arm: time, surv (step function, right-continuous)."""
        return self.curves[self.curves["arm"] == arm][["time", "surv"]].reset_index(drop=True)

    def to_results(self) -> dict[str, Any]:
        """``robustness.iptw``: ``{hr, lower, upper}``."""
        return {"hr": _r(self.hr), "lower": _r(self.lower), "upper": _r(self.upper)}


def iptw_cox(
    df: pd.DataFrame,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    truncate: tuple[float, float] | None = None,
) -> IPTWCox:
    """Marginal HR of surgical by inverse probability of treatment weighting.

    Method and defaults:

    - Weights: :func:`propensity` (stabilized, no trimming unless ``truncate``).
    - Weighted Cox model with surgical as the only term: lifelines ``CoxPHFitter``
      with ``weights_col`` (Efron ties) for the estimate; robust sandwich variance
      (Lin and Wei, JASA 1989;84:1074) computed as R does it, from Efron score
      residuals (lifelines' ``robust=True`` mishandles tied times, see
      :func:`nethep.cox.weighted_cox_robust`), Wald 95% CI and P; the robust SE accounts
      for the weighting but treats the propensity score as known (slightly
      conservative; Austin, Stat Med 2016;35:5642). Verified against R
      ``coxph(Surv(t, d) ~ surgical, weights = w, robust = TRUE)`` to 1e-6.
    - Weighted Kaplan-Meier curve per arm: the weighted product-limit estimator
      (Xie and Liu, Stat Med 2005;24:3089) in numpy, verified against R
      ``survfit(..., weights = w)`` (lifelines' weighted ``KaplanMeierFitter`` fails
      at a final death, see :func:`nethep.km.weighted_km`). ``curves`` holds time, weighted numbers
      at risk and dying, and survival per arm from time 0, for a step plot.
    """
    prop = propensity(df, covariates, truncate=truncate)
    data = _survival_frame(df)
    _arm_counts(data)
    data["w"] = prop.weights.to_numpy(float)
    beta, robust_var, naive_var = weighted_cox_robust(data, ["surgical"])
    coef, se = float(beta[0]), float(math.sqrt(robust_var[0, 0]))
    treated = data["surgical"].to_numpy(bool)
    frames = []
    for arm, mask in (("surgical", treated), ("nonsurgical", ~treated)):
        sub = data[mask]
        curve = weighted_km(sub["T"].to_numpy(float), sub["E"].to_numpy(int),
                            sub["w"].to_numpy(float))
        frames.append(curve.assign(arm=arm))
    curves = pd.concat(frames, ignore_index=True)[["arm", "time", "n_risk", "n_event", "surv"]]
    return IPTWCox(
        coef=coef, se_robust=se, se_naive=float(math.sqrt(naive_var[0, 0])),
        hr=math.exp(coef), lower=math.exp(coef - _Z * se), upper=math.exp(coef + _Z * se),
        p=float(2 * stats.norm.sf(abs(coef / se))), n=len(data), events=int(data["E"].sum()),
        propensity=prop, curves=curves,
    )


# ------------------------------------------------------------------------------ E-value


def outcome_is_common(df: pd.DataFrame, threshold: float = 0.15) -> bool:
    """True when the proportion who died exceeds ``threshold`` (VanderWeele-Ding's 15%)."""
    return float(df["died"].mean()) > threshold


def _hr_to_rr(hr: float, rare: bool) -> float:
    if rare:
        return hr
    return (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))


def _evalue_rr(rr: float) -> float:
    rr = 1 / rr if rr < 1 else rr
    return rr + math.sqrt(rr * (rr - 1))


@dataclass(frozen=True)
class EValue:
    """E-value for a hazard ratio and its CI (see :func:`evalue`)."""

    hr: float
    lower: float
    upper: float
    rare_outcome: bool
    rr: float  # the risk ratio the E-value is computed from
    rr_limit: float  # the CI limit (closer to 1) on the risk-ratio scale
    point: float
    ci_limit: float

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([
            {"quantity": "point estimate", "hr": self.hr, "rr": self.rr, "evalue": self.point},
            {"quantity": "CI limit closer to 1",
             "hr": self.upper if self.hr < 1 else self.lower, "rr": self.rr_limit,
             "evalue": self.ci_limit},
        ])

    def sentence(self) -> str:
        """One plain-language sentence generated from the numbers."""
        if self.hr == 1:
            return ("The hazard ratio is 1, so there is no association for an unmeasured "
                    "factor to explain away.")
        if self.hr < 1:
            effect, change = "lower", f"cut the risk of death about {self.point:.1f}-fold"
        else:
            effect, change = "higher", f"raise the risk of death about {self.point:.1f}-fold"
        head = (f"To explain away the {effect} risk of death with surgery (hazard ratio "
                f"{self.hr:.2f}), an unmeasured factor such as fitness for operation would have "
                f"to be about {self.point:.1f} times as common among operated patients and "
                f"{change}, over and above the factors already accounted for")
        if self.ci_limit <= 1:
            return (head + "; because the confidence interval already includes no effect, "
                    "no unmeasured factor is needed to make the result compatible with none.")
        return (head + f"; a factor about {self.ci_limit:.1f} times as strong on both counts "
                "would be enough to make the result compatible with no effect.")

    def to_results(self) -> dict[str, Any]:
        """``robustness.evalue``: ``{point, ci_limit}``."""
        return {"point": _r(self.point), "ci_limit": _r(self.ci_limit)}


def evalue(hr: float, lower: float, upper: float, rare_outcome: bool = False) -> EValue:
    """E-value of a hazard ratio (VanderWeele and Ding, Ann Intern Med 2017;167:268).

    The E-value is the minimum strength of association, on the risk-ratio scale, that
    an unmeasured confounder would need with both the treatment and the outcome,
    conditional on the measured covariates, to explain away the estimate.

    - Rare outcome (``rare_outcome=True``, outcome < 15% by the end of follow-up):
      RR = HR. Otherwise (the default, and the case for this cohort, where most
      patients died; see :func:`outcome_is_common`) the HR is converted with
      RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) (VanderWeele, Biometrics
      2020;76:746; the R EValue package's ``evalues.HR(rare = FALSE)``).
    - For RR < 1 the inverse is taken; E = RR + sqrt(RR (RR - 1)).
    - CI: the limit closer to 1 (the upper limit when HR < 1) is converted the same
      way; its E-value is 1 when the CI includes 1.
    """
    values = (hr, lower, upper)
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"hr, lower and upper must be positive finite numbers, not {values}")
    if not lower <= hr <= upper:
        raise ValueError(f"need lower <= hr <= upper, got {lower}, {hr}, {upper}")
    rr = _hr_to_rr(hr, rare_outcome)
    limit_hr = upper if hr < 1 else lower
    rr_limit = _hr_to_rr(limit_hr, rare_outcome)
    point = 1.0 if hr == 1 else _evalue_rr(rr)
    crosses = lower <= 1 <= upper
    ci_limit = 1.0 if crosses else _evalue_rr(rr_limit)
    return EValue(hr=float(hr), lower=float(lower), upper=float(upper),
                  rare_outcome=bool(rare_outcome), rr=rr, rr_limit=rr_limit, point=point,
                  ci_limit=ci_limit)


# ---------------------------------------------------------------------- immortal time


@dataclass(frozen=True)
class LandmarkResult:
    """Landmark Cox analysis at one landmark time (see :func:`landmark`)."""

    at_months: float
    n: int
    events: int
    n_surgical: int
    n_excluded: int  # died or left follow-up by the landmark
    n_reclassified: int  # surgical patients operated after the landmark, counted non-surgical
    coef: float
    se: float
    hr: float
    lower: float
    upper: float
    p: float
    note: str
    simulated: tuple[str, ...] = ()  # inputs simulated in the bundled reconstruction

    def table(self) -> pd.DataFrame:
        """One row; counts from 1 to min_cell - 1 read ``<N`` (:mod:`nethep.privacy`)."""
        return privacy.suppress_table(pd.DataFrame([{k: getattr(self, k) for k in (
            "at_months", "n", "events", "n_surgical", "n_excluded", "n_reclassified",
            "coef", "se", "hr", "lower", "upper", "p")}]),
            ["n", "events", "n_surgical", "n_excluded", "n_reclassified"])

    def to_results(self) -> dict[str, Any]:
        """``robustness.landmark.<at_months>``: ``{hr, lower, upper, n}``."""
        return {"hr": _r(self.hr), "lower": _r(self.lower), "upper": _r(self.upper),
                "n": self.n}


def landmark(df: pd.DataFrame, at_months: float) -> LandmarkResult:
    """Landmark analysis of surgery at ``at_months`` (Anderson, Cain and Gelber 1983).

    - Patients alive and in follow-up at the landmark: ``followup_months > at_months``
      (a death or censoring at the landmark itself excludes the patient).
    - Exposure fixed at the landmark: surgical only if in the surgical group AND
      ``months_to_treatment <= at_months``; surgical patients operated later are
      counted non-surgical (an intention-to-treat at the landmark; their later
      surgery is ignored, which biases towards no difference).
    - Time reset to months since the landmark; Cox model (lifelines, Efron ties,
      Wald 95% CI), verified against R ``coxph`` on the same subset.
    """
    from lifelines.exceptions import ConvergenceError

    at = float(at_months)
    t = df["followup_months"].to_numpy(dtype=float)
    keep = t > at
    sub = df[keep]
    mtt = sub["months_to_treatment"].to_numpy(dtype=float, na_value=np.nan)
    surg = sub["surgical"].to_numpy(bool)
    surg_at = surg & (mtt <= at)
    data = pd.DataFrame({"T": t[keep] - at, "E": sub["died"].to_numpy(int),
                         "surgical": surg_at.astype(float)}, index=sub.index)
    n_surg = int(surg_at.sum())
    if n_surg == 0 or n_surg == len(data):
        raise ValueError(f"at the {at:g}-month landmark {n_surg} of {len(data)} patients "
                         "count as surgical: both arms are needed")
    try:
        cph, _ = fit_lifelines(data)
    except ConvergenceError as exc:  # pragma: no cover - depends on the data
        raise ValueError(f"landmark {at:g}: the Cox model did not converge ({exc})") from None
    s = cph.summary.loc["surgical"]
    n_recl = int((surg & ~(mtt <= at)).sum())
    n_excl = int((~keep).sum())
    mark = privacy.mark
    note = (f"Landmark {at:g} months: {mark(len(data))} patients alive and in follow-up "
            f"({mark(n_excl)} died or were censored by then and are excluded); {mark(n_surg)} "
            f"count as surgical. {mark(n_recl)} surgical patient(s) operated after {at:g} months "
            "are counted non-surgical at the landmark. Time is measured from the landmark.")
    return LandmarkResult(
        at_months=at, n=len(data), events=int(data["E"].sum()), n_surgical=n_surg,
        n_excluded=n_excl, n_reclassified=n_recl, coef=float(s["coef"]),
        se=float(s["se(coef)"]), hr=float(s["exp(coef)"]),
        lower=float(s["exp(coef) lower 95%"]), upper=float(s["exp(coef) upper 95%"]),
        p=float(s["p"]), note=note, simulated=simulated_inputs(df, ["months_to_treatment"]),
    )


def counting_process(df: pd.DataFrame) -> pd.DataFrame:
    """Start/stop rows with surgery switched on at ``months_to_treatment``.

    Surgical patients with 0 < months_to_treatment < followup_months get two rows,
    (0, mtt] unexposed with no event and (mtt, followup] exposed with the death
    indicator; surgery at time 0 gives one exposed row; surgery at the last follow-up
    time (allowed by the contract) leaves no exposed time, so one unexposed row.
    Everyone else: one unexposed row (0, followup]. Vectorized numpy.
    """
    pid = (df["patient_id"].to_numpy() if "patient_id" in df else np.asarray(df.index))
    t = df["followup_months"].to_numpy(dtype=float)
    e = df["died"].to_numpy(dtype=int)
    mtt = df["months_to_treatment"].to_numpy(dtype=float, na_value=np.nan)
    surg = df["surgical"].to_numpy(bool)
    switch = surg & (mtt < t)  # NaN compares False
    at_zero = switch & (mtt <= 0)
    split = switch & ~at_zero
    pre = pd.DataFrame({"id": pid[split], "start": 0.0, "stop": mtt[split], "event": 0,
                        "surgical": 0.0})
    post_start = np.where(at_zero, 0.0, mtt)
    whole = pd.DataFrame({"id": pid, "start": np.where(switch, post_start, 0.0), "stop": t,
                          "event": e, "surgical": switch.astype(float)})
    order = {p: i for i, p in enumerate(pid)}
    out = pd.concat([pre, whole], ignore_index=True)
    out["_o"] = out["id"].map(order)
    return out.sort_values(["_o", "start"], kind="stable").drop(columns="_o").reset_index(
        drop=True)


@dataclass(frozen=True)
class TimeVaryingCox:
    """Surgery as a time-varying covariate vs the naive fit (see :func:`time_varying_cox`)."""

    coef: float
    se: float
    hr: float
    lower: float
    upper: float
    p: float
    n_patients: int
    n_intervals: int
    events: int
    n_switched: int
    naive_hr: float
    naive_lower: float
    naive_upper: float
    naive_p: float
    simulated: tuple[str, ...] = ()  # inputs simulated in the bundled reconstruction

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([
            {"model": "naive (surgery fixed at time 0)", "hr": self.naive_hr,
             "lower": self.naive_lower, "upper": self.naive_upper, "p": self.naive_p},
            {"model": "time-varying (surgery from months_to_treatment)", "hr": self.hr,
             "lower": self.lower, "upper": self.upper, "p": self.p},
        ])

    def sentence(self) -> str:
        """Who switches exposure, as a sentence; small counts read ``<N``. The number of
        intervals (patients + switchers) is withheld when the switchers are."""
        mark = privacy.mark
        intervals = (f"{self.n_intervals} intervals" if not privacy.is_small(self.n_switched)
                     else "interval count withheld")
        return (f"{mark(self.n_switched)} of {mark(self.n_patients)} patients switch from "
                f"unoperated to operated during follow-up ({intervals}, "
                f"{mark(self.events)} deaths).")

    def to_results(self) -> dict[str, Any]:
        """``robustness.time_varying``: ``{hr, lower, upper}``."""
        return {"hr": _r(self.hr), "lower": _r(self.lower), "upper": _r(self.upper)}


def time_varying_cox(df: pd.DataFrame) -> TimeVaryingCox:
    """Cox model with surgery as a time-varying covariate (removes immortal time).

    Data in counting-process form (:func:`counting_process`); lifelines
    ``CoxTimeVaryingFitter`` (Efron ties, Wald 95% CI), verified against R
    ``coxph(Surv(start, stop, event) ~ surgical)`` on rows built independently with
    ``survival::tmerge``. Compared with the naive time-fixed HR of
    :func:`nethep.survival.cox_surgical`, which credits the surgical arm with the
    event-free time before operation (Suissa, Am J Epidemiol 2008;167:492).
    """
    from lifelines import CoxTimeVaryingFitter

    from nethep.survival import cox_surgical

    long = counting_process(df)
    ctv = CoxTimeVaryingFitter().fit(long, id_col="id", event_col="event", start_col="start",
                                     stop_col="stop", fit_options=FIT_OPTIONS)
    s = ctv.summary.loc["surgical"]
    naive = cox_surgical(df)
    return TimeVaryingCox(
        coef=float(s["coef"]), se=float(s["se(coef)"]), hr=float(s["exp(coef)"]),
        lower=float(s["exp(coef) lower 95%"]), upper=float(s["exp(coef) upper 95%"]),
        p=float(s["p"]), n_patients=len(df), n_intervals=len(long),
        events=int(long["event"].sum()), n_switched=int((long["start"] > 0).sum()),
        naive_hr=naive.hr, naive_lower=naive.lower, naive_upper=naive.upper, naive_p=naive.p,
        simulated=simulated_inputs(df, ["months_to_treatment"]),
    )


# --------------------------------------------------------------------------------- RMST


@dataclass(frozen=True)
class RMSTResult:
    """Restricted mean survival time per arm and their difference (see :func:`rmst`)."""

    tau: float
    rows: pd.DataFrame  # arm, n, events, rmst, se, last_followup, extended
    diff: float
    se_diff: float
    lower: float
    upper: float
    p: float
    notes: tuple[str, ...]

    def arm(self, name: str) -> pd.Series:
        return self.rows[self.rows["arm"] == name].iloc[0]

    @property
    def extended(self) -> bool:
        """True when tau lies beyond the last follow-up time of an arm."""
        return bool(self.rows["extended"].any())

    def table(self) -> pd.DataFrame:
        diff = pd.DataFrame([{"arm": "difference (surgical - nonsurgical)", "rmst": self.diff,
                              "se": self.se_diff, "lower": self.lower, "upper": self.upper,
                              "p": self.p}])
        out = self.rows.assign(lower=self.rows["rmst"] - _Z * self.rows["se"],
                               upper=self.rows["rmst"] + _Z * self.rows["se"], p=np.nan)
        return privacy.suppress_table(
            pd.concat([out, diff], ignore_index=True).assign(tau=self.tau), ["n", "events"])

    def to_results(self) -> dict[str, Any]:
        """``robustness.rmst.<tau>``: ``{surgical, nonsurgical, diff, lower, upper}``."""
        return {"surgical": _r(self.arm("surgical")["rmst"]),
                "nonsurgical": _r(self.arm("nonsurgical")["rmst"]),
                "diff": _r(self.diff), "lower": _r(self.lower), "upper": _r(self.upper)}


def rmst(df: pd.DataFrame, tau: float) -> RMSTResult:
    """Restricted mean survival time to ``tau`` months per arm, and the difference.

    - RMST: area under the Kaplan-Meier curve from 0 to tau (lifelines
      ``restricted_mean_survival_time`` of a ``KaplanMeierFitter``).
    - SE: R survival's rule (``print(survfit(...), rmean = tau)``, ``se(rmean)``):
      var = sum over event times t_k <= tau of A_k^2 d_k / (n_k (n_k - d_k)), A_k the
      area under the curve from t_k to tau (Klein and Moeschberger 2003, section 4.5).
      lifelines' ``return_variance=True`` gives instead the variance of min(T, tau)
      (2 int t S - RMST^2), a property of the population, not the SE of the estimate,
      so it is not used. Verified against R to 1e-6.
    - Difference surgical minus non-surgical with a normal-approximation 95% CI from
      the two independent SEs, and its two-sided P.
    - When tau exceeds an arm's last follow-up time the curve is extended flat at its
      last value (R's rule), and the arm is flagged (``extended``) with a note: the
      RMST then assumes no deaths after the last follow-up.
    """
    tau = float(tau)
    if tau <= 0:
        raise ValueError(f"tau must be positive, not {tau}")
    rows, notes = [], []
    for arm in ("surgical", "nonsurgical"):
        sub = df[df["arm"] == arm]
        if sub.empty:
            raise ValueError(f"no {arm} patients: both arms are needed for RMST")
        t = sub["followup_months"].to_numpy(dtype=float)
        e = sub["died"].to_numpy(dtype=int)
        area, se = restricted_mean_survival(t, e, tau)
        last = float(t.max())
        extended = tau > last
        if extended:
            notes.append(f"tau = {tau:g} months exceeds the last follow-up in the {arm} arm "
                         f"({last:g} months): its curve is carried forward flat from "
                         f"{last:g} to {tau:g} months (R's rule), assuming no further deaths")
        rows.append({"arm": arm, "n": len(sub), "events": int(e.sum()), "rmst": area,
                     "se": se, "last_followup": last, "extended": extended})
    frame = pd.DataFrame(rows)
    diff = float(frame.loc[0, "rmst"] - frame.loc[1, "rmst"])
    se_diff = float(math.hypot(frame.loc[0, "se"], frame.loc[1, "se"]))
    p = float(2 * stats.norm.sf(abs(diff / se_diff))) if se_diff > 0 else float("nan")
    return RMSTResult(tau=tau, rows=frame, diff=diff, se_diff=se_diff,
                      lower=diff - _Z * se_diff, upper=diff + _Z * se_diff, p=p,
                      notes=tuple(notes))


# -------------------------------------------------------------------------------- power


def _schoenfeld_power(events: float, p: float, hr: float, alpha: float) -> float:
    z = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.cdf(math.sqrt(events * p * (1 - p)) * abs(math.log(hr)) - z))


def _schoenfeld_events(p: float, hr: float, alpha: float, target: float) -> float:
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(target)
    return float(z**2 / (p * (1 - p) * math.log(hr) ** 2))


@dataclass(frozen=True)
class PowerResult:
    """Log-rank power and required events by Schoenfeld's formula (see :func:`power`)."""

    alpha: float
    n: int
    events: int
    allocation: float  # proportion surgical
    event_proportion: float
    observed_hr: float
    rows: pd.DataFrame  # scenario, hr, power, events_80, events_90, n_80, n_90
    assumptions: tuple[str, ...]

    def scenario(self, name: str) -> pd.Series:
        return self.rows[self.rows["scenario"] == name].iloc[0]

    def table(self) -> pd.DataFrame:
        return self.rows.copy()

    def needed_sentence(self, scenario: str = "HR 0.5") -> str:
        """Deaths and patients needed for 80% power in ``scenario``, beside this study's
        deaths (a small number reads ``<N``)."""
        row = self.scenario(scenario)
        return (f"{row['events_80']} deaths ({row['n_80']} patients) would give 80% power to "
                f"detect {scenario}; this study had {privacy.mark(self.events)}.")

    def to_results(self) -> dict[str, Any]:
        """``robustness.power``: ``{observed_hr, power_at_observed, n_for_80, n_for_90}``."""
        obs = self.scenario("observed HR")
        return {"observed_hr": _r(self.observed_hr), "power_at_observed": _r(obs["power"]),
                "n_for_80": int(obs["n_80"]), "n_for_90": int(obs["n_90"])}


def power(df: pd.DataFrame, hr: float | None = None, alpha: float = 0.05) -> PowerResult:
    """Power of the log-rank test and events needed (Schoenfeld, Biometrika 1983;68:316).

    - Power with D observed deaths, allocation p = proportion surgical:
      Phi(sqrt(D p (1 - p)) |log HR| - z_{1-alpha/2}), two-sided alpha 0.05 (the
      negligible opposite tail ignored), for the observed HR (``hr``, default the
      naive Cox HR of :func:`nethep.survival.cox_surgical`) and for HR 0.5.
    - Required events D = (z_{1-alpha/2} + z_power)^2 / (p (1 - p) (log HR)^2) for
      80% and 90% power, rounded up; patients needed = ceil(D / observed proportion
      dying), same allocation.
    - Assumptions (also in ``PowerResult.assumptions``): proportional hazards; the
      comparison is the unadjusted log-rank; allocation and the proportion dying
      during follow-up stay as observed (in truth the latter depends on the HR and on
      accrual and follow-up time); no loss to follow-up beyond what is observed.
      Power computed at the observed HR is a function of the observed P value and says
      nothing new about this study (Hoenig and Heisey, Am Stat 2001;55:19); it is given
      only to size a future study.
    """
    from nethep.survival import cox_surgical

    n = len(df)
    events = int(df["died"].sum())
    p = float(df["surgical"].mean())
    if not 0 < p < 1 or events == 0:
        raise ValueError("power needs both arms and at least one death")
    observed = float(cox_surgical(df).hr) if hr is None else float(hr)
    event_prop = events / n
    rows = []
    for name, h in (("observed HR", observed), ("HR 0.5", 0.5)):
        if h == 1 or h <= 0:
            rows.append({"scenario": name, "hr": h, "power": alpha, "events_80": None,
                         "events_90": None, "n_80": None, "n_90": None})
            continue
        d80 = math.ceil(_schoenfeld_events(p, h, alpha, 0.80))
        d90 = math.ceil(_schoenfeld_events(p, h, alpha, 0.90))
        rows.append({"scenario": name, "hr": h, "power": _schoenfeld_power(events, p, h, alpha),
                     "events_80": d80, "events_90": d90,
                     "n_80": math.ceil(d80 / event_prop), "n_90": math.ceil(d90 / event_prop)})
    assumptions = (
        "proportional hazards between surgical and non-surgical patients",
        "unadjusted two-sided log-rank test at alpha = "
        f"{alpha:g} (Schoenfeld's approximation; the opposite tail ignored)",
        f"allocation as observed: {p:.3f} surgical ({privacy.mark(int(df['surgical'].sum()))} "
        f"of {privacy.mark(n)})",
        f"the proportion dying during follow-up as observed: {event_prop:.3f} "
        f"({privacy.mark(events)} of {privacy.mark(n)}); in truth it depends on the HR, "
        "accrual and follow-up",
        "required events rounded up, then patients = ceil(events / proportion dying)",
        "power at the observed HR is a restatement of the observed P value (Hoenig and "
        "Heisey 2001); use it to size a future study, not to interpret this one",
    )
    return PowerResult(alpha=alpha, n=n, events=events, allocation=p,
                       event_proportion=event_prop, observed_hr=observed,
                       rows=pd.DataFrame(rows), assumptions=assumptions)


# ------------------------------------------------------------------------------ summary


@dataclass(frozen=True)
class RobustnessSummary:
    """The closing table of the robustness analyses (see :func:`robustness_summary`)."""

    rows: pd.DataFrame  # analysis, measure, estimate, lower, upper, n, same_direction, role
    results: dict[str, Any] = field(repr=False)

    def table(self) -> pd.DataFrame:
        """One row per analysis; an n from 1 to min_cell - 1 reads ``<N``."""
        return privacy.suppress_table(self.rows, ["n"])

    def to_results(self) -> dict[str, Any]:
        """The whole ``robustness`` section of results.json from the analyses given."""
        return self.results


def robustness_summary(
    naive: Any,
    adjusted: AdjustedCox | None = None,
    iptw: IPTWCox | None = None,
    landmarks: Sequence[LandmarkResult] = (),
    time_varying: TimeVaryingCox | None = None,
    rmsts: Sequence[RMSTResult] = (),
    permutation_p: float | None = None,
    evalue_result: EValue | None = None,
    power_result: PowerResult | None = None,
    iptw_truncated: IPTWCox | None = None,
    landmark_alternatives: Sequence[LandmarkResult] = (),
) -> RobustnessSummary:
    """One row per analysis: estimate, 95% CI, and agreement in direction with the naive HR.

    ``naive`` is :func:`nethep.survival.cox_surgical`'s result (anything with ``hr``,
    ``lower``, ``upper``, ``n``). Direction: a hazard ratio points the same way as the
    naive one when both are on the same side of 1 (HR < 1: surgery better); an RMST
    difference (surgical minus non-surgical) when it is > 0 while the naive HR is < 1
    (or < 0 while it is > 1). ``permutation_p`` is supplied by the caller (computed
    elsewhere); its row has no direction (``same_direction`` is None). The
    ``results`` dict (``to_results()``) has the keys the notebook writes:
    ``cox_adjusted``, ``iptw``, ``evalue``, ``landmark.<months>``, ``time_varying``,
    ``rmst.<tau>`` and ``power``, each present only when its analysis is given.

    Alternatives to an analysis's main choice go in their own arguments, so the table
    can show them beside it: ``iptw_truncated`` (weights truncated, e.g. at the 1st/99th
    percentiles; row after IPTW, key ``iptw_truncated``) and ``landmark_alternatives``
    (other landmark times; rows after the main landmarks, under ``landmark.<months>``).
    The ``role`` column says which is which: ``reference`` (the naive Cox model),
    ``main`` or ``alternative``.
    """
    naive_benefit = naive.hr < 1

    def hr_row(name: str, hr: float, lo: float, hi: float, n: int | None,
               role: str = "main") -> dict[str, Any]:
        return {"analysis": name, "measure": "hazard ratio", "estimate": hr, "lower": lo,
                "upper": hi, "n": n, "same_direction": bool((hr < 1) == naive_benefit),
                "role": role}

    rows = [hr_row("naive Cox", naive.hr, naive.lower, naive.upper, naive.n, "reference")]
    results: dict[str, Any] = {}
    if adjusted is not None:
        s = adjusted.surgical
        label = "adjusted Cox" + (" (penalized)" if adjusted.penalized else "")
        rows.append(hr_row(label, s["hr"], s["lower"], s["upper"], adjusted.n))
        results["cox_adjusted"] = adjusted.to_results()
    if iptw is not None:
        rows.append(hr_row("IPTW Cox", iptw.hr, iptw.lower, iptw.upper, iptw.n))
        results["iptw"] = iptw.to_results()
    if iptw_truncated is not None:
        bounds = iptw_truncated.propensity.truncate
        how = ("" if bounds is None else
               f" at percentiles {100 * bounds[0]:g} and {100 * bounds[1]:g}")
        rows.append(hr_row(f"IPTW Cox, weights truncated{how}", iptw_truncated.hr,
                           iptw_truncated.lower, iptw_truncated.upper, iptw_truncated.n,
                           "alternative"))
        results["iptw_truncated"] = iptw_truncated.to_results()
    for lm, role in [(lm, "main") for lm in landmarks] + [
            (lm, "alternative") for lm in landmark_alternatives]:
        rows.append(hr_row(f"landmark {lm.at_months:g} months", lm.hr, lm.lower, lm.upper,
                           lm.n, role))
        results.setdefault("landmark", {})[f"{lm.at_months:g}"] = lm.to_results()
    if time_varying is not None:
        tv = time_varying
        rows.append(hr_row("time-varying Cox", tv.hr, tv.lower, tv.upper, tv.n_patients))
        results["time_varying"] = tv.to_results()
    for r in rmsts:
        rows.append({"analysis": f"RMST difference, {r.tau:g} months",
                     "measure": "months (surgical - nonsurgical)", "estimate": r.diff,
                     "lower": r.lower, "upper": r.upper, "n": int(r.rows["n"].sum()),
                     "same_direction": bool((r.diff > 0) == naive_benefit), "role": "main"})
        results.setdefault("rmst", {})[f"{r.tau:g}"] = r.to_results()
    if permutation_p is not None:
        rows.append({"analysis": "permutation test", "measure": "P value",
                     "estimate": float(permutation_p), "lower": np.nan, "upper": np.nan,
                     "n": naive.n, "same_direction": None, "role": "main"})
    if evalue_result is not None:
        results["evalue"] = evalue_result.to_results()
    if power_result is not None:
        results["power"] = power_result.to_results()
    return RobustnessSummary(rows=pd.DataFrame(rows), results=results)


# ------------------------------------------------------------- notebook 05: the choices

#: Monte Carlo permutations for the permutation log-rank tests (seeded: DEFAULT_SEED).
N_PERMUTATIONS = 100_000
#: Bootstrap resamples for the survival difference at BOOTSTRAP_MONTHS.
N_RESAMPLES = 10_000
BOOTSTRAP_MONTHS = 36.0
#: Main landmark times (months) and the alternative shown beside them.
LANDMARK_MONTHS: tuple[float, ...] = (3.0, 6.0)
LANDMARK_ALTERNATIVES: tuple[float, ...] = (12.0,)
#: Weight trimming: none in the main analysis; this truncation as the alternative.
TRUNCATION_ALTERNATIVE: tuple[float, float] = (0.01, 0.99)
#: Restricted mean survival horizons (months).
RMST_TAUS: tuple[float, ...] = (36.0, 60.0)


def compare_tables(labelled: dict[str, Any], label: str = "analysis") -> pd.DataFrame:
    """The ``.table()`` of each result, stacked, with its label in a first column.

    For showing a main choice beside its alternatives, e.g.
    ``compare_tables({"no trimming (main)": a, "truncated 1st/99th": b})``.
    """
    frames = [obj.table().assign(**{label: name}) for name, obj in labelled.items()]
    out = pd.concat(frames, ignore_index=True)
    return out[[label, *[c for c in out.columns if c != label]]]


def weight_summary(prop: Propensity) -> pd.DataFrame:
    """Propensity scores and weights per arm: range, median and Kish effective size.

    One row per arm (surgical first): n, smallest / median / largest propensity score and
    weight, their sum, and the effective sample size ``(sum w)^2 / sum w^2``; overlap
    of the score ranges is the first thing to read (no overlap: no weighting can help).
    """
    rows = []
    for arm in ("surgical", "nonsurgical"):
        sub = prop.scores[prop.scores["arm"] == arm]
        ps, w = sub["ps"].to_numpy(float), sub["weight"].to_numpy(float)
        rows.append({"arm": arm, "n": len(sub), "ps_min": ps.min(), "ps_median": np.median(ps),
                     "ps_max": ps.max(), "weight_min": w.min(), "weight_median": np.median(w),
                     "weight_max": w.max(), "weight_sum": w.sum(), "ess": _kish(w)})
    return privacy.suppress_table(pd.DataFrame(rows), ["n"])


def logrank_comparison(survdiff: Any, permutation: Any, exact: Any | None = None,
                       group: str = "surgical") -> pd.DataFrame:
    """The log-rank test computed two ways, with the same numerator and two variances.

    ``survdiff``: :func:`nethep.survival.logrank` (R ``survdiff``); ``permutation``:
    :func:`nethep.permutation.permutation_logrank` for the same 2 groups; ``exact``:
    :func:`nethep.permutation.exact_logrank` (optional). Both statistics are
    ``(O - E)^2 / V`` with the same observed-minus-expected deaths ``O - E`` of
    ``group`` (coin's linear statistic of the log-rank scores is ``E - O`` of its
    group); they differ only in ``V``: survdiff's sum over death times of the
    hypergeometric variance given who was at risk, coin's permutation variance of the
    score total under relabelling. ``V`` of the permutation rows is recovered as
    ``(O - E)^2 / Z^2``.
    """
    if len(survdiff.groups) != 2:
        raise ValueError("logrank_comparison needs the 2-group log-rank test")
    i = survdiff.groups.index(group) if group in survdiff.groups else 0
    o_minus_e = float(survdiff.observed[i] - survdiff.expected[i])
    z2 = float(permutation.statistic) ** 2
    v_perm = o_minus_e**2 / z2 if z2 > 0 else float("nan")
    nan = float("nan")
    rows = [
        {"test": "log-rank, survdiff variance, chi-square 1 df (R survdiff)",
         "o_minus_e": o_minus_e, "variance": o_minus_e**2 / survdiff.statistic,
         "chi_square": survdiff.statistic, "p": survdiff.p, "mc_se": nan, "p_lower": nan,
         "p_upper": nan},
        {"test": "log-rank, permutation variance, normal approximation (R coin)",
         "o_minus_e": o_minus_e, "variance": v_perm, "chi_square": z2,
         "p": permutation.p_asymptotic, "mc_se": nan, "p_lower": nan, "p_upper": nan},
        {"test": f"log-rank, permutation, Monte Carlo ({permutation.n_permutations:,})",
         "o_minus_e": o_minus_e, "variance": v_perm, "chi_square": z2, "p": permutation.p,
         "mc_se": permutation.mc_se, "p_lower": nan, "p_upper": nan},
    ]
    if exact is not None:
        rows.append({"test": "log-rank, permutation, exact (all assignments)",
                     "o_minus_e": o_minus_e, "variance": v_perm, "chi_square": z2,
                     "p": exact.p, "mc_se": nan, "p_lower": exact.p_lower,
                     "p_upper": exact.p_upper})
    return pd.DataFrame(rows)


def power_note(power_result: PowerResult, naive: Any) -> str:
    """Why the power at the observed HR says little here: a sentence from the numbers.

    ``naive`` is :func:`nethep.survival.cox_surgical`'s result (``hr``, ``se``, ``p``).
    Schoenfeld's formula takes the SE of log HR as ``1 / sqrt(D p (1 - p))``, true near
    HR = 1 (deaths split between the arms as the patients are); the sentence sets it
    beside the Cox model's SE at the observed HR, and gives the "observed power" of the
    Wald test, ``Phi(|log HR| / SE - z)``, which is the Wald P value restated.
    """
    p, d = power_result.allocation, power_result.events
    se_formula = 1 / math.sqrt(d * p * (1 - p))
    obs = power_result.scenario("observed HR")
    z = stats.norm.ppf(1 - power_result.alpha / 2)
    wald_power = float(stats.norm.cdf(abs(math.log(naive.hr)) / naive.se - z))
    return (
        f"Power at the observed hazard ratio ({obs['hr']:.2f}) is {obs['power']:.0%} by "
        "Schoenfeld's formula, but it adds nothing to the P value, of which it is a "
        "function (Hoenig and Heisey 2001), and here it is also overstated: the formula "
        f"takes the standard error of log HR as 1/sqrt(D p (1 - p)) = {se_formula:.2f}, "
        "which holds near a hazard ratio of 1, while the Cox model's standard error at "
        f"the observed hazard ratio is {naive.se:.2f}. With that standard error the power "
        f"would be {wald_power:.0%}, which is only the Wald P = {naive.p:.3f} restated. "
        "The events needed for a future study are best read at a plausible effect such as "
        "HR 0.5.")


def robustness_results(
    df: pd.DataFrame,
    *,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    n_permutations: int = N_PERMUTATIONS,
    n_resamples: int = N_RESAMPLES,
    seed: int | None = None,
) -> dict[str, Any]:
    """The ``robustness`` section of results.json: every analysis of notebook 05.

    Runs, with the module's stated choices (``N_PERMUTATIONS``, ``N_RESAMPLES``,
    ``BOOTSTRAP_MONTHS``, ``LANDMARK_MONTHS`` and ``LANDMARK_ALTERNATIVES``,
    ``TRUNCATION_ALTERNATIVE``, ``RMST_TAUS``; ``seed`` default
    :data:`nethep.permutation.DEFAULT_SEED`): the Monte Carlo permutation log-rank
    test (surgical vs non-surgical, and the 3 groups), the exact log-rank P, the
    bootstrap CI of the survival difference, the adjusted Cox model, IPTW (no trimming,
    and truncated), the E-value of the adjusted HR, landmarks, the time-varying Cox
    model, RMST, power, and the closing summary. Every number comes from the result
    objects' ``to_results()``, so a notebook that calls the same functions with the
    same choices shows the same numbers. Keys (none contains '.'):
    ``permutation_logrank.{surgical_vs_nonsurgical,three_groups}``,
    ``exact_logrank.surgical_vs_nonsurgical``, ``bootstrap.survival_<months>_diff``,
    ``cox_adjusted``, ``iptw``, ``iptw_truncated``, ``evalue`` (with ``hr_from``),
    ``landmark.<months>``, ``time_varying``, ``rmst.<tau>``, ``power``,
    ``propensity``, ``summary`` (the table's rows) and ``choices``. Values are plain
    JSON-safe Python (:func:`nethep.results.to_jsonable`: NaN becomes None).
    """
    from nethep.bootstrap import bootstrap_survival_difference
    from nethep.permutation import DEFAULT_SEED, exact_logrank, permutation_logrank
    from nethep.results import to_jsonable
    from nethep.survival import cox_surgical

    seed = DEFAULT_SEED if seed is None else seed
    t, e = df["followup_months"], df["died"]
    perm_arm = permutation_logrank(t, e, df["arm"], n_permutations=n_permutations, seed=seed)
    perm_groups = permutation_logrank(t, e, df["treatment_group"],
                                      n_permutations=n_permutations, seed=seed)
    exact = exact_logrank(t, e, df["arm"])
    boot = bootstrap_survival_difference(t, e, df["arm"], at=BOOTSTRAP_MONTHS,
                                         n_resamples=n_resamples, seed=seed)
    naive = cox_surgical(df)
    adjusted = cox_adjusted(df, covariates)
    weighted = iptw_cox(df, covariates)
    truncated = iptw_cox(df, covariates, truncate=TRUNCATION_ALTERNATIVE)
    s = adjusted.surgical
    ev = evalue(s["hr"], s["lower"], s["upper"], rare_outcome=not outcome_is_common(df))
    summary = robustness_summary(
        naive, adjusted, weighted, [landmark(df, m) for m in LANDMARK_MONTHS],
        time_varying_cox(df), [rmst(df, tau) for tau in RMST_TAUS],
        permutation_p=perm_arm.p, evalue_result=ev, power_result=power(df),
        iptw_truncated=truncated,
        landmark_alternatives=[landmark(df, m) for m in LANDMARK_ALTERNATIVES])
    out: dict[str, Any] = {
        "permutation_logrank": {"surgical_vs_nonsurgical": perm_arm.to_results(),
                                "three_groups": perm_groups.to_results()},
        "exact_logrank": {"surgical_vs_nonsurgical": exact.to_results()},
        "bootstrap": {f"survival_{BOOTSTRAP_MONTHS:g}_diff": boot.to_results()},
        **summary.to_results(),
        "propensity": weighted.propensity.to_results(),
        "summary": summary.rows,  # raw: results.save_fragment nulls small counts
        "choices": {
            "covariates": list(covariates),
            "n_permutations": n_permutations, "n_resamples": n_resamples, "seed": seed,
            "weight_trimming": None,
            "weight_truncation_alternative": list(TRUNCATION_ALTERNATIVE),
            "landmark_months": list(LANDMARK_MONTHS),
            "landmark_alternative_months": list(LANDMARK_ALTERNATIVES),
            "rmst_tau_months": list(RMST_TAUS),
            "evalue_hr": "cox_adjusted.surgical",
        },
    }
    out["evalue"] = {**out["evalue"], "hr_from": "cox_adjusted"}
    return to_jsonable(out)
