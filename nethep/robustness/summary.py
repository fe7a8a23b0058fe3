"""The primary analysis and the sensitivity analyses: the closing table, and the section
notebook 05 saves.

- :func:`robustness_summary`: one row per analysis (estimate, 95% CI, n), the primary
  analysis named (``role`` ``primary``) and every other analysis labelled
  ``sensitivity``; ``choice`` says whether a row is an analysis's main choice or an
  alternative shown beside it. The table behind the forest plot. A hazard ratio that
  is not estimable has NaN numbers and the reason in ``note``.
- :class:`RobustnessSection`: the objects notebook 05 displays, held together; its
  :meth:`~RobustnessSection.to_results` is the ``robustness`` section of results.json
  and :meth:`~RobustnessSection.findings` the notebook's closing paragraph, so what is
  shown and what is saved come from the same objects. Agreement among the analyses is
  not presented as support: :meth:`~RobustnessSection.could_differ` says, per analysis,
  whether it could have changed the answer on this cohort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nethep import privacy
from nethep.cox import HazardRatio
from nethep.estimable import null_values
from nethep.results import to_jsonable
from nethep.robustness.confounding import AdjustedCox, EValue
from nethep.robustness.could_differ import could_differ
from nethep.robustness.effect_size import PowerResult, RestrictedMeans, RMSTResult
from nethep.robustness.immortal_time import LandmarkResult, Landmarks, TimeVaryingCox
from nethep.robustness.inference import SmallSampleInference
from nethep.robustness.small_events import SmallEventInference
from nethep.robustness.weighting import IPTWCox
from nethep.survival import CoxResult

PRIMARY, SENSITIVITY = "primary", "sensitivity"


@dataclass(frozen=True)
class RobustnessSummary:
    """The closing table of the analyses (see :func:`robustness_summary`)."""

    rows: pd.DataFrame  # analysis, measure, estimate, lower, upper, n, role, choice, note

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per analysis; an n from 1 to min_cell - 1 reads ``<N``."""
        return privacy.suppress_table(self.rows, ["n"], min_cell)

    @property
    def primary(self) -> pd.Series:
        """The primary analysis's row."""
        return self.rows[self.rows["role"] == PRIMARY].iloc[0]

    def primary_sentence(self) -> str:
        """Which analysis is primary; every other row is a sensitivity analysis."""
        return (f"Primary analysis: {self.primary['analysis']}. Every other row is a "
                "sensitivity analysis of the same comparison, not a separate finding.")


def _hr_row(name: str, hr: HazardRatio, n: int | None, role: str = SENSITIVITY,
            choice: str = "main") -> dict[str, Any]:
    ok = hr.estimable
    return {"analysis": name, "measure": "hazard ratio",
            "estimate": hr.hr if ok else np.nan, "lower": hr.lower if ok else np.nan,
            "upper": hr.upper if ok else np.nan, "n": n, "role": role, "choice": choice,
            "note": "" if ok else f"not estimable: {hr.note or 'no finite estimate'}"}


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
    *,
    small_events: SmallEventInference | None = None,
    iptw_ate: IPTWCox | None = None,
    exact_p: float | None = None,
) -> RobustnessSummary:
    """One row per analysis: estimate, 95% CI, n, role and choice.

    ``naive`` is :func:`nethep.survival.cox_surgical`'s result. The primary analysis is
    ``small_events.primary`` (the Firth row when its stated rule picks Firth, else the
    naive Cox row); without ``small_events`` it is the naive Cox model. Every other row is
    ``sensitivity``. ``iptw`` is the primary weighting (ATT), ``iptw_ate`` the ATE beside
    it; ``exact_p`` (the exact log-rank P) is preferred to ``permutation_p`` (Monte
    Carlo) when both exist. Alternatives to an analysis's main choice
    (``iptw_truncated``, ``landmark_alternatives``) have ``choice`` ``alternative``.
    RMST rows: the horizons within every arm's follow-up only.
    """
    firth_primary = small_events is not None and small_events.firth_is_primary
    rows = [_hr_row("naive Cox", naive.hazard_ratio, naive.n,
                    SENSITIVITY if firth_primary else PRIMARY)]
    if small_events is not None:
        rows.append(_hr_row("Firth Cox", small_events.firth_hr, sum(small_events.patients),
                            PRIMARY if firth_primary else SENSITIVITY))
    if adjusted is not None:
        label = "adjusted Cox" + (" (penalized)" if adjusted.penalized else "")
        rows.append(_hr_row(label, adjusted.surgical, adjusted.n))
    if iptw is not None:
        rows.append(_hr_row(f"IPTW Cox, {iptw.estimand}", iptw.hazard_ratio, iptw.n))
    if iptw_ate is not None:
        rows.append(_hr_row(f"IPTW Cox, {iptw_ate.estimand}", iptw_ate.hazard_ratio,
                            iptw_ate.n))
    if iptw_truncated is not None:
        bounds = iptw_truncated.propensity.truncate
        how = ("" if bounds is None else
               f" at percentiles {100 * bounds[0]:g} and {100 * bounds[1]:g}")
        rows.append(_hr_row(f"IPTW Cox, {iptw_truncated.estimand}, weights truncated{how}",
                            iptw_truncated.hazard_ratio, iptw_truncated.n,
                            choice="alternative"))
    for lm, choice in [(lm, "main") for lm in landmarks] + [
            (lm, "alternative") for lm in landmark_alternatives]:
        rows.append(_hr_row(f"landmark {lm.at_months:g} months", lm.hazard_ratio, lm.n,
                            choice=choice))
    if time_varying is not None:
        rows.append(_hr_row("time-varying Cox", time_varying.hazard_ratio,
                            time_varying.n_patients))
    for r in rmsts:
        rows.append({"analysis": "RMST difference" + (f", {r.tau:g} months"
                                                      if np.isfinite(r.tau) else ""),
                     "measure": "months (surgical - nonsurgical)",
                     "estimate": np.nan if r.reason else r.diff,
                     "lower": r.lower, "upper": r.upper, "n": int(r.rows["n"].sum()),
                     "role": SENSITIVITY, "choice": "main",
                     "note": f"not estimable: {r.reason}" if r.reason else ""})
    if exact_p is not None or permutation_p is not None:
        exact = exact_p is not None
        rows.append({"analysis": "exact log-rank test" if exact else "permutation test",
                     "measure": "P value",
                     "estimate": float(exact_p if exact else permutation_p),
                     "lower": np.nan, "upper": np.nan, "n": naive.n, "role": SENSITIVITY,
                     "choice": "main", "note": "a P value has no confidence interval"})
    return RobustnessSummary(rows=pd.DataFrame(rows))


@dataclass(frozen=True)
class RobustnessSection:
    """Every analysis notebook 05 displays, as the objects it displayed.

    The primary estimate is ``small_events.primary`` (H1's stated rule: Firth when an
    arm has fewer than 5 deaths); the E-value must be that of the primary estimate
    (:func:`nethep.robustness.primary_evalue`), or None when it is not estimable. The
    choices recorded under ``choices`` are read from the objects (covariates,
    permutations, resamples, seed, estimand, weight trimming, landmark times, RMST
    horizons), so they are the ones that were used.
    """

    naive: CoxResult
    inference: SmallSampleInference
    small_events: SmallEventInference
    adjusted: AdjustedCox
    iptw: IPTWCox  # the primary weighting: ATT, no trimming
    iptw_ate: IPTWCox  # the ATE beside it
    iptw_truncated: IPTWCox  # the alternative trimming shown beside the ATT
    evalue: EValue | None
    landmarks: Landmarks
    time_varying: TimeVaryingCox
    rmst: RestrictedMeans
    power: PowerResult

    def __post_init__(self) -> None:
        p = self.small_events.primary
        if self.evalue is None:
            if p.estimable:
                raise ValueError("the E-value of an estimable primary estimate is missing")
        elif (self.evalue.hr, self.evalue.lower, self.evalue.upper) != (p.hr, p.lower,
                                                                      p.upper):
            raise ValueError("the E-value must be that of the primary estimate "
                             "(primary_evalue(small_events.primary, df))")

    @property
    def reconstructed(self) -> bool:
        """True on the bundled reconstruction (its simulated inputs are flagged)."""
        return bool(self.adjusted.simulated or self.time_varying.simulated)

    @property
    def summary(self) -> RobustnessSummary:
        """The closing table (:func:`robustness_summary`) of every analysis held here."""
        return robustness_summary(
            self.naive, self.adjusted, self.iptw, self.landmarks.main, self.time_varying,
            self.rmst.results, iptw_truncated=self.iptw_truncated,
            landmark_alternatives=self.landmarks.alternatives,
            small_events=self.small_events, iptw_ate=self.iptw_ate,
            exact_p=None if self.inference.exact is None else self.inference.exact.p)

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """The closing table; an n from 1 to min_cell - 1 reads ``<N``."""
        return self.summary.table(min_cell)

    def could_differ(self) -> dict[str, str]:
        """Per analysis, whether it could have changed the answer on this cohort, and
        why (:func:`nethep.robustness.could_differ.could_differ`)."""
        return could_differ(self.reconstructed, self.small_events.deaths[0],
                            self.time_varying.waiting_months)

    def primary_sentence(self, min_cell: int = 0) -> str:
        """The primary estimate in words, with the rule that chose it."""
        model = "Firth-penalised Cox" if self.small_events.firth_is_primary else "Cox"
        ci = "profile-likelihood " if self.small_events.firth_is_primary else "Wald "
        return (f"Primary analysis: {model} hazard ratio of death, surgical vs non-surgical, "
                f"{self.small_events.primary.words(ci=ci)}. "
                f"{self.small_events.reason(min_cell)} Everything else in this notebook is a "
                "sensitivity analysis.")

    def findings(self, min_cell: int = 0) -> str:
        """What the notebook found, one line per question: the primary estimate,
        small-sample inference, small-event inference, confounding, unmeasured
        confounding, immortal time, size, design, and what agreement does not show."""
        s, tv = self.adjusted.surgical, self.time_varying.hazard_ratio
        ev = self.evalue
        epv = (f"{self.adjusted.epv:.1f} events per parameter" if self.adjusted.fitted
               else "no model fitted")
        evalue_line = ("E-value: not computed (the primary estimate is not estimable)."
                       if ev is None else
                       f"E-value of the primary estimate {ev.point:.1f} (confidence limit "
                       f"{ev.ci_limit:.1f}).")
        trunc = self.iptw_truncated.hazard_ratio
        return "\n".join([
            self.primary_sentence(min_cell),
            self.inference.finding(),
            self.small_events.finding(min_cell),
            f"Confounding (sensitivity): adjusted {s.words()} with "
            f"{epv}; {self.iptw.sentence()} "
            f"{self.iptw_ate.sentence()} Truncated weights: {trunc.words()}.",
            evalue_line,
            f"Immortal time (sensitivity): {self.landmarks.hazard_ratios()}; time-varying "
            f"{tv.words()} against the naive {self.naive.hazard_ratio.words()}.",
            self.rmst.finding(),
            "Design: " + self.power.design_sentence(min_cell),
            "These analyses share the same patients and the same few surgical deaths, so "
            "their agreement is not independent confirmation; on the bundled "
            "reconstruction several of them could not have differed by construction "
            "(see each section's 'Could it have differed' note)."
            if self.reconstructed else
            "These analyses share the same patients and deaths, so their agreement is not "
            "independent confirmation.",
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
            "n_permutations": self.inference.n_permutations,
            "n_resamples": self.inference.n_resamples,
            "seed": self.inference.seed,
            "primary": self.small_events.primary_method,
            "iptw_estimand": self.iptw.estimand,
            "iptw_n_boot": self.iptw.n_boot,
            "weight_trimming": bounds(self.iptw),
            "weight_truncation_alternative": bounds(self.iptw_truncated),
            "landmark_months": [lm.at_months for lm in self.landmarks.main],
            "landmark_alternative_months": [lm.at_months for lm in self.landmarks.alternatives],
            "rmst_tau_months": [r.tau for r in self.rmst.results if np.isfinite(r.tau)],
            "evalue_hr": "primary",
        }

    def to_results(self) -> dict[str, Any]:
        """The ``robustness`` section of results.json (JSON-safe; NaN becomes None;
        counts unsuppressed: :func:`nethep.results.save_fragment` applies ``min_cell``).

        Keys (none contains '.'): ``permutation_logrank.{surgical_vs_nonsurgical,
        three_groups}``, ``exact_logrank.surgical_vs_nonsurgical``,
        ``bootstrap.survival_<months>_diff``, ``firth``, ``firth_breslow``, ``primary``,
        ``cox_tests`` (:class:`SmallEventInference`), ``cox_adjusted``, ``iptw`` (the
        primary weighting, ATT), ``iptw_att`` (the same), ``iptw_ate``,
        ``iptw_truncated``, ``positivity``, ``evalue`` (with ``hr_from``; None when the
        primary is not estimable), ``landmark.<months>``, ``time_varying``, ``rmst``,
        ``power``, ``propensity``, ``summary`` (the closing table's rows),
        ``could_differ.<analysis>`` and ``choices``.
        """
        evalue = ({**self.evalue.to_results(), "hr_from": "primary"} if self.evalue else
                  null_values(("point", "ci_limit"), "the primary estimate is not estimable ("
                              f"{self.small_events.primary.note or 'no finite estimate'})"))
        return to_jsonable({
            **self.inference.to_results(),
            **self.small_events.to_results(),
            "cox_adjusted": self.adjusted.to_results(),
            "iptw": self.iptw.to_results(),
            "iptw_att": self.iptw.to_results(),
            "iptw_ate": self.iptw_ate.to_results(),
            "iptw_truncated": self.iptw_truncated.to_results(),
            "positivity": self.iptw.propensity.positivity.to_results(),
            "evalue": evalue,
            "landmark": self.landmarks.to_results(),
            "time_varying": self.time_varying.to_results(),
            "rmst": self.rmst.to_results(),
            "power": self.power.to_results(),
            "propensity": self.iptw.propensity.to_results(),
            "summary": self.summary.rows,
            "could_differ": self.could_differ(),
            "choices": self.choices(),
        })
