"""methods.md is generated from results.json alone: one primary analysis, every other
analysis of the surgical comparison labelled sensitivity, and every number traceable.

The number check parses every number printed in the methods text and looks for it in
results.json at its printed rounding (a proportion also as a percentage), in a string
that results.json holds (e.g. the primary rule, the could-differ sentences), or in the
stated allow-list below. It runs on the session's ``nethep run`` of the bundled cohort
and of a clinician's export (``bundled_run``, ``user_run``), and on a synthetic results
dict; a drifted number (results changed after the text was written) makes it fail.
"""

from __future__ import annotations

import copy
import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from nethep import __version__
from nethep.formats import p_text
from nethep.plots.survival import MIN_AT_RISK
from nethep.report import (
    STROBE,
    Cited,
    methods_and_citations,
    methods_text,
    software_versions,
    strobe_markdown,
)
from nethep.results import lookup
from nethep.survival import PH_MIN_DEATHS_PER_ARM

#: Numbers the text may print that are not results: the confidence and power levels,
#: "closer to 1", the journal's P threshold, the notebook it points to, the years of
#: the works it cites, and the rules stated in code (curves stop below MIN_AT_RISK at
#: risk; the PH test needs PH_MIN_DEATHS_PER_ARM deaths per arm).
ALLOWED = frozenset({"95", "80", "1", ".001", ".99", "06", "2001", "2006", "2017", "2020",
                     str(MIN_AT_RISK), str(PH_MIN_DEATHS_PER_ARM)})
NUMBER = re.compile(r"(?<![A-Za-z0-9_.^])(-?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?)(?![\d])")


def _leaves(obj: Any) -> Iterator[Any]:
    if isinstance(obj, Mapping):
        for value in obj.values():
            yield from _leaves(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _leaves(value)
    else:
        yield obj


def _tokens(text: str) -> list[str]:
    return [t for t in NUMBER.findall(text) if any(c.isdigit() for c in t)]


def miscited(results: Mapping[str, Any], cites: tuple[Cited, ...]) -> list[str]:
    """Every number the text printed from a results key that the value now at that key
    (times its scale, in its format) does not give."""
    wrong = []
    for cite in cites:
        value = lookup(results, cite.key)
        if cite.spec == "p":
            expected = p_text(value)
        elif value is None or isinstance(value, str):
            expected = None
        else:
            expected = format(value if cite.scale == 1 else value * cite.scale, cite.spec)
        if expected != cite.text:
            wrong.append(f"{cite.key}: printed {cite.text!r}, results give {expected!r}")
    return wrong


def unmatched_numbers(text: str, results: Mapping[str, Any],
                      cites: tuple[Cited, ...] = ()) -> list[str]:
    """Every number in ``text`` that is neither printed from a results key (``cites``,
    checked by :func:`miscited`), nor a results.json value at its printed rounding, nor
    in a results.json string, nor allowed; software versions excepted."""
    for version in software_versions().values():
        text = text.replace(version, "")
    leaves = list(_leaves(results))
    numbers = [float(v) for v in leaves if isinstance(v, int | float)
               and not isinstance(v, bool) and math.isfinite(v)]
    in_strings = {t for v in leaves if isinstance(v, str) for t in _tokens(v)}
    cited = Counter(t for cite in cites for t in _tokens(cite.text))
    missing = []
    for token in _tokens(text):
        if cited[token] > 0:
            cited[token] -= 1
            continue
        if token in ALLOWED or token in in_strings:
            continue
        x = float(token.replace(",", ""))
        decimals = len(token.split(".")[1]) if "." in token else 0
        tol = 0.5 * 10.0 ** -decimals + 1e-9
        if any(abs(v - x) <= tol or (abs(v) <= 1 and abs(100 * v - x) <= tol)
               for v in numbers):
            continue
        missing.append(token)
    return missing


def check(results: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The methods text of ``results`` and its problems (miscited or unmatched numbers)."""
    text, cites = methods_and_citations(results)
    return text, miscited(results, cites) + unmatched_numbers(text, results, cites)


# --------------------------------------------------------------------------- a full run


def test_every_number_of_the_bundled_methods_is_in_results(bundled_run):
    results = bundled_run.results
    text, problems = check(results)
    assert (bundled_run.output_dir / "methods.md").read_text(encoding="utf-8") == text
    assert problems == []
    assert len(_tokens(text)) > 60  # the check covers the whole text
    assert len(methods_and_citations(results)[1]) > 50  # most numbers carry their key


def test_every_number_of_a_users_methods_is_in_results(user_run):
    results = user_run.results
    text, problems = check(results)
    assert (user_run.output_dir / "methods.md").read_text(encoding="utf-8") == text
    assert problems == []
    assert not re.search(r"(?<![\d.])0\.00(?!\d)", text)  # never "0.00"
    assert not re.search(r"\binf\b", text)


@pytest.mark.parametrize("dotted", [
    "robustness.evalue.point", "robustness.rmst.diff", "followup.reverse_km_median_months",
    "survival.logrank.surgical_vs_nonsurgical.statistic", "robustness.landmark.6.upper",
    "robustness.landmark.3.hr", "robustness.exact_logrank.surgical_vs_nonsurgical.p",
    "survival.at_months.36.surgical.estimate", "cohort.n_patients", "ensemble.n_members",
    "ensemble.quantities.hr.upper"])
def test_a_drifted_number_is_caught(bundled_run, dotted):
    """The text and its citations from the run's results, checked against results in
    which one printed value has drifted: the check fails; the text written from the
    drifted results passes."""
    results = bundled_run.results
    text, cites = methods_and_citations(results)
    assert dotted in {c.key for c in cites}
    drifted = copy.deepcopy(results)
    *parents, last = dotted.split(".")
    node = drifted
    for part in parents:
        node = node[part]
    node[last] = node[last] + 1 if isinstance(node[last], int) else node[last] * 0.63
    assert miscited(drifted, cites), f"{dotted} drifted and was not caught"
    assert check(drifted)[1] == []


def test_the_issue_12_fixes_on_the_bundled_cohort(bundled_run):
    results = bundled_run.results
    rob = results["robustness"]
    text = methods_text(results)
    # one primary analysis, named, with its CI and P in journal style
    assert text.count("**Primary analysis.**") == 1
    primary = rob["primary"]
    assert (f"HR {primary['hr']:.2f} (95% CI {primary['lower']:.2f} to "
            f"{primary['upper']:.2f})") in text
    assert primary["method"] in text and primary["rule"] in text
    # everything else of the surgical comparison under "Sensitivity analyses"
    head, sensitivity = text.split("**Sensitivity analyses**", 1)
    assert "landmark" not in head.lower() and "weighting" not in head
    # the landmark HRs are their own, not the naive Cox HR
    for months in ("3", "6"):
        lm = rob["landmark"][months]
        assert (f"at {months} months HR {lm['hr']:.2f} (95% CI {lm['lower']:.2f} to "
                f"{lm['upper']:.2f})") in sensitivity
    # the IPTW HR with its CI; the exact log-rank P, not the Monte Carlo one
    iptw = rob["iptw"]
    assert f"HR {iptw['hr']:.2f} (robust (sandwich) 95% CI {iptw['lower']:.2f}" in text
    exact_p = rob["exact_logrank"]["surgical_vs_nonsurgical"]["p"]
    mc_p = rob["permutation_logrank"]["surgical_vs_nonsurgical"]["p"]
    assert f"exact permutation log-rank test over all assignments, {p_text(exact_p)}" in text
    assert f"{mc_p}" not in text and f"{mc_p:.4f}".removeprefix("0") not in text
    # P values in the journal's style
    assert not re.search(r"P = 0\.\d", text) and not re.search(r"P = \.\d{4}", text)
    # could it have differed, and where to look
    assert text.count("*Could it have differed on the bundled reconstruction?*") >= 8
    assert 'notebook 06, "What these methods can detect"' in text
    assert "post hoc" in text and "power_at_observed" not in text


# --------------------------------------------------------------------------- synthetic


RESULTS = {
    "data": {"reconstructed": True},
    "cohort": {"n_patients": 48, "n_by_group": {"medical": 17, "embolization": 18,
                                                "surgical": 13}},
    "followup": {"median_months": 20.0, "reverse_km_median_months": 33.8},
    "survival": {
        "at_months": {"36": {"surgical": {"estimate": 0.8333, "lower": 0.27, "upper": 0.97},
                             "nonsurgical": {"estimate": 0.308, "lower": 0.14,
                                             "upper": 0.50}}},
        "logrank": {"surgical_vs_nonsurgical": {"statistic": 7.801, "p": 0.0052},
                    "three_groups": {"statistic": 8.34, "p": 0.0154}},
        "cox": {"surgical_vs_nonsurgical": {"hr": 0.16, "lower": 0.037, "upper": 0.694,
                                            "p": 0.0143, "ph_test_informative": False}},
    },
    "palliation": {"exact_p": 0.2146},
}


def test_numbers_come_from_the_results():
    text = methods_text(RESULTS)
    assert "We analysed 48 patients (medical 17, embolization 18, surgical 13)" in text
    assert "83% (95% CI 27% to 97%)" in text
    assert "chi-square 7.80, P = .005" in text
    assert "(P = .21)" in text
    assert "reconstruction" in text
    assert f"lifelines {software_versions()['lifelines']}" in text
    assert check(RESULTS)[1] == []


def test_without_the_robustness_notebook_the_cox_model_is_primary_and_says_why():
    text = methods_text(RESULTS)
    assert ("**Primary analysis.** The hazard ratio of death, surgical versus non-surgical "
            "treatment, by Cox regression with Efron's method for ties: HR 0.16 (95% CI 0.04 "
            "to 0.69), Wald P = .01.") in text
    assert "did not run; this estimate is therefore reported as primary" in text
    assert "not informative here: an arm had fewer than 5 deaths" in text


def test_text_changes_with_the_cohort():
    other = {**RESULTS, "data": {"reconstructed": False},
             "cohort": {**RESULTS["cohort"], "n_patients": 47}}
    text = methods_text(other)
    assert "We analysed 47 patients" in text
    assert "reconstruction" not in text
    assert text != methods_text(RESULTS)


def test_missing_values_say_not_estimable():
    text = methods_text({"cohort": {"n_patients": 5}})
    assert "not estimable" in text


def test_a_zero_or_missing_hazard_ratio_is_said_in_words():
    robustness = {"iptw": {"hr": 0.0, "lower": 0.0, "upper": 0.0, "estimand": "ATT"},
                  "time_varying": {"hr": 0.2, "lower": None, "upper": None},
                  "primary": {"model": "firth", "method": "Firth", "hr": 0.3, "lower": 0.05,
                              "upper": 1.4, "p": 0.2, "rule": "A rule."}}
    text = methods_text({**RESULTS, "robustness": robustness})
    assert "(ATT): HR not estimable" in text
    assert "HR 0.20 (95% CI not estimable)" in text
    assert "0.00" not in text


def test_sensitivity_list_reads_the_choices_from_the_results():
    robustness = {
        "primary": {"model": "cox", "method": "Cox", "hr": 0.16, "lower": 0.037,
                    "upper": 0.694, "p": 0.0143, "rule": "Cox unless few deaths."},
        "firth": {"hr": 0.19, "lower": 0.039, "upper": 0.62, "p_lr": 0.0035},
        "cox_adjusted": {"surgical": {"hr": 0.11, "lower": 0.02, "upper": 0.52}},
        "landmark": {"3": {"hr": 0.18, "lower": 0.04, "upper": 0.78, "n": 46},
                     "6": {"hr": 0.17, "lower": 0.04, "upper": 0.75, "n": 42}},
        "choices": {"covariates": ["tumor_type", "liver_involvement_pct", "age_years"],
                    "landmark_months": [3.0, 6.0]},
        "could_differ": {"adjusted": "Could it have differed? No, by construction."},
    }
    text = methods_text({**RESULTS, "robustness": robustness})
    assert ("Cox model adjusted for tumour type, liver involvement and age: HR 0.11 (95% CI "
            "0.02 to 0.52). *Could it have differed?* No, by construction.") in text
    assert ("at 3 months HR 0.18 (95% CI 0.04 to 0.78) and at 6 months HR 0.17 (95% CI "
            "0.04 to 0.75)") in text
    assert "Firth-penalised Cox regression (Heinze and Schemper 2001" in text
    assert check({**RESULTS, "robustness": robustness})[1] == []
    other = {**robustness, "choices": {"covariates": ["age_years", "sex"],
                                       "landmark_months": [3.0]}}
    text = methods_text({**RESULTS, "robustness": other})
    assert "adjusted for age and sex: HR" in text
    assert "at 6 months" not in text


def test_strobe_map_lists_all_22_cohort_items():
    assert [item for item, _, _ in STROBE] == [str(i) for i in range(1, 23)]
    md = strobe_markdown()
    assert md.count("\n| ") == 22 + 1  # header row + 22 items
    assert "not addressable from these data" in md


def test_versions_are_looked_up_in_one_place():
    versions = software_versions()
    assert versions["nethep"] == __version__
    assert set(versions) >= {"python", "numpy", "lifelines", "papermill"}


@pytest.mark.parametrize(("token", "found"), [("0.16", True), ("0.17", False), ("83%", True),
                                              ("100,000", True), ("12", False)])
def test_the_number_check_itself(token, found):
    results = {"a": {"hr": 0.1601, "s": 0.8333, "b": 100000}}
    assert (unmatched_numbers(f"value {token} here", results) == []) is found


def test_a_tiny_limit_keeps_two_significant_digits():
    robustness = {"primary": {"model": "firth", "method": "Firth", "hr": 0.046,
                              "lower": 0.000412, "upper": 0.35, "p": 0.0004, "rule": "R."}}
    results = {**RESULTS, "robustness": robustness}
    text = methods_text(results)
    assert "HR 0.05 (95% CI 0.00041 to 0.35), P < .001" in text
    assert check(results)[1] == []


def test_a_boundary_cox_fit_and_an_undefined_interval_are_said_in_words():
    results = copy.deepcopy(RESULTS)
    results["survival"]["cox"]["surgical_vs_nonsurgical"].update(
        hr=1.6e-15, lower=None, upper=None, p=None)
    results["survival"]["at_months"]["36"]["surgical"].update(estimate=1.0, lower=None,
                                                              upper=None)
    results["robustness"] = {"cox_tests": {"estimable": False, "lr_p": 0.0002},
                             "primary": {"model": "firth", "method": "Firth", "hr": 0.05,
                                         "lower": 0.00036, "upper": 0.35, "p": 0.0002,
                                         "rule": "R."}}
    text, problems = check(results)
    assert problems == []
    assert ("Cox regression without penalty (Efron ties, Wald CI): HR not estimable (the "
            "likelihood has no maximum, e.g. no deaths in an arm)") in text
    assert "100% (95% CI not estimable) after surgical treatment" in text
    assert "0.0000" not in text and "not estimable to not estimable" not in text
