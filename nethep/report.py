"""Manuscript-ready text generated from ``results.json``: methods paragraph and STROBE map.

Every number in :func:`methods_text` is read from ``results.json`` under the keys
declared in :mod:`nethep.results` (the same numbers the notebooks display),
including the analysis choices (covariates, landmark times) that the robustness
notebook records under ``robustness.choices``; every method name comes from the
code's stated defaults, and software versions from :func:`software_versions`.
Nothing is typed by hand, so a different cohort gives a different paragraph.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from nethep import __version__
from nethep import results as keys
from nethep.contract import COVARIATE_WORDS, GROUPS
from nethep.formats import join_and, p_text
from nethep.results import flatten, key

PACKAGES = ("numpy", "pandas", "scipy", "lifelines", "statsmodels", "matplotlib",
            "pandera", "papermill")


def software_versions() -> dict[str, str]:
    """Python, nethep (``nethep.__version__``) and the installed versions of the
    packages the analysis uses ("not installed" when absent); the one version lookup."""
    out = {"python": platform.python_version(), "nethep": __version__}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _num(value: Any, digits: int = 1) -> str:
    return "not estimable" if value is None else f"{value:.{digits}f}"


def _pct(value: Any) -> str:
    return "not estimable" if value is None else f"{100 * value:.0f}%"


def _suppressed(results: Mapping[str, Any]) -> tuple[int, set[str]]:
    """The small-cell threshold of a run and its suppressed keys (dotted, with section)."""
    threshold, hidden = 0, set()
    for section, values in results.items():
        info = values.get(keys.SUPPRESSED) if isinstance(values, Mapping) else None
        if isinstance(info, Mapping):
            threshold = max(threshold, int(info.get("min_cell") or 0))
            hidden |= {key(section, k) for k in info.get("keys", [])}
    return threshold, hidden


def methods_text(results: Mapping[str, Any]) -> str:
    """A statistical-methods paragraph (Markdown) filled in from ``results.json``.

    A count that small-cell suppression nulled (``suppressed`` in its section) reads
    ``<N``; a missing or null estimate reads "not estimable". The robustness sentence
    is written only when the robustness section is present.
    """
    r = flatten(results)
    threshold, hidden = _suppressed(results)

    def get(*parts: object) -> Any:
        dotted = key(*parts)
        return f"<{threshold}" if dotted in hidden else r.get(dotted)

    n_groups = ", ".join(f"{g} {get(keys.N_BY_GROUP, g)}" for g in GROUPS)
    versions = software_versions()
    soft = ", ".join(f"{k} {v}" for k, v in versions.items() if k != "python")
    lines = ["# Statistical methods", ""]
    if get(keys.RECONSTRUCTED):
        lines += [
            "*The analysed cohort is a reconstruction built from the published aggregates "
            "of Musunuru et al. (Arch Surg 2006), not the original patient records; the "
            "numbers below describe the reconstruction.*", ""]
    at36 = (keys.SURVIVAL_AT, 36)
    cox, lr2, lr3 = keys.COX, keys.LOGRANK_ARMS, keys.LOGRANK_GROUPS
    para = [
        f"We analysed {get(keys.N_PATIENTS)} patients ({n_groups}). Overall survival "
        "was measured from the diagnosis of liver metastases to death or last contact; "
        "patients alive at last contact were censored. Median follow-up was "
        f"{_num(get(keys.FOLLOWUP_MEDIAN))} months as the simple median of observed "
        f"times and {_num(get(keys.FOLLOWUP_REVERSE_KM_MEDIAN))} months by the reverse "
        "Kaplan-Meier method.",
        "Survival was estimated by the Kaplan-Meier method with Greenwood standard errors "
        "and pointwise 95% confidence intervals on the log(-log) scale; median survival "
        "intervals were read from the interval curves (Brookmeyer-Crowley, as in R's "
        "survival package). Three-year survival was "
        f"{_pct(get(*at36, 'surgical', 'estimate'))} (95% CI "
        f"{_pct(get(*at36, 'surgical', 'lower'))} to "
        f"{_pct(get(*at36, 'surgical', 'upper'))}) after surgical treatment and "
        f"{_pct(get(*at36, 'nonsurgical', 'estimate'))} (95% CI "
        f"{_pct(get(*at36, 'nonsurgical', 'lower'))} to "
        f"{_pct(get(*at36, 'nonsurgical', 'upper'))}) after medical treatment "
        "or embolization.",
        "Survival was compared by the log-rank test, surgical versus non-surgical "
        f"(chi-square {_num(get(lr2, 'statistic'), 2)}, {p_text(get(lr2, 'p'))}) and across "
        f"the three groups (chi-square {_num(get(lr3, 'statistic'), 2)}, "
        f"{p_text(get(lr3, 'p'))}), with Holm-adjusted pairwise comparisons. The hazard ratio "
        "for surgical versus non-surgical treatment was estimated by Cox regression with "
        f"Efron's method for ties (HR {_num(get(cox, 'hr'), 2)}, 95% CI "
        f"{_num(get(cox, 'lower'), 2)} to {_num(get(cox, 'upper'), 2)}, "
        f"Wald {p_text(get(cox, 'p'))}); proportional hazards were checked with the scaled "
        "Schoenfeld residual test.",
        "Baseline characteristics were compared across the three groups with the "
        "Kruskal-Wallis test for continuous variables and the Fisher-Freeman-Halton exact "
        "test for categorical variables (Pearson chi-square shown beside it), with "
        "standardized mean differences. Palliation of symptoms among symptomatic patients "
        "was compared by the Fisher-Freeman-Halton exact test "
        f"({p_text(get(keys.PALLIATION_EXACT_P))}); rates are given with Clopper-Pearson exact "
        "95% confidence intervals.",
    ]
    if get(keys.COX_ADJUSTED, "hr") is not None:
        adjusted = keys.COX_ADJUSTED
        covariates = join_and([COVARIATE_WORDS.get(c, c) for c in get(keys.COVARIATES) or []])
        landmarks = join_and([f"{m:g}" for m in get(keys.LANDMARK_MONTHS) or []])
        para.append(
            f"Sensitivity analyses: a Cox model adjusted for {covariates} "
            f"(HR {_num(get(adjusted, 'hr'), 2)}, 95% CI "
            f"{_num(get(adjusted, 'lower'), 2)} to {_num(get(adjusted, 'upper'), 2)}); "
            "inverse-probability-of-treatment weighting with stabilized weights and a "
            f"robust variance (HR {_num(get(keys.IPTW, 'hr'), 2)}); landmark analyses at "
            f"{landmarks} months and surgery as a time-varying covariate to address "
            f"immortal-time bias (HR {_num(get(keys.TIME_VARYING, 'hr'), 2)}); a "
            f"permutation log-rank test ({p_text(get(keys.PERMUTATION_ARMS, 'p'))}); "
            "restricted mean survival time; and the E-value for unmeasured confounding "
            f"({_num(get(keys.EVALUE), 2)}).")
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
