"""Confounding: the Cox model adjusted for measured covariates, and the E-value.

- :func:`cox_adjusted`: Cox model of surgical adjusted for covariates (lifelines
  ``CoxPHFitter`` through :func:`nethep.cox.fit_lifelines`, Efron ties, Wald 95% CI
  and P, as R's ``coxph``), with events per variable, separation checks and a ridge
  fallback.
- :func:`evalue`: how strong an unmeasured confounder would have to be to explain a
  hazard ratio away (VanderWeele and Ding 2017); :meth:`AdjustedCox.evalue` for the
  adjusted hazard ratio of surgery.

Weighting by the propensity score is in :mod:`nethep.robustness.weighting`. Every
number that R also computes is checked against it in ``tests/test_robustness.py``
(reference values from ``tests/reference/make_robustness_reference.R``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError

from nethep import privacy
from nethep.cox import HazardRatio, cox_zph, fit_lifelines
from nethep.estimable import comparison_reason, words
from nethep.formats import finite_or_none, p_text
from nethep.robustness.design import (
    DEFAULT_COVARIATES,
    LIFELINES_COX_METHOD,
    check_both_arms,
    hr_results,
    no_death_reason,
    separation_problems,
    simulated_inputs,
    survival_frame,
)

DEFAULT_PENALIZER = 0.1
num = HazardRatio.number  # a ratio in text: 0.16, 0.037, never 0.00
EPV_THRESHOLD = 10.0
# A standardized log hazard ratio beyond this (a hazard ratio above e^10 per standard
# deviation) only arises when the partial likelihood has no finite maximum.
_STANDARDIZED_COEF_LIMIT = 10.0

# ------------------------------------------------------------------------- adjusted Cox


def _cox_rows(cph: CoxPHFitter) -> pd.DataFrame:
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


@dataclass(frozen=True)
class AdjustedCox:
    """Cox model of ``surgical`` adjusted for covariates (see :func:`cox_adjusted`)."""

    rows: pd.DataFrame  # term, coef, se, hr, lower, upper, p, ph_statistic, ph_p
    covariates: tuple[str, ...]
    n: int
    events: int
    n_parameters: int
    epv: float
    separation: tuple[str, ...]
    penalizer: float
    method: str
    simulated: tuple[str, ...] = ()  # covariates simulated in the bundled reconstruction
    ph_method: str = ("score test of x * (1 - KM(t-)) per term, R survival >= 3.0 "
                      "cox.zph(transform = 'km')")
    not_estimable: str = ""  # why the surgical hazard ratio has no estimate (e.g. no deaths)
    #: Covariates left out because they do not vary in this cohort, one sentence each.
    dropped: tuple[str, ...] = ()

    @property
    def fitted(self) -> bool:
        """False when no model could be fitted at all (one arm, no deaths...)."""
        return not self.rows.empty

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
    def surgical(self) -> HazardRatio:
        """The adjusted hazard ratio of surgery."""
        if self.not_estimable:
            return HazardRatio.not_estimable(self.not_estimable, self.method)
        s = self.term("surgical")
        return HazardRatio(hr=float(s["hr"]), lower=float(s["lower"]),
                           upper=float(s["upper"]), p=float(s["p"]), method=self.method)

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per term (no counts to suppress); one row with the reason when no model
        could be fitted."""
        if not self.fitted:
            return pd.DataFrame([{"term": "surgical", "note": words(self.not_estimable)}])
        return self.rows.copy()

    def epv_sentence(self, min_cell: int = 0) -> str:
        """Events per parameter, as a sentence (a small number of deaths reads ``<N``)."""
        return (f"Events per variable: {privacy.mark(self.events, min_cell)} deaths / "
                f"{self.n_parameters} parameters = {self.epv:.1f}.")

    def epv_warning(self, min_cell: int = 0) -> str | None:
        """A warning when events per parameter are below 10 (None otherwise)."""
        if self.epv >= EPV_THRESHOLD:
            return None
        return (f"Only {self.epv:.1f} events per parameter "
                f"({privacy.mark(self.events, min_cell)} deaths, {self.n_parameters} "
                f"parameters), below the conventional {EPV_THRESHOLD:g}: the adjusted hazard "
                "ratios may be biased away from 1 and their intervals unreliable; read them "
                "as a sensitivity check, not as a definitive estimate.")

    def fit_notes(self, min_cell: int = 0) -> str:
        """Events per parameter, separation, the fit and the proportional-hazards test,
        one line each."""
        if not self.fitted:
            return f"Adjusted Cox model {words(self.not_estimable)}."
        separation = ("; ".join(self.separation) if self.separation
                      else "none detected, so the unpenalized model is reported.")
        return "\n".join([
            *self.dropped,
            self.epv_sentence(min_cell),
            self.epv_warning(min_cell) or f"At least {EPV_THRESHOLD:g} events per parameter.",
            f"Separation: {separation}",
            f"Fit: {self.method}.",
            f"Proportional hazards: smallest per-term {p_text(self.rows['ph_p'].min())} "
            f"({self.ph_method}).",
        ])

    def evalue(self, rare_outcome: bool) -> EValue:
        """The E-value of the adjusted hazard ratio of surgery (see :func:`evalue`)."""
        s = self.surgical
        return evalue(s.hr, s.lower, s.upper, rare_outcome=rare_outcome,
                      label="the adjusted hazard ratio",
                      model=f"Cox model with {', '.join(self.covariates)}", adjusted=True)

    def to_results(self) -> dict[str, dict[str, float | None]]:
        """``robustness.cox_adjusted``: ``{"surgical": {hr, lower, upper}}`` (null with
        ``reason`` when not estimable)."""
        return {"surgical": hr_results(self.surgical)}


def cox_adjusted(
    df: pd.DataFrame,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    penalizer: float = DEFAULT_PENALIZER,
    *,
    min_cell: int = 0,
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
      Newton-Raphson fails to converge (warning or error), or when a coefficient is
      non-finite or larger than 10 per standard deviation of its covariate. Then the
      model is refitted with lifelines' ridge penalty (``penalizer``, default 0.1,
      ``l1_ratio`` 0): the penalized log partial likelihood is
      l(b) - n * penalizer / 2 * sum(b_std^2), b_std the coefficients of the
      covariates standardized to unit SD (sample SD); this is R's
      ``coxph(... ridge(z, theta = n * penalizer))`` on standardized z, and is
      verified against it. It is a ridge (shrinkage) estimate, not Firth's
      correction; its CI is Wald from the penalized information. On the bundled
      cohort no term separates, so the unpenalized fit is reported. The separation
      texts mark a count from 1 to ``min_cell - 1`` as ``<N``. With no deaths in an
      arm the surgical hazard ratio is not estimable (:attr:`AdjustedCox.surgical` says
      why): a ridge estimate there would be the penalty's, not the data's.
    - Proportional hazards per term: R >= 3.0's ``cox.zph(fit, transform = "km")``
      score test at the fitted coefficients (:func:`nethep.cox.cox_zph`, the same
      test as notebook 03; verified against R). For a penalized fit it is evaluated
      at the penalized coefficients, which R's ``cox.zph`` of a ridge model does not
      do exactly: read it as approximate then.
    """
    covariates = tuple(covariates)
    reason = comparison_reason(df)
    if reason:
        return _not_fitted(df, covariates, reason)
    kept = tuple(c for c in covariates if c not in df or df[c].nunique() > 1)
    dropped = tuple(f"Not adjusted for {c.replace('_', ' ')}: it takes one value in this "
                    "cohort, so it cannot confound the comparison here."
                    for c in covariates if c not in kept)
    data = survival_frame(df, kept)
    check_both_arms(data)
    terms = [c for c in data.columns if c not in ("T", "E")]
    if len(data) <= len(terms) + 1:
        return _not_fitted(df, covariates, f"{len(data)} patients for {len(terms)} "
                           "parameters: too few to fit the model", dropped)
    problems = separation_problems(data, terms, min_cell)
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
        try:
            cph, _ = fit_lifelines(data, penalizer=used_penalizer)
        except (ConvergenceError, np.linalg.LinAlgError) as exc:
            return _not_fitted(df, covariates, "the model could not be fitted, even "
                               f"penalized ({str(exc).splitlines()[0]})", dropped)
        method = (f"ridge-penalized Cox partial likelihood (lifelines penalizer = "
                  f"{used_penalizer:g}, l1_ratio = 0, on standardized covariates), Efron "
                  "ties, Wald CI from the penalized information; used because the "
                  "unpenalized model separates")
    else:
        method = LIFELINES_COX_METHOD
    rows = _cox_rows(cph)
    try:
        zph = cox_zph(data["T"].to_numpy(float), data["E"].to_numpy(int),
                      data[terms].to_numpy(float), cph.params_[terms].to_numpy(float),
                      names=terms)
        ph = dict(zip(zph.names, zip(zph.chisq, zph.p, strict=True), strict=True))
    except np.linalg.LinAlgError:  # singular: the PH test is not estimable, said as P
        ph = {t: (np.nan, np.nan) for t in terms}
    rows["ph_statistic"] = [float(ph[t][0]) for t in rows["term"]]
    rows["ph_p"] = [float(ph[t][1]) for t in rows["term"]]
    events = int(data["E"].sum())
    return AdjustedCox(
        rows=rows, covariates=covariates, n=len(data), events=events,
        n_parameters=len(terms), epv=events / len(terms), separation=tuple(problems),
        penalizer=used_penalizer, method=method, simulated=simulated_inputs(df, covariates),
        not_estimable=no_death_reason(data) or "", dropped=dropped,
    )


def _not_fitted(df: pd.DataFrame, covariates: tuple[str, ...], reason: str,
                dropped: tuple[str, ...] = ()) -> AdjustedCox:
    """An adjusted model that could not be fitted: no rows, and the reason."""
    rows = pd.DataFrame(columns=["term", "coef", "se", "hr", "lower", "upper", "p",
                                 "ph_statistic", "ph_p"])
    return AdjustedCox(rows=rows, covariates=covariates, n=len(df),
                       events=int(df["died"].sum()), n_parameters=1 + len(covariates),
                       epv=float("nan"), separation=(), penalizer=0.0,
                       method=LIFELINES_COX_METHOD, simulated=simulated_inputs(df, covariates),
                       not_estimable=reason, dropped=dropped)

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
    label: str = "the hazard ratio"  # which hazard ratio, for the sentences
    model: str = ""  # the model that gave it, e.g. "Cox model with age_years"
    share_died: float | None = None  # proportion who died by the end of follow-up
    adjusted: bool = False  # the hazard ratio is adjusted for measured covariates

    def conversion(self) -> str:
        """How the hazard ratios were turned into risk ratios, and why (VanderWeele and
        Ding 2017: HR ~ RR only when the outcome is rare, < 15% at the end of follow-up)."""
        died = ("" if self.share_died is None
                else f"{self.share_died:.0%} of patients died by the end of follow-up, so ")
        if self.rare_outcome:
            return (f"{died}the outcome is rare (under 15%) and the hazard ratio is taken as "
                    "the risk ratio (RR ~ HR; VanderWeele and Ding 2017).")
        return (f"{died}the outcome is common (15% or more) and each hazard ratio is "
                "converted to a risk ratio by RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) "
                "(VanderWeele and Ding 2017; VanderWeele 2020): "
                f"HR {num(self.hr)} gives RR {num(self.rr)}, the CI limit closer to 1 gives "
                f"RR {num(self.rr_limit)}; then E = RR + sqrt(RR (RR - 1)) on RR or 1/RR.")

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """The E-value of the estimate and of the confidence limit closer to 1."""
        return pd.DataFrame([
            {"quantity": "point estimate", "hr": self.hr, "rr": self.rr, "evalue": self.point},
            {"quantity": "CI limit closer to 1",
             "hr": self.upper if self.hr < 1 else self.lower, "rr": self.rr_limit,
             "evalue": self.ci_limit},
        ])

    def detail(self) -> str:
        """The numbers in one sentence: which hazard ratio, both E-values, the conversion."""
        model = f"{self.model}; " if self.model else ""
        return (f"E-value of {self.label} ({model}HR {num(self.hr)}, 95% CI "
                f"{num(self.lower)} to {num(self.upper)}): {self.point:.2f} for the estimate, "
                f"{self.ci_limit:.2f} for the confidence limit closer to 1. Conversion: "
                f"{self.conversion()}")

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
                f"{num(self.hr)}), an unmeasured factor such as fitness for operation would have "
                f"to be about {self.point:.1f} times as common among operated patients and "
                f"{change}"
                + (", over and above the factors already accounted for" if self.adjusted
                   else " (no measured factor is accounted for in this estimate)"))
        if self.ci_limit <= 1:
            return (head + "; because the confidence interval already includes no effect, "
                    "no unmeasured factor is needed to make the result compatible with none.")
        return (head + f"; a factor about {self.ci_limit:.1f} times as strong on both counts "
                "would be enough to make the result compatible with no effect.")

    def to_results(self) -> dict[str, float | str | bool | None]:
        """``robustness.evalue``: ``{point, ci_limit, hr, lower, upper, rr, rr_limit,
        rare_outcome, conversion}``."""
        return {"point": finite_or_none(self.point), "ci_limit": finite_or_none(self.ci_limit),
                "hr": finite_or_none(self.hr), "lower": finite_or_none(self.lower),
                "upper": finite_or_none(self.upper), "rr": finite_or_none(self.rr),
                "rr_limit": finite_or_none(self.rr_limit), "rare_outcome": self.rare_outcome,
                "conversion": self.conversion()}


def primary_evalue(primary: HazardRatio, df: pd.DataFrame, *,
                   label: str = "the primary hazard ratio") -> EValue | None:
    """The E-value of the stated primary estimate (e.g.
    :attr:`nethep.robustness.SmallEventInference.primary`), with the rare/common outcome
    rule of :func:`outcome_is_common` on ``df``; None when the estimate is not estimable."""
    if not primary.estimable:
        return None
    return evalue(primary.hr, primary.lower, primary.upper,
                  rare_outcome=not outcome_is_common(df), label=label, model=primary.method,
                  share_died=float(df["died"].mean()))


def evalue(hr: float, lower: float, upper: float, rare_outcome: bool = False, *,
           label: str = "the hazard ratio", model: str = "",
           share_died: float | None = None, adjusted: bool = False) -> EValue:
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

    ``label`` and ``model`` name the hazard ratio in :meth:`EValue.detail`;
    ``share_died`` (the proportion who died) goes into :meth:`EValue.conversion`.
    Notebook 05 computes it from the stated primary estimate (:func:`primary_evalue`).
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
                  ci_limit=ci_limit, label=label, model=model, share_died=share_died,
                  adjusted=adjusted)
