"""Manuscript-ready text generated from a run: methods paragraph and STROBE map.

Every number in :func:`methods_text` is read from ``results.json`` (the same
numbers the notebooks display) and every method name from the code's stated
defaults; software versions are read from the running environment. Nothing is
typed by hand, so a different cohort gives a different paragraph.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from nethep.results import flatten

PACKAGES = ("nethep", "numpy", "pandas", "scipy", "lifelines", "statsmodels", "matplotlib",
            "pandera", "papermill")


def software_versions() -> dict[str, str]:
    """Python and package versions of this environment."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _p(value: Any) -> str:
    if value is None:
        return "not estimable"
    return "P < .001" if value < 0.001 else f"P = {value:.3f}".replace("0.", ".", 1)


def _num(value: Any, digits: int = 1) -> str:
    return "not estimable" if value is None else f"{value:.{digits}f}"


def _pct(value: Any) -> str:
    return "not estimable" if value is None else f"{100 * value:.0f}%"


def _suppressed(results: Mapping[str, Any]) -> tuple[int, set[str]]:
    """The small-cell threshold of a run and its suppressed keys (dotted, with section)."""
    threshold, keys = 0, set()
    for section, values in results.items():
        info = values.get("suppressed") if isinstance(values, Mapping) else None
        if isinstance(info, Mapping):
            threshold = max(threshold, int(info.get("min_cell") or 0))
            keys |= {f"{section}.{k}" for k in info.get("keys", [])}
    return threshold, keys


def methods_text(results: Mapping[str, Any]) -> str:
    """A statistical-methods paragraph (Markdown) filled in from ``results.json``.

    A count that small-cell suppression nulled (``suppressed`` in its section) reads
    ``<N``.
    """
    r = flatten(results)
    threshold, hidden = _suppressed(results)

    def get(key: str) -> Any:
        return f"<{threshold}" if key in hidden else r.get(key)

    groups = ("medical", "embolization", "surgical")
    n_groups = ", ".join(f"{g} {get(f'cohort.n_by_group.{g}')}" for g in groups)
    versions = software_versions()
    soft = ", ".join(f"{k} {v}" for k, v in versions.items() if k != "python")
    lines = ["# Statistical methods", ""]
    if get("data.reconstructed"):
        lines += [
            "*The analysed cohort is a reconstruction built from the published aggregates "
            "of Musunuru et al. (Arch Surg 2006), not the original patient records; the "
            "numbers below describe the reconstruction.*", ""]
    cox = "survival.cox.surgical_vs_nonsurgical"
    lr2 = "survival.logrank.surgical_vs_nonsurgical"
    lr3 = "survival.logrank.three_groups"
    para = [
        f"We analysed {get('cohort.n_patients')} patients ({n_groups}). Overall survival "
        "was measured from the diagnosis of liver metastases to death or last contact; "
        "patients alive at last contact were censored. Median follow-up was "
        f"{_num(get('followup.median_months'))} months as the simple median of observed "
        f"times and {_num(get('followup.reverse_km_median_months'))} months by the reverse "
        "Kaplan-Meier method.",
        "Survival was estimated by the Kaplan-Meier method with Greenwood standard errors "
        "and pointwise 95% confidence intervals on the log(-log) scale; median survival "
        "intervals were read from the interval curves (Brookmeyer-Crowley, as in R's "
        "survival package). Three-year survival was "
        f"{_pct(get('survival.at_months.36.surgical.estimate'))} (95% CI "
        f"{_pct(get('survival.at_months.36.surgical.lower'))} to "
        f"{_pct(get('survival.at_months.36.surgical.upper'))}) after surgical treatment and "
        f"{_pct(get('survival.at_months.36.nonsurgical.estimate'))} (95% CI "
        f"{_pct(get('survival.at_months.36.nonsurgical.lower'))} to "
        f"{_pct(get('survival.at_months.36.nonsurgical.upper'))}) after medical treatment "
        "or embolization.",
        "Survival was compared by the log-rank test, surgical versus non-surgical "
        f"(chi-square {_num(get(f'{lr2}.statistic'), 2)}, {_p(get(f'{lr2}.p'))}) and across "
        f"the three groups (chi-square {_num(get(f'{lr3}.statistic'), 2)}, "
        f"{_p(get(f'{lr3}.p'))}), with Holm-adjusted pairwise comparisons. The hazard ratio "
        "for surgical versus non-surgical treatment was estimated by Cox regression with "
        f"Efron's method for ties (HR {_num(get(f'{cox}.hr'), 2)}, 95% CI "
        f"{_num(get(f'{cox}.lower'), 2)} to {_num(get(f'{cox}.upper'), 2)}, "
        f"Wald {_p(get(f'{cox}.p'))}); proportional hazards were checked with the scaled "
        "Schoenfeld residual test.",
        "Baseline characteristics were compared across the three groups with the "
        "Kruskal-Wallis test for continuous variables and the Fisher-Freeman-Halton exact "
        "test for categorical variables (Pearson chi-square shown beside it), with "
        "standardized mean differences. Palliation of symptoms among symptomatic patients "
        "was compared by the Fisher-Freeman-Halton exact test "
        f"({_p(get('palliation.exact_p'))}); rates are given with Clopper-Pearson exact 95% "
        "confidence intervals.",
    ]
    if get("robustness.cox_adjusted.surgical.hr") is not None:
        para.append(
            "Sensitivity analyses: a Cox model adjusted for tumour type, liver involvement "
            f"and age (HR {_num(get('robustness.cox_adjusted.surgical.hr'), 2)}, 95% CI "
            f"{_num(get('robustness.cox_adjusted.surgical.lower'), 2)} to "
            f"{_num(get('robustness.cox_adjusted.surgical.upper'), 2)}); inverse-probability-"
            "of-treatment weighting with stabilized weights and a robust variance (HR "
            f"{_num(get('robustness.iptw.hr'), 2)}); landmark analyses at 3 and 6 months and "
            "surgery as a time-varying covariate to address immortal-time bias (HR "
            f"{_num(get('robustness.time_varying.hr'), 2)}); a permutation log-rank test "
            f"({_p(get('robustness.permutation_logrank.surgical_vs_nonsurgical.p'))}); "
            "restricted mean survival time; and the E-value for unmeasured confounding "
            f"({_num(get('robustness.evalue.point'), 2)}).")
    para.append(
        "All tests were two-sided at the 5% level. Analyses used Python "
        f"{versions['python']} ({soft}); Kaplan-Meier, log-rank and Cox estimates were "
        "verified against R's survival package (reference values in tests/reference/).")
    return "\n".join(lines + ["\n\n".join(para), ""])


# STROBE statement, cohort studies (von Elm et al. 2007): item, topic, where addressed.
STROBE: tuple[tuple[str, str, str], ...] = (
    ("1", "Title and abstract", "not addressable from these data: the article's own title "
     "and abstract; the paper-vs-ours table in 03_survival reproduces every abstract number"),
    ("2", "Background/rationale", "README.md; each notebook's opening question"),
    ("3", "Objectives", "each notebook's opening question (one per notebook)"),
    ("4", "Study design", "01_cohort: patient flow; data/README.md"),
    ("5", "Setting", "01_cohort: accrual window (identification January 1996 to May 2004)"),
    ("6", "Participants", "01_cohort: patient flow by tumour type, group and subgroup"),
    ("7", "Variables", "data/datapackage.json (definitions, units, provenance); "
     "02_treatment_groups: Table 1"),
    ("8", "Data sources/measurement", "data/README.md (what the reconstruction fixes, "
     "calibrates or simulates)"),
    ("9", "Bias", "05_robustness: confounding, propensity weighting, immortal time"),
    ("10", "Study size", "05_robustness: power (Schoenfeld); 01_cohort: patient flow"),
    ("11", "Quantitative variables", "02_treatment_groups: liver involvement continuous and "
     "in categories"),
    ("12", "Statistical methods", "methods.md (generated); each notebook's methods cell"),
    ("13", "Participants (numbers at each stage)", "01_cohort: patient flow; nethep "
     "validate: rows read, excluded by reason, analysed"),
    ("14", "Descriptive data", "02_treatment_groups: Table 1 with missing values counted; "
     "01_cohort: follow-up"),
    ("15", "Outcome data", "03_survival: events and survival by group; 04_palliation"),
    ("16", "Main results", "03_survival: unadjusted HR with CI; 05_robustness: adjusted HR"),
    ("17", "Other analyses", "05_robustness: sensitivity analyses; 03_survival: pairwise tests"),
    ("18", "Key results", "each notebook's closing 'What this notebook found'"),
    ("19", "Limitations", "caveat cells in 03_survival, 04_palliation and 05_robustness"),
    ("20", "Interpretation", "05_robustness: how robust is the conclusion"),
    ("21", "Generalisability", "not addressable from these data: one tertiary centre; "
     "rerun on other cohorts with nethep run --data"),
    ("22", "Funding", "not addressable from these data: stated in the original article"),
)


def strobe_markdown() -> str:
    """The STROBE cohort checklist mapped to where this supplement addresses each item."""
    rows = ["# STROBE checklist (cohort studies): where this supplement addresses each item",
            "", "| item | topic | where |", "|---|---|---|"]
    rows += [f"| {item} | {topic} | {where} |" for item, topic, where in STROBE]
    return "\n".join(rows) + "\n"
