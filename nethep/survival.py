"""Survival analysis: Kaplan-Meier, follow-up, log-rank and Cox.

Methods and defaults (as R's survival package states them). Every estimate is
checked against R (survival 3.5-3, R 4.2.2) to a relative 1e-6 by
``tests/test_reference_survival.py``, on survival::lung, survival::veteran,
survival::ovarian, the bundled cohort and hand-built edge cases; the reference
values come from ``tests/reference/make_reference.R`` (``make reference``).

- Kaplan-Meier product-limit estimate; standard error of S(t) by Greenwood's
  formula; 95% pointwise intervals on the log(-log) scale by default
  ("exponential Greenwood", R ``conf.type = "log-log"``), with ``"log"`` (R's
  default) and ``"plain"`` available. Written here in numpy because lifelines
  offers only the log-log interval and no per-time standard errors; the same code
  serves bootstrap and registry-sized data. As in R: where S(t) = 0 the standard
  error and the log and log-log limits are NaN (R's NA); where S(t) = 1 at or
  after the first observed time the log-log limits are NaN (R's NA), while before
  the first observed time ``at`` reports S = 1, SE 0 and limits 1 (R's
  ``survfit0`` row at time 0).
- ``KaplanMeier.at(times)``: the step function at ``times`` with ``n_risk`` the
  number still under observation at t (time >= t), as ``summary(fit, times)``.
  Documented difference: for t beyond the last follow-up R's
  ``summary(extend = FALSE)`` drops the row; nethep keeps it with n_risk 0 and NaN
  (not estimable), or, once S(t) has reached 0, R's ``extend = TRUE`` row.
- Quantiles and median survival: R's ``quantile.survfit`` rule (``findq``): the
  first time S(t) <= 1 - p; where S(t) lies exactly on 1 - p (within
  sqrt(machine eps)) the midpoint between that time and the time the curve next
  drops, or, if it never drops again, the last follow-up time. The CI is read off
  the pointwise limit curves (lower limit from the lower curve; Brookmeyer-Crowley
  as implemented by R). Documented difference: ``print(fit)`` /
  ``summary(fit)$table`` use a second rule that agrees except when the curve ends
  exactly on 0.5; there it gives the time S(t) reached 0.5.
- Follow-up: the simple median of observed times and the reverse Kaplan-Meier
  median with quartiles (censoring as the event; Schemper and Smith 1996), by the
  same quantile rule.
- Log-rank: the k-group statistic of R's ``survdiff`` (rho = 0) and lifelines
  ``multivariate_logrank_test`` (equal weights), computed vectorized by
  :func:`nethep.logrank.survdiff`; df = groups - 1; observed and expected counts
  as ``survdiff``; pairwise comparisons Holm-adjusted (statsmodels
  ``multipletests``).
- Cox: Newton-Raphson on Efron's partial likelihood to full convergence, Wald CI
  and P, as R's ``coxph`` (:mod:`nethep.cox`, vectorized; lifelines'
  ``CoxPHFitter`` stops up to 8e-5 (relative) short on a P value with its default
  rule and takes ~50 s on a million patients). Proportional hazards: the score test of R's
  ``cox.zph(fit, transform = "km")`` as survival >= 3.0 computes it (the
  covariate times 1 - KM(t-), centred over the deaths, with the full information
  matrix). It replaces lifelines' ``proportional_hazard_test``, which implements
  the pre-3.0 approximation with a right-continuous KM transform and matches
  neither R version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nethep import privacy
from nethep.cox import cox_zph, coxph
from nethep.formats import finite_or_none
from nethep.km import ConfType, KaplanMeier, kaplan_meier
from nethep.logrank import survdiff

GROUP_ORDER = ("medical", "embolization", "surgical")
ARM_ORDER = ("surgical", "nonsurgical")


def groups_present(df: pd.DataFrame, by: str) -> list[str]:
    """Levels of ``by`` in the study's order, then any others alphabetically."""
    order = GROUP_ORDER if by == "treatment_group" else ARM_ORDER
    present = set(df[by].dropna())
    return [g for g in order if g in present] + sorted(present - set(order))


def fit_by(df: pd.DataFrame, by: str, conf_type: ConfType = "log-log") -> dict[str, KaplanMeier]:
    """One Kaplan-Meier fit per level of ``by`` (e.g. treatment_group, arm)."""
    return {
        g: kaplan_meier(sub["followup_months"], sub["died"], conf_type=conf_type)
        for g in groups_present(df, by)
        for sub in [df[df[by] == g]]
    }


@dataclass(frozen=True)
class SurvivalAtTimes:
    """Kaplan-Meier survival with 95% CI at fixed times, per group."""

    rows: pd.DataFrame  # group, time, n_risk, surv, std_err, lower, upper
    conf_type: ConfType

    def table(self) -> pd.DataFrame:
        """The rows, with numbers at risk from 1 to min_cell - 1 shown as ``<N``."""
        return privacy.suppress_table(self.rows, ["n_risk"])

    def get(self, group: str, time: float) -> pd.Series:
        hit = self.rows[(self.rows["group"] == group) & (self.rows["time"] == time)]
        return hit.iloc[0]


def survival_at(
    df: pd.DataFrame,
    times: Sequence[float] = (12, 36, 60),
    conf_type: ConfType = "log-log",
) -> SurvivalAtTimes:
    """S(t) with CI at ``times`` for each treatment group, the non-surgical pool and all."""
    fits = fit_by(df, "treatment_group", conf_type)
    nonsurgical = df[df["arm"] == "nonsurgical"]
    if len(nonsurgical):
        fits["nonsurgical"] = kaplan_meier(nonsurgical["followup_months"], nonsurgical["died"],
                                           conf_type=conf_type)
    fits["all"] = kaplan_meier(df["followup_months"], df["died"], conf_type=conf_type)
    order = [g for g in (*GROUP_ORDER, "nonsurgical", "all") if g in fits]
    frames = [fits[g].at(times).assign(group=g) for g in order]
    rows = pd.concat(frames, ignore_index=True)
    return SurvivalAtTimes(rows[["group", "time", "n_risk", "surv", "std_err", "lower", "upper"]],
                           conf_type)


@dataclass(frozen=True)
class FollowUp:
    """Median follow-up by two definitions (months)."""

    simple_median: float
    reverse_km_median: float
    reverse_km_q1: float
    reverse_km_q3: float
    min: float
    max: float
    n: int

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Both medians (and the reverse Kaplan-Meier quartiles) in months; no count is
        shown, so ``min_cell`` changes nothing."""
        return pd.DataFrame(
            [
                ("simple median of observed times", self.simple_median, np.nan, np.nan),
                ("reverse Kaplan-Meier median", self.reverse_km_median,
                 self.reverse_km_q1, self.reverse_km_q3),
            ],
            columns=["definition", "median_months", "q1_months", "q3_months"],
        )

    def to_results(self) -> dict[str, float | None]:
        """The ``followup`` section of ``results.json`` (NaN or infinite as None)."""
        return {"median_months": finite_or_none(self.simple_median),
                "reverse_km_median_months": finite_or_none(self.reverse_km_median),
                "reverse_km_q1_months": finite_or_none(self.reverse_km_q1),
                "reverse_km_q3_months": finite_or_none(self.reverse_km_q3),
                "min_months": finite_or_none(self.min), "max_months": finite_or_none(self.max)}

    def sentence(self, min_cell: int = 0) -> str:
        """The two follow-up medians in one generated sentence (n from 1 to min_cell - 1
        reads ``<N``; a median never reached reads "not reached")."""
        def months(x: float) -> str:
            value = finite_or_none(x)
            return "not reached" if value is None else f"{value:.1f}"

        return (f"Simple median of observed times: {months(self.simple_median)} months "
                f"(range {months(self.min)} to {months(self.max)}); reverse Kaplan-Meier "
                f"median: {months(self.reverse_km_median)} months (IQR "
                f"{months(self.reverse_km_q1)} to {months(self.reverse_km_q3)}); "
                f"n = {privacy.mark(self.n, min_cell)}.")


def followup(df: pd.DataFrame) -> FollowUp:
    """Simple median of ``followup_months`` and the reverse Kaplan-Meier median with IQR.

    The reverse Kaplan-Meier treats censoring as the event and deaths as censored
    (Schemper and Smith 1996), estimating the potential follow-up; its quartiles
    use R's ``quantile.survfit`` rule.
    """
    t = df["followup_months"].to_numpy(float)
    reverse = kaplan_meier(t, 1 - df["died"].to_numpy(int))
    return FollowUp(
        simple_median=float(np.median(t)),
        reverse_km_median=reverse.quantile(0.5)[0],
        reverse_km_q1=reverse.quantile(0.25)[0],
        reverse_km_q3=reverse.quantile(0.75)[0],
        min=float(t.min()), max=float(t.max()), n=len(t),
    )


@dataclass(frozen=True)
class MedianSurvival:
    """Median survival per group with its CI (NaN where not reached)."""

    rows: pd.DataFrame  # group, n, events, median, lower, upper

    def table(self) -> pd.DataFrame:
        """The rows, with n and events from 1 to min_cell - 1 shown as ``<N``."""
        return privacy.suppress_table(self.rows, ["n", "events"])


def median_survival(df: pd.DataFrame, by: str = "treatment_group") -> MedianSurvival:
    """Median survival and 95% CI (log-log curve, R ``quantile.survfit``) per group."""
    rows = []
    for g, fit in fit_by(df, by).items():
        m, lo, hi = fit.median()
        rows.append({"group": g, "n": fit.n, "events": fit.events, "median": m,
                     "lower": lo, "upper": hi})
    return MedianSurvival(pd.DataFrame(rows))


@dataclass(frozen=True)
class LogRank:
    """Log-rank test across the levels of ``by`` (chi-square on k-1 df)."""

    by: str
    groups: tuple[str, ...]
    statistic: float
    df: int
    p: float
    observed: tuple[int, ...]
    expected: tuple[float, ...]

    def table(self) -> pd.DataFrame:
        """Observed (a count: suppressed below min_cell) and expected deaths per group."""
        return privacy.suppress_table(
            pd.DataFrame({"group": self.groups, "observed": self.observed,
                          "expected": self.expected}), ["observed"])


def logrank(df: pd.DataFrame, by: str = "arm") -> LogRank:
    """Log-rank (Mantel-Haenszel) test of equal survival across levels of ``by``.

    The statistic of lifelines ``multivariate_logrank_test`` and R's ``survdiff``
    (rho = 0), computed vectorized by :func:`nethep.logrank.survdiff` (sorted
    times and bincounts; equal to lifelines to ~1e-15 on the bundled cohort and
    feasible on a million patients); df = groups with expected deaths > 0, minus 1,
    as R's ``survdiff`` (a group censored before the first death carries no
    information; lifelines would count it). P is NaN when no test is possible.
    """
    groups = groups_present(df, by)
    if len(groups) < 2:
        raise ValueError(f"log-rank needs at least 2 groups in '{by}', found {groups}")
    res = survdiff(df["followup_months"].to_numpy(float), df["died"].to_numpy(int),
                   df[by], levels=groups)
    return LogRank(by, tuple(groups), res.chisq, res.df, res.p,
                   tuple(int(o) for o in res.observed), tuple(float(x) for x in res.expected))


@dataclass(frozen=True)
class PairwiseLogRank:
    """Pairwise log-rank tests with Holm-adjusted P values."""

    rows: pd.DataFrame  # group_a, group_b, statistic, p, p_holm

    def table(self) -> pd.DataFrame:
        return self.rows.copy()


def pairwise_logrank(df: pd.DataFrame, by: str = "treatment_group") -> PairwiseLogRank:
    """Log-rank for every pair of levels of ``by``; Holm (1979) step-down adjustment."""
    from statsmodels.stats.multitest import multipletests

    groups = groups_present(df, by)
    rows = []
    for i, a in enumerate(groups):
        for b in groups[i + 1:]:
            res = logrank(df[df[by].isin([a, b])], by)
            rows.append({"group_a": a, "group_b": b, "statistic": res.statistic, "p": res.p})
    out = pd.DataFrame(rows)
    if len(out):
        out["p_holm"] = multipletests(out["p"], method="holm")[1]
    return PairwiseLogRank(out)


@dataclass(frozen=True)
class CoxResult:
    """Unadjusted Cox proportional-hazards fit of one binary covariate."""

    covariate: str
    coef: float
    se: float
    hr: float
    lower: float
    upper: float
    p: float
    ph_statistic: float
    ph_p: float
    n: int
    events: int

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "covariate": self.covariate, "coef": self.coef, "se": self.se, "hr": self.hr,
            "lower": self.lower, "upper": self.upper, "p": self.p,
            "ph_test_statistic": self.ph_statistic, "ph_test_p": self.ph_p,
            "n": self.n, "events": self.events,
        }]).pipe(privacy.suppress_table, ["n", "events"])


def cox_surgical(df: pd.DataFrame) -> CoxResult:
    """Cox HR of surgical vs non-surgical (Efron ties, Wald 95% CI and P).

    Fitted by :func:`nethep.cox.coxph` (Newton-Raphson to full convergence,
    vectorized over distinct times, so one path serves 48 patients and a million);
    proportional hazards by :func:`nethep.cox.cox_zph`, R's ``cox.zph(fit,
    transform = "km")`` score test as survival >= 3.0 computes it. Both agree with
    R's ``coxph(ties = "efron")`` and ``cox.zph`` to ~1e-9 (tests/reference).
    """
    t = df["followup_months"].astype(float).to_numpy()
    e = df["died"].astype(int).to_numpy()
    x = df["surgical"].astype(float).to_numpy()
    fit = coxph(t, e, x, names=["surgical"])
    zph = cox_zph(t, e, x, fit.coef, names=["surgical"])
    return CoxResult(
        covariate="surgical", coef=float(fit.coef[0]), se=float(fit.se[0]),
        hr=float(fit.hr[0]), lower=float(fit.lower[0]), upper=float(fit.upper[0]),
        p=float(fit.p[0]), ph_statistic=float(zph.chisq[0]), ph_p=float(zph.p[0]),
        n=fit.n, events=fit.events,
    )


def survival_results(
    at: SurvivalAtTimes,
    medians: Sequence[MedianSurvival],
    logranks: dict[str, LogRank],
    pairs: PairwiseLogRank,
    cox: CoxResult,
) -> dict:
    """The ``survival`` section of results.json, from the objects a notebook displays.

    ``at_months.<t>.<group>.{estimate,lower,upper}``, ``median.<group>``,
    ``logrank.<name>.{statistic,p,df}`` plus ``logrank.pairwise.<a>_vs_<b>.{p,p_holm}``,
    and ``cox.surgical_vs_nonsurgical.{hr,lower,upper,p,ph_p}``. NaN (not estimable)
    is written as null by :func:`nethep.results.save_fragment`.
    """
    rows = at.rows[at.rows["group"] != "all"]
    at_months = {
        f"{t:g}": {r.group: {"estimate": r.surv, "lower": r.lower, "upper": r.upper}
                   for r in sub.itertuples()}
        for t, sub in rows.groupby("time", sort=True)
    }
    median = {}
    for result in medians:
        for r in result.rows.itertuples():
            median.setdefault(r.group, {"estimate": r.median, "lower": r.lower,
                                        "upper": r.upper})
    logrank_section: dict = {
        name: {"statistic": lr.statistic, "p": lr.p, "df": lr.df}
        for name, lr in logranks.items()
    }
    logrank_section["pairwise"] = {
        f"{r.group_a}_vs_{r.group_b}": {"p": r.p, "p_holm": r.p_holm}
        for r in pairs.rows.itertuples()
    }
    return {
        "at_months": at_months,
        "median": median,
        "logrank": logrank_section,
        "cox": {"surgical_vs_nonsurgical": {"hr": cox.hr, "lower": cox.lower,
                                            "upper": cox.upper, "p": cox.p,
                                            "ph_p": cox.ph_p}},
    }
