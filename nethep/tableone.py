"""Table 1: baseline characteristics by treatment group, with tests and SMDs.

Methods and defaults (each is also stated in notebook 02's methods cell):

- Counts in the study's order (groups medical, embolization, surgical; treatments as
  in the data contract). A group or level with no patients is shown with 0.
- Continuous variables: median [Q1, Q3] with numpy's default (linear, R type 7)
  quantiles; across-group P by the Kruskal-Wallis H test (``scipy.stats.kruskal``,
  chi-square approximation with the tie correction).
- Categorical variables: n (%) with the non-missing patients of the column as
  denominator; across-group P by the Fisher-Freeman-Halton exact test
  (:func:`nethep.exact.fisher_exact_rxc`, as R ``fisher.test``), with Pearson's
  chi-square P (``scipy.stats.chi2_contingency``, ``correction=False``) beside it
  for comparison only, since most expected counts are small.
- Standardized mean difference (SMD): the largest absolute pairwise SMD between
  groups (Austin 2009). Continuous: difference in means / sqrt((sd1^2 + sd2^2) / 2),
  sample SDs (ddof 1). Categorical: Yang & Dalton (2012) multi-level SMD,
  sqrt(T' S^-1 T), which for two levels equals the proportion formula
  (p1 - p2) / sqrt((p1 (1 - p1) + p2 (1 - p2)) / 2).
- Tests and SMDs use the groups that have data for the variable; with fewer than
  two such groups (or only one level observed) the P value is ``None`` with a reason.
- Missing values are counted per variable and group and shown, never dropped
  silently. ``months_to_treatment`` excludes patients under observation (they had
  no treatment); they are shown as an "excluded" row, not as missing.
- Every row carries the provenance of its column from ``data/datapackage.json``
  (published / calibrated / simulated) for the bundled reconstruction only; a user's
  cohort (``df.attrs["reconstructed"]`` false) reads "as supplied" in every row, and
  its sentences say nothing of simulation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from nethep import contract, privacy
from nethep.contract import GROUP_TITLES, GROUPS, fields
from nethep.describe import GroupedValues, counts_by_level
from nethep.estimable import with_reason
from nethep.exact import fisher_exact_rxc
from nethep.formats import finite_or_none, format_p, p_text
from nethep.smd import max_pairwise_smd, smd_categorical, smd_continuous

#: Liver involvement categories, left-closed: [0, 25), [25, 50), [50, 75), [75, 100].
LIVER_CATEGORIES: tuple[str, ...] = ("<25", "25-49", "50-74", ">=75")
_LIVER_BREAKS = (-math.inf, 25.0, 50.0, 75.0, math.inf)

Kind = Literal["continuous", "categorical", "binary"]


# --------------------------------------------------------------------------- helpers


#: The provenance of every column of a user's own cohort.
AS_SUPPLIED = "as supplied"


def _provenance(column: str, reconstructed: bool = True) -> tuple[str, str, str]:
    """Provenance, its note, and the provenance of the column's split across groups.

    The split defaults to the column's provenance; a contract field may say otherwise
    with the optional key ``group_split_provenance`` (e.g. totals published, split
    across treatment groups simulated). A user's cohort (``reconstructed`` false):
    :data:`AS_SUPPLIED`, no note.
    """
    if not reconstructed:
        return AS_SUPPLIED, "", AS_SUPPLIED
    spec = fields().get(column, {})
    provenance = spec.get("provenance", "unknown")
    return (provenance, spec.get("provenance_note", ""),
            spec.get("group_split_provenance", provenance))



def _format_smd(smd: float | None) -> str:
    return "" if smd is None else f"{smd:.2f}"


def liver_category(values: pd.Series | Sequence[float]) -> pd.Series:
    """Liver involvement in the categories <25, 25-49, 50-74, >=75 % (left-closed bins).

    A value of exactly 25 goes to 25-49, exactly 50 to 50-74, exactly 75 to >=75;
    49.5 goes to 25-49 (the labels name [25, 50) and so on). Missing stays missing.
    """
    s = pd.Series(values, dtype="Float64") if not isinstance(values, pd.Series) else values
    cut = pd.cut(s.astype(float), bins=list(_LIVER_BREAKS), right=False,
                 labels=list(LIVER_CATEGORIES))
    return cut.astype(object).where(cut.notna(), None)


# --------------------------------------------------------------------------- Table 1


@dataclass(frozen=True)
class Variable:
    """One Table 1 variable.

    ``column`` is read from the cohort (``derive`` may compute it from another
    column, whose provenance then applies: ``provenance_column``). For ``binary``
    only the levels in ``shown`` get a row; the test uses all of ``levels``.
    ``exclude`` marks rows that do not belong to the variable (shown as an
    "excluded" row with ``exclude_label``, not as missing). ``test=False`` shows
    counts only (no P, no SMD).
    """

    name: str
    label: str
    kind: Kind
    column: str
    levels: tuple[Any, ...] = ()
    level_labels: Mapping[Any, str] = field(default_factory=dict)
    shown: tuple[Any, ...] | None = None
    test: bool = True
    derive: Callable[[pd.DataFrame], pd.Series] | None = None
    provenance_column: str | None = None
    exclude: Callable[[pd.DataFrame], pd.Series] | None = None
    exclude_label: str = ""
    structural: Mapping[Any, str] | None = None  # level -> the only group it can occur in


TABLE_ONE_VARIABLES: tuple[Variable, ...] = (
    Variable("tumor_type", "Tumour type", "categorical", "tumor_type",
             levels=contract.TUMOR_TYPES, level_labels=contract.TUMOR_LABELS),
    Variable("treatment", "Treatment (defines the groups; not tested)", "categorical",
             "treatment", levels=contract.TREATMENTS, level_labels=contract.TREATMENT_LABELS,
             test=False, structural=contract.treatment_groups()),
    Variable("liver_involvement_pct", "Liver involvement, %", "continuous",
             "liver_involvement_pct"),
    Variable("liver_involvement_category", "Liver involvement, category (%)", "categorical",
             "liver_involvement_category", levels=LIVER_CATEGORIES,
             derive=lambda d: liver_category(d["liver_involvement_pct"]),
             provenance_column="liver_involvement_pct"),
    Variable("symptomatic", "Hormonal symptoms", "binary", "symptomatic",
             levels=(1, 0), level_labels={1: "yes", 0: "no"}, shown=(1,)),
    Variable("age_years", "Age, years", "continuous", "age_years"),
    Variable("sex", "Sex", "categorical", "sex", levels=("female", "male"),
             level_labels={"female": "female", "male": "male"}),
    Variable("months_to_treatment", "Months to first treatment", "continuous",
             "months_to_treatment",
             exclude=lambda d: d["treatment"] == "observation",
             exclude_label="excluded: observation, no treatment"),
)


@dataclass(frozen=True)
class VariableTest:
    """Across-group test and SMD of one variable."""

    variable: str
    label: str
    kind: str
    test: str | None
    statistic: float | None
    dof: int | None
    p: float | None
    chi2_statistic: float | None
    chi2_dof: int | None
    chi2_p: float | None
    chi2_min_expected: float | None
    smd: float | None
    groups_tested: tuple[str, ...]
    n_missing: int
    n_excluded: int
    provenance: str
    provenance_note: str
    group_split_provenance: str
    reason: str


@dataclass(frozen=True, repr=False)
class TableOne:
    """Table 1 by treatment group plus overall, with P values, SMDs and provenance.

    ``rows`` is the display table (see :meth:`table`), ``results`` the numeric
    test results per variable (see :meth:`stats`), ``n_by_group`` the column sizes.
    ``counts`` has the shape and labels of ``rows`` and holds the patient count
    behind each count cell ("n (%)", excluded, missing; NaN elsewhere), so that
    :meth:`table` can suppress small counts (:mod:`nethep.privacy`).
    """

    rows: pd.DataFrame
    results: tuple[VariableTest, ...]
    n_by_group: dict[str, int]
    grouped: dict[str, GroupedValues]
    counts: pd.DataFrame | None = None

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """Display table: variable, level, one text column per group and overall,
        P exact (or Kruskal-Wallis), P chi-square, SMD, missing, provenance.

        A count cell from 1 to ``min_cell`` - 1 reads ``<N`` (its percentage is hidden
        too), and so does a column heading's n."""
        out = self.rows.copy()
        threshold = min_cell
        if threshold <= 1:
            return out
        if self.counts is not None:
            small = self.counts.map(lambda c: privacy.is_small(c, threshold))
            out = out.mask(small.reindex_like(out).fillna(False).astype(bool),
                           f"<{threshold}")
        names = {}
        for col in out.columns:
            head = _HEADING_N.match(str(col))
            if head:
                names[col] = f"{head[1]} (n = {privacy.mark(int(head[2]), threshold)})"
        return out.rename(columns=names)

    def stats(self, min_cell: int = 0) -> pd.DataFrame:
        """Tidy numbers, one row per variable: test, statistic, p, smd and the rest;
        n_missing and n_excluded from 1 to ``min_cell`` - 1 read ``<N``."""
        out = pd.DataFrame([vars(r) for r in self.results])
        out["groups_tested"] = out["groups_tested"].map(", ".join)
        return privacy.suppress_table(out, ["n_missing", "n_excluded"], min_cell)

    def result(self, variable: str) -> VariableTest:
        """The :class:`VariableTest` of one variable."""
        for r in self.results:
            if r.variable == variable:
                return r
        raise KeyError(f"no variable {variable!r} in Table 1; have "
                       f"{', '.join(r.variable for r in self.results)}")

    def simulated_variables(self) -> list[str]:
        """Variables whose column is simulated in the data contract (no information)."""
        return [r.variable for r in self.results if r.provenance == "simulated"]

    def to_results(self) -> dict[str, Any]:
        """JSON-ready dict for the ``treatment_groups`` section of ``results.json``; when a
        P value, SMD or median is null, ``reason`` names each variable and why (its
        ``p_values`` entry also carries its own)."""
        liver = self.result("liver_involvement_pct") if any(
            r.variable == "liver_involvement_pct" for r in self.results) else None
        p_values: dict[str, dict[str, float | None]] = {}
        for r in self.results:
            if r.test == "kruskal":
                p_values[r.variable] = with_reason({"kruskal": r.p}, _why(r))
            elif r.test == "fisher_freeman_halton":
                p_values[r.variable] = with_reason({"exact": r.p, "chi2": r.chi2_p}, _why(r))
        out: dict[str, Any] = {
            "n_by_group": dict(self.n_by_group),
            "p_values": p_values,
            "smd": {r.variable: r.smd for r in self.results if r.test},
            "n_missing": {r.variable: r.n_missing for r in self.results},
            "simulated_variables": self.simulated_variables(),
        }
        if liver is not None:
            out["liver_involvement"] = {
                "kruskal_p": liver.p,
                "median_by_group": self.grouped["liver_involvement_pct"].medians(),
            }
        reasons = [f"{r.variable}: {_why(r)}" for r in self.results if _why(r)]
        empty = [g for g, n in self.n_by_group.items() if not n]
        if empty:
            reasons.append(f"no patients in {', '.join(empty)}")
        return with_reason(out, "; ".join(reasons))

    def difference_sentence(self, variable: str) -> str:
        """A plain sentence: did ``variable`` differ between the groups, by which test."""
        r = self.result(variable)
        name = r.label.split(",")[0]
        if r.p is None:
            return f"{name}: no test ({r.reason})."
        test = {"kruskal": "Kruskal-Wallis",
                "fisher_freeman_halton": "Fisher-Freeman-Halton exact test"}[r.test]
        verdict = ("did not differ detectably" if r.p >= 0.05 else "differed")
        detail = ""
        if variable in self.grouped:
            med = self.grouped[variable].medians()
            detail = " (median " + ", ".join(
                f"{GROUP_TITLES[g].lower()} {m:.1f}" for g, m in med.items() if m is not None
            ) + ")"
        groups = len(r.groups_tested)
        return (f"{name} {verdict} between the {groups} treatment groups{detail}: "
                f"{test} {p_text(r.p)}.")

    def provenance_sentence(self) -> str:
        """Which rows come from simulated columns, and notes on the other rows."""
        simulated = [r.label for r in self.results if r.provenance == "simulated"]
        calibrated = [r.label for r in self.results if r.provenance == "calibrated"]
        parts = []
        if simulated:
            parts.append("Simulated, with nothing published behind them, so they carry no "
                         "information about the real patients: " + "; ".join(simulated) + ".")
        split = [r.label for r in self.results
                 if r.provenance != "simulated" and r.group_split_provenance == "simulated"]
        if split:
            parts.append("Published in total but simulated in their split across the groups, "
                         "so the comparison carries no information: " + "; ".join(split) + ".")
        if calibrated:
            parts.append("Calibrated (drawn, then kept only when the published aggregate "
                         "came out): " + "; ".join(calibrated) + ".")
        notes = [f"{r.label}: {r.provenance_note}" for r in self.results
                 if r.provenance == "published" and r.provenance_note]
        parts += notes
        if all(r.provenance == AS_SUPPLIED for r in self.results):
            return "Every row is computed from the data as supplied."
        return " ".join(parts) if parts else "Every row comes from published data."

    def findings(self, alpha: float = 0.05) -> str:
        """Generated summary: which tested rows had P < ``alpha``, split by provenance."""
        tested = [r for r in self.results if r.p is not None]
        informative = [r for r in tested if r.group_split_provenance != "simulated"]
        simulated = [r for r in tested if r.group_split_provenance == "simulated"]

        def listing(rows: list[VariableTest]) -> str:
            hits = [f"{r.label} ({p_text(r.p)})" for r in rows
                    if r.p is not None and r.p < alpha]
            return "; ".join(hits) if hits else "none"

        parts = [f"{len(tested)} variables tested across the groups."]
        if all(r.provenance == AS_SUPPLIED for r in self.results):
            parts.append(f"P < {format_p(alpha)}: {listing(tested)}.")
            smds = [r for r in tested if r.smd is not None]
            if smds:
                top = max(smds, key=lambda r: r.smd or 0.0)
                parts.append(f"Largest SMD: {top.smd:.2f} ({top.label}).")
            return " ".join(parts)
        parts.append(f"P < {format_p(alpha)} among rows from published or calibrated columns: "
                     f"{listing(informative)}.")
        if simulated:
            parts.append(f"P < {format_p(alpha)} among simulated rows (no information about the "
                         f"real patients): {listing(simulated)}.")
        smds = [r for r in informative if r.smd is not None]
        if smds:
            top = max(smds, key=lambda r: r.smd or 0.0)
            parts.append(f"Largest SMD among non-simulated rows: {top.smd:.2f} ({top.label}).")
        return " ".join(parts)

    def __repr__(self) -> str:
        return self.table().to_string(index=False)

    def _repr_html_(self) -> str:
        return self.table().to_html(index=False)


_HEADING_N = re.compile(r"^(.*) \(n = (\d+)\)$")
_TEST_NAMES = MappingProxyType(
    {"kruskal": "Kruskal-Wallis", "fisher_freeman_halton": "Fisher-Freeman-Halton"})


def _why(r: VariableTest) -> str:
    """Why a variable's P value, chi-square or SMD is missing ("" when none is)."""
    missing = r.test and (r.p is None or r.smd is None
                          or (r.test == "fisher_freeman_halton" and r.chi2_p is None))
    return (r.reason or "not estimable with these values") if missing else ""


def _group_label(g: str, n: int | str) -> str:
    return f"{GROUP_TITLES.get(g, g)} (n = {n})"


def _median_iqr(values: pd.Series) -> str:
    v = values.dropna().to_numpy(dtype=float)
    if len(v) == 0:
        return "-"
    q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
    return f"{med:.1f} [{q1:.1f}, {q3:.1f}]"


def _n_pct(k: int, n: int) -> str:
    """``k (pct%)`` with the percentage rounded half up to one decimal (3/48 -> 6.3%)."""
    if n == 0:
        return "-"
    pct = Decimal(100 * k) / Decimal(n)
    return f"{k} ({pct.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%)"


def kruskal(samples: Mapping[str, Sequence[float]]) -> tuple[float | None, float | None, str]:
    """Kruskal-Wallis H across the groups that have values (``scipy.stats.kruskal``:
    chi-square approximation, tie correction): statistic, P and, when no test is
    possible (fewer than two groups with values, or every value identical), None, None
    and the reason."""
    present = {g: v for g, v in samples.items() if len(v)}
    if len(present) < 2:
        return None, None, f"fewer than 2 groups have values ({', '.join(present) or 'none'})"
    if len(np.unique(np.concatenate(list(present.values())))) < 2:
        return None, None, "all values are identical"
    res = stats.kruskal(*present.values())
    return float(res.statistic), finite_or_none(res.pvalue), ""


def kruskal_p(values: Sequence[float], groups: Sequence[str]) -> float | None:
    """Kruskal-Wallis P of ``values`` across treatment groups, in the study's order and
    with missing values left out, as Table 1 computes it (None when not computable)."""
    values, groups = np.asarray(values, dtype=float), np.asarray(groups)
    samples = {g: values[(groups == g) & ~np.isnan(values)] for g in GROUPS}
    return kruskal(samples)[1]


def _contingency_tests(table: np.ndarray, groups: Sequence[str]) -> dict[str, Any]:
    """Fisher-Freeman-Halton exact P and Pearson chi-square for a levels x groups table."""
    t = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    out: dict[str, Any] = {"p": None, "chi2_statistic": None, "chi2_dof": None,
                           "chi2_p": None, "chi2_min_expected": None, "reason": ""}
    if t.shape[1] < 2:
        present = [g for g, n in zip(groups, table.sum(axis=0), strict=True) if n > 0]
        out["reason"] = f"fewer than 2 groups have values ({', '.join(present) or 'none'})"
        return out
    if t.shape[0] < 2:
        out["reason"] = "only one level observed"
        return out
    out["p"] = fisher_exact_rxc(t)
    chi2, p, dof, expected = stats.chi2_contingency(t, correction=False)
    out.update(chi2_statistic=float(chi2), chi2_dof=int(dof), chi2_p=float(p),
               chi2_min_expected=float(expected.min()))
    return out


def _variable_block(
    df: pd.DataFrame, var: Variable, reconstructed: bool = True
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], VariableTest, GroupedValues | None]:
    """Rows of one variable, the count behind each count cell of those rows (same keys),
    its test result and, for a continuous variable, its values by group."""
    values = var.derive(df) if var.derive else df[var.column]
    excluded = (var.exclude(df).fillna(False).astype(bool) if var.exclude
                else pd.Series(False, index=df.index))
    groups = df["treatment_group"]
    prov_col = var.provenance_column or var.column
    provenance, note, split = _provenance(prov_col, reconstructed)
    cols = [*GROUPS, "overall"]
    in_col = {g: (groups == g) & ~excluded for g in GROUPS}
    in_col["overall"] = ~excluded
    missing = {c: int(values[in_col[c]].isna().sum()) for c in cols}
    n_excluded = {c: int((excluded & ((groups == c) if c != "overall" else True)).sum())
                  for c in cols}
    shown = provenance if split == provenance else f"{provenance}; split by group {split}"
    base = {"variable": var.label, "provenance": shown}
    rows: list[dict[str, Any]] = []
    counted: list[dict[str, Any]] = []  # the count behind each count cell of rows
    stat: dict[str, Any] = {"test": None, "statistic": None, "dof": None, "p": None,
                            "chi2_statistic": None, "chi2_dof": None, "chi2_p": None,
                            "chi2_min_expected": None, "smd": None, "reason": ""}
    grouped = None
    tested: tuple[str, ...] = ()

    if var.kind == "continuous":
        numeric = pd.to_numeric(values, errors="coerce").astype(float)
        samples = {g: numeric[in_col[g]].dropna().to_numpy() for g in GROUPS}
        row = {**base, "level": "median [Q1, Q3]"}
        for c in cols:
            row[c] = _median_iqr(numeric[in_col[c]])
        rows.append(row)
        counted.append({})
        tested = tuple(g for g in GROUPS if len(samples[g]))
        if var.test:
            statistic, p, reason = kruskal(samples)
            stat.update(test="kruskal", statistic=statistic, p=p, reason=reason,
                        dof=len(tested) - 1 if p is not None else None,
                        smd=max_pairwise_smd({g: samples[g] for g in tested}, smd_continuous))
        grouped = GroupedValues(var.name, var.label,
                                {g: tuple(float(x) for x in samples[g]) for g in GROUPS},
                                {g: missing[g] for g in GROUPS})
    else:
        levels = list(var.levels)
        counts = {c: counts_by_level(values[in_col[c]].dropna(), levels) for c in cols}
        denominators = {c: sum(counts[c].values()) for c in cols}
        for level in (var.shown if var.shown is not None else levels):
            row = {**base, "level": str(var.level_labels.get(level, level))}
            count_row = {}
            for c in cols:
                if (var.structural and c != "overall" and var.structural.get(level) != c):
                    row[c] = "-"
                else:
                    row[c] = _n_pct(counts[c][level], denominators[c])
                    count_row[c] = counts[c][level]
            rows.append(row)
            counted.append(count_row)
        tested = tuple(g for g in GROUPS if denominators[g] > 0)
        if var.test:
            table = np.array([[counts[g][lv] for g in GROUPS] for lv in levels], dtype=int)
            stat.update(test="fisher_freeman_halton", **_contingency_tests(table, GROUPS))
            stat["smd"] = max_pairwise_smd(
                {g: [counts[g][lv] for lv in levels] for g in tested}, smd_categorical)

    if var.exclude is not None:
        row = {**base, "level": f"({var.exclude_label})"}
        for c in cols:
            row[c] = str(n_excluded[c])
        rows.append(row)
        counted.append({c: n_excluded[c] for c in cols})
    if missing["overall"] > 0:
        row = {**base, "level": "(missing)"}
        for c in cols:
            row[c] = str(missing[c])
        rows.append(row)
        counted.append({c: missing[c] for c in cols})

    rows[0]["test"] = _TEST_NAMES.get(stat["test"], "")
    not_computed = "n/a" if var.test else ""
    rows[0]["p_exact"] = format_p(stat["p"]) or not_computed
    rows[0]["p_chi2"] = (format_p(stat["chi2_p"]) or not_computed
                         if stat["test"] == "fisher_freeman_halton" else "")
    rows[0]["smd"] = _format_smd(stat["smd"])
    rows[0]["missing"] = str(missing["overall"])
    counted[0]["missing"] = missing["overall"]
    if not var.test:
        stat["reason"] = "not tested: this variable defines the groups"
    result = VariableTest(
        variable=var.name, label=var.label, kind=var.kind,
        groups_tested=tested, n_missing=missing["overall"],
        n_excluded=n_excluded["overall"], provenance=provenance, provenance_note=note,
        group_split_provenance=split,
        **{k: (finite_or_none(v) if k in {"statistic", "p", "chi2_statistic", "chi2_p",
                                         "chi2_min_expected", "smd"} else v)
           for k, v in stat.items()},
    )
    return rows, counted, result, grouped


def table_one(
    df: pd.DataFrame, variables: Sequence[Variable] = TABLE_ONE_VARIABLES
) -> TableOne:
    """Table 1 by treatment group (medical, embolization, surgical) plus overall.

    Continuous: median [Q1, Q3], Kruskal-Wallis P, max pairwise SMD. Categorical:
    n (%) of non-missing, Fisher-Freeman-Halton exact P with Pearson chi-square P
    (no continuity correction) beside it, max pairwise Yang-Dalton SMD. Groups with
    no patients keep their column (n = 0, cells "-"); tests use the groups present.
    Provenance from the data contract for the bundled reconstruction; "as supplied"
    for a user's cohort (``df.attrs["reconstructed"]`` false; a frame without that
    attribute is taken as the reconstruction). See the module docstring for every
    default.
    """
    group_n = counts_by_level(df["treatment_group"], GROUPS)
    reconstructed = bool(df.attrs.get("reconstructed", True))
    rows: list[dict[str, Any]] = []
    counted: list[dict[str, Any]] = []
    results: list[VariableTest] = []
    grouped: dict[str, GroupedValues] = {}
    for var in variables:
        block, block_counts, result, values = _variable_block(df, var, reconstructed)
        rows += block
        counted += block_counts
        results.append(result)
        if values is not None:
            grouped[var.name] = values
    names = {g: _group_label(g, group_n[g]) for g in GROUPS}
    names["overall"] = f"Overall (n = {len(df)})"
    table = pd.DataFrame(rows).fillna("")
    order = ["variable", "level", *GROUPS, "overall", "test", "p_exact", "p_chi2", "smd", "missing",
             "provenance"]
    headings = {**names, "p_exact": "P", "p_chi2": "P (chi-square)",
                "smd": "SMD (max pairwise)"}
    table = table[order].rename(columns=headings)
    counts = (pd.DataFrame(counted, index=table.index, columns=order, dtype=float)
              .rename(columns=headings))
    return TableOne(table, tuple(results), group_n, grouped, counts)
