"""Manuscript-ready text generated from ``results.json``: methods paragraph and STROBE map.

Every number in :func:`methods_text` is read from ``results.json`` under the keys
declared in :mod:`nethep.results` (the same numbers the notebooks display),
including the analysis choices (covariates, landmark times) that the robustness
notebook records under ``robustness.choices``; every method name comes from the
code's stated defaults, and software versions from :func:`software_versions`.
Nothing is typed by hand, so a different cohort gives a different paragraph.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from nethep import __version__
from nethep import results as keys
from nethep.contract import COVARIATE_WORDS, GROUPS
from nethep.formats import join_and, p_text
from nethep.plots.survival import MIN_AT_RISK
from nethep.results import flatten, key, lookup
from nethep.survival import PH_MIN_DEATHS_PER_ARM

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


@dataclass(frozen=True)
class Cited:
    """One number printed in methods.md: the results key it was read from, the factor it
    was multiplied by (100 for a percentage), its format spec ("p": :func:`p_text`) and
    the text printed."""

    key: str
    scale: float
    spec: str
    text: str


class _CitedFloat(float):
    """A float read from results.json that records how it is printed (into ``sink``)."""

    key: str
    scale: float
    sink: list[Cited]

    def __format__(self, spec: str) -> str:
        text = float.__format__(float(self), spec)
        self.sink.append(Cited(self.key, self.scale, spec, text))
        return text

    def __mul__(self, other: object) -> _CitedFloat:
        if not isinstance(other, int | float):
            return NotImplemented
        return _cited_float(float(self) * other, self.key, self.sink, self.scale * other)

    __rmul__ = __mul__


class _CitedInt(int):
    """An int read from results.json that records how it is printed (into ``sink``)."""

    key: str
    sink: list[Cited]

    def __format__(self, spec: str) -> str:
        text = int.__format__(int(self), spec)
        self.sink.append(Cited(self.key, 1.0, spec, text))
        return text

    def __str__(self) -> str:
        return self.__format__("")


def _cited_float(value: float, dotted: str, sink: list[Cited], scale: float = 1.0
                 ) -> _CitedFloat:
    out = _CitedFloat(value)
    out.key, out.sink, out.scale = dotted, sink, scale
    return out


def _cite(value: Any, dotted: str, sink: list[Cited]) -> Any:
    """``value`` as a number that records its printing; anything else unchanged."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, int):
        out = _CitedInt(value)
        out.key, out.sink = dotted, sink
        return out
    return _cited_float(value, dotted, sink)


def _p(value: Any) -> str:
    """:func:`nethep.formats.p_text`, recorded when ``value`` came from results.json."""
    text = p_text(value)
    if isinstance(value, _CitedFloat):
        value.sink.append(Cited(value.key, value.scale, "p", text))
    return text


Getter = Callable[..., Any]


def _estimable(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _ratio(value: float) -> str:
    """A hazard ratio or limit: two decimals, or two significant digits below 0.01 (a
    limit of 0.0004 must not read 0.00)."""
    if value >= 0.01:
        return f"{value:.2f}"
    return f"{value:.{1 - math.floor(math.log10(value))}f}"


#: A hazard ratio this far from 1 (either way) is a fit that ran off to the boundary
#: (monotone likelihood: no deaths in an arm), not an estimate.
HR_BOUNDARY = 1e-8


def _hr(get: Getter, prefix: str, ci: str = "95% CI", estimable: Any = None) -> str:
    """``HR 0.16 (95% CI 0.04 to 0.69)``; a missing, zero or infinite HR or limit, an HR
    past :data:`HR_BOUNDARY` or one flagged ``estimable = False`` is said in words
    (never ``0.00 (0.00 to 0.00)``)."""
    hr, lower, upper = (get(prefix, part) for part in keys.HR_PARTS)
    if not _estimable(hr):
        return "HR not estimable"
    if estimable is False or not HR_BOUNDARY < hr < 1 / HR_BOUNDARY:
        return "HR not estimable (the likelihood has no maximum, e.g. no deaths in an arm)"
    if not (_estimable(lower) and _estimable(upper)):
        return f"HR {_ratio(hr)} ({ci} not estimable)"
    return f"HR {_ratio(hr)} ({ci} {_ratio(lower)} to {_ratio(upper)})"


def _survival(get: Getter, curve: str, months: int = 36) -> str:
    """``83% (95% CI 27% to 97%)``; an interval that is not estimable (no death yet, or
    past the last follow-up) is said once, in words."""
    at = (keys.SURVIVAL_AT, months, curve)
    estimate, lower, upper = (get(*at, part) for part in keys.LIMITS)
    if lower is None or upper is None:
        return f"{_pct(estimate)} (95% CI not estimable)"
    return f"{_pct(estimate)} (95% CI {_pct(lower)} to {_pct(upper)})"


def _could_differ(get: Getter, analysis: str) -> str:
    """The robustness notebook's sentence on whether ``analysis`` could have differed on
    this cohort (its question in italics), or "" when the run did not record one."""
    text = get(keys.COULD_DIFFER, analysis)
    if not isinstance(text, str) or not text:
        return ""
    question, sep, answer = text.partition("? ")
    return f" *{question}?* {answer}" if sep else f" {text}"


def _primary(get: Getter) -> tuple[str, str]:
    """The primary analysis sentence and the model it names ("firth" or "cox")."""
    model = get(keys.PRIMARY, "model")
    if model is None:
        return ("**Primary analysis.** The hazard ratio of death, surgical versus "
                "non-surgical treatment, by Cox regression with Efron's method for ties: "
                f"{_hr(get, keys.COX)}, Wald {_p(get(keys.COX, 'p'))}. (The robustness "
                "notebook, which applies the small-event rule for the primary estimate, did "
                "not run; this estimate is therefore reported as primary.)", "cox")
    return ("**Primary analysis.** The hazard ratio of death, surgical versus non-surgical "
            f"treatment ({get(keys.PRIMARY, 'method')}): {_hr(get, keys.PRIMARY)}, "
            f"{_p(get(keys.PRIMARY, 'p'))}. {get(keys.PRIMARY, 'rule') or ''}".rstrip(),
            str(model))


def _sensitivity(get: Getter, primary_model: str) -> list[str]:
    """One bullet per sensitivity analysis of the primary comparison, each with whether it
    could have differed on this cohort (notebook 05) and a pointer to notebook 06."""
    items: list[str] = []
    if primary_model == "firth" or get(keys.FIRTH, "hr") is None:
        tests = [f"{name} {_p(get(keys.COX_TESTS, part))}"
                 for name, part in (("Wald", "wald_p"), ("likelihood-ratio", "lr_p"),
                                    ("score", "score_p"))
                 if get(keys.COX_TESTS, part) is not None]
        side = f"; {join_and(tests)}, side by side" if tests else ""
        items.append("Cox regression without penalty (Efron ties, Wald CI): "
                     f"{_hr(get, keys.COX, estimable=get(keys.COX_TESTS, 'estimable'))}"
                     f"{side}." + _could_differ(get, "small_events"))
    if primary_model != "firth" and get(keys.FIRTH, "hr") is not None:
        items.append("Firth-penalised Cox regression (Heinze and Schemper 2001; profile-"
                     f"likelihood CI): {_hr(get, keys.FIRTH)}, penalised likelihood-ratio "
                     f"{_p(get(keys.FIRTH, 'p_lr'))}." + _could_differ(get, "small_events"))
    if get(keys.FIRTH_BRESLOW, "hr") is not None:
        items.append("Firth-penalised Cox regression with Breslow ties (R coxphf's "
                     f"default): {_hr(get, keys.FIRTH_BRESLOW)}.")
    informative = get(keys.PH_TEST_INFORMATIVE)
    items.append("Proportional hazards: scaled Schoenfeld residual test"
                 + (" (not informative here: an arm had fewer than "
                    f"{PH_MIN_DEATHS_PER_ARM} deaths)." if informative is False else "."))
    lr2, lr3 = keys.LOGRANK_ARMS, keys.LOGRANK_GROUPS
    exact = get(keys.EXACT_LOGRANK_ARMS, "p")
    perm = (f"; exact permutation log-rank test over all assignments, {_p(exact)}"
            if exact is not None else
            f"; Monte Carlo permutation log-rank test, {_p(get(keys.PERMUTATION_ARMS, 'p'))}"
            if get(keys.PERMUTATION_ARMS, "p") is not None else "")
    groups_perm = get(keys.PERMUTATION_GROUPS, "p")
    b = get(keys.PERMUTATION_GROUPS, "n_permutations")
    perm3 = (f" (Monte Carlo permutation, {b:,} permutations: {_p(groups_perm)}; no "
             "exact test is computed for three groups)" if groups_perm is not None and b
             else "")
    items.append("Log-rank test, the comparison the abstract reports: surgical versus "
                 f"non-surgical chi-square {_num(get(lr2, 'statistic'), 2)}, "
                 f"{_p(get(lr2, 'p'))}{perm}; across the three groups chi-square "
                 f"{_num(get(lr3, 'statistic'), 2)}, {_p(get(lr3, 'p'))}{perm3}, with "
                 "Holm-adjusted pairwise comparisons." + _could_differ(get, "exact_tests"))
    boot = keys.BOOTSTRAP_S36
    if get(boot, "estimate") is not None:
        lo, up = get(boot, "lower"), get(boot, "upper")
        ci = ("CI not estimable" if lo is None or up is None
              else f"{get(boot, 'interval') or 'bootstrap'} 95% CI {100 * lo:.0f} to "
                   f"{100 * up:.0f}")
        items.append("Three-year survival difference, surgical minus non-surgical, with a "
                     f"stratified bootstrap interval: {100 * get(boot, 'estimate'):.0f} "
                     f"percentage points ({ci})." + _could_differ(get, "bootstrap"))
    if get(keys.COX_ADJUSTED, "hr") is not None:
        covariates = join_and([COVARIATE_WORDS.get(c, c) for c in get(keys.COVARIATES) or []])
        items.append(f"Cox model adjusted for {covariates}: {_hr(get, keys.COX_ADJUSTED)}."
                     + _could_differ(get, "adjusted"))
    if get(keys.IPTW, "hr") is not None or get(keys.IPTW, "estimand") is not None:
        estimand = get(keys.IPTW, "estimand") or "ATT"
        boot_note = get(keys.IPTW, "boot_note")
        boot_text = f"; {boot_note}" if isinstance(boot_note, str) and boot_note else ""
        ate = (f"; the average effect in the whole cohort (ATE, stabilized weights): "
               f"{_hr(get, keys.IPTW_ATE, 'robust 95% CI')}"
               if get(keys.IPTW_ATE, "estimand") is not None else "")
        items.append("Inverse-probability-of-treatment weighting, primary estimand the effect "
                     f"in patients like those resected ({estimand}): "
                     f"{_hr(get, keys.IPTW, 'robust (sandwich) 95% CI')}{boot_text}{ate}."
                     + _could_differ(get, "iptw"))
    months = [*(get(keys.LANDMARK_MONTHS) or []), *(get(keys.LANDMARK_ALTERNATIVE_MONTHS) or [])]
    alternative = set(get(keys.LANDMARK_ALTERNATIVE_MONTHS) or [])
    marks = [f"at {m:g} months{' (an alternative landmark)' if m in alternative else ''} "
             f"{_hr(get, key(keys.LANDMARK, f'{m:g}'))}" for m in months
             if get(keys.LANDMARK, f"{m:g}", "hr") is not None
             or get(keys.LANDMARK, f"{m:g}", "n") is not None]
    if marks:
        items.append("Landmark analyses (patients alive at the landmark, surgery as of the "
                     f"landmark): {join_and(marks)}." + _could_differ(get, "landmark"))
    if get(keys.TIME_VARYING, "hr") is not None:
        items.append("Surgery as a time-varying covariate (from the date of surgery): "
                     f"{_hr(get, keys.TIME_VARYING)}." + _could_differ(get, "time_varying"))
    if get(keys.RMST, "diff") is not None:
        rm = keys.RMST
        ci = ("95% CI not estimable" if get(rm, "lower") is None else
              f"95% CI {get(rm, 'lower'):.1f} to {get(rm, 'upper'):.1f}")
        boot_ci = ("" if get(rm, "boot_lower") is None or get(rm, "boot_upper") is None else
                   f"; bootstrap 95% CI {get(rm, 'boot_lower'):.1f} to "
                   f"{get(rm, 'boot_upper'):.1f}")
        items.append("Restricted mean survival time, difference surgical minus non-surgical: "
                     f"{get(rm, 'diff'):.1f} months ({ci}{boot_ci}); "
                     f"{get(rm, 'tau_rule') or ''}. Horizons past the shorter arm's follow-up "
                     "are flagged as extended and kept out of the main results."
                     + _could_differ(get, "rmst"))
    ev = keys.EVALUE_SECTION
    if get(ev, "point") is not None:
        limit = get(ev, "ci_limit")
        limit_text = (f" and {limit:.2f} for the confidence limit closer to 1"
                      if limit is not None else "")
        conversion = get(ev, "conversion")
        items.append("E-value for unmeasured confounding (VanderWeele and Ding 2017), from "
                     f"the primary estimate: {get(ev, 'point'):.2f}{limit_text}."
                     + (f" {conversion}" if isinstance(conversion, str) else "")
                     + _could_differ(get, "evalue"))
    design = get(keys.POWER_DESIGN)
    if isinstance(design, Mapping) and design:
        names = sorted(design, key=lambda n: float(design[n].get("hr") or 0))
        needed = join_and([f"{get(keys.POWER_DESIGN, n, 'events_80')} deaths for HR "
                           f"{get(keys.POWER_DESIGN, n, 'hr'):g}" for n in names
                           if design[n].get("events_80") is not None
                           and design[n].get("hr") is not None])
        events = get(keys.POWER, "events")
        have = f" (this study had {events})" if events is not None else ""
        items.append("Power is given as a design table, not as observed (post hoc) power: "
                     f"80% power at the two-sided 5% level needs {needed}{have}."
                     + _could_differ(get, "power"))
    return items


def methods_text(results: Mapping[str, Any]) -> str:
    """A statistical-methods section (Markdown) filled in from ``results.json`` alone
    (:func:`methods_and_citations`)."""
    return methods_and_citations(results)[0]


def methods_citations(results: Mapping[str, Any]) -> tuple[Cited, ...]:
    """Where each number of :func:`methods_text` comes from (for the tests)."""
    return methods_and_citations(results)[1]


def _ensemble_sentences(results: Mapping[str, Any], get: Any) -> str:
    """Two sentences on the ensemble of abstract-consistent cohorts (notebook 07)."""
    models = lookup(results, keys.ENSEMBLE_MODELS) or {}
    readings = lookup(results, key(keys.ENSEMBLE_RULES, "readings")) or {}
    hr = [get(keys.ENSEMBLE_QUANTITIES, "hr", part)
          for part in ("median", "lower", "upper", "bundled")]
    return (
        f"*Because the abstract fixes only aggregates, {get(keys.ENSEMBLE_N_MEMBERS):,} "
        "cohorts that each reproduce every published number at its printed rounding were "
        f"drawn (data/ensemble/: {len(models.get('survival', []))} survival models, "
        f"{len(models.get('palliation_rates', {}))} palliation-rate assumptions, "
        f"{len(models.get('tests', []))} candidate tests behind the published P and "
        f"{len(readings)} readings of its rounding). A number the abstract does not fix is "
        "one value from the range across them: the Cox hazard ratio, for example, has "
        f"median {hr[0]:.2f} (2.5th to 97.5th percentile {hr[1]:.2f} to {hr[2]:.2f}) "
        f"across the ensemble and {hr[3]:.2f} in the analysed reconstruction "
        "(notebook 07).*")


def methods_and_citations(results: Mapping[str, Any]) -> tuple[str, tuple[Cited, ...]]:
    """A statistical-methods section (Markdown) filled in from ``results.json`` alone, and
    where each number in it comes from.

    It names one primary analysis (``robustness.primary``: the small-event rule of
    notebook 05; the ordinary Cox model, said so, when that notebook did not run) and
    labels every other analysis of the surgical comparison as sensitivity, each with
    notebook 05's sentence on whether it could have differed on this cohort and a
    pointer to notebook 06. P values are in the journal's style
    (:func:`nethep.formats.p_text`); a count that small-cell suppression nulled reads
    ``<N``; a missing, zero or infinite estimate is said in words. Every number read from
    the results is printed through a :class:`Cited` record (its key, scale, format and
    text), so a test can re-derive each printed number from results.json.
    """
    r = flatten(results)
    threshold, hidden = _suppressed(results)
    sink: list[Cited] = []

    def get(*parts: object) -> Any:
        dotted = key(*parts)
        if dotted in hidden:
            return f"<{threshold}"
        if dotted in r:
            return _cite(r[dotted], dotted, sink)
        return lookup(results, dotted)  # a mapping (e.g. the power design)

    n_groups = ", ".join(f"{g} {get(keys.N_BY_GROUP, g)}" for g in GROUPS)
    versions = software_versions()
    soft = ", ".join(f"{k} {v}" for k, v in versions.items() if k != "python")
    lines = ["# Statistical methods", ""]
    if get(keys.RECONSTRUCTED):
        lines += [
            "*The analysed cohort is a reconstruction built from the published aggregates "
            "of Musunuru et al. (Arch Surg 2006), not the original patient records; the "
            "numbers below describe the reconstruction.*", ""]
        if get(keys.ENSEMBLE_N_MEMBERS) is not None:
            lines += [_ensemble_sentences(results, get), ""]
    primary, model = _primary(get)
    para = [
        f"We analysed {get(keys.N_PATIENTS)} patients ({n_groups}). Overall survival "
        "was measured from the diagnosis of liver metastases to death or last contact; "
        "patients alive at last contact were censored. Median follow-up was "
        f"{_num(get(keys.FOLLOWUP_MEDIAN))} months as the simple median of observed "
        f"times and {_num(get(keys.FOLLOWUP_REVERSE_KM_MEDIAN))} months by the reverse "
        "Kaplan-Meier method.",
        primary,
        "**Descriptive analyses.** Survival was estimated by the Kaplan-Meier method with "
        "Greenwood standard errors and pointwise 95% confidence intervals on the log(-log) "
        "scale; median survival intervals were read from the interval curves "
        "(Brookmeyer-Crowley, as in R's survival package). In the figures each curve stops "
        f"at the first time fewer than {MIN_AT_RISK} patients remain at risk; the numbers "
        "at risk are shown beneath. Three-year survival was "
        f"{_survival(get, 'surgical')} after surgical treatment and "
        f"{_survival(get, 'nonsurgical')} after medical treatment "
        "or embolization. Baseline characteristics were compared across the three groups "
        "with the Kruskal-Wallis test for continuous variables and the "
        "Fisher-Freeman-Halton exact test for categorical variables (Pearson chi-square "
        "shown beside it), with standardized mean differences.",
    ]
    items = _sensitivity(get, model)
    para.append("**Sensitivity analyses** of the surgical comparison (each beside the primary "
                "estimate; whether it could have differed on this cohort is stated, and "
                'notebook 06, "What these methods can detect", shows on simulated cohorts '
                "with a known true effect what each method detects):\n\n"
                + "\n".join(f"- {item}" for item in items))
    para.append(
        "**Secondary outcome.** Palliation of symptoms among symptomatic patients was "
        "compared across the three groups by the Fisher-Freeman-Halton exact test "
        f"({_p(get(keys.PALLIATION_EXACT_P))}); rates are given with Clopper-Pearson "
        "exact 95% confidence intervals.")
    para.append(
        "All tests were two-sided at the 5% level. Analyses used Python "
        f"{versions['python']} ({soft}); Kaplan-Meier, log-rank and Cox estimates were "
        "verified against R's survival package (reference values in tests/reference/).")
    return "\n".join(lines + ["\n\n".join(para), ""]), tuple(sink)


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
    ("9", "Bias", "05_robustness: confounding, propensity weighting, immortal time, and "
     "whether each could have differed on this cohort; 06: what each method detects on "
     "simulated cohorts with a known true effect"),
    ("10", "Study size", "05_robustness: design table (Schoenfeld), no observed power; "
     "01_cohort: patient flow"),
    ("11", "Quantitative variables", "02_treatment_groups: liver involvement continuous and "
     "in categories"),
    ("12", "Statistical methods", "methods.md (generated); each notebook's methods cell"),
    ("13", "Participants (numbers at each stage)", "01_cohort: patient flow (rows read, "
     "excluded by reason, analysed; per group deaths, alive at last contact and lost to "
     "follow-up); nethep validate: the same intake counts"),
    ("14", "Descriptive data", "02_treatment_groups: Table 1 with missing values counted; "
     "01_cohort: follow-up"),
    ("15", "Outcome data", "03_survival: events and survival by group; 04_palliation"),
    ("16", "Main results", "05_robustness and methods.md: the primary estimate (named, "
     "with its rule) and its CI; 03_survival: unadjusted HR with CI"),
    ("17", "Other analyses", "05_robustness and methods.md: sensitivity analyses, each "
     "labelled; 03_survival: pairwise tests"),
    ("18", "Key results", "each notebook's closing 'What this notebook found'"),
    ("19", "Limitations", "caveat cells in 03_survival, 04_palliation and 05_robustness"),
    ("20", "Interpretation", "05_robustness: what each analysis could and could not show "
     "on this cohort; 06_what_methods_detect: what the methods detect"),
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
