"""Small-sample inference: permutation and exact log-rank tests, and the bootstrap.

:func:`small_sample_inference` runs, with the choices stated here
(:data:`N_PERMUTATIONS` seeded relabellings, :data:`N_RESAMPLES` bootstrap resamples
at :data:`BOOTSTRAP_MONTHS`, seed :data:`nethep.permutation.DEFAULT_SEED`):

- the Monte Carlo permutation log-rank test, surgical vs non-surgical and across the
  three groups (:func:`nethep.permutation.permutation_logrank`, R ``coin``);
- the exact two-group P (:func:`nethep.permutation.exact_logrank`), its grid refined
  until the bounds lie within :data:`EXACT_RTOL` of P on grids of up to
  :data:`EXACT_MAX_COLUMNS` sums (the setting of the published results; the engine's
  default now refines to 1e-6);
- the survdiff-style log-rank test (:func:`nethep.survival.logrank`, R ``survdiff``),
  set beside the permutation test by :func:`logrank_comparison`;
- the stratified bootstrap of the Kaplan-Meier survival difference
  (:func:`nethep.bootstrap.bootstrap_survival_difference`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from nethep.bootstrap import BootstrapResult, bootstrap_survival_difference
from nethep.formats import p_digits, p_text
from nethep.permutation import (
    DEFAULT_SEED,
    ExactTest,
    PermutationTest,
    exact_logrank,
    permutation_logrank,
)
from nethep.robustness.design import compare_tables
from nethep.survival import LogRank, logrank

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


@dataclass(frozen=True)
class SmallSampleInference:
    """The permutation, exact, survdiff-style and bootstrap results of one cohort
    (see :func:`small_sample_inference`)."""

    permutation: PermutationTest  # surgical vs non-surgical
    three_groups: PermutationTest
    exact: ExactTest  # surgical vs non-surgical
    survdiff: LogRank  # surgical vs non-surgical, R survdiff
    bootstrap: BootstrapResult

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Both permutation tests, one row each (labelled in column ``comparison``)."""
        return compare_tables({"surgical vs non-surgical": self.permutation,
                               "three groups": self.three_groups},
                              label="comparison", min_cell=min_cell)

    def p_values(self) -> str:
        """The Monte Carlo and exact P values, and how far apart they are in Monte Carlo
        standard errors, one line each."""
        perm, exact, groups = self.permutation, self.exact, self.three_groups
        # More digits than the journal's style (p_digits): the Monte Carlo P is compared
        # with its Monte Carlo SE and with the exact P and its bounds.
        if perm.none_as_extreme:  # Monte Carlo SE 0: no distance in SEs to give
            distance = ("No permutation was as extreme as the observed statistic, so the "
                        "Monte Carlo P is only bounded; quote the exact P.")
        else:
            distance = (f"The Monte Carlo estimate lies {(perm.p - exact.p) / perm.mc_se:+.1f} "
                        "Monte Carlo SEs from the exact P.")
        return "\n".join([
            f"Surgical vs non-surgical: Monte Carlo permutation {perm.p_words(5)}, "
            f"{perm.n_permutations:,} permutations; exact P {_p_equals(exact.p, 6)} "
            f"(bounds {p_digits(exact.p_lower, 6)} to {p_digits(exact.p_upper, 6)}).",
            distance,
            f"Three groups: Monte Carlo permutation {groups.p_words(5)}.",
        ])

    def logrank_table(self) -> pd.DataFrame:
        """:func:`logrank_comparison` of the survdiff, permutation and exact tests."""
        return logrank_comparison(self.survdiff, self.permutation, self.exact)

    def variance_sentence(self) -> str:
        """How the permutation variance compares with survdiff's, and what it does to the
        chi-square."""
        tests = self.logrank_table()
        v_survdiff, v_perm = tests["variance"].iloc[0], tests["variance"].iloc[1]
        return (f"The permutation variance is {v_perm / v_survdiff:.0%} of the survdiff "
                f"variance, so the chi-square is {tests['chi_square'].iloc[1]:.2f} instead of "
                f"{tests['chi_square'].iloc[0]:.2f}.")

    def bootstrap_notes(self) -> str:
        """The survival difference, its bootstrap SE and BCa constants, and how
        resamples with no estimate were handled."""
        boot = self.bootstrap
        return (f"S({boot.at:g}) surgical {boot.surv_treated:.3f} minus non-surgical "
                f"{boot.surv_control:.3f} = {boot.estimate:.3f}; bootstrap SE "
                f"{boot.bootstrap_se:.3f}; BCa bias correction z0 = "
                f"{boot.bias_correction:.3f}, acceleration a = {boot.acceleration:.3f}.\n"
                + boot.nonestimable_handling)

    def finding(self) -> str:
        """Every P value and the bootstrap interval, as one paragraph."""
        perm, exact, boot = self.permutation, self.exact, self.bootstrap
        three = self.three_groups
        groups = three.p_words(5) if three.none_as_extreme else p_text(three.p)
        mc = perm.p_words(5) if perm.none_as_extreme else p_text(perm.p)
        # In the journal's style here; p_values() keeps the digits that compare the
        # Monte Carlo P with the exact P through its Monte Carlo SE.
        return (
            f"Exact inference: the exact log-rank test for surgical vs non-surgical gave "
            f"{p_text(exact.p)} (Monte Carlo permutation {mc}); "
            f"across the three groups, permutation {groups}. "
            "The survdiff-style log-rank test that matches "
            f"the paper gave {p_text(self.survdiff.p)}. The {boot.at:g}-month "
            f"survival difference was {boot.estimate:.2f} (bootstrap percentile 95% CI "
            f"{boot.percentile_lower:.2f} to {boot.percentile_upper:.2f}; BCa "
            f"{boot.bca_lower:.2f} to {boot.bca_upper:.2f}).")

    def to_results(self) -> dict[str, Any]:
        """``robustness.permutation_logrank``, ``exact_logrank`` and ``bootstrap``."""
        return {
            "permutation_logrank": {"surgical_vs_nonsurgical": self.permutation.to_results(),
                                    "three_groups": self.three_groups.to_results()},
            "exact_logrank": {"surgical_vs_nonsurgical": self.exact.to_results()},
            "bootstrap": {f"survival_{self.bootstrap.at:g}_diff":
                          self.bootstrap.to_results()},
        }


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
    return SmallSampleInference(
        permutation=permutation_logrank(t, e, df["arm"], n_permutations=n_permutations,
                                        seed=seed),
        three_groups=permutation_logrank(t, e, df["treatment_group"],
                                         n_permutations=n_permutations, seed=seed),
        exact=exact_logrank(t, e, df["arm"], rtol=EXACT_RTOL, max_columns=EXACT_MAX_COLUMNS),
        survdiff=logrank(df, "arm"),
        bootstrap=bootstrap_survival_difference(t, e, df["arm"], at=at,
                                                n_resamples=n_resamples, seed=seed),
    )
