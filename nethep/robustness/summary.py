"""How robust is the conclusion: the closing table, and the section notebook 05 saves.

- :func:`robustness_summary`: one row per analysis (estimate, 95% CI, whether it
  points the same way as the naive hazard ratio), the table behind the forest plot.
- :class:`RobustnessSection`: the objects notebook 05 displays, held together; its
  :meth:`~RobustnessSection.to_results` is the ``robustness`` section of results.json
  and :meth:`~RobustnessSection.findings` the notebook's closing paragraph, so what is
  shown and what is saved come from the same objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nethep import privacy
from nethep.cox import HazardRatio
from nethep.results import to_jsonable
from nethep.robustness.confounding import AdjustedCox, EValue
from nethep.robustness.effect_size import PowerResult, RestrictedMeans, RMSTResult
from nethep.robustness.immortal_time import LandmarkResult, Landmarks, TimeVaryingCox
from nethep.robustness.inference import SmallSampleInference
from nethep.robustness.weighting import IPTWCox
from nethep.survival import CoxResult


@dataclass(frozen=True)
class RobustnessSummary:
    """The closing table of the robustness analyses (see :func:`robustness_summary`)."""

    rows: pd.DataFrame  # analysis, measure, estimate, lower, upper, n, same_direction, role

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per analysis; an n from 1 to min_cell - 1 reads ``<N``."""
        return privacy.suppress_table(self.rows, ["n"], min_cell)

    def direction_sentence(self) -> str:
        """How many hazard ratios point the same way as the naive one (the naive one
        included), and the range of their upper 95% limits."""
        hrs = self.rows[self.rows["measure"] == "hazard ratio"]
        agree = int(hrs["same_direction"].sum())
        how_many = f"All {len(hrs)}" if agree == len(hrs) else f"{agree} of {len(hrs)}"
        return (f"{how_many} hazard ratios point the same way as the naive one; their upper "
                f"95% limits range from {hrs['upper'].min():.2f} to "
                f"{hrs['upper'].max():.2f}.")


def robustness_summary(
    naive: CoxResult,
    adjusted: AdjustedCox | None = None,
    iptw: IPTWCox | None = None,
    landmarks: Sequence[LandmarkResult] = (),
    time_varying: TimeVaryingCox | None = None,
    rmsts: Sequence[RMSTResult] = (),
    permutation_p: float | None = None,
    iptw_truncated: IPTWCox | None = None,
    landmark_alternatives: Sequence[LandmarkResult] = (),
) -> RobustnessSummary:
    """One row per analysis: estimate, 95% CI, and agreement in direction with the naive HR.

    ``naive`` is :func:`nethep.survival.cox_surgical`'s result (``hazard_ratio``,
    ``n``). Direction: a hazard ratio points the same way as the naive one
    when both are on the same side of 1 (HR < 1: surgery better); an RMST difference
    (surgical minus non-surgical) when it is > 0 while the naive HR is < 1 (or < 0
    while it is > 1). ``permutation_p`` is supplied by the caller; its row has no
    direction (``same_direction`` is None).

    Alternatives to an analysis's main choice go in their own arguments, so the table
    can show them beside it: ``iptw_truncated`` (weights truncated, e.g. at the 1st/99th
    percentiles; row after IPTW) and ``landmark_alternatives`` (other landmark times;
    rows after the main landmarks). The ``role`` column says which is which:
    ``reference`` (the naive Cox model), ``main`` or ``alternative``.
    """
    naive_benefit = naive.hazard_ratio.hr < 1

    def hr_row(name: str, hr: HazardRatio, n: int | None,
               role: str = "main") -> dict[str, Any]:
        return {"analysis": name, "measure": "hazard ratio", "estimate": hr.hr,
                "lower": hr.lower, "upper": hr.upper, "n": n,
                "same_direction": bool((hr.hr < 1) == naive_benefit), "role": role}

    rows = [hr_row("naive Cox", naive.hazard_ratio, naive.n, "reference")]
    if adjusted is not None:
        label = "adjusted Cox" + (" (penalized)" if adjusted.penalized else "")
        rows.append(hr_row(label, adjusted.surgical, adjusted.n))
    if iptw is not None:
        rows.append(hr_row("IPTW Cox", iptw.hazard_ratio, iptw.n))
    if iptw_truncated is not None:
        bounds = iptw_truncated.propensity.truncate
        how = ("" if bounds is None else
               f" at percentiles {100 * bounds[0]:g} and {100 * bounds[1]:g}")
        rows.append(hr_row(f"IPTW Cox, weights truncated{how}", iptw_truncated.hazard_ratio,
                           iptw_truncated.n, "alternative"))
    for lm, role in [(lm, "main") for lm in landmarks] + [
            (lm, "alternative") for lm in landmark_alternatives]:
        rows.append(hr_row(f"landmark {lm.at_months:g} months", lm.hazard_ratio, lm.n, role))
    if time_varying is not None:
        rows.append(hr_row("time-varying Cox", time_varying.hazard_ratio,
                           time_varying.n_patients))
    for r in rmsts:
        rows.append({"analysis": f"RMST difference, {r.tau:g} months",
                     "measure": "months (surgical - nonsurgical)", "estimate": r.diff,
                     "lower": r.lower, "upper": r.upper, "n": int(r.rows["n"].sum()),
                     "same_direction": bool((r.diff > 0) == naive_benefit), "role": "main"})
    if permutation_p is not None:
        rows.append({"analysis": "permutation test", "measure": "P value",
                     "estimate": float(permutation_p), "lower": np.nan, "upper": np.nan,
                     "n": naive.n, "same_direction": None, "role": "main"})
    return RobustnessSummary(rows=pd.DataFrame(rows))


@dataclass(frozen=True)
class RobustnessSection:
    """Every robustness analysis notebook 05 displays, as the objects it displayed.

    The E-value must be that of the adjusted hazard ratio (:meth:`AdjustedCox.evalue`),
    as results.json says (``evalue.hr_from``). The choices recorded under ``choices``
    are read from the objects (covariates, permutations, resamples, seed, weight
    trimming, landmark times, RMST horizons), so they are the ones that were used.
    """

    naive: CoxResult
    inference: SmallSampleInference
    adjusted: AdjustedCox
    iptw: IPTWCox  # the main weighting (no trimming)
    iptw_truncated: IPTWCox  # the alternative shown beside it
    evalue: EValue
    landmarks: Landmarks
    time_varying: TimeVaryingCox
    rmst: RestrictedMeans
    power: PowerResult

    def __post_init__(self) -> None:
        s = self.adjusted.surgical
        if (self.evalue.hr, self.evalue.lower, self.evalue.upper) != (s.hr, s.lower, s.upper):
            raise ValueError("the E-value must be that of the adjusted hazard ratio "
                             "(AdjustedCox.evalue)")

    @property
    def summary(self) -> RobustnessSummary:
        """The closing table (:func:`robustness_summary`) of every analysis held here."""
        return robustness_summary(
            self.naive, self.adjusted, self.iptw, self.landmarks.main, self.time_varying,
            self.rmst.results, permutation_p=self.inference.permutation.p,
            iptw_truncated=self.iptw_truncated,
            landmark_alternatives=self.landmarks.alternatives)

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """The closing table; an n from 1 to min_cell - 1 reads ``<N``."""
        return self.summary.table(min_cell)

    def findings(self, min_cell: int = 0) -> str:
        """What the notebook found, one line per question: small-sample inference,
        confounding, immortal time, size, power, and agreement in direction."""
        s, iptw, ev = self.adjusted.surgical, self.iptw.hazard_ratio, self.evalue
        tv, naive = self.time_varying.hazard_ratio, self.naive.hazard_ratio
        return "\n".join([
            self.inference.finding(),
            f"Confounding: adjusted HR {s.hr:.2f} ({s.lower:.2f} to {s.upper:.2f}) with "
            f"{self.adjusted.epv:.1f} events per parameter; IPTW HR {iptw.hr:.2f} "
            f"({iptw.lower:.2f} to {iptw.upper:.2f}), {self.iptw_truncated.hazard_ratio.hr:.2f} "
            f"with truncated weights. E-value of the adjusted HR {ev.point:.1f} (confidence "
            f"limit {ev.ci_limit:.1f}).",
            f"Immortal time: {self.landmarks.hazard_ratios()}; time-varying HR {tv.hr:.2f} "
            f"({tv.lower:.2f} to {tv.upper:.2f}) against the naive {naive.hr:.2f}.",
            self.rmst.finding(),
            "Power: " + self.power.needed_sentence("HR 0.5", min_cell),
            self.summary.direction_sentence(),
        ])

    def simulated_note(self) -> str:
        """Which inputs of which analyses are simulated (bundled reconstruction only)."""
        adjusted, tv = self.adjusted.simulated, self.time_varying.simulated
        if not adjusted and not tv:
            return "User-supplied cohort: no input is simulated."
        return (f"Simulated inputs used: adjusted Cox and propensity score {list(adjusted)}; "
                f"landmark and time-varying Cox {list(tv)}; and the split of tumour types by "
                "group (its totals are published).")

    def choices(self) -> dict[str, Any]:
        """The analysis choices, read from the objects: ``robustness.choices``."""
        def bounds(fit: IPTWCox) -> list[float] | None:
            truncate = fit.propensity.truncate
            return None if truncate is None else list(truncate)

        return {
            "covariates": list(self.adjusted.covariates),
            "n_permutations": self.inference.permutation.n_permutations,
            "n_resamples": self.inference.bootstrap.n_resamples,
            "seed": self.inference.permutation.seed,
            "weight_trimming": bounds(self.iptw),
            "weight_truncation_alternative": bounds(self.iptw_truncated),
            "landmark_months": [lm.at_months for lm in self.landmarks.main],
            "landmark_alternative_months": [lm.at_months for lm in self.landmarks.alternatives],
            "rmst_tau_months": [r.tau for r in self.rmst.results],
            "evalue_hr": "cox_adjusted.surgical",
        }

    def to_results(self) -> dict[str, Any]:
        """The ``robustness`` section of results.json (JSON-safe; NaN becomes None;
        counts unsuppressed: :func:`nethep.results.save_fragment` applies ``min_cell``).

        Keys (none contains '.'): ``permutation_logrank.{surgical_vs_nonsurgical,
        three_groups}``, ``exact_logrank.surgical_vs_nonsurgical``,
        ``bootstrap.survival_<months>_diff``, ``cox_adjusted``, ``iptw``,
        ``iptw_truncated``, ``evalue`` (with ``hr_from``), ``landmark.<months>``,
        ``time_varying``, ``rmst.<tau>``, ``power``, ``propensity``, ``summary`` (the
        closing table's rows) and ``choices``.
        """
        return to_jsonable({
            **self.inference.to_results(),
            "cox_adjusted": self.adjusted.to_results(),
            "iptw": self.iptw.to_results(),
            "iptw_truncated": self.iptw_truncated.to_results(),
            "evalue": {**self.evalue.to_results(), "hr_from": "cox_adjusted"},
            "landmark": self.landmarks.to_results(),
            "time_varying": self.time_varying.to_results(),
            "rmst": self.rmst.to_results(),
            "power": self.power.to_results(),
            "propensity": self.iptw.propensity.to_results(),
            "summary": self.summary.rows,
            "choices": self.choices(),
        })
