"""Palliation of symptoms by treatment group, with exact small-sample methods.

Among symptomatic patients (``symptomatic == 1``), the proportion whose symptoms were
palliated (``palliated == 1``) is estimated per treatment group with an exact
Clopper-Pearson (1934) 95% interval (:func:`nethep.exact.clopper_pearson`, R's
``binom.test``). Whether palliation differs across the groups is tested on the
2 x k table (palliated yes / no by group) with the Fisher-Freeman-Halton exact test
(:func:`nethep.exact.fisher_exact_rxc`, R's ``fisher.test``), the test behind the
published "no difference, P = .2" as nethep reads the abstract. Pearson's chi-square
without continuity correction (``scipy.stats.chi2_contingency(correction=False)``, R's
``chisq.test(correct = FALSE)``) is reported beside it with the number of expected
counts below 5: with about 30 symptomatic patients most expected counts are small, the
chi-square approximation is unreliable (Cochran 1954), and the exact P is the one to read.

Groups present in the cohort but without symptomatic patients get no rate (``None``)
and are left out of both tests, with the reason recorded in
:attr:`PalliationResult.excluded`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nethep import privacy
from nethep.estimable import with_reason
from nethep.exact import clopper_pearson, fisher_exact_rxc
from nethep.formats import p_text
from nethep.survival import groups_present

__all__ = ["GroupPalliation", "PalliationResult", "palliation"]

#: Expected counts below this make the chi-square approximation doubtful (Cochran 1954).
SMALL_EXPECTED = 5.0
#: Two-sided significance level of the sentences.
ALPHA = 0.05


@dataclass(frozen=True)
class GroupPalliation:
    """Palliation in one treatment group (rate and CI are None without symptomatic patients)."""

    group: str
    n_patients: int
    n_symptomatic: int
    n_palliated: int
    rate: float | None
    lower: float | None
    upper: float | None
    in_test: bool


@dataclass(frozen=True)
class PalliationResult:
    """Palliation rates per group and the tests of a difference across groups.

    ``exact_p`` is the Fisher-Freeman-Halton exact P over ``tested_groups``;
    ``chi2_*`` is Pearson's chi-square (no continuity correction) on the same table,
    ``n_expected_below_5`` of its ``n_cells`` expected counts being below 5. Test
    values are None when fewer than two groups have symptomatic patients (and the
    chi-square also when every symptomatic patient, or none, was palliated, which
    leaves an expected count of zero); ``test_note`` then says why.
    """

    groups: tuple[GroupPalliation, ...]
    tested_groups: tuple[str, ...]
    excluded: tuple[tuple[str, str], ...]  # (group, reason)
    counts: tuple[tuple[int, ...], tuple[int, ...]]  # (palliated, not palliated) by group
    exact_p: float | None
    chi2_statistic: float | None
    chi2_df: int | None
    chi2_p: float | None
    n_expected_below_5: int | None
    n_cells: int
    min_expected: float | None
    conf_level: float
    test_note: str

    def group(self, name: str) -> GroupPalliation:
        """The row of one treatment group."""
        for g in self.groups:
            if g.group == name:
                return g
        raise KeyError(f"no treatment group {name!r}; present: "
                       f"{', '.join(g.group for g in self.groups)}")

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per group: counts, rate, exact CI, and whether it entered the tests.

        Counts from 1 to ``min_cell`` - 1 read ``<N`` (:mod:`nethep.privacy`); the rate
        and its CI are still shown (primary suppression only)."""
        excluded = dict(self.excluded)
        table = pd.DataFrame(
            [{"group": g.group, "n_patients": g.n_patients, "n_symptomatic": g.n_symptomatic,
              "n_palliated": g.n_palliated,
              "rate": np.nan if g.rate is None else g.rate,
              "lower": np.nan if g.lower is None else g.lower,
              "upper": np.nan if g.upper is None else g.upper,
              "in_test": g.in_test, "note": excluded.get(g.group, "")}
             for g in self.groups]
        )
        return privacy.suppress_table(table, ["n_patients", "n_symptomatic", "n_palliated"],
                                      min_cell)

    def contingency(self, min_cell: int = 0) -> pd.DataFrame:
        """The 2 x k table the tests use (rows palliated yes / no, columns groups);
        counts from 1 to ``min_cell`` - 1 read ``<N``."""
        table = pd.DataFrame(list(self.counts),
                             index=pd.Index(["yes", "no"], name="palliated"),
                             columns=list(self.tested_groups))
        return privacy.suppress_table(table, table.columns, min_cell)

    def tests_table(self) -> pd.DataFrame:
        """The exact test beside the chi-square, with the small-expected-count warning."""
        k = len(self.tested_groups)
        if self.n_expected_below_5 is None:
            chi2_note = self.test_note
        else:
            chi2_note = (f"{self.n_expected_below_5} of {self.n_cells} expected counts < 5 "
                         f"(smallest {self.min_expected:.2f})"
                         if self.n_expected_below_5 else "all expected counts >= 5")
        return pd.DataFrame([
            {"test": f"Fisher-Freeman-Halton exact (2 x {k})", "statistic": np.nan,
             "df": pd.NA, "p": np.nan if self.exact_p is None else self.exact_p,
             "note": "exact; preferred with small counts" if self.exact_p is not None
             else self.test_note},
            {"test": "Pearson chi-square, no continuity correction",
             "statistic": np.nan if self.chi2_statistic is None else self.chi2_statistic,
             "df": pd.NA if self.chi2_df is None else self.chi2_df,
             "p": np.nan if self.chi2_p is None else self.chi2_p, "note": chi2_note},
        ]).astype({"df": "Int64"})

    def to_results(self) -> dict[str, Any]:
        """The ``palliation`` section of ``results.json`` (unsuppressed); when a rate, limit
        or test is null, ``reason`` says why (groups without symptomatic patients, the
        tests' note)."""
        return with_reason({
            "n_symptomatic": {g.group: g.n_symptomatic for g in self.groups},
            "n_palliated": {g.group: g.n_palliated for g in self.groups},
            "rate": {g.group: g.rate for g in self.groups},
            "rate_ci": {g.group: {"lower": g.lower, "upper": g.upper} for g in self.groups},
            "exact_p": self.exact_p,
            "chi2_p": self.chi2_p,
            "chi2_statistic": self.chi2_statistic,
            "chi2_df": self.chi2_df,
            "n_expected_below_5": self.n_expected_below_5,
            "tested_groups": list(self.tested_groups),
            "excluded": dict(self.excluded),
            "conf_level": self.conf_level,
        }, self.reason())

    def reason(self) -> str:
        """Why a rate or a test has no value ("" when every one has): the groups left out
        and the tests' note."""
        parts = [f"{group}: {why}" for group, why in self.excluded]
        if self.exact_p is None or self.chi2_p is None:
            parts.append(self.test_note or "no test")
        return "; ".join(parts)

    def interval_widths(self) -> dict[str, int]:
        """Width in percentage points of each group's exact interval, as printed: the
        limits rounded to whole percentages first (so the widths agree with the limits
        a reader sees, e.g. 19% to 81% is 62 points). Groups without symptomatic patients
        are left out."""
        return {g.group: round(100 * g.upper) - round(100 * g.lower)
                for g in self.groups if g.lower is not None and g.upper is not None}

    def small_numbers_caveat(self, min_cell: int = 0) -> str:
        """The caveat on small numbers, computed from the data: how many symptomatic
        patients the groups have, how wide the exact intervals are
        (:meth:`interval_widths`) and what the exact P can and cannot say. Counts from 1
        to ``min_cell`` - 1 read ``<N``."""
        widths = sorted(self.interval_widths().values())
        if not widths:
            return "Small numbers: no group has symptomatic patients, so no rate is estimable."
        sizes = sorted(g.n_symptomatic for g in self.groups if g.rate is not None)
        mark = partial(privacy.mark, threshold=min_cell)
        n_text = (f"{mark(sizes[0])}" if sizes[0] == sizes[-1]
                  else f"{mark(sizes[0])} to {mark(sizes[-1])}")
        span = (f"{widths[0]}" if widths[0] == widths[-1] else f"{widths[0]} to {widths[-1]}")
        level = f"{100 * self.conf_level:.0f}%"
        if self.exact_p is None:
            test = ""
        elif self.exact_p >= ALPHA:
            test = (f", so the exact {p_text(self.exact_p)} means that the study could not "
                    "detect a difference, not that the groups are alike")
        else:
            test = (f"; the exact {p_text(self.exact_p)} says the rates differ, but not by "
                    "how much")
        return (f"Small numbers: {n_text} symptomatic patients per group; the exact {level} "
                f"intervals span {span} percentage points{test}.")

    def summary(self, min_cell: int = 0) -> str:
        """One generated sentence with the rates and both P values (counts from 1 to
        ``min_cell`` - 1 read ``<N``)."""
        mark = partial(privacy.mark, threshold=min_cell)
        rates = "; ".join(
            f"{g.group} {mark(g.n_palliated)}/{mark(g.n_symptomatic)} ({100 * g.rate:.0f}%, "
            f"{100 * self.conf_level:.0f}% CI {100 * g.lower:.0f}% to {100 * g.upper:.0f}%)"
            if g.rate is not None else f"{g.group}: no symptomatic patients"
            for g in self.groups
        )
        if self.exact_p is None:
            return f"Symptoms palliated: {rates}. No test across groups: {self.test_note}."
        chi2 = ("" if self.chi2_p is None else
                f"; Pearson chi-square {p_text(self.chi2_p)} with {self.n_expected_below_5} "
                f"of {self.n_cells} expected counts below 5")
        return (f"Symptoms palliated: {rates}. Fisher-Freeman-Halton exact "
                f"{p_text(self.exact_p)} across {len(self.tested_groups)} groups{chi2}.")


def palliation(df: pd.DataFrame, conf_level: float = 0.95) -> PalliationResult:
    """Palliation rates by treatment group with Clopper-Pearson CIs and exact/chi-square tests.

    ``df`` is a validated cohort (:func:`nethep.cohort.load_cohort`); only patients with
    ``symptomatic == 1`` count, and for them ``palliated`` is 0 or 1 (the contract's rule).
    Groups appear in the study order (medical, embolization, surgical) when present.
    """
    rows: list[GroupPalliation] = []
    excluded: list[tuple[str, str]] = []
    for g in groups_present(df, "treatment_group"):
        sub = df[df["treatment_group"] == g]
        sym = sub[sub["symptomatic"] == 1]
        n_sym = len(sym)
        n_pal = int((sym["palliated"] == 1).sum())
        if n_sym == 0:
            excluded.append((g, "no symptomatic patients"))
            rows.append(GroupPalliation(g, len(sub), 0, 0, None, None, None, False))
            continue
        lower, upper = clopper_pearson(n_pal, n_sym, conf_level)
        rows.append(GroupPalliation(g, len(sub), n_sym, n_pal, n_pal / n_sym, lower, upper,
                                    True))
    tested = [r for r in rows if r.in_test]
    yes = tuple(r.n_palliated for r in tested)
    no = tuple(r.n_symptomatic - r.n_palliated for r in tested)
    n_cells = 2 * len(tested)
    exact_p = chi2 = chi2_df = chi2_p = n_small = min_exp = None
    if len(tested) < 2:
        note = (f"fewer than 2 groups with symptomatic patients "
                f"({', '.join(r.group for r in tested) or 'none'})")
    else:
        exact_p = fisher_exact_rxc(np.array([yes, no]))
        if sum(yes) == 0 or sum(no) == 0:
            note = ("chi-square undefined: every symptomatic patient was "
                    f"{'not ' if sum(yes) == 0 else ''}palliated (an expected count is 0)")
        else:
            res = stats.chi2_contingency(np.array([yes, no]), correction=False)
            chi2, chi2_df, chi2_p = float(res.statistic), int(res.dof), float(res.pvalue)
            n_small = int((res.expected_freq < SMALL_EXPECTED).sum())
            min_exp = float(res.expected_freq.min())
            note = ""
    return PalliationResult(
        groups=tuple(rows), tested_groups=tuple(r.group for r in tested),
        excluded=tuple(excluded), counts=(yes, no), exact_p=exact_p,
        chi2_statistic=chi2, chi2_df=chi2_df, chi2_p=chi2_p, n_expected_below_5=n_small,
        n_cells=n_cells, min_expected=min_exp, conf_level=conf_level, test_note=note,
    )
