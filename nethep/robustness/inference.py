"""Small-sample inference: permutation and exact log-rank tests, and the bootstrap.

:func:`small_sample_inference` runs, with the choices stated here
(:data:`N_PERMUTATIONS` seeded relabellings, :data:`N_RESAMPLES` bootstrap resamples
at :data:`BOOTSTRAP_MONTHS`, seed :data:`nethep.permutation.DEFAULT_SEED`):

- the Monte Carlo permutation log-rank test, surgical vs non-surgical and across the
  three groups (:func:`nethep.permutation.permutation_logrank`, R ``coin``);
- the exact two-group P (:func:`nethep.exact_logrank.exact_logrank`), its grid refined
  until the bounds lie within :data:`EXACT_RTOL` of P on grids of up to
  :data:`EXACT_MAX_COLUMNS` sums (the setting of the published results; the engine's
  default now refines to 1e-6);
- the survdiff-style log-rank test (:func:`nethep.survival.logrank`, R ``survdiff``),
  set beside the permutation test by :func:`logrank_comparison`;
- the stratified bootstrap of the Kaplan-Meier survival difference
  (:func:`nethep.bootstrap.bootstrap_survival_difference`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from nethep.bootstrap import BootstrapResult, bootstrap_survival_difference
from nethep.estimable import (
    comparison_reason,
    deaths_reason,
    null_values,
    number,
    with_reason,
    words,
)
from nethep.exact_logrank import ExactTest, exact_logrank
from nethep.formats import p_digits, p_text
from nethep.km import survival_at_weighted
from nethep.permutation import DEFAULT_SEED, PermutationTest, permutation_logrank
from nethep.survival import LogRank, groups_present, logrank

_T = TypeVar("_T")

#: Monte Carlo permutations for the permutation log-rank tests (seeded: DEFAULT_SEED).
N_PERMUTATIONS = 100_000
#: Bootstrap resamples for the survival difference at BOOTSTRAP_MONTHS.
N_RESAMPLES = 10_000
BOOTSTRAP_MONTHS = 36.0
#: Exact P: bounds within 1% of P, on grids of up to 2**19 integer sums (the settings
#: that gave results.json's exact P; the engine's default now refines to 1e-6).
EXACT_RTOL = 0.01
EXACT_MAX_COLUMNS = 1 << 19


def _p_equals(p: float, places: int) -> str:
    """``"= .00210"`` with ``places`` decimals, or ``"< .00001"`` when P rounds to zero
    there (never ``= .00000``)."""
    smallest = 10.0 ** -places
    if p < smallest / 2:
        return f"< {p_digits(smallest, places)}"
    return f"= {p_digits(p, places)}"


def logrank_comparison(survdiff: LogRank, permutation: PermutationTest,
                       exact: ExactTest | None = None,
                       group: str = "surgical") -> pd.DataFrame:
    """The log-rank test computed two ways, with the same numerator and two variances.

    ``survdiff``: :func:`nethep.survival.logrank` (R ``survdiff``); ``permutation``:
    :func:`nethep.permutation.permutation_logrank` for the same 2 groups; ``exact``:
    :func:`nethep.exact_logrank.exact_logrank` (optional). Both statistics are
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


@dataclass(frozen=True)
class SmallSampleInference:
    """The permutation, exact, survdiff-style and bootstrap results of one cohort
    (see :func:`small_sample_inference`)."""

    permutation: PermutationTest | None  # surgical vs non-surgical (None: not estimable)
    three_groups: PermutationTest | None
    exact: ExactTest | None  # surgical vs non-surgical
    survdiff: LogRank  # surgical vs non-surgical, R survdiff
    bootstrap: BootstrapResult | None
    #: Why a test or the bootstrap is missing, by field name ("permutation",
    #: "three_groups", "exact", "bootstrap"); empty when everything was computed.
    reasons: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    n_permutations: int = N_PERMUTATIONS  # the settings used (also when a test is missing)
    n_resamples: int = N_RESAMPLES
    seed: int = DEFAULT_SEED

    def why(self, name: str) -> str:
        """``"<what> not estimable (<reason>)"`` for a missing test or bootstrap."""
        what = {"permutation": "Surgical vs non-surgical permutation test",
                "three_groups": "Three-group permutation test",
                "exact": "Exact log-rank test",
                "bootstrap": f"Bootstrap of the survival difference at {BOOTSTRAP_MONTHS:g} "
                             "months"}[name]
        return f"{what} {words(self.reasons.get(name, ''))}."

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Both permutation tests, one row each (labelled in column ``comparison``); a
        test that could not be run is a row with its reason in ``note``."""
        rows = []
        for label, name in (("surgical vs non-surgical", "permutation"),
                            ("three groups", "three_groups")):
            test = getattr(self, name)
            rows.append(test.table(min_cell).assign(comparison=label) if test is not None
                        else pd.DataFrame([{"comparison": label,
                                            "note": words(self.reasons.get(name, ""))}]))
        out = pd.concat(rows, ignore_index=True)
        return out[["comparison", *[c for c in out.columns if c != "comparison"]]]

    def p_values(self) -> str:
        """The Monte Carlo and exact P values, and how far apart they are in Monte Carlo
        standard errors, one line each."""
        perm, exact, groups = self.permutation, self.exact, self.three_groups
        if perm is None or exact is None:
            lines = [self.why("permutation" if perm is None else "exact")]
        else:
            # More digits than the journal's style (p_digits): the Monte Carlo P is
            # compared with its Monte Carlo SE and with the exact P and its bounds.
            if perm.none_as_extreme:  # Monte Carlo SE 0: no distance in SEs to give
                distance = ("No permutation was as extreme as the observed statistic, so "
                            "the Monte Carlo P is only bounded; quote the exact P.")
            elif perm.mc_se == 0:  # every permutation as extreme: P = 1
                distance = ("Every permutation was as extreme as the observed statistic "
                            "(Monte Carlo P = 1, SE 0).")
            else:
                distance = (f"The Monte Carlo estimate lies "
                            f"{(perm.p - exact.p) / perm.mc_se:+.1f} Monte Carlo SEs from "
                            "the exact P.")
            lines = [
                f"Surgical vs non-surgical: Monte Carlo permutation {perm.p_words(5)}, "
                f"{perm.n_permutations:,} permutations; exact P {_p_equals(exact.p, 6)} "
                f"(bounds {p_digits(exact.p_lower, 6)} to {p_digits(exact.p_upper, 6)}).",
                distance]
        lines.append(self.why("three_groups") if groups is None
                     else f"Three groups: Monte Carlo permutation {groups.p_words(5)}.")
        return "\n".join(lines)

    def logrank_table(self) -> pd.DataFrame:
        """:func:`logrank_comparison` of the survdiff, permutation and exact tests (one
        row with the reason when the permutation test is not estimable)."""
        if self.permutation is None or not np.isfinite(self.survdiff.statistic):
            return pd.DataFrame([{"test": "log-rank, surgical vs non-surgical",
                                  "note": words(self.reasons.get("permutation", "")
                                                or self.survdiff.reason)}])
        return logrank_comparison(self.survdiff, self.permutation, self.exact)

    def variance_sentence(self) -> str:
        """How the permutation variance compares with survdiff's, and what it does to the
        chi-square."""
        tests = self.logrank_table()
        if "variance" not in tests or not np.isfinite(tests["variance"].iloc[:2]).all() \
                or tests["variance"].iloc[0] == 0:
            state = tests["note"].iloc[0] if "note" in tests else words("")
            return f"The permutation and survdiff variances cannot be compared: {state}."
        v_survdiff, v_perm = tests["variance"].iloc[0], tests["variance"].iloc[1]
        return (f"The permutation variance is {v_perm / v_survdiff:.0%} of the survdiff "
                f"variance, so the chi-square is {tests['chi_square'].iloc[1]:.2f} instead of "
                f"{tests['chi_square'].iloc[0]:.2f}.")

    def bootstrap_table(self, min_cell: int = 0) -> pd.DataFrame:
        """The bootstrap's BCa and percentile intervals, or one row with the reason when
        the survival difference has no estimate."""
        if self.bootstrap is None:
            return pd.DataFrame([{"interval": "BCa and percentile",
                                  "note": words(self.reasons.get("bootstrap", ""))}])
        return self.bootstrap.table(min_cell)

    def bootstrap_notes(self) -> str:
        """The survival difference, its bootstrap SE and BCa constants, and how
        resamples with no estimate were handled."""
        boot = self.bootstrap
        if boot is None:
            return self.why("bootstrap")
        few = "fewer than 2 resamples with an estimate"
        bca = "BCa undefined: a jackknife value has no estimate"
        return (f"S({boot.at:g}) surgical {boot.surv_treated:.3f} minus non-surgical "
                f"{boot.surv_control:.3f} = {boot.estimate:.3f}; bootstrap SE "
                f"{number(boot.bootstrap_se, '.3f', few)}; BCa bias correction z0 = "
                f"{number(boot.bias_correction, '.3f', bca)}, acceleration a = "
                f"{number(boot.acceleration, '.3f', bca)}.\n" + boot.nonestimable_handling)

    def finding(self) -> str:
        """Every P value and the bootstrap interval, as one paragraph."""
        perm, exact, boot = self.permutation, self.exact, self.bootstrap
        three = self.three_groups
        # In the journal's style here; p_values() keeps the digits that compare the
        # Monte Carlo P with the exact P through its Monte Carlo SE.
        if perm is None or exact is None:
            arms = ("Exact inference: the exact and permutation log-rank tests for "
                    f"surgical vs non-surgical are "
                    f"{words(self.reasons.get('permutation') or self.reasons.get('exact', ''))}"
                    "; ")
        else:
            mc = perm.p_words(5) if perm.none_as_extreme else p_text(perm.p)
            arms = (f"Exact inference: the exact log-rank test for surgical vs non-surgical "
                    f"gave {p_text(exact.p)} (Monte Carlo permutation {mc}); ")
        if three is None:
            groups = f"across the three groups, the permutation test is " \
                     f"{words(self.reasons.get('three_groups', ''))}. "
        else:
            groups = ("across the three groups, permutation "
                      f"{three.p_words(5) if three.none_as_extreme else p_text(three.p)}. ")
        survdiff = (f"gave {p_text(self.survdiff.p)}" if not self.survdiff.reason
                    else f"is {words(self.survdiff.reason)}")
        if boot is None:
            difference = self.why("bootstrap")
        else:
            difference = (
                f"The {boot.at:g}-month survival difference was {boot.estimate:.2f} "
                "(bootstrap percentile 95% CI "
                f"{_limits(boot.percentile_lower, boot.percentile_upper)}; BCa "
                f"{_limits(boot.bca_lower, boot.bca_upper)}).")
        return (f"{arms}{groups}The survdiff-style log-rank test that matches the paper "
                f"{survdiff}. {difference}")

    def to_results(self) -> dict[str, Any]:
        """``robustness.permutation_logrank``, ``exact_logrank`` and ``bootstrap``; a test
        not run has its P (and the bootstrap its estimate and limits) null, with
        ``reason``."""
        def result(name: str, keys: tuple[str, ...]) -> dict[str, Any]:
            test = getattr(self, name)
            if test is None:
                return null_values(keys, self.reasons.get(name, ""))
            values = test.to_results()
            if None not in values.values():
                return values
            return with_reason(values, test.nonestimable_handling if name == "bootstrap"
                               else "not estimable on this cohort")

        return {
            "permutation_logrank": {
                "surgical_vs_nonsurgical": result("permutation", ("p", "statistic")),
                "three_groups": result("three_groups", ("p", "statistic"))},
            "exact_logrank": {"surgical_vs_nonsurgical": result("exact", ("p", "statistic"))},
            "bootstrap": {f"survival_{BOOTSTRAP_MONTHS:g}_diff" if self.bootstrap is None
                          else f"survival_{self.bootstrap.at:g}_diff":
                          result("bootstrap", ("estimate", "lower", "upper"))},
        }


def _limits(lower: float, upper: float) -> str:
    """``"0.12 to 0.56"``, or "not estimable" when a limit is missing."""
    if np.isfinite(lower) and np.isfinite(upper):
        return f"{lower:.2f} to {upper:.2f}"
    return words("too few resamples or jackknife values with an estimate")


def _attempt(reasons: dict[str, str], name: str, reason: str,
             compute: Callable[[], _T]) -> _T | None:
    """``compute()``, or None with ``reasons[name]`` set: to ``reason`` when it is not
    empty (compute is then not called), or to the engine's words when it refuses."""
    if reason:
        reasons[name] = reason
        return None
    try:
        return compute()
    except ValueError as exc:  # the engine's own statement of what it cannot estimate
        reasons[name] = str(exc)
        return None


def _bootstrap_reason(df: pd.DataFrame, at: float) -> str:
    """Why S(at) cannot be bootstrapped in each arm ("" when it can)."""
    reason = comparison_reason(df)
    if reason:
        return reason
    for arm, named in (("surgical", "surgical"), ("nonsurgical", "non-surgical")):
        sub = df[df["arm"] == arm]
        s = survival_at_weighted(sub["followup_months"].to_numpy(float),
                                 sub["died"].to_numpy(int), np.ones((1, len(sub))), at)
        if not np.isfinite(s).all():
            return (f"follow-up in the {named} arm ends before {at:g} months with survival "
                    f"above 0, so S({at:g}) has no estimate there")
    return ""


def small_sample_inference(
    df: pd.DataFrame,
    *,
    n_permutations: int = N_PERMUTATIONS,
    n_resamples: int = N_RESAMPLES,
    at: float = BOOTSTRAP_MONTHS,
    seed: int = DEFAULT_SEED,
) -> SmallSampleInference:
    """Permutation (``n_permutations``, seeded), exact and survdiff-style log-rank tests of
    surgical vs non-surgical, the permutation test across the three treatment groups,
    and the bootstrap (``n_resamples``, seeded) of the survival difference at ``at``
    months. Defaults: :data:`N_PERMUTATIONS`, :data:`N_RESAMPLES`,
    :data:`BOOTSTRAP_MONTHS`, :data:`nethep.permutation.DEFAULT_SEED`; the exact P with
    :data:`EXACT_RTOL` and :data:`EXACT_MAX_COLUMNS`."""
    t, e = df["followup_months"], df["died"]
    reasons: dict[str, str] = {}
    arms = comparison_reason(df)
    groups = ("only one treatment group is present"
              if len(groups_present(df, "treatment_group")) < 2 else deaths_reason(df))
    return SmallSampleInference(
        permutation=_attempt(reasons, "permutation", arms, lambda: permutation_logrank(
            t, e, df["arm"], n_permutations=n_permutations, seed=seed)),
        three_groups=_attempt(reasons, "three_groups", groups, lambda: permutation_logrank(
            t, e, df["treatment_group"], n_permutations=n_permutations, seed=seed)),
        exact=_attempt(reasons, "exact", arms, lambda: exact_logrank(
            t, e, df["arm"], rtol=EXACT_RTOL, max_columns=EXACT_MAX_COLUMNS)),
        survdiff=logrank(df, "arm"),
        bootstrap=_attempt(reasons, "bootstrap", _bootstrap_reason(df, at),
                           lambda: bootstrap_survival_difference(
                               t, e, df["arm"], at=at, n_resamples=n_resamples, seed=seed)),
        reasons=MappingProxyType(reasons), n_permutations=n_permutations,
        n_resamples=n_resamples, seed=seed,
    )
