"""Immortal time: landmark analyses and surgery as a time-varying covariate.

Time runs from diagnosis, but an operation comes later: a patient counted as surgical
had to survive until it. Two remedies, each verified against R's ``coxph``:

- :func:`landmark` (one landmark time) and :func:`landmarks` (the main landmarks and
  the alternatives shown beside them): patients alive at the landmark, exposure as of
  the landmark, time restarted there.
- :func:`time_varying_cox` on :func:`counting_process` rows: surgery switches on at
  ``months_to_treatment``, beside the naive time-fixed model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines.exceptions import ConvergenceError

from nethep import privacy
from nethep.cox import HazardRatio, fit_lifelines, fit_time_varying
from nethep.estimable import words
from nethep.formats import join_and
from nethep.robustness.design import (
    LIFELINES_COX_METHOD,
    compare_tables,
    hr_results,
    lifelines_hazard_ratio,
    no_death_reason,
    simulated_inputs,
)
from nethep.survival import cox_surgical

#: Main landmark times (months) and the alternative shown beside them.
LANDMARK_MONTHS: tuple[float, ...] = (3.0, 6.0)
LANDMARK_ALTERNATIVES: tuple[float, ...] = (12.0,)


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
    hazard_ratio: HazardRatio
    simulated: tuple[str, ...] = ()  # inputs simulated in the bundled reconstruction

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row; counts from 1 to min_cell - 1 read ``<N`` (:mod:`nethep.privacy`)."""
        hr = self.hazard_ratio
        row = {k: getattr(self, k) for k in ("at_months", "n", "events", "n_surgical",
                                             "n_excluded", "n_reclassified", "coef", "se")}
        row |= {"hr": hr.hr, "lower": hr.lower, "upper": hr.upper, "p": hr.p}
        if not hr.estimable:
            row["note"] = words(hr.note)
        return privacy.suppress_table(
            pd.DataFrame([row]), ["n", "events", "n_surgical", "n_excluded", "n_reclassified"],
            min_cell)

    def note(self, min_cell: int = 0) -> str:
        """Who is in the analysis, who is excluded and who is reclassified, as sentences;
        counts from 1 to ``min_cell - 1`` read ``<N``."""
        def mark(count: int) -> int | str:
            return privacy.mark(count, min_cell)

        at = self.at_months
        return (f"Landmark {at:g} months: {mark(self.n)} patients alive and in follow-up "
                f"({mark(self.n_excluded)} died or were censored by then and are excluded); "
                f"{mark(self.n_surgical)} count as surgical. {mark(self.n_reclassified)} "
                f"surgical patient(s) operated after {at:g} months are counted non-surgical "
                "at the landmark. Time is measured from the landmark.")

    def to_results(self) -> dict[str, float | int | None]:
        """``robustness.landmark.<at_months>``: ``{hr, lower, upper, n}``."""
        return {**hr_results(self.hazard_ratio), "n": self.n}


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
    - Not estimable (said in words, NaN numbers) when only one arm is in follow-up at
      the landmark or an arm has no deaths after it.
    """
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
    method = f"landmark {at:g} months; {LIFELINES_COX_METHOD}"
    counts = {"at_months": at, "n": len(data), "events": int(data["E"].sum()),
              "n_surgical": n_surg, "n_excluded": int((~keep).sum()),
              "n_reclassified": int((surg & ~(mtt <= at)).sum()),
              "simulated": simulated_inputs(df, ["months_to_treatment"])}
    if n_surg == 0 or n_surg == len(data):
        reason = f"only one arm is in follow-up at the {at:g}-month landmark"
    else:
        reason = no_death_reason(data) or ""
    if reason:
        return LandmarkResult(coef=float("nan"), se=float("nan"),
                              hazard_ratio=HazardRatio.not_estimable(
                                  f"{reason} (landmark {at:g} months)", method), **counts)
    try:
        cph, _ = fit_lifelines(data)
    except ConvergenceError as exc:  # depends on the data: said, not raised
        return LandmarkResult(coef=float("nan"), se=float("nan"),
                              hazard_ratio=HazardRatio.not_estimable(
                                  f"the Cox model did not converge ({str(exc).splitlines()[0]})"
                                  f" (landmark {at:g} months)", method), **counts)
    s = cph.summary.loc["surgical"]
    return LandmarkResult(coef=float(s["coef"]), se=float(s["se(coef)"]),
                          hazard_ratio=lifelines_hazard_ratio(cph.summary, "surgical", method),
                          **counts)


@dataclass(frozen=True)
class Landmarks:
    """The main landmark analyses and the alternatives shown beside them."""

    main: tuple[LandmarkResult, ...]
    alternatives: tuple[LandmarkResult, ...] = ()

    @property
    def all(self) -> tuple[LandmarkResult, ...]:
        """Main landmarks first, then the alternatives."""
        return self.main + self.alternatives

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Every landmark's row, labelled ``<months> months (main)`` or ``(alternative)``."""
        labelled = {f"{lm.at_months:g} months (main)": lm for lm in self.main}
        labelled |= {f"{lm.at_months:g} months (alternative)": lm for lm in self.alternatives}
        return compare_tables(labelled, label="landmark", min_cell=min_cell)

    def hazard_ratios(self) -> str:
        """Each landmark's hazard ratio and time, e.g. "landmark HRs 0.18 at 3 months, 0.17
        at 6 and 0.20 at 12"."""
        def value(lm: LandmarkResult) -> str:
            hr = lm.hazard_ratio
            return f"{hr.hr:.2f}" if hr.estimable else "not estimable"

        first, *rest = self.all
        parts = [f"{value(first)} at {first.at_months:g} months"]
        parts += [f"{value(lm)} at {lm.at_months:g}" for lm in rest]
        return f"landmark HRs {join_and(parts)}"

    def notes(self, min_cell: int = 0) -> str:
        """Each landmark's :meth:`LandmarkResult.note`, one line each."""
        return "\n".join(lm.note(min_cell) for lm in self.all)

    def to_results(self) -> dict[str, dict[str, float | int | None]]:
        """``robustness.landmark``: ``{<months>: {hr, lower, upper, n}}``."""
        return {f"{lm.at_months:g}": lm.to_results() for lm in self.all}


def landmarks(df: pd.DataFrame, main: Sequence[float] = LANDMARK_MONTHS,
              alternatives: Sequence[float] = LANDMARK_ALTERNATIVES) -> Landmarks:
    """:func:`landmark` at each ``main`` time (default 3 and 6 months) and each
    ``alternatives`` time (default 12 months)."""
    return Landmarks(main=tuple(landmark(df, m) for m in main),
                     alternatives=tuple(landmark(df, m) for m in alternatives))


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
    hazard_ratio: HazardRatio
    n_patients: int
    n_intervals: int
    events: int
    n_switched: int
    naive: HazardRatio  # surgery fixed at time 0 (nethep.survival.cox_surgical)
    simulated: tuple[str, ...] = ()  # inputs simulated in the bundled reconstruction
    waiting_months: tuple[float, float] | None = None  # surgical: median, longest wait

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """The naive and the time-varying hazard ratio, one row each (no counts)."""
        return pd.DataFrame([
            {"model": "naive (surgery fixed at time 0)", "hr": self.naive.hr,
             "lower": self.naive.lower, "upper": self.naive.upper, "p": self.naive.p},
            {"model": "time-varying (surgery from months_to_treatment)",
             "hr": self.hazard_ratio.hr, "lower": self.hazard_ratio.lower,
             "upper": self.hazard_ratio.upper, "p": self.hazard_ratio.p},
        ]).pipe(lambda t: t.assign(note=notes) if any(notes := [
            "" if hr.estimable else words(hr.note) for hr in (self.naive, self.hazard_ratio)])
            else t)

    def sentence(self, min_cell: int = 0) -> str:
        """Who switches exposure, as a sentence; small counts read ``<N``. The number of
        intervals (patients + switchers) is withheld when the switchers are."""
        def mark(count: int) -> int | str:
            return privacy.mark(count, min_cell)

        intervals = (f"{self.n_intervals} intervals"
                     if not privacy.is_small(self.n_switched, min_cell)
                     else "interval count withheld")
        return (f"{mark(self.n_switched)} of {mark(self.n_patients)} patients switch from "
                f"unoperated to operated during follow-up ({intervals}, "
                f"{mark(self.events)} deaths).")

    def to_results(self) -> dict[str, float | None]:
        """``robustness.time_varying``: ``{hr, lower, upper}``."""
        return hr_results(self.hazard_ratio)


def time_varying_cox(df: pd.DataFrame) -> TimeVaryingCox:
    """Cox model with surgery as a time-varying covariate (removes immortal time).

    Data in counting-process form (:func:`counting_process`); lifelines
    ``CoxTimeVaryingFitter`` (Efron ties, Wald 95% CI, taken to the maximum by
    :func:`nethep.cox.fit_time_varying`), verified against R
    ``coxph(Surv(start, stop, event) ~ surgical)`` on rows built independently with
    ``survival::tmerge``. Compared with the naive time-fixed HR of
    :func:`nethep.survival.cox_surgical`, which credits the surgical arm with the
    event-free time before operation (Suissa, Am J Epidemiol 2008;167:492).
    """
    long = counting_process(df)
    method = ("Cox model with surgery as a time-varying covariate (lifelines "
              "CoxTimeVaryingFitter), Efron ties, Wald 95% CI and P")
    common = {"n_patients": len(df), "n_intervals": len(long),
              "events": int(long["event"].sum()), "n_switched": int((long["start"] > 0).sum()),
              "naive": cox_surgical(df).hazard_ratio,
              "simulated": simulated_inputs(df, ["months_to_treatment"])}
    waits = df.loc[df["surgical"].to_numpy(bool), "months_to_treatment"].to_numpy(
        dtype=float, na_value=np.nan)
    waits = waits[np.isfinite(waits)]
    if len(waits):
        common["waiting_months"] = (float(np.median(waits)), float(waits.max()))
    exposed = long["surgical"].to_numpy(float)
    reason = ("nobody has operated follow-up time" if not exposed.any()
              else no_death_reason(long, event="event"))
    if reason:
        return TimeVaryingCox(coef=float("nan"), se=float("nan"),
                              hazard_ratio=HazardRatio.not_estimable(reason, method), **common)
    ctv = fit_time_varying(long)
    s = ctv.summary.loc["surgical"]
    return TimeVaryingCox(
        coef=float(s["coef"]), se=float(s["se(coef)"]),
        hazard_ratio=lifelines_hazard_ratio(ctv.summary, "surgical", method), **common)
