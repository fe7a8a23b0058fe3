"""Survival analysis of the cohort: Kaplan-Meier by group, follow-up, log-rank and Cox.

The analysis stage of notebook 03. The estimators are the engines':
:mod:`nethep.km` (Kaplan-Meier: Greenwood SE, log-log 95% intervals, R's
``quantile.survfit`` medians), :mod:`nethep.logrank` (R's ``survdiff``) and
:mod:`nethep.cox` (Efron Cox, ``cox.zph``); their methods and defaults are stated
there. Every estimate is checked against R (survival 3.5-3, R 4.2.2) to a relative
1e-6 by ``tests/test_reference_survival.py``, on survival::lung, survival::veteran,
survival::ovarian, the bundled cohort and hand-built edge cases; the reference values
come from ``tests/reference/make_reference.R`` (``make reference``).

- Groups in the study's order (:data:`nethep.contract.GROUPS`, then
  :data:`nethep.contract.ARMS`), then any other level alphabetically.
- Survival at fixed times per treatment group, for the non-surgical pool and for all
  patients (:func:`survival_at`); median survival with its CI (:func:`median_survival`).
- Follow-up: the simple median of observed times and the reverse Kaplan-Meier median
  with quartiles (censoring as the event; Schemper and Smith 1996), by the same
  quantile rule (:func:`followup`).
- Log-rank: the k-group statistic of R's ``survdiff`` (rho = 0), equal to lifelines'
  ``multivariate_logrank_test``; df = groups with expected deaths, minus 1; pairwise
  comparisons Holm-adjusted (statsmodels ``multipletests``).
- Cox: surgical vs non-surgical, Efron ties, Newton-Raphson to full convergence, Wald
  CI and P, as R's ``coxph`` (:func:`nethep.cox.coxph`, vectorized; lifelines'
  ``CoxPHFitter`` stops up to 8e-5 (relative) short on a P value with its default
  rule and takes ~50 s on a million patients). Proportional hazards: the score test of
  R's ``cox.zph(fit, transform = "km")`` as survival >= 3.0 computes it. It replaces
  lifelines' ``proportional_hazard_test``, which implements the pre-3.0 approximation
  with a right-continuous KM transform and matches neither R version.
- :class:`SurvivalSection` holds the objects notebook 03 shows and builds the
  ``survival`` section of results.json from them; :meth:`SurvivalSection.findings`
  writes the notebook's closing sentence.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from nethep import privacy
from nethep.contract import ARMS, GROUPS
from nethep.cox import HazardRatio, cox_zph, coxph
from nethep.estimable import REASON, comparison_reason, deaths_reason, with_reason, words
from nethep.firth import NO_INFORMATION
from nethep.formats import finite_or_none, p_text
from nethep.km import ConfType, KaplanMeier, kaplan_meier
from nethep.logrank import survdiff

#: Times (months) of the survival estimates notebook 03 reports: 1, 3 and 5 years.
SURVIVAL_MONTHS: tuple[float, ...] = (12, 36, 60)
#: Fewer deaths than this in either arm make the proportional-hazards test uninformative.
PH_MIN_DEATHS_PER_ARM = 5
#: Why a Cox hazard ratio is not estimable although both arms have deaths.
MONOTONE = ("monotone likelihood: the partial likelihood has no finite maximum (the deaths "
            "and survivors of the arms are separated in time), so the hazard ratio is 0 or "
            "infinite")
#: The curves results.json always holds at each time (null and a reason when absent).
CURVES: tuple[str, ...] = (*GROUPS, "nonsurgical")


def groups_present(df: pd.DataFrame, by: str) -> list[str]:
    """Levels of ``by`` in the study's order, then any others alphabetically."""
    order = GROUPS if by == "treatment_group" else ARMS
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

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """The rows, with numbers at risk from 1 to min_cell - 1 shown as ``<N``; a
        ``note`` column says why an estimate or limit is missing, when one is."""
        out = self.rows.copy()
        notes = [at_reason(r.surv, r.lower, r.upper, r.time) for r in out.itertuples()]
        if any(notes):
            out["note"] = notes
        return privacy.suppress_table(out, ["n_risk"], min_cell)

    def get(self, group: str, time: float) -> pd.Series:
        hit = self.rows[(self.rows["group"] == group) & (self.rows["time"] == time)]
        return hit.iloc[0]

    def words(self, group: str, time: float, ci: str = "95% CI ") -> str:
        """``"83% (95% CI 61% to 93%)"``; the estimate alone when the interval is not
        defined; "not estimable (<reason>)" when the group is absent or its follow-up
        ends before ``time``."""
        hit = self.rows[(self.rows["group"] == group) & (self.rows["time"] == time)]
        if hit.empty:
            return words("no patients in this arm")
        r = hit.iloc[0]
        reason = at_reason(r.surv, r.lower, r.upper, time)
        if finite_or_none(r.surv) is None:
            return words(reason)
        if reason:
            return f"{r.surv:.0%} (no interval: {reason})"
        return f"{r.surv:.0%} ({ci}{r.lower:.0%} to {r.upper:.0%})"

    def to_results(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``at_months.<t>.<group>.{estimate,lower,upper}`` for every curve of
        :data:`CURVES` (and any other group but "all"); a value that is not estimable is
        None, with ``reason`` beside it (e.g. no patients in the group, follow-up ending
        before t)."""
        rows = self.rows[self.rows["group"] != "all"]
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for t in sorted(set(self.rows["time"])):
            sub = rows[rows["time"] == t]
            curves = {r.group: with_reason({"estimate": finite_or_none(r.surv),
                                            "lower": finite_or_none(r.lower),
                                            "upper": finite_or_none(r.upper)},
                                           at_reason(r.surv, r.lower, r.upper, t))
                      for r in sub.itertuples()}
            for group in CURVES:
                curves.setdefault(group, {"estimate": None, "lower": None, "upper": None,
                                          REASON: "no patients in this group"})
            out[f"{t:g}"] = curves
        return out


def at_reason(surv: float, lower: float, upper: float, t: float) -> str:
    """Why S(t) or its log-log interval is missing ("" when all three are finite)."""
    if finite_or_none(surv) is None:
        return f"follow-up ends before {t:g} months"
    if finite_or_none(lower) is not None and finite_or_none(upper) is not None:
        return ""
    if surv >= 1:
        return f"no death by {t:g} months: the log-log interval is not defined at survival 1"
    return f"survival is 0 by {t:g} months: the log-log interval is not defined at 0"


def survival_at(
    df: pd.DataFrame,
    times: Sequence[float] = SURVIVAL_MONTHS,
    conf_type: ConfType = "log-log",
) -> SurvivalAtTimes:
    """S(t) with CI at ``times`` for each treatment group, the non-surgical pool and all."""
    fits = fit_by(df, "treatment_group", conf_type)
    nonsurgical = df[df["arm"] == "nonsurgical"]
    if len(nonsurgical):
        fits["nonsurgical"] = kaplan_meier(nonsurgical["followup_months"], nonsurgical["died"],
                                           conf_type=conf_type)
    fits["all"] = kaplan_meier(df["followup_months"], df["died"], conf_type=conf_type)
    order = [g for g in (*GROUPS, "nonsurgical", "all") if g in fits]
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
        values = {"median_months": finite_or_none(self.simple_median),
                  "reverse_km_median_months": finite_or_none(self.reverse_km_median),
                  "reverse_km_q1_months": finite_or_none(self.reverse_km_q1),
                  "reverse_km_q3_months": finite_or_none(self.reverse_km_q3),
                  "min_months": finite_or_none(self.min), "max_months": finite_or_none(self.max)}
        return with_reason(values, "" if None not in values.values() else
                           "the reverse Kaplan-Meier curve (censoring as the event) does not "
                           "fall to that quantile: too few patients alive at last contact")

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

    @staticmethod
    def reason(median: float, lower: float, upper: float) -> str:
        """Why the median or a limit is missing ("" when all three are finite)."""
        if finite_or_none(median) is None:
            return "not reached: survival stays above 50%"
        if finite_or_none(lower) is None or finite_or_none(upper) is None:
            return "a confidence limit is not reached (the interval's curve stays above 50%)"
        return ""

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """The rows, with n and events from 1 to min_cell - 1 shown as ``<N``; a ``note``
        column says why a median or limit is missing, when one is."""
        out = self.rows.copy()
        notes = [self.reason(r.median, r.lower, r.upper) for r in out.itertuples()]
        if any(notes):
            out["note"] = notes
        return privacy.suppress_table(out, ["n", "events"], min_cell)


def median_survival(df: pd.DataFrame, by: str = "treatment_group") -> MedianSurvival:
    """Median survival and 95% CI (log-log curve, R ``quantile.survfit``) per group."""
    rows = []
    for g, fit in fit_by(df, by).items():
        m, lo, hi = fit.median()
        rows.append({"group": g, "n": fit.n, "events": fit.events, "median": m,
                     "lower": lo, "upper": hi})
    return MedianSurvival(pd.DataFrame(rows))


#: How the closing sentences name a comparison of k groups.
_GROUP_COUNT_WORDS = MappingProxyType({2: "Two", 3: "Three", 4: "Four", 5: "Five"})


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
    reason: str = ""  # why there is no test ("" when there is one)

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Observed (a count: suppressed below min_cell) and expected deaths per group;
        a ``note`` column gives the reason when there is no test."""
        out = pd.DataFrame({"group": self.groups, "observed": self.observed,
                            "expected": self.expected})
        if self.reason:
            out["note"] = f"test {words(self.reason)}"
        return privacy.suppress_table(out, ["observed"], min_cell)

    @property
    def label(self) -> str:
        """"Surgical vs non-surgical" for the two arms, else "Three groups" etc."""
        if set(self.groups) == set(ARMS) or self.by == "arm":
            return "Surgical vs non-surgical"
        k = len(self.groups)
        return f"{_GROUP_COUNT_WORDS.get(k, k)} groups" if k > 1 else "Treatment groups"

    def sentence(self) -> str:
        """The test in one line: chi-square (3 decimals), df and P (journal style), or
        "log-rank test not estimable (<reason>)"."""
        if self.reason or finite_or_none(self.statistic) is None:
            return f"{self.label}: log-rank test {words(self.reason)}"
        return f"{self.label}: chi-square {self.statistic:.3f} on {self.df} df, {p_text(self.p)}"

    def to_results(self) -> dict[str, Any]:
        """``{statistic, p, df}`` (NaN as None, with ``reason``)."""
        return with_reason({"statistic": finite_or_none(self.statistic),
                            "p": finite_or_none(self.p), "df": self.df},
                           self.reason or ("" if finite_or_none(self.p) is not None
                                           else "no test"))


def logrank(df: pd.DataFrame, by: str = "arm") -> LogRank:
    """Log-rank (Mantel-Haenszel) test of equal survival across levels of ``by``.

    The statistic of lifelines ``multivariate_logrank_test`` and R's ``survdiff``
    (rho = 0), computed vectorized by :func:`nethep.logrank.survdiff` (sorted
    times and bincounts; equal to lifelines to ~1e-15 on the bundled cohort and
    feasible on a million patients); df = groups with expected deaths > 0, minus 1,
    as R's ``survdiff`` (a group censored before the first death carries no
    information; lifelines would count it). With fewer than two groups or no death there
    is no test: NaN statistic and P, and ``reason`` says why.
    """
    groups = groups_present(df, by)
    reason = _logrank_reason(df, by)
    if reason:
        observed = tuple(int(df.loc[df[by] == g, "died"].sum()) for g in groups)
        return LogRank(by, tuple(groups), np.nan, 0, np.nan, observed,
                       tuple(np.nan for _ in groups), reason)
    res = survdiff(df["followup_months"].to_numpy(float), df["died"].to_numpy(int),
                   df[by], levels=groups)
    return LogRank(by, tuple(groups), res.chisq, res.df, res.p,
                   tuple(int(o) for o in res.observed), tuple(float(x) for x in res.expected),
                   "" if finite_or_none(res.p) is not None
                   else "no group has expected deaths apart from one")


def _logrank_reason(df: pd.DataFrame, by: str) -> str:
    """Why ``by``'s levels cannot be compared by log-rank ("" when they can)."""
    if len(groups_present(df, by)) < 2:
        return comparison_reason(df) if by == "arm" else (
            f"only one {by.replace('_', ' ')} is present")
    return deaths_reason(df)


@dataclass(frozen=True)
class PairwiseLogRank:
    """Pairwise log-rank tests with Holm-adjusted P values."""

    rows: pd.DataFrame  # group_a, group_b, statistic, p, p_holm

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """The rows (no counts, so ``min_cell`` changes nothing)."""
        return self.rows.copy()

    def to_results(self) -> dict[str, dict[str, float | None]]:
        """``<a>_vs_<b>.{p, p_holm}`` per pair."""
        return {f"{r.group_a}_vs_{r.group_b}": with_reason(
                    {"p": finite_or_none(r.p), "p_holm": finite_or_none(r.p_holm)},
                    "" if finite_or_none(r.p) is not None else r.reason)
                for r in self.rows.itertuples()}


def pairwise_logrank(df: pd.DataFrame, by: str = "treatment_group") -> PairwiseLogRank:
    """Log-rank for every pair of levels of ``by``; Holm (1979) step-down adjustment."""
    groups = groups_present(df, by)
    rows = []
    for i, a in enumerate(groups):
        for b in groups[i + 1:]:
            res = logrank(df[df[by].isin([a, b])], by)
            rows.append({"group_a": a, "group_b": b, "statistic": res.statistic, "p": res.p,
                         "reason": res.reason})
    out = pd.DataFrame(rows, columns=["group_a", "group_b", "statistic", "p", "reason"])
    out["p_holm"] = np.nan
    tested = out["p"].notna()
    if tested.any():
        out.loc[tested, "p_holm"] = multipletests(out.loc[tested, "p"], method="holm")[1]
    return PairwiseLogRank(out[["group_a", "group_b", "statistic", "p", "p_holm", "reason"]])


@dataclass(frozen=True)
class CoxResult:
    """Unadjusted Cox proportional-hazards fit of one binary covariate."""

    covariate: str
    coef: float
    se: float
    hazard_ratio: HazardRatio  # HR, Wald 95% CI and P
    ph_statistic: float
    ph_p: float
    n: int
    events: int
    deaths_by_arm: tuple[int, ...] = ()  # in ARMS order (surgical, nonsurgical)
    ph_min_deaths: int = PH_MIN_DEATHS_PER_ARM

    @property
    def reason(self) -> str:
        """Why the hazard ratio is not estimable ("" when it is)."""
        hr = self.hazard_ratio
        return "" if hr.estimable else (hr.note or "no finite estimate")

    @property
    def ph_test_informative(self) -> bool:
        """False when an arm has fewer than ``ph_min_deaths`` deaths (default 5): the
        score test of a time-varying effect then has almost no power, so a large P says
        nothing about proportional hazards."""
        return bool(self.deaths_by_arm) and min(self.deaths_by_arm) >= self.ph_min_deaths

    def ph_text(self) -> str:
        """The PH test for a sentence: "proportional-hazards test P = .40", marked
        uninformative when an arm has too few deaths."""
        if finite_or_none(self.ph_p) is None:
            return f"proportional-hazards test {words(self.reason)}"
        text = f"proportional-hazards test {p_text(self.ph_p)}"
        if not self.ph_test_informative:
            text += (f", uninformative with fewer than {self.ph_min_deaths} deaths in an "
                     "arm")
        return text

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row: coefficient, SE, HR with CI and P, the PH test (with
        ``ph_test_informative``), n and events (counts from 1 to min_cell - 1 read
        ``<N``)."""
        hr = self.hazard_ratio
        return pd.DataFrame([{
            "covariate": self.covariate, "coef": self.coef, "se": self.se, "hr": hr.hr,
            "lower": hr.lower, "upper": hr.upper, "p": hr.p,
            "ph_test_statistic": self.ph_statistic, "ph_test_p": self.ph_p,
            "ph_test_informative": self.ph_test_informative,
            "n": self.n, "events": self.events,
            **({"note": words(self.reason)} if self.reason else {}),
        }]).pipe(privacy.suppress_table, ["n", "events"], min_cell)

    def to_results(self) -> dict[str, float | bool | None]:
        """``{hr, lower, upper, p, ph_p, ph_test_informative}`` (NaN or infinite as
        None)."""
        return with_reason({**self.hazard_ratio.to_results(p=True),
                            "ph_p": finite_or_none(self.ph_p),
                            "ph_test_informative": self.ph_test_informative},
                           self.reason or ("" if finite_or_none(self.ph_p) is not None
                                           else "the proportional-hazards test is not "
                                                "defined on this cohort"))


def cox_surgical(df: pd.DataFrame) -> CoxResult:
    """Cox HR of surgical vs non-surgical (Efron ties, Wald 95% CI and P).

    Fitted by :func:`nethep.cox.coxph` (Newton-Raphson to full convergence,
    vectorized over distinct times, so one path serves 48 patients and a million);
    proportional hazards by :func:`nethep.cox.cox_zph`, R's ``cox.zph(fit,
    transform = "km")`` score test as survival >= 3.0 computes it. Both agree with
    R's ``coxph(ties = "efron")`` and ``cox.zph`` to ~1e-9 (tests/reference). The PH
    test is marked uninformative (``ph_test_informative`` False) when an arm has fewer
    than :data:`PH_MIN_DEATHS_PER_ARM` (5) deaths. With one arm, no death, or no death in
    an arm the hazard ratio has no finite estimate: NaN numbers and the reason
    (:func:`nethep.estimable.comparison_reason`), never 0 or an infinite limit.
    """
    t = df["followup_months"].astype(float).to_numpy()
    e = df["died"].astype(int).to_numpy()
    x = df["surgical"].astype(float).to_numpy()
    deaths = (int(e[x == 1].sum()), int(e[x == 0].sum()))
    reason = comparison_reason(df, deaths_in_each_arm=True)
    if not reason:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fit = coxph(t, e, x, names=["surgical"])
        except np.linalg.LinAlgError:  # singular information: no risk set mixes the arms
            reason = NO_INFORMATION
        else:
            if any("may be infinite" in str(w.message) for w in caught) or \
                    not fit.hazard_ratio("surgical").estimable:
                reason = MONOTONE
    if reason:
        return CoxResult(covariate="surgical", coef=np.nan, se=np.nan,
                         hazard_ratio=HazardRatio.not_estimable(reason, "Cox, Efron ties"),
                         ph_statistic=np.nan, ph_p=np.nan, n=len(t), events=int(e.sum()),
                         deaths_by_arm=deaths)
    zph = cox_zph(t, e, x, fit.coef, names=["surgical"])
    return CoxResult(
        covariate="surgical", coef=float(fit.coef[0]), se=float(fit.se[0]),
        hazard_ratio=fit.hazard_ratio("surgical"), ph_statistic=float(zph.chisq[0]),
        ph_p=float(zph.p[0]), n=fit.n, events=fit.events, deaths_by_arm=deaths,
    )


@dataclass(frozen=True)
class SurvivalSection:
    """What notebook 03 shows and saves: survival at fixed times, medians, log-rank tests
    (``logranks`` by results key, e.g. ``surgical_vs_nonsurgical``), pairwise tests and
    the Cox model."""

    at: SurvivalAtTimes
    medians: tuple[MedianSurvival, ...]
    logranks: Mapping[str, LogRank]
    pairs: PairwiseLogRank
    cox: CoxResult

    def to_results(self) -> dict[str, Any]:
        """The ``survival`` section of results.json.

        ``at_months.<t>.<group>.{estimate,lower,upper}``, ``median.<group>`` (the first
        table that has the group), ``logrank.<name>.{statistic,p,df}`` plus
        ``logrank.pairwise.<a>_vs_<b>.{p,p_holm}``, and
        ``cox.surgical_vs_nonsurgical.{hr,lower,upper,p,ph_p,ph_test_informative}``.
        NaN (not estimable)
        is None.
        """
        median: dict[str, dict[str, Any]] = {}
        for result in self.medians:
            for r in result.rows.itertuples():
                median.setdefault(r.group, with_reason(
                    {"estimate": finite_or_none(r.median), "lower": finite_or_none(r.lower),
                     "upper": finite_or_none(r.upper)},
                    MedianSurvival.reason(r.median, r.lower, r.upper)))
        logrank_section: dict[str, Any] = {
            name: lr.to_results() for name, lr in self.logranks.items()}
        logrank_section["pairwise"] = self.pairs.to_results()
        return {
            "at_months": self.at.to_results(),
            "median": median,
            "logrank": logrank_section,
            "cox": {"surgical_vs_nonsurgical": self.cox.to_results()},
        }

    def findings(self, n_match: int, n_compared: int) -> str:
        """The closing paragraph of notebook 03: 3-year survival per arm with CIs, the
        log-rank P values, the hazard ratio and how many of the abstract's
        ``n_compared`` numbers match (``n_match``; from
        :class:`nethep.published.PaperComparison`). Percentages round to whole numbers."""
        arms, groups = self.logranks["surgical_vs_nonsurgical"], self.logranks["three_groups"]
        hr = self.cox.hazard_ratio
        if hr.estimable:
            cox = (f"The unadjusted hazard ratio of death for surgery was {hr.hr:.2f} (95% CI "
                   f"{hr.lower:.2f} to {hr.upper:.2f}; {self.cox.ph_text()}).")
        else:
            cox = f"The unadjusted hazard ratio of death for surgery is {words(self.cox.reason)}."
        return (
            f"Three-year overall survival was {self.at.words('surgical', 36)} after surgical "
            f"treatment and {self.at.words('nonsurgical', 36, '')} after medical treatment or "
            f"embolization ({_logrank_words(arms)}; published 83%, 31%, P = .01). Across the "
            f"three groups, {_logrank_words(groups)}. {cox} {n_match} of "
            f"{n_compared} abstract numbers match at the paper's rounding.")


def _logrank_words(test: LogRank) -> str:
    """"log-rank P = .01" or "log-rank test not estimable (<reason>)"."""
    if test.reason or finite_or_none(test.p) is None:
        return f"log-rank test {words(test.reason)}"
    return f"log-rank {p_text(test.p)}"


def survival_section(df: pd.DataFrame, times: Sequence[float] = SURVIVAL_MONTHS
                     ) -> SurvivalSection:
    """Every analysis of notebook 03 on ``df``: survival at ``times`` (default 12, 36 and
    60 months), medians by treatment group and by arm, log-rank by arm and across the
    treatment groups, pairwise log-rank, and the Cox model of surgical."""
    return SurvivalSection(
        at=survival_at(df, times),
        medians=(median_survival(df, "treatment_group"), median_survival(df, "arm")),
        logranks={"surgical_vs_nonsurgical": logrank(df, "arm"),
                  "three_groups": logrank(df, "treatment_group")},
        pairs=pairwise_logrank(df, "treatment_group"),
        cox=cox_surgical(df),
    )
