"""What the supplement says, read from a run's ``results.json``: numbered eTables as text.

Nothing is computed here but display: each cell is a value of ``results.json``
written at a stated rounding (:func:`fixed`, half up on the shortest decimal form, as
:mod:`nethep.formats`), P values in the journal's style (:func:`nethep.formats.format_p`).
The same :class:`ETable` objects feed the PDF (:mod:`nethep.supplement.typeset`) and the
Word file (:mod:`nethep.supplement.docx`), so both show the same text.

A count that small-cell suppression nulled (listed under ``suppressed`` in its section)
reads ``<N``; any other null reads "not estimable" (or "not reached" for a median), in
words. Sections written by optional analyses (``robustness.firth``, ``ensemble``,
``scenarios``) give an eTable only when present.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

import pandas as pd

from nethep import results as keys
from nethep.contract import GROUP_LABELS, GROUPS
from nethep.formats import NOT_ESTIMABLE, finite_or_none, format_p
from nethep.reconstruct import summary as ensemble_summary
from nethep.results import key, lookup
from nethep.tableone import TABLE_ONE_VARIABLES

#: Survival curves shown in the survival eTable, in order.
CURVES = (*GROUPS, "nonsurgical")
ABBREVIATIONS = "CI, confidence interval; HR, hazard ratio"
NOT_REACHED = "not reached"
#: Table 1 variables by name, as Table 1 labels them.
VARIABLE_LABELS = MappingProxyType({v.name: v.label for v in TABLE_ONE_VARIABLES})


@dataclass(frozen=True)
class Cell:
    """One table cell: its text and the results.json key(s) it was written from."""

    text: str
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ETable:
    """A numbered supplementary table: ``label`` is its cross-reference name."""

    label: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    notes: tuple[str, ...] = ()

    def texts(self) -> list[list[str]]:
        """The body as text, row by row."""
        return [[c.text for c in row] for row in self.rows]


@dataclass(frozen=True)
class Values:
    """Reads ``results.json`` for display: suppressed counts as ``<N``, nulls in words."""

    results: Mapping[str, Any]

    @property
    def min_cell(self) -> int:
        """The run's small-cell threshold (0 when nothing was suppressed)."""
        found = [int(v[keys.SUPPRESSED].get("min_cell") or 0)
                 for v in self.results.values()
                 if isinstance(v, Mapping) and isinstance(v.get(keys.SUPPRESSED), Mapping)]
        return max(found, default=0)

    def get(self, dotted: str) -> Any:
        """The value at ``dotted`` (None when absent)."""
        return lookup(self.results, dotted)

    def has(self, dotted: str) -> bool:
        """Whether ``dotted`` is present (its value may be null)."""
        head, _, last = dotted.rpartition(".")
        parent = lookup(self.results, head) if head else self.results
        return isinstance(parent, Mapping) and last in parent

    def suppressed(self, dotted: str) -> bool:
        """Whether ``dotted`` is a count that small-cell suppression nulled."""
        section, _, rest = dotted.partition(".")
        info = lookup(self.results, key(section, keys.SUPPRESSED))
        return isinstance(info, Mapping) and rest in (info.get("keys") or [])

    def count(self, dotted: str) -> Cell:
        """A patient count: the number, ``<N`` when suppressed, else "not available"."""
        value = self.get(dotted)
        if value is None:
            text = f"<{self.min_cell}" if self.suppressed(dotted) else "not available"
        else:
            text = str(int(value))
        return Cell(text, (dotted,))

    def number(self, dotted: str, places: int, missing: str = NOT_ESTIMABLE) -> Cell:
        """A number at ``places`` decimals, or ``missing`` in words."""
        return Cell(fixed(self.get(dotted), places, missing), (dotted,))

    def p(self, dotted: str) -> Cell:
        """A P value in the journal's style, or "not estimable"."""
        value = finite_or_none(self.get(dotted))
        return Cell(NOT_ESTIMABLE if value is None else format_p(value), (dotted,))

    def interval(self, base: str, places: int, scale: float = 1.0,
                 parts: Sequence[str] = ("hr", "lower", "upper"),
                 missing: str = NOT_ESTIMABLE) -> Cell:
        """``estimate (lower to upper)`` from ``base.<parts>``, scaled (100 for %)."""
        est, lo, hi = (finite_or_none(self.get(key(base, p))) for p in parts)
        dotted = tuple(key(base, p) for p in parts)
        if est is None:
            return Cell(missing, dotted)
        text = fixed(est * scale, places)
        if lo is None or hi is None:
            return Cell(f"{text} (CI not estimable)", dotted)
        return Cell(f"{text} ({fixed(lo * scale, places)} to {fixed(hi * scale, places)})",
                    dotted)


def fixed(value: Any, places: int, missing: str = NOT_ESTIMABLE) -> str:
    """``value`` rounded half up to ``places`` decimals (``missing`` when None/NaN/inf)."""
    number = finite_or_none(value)
    if number is None:
        return missing
    rounded = Decimal(repr(number)).quantize(Decimal(1).scaleb(-places),
                                             rounding=ROUND_HALF_UP)
    text = f"{rounded:.{places}f}"
    return "0" + text[2:] if text.startswith("-0") and set(text[2:]) <= {"0", "."} else text


def label(name: str) -> Cell:
    """A row label: group and Table 1 labels, other names with spaces."""
    return Cell(GROUP_LABELS.get(name) or VARIABLE_LABELS.get(name)
                or name.replace("_", " "))


# --------------------------------------------------------------------------- eTables


#: Table 1 headings as the eTable prints them (others as displayed).
TABLE_ONE_HEADINGS = MappingProxyType({
    "variable": "Characteristic", "level": "", "test": "Test", "P (chi-square)":
    "P, chi-square", "SMD (max pairwise)": "SMD", "missing": "Missing, n",
    "provenance": "Data source"})


def displayed_table_one(display: pd.DataFrame, v: Values) -> ETable:
    """Table 1 as the run's notebook displayed it (text, small counts as ``<N``); a
    variable's name is printed on its first row only."""
    rows, previous = [], None
    for record in display.itertuples(index=False):
        cells = [str(x) for x in record]
        if cells[0] == previous:
            cells[0] = ""
        else:
            previous = cells[0]
        rows.append(tuple(Cell(c) for c in cells))
    columns = tuple(TABLE_ONE_HEADINGS.get(c, c) for c in display.columns)
    notes = [f"{ABBREVIATIONS}; IQR, interquartile range; SMD, standardized mean "
             "difference (largest absolute pairwise).",
             "n (%) of the patients of the column with a value; continuous variables as "
             "median [Q1, Q3]. P across the three groups: Kruskal-Wallis test for "
             "continuous variables, Fisher-Freeman-Halton exact test for categorical "
             "variables; Pearson chi-square P beside it for comparison only (expected "
             "counts are small). A dash: a treatment that cannot occur in the group.",
             "Data source: published (the article's numbers), calibrated (fitted to "
             "them) or simulated (no information: any difference is an artefact)."]
    if v.min_cell > 1:
        notes.append(f"Counts below {v.min_cell} are shown as <{v.min_cell}, and so are "
                     "their percentages.")
    return ETable("etab-baseline", "Baseline characteristics by treatment group (Table 1)",
                  columns, tuple(rows), tuple(notes))


def baseline_table(v: Values) -> ETable | None:
    """Table 1 from ``treatment_groups``: the tests, SMDs and missing counts per variable
    (used when the notebook's displayed table is not available)."""
    if not isinstance(v.get("treatment_groups"), Mapping):
        return None
    sizes = ", ".join(f"{GROUP_LABELS[g]} {v.count(key('treatment_groups.n_by_group', g)).text}"
                      for g in GROUPS)
    tests = v.get("treatment_groups.p_values") or {}
    rows = []
    for var in sorted(set(tests) | set(v.get("treatment_groups.smd") or {})):
        pv = tests.get(var) or {}
        base = key("treatment_groups.p_values", var)
        if "kruskal" in pv:
            test, p, chi2 = "Kruskal-Wallis", v.p(key(base, "kruskal")), Cell("")
        elif pv:
            test, p, chi2 = ("Fisher-Freeman-Halton exact", v.p(key(base, "exact")),
                             v.p(key(base, "chi2")))
        else:
            test, p, chi2 = "not tested", Cell(""), Cell("")
        rows.append((label(var), Cell(test), p, chi2,
                     v.number(key("treatment_groups.smd", var), 2),
                     v.count(key("treatment_groups.n_missing", var))))
    return ETable(
        "etab-baseline", "Baseline characteristics by treatment group: tests across the "
        "groups and standardized mean differences (Table 1)",
        ("Characteristic", "Test", "P", "P, chi-square", "SMD", "Missing, n"), tuple(rows),
        (f"Patients per group: {sizes}.",
         f"{ABBREVIATIONS}; SMD, standardized mean difference (largest absolute pairwise).",
         "P: Kruskal-Wallis test for continuous variables, Fisher-Freeman-Halton exact test "
         "for categorical variables; Pearson chi-square P beside it for comparison only "
         "(expected counts are small).",
         "The counts and medians of each level are on the notebook page "
         "02_treatment_groups.html of the same run."))


def survival_table(v: Values) -> ETable | None:
    """Kaplan-Meier survival at 12, 36 and 60 months and median survival, by group."""
    if v.get(keys.SURVIVAL_AT) is None:
        return None
    rows = []
    for curve in CURVES:
        cells = [v.interval(key(keys.SURVIVAL_AT, t, curve), 1, 100.0,
                            keys.LIMITS) for t in keys.SURVIVAL_MONTHS]
        median = _median(v, key("survival.median", curve))
        rows.append((label(curve), *cells, median))
    lr2, lr3 = keys.LOGRANK_ARMS, keys.LOGRANK_GROUPS
    notes = (
        f"{ABBREVIATIONS}. Survival in % (95% CI), Kaplan-Meier with Greenwood standard "
        "errors and pointwise CIs on the log(-log) scale; median survival in months with "
        "the Brookmeyer-Crowley CI. \u201cNot estimable\u201d: no patient of the group was "
        "followed that long, or the CI has no finite limit.",
        f"Log-rank test, surgical vs non-surgical: chi-square "
        f"{v.number(key(lr2, 'statistic'), 2).text}, P = {v.p(key(lr2, 'p')).text}; across "
        f"the three groups: chi-square {v.number(key(lr3, 'statistic'), 2).text}, "
        f"P = {v.p(key(lr3, 'p')).text}.",
    )
    heads = tuple(f"{t} months, % (95% CI)" for t in keys.SURVIVAL_MONTHS)
    return ETable("etab-survival", "Overall survival at 12, 36 and 60 months and median "
                  "survival by treatment group", ("Group", *heads,
                                                  "Median, months (95% CI)"),
                  tuple(rows), notes)


def _median(v: Values, base: str) -> Cell:
    """Median survival (CI); a median or limit the curve never reaches reads "not reached"."""
    est, lo, hi = (v.number(key(base, p), 1, NOT_REACHED).text for p in keys.LIMITS)
    return Cell(f"{est} ({lo} to {hi})", tuple(key(base, p) for p in keys.LIMITS))


def cox_table(v: Values) -> ETable | None:
    """Hazard ratio, surgical vs non-surgical: Cox (Wald, likelihood-ratio and score
    tests) and, when present, Firth's penalized Cox; the primary one named."""
    if v.get(keys.COX) is None:
        return None
    primary = v.get(key(keys.PRIMARY, "model"))

    def role(model: str) -> Cell:
        if primary is None:
            return Cell("")
        return Cell("primary" if primary == model else "sensitivity", (key(keys.PRIMARY,
                                                                          "model"),))

    rows = [(Cell("Cox, Efron ties"), v.interval(keys.COX, 2), v.p(key(keys.COX, "p")),
             Cell("Wald"), role("cox"))]
    notes = [f"{ABBREVIATIONS}. Surgical vs non-surgical (medical or embolization); "
             "HR below 1: lower hazard of death in the surgical group."]
    if v.has(key(keys.COX, "ph_p")):
        note = ("Proportional hazards, scaled Schoenfeld residual test: "
                f"P = {v.p(key(keys.COX, 'ph_p')).text}")
        if v.get(keys.PH_TEST_INFORMATIVE) is False:
            note += ", uninformative: an arm has fewer than 5 deaths"
        notes.append(note + ".")
    for name, test in (("lr_p", "likelihood ratio"), ("score_p", "score")):
        if v.has(key(keys.COX_TESTS, name)):
            rows.append((Cell("Cox, Efron ties"), Cell(""), v.p(key(keys.COX_TESTS, name)),
                         Cell(test), Cell("")))
    for base, ties in ((keys.FIRTH, "Efron"), (keys.FIRTH_BRESLOW, "Breslow")):
        if isinstance(v.get(base), Mapping):
            rows.append((Cell(f"Firth penalized Cox, {ties} ties"), v.interval(base, 2),
                         v.p(key(base, "p_lr")), Cell("penalized likelihood ratio"),
                         role("firth") if ties == "Efron" else Cell("")))
    if isinstance(v.get(keys.FIRTH), Mapping):
        notes.append("Firth: penalized partial likelihood (Heinze and Schemper, see "
                     "eReferences) with profile-likelihood CI; finite when a group has no "
                     "deaths.")
    rule = v.get(key(keys.PRIMARY, "rule"))
    if rule:
        notes.append(f"Primary analysis: {rule}")
    return ETable("etab-cox", "Hazard ratio for death, surgical vs non-surgical treatment",
                  ("Model", "HR (95% CI)", "P", "Test", "Role"), tuple(rows), tuple(notes))


def palliation_table(v: Values) -> ETable | None:
    """Palliation of symptoms among symptomatic patients, by group."""
    if v.get("palliation") is None:
        return None
    rows = tuple(
        (label(g), v.count(key(keys.PALLIATION_N_SYMPTOMATIC, g)),
         v.count(key("palliation.n_palliated", g)),
         _rate(v, g)) for g in GROUPS)
    notes = (
        f"{ABBREVIATIONS}. Rate: palliated / symptomatic, in %, with the Clopper-Pearson "
        "exact 95% CI.",
        "Across the three groups: Fisher-Freeman-Halton exact test, "
        f"P = {v.p(keys.PALLIATION_EXACT_P).text}; Pearson chi-square, "
        f"P = {v.p(keys.PALLIATION_CHI2_P).text} (for comparison only: expected counts "
        "are small).",
    )
    return ETable("etab-palliation", "Palliation of hormonal symptoms by treatment group",
                  ("Group", "Symptomatic, n", "Palliated, n", "Rate, % (95% CI)"),
                  rows, notes)


def _rate(v: Values, group: str) -> Cell:
    counts = (key(keys.PALLIATION_N_SYMPTOMATIC, group), key("palliation.n_palliated", group))
    if any(v.suppressed(c) for c in counts):
        return Cell(f"suppressed (a count is below {v.min_cell})", counts)
    est = finite_or_none(v.get(key(keys.PALLIATION_RATE, group)))
    ci = key("palliation.rate_ci", group)
    lo, hi = (finite_or_none(v.get(key(ci, p))) for p in ("lower", "upper"))
    dotted = (key(keys.PALLIATION_RATE, group), key(ci, "lower"), key(ci, "upper"))
    if est is None:
        return Cell(NOT_ESTIMABLE, dotted)
    if lo is None or hi is None:
        return Cell(f"{fixed(100 * est, 1)} (CI not estimable)", dotted)
    return Cell(f"{fixed(100 * est, 1)} ({fixed(100 * lo, 1)} to {fixed(100 * hi, 1)})",
                dotted)


#: What each role of a robustness-summary row means.
ROLE_WORDS = MappingProxyType({
    "primary": "the stated primary analysis (its rule is given under the hazard-ratio eTable)",
    "reference": "the unadjusted analysis", "main": "a main sensitivity analysis",
    "sensitivity": "a sensitivity analysis",
    "alternative": "an alternative to one choice of a main analysis",
})


def robustness_table(v: Values) -> ETable | None:
    """The robustness summary: every sensitivity analysis beside the reference."""
    rows_in = v.get("robustness.summary")
    if not isinstance(rows_in, list) or not rows_in:
        return None
    rows = []
    for i, r in enumerate(rows_in):
        base = f"robustness.summary[{i}]"
        measure = str(r.get("measure", ""))
        is_p = measure == "P value"
        places = 1 if "months" in measure else 2
        if is_p:
            value = Cell(format_p(r.get("estimate")) or NOT_ESTIMABLE, (f"{base}.estimate",))
        else:
            value = _row_interval(r, places, base)
        n = r.get("n")
        n_cell = Cell(str(int(n)) if n is not None else (
            f"<{v.min_cell}" if v.suppressed(f"{base}.n") else "not available"))
        rows.append((Cell(str(r.get("analysis", ""))), Cell(str(r.get("role", ""))),
                     Cell(measure), value, n_cell))
    roles = [r for r in ROLE_WORDS if any(row.get("role") == r for row in rows_in)]
    notes = (f"{ABBREVIATIONS}; ATE, average treatment effect (whole cohort); ATT, average "
             "treatment effect in the treated; IPTW, inverse probability of treatment "
             "weighting; RMST, restricted mean survival time.",
             "Role: " + "; ".join(f"{r}, {ROLE_WORDS[r]}" for r in roles)
             + ". Estimates are associations in observational data, not effects of "
             "treatment.")
    return ETable("etab-robustness", "Sensitivity analyses of the survival difference "
                  "between surgical and non-surgical treatment",
                  ("Analysis", "Role", "Measure", "Estimate (95% CI)", "Patients, n"),
                  tuple(rows), notes)


def _row_interval(row: Mapping[str, Any], places: int, base: str) -> Cell:
    est, lo, hi = (finite_or_none(row.get(p)) for p in ("estimate", "lower", "upper"))
    dotted = tuple(f"{base}.{p}" for p in ("estimate", "lower", "upper"))
    if est is None:
        return Cell(NOT_ESTIMABLE, dotted)
    if lo is None or hi is None:
        return Cell(f"{fixed(est, places)} (CI not estimable)", dotted)
    return Cell(f"{fixed(est, places)} ({fixed(lo, places)} to {fixed(hi, places)})", dotted)


def _ensemble_value(v: Values, name: str, part: str) -> Cell:
    dotted = key("ensemble.quantities", name, part)
    value = finite_or_none(v.get(dotted))
    if value is None:  # the analysed cohort's own value may be "not reached", not missing
        text = ensemble_summary.missing_words(name) if part == "bundled" else NOT_ESTIMABLE
    else:
        text = ensemble_summary.fmt(name, value)
    return Cell(text, (dotted,))


def ensemble_table(v: Values) -> ETable | None:
    """Ranges over the ensemble of abstract-consistent reconstructions (``ensemble``)."""
    quantities = v.get("ensemble.quantities")
    if not isinstance(quantities, Mapping) or not quantities:
        return None
    rows = []
    for name in quantities:
        rows.append((Cell(ensemble_summary.LABELS.get(name, name.replace("_", " "))),
                     _ensemble_value(v, name, "bundled"), _ensemble_value(v, name, "median"),
                     Cell(f"{_ensemble_value(v, name, 'lower').text} to "
                          f"{_ensemble_value(v, name, 'upper').text}",
                          (key("ensemble.quantities", name, "lower"),
                           key("ensemble.quantities", name, "upper")))))
    n = v.get("ensemble.n_members")
    members = f"{int(n)} members" if n is not None else "its members"
    return ETable("etab-ensemble", "Quantities the abstract does not fix: the analysed "
                  "cohort beside the ensemble of abstract-consistent reconstructions",
                  ("Quantity", "Analysed cohort", "Ensemble median", "2.5% to 97.5%"),
                  tuple(rows),
                  (f"{ABBREVIATIONS}; RMST, restricted mean survival time.",
                   f"Ensemble of {members}, each consistent with every number of the "
                   "published abstract; P values in the journal's style, months to one "
                   "decimal, deaths whole."))


SCENARIO_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("bias", "Bias", 3), ("coverage", "Coverage", 3), ("rejection", "Rejection at .05", 3),
    ("n_replicates", "Replicates", 0), ("n_failed", "Not estimable", 0),
)


def scenarios_table(v: Values) -> ETable | None:
    """Bias, coverage and rejection of each method under known-truth scenarios."""
    scenarios = v.get("scenarios")
    if not isinstance(scenarios, Mapping):
        return None
    rows = []
    for scenario, methods in scenarios.items():
        if not isinstance(methods, Mapping):
            continue
        for method, numbers in methods.items():
            if not isinstance(numbers, Mapping) or "bias" not in numbers:
                continue
            base = key("scenarios", scenario, method)
            truth = "true_rmst_difference" if "true_rmst_difference" in numbers else "true_hr"
            rows.append((label(scenario), label(method),
                         v.number(key(base, truth), 2, "not available"),
                         Cell(str(numbers.get("scale") or "")),
                         *(v.number(key(base, part), places, "not available")
                           for part, _, places in SCENARIO_COLUMNS)))
    if not rows:
        return None
    return ETable("etab-scenarios", "Known-truth simulation scenarios: bias, coverage of "
                  "the 95% CI and rejection rate of each method",
                  ("Scenario", "Method", "True value", "Scale",
                   *(h for _, h, _ in SCENARIO_COLUMNS)), tuple(rows),
                  (f"{ABBREVIATIONS}. True value: the hazard ratio of the generating model "
                   "(for RMST, the true difference in months). Bias on the scale shown; "
                   "coverage: share of replicates whose 95% CI holds the true value; "
                   "rejection: share with P < .05; not estimable: replicates without an "
                   "estimate (counted, never dropped silently).",))


def comparison_table(v: Values) -> ETable | None:
    """The published abstract's numbers beside this run's."""
    rows_in = v.get(keys.PAPER_VS_OURS)
    if not isinstance(rows_in, list) or not rows_in:
        return None
    rows = tuple(
        (Cell(str(r.get("quantity", ""))), Cell(str(r.get("published", ""))),
         Cell(str(r.get("ours") if r.get("ours") is not None else "not available")),
         Cell({True: "yes", False: "no"}.get(r.get("matches"), "not compared")))
        for r in rows_in if isinstance(r, Mapping))
    return ETable("etab-comparison", "Numbers of the published abstract and of this "
                  "analysis, compared at the paper's rounding",
                  ("Published quantity", "Published", "This analysis", "Matches"), rows,
                  ("Matches: equal at the rounding the paper used.",))


#: Every eTable builder, in the order the eTables are numbered.
TABLE_BUILDERS: tuple[Callable[[Values], ETable | None], ...] = (
    baseline_table, survival_table, cox_table, palliation_table, robustness_table,
    ensemble_table, scenarios_table, comparison_table,
)


def etables(results: Mapping[str, Any],
            table_one: pd.DataFrame | None = None) -> tuple[ETable, ...]:
    """The eTables of a run, in order (those whose section is absent are left out);
    ``table_one``: Table 1 as the run displayed it, shown instead of the results.json
    part of it."""
    v = Values(results)
    built = [build(v) for build in TABLE_BUILDERS]
    if table_one is not None and not table_one.empty:
        built[0] = displayed_table_one(table_one, v)
    return tuple(t for t in built if t is not None)
