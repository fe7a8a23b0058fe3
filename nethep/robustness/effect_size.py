"""The size of the effect and of the study: restricted mean survival time and power.

- :func:`rmst` (one horizon) and :func:`restricted_means`: months of life gained
  within a horizon, per arm and as a difference, with R survival's standard error
  (:func:`nethep.km.restricted_mean_survival`) and a stratified bootstrap percentile
  CI. The main horizon is the shorter arm's last follow-up (:func:`default_tau`,
  survRM2's rule); the horizons of :data:`RMST_TAUS` are shown beside it, and one
  beyond an arm's last follow-up is flagged ``extended`` and kept apart.
- :func:`power`: a design table, Schoenfeld's power of the log-rank test at this
  study's deaths and allocation for hazard ratios fixed in advance (:data:`DESIGN_HRS`)
  and the deaths and patients each needs. No power at the observed hazard ratio
  (post-hoc power restates the P value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nethep import privacy
from nethep.bootstrap import _resample_weights
from nethep.contract import ARMS
from nethep.estimable import comparison_reason, with_reason, words
from nethep.formats import finite_or_none, format_p, join_and, p_text
from nethep.km import restricted_mean_survival
from nethep.permutation import DEFAULT_SEED

#: Other restricted mean survival horizons shown beside the main one (months).
RMST_TAUS: tuple[float, ...] = (36.0, 60.0)
#: Stratified bootstrap resamples of the RMST difference.
N_RMST_RESAMPLES = 10_000
#: Design hazard ratios of the power table.
DESIGN_HRS: tuple[float, ...] = (0.3, 0.5, 0.7)
_Z = float(stats.norm.ppf(0.975))


# --------------------------------------------------------------------------------- RMST


def default_tau(df: pd.DataFrame) -> float:
    """The default RMST horizon: the shorter arm's last follow-up, min over arms of the
    largest observed time (death or censoring), survRM2's rule (Tian et al. 2014)."""
    return float(min(df.loc[df["arm"] == arm, "followup_months"].max() for arm in ARMS))


def _batched_rmst(time: np.ndarray, event: np.ndarray, weights: np.ndarray,
                  tau: float) -> np.ndarray:
    """Area under the Kaplan-Meier curve from 0 to ``tau`` for each row of case weights
    (R, n) at once: the curve from weighted deaths and numbers at risk at the distinct
    times (as :func:`nethep.km.survival_at_weighted`), carried flat past a sample's
    last time (R's rule)."""
    uniq, inverse = np.unique(time, return_inverse=True)
    ev = np.zeros((len(time), len(uniq)))
    tied = np.zeros((len(time), len(uniq)))
    tied[np.arange(len(time)), inverse] = 1.0
    ev[np.arange(len(time)), inverse] = event
    deaths, leaving = weights @ ev, weights @ tied
    at_risk = weights.sum(axis=1, keepdims=True) - np.cumsum(leaving, axis=1) + leaving
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(at_risk > 0, 1.0 - deaths / at_risk, 1.0), axis=1)
    inside = uniq < tau
    edges = np.concatenate([[0.0], uniq[inside], [tau]])
    steps = np.concatenate([np.ones((len(weights), 1)), surv[:, inside]], axis=1)
    return steps @ np.diff(edges)


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
    tau_rule: str = ""
    boot_lower: float = math.nan  # stratified bootstrap, percentile
    boot_upper: float = math.nan
    n_resamples: int = 0
    seed: int | None = None
    reason: str = ""  # why the difference is not estimable ("" when it is)

    def arm(self, name: str) -> pd.Series:
        return self.rows[self.rows["arm"] == name].iloc[0]

    def words(self) -> str:
        """``"12.1 months (95% CI 5.0 to 19.2)"`` or "not estimable (<reason>)"."""
        if self.reason:
            return words(self.reason)
        return f"{self.diff:.1f} months (95% CI {self.lower:.1f} to {self.upper:.1f})"

    @property
    def extended(self) -> bool:
        """True when tau lies beyond the last follow-up time of an arm."""
        return bool(self.rows["extended"].any())

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Each arm (RMST, SE, normal 95% CI) and the difference with its P and its
        bootstrap percentile CI; counts from 1 to ``min_cell - 1`` read ``<N``."""
        diff = pd.DataFrame([{"arm": "difference (surgical - nonsurgical)", "rmst": self.diff,
                              "se": self.se_diff, "lower": self.lower, "upper": self.upper,
                              "boot_lower": self.boot_lower, "boot_upper": self.boot_upper,
                              "p": self.p, "extended": self.extended}])
        out = self.rows.assign(lower=self.rows["rmst"] - _Z * self.rows["se"],
                               upper=self.rows["rmst"] + _Z * self.rows["se"],
                               boot_lower=np.nan, boot_upper=np.nan, p=np.nan)
        if self.reason:
            diff["note"] = words(self.reason)
        both = pd.concat([out, diff], ignore_index=True).astype({"n": "Int64",
                                                                "events": "Int64"})
        return privacy.suppress_table(both.assign(tau=self.tau), ["n", "events"], min_cell)

    def to_results(self) -> dict[str, Any]:
        """``{tau, surgical, nonsurgical, diff, lower, upper, p, boot_lower, boot_upper,
        n_resamples, seed, extended}`` (NaN as None, with ``reason``)."""
        return with_reason({"tau": finite_or_none(self.tau),
                "surgical": finite_or_none(self.arm("surgical")["rmst"]),
                "nonsurgical": finite_or_none(self.arm("nonsurgical")["rmst"]),
                "diff": finite_or_none(self.diff), "lower": finite_or_none(self.lower),
                "upper": finite_or_none(self.upper), "p": finite_or_none(self.p),
                "boot_lower": finite_or_none(self.boot_lower),
                "boot_upper": finite_or_none(self.boot_upper),
                "n_resamples": self.n_resamples, "seed": self.seed,
                "extended": self.extended}, self.reason)


def rmst(df: pd.DataFrame, tau: float | None = None, n_resamples: int = N_RMST_RESAMPLES,
         seed: int | None = DEFAULT_SEED) -> RMSTResult:
    """Restricted mean survival time to ``tau`` months per arm, and the difference.

    - tau: default :func:`default_tau`, the shorter arm's last follow-up (survRM2's
      rule, stated in ``tau_rule``); a tau beyond an arm's last follow-up is flagged
      ``extended``: that arm's curve is carried forward flat (R's rule), assuming no
      deaths after its last follow-up.
    - RMST: area under the Kaplan-Meier curve from 0 to tau, and its SE by R
      survival's rule (``print(survfit(...), rmean = tau)``, ``se(rmean)``):
      :func:`nethep.km.restricted_mean_survival`. lifelines' ``return_variance=True``
      gives instead the variance of min(T, tau), a property of the population, not
      the SE of the estimate, so it is not used. Verified against R to 1e-6
      (``tests/reference/make_rmst_reference.R``).
    - Difference surgical minus non-surgical with a normal-approximation 95% CI from
      the two independent SEs, and its two-sided P; beside it a 95% percentile CI from
      ``n_resamples`` (default 10,000) stratified bootstrap resamples of patients
      (within each arm, arm sizes fixed, surgical arm drawn first from
      ``numpy.random.default_rng(seed)``; all resamples at once from weight matrices).
    """
    reason = comparison_reason(df) if df["arm"].nunique() < 2 else ""
    if reason:
        return _rmst_not_estimable(df, math.nan if tau is None else float(tau), reason,
                                   n_resamples, seed)
    tau = default_tau(df) if tau is None else float(tau)
    rule = (f"tau = {tau:g} months, the shorter arm's last follow-up (the smaller of the "
            "two arms' largest observed times; survRM2's rule)"
            if tau == default_tau(df) else
            f"tau = {tau:g} months, chosen by the analyst (the shorter arm's last "
            f"follow-up is {default_tau(df):g} months)")
    if tau <= 0:
        raise ValueError(f"tau must be positive, not {tau}")
    rows, notes, boot = [], [], []
    rng = np.random.default_rng(seed)
    for arm in ARMS:
        sub = df[df["arm"] == arm]
        if sub.empty:
            raise ValueError(f"no {arm} patients: both arms are needed for RMST")
        t = sub["followup_months"].to_numpy(dtype=float)
        e = sub["died"].to_numpy(dtype=float)
        area, se = restricted_mean_survival(t, e, tau)
        last = float(t.max())
        extended = tau > last
        if extended:
            notes.append(f"tau = {tau:g} months exceeds the last follow-up in the {arm} arm "
                         f"({last:g} months): its curve is carried forward flat from "
                         f"{last:g} to {tau:g} months (R's rule), assuming no further deaths")
        rows.append({"arm": arm, "n": len(sub), "events": int(e.sum()), "rmst": area,
                     "se": se, "last_followup": last, "extended": extended})
        if n_resamples:
            boot.append(_batched_rmst(t, e, _resample_weights(len(t), n_resamples, rng), tau))
    frame = pd.DataFrame(rows)
    diff = float(frame.loc[0, "rmst"] - frame.loc[1, "rmst"])
    se_diff = float(math.hypot(frame.loc[0, "se"], frame.loc[1, "se"]))
    p = float(2 * stats.norm.sf(abs(diff / se_diff))) if se_diff > 0 else float("nan")
    boot_lo = boot_hi = math.nan
    if n_resamples:
        boot_lo, boot_hi = (float(v) for v in np.percentile(boot[0] - boot[1], [2.5, 97.5]))
    if se_diff == 0:  # no death before tau in either arm: no variability to estimate
        return RMSTResult(tau=tau, rows=frame, diff=diff, se_diff=se_diff, lower=math.nan,
                          upper=math.nan, p=math.nan, notes=tuple(notes), tau_rule=rule,
                          n_resamples=int(n_resamples), seed=seed,
                          reason=f"no death within {tau:g} months in either arm: both "
                                 "restricted means equal the horizon and have no variance")
    return RMSTResult(tau=tau, rows=frame, diff=diff, se_diff=se_diff,
                      lower=diff - _Z * se_diff, upper=diff + _Z * se_diff, p=p,
                      notes=tuple(notes), tau_rule=rule, boot_lower=boot_lo,
                      boot_upper=boot_hi, n_resamples=int(n_resamples), seed=seed)


def _rmst_not_estimable(df: pd.DataFrame, tau: float, reason: str, n_resamples: int,
                        seed: int | None) -> RMSTResult:
    """An RMST comparison that cannot be made (an arm without patients): NaN and reason."""
    rows = pd.DataFrame([{"arm": arm, "n": int((df["arm"] == arm).sum()),
                          "events": int(df.loc[df["arm"] == arm, "died"].sum()),
                          "rmst": math.nan, "se": math.nan, "last_followup": math.nan,
                          "extended": False} for arm in ARMS])
    return RMSTResult(tau=tau, rows=rows, diff=math.nan, se_diff=math.nan, lower=math.nan,
                      upper=math.nan, p=math.nan, notes=(), tau_rule="no horizon: " + reason,
                      n_resamples=int(n_resamples), seed=seed, reason=reason)


def _tau_key(tau: float) -> str:
    """A results key for a horizon: "36", "52_5" (no '.')."""
    return f"{tau:g}".replace(".", "_")


@dataclass(frozen=True)
class RestrictedMeans:
    """RMST at the default horizon (the main result), at other horizons within every
    arm's follow-up, and at horizons beyond it (``extended``, kept apart); see
    :func:`restricted_means`."""

    main: RMSTResult
    others: tuple[RMSTResult, ...] = ()  # within follow-up, shortest first
    extended_results: tuple[RMSTResult, ...] = ()  # beyond an arm's last follow-up

    @property
    def results(self) -> tuple[RMSTResult, ...]:
        """The main result and the other horizons within follow-up (no extended one),
        shortest first: what summary tables and forest plots show."""
        return tuple(sorted((self.main, *self.others), key=lambda r: r.tau))

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Every horizon's :meth:`RMSTResult.table` (main, others, then extended ones,
        with ``role`` main / secondary / extended), without the P column (the P values
        are in :meth:`p_sentence`)."""
        parts = [(self.main, "main")] + [(r, "secondary") for r in self.others] + [
            (r, "extended") for r in self.extended_results]
        return pd.concat([r.table(min_cell).drop(columns="p").assign(role=role)
                          for r, role in parts], ignore_index=True)

    def p_sentence(self) -> str:
        """The P of each difference within follow-up."""
        if self.main.reason:
            return f"Difference in RMST: {words(self.main.reason)}."
        return "Difference in RMST: " + ", ".join(
            f"{p_text(r.p)} at {r.tau:g} months" for r in self.results) + "."

    def notes(self) -> str:
        """The horizon rule, and the horizons that lie beyond an arm's follow-up (kept
        out of the main results), one line each."""
        lines = [f"Main horizon: {self.main.tau_rule}."]
        lines += [f"{n}; shown apart, not as a main result." for r in self.extended_results
                  for n in r.notes]
        return "\n".join(lines)

    def finding(self) -> str:
        """Months of life gained within the main horizon, with the analytic and
        bootstrap 95% CIs, and at the other horizons within follow-up, as one sentence."""
        m = self.main
        if m.reason:
            return f"Size: the difference in restricted mean survival is {words(m.reason)}."
        text = (f"Size: within {m.tau:g} months (the shorter arm's last follow-up), "
                f"surgical patients lived on average {m.diff:.1f} months longer (95% CI "
                f"{m.lower:.1f} to {m.upper:.1f}; bootstrap {m.boot_lower:.1f} to "
                f"{m.boot_upper:.1f})")
        rest = [f"{r.diff:.1f} within {r.tau:g} months ({r.lower:.1f} to {r.upper:.1f})"
                if not r.reason else f"{words(r.reason)} within {r.tau:g} months"
                for r in self.others]
        if rest:
            text += "; " + join_and(rest)
        if self.extended_results:
            beyond = join_and([f"{r.tau:g}" for r in self.extended_results])
            text += (f"; horizons beyond an arm's follow-up ({beyond} months) are shown "
                     "apart")
        return text + "."

    def to_results(self) -> dict[str, Any]:
        """``robustness.rmst``: the main result's keys (:meth:`RMSTResult.to_results`
        without ``extended``) with ``tau_rule``; each other horizon within follow-up
        under ``<tau>``; each horizon beyond under ``extended.<tau>`` (with ``extended:
        true``)."""
        main = {k: v for k, v in self.main.to_results().items() if k != "extended"}
        out: dict[str, Any] = {**main, "tau_rule": self.main.tau_rule}
        out.update({_tau_key(r.tau): r.to_results() for r in self.others})
        if self.extended_results:
            out["extended"] = {_tau_key(r.tau): r.to_results()
                               for r in self.extended_results}
        return out


def restricted_means(df: pd.DataFrame, taus: Sequence[float] = RMST_TAUS,
                     n_resamples: int = N_RMST_RESAMPLES,
                     seed: int | None = DEFAULT_SEED) -> RestrictedMeans:
    """:func:`rmst` at the default horizon (:func:`default_tau`, the main result) and at
    each of ``taus`` (default 36 and 60 months): those within every arm's follow-up are
    secondary, those beyond are ``extended`` and kept apart. Same bootstrap settings
    (default 10,000 resamples, seed 20061001) at every horizon."""
    main = rmst(df, None, n_resamples, seed)
    if main.reason and not np.isfinite(main.tau):  # one arm: no horizon to compare at
        return RestrictedMeans(main=main)
    others = [rmst(df, tau, n_resamples, seed) for tau in sorted(taus) if tau != main.tau]
    return RestrictedMeans(main=main,
                           others=tuple(r for r in others if not r.extended),
                           extended_results=tuple(r for r in others if r.extended))


# -------------------------------------------------------------------------------- power


def _schoenfeld_power(events: float, p: float, hr: float, alpha: float) -> float:
    z = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.cdf(math.sqrt(events * p * (1 - p)) * abs(math.log(hr)) - z))


def _schoenfeld_events(p: float, hr: float, alpha: float, target: float) -> float:
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(target)
    return float(z**2 / (p * (1 - p) * math.log(hr) ** 2))


def _hr_key(hr: float) -> str:
    """A results key for a design hazard ratio: "hr_0_5"."""
    return "hr_" + f"{hr:g}".replace(".", "_")


@dataclass(frozen=True)
class PowerResult:
    """A design table: log-rank power at this study's deaths and allocation for hazard
    ratios fixed in advance, and the deaths and patients each needs (see :func:`power`).
    No power at the observed hazard ratio is computed."""

    alpha: float
    n: int
    events: int
    n_surgical: int
    allocation: float  # proportion surgical
    event_proportion: float
    rows: pd.DataFrame  # scenario, hr, power, events_80, events_90, n_80, n_90
    reason: str = ""  # why no power is computed ("" when it is)

    def scenario(self, name: str) -> pd.Series:
        """One design row by name, e.g. ``"HR 0.5"``."""
        return self.rows[self.rows["scenario"] == name].iloc[0]

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per design hazard ratio (power at this study's deaths, and the deaths
        and patients needed: design quantities, not counts of this cohort); a ``note``
        column gives the reason when no power is computed."""
        return self.rows.assign(note=words(self.reason)) if self.reason else self.rows.copy()

    def assumptions(self, min_cell: int = 0) -> tuple[str, ...]:
        """What the power calculation assumes; counts from 1 to ``min_cell - 1`` read
        ``<N``."""
        def mark(count: int) -> int | str:
            return privacy.mark(count, min_cell)

        return (
            "proportional hazards between surgical and non-surgical patients",
            "unadjusted two-sided log-rank test at alpha = "
            f"{format_p(self.alpha)} (Schoenfeld's approximation; the opposite tail ignored)",
            f"allocation as observed: {self.allocation:.3f} surgical "
            f"({mark(self.n_surgical)} of {mark(self.n)})",
            f"the proportion dying during follow-up as observed: {self.event_proportion:.3f} "
            f"({mark(self.events)} of {mark(self.n)}); in truth it depends on the HR, "
            "accrual and follow-up",
            "required events rounded up, then patients = ceil(events / proportion dying)",
            "the hazard ratios are design values fixed in advance, not estimates from this "
            "study; power at the observed hazard ratio is not computed (it restates the "
            "observed P value: Hoenig and Heisey 2001)",
        )

    def assumptions_text(self, min_cell: int = 0) -> str:
        """:meth:`assumptions` as a list under the heading "Assumptions:"."""
        return "Assumptions:\n- " + "\n- ".join(self.assumptions(min_cell))

    def needed_sentence(self, scenario: str = "HR 0.5", min_cell: int = 0) -> str:
        """Deaths and patients needed for 80% power in ``scenario``, beside this study's
        deaths (a small number reads ``<N``)."""
        if self.reason:
            return f"Deaths needed for 80% power: {words(self.reason)}."
        row = self.scenario(scenario)
        return (f"{row['events_80']} deaths ({row['n_80']} patients) would give 80% power to "
                f"detect {scenario}; this study had {privacy.mark(self.events, min_cell)}.")

    def design_sentence(self, min_cell: int = 0) -> str:
        """The power this study's deaths gave for each design hazard ratio, in words."""
        if self.reason:
            return f"Power of the log-rank test {words(self.reason)}."
        parts = [f"{row.power:.0%} for HR {row.hr:g}" for row in self.rows.itertuples()]
        return (f"With {privacy.mark(self.events, min_cell)} deaths and "
                f"{self.allocation:.0%} of patients treated surgically, the log-rank test "
                f"(two-sided alpha = {format_p(self.alpha)}) had power {join_and(parts)} "
                "(Schoenfeld).")

    def note(self) -> str:
        """Why no observed (post-hoc) power is given."""
        return ("No power is computed at the observed hazard ratio: such post-hoc power is "
                "a function of the observed P value and adds nothing to it (Hoenig and "
                "Heisey 2001). The table gives the power for hazard ratios fixed in "
                "advance and the deaths a study would need for 80% and 90% power.")

    def to_results(self) -> dict[str, Any]:
        """``robustness.power``: ``{alpha, allocation, events, design: {hr_<x>: {hr,
        power, events_80, n_80, events_90, n_90}}}``."""
        return {"alpha": self.alpha, "allocation": finite_or_none(self.allocation),
                "events": self.events,
                "design": {_hr_key(row["hr"]): with_reason({k: to_number(row[k]) for k in (
                    "hr", "power", "events_80", "n_80", "events_90", "n_90")}, self.reason)
                    for _, row in self.rows.iterrows()}}


def to_number(value: Any) -> float | int | None:
    """A table cell as an int (whole counts), float, or None (NaN)."""
    if isinstance(value, int | np.integer):
        return int(value)
    return finite_or_none(value)


def power(df: pd.DataFrame, hrs: Sequence[float] = DESIGN_HRS,
          alpha: float = 0.05) -> PowerResult:
    """A design table by Schoenfeld's formula (Biometrika 1983;68:316), no observed power.

    - For each design hazard ratio in ``hrs`` (default 0.3, 0.5 and 0.7): power of the
      two-sided log-rank test at ``alpha`` (default .05) with this study's D deaths and
      allocation p = proportion surgical, Phi(sqrt(D p (1 - p)) |log HR| - z_{1-alpha/2})
      (the negligible opposite tail ignored).
    - Required events D = (z_{1-alpha/2} + z_power)^2 / (p (1 - p) (log HR)^2) for
      80% and 90% power, rounded up; patients needed = ceil(D / observed proportion
      dying), same allocation.
    - Assumptions (:meth:`PowerResult.assumptions`): proportional hazards; the
      comparison is the unadjusted log-rank; allocation and the proportion dying
      during follow-up stay as observed (in truth the latter depends on the HR and on
      accrual and follow-up time). Power at the observed hazard ratio is not computed:
      it is a function of the observed P value (Hoenig and Heisey, Am Stat 2001;55:19).
    """
    n = len(df)
    events = int(df["died"].sum())
    p = float(df["surgical"].mean())
    if any(not 0 < h < 1 and not h > 1 for h in hrs):
        raise ValueError(f"design hazard ratios must be positive and not 1, not {list(hrs)}")
    reason = comparison_reason(df)
    if reason:  # the formula needs both arms (p(1 - p) > 0) and a proportion dying
        nan = math.nan
        return PowerResult(alpha=alpha, n=n, events=events,
                           n_surgical=int(df["surgical"].sum()), allocation=p,
                           event_proportion=events / n, reason=reason, rows=pd.DataFrame(
                               [{"scenario": f"HR {h:g}", "hr": float(h), "power": nan,
                                 "events_80": nan, "events_90": nan, "n_80": nan,
                                 "n_90": nan} for h in hrs]))
    event_prop = events / n
    rows = []
    for h in hrs:
        d80 = math.ceil(_schoenfeld_events(p, h, alpha, 0.80))
        d90 = math.ceil(_schoenfeld_events(p, h, alpha, 0.90))
        rows.append({"scenario": f"HR {h:g}", "hr": float(h),
                     "power": _schoenfeld_power(events, p, h, alpha),
                     "events_80": d80, "events_90": d90,
                     "n_80": math.ceil(d80 / event_prop), "n_90": math.ceil(d90 / event_prop)})
    return PowerResult(alpha=alpha, n=n, events=events, n_surgical=int(df["surgical"].sum()),
                       allocation=p, event_proportion=event_prop, rows=pd.DataFrame(rows))
