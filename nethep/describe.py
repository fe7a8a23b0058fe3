"""Describe the cohort: patient flow and Table 1 by treatment group.

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
  (published / calibrated / simulated).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from nethep import privacy
from nethep.cohort import fields, treatment_groups
from nethep.exact import fisher_exact_rxc

__all__ = [
    "GROUPS",
    "TREATMENTS",
    "TUMOR_TYPES",
    "GROUP_TITLES",
    "TREATMENT_LABELS",
    "TUMOR_LABELS",
    "LIVER_CATEGORIES",
    "TABLE_ONE_VARIABLES",
    "GroupedValues",
    "PatientFlow",
    "TableOne",
    "Variable",
    "VariableTest",
    "data_results",
    "followup_results",
    "followup_sentence",
    "format_p",
    "liver_category",
    "max_pairwise_smd",
    "patient_flow",
    "smd_binary",
    "smd_categorical",
    "smd_continuous",
    "table_one",
    "values_by_group",
]


def _enum(column: str) -> tuple[str, ...]:
    return tuple(fields()[column]["constraints"]["enum"])


#: Treatment groups, treatments and tumour types in the study's (the contract's) order.
GROUPS: tuple[str, ...] = _enum("treatment_group")
TREATMENTS: tuple[str, ...] = _enum("treatment")
TUMOR_TYPES: tuple[str, ...] = _enum("tumor_type")

GROUP_TITLES = {"medical": "Medical", "embolization": "Embolization", "surgical": "Surgical"}
TREATMENT_LABELS = {
    "octreotide": "Octreotide",
    "observation": "Observation",
    "chemotherapy": "Systemic chemotherapy",
    "embolization": "Hepatic artery embolization",
    "resection": "Anatomical liver resection",
    "ablation": "Ablation",
    "resection_ablation": "Resection plus ablation",
}
TUMOR_LABELS = {"carcinoid": "Carcinoid", "islet_cell": "Islet cell"}

#: Liver involvement categories, left-closed: [0, 25), [25, 50), [50, 75), [75, 100].
LIVER_CATEGORIES: tuple[str, ...] = ("<25", "25-49", "50-74", ">=75")
_LIVER_BREAKS = (-math.inf, 25.0, 50.0, 75.0, math.inf)

Kind = Literal["continuous", "categorical", "binary"]


# --------------------------------------------------------------------------- helpers


def _provenance(column: str) -> tuple[str, str, str]:
    """Provenance, its note, and the provenance of the column's split across groups.

    The split defaults to the column's provenance; a contract field may say otherwise
    with the optional key ``group_split_provenance`` (e.g. totals published, split
    across treatment groups simulated).
    """
    spec = fields().get(column, {})
    provenance = spec.get("provenance", "unknown")
    return (provenance, spec.get("provenance_note", ""),
            spec.get("group_split_provenance", provenance))


def _counts(series: pd.Series, levels: Sequence[Any]) -> dict[Any, int]:
    counts = series.value_counts()
    return {level: int(counts.get(level, 0)) for level in levels}


def format_p(p: float | None) -> str:
    """P for display: three decimals, ``<0.001`` below that, empty when not computed."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _format_smd(smd: float | None) -> str:
    return "" if smd is None else f"{smd:.2f}"


def _none_if_nan(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def liver_category(values: pd.Series | Sequence[float]) -> pd.Series:
    """Liver involvement in the categories <25, 25-49, 50-74, >=75 % (left-closed bins).

    A value of exactly 25 goes to 25-49, exactly 50 to 50-74, exactly 75 to >=75;
    49.5 goes to 25-49 (the labels name [25, 50) and so on). Missing stays missing.
    """
    s = pd.Series(values, dtype="Float64") if not isinstance(values, pd.Series) else values
    cut = pd.cut(s.astype(float), bins=list(_LIVER_BREAKS), right=False,
                 labels=list(LIVER_CATEGORIES))
    return cut.astype(object).where(cut.notna(), None)


# --------------------------------------------------------------------------- SMD


def smd_continuous(a: Sequence[float], b: Sequence[float]) -> float:
    """Absolute SMD of two samples: |mean_a - mean_b| / sqrt((sd_a^2 + sd_b^2) / 2).

    Sample standard deviations (ddof 1), missing values ignored (Austin 2009).
    NaN when either sample has fewer than two values or both SDs are 0.
    """
    x = pd.Series(a, dtype=float).dropna().to_numpy()
    y = pd.Series(b, dtype=float).dropna().to_numpy()
    if len(x) < 2 or len(y) < 2:
        return float("nan")
    pooled = math.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    if pooled == 0:
        return float("nan")
    return float(abs(x.mean() - y.mean()) / pooled)


def smd_binary(p1: float, p2: float) -> float:
    """Absolute SMD of two proportions: |p1 - p2| / sqrt((p1 (1 - p1) + p2 (1 - p2)) / 2).

    NaN when both proportions are 0 or both are 1 (no variance).
    """
    var = (p1 * (1 - p1) + p2 * (1 - p2)) / 2
    if var == 0:
        return float("nan")
    return float(abs(p1 - p2) / math.sqrt(var))


def smd_categorical(counts_a: Sequence[int], counts_b: Sequence[int]) -> float:
    """Multi-level SMD of Yang & Dalton (2012) from counts per level in two groups.

    With proportion vectors p_a, p_b over k levels, T = (p_a - p_b) without the first
    level and S = (S_a + S_b) / 2, where S_g has p_gi (1 - p_gi) on the diagonal and
    -p_gi p_gj off it; SMD = sqrt(T' S^-1 T). Levels absent from both groups are
    dropped first (a Moore-Penrose inverse covers any remaining singularity). For two
    levels this equals :func:`smd_binary`. NaN when a group has no observations or
    fewer than two levels are observed.
    """
    a = np.asarray(counts_a, dtype=float)
    b = np.asarray(counts_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("counts_a and counts_b must be 1-d and of equal length")
    if a.sum() == 0 or b.sum() == 0:
        return float("nan")
    keep = (a + b) > 0
    a, b = a[keep], b[keep]
    if len(a) < 2:
        return float("nan")
    pa, pb = a / a.sum(), b / b.sum()
    t = (pa - pb)[1:]

    def cov(p: np.ndarray) -> np.ndarray:
        q = p[1:]
        return np.diag(q) - np.outer(q, q)

    s = (cov(pa) + cov(pb)) / 2
    value = float(t @ np.linalg.pinv(s) @ t)
    return float(math.sqrt(max(value, 0.0)))


def max_pairwise_smd(
    samples: Mapping[str, Any], smd: Callable[[Any, Any], float]
) -> float | None:
    """Largest finite ``smd(x, y)`` over every pair of groups; None if there is none."""
    names = list(samples)
    values = [smd(samples[a], samples[b]) for i, a in enumerate(names) for b in names[i + 1:]]
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else None


# --------------------------------------------------------------------------- patient flow


@dataclass(frozen=True)
class PatientFlow:
    """How many patients were identified and how they divide (study order, zeros kept).

    ``by_treatment`` holds every treatment of the contract, ``group_of`` maps each
    treatment to its group. ``first_year``/``last_year`` is the accrual window read
    from ``year_of_diagnosis`` (None when that column is empty).
    """

    n_identified: int
    by_tumor_type: dict[str, int]
    by_group: dict[str, int]
    by_treatment: dict[str, int]
    group_of: dict[str, str]
    first_year: int | None
    last_year: int | None

    def table(self) -> pd.DataFrame:
        """Tidy flow: step, level, label, parent, n and percent of the parent step."""
        rows = [{"step": "identified", "level": "all", "label": "Identified",
                 "parent": "", "n": self.n_identified}]
        rows += [{"step": "tumor_type", "level": t, "label": TUMOR_LABELS.get(t, t),
                  "parent": "all", "n": n} for t, n in self.by_tumor_type.items()]
        rows += [{"step": "treatment_group", "level": g, "label": GROUP_TITLES.get(g, g),
                  "parent": "all", "n": n} for g, n in self.by_group.items()]
        rows += [{"step": "treatment", "level": t, "label": TREATMENT_LABELS.get(t, t),
                  "parent": self.group_of[t], "n": n} for t, n in self.by_treatment.items()]
        out = pd.DataFrame(rows)
        parent_n = {"": self.n_identified, "all": self.n_identified, **self.by_group}
        denominators = out["parent"].map(parent_n).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = 100 * out["n"] / denominators
        out["percent_of_parent"] = pct.where(denominators > 0)
        if privacy.min_cell() > 1:  # a percentage of a known parent reveals the count
            small = out["n"].map(privacy.is_small)
            out["percent_of_parent"] = out["percent_of_parent"].mask(small)
            out = privacy.suppress_table(out, ["n"])
        return out

    def to_results(self) -> dict[str, Any]:
        """JSON-ready dict for the ``cohort`` section of ``results.json``."""
        return {
            "n_patients": self.n_identified,
            "n_by_group": dict(self.by_group),
            "n_by_tumor_type": dict(self.by_tumor_type),
            "n_by_treatment": dict(self.by_treatment),
            "accrual": {"first_year": self.first_year, "last_year": self.last_year},
        }

    def sentence(self) -> str:
        """One generated sentence describing the flow (small counts read ``<N``)."""
        mark = privacy.mark
        groups = ", ".join(f"{GROUP_TITLES.get(g, g).lower()} {mark(n)}"
                           for g, n in self.by_group.items())
        tumours = ", ".join(f"{TUMOR_LABELS.get(t, t).lower()} {mark(n)}"
                            for t, n in self.by_tumor_type.items())
        years = ("" if self.first_year is None
                 else f", diagnosed {self.first_year}-{self.last_year}")
        return (f"{mark(self.n_identified)} patients were identified{years}: {tumours}; "
                f"by treatment group {groups}.")

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


def patient_flow(df: pd.DataFrame) -> PatientFlow:
    """Count patients identified, by tumour type, by group and by treatment.

    Levels follow the contract's order and every level appears, with 0 when no
    patient has it. Accrual window: min and max of ``year_of_diagnosis``.
    """
    years = pd.to_numeric(df["year_of_diagnosis"], errors="coerce").dropna()
    return PatientFlow(
        n_identified=len(df),
        by_tumor_type=_counts(df["tumor_type"], TUMOR_TYPES),
        by_group=_counts(df["treatment_group"], GROUPS),
        by_treatment=_counts(df["treatment"], TREATMENTS),
        group_of=treatment_groups(),
        first_year=int(years.min()) if len(years) else None,
        last_year=int(years.max()) if len(years) else None,
    )


# --------------------------------------------------------------------------- values by group


@dataclass(frozen=True)
class GroupedValues:
    """The non-missing values of one column per treatment group (for strip plots)."""

    column: str
    label: str
    values: dict[str, tuple[float, ...]]
    n_missing: dict[str, int]

    def table(self) -> pd.DataFrame:
        """Per group: n, missing, median, Q1, Q3 (numpy linear quantiles), min, max."""
        rows = []
        for g, vals in self.values.items():
            v = np.asarray(vals, dtype=float)
            q = np.quantile(v, [0.25, 0.5, 0.75]) if len(v) else [np.nan] * 3
            rows.append({"group": g, "n": len(v), "missing": self.n_missing[g],
                         "median": q[1], "q1": q[0], "q3": q[2],
                         "min": v.min() if len(v) else np.nan,
                         "max": v.max() if len(v) else np.nan})
        return privacy.suppress_table(pd.DataFrame(rows), ["n", "missing"])

    def medians(self) -> dict[str, float | None]:
        """Median per group (None for a group without values)."""
        return {g: _none_if_nan(m) for g, m in zip(self.table()["group"],
                                                    self.table()["median"], strict=True)}


def values_by_group(df: pd.DataFrame, column: str, label: str | None = None) -> GroupedValues:
    """Non-missing values of ``column`` for each group in study order (missing counted)."""
    values, missing = {}, {}
    for g in GROUPS:
        sub = pd.to_numeric(df.loc[df["treatment_group"] == g, column], errors="coerce")
        values[g] = tuple(float(x) for x in sub.dropna())
        missing[g] = int(sub.isna().sum())
    return GroupedValues(column, label or column, values, missing)


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
             levels=TUMOR_TYPES, level_labels=TUMOR_LABELS),
    Variable("treatment", "Treatment (defines the groups; not tested)", "categorical",
             "treatment", levels=TREATMENTS, level_labels=TREATMENT_LABELS, test=False,
             structural=treatment_groups()),
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

    def table(self) -> pd.DataFrame:
        """Display table: variable, level, one text column per group and overall,
        P exact (or Kruskal-Wallis), P chi-square, SMD, missing, provenance.

        With small-cell suppression on (:func:`nethep.privacy.set_min_cell`), a count
        cell from 1 to N - 1 reads ``<N`` (its percentage is hidden too), and so does
        a column heading's n."""
        out = self.rows.copy()
        threshold = privacy.min_cell()
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

    def stats(self) -> pd.DataFrame:
        """Tidy numbers, one row per variable: test, statistic, p, smd and the rest."""
        out = pd.DataFrame([vars(r) for r in self.results])
        out["groups_tested"] = out["groups_tested"].map(", ".join)
        return privacy.suppress_table(out, ["n_missing", "n_excluded"])

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
        """JSON-ready dict for the ``treatment_groups`` section of ``results.json``."""
        liver = self.result("liver_involvement_pct") if any(
            r.variable == "liver_involvement_pct" for r in self.results) else None
        p_values: dict[str, dict[str, float | None]] = {}
        for r in self.results:
            if r.test == "kruskal":
                p_values[r.variable] = {"kruskal": r.p}
            elif r.test == "fisher_freeman_halton":
                p_values[r.variable] = {"exact": r.p, "chi2": r.chi2_p}
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
        return out

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
                f"{test} P = {format_p(r.p)}.")

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
        return " ".join(parts) if parts else "Every row comes from published data."

    def findings(self, alpha: float = 0.05) -> str:
        """Generated summary: which tested rows had P < ``alpha``, split by provenance."""
        tested = [r for r in self.results if r.p is not None]
        informative = [r for r in tested if r.group_split_provenance != "simulated"]
        simulated = [r for r in tested if r.group_split_provenance == "simulated"]

        def listing(rows: list[VariableTest]) -> str:
            hits = [f"{r.label} (P = {format_p(r.p)})" for r in rows
                    if r.p is not None and r.p < alpha]
            return "; ".join(hits) if hits else "none"

        parts = [f"{len(tested)} variables tested across the groups."]
        parts.append(f"P < {alpha:g} among rows from published or calibrated columns: "
                     f"{listing(informative)}.")
        if simulated:
            parts.append(f"P < {alpha:g} among simulated rows (no information about the "
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
_TEST_NAMES = {"kruskal": "Kruskal-Wallis", "fisher_freeman_halton": "Fisher-Freeman-Halton"}


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


def _kruskal(samples: dict[str, np.ndarray]) -> tuple[float | None, float | None, str]:
    present = {g: v for g, v in samples.items() if len(v)}
    if len(present) < 2:
        return None, None, f"fewer than 2 groups have values ({', '.join(present) or 'none'})"
    if len(np.unique(np.concatenate(list(present.values())))) < 2:
        return None, None, "all values are identical"
    res = stats.kruskal(*present.values())
    return float(res.statistic), _none_if_nan(res.pvalue), ""


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
    df: pd.DataFrame, var: Variable
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], VariableTest, GroupedValues | None]:
    """Rows of one variable, the count behind each count cell of those rows (same keys),
    its test result and, for a continuous variable, its values by group."""
    values = var.derive(df) if var.derive else df[var.column]
    excluded = (var.exclude(df).fillna(False).astype(bool) if var.exclude
                else pd.Series(False, index=df.index))
    groups = df["treatment_group"]
    prov_col = var.provenance_column or var.column
    provenance, note, split = _provenance(prov_col)
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
            statistic, p, reason = _kruskal(samples)
            stat.update(test="kruskal", statistic=statistic, p=p, reason=reason,
                        dof=len(tested) - 1 if p is not None else None,
                        smd=max_pairwise_smd({g: samples[g] for g in tested}, smd_continuous))
        grouped = GroupedValues(var.name, var.label,
                                {g: tuple(float(x) for x in samples[g]) for g in GROUPS},
                                {g: missing[g] for g in GROUPS})
    else:
        levels = list(var.levels)
        counts = {c: _counts(values[in_col[c]].dropna(), levels) for c in cols}
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
        **{k: (_none_if_nan(v) if k in {"statistic", "p", "chi2_statistic", "chi2_p",
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
    See the module docstring for every default.
    """
    group_n = _counts(df["treatment_group"], GROUPS)
    rows: list[dict[str, Any]] = []
    counted: list[dict[str, Any]] = []
    results: list[VariableTest] = []
    grouped: dict[str, GroupedValues] = {}
    for var in variables:
        block, block_counts, result, values = _variable_block(df, var)
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


# --------------------------------------------------------------------------- result helpers


def data_results(df: pd.DataFrame) -> dict[str, Any]:
    """JSON-ready dict for the ``data`` section: which data were analysed."""
    return {"reconstructed": bool(df.attrs.get("reconstructed", False)),
            "source": str(df.attrs.get("source", "unknown")), "n_rows": len(df)}


def followup_results(fu: Any) -> dict[str, Any]:
    """JSON-ready dict for the ``followup`` section from a :class:`nethep.survival.FollowUp`."""
    return {"median_months": _none_if_nan(fu.simple_median),
            "reverse_km_median_months": _none_if_nan(fu.reverse_km_median),
            "reverse_km_q1_months": _none_if_nan(fu.reverse_km_q1),
            "reverse_km_q3_months": _none_if_nan(fu.reverse_km_q3),
            "min_months": _none_if_nan(fu.min), "max_months": _none_if_nan(fu.max)}


def _num(x: float | None) -> str:
    return "not reached" if x is None or not math.isfinite(x) else f"{x:.1f}"


def followup_sentence(fu: Any) -> str:
    """A generated sentence comparing the two follow-up medians of a ``FollowUp``."""
    return (f"Simple median of observed times: {_num(fu.simple_median)} months "
            f"(range {_num(fu.min)} to {_num(fu.max)}); reverse Kaplan-Meier median: "
            f"{_num(fu.reverse_km_median)} months (IQR {_num(fu.reverse_km_q1)} to "
            f"{_num(fu.reverse_km_q3)}); n = {privacy.mark(fu.n)}.")
