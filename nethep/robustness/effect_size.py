"""The size of the effect and of the study: restricted mean survival time and power.

- :func:`rmst` (one horizon) and :func:`restricted_means` (each of
  :data:`RMST_TAUS`): months of life gained within a horizon, per arm and as a
  difference, with R survival's standard error (:func:`nethep.km.restricted_mean_survival`).
- :func:`power`: Schoenfeld's power of the log-rank test and the events and patients a
  future study would need; :func:`power_note` says why power at the observed hazard
  ratio says little.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from nethep import privacy
from nethep.contract import ARMS
from nethep.formats import finite_or_none, format_p, join_and, p_text
from nethep.km import restricted_mean_survival
from nethep.survival import CoxResult, cox_surgical

#: Restricted mean survival horizons (months).
RMST_TAUS: tuple[float, ...] = (36.0, 60.0)
_Z = float(stats.norm.ppf(0.975))


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

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Each arm (RMST, SE, normal 95% CI) and the difference with its P; counts from 1
        to ``min_cell - 1`` read ``<N``."""
        diff = pd.DataFrame([{"arm": "difference (surgical - nonsurgical)", "rmst": self.diff,
                              "se": self.se_diff, "lower": self.lower, "upper": self.upper,
                              "p": self.p}])
        out = self.rows.assign(lower=self.rows["rmst"] - _Z * self.rows["se"],
                               upper=self.rows["rmst"] + _Z * self.rows["se"], p=np.nan)
        return privacy.suppress_table(
            pd.concat([out, diff], ignore_index=True).assign(tau=self.tau), ["n", "events"],
            min_cell)

    def to_results(self) -> dict[str, float | None]:
        """``robustness.rmst.<tau>``: ``{surgical, nonsurgical, diff, lower, upper}``."""
        return {"surgical": finite_or_none(self.arm("surgical")["rmst"]),
                "nonsurgical": finite_or_none(self.arm("nonsurgical")["rmst"]),
                "diff": finite_or_none(self.diff), "lower": finite_or_none(self.lower),
                "upper": finite_or_none(self.upper)}


def rmst(df: pd.DataFrame, tau: float) -> RMSTResult:
    """Restricted mean survival time to ``tau`` months per arm, and the difference.

    - RMST: area under the Kaplan-Meier curve from 0 to tau, and its SE by R
      survival's rule (``print(survfit(...), rmean = tau)``, ``se(rmean)``):
      :func:`nethep.km.restricted_mean_survival`. lifelines' ``return_variance=True``
      gives instead the variance of min(T, tau), a property of the population, not
      the SE of the estimate, so it is not used. Verified against R to 1e-6.
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
    for arm in ARMS:
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


@dataclass(frozen=True)
class RestrictedMeans:
    """RMST at several horizons, shortest first (see :func:`restricted_means`)."""

    results: tuple[RMSTResult, ...]

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Every horizon's :meth:`RMSTResult.table`, stacked, without the P column (the P
        values are in :meth:`p_sentence`)."""
        return pd.concat([r.table(min_cell).drop(columns="p") for r in self.results],
                         ignore_index=True)

    def p_sentence(self) -> str:
        """The P of each difference."""
        return "P of the difference: " + ", ".join(
            f"{format_p(r.p)} at {r.tau:g} months" for r in self.results) + "."

    def notes(self) -> str:
        """The horizons that lie beyond an arm's follow-up, one line each."""
        return ("\n".join(n for r in self.results for n in r.notes)
                or "Both horizons lie within each arm's follow-up.")

    def finding(self) -> str:
        """Months of life gained within each horizon, with 95% CI, as one sentence."""
        first, *rest = self.results
        parts = [f"{first.diff:.1f} more months within {first.tau:g} months "
                 f"({first.lower:.1f} to {first.upper:.1f})"]
        parts += [f"{r.diff:.1f} more within {r.tau:g} ({r.lower:.1f} to {r.upper:.1f})"
                  for r in rest]
        longest = self.results[-1]
        beyond = longest.rows.loc[longest.rows["extended"], "arm"].tolist()
        end = (f"; the longer horizon extends beyond the {join_and(beyond)} arm's follow-up."
               if beyond else ".")
        return f"Size: surgical patients lived on average {join_and(parts)}{end}"

    def to_results(self) -> dict[str, dict[str, float | None]]:
        """``robustness.rmst``: ``{<tau>: {surgical, nonsurgical, diff, lower, upper}}``."""
        return {f"{r.tau:g}": r.to_results() for r in self.results}


def restricted_means(df: pd.DataFrame, taus: Sequence[float] = RMST_TAUS) -> RestrictedMeans:
    """:func:`rmst` at each horizon in ``taus`` (default 36 and 60 months)."""
    return RestrictedMeans(results=tuple(rmst(df, tau) for tau in taus))


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
    n_surgical: int
    allocation: float  # proportion surgical
    event_proportion: float
    observed_hr: float
    rows: pd.DataFrame  # scenario, hr, power, events_80, events_90, n_80, n_90

    def scenario(self, name: str) -> pd.Series:
        return self.rows[self.rows["scenario"] == name].iloc[0]

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per scenario (deaths and patients needed, not counts of this cohort)."""
        return self.rows.copy()

    def assumptions(self, min_cell: int = 0) -> tuple[str, ...]:
        """What the power calculation assumes; counts from 1 to ``min_cell - 1`` read
        ``<N``."""
        def mark(count: int) -> int | str:
            return privacy.mark(count, min_cell)

        return (
            "proportional hazards between surgical and non-surgical patients",
            "unadjusted two-sided log-rank test at alpha = "
            f"{self.alpha:g} (Schoenfeld's approximation; the opposite tail ignored)",
            f"allocation as observed: {self.allocation:.3f} surgical "
            f"({mark(self.n_surgical)} of {mark(self.n)})",
            f"the proportion dying during follow-up as observed: {self.event_proportion:.3f} "
            f"({mark(self.events)} of {mark(self.n)}); in truth it depends on the HR, "
            "accrual and follow-up",
            "required events rounded up, then patients = ceil(events / proportion dying)",
            "power at the observed HR is a restatement of the observed P value (Hoenig and "
            "Heisey 2001); use it to size a future study, not to interpret this one",
        )

    def assumptions_text(self, min_cell: int = 0) -> str:
        """:meth:`assumptions` as a list under the heading "Assumptions:"."""
        return "Assumptions:\n- " + "\n- ".join(self.assumptions(min_cell))

    def needed_sentence(self, scenario: str = "HR 0.5", min_cell: int = 0) -> str:
        """Deaths and patients needed for 80% power in ``scenario``, beside this study's
        deaths (a small number reads ``<N``)."""
        row = self.scenario(scenario)
        return (f"{row['events_80']} deaths ({row['n_80']} patients) would give 80% power to "
                f"detect {scenario}; this study had {privacy.mark(self.events, min_cell)}.")

    def to_results(self) -> dict[str, float | int | None]:
        """``robustness.power``: ``{observed_hr, power_at_observed, n_for_80, n_for_90}``."""
        obs = self.scenario("observed HR")
        return {"observed_hr": finite_or_none(self.observed_hr),
                "power_at_observed": finite_or_none(obs["power"]),
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
    - Assumptions (:meth:`PowerResult.assumptions`): proportional hazards; the
      comparison is the unadjusted log-rank; allocation and the proportion dying
      during follow-up stay as observed (in truth the latter depends on the HR and on
      accrual and follow-up time); no loss to follow-up beyond what is observed.
      Power computed at the observed HR is a function of the observed P value and says
      nothing new about this study (Hoenig and Heisey, Am Stat 2001;55:19); it is given
      only to size a future study.
    """
    n = len(df)
    events = int(df["died"].sum())
    p = float(df["surgical"].mean())
    if not 0 < p < 1 or events == 0:
        raise ValueError("power needs both arms and at least one death")
    observed = float(cox_surgical(df).hazard_ratio.hr) if hr is None else float(hr)
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
    return PowerResult(alpha=alpha, n=n, events=events, n_surgical=int(df["surgical"].sum()),
                       allocation=p, event_proportion=event_prop, observed_hr=observed,
                       rows=pd.DataFrame(rows))


def power_note(power_result: PowerResult, naive: CoxResult) -> str:
    """Why the power at the observed HR says little here: a sentence from the numbers.

    ``naive`` is :func:`nethep.survival.cox_surgical`'s result (``hazard_ratio``, ``se``).
    Schoenfeld's formula takes the SE of log HR as ``1 / sqrt(D p (1 - p))``, true near
    HR = 1 (deaths split between the arms as the patients are); the sentence sets it
    beside the Cox model's SE at the observed HR, and gives the "observed power" of the
    Wald test, ``Phi(|log HR| / SE - z)``, which is the Wald P value restated.
    """
    p, d = power_result.allocation, power_result.events
    se_formula = 1 / math.sqrt(d * p * (1 - p))
    obs = power_result.scenario("observed HR")
    z = stats.norm.ppf(1 - power_result.alpha / 2)
    wald_power = float(stats.norm.cdf(abs(math.log(naive.hazard_ratio.hr)) / naive.se - z))
    return (
        f"Power at the observed hazard ratio ({obs['hr']:.2f}) is {obs['power']:.0%} by "
        "Schoenfeld's formula, but it adds nothing to the P value, of which it is a "
        "function (Hoenig and Heisey 2001), and here it is also overstated: the formula "
        f"takes the standard error of log HR as 1/sqrt(D p (1 - p)) = {se_formula:.2f}, "
        "which holds near a hazard ratio of 1, while the Cox model's standard error at "
        f"the observed hazard ratio is {naive.se:.2f}. With that standard error the power "
        f"would be {wald_power:.0%}, which is only the Wald "
        f"{p_text(naive.hazard_ratio.p)} restated. "
        "The events needed for a future study are best read at a plausible effect such as "
        "HR 0.5.")
