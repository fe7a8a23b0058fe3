"""Every number in a real results.json is verified against R or says why not.

Reads the session's ``nethep run`` on the bundled cohort (``bundled_run`` in
conftest.py), flattens its ``results.json`` and sorts each numeric leaf (numbers and
nulls) into one of:

- ``R``: compared here, end to end, with the value R wrote to a reference JSON under
  ``tests/reference/`` (relative 1e-6, absolute 1e-9 near zero; a Monte Carlo P within
  4 Monte Carlo standard errors of coin's own Monte Carlo P). The function that made
  the number is also tested against the same reference in the test file named.
- ``same``: a restatement of another key (the robustness summary table), which must
  hold exactly the same value.
- ``count``: a tally of patients, events or resamples (exact integers, no R needed).
- ``choice``: an analysis setting echoed into the file (seed, tau, alpha...).
- ``unverified``: computed by nethep, not checked against R, with the reason (the same
  list as docs/verification.md, "Not verified against R").

A key that matches no rule fails the test: a new number in results.json needs an R
reference or a stated reason before it ships.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from statistics import NormalDist
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = ROOT / "tests" / "reference"
VERIFICATION_DOC = ROOT / "docs" / "verification.md"
RTOL = 1e-6
ATOL = 1e-9
MC_SES = 4.0


@cache
def ref(name: str) -> dict:
    return json.loads((REFERENCE_DIR / name).read_text(encoding="utf-8"))


def leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten dicts (``a.b``) and lists (``a[0]``) down to scalar leaves."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(leaves(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(leaves(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = obj
    return out


def is_numeric_leaf(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


# --------------------------------------------------------------------------- R look-ups
# Each returns (R value, reference file, test file that checks the producing function).

SURV = "survival_reference.json"
FIRTH = "firth.json"
RMST = "rmst.json"
TESTS = "tests.json"
ROBUST = "robustness.json"
COIN = "coin.json"


def km_at(m: re.Match) -> tuple[Any, str, str]:
    """survival.at_months.<t>.<group>.<estimate|lower|upper>: summary(survfit, times)."""
    t, group, what = float(m["t"]), m["group"], m["what"]
    grouping = "arm" if group in ("surgical", "nonsurgical") else "group"
    block = ref(SURV)["datasets"]["cohort"]["km_by"][grouping][group]["log-log"]["summary"]
    column = {"estimate": "surv", "lower": "lower", "upper": "upper"}[what]
    if t not in block["time"]:
        # Beyond the last follow-up R (extend = FALSE) omits the row. Where the curve has
        # reached 0 (the last patient died), R's extend = TRUE row holds S = 0 and no CI,
        # which nethep reports too; otherwise nethep reports "not estimable" (null).
        ext = ref(SURV)["datasets"]["cohort"]["km_by"][grouping][group]["log-log"][
            "summary_extend"]
        if t in ext["time"] and ext["surv"][ext["time"].index(t)] == 0:
            return ext[column][ext["time"].index(t)], SURV, "tests/test_reference_survival.py"
        return None, SURV, "tests/test_reference_survival.py"
    return (block[column][block["time"].index(t)], SURV, "tests/test_reference_survival.py")


def km_median(m: re.Match) -> tuple[Any, str, str]:
    group, what = m["group"], m["what"]
    grouping = "arm" if group in ("surgical", "nonsurgical") else "group"
    q = ref(SURV)["datasets"]["cohort"]["km_by"][grouping][group]["log-log"]["quantile"]
    column = {"estimate": "quantile", "lower": "lower", "upper": "upper"}[what]
    return q[column][q["probs"].index(0.5)], SURV, "tests/test_reference_survival.py"


def reverse_km(m: re.Match) -> tuple[Any, str, str]:
    r = ref(SURV)["datasets"]["cohort"]["reverse_km"]
    p = {"median": 0.5, "q1": 0.25, "q3": 0.75}[m["what"]]
    return r["quantile"][r["probs"].index(p)], SURV, "tests/test_reference_survival.py"


def cox_naive(m: re.Match) -> tuple[Any, str, str]:
    c = ref(SURV)["datasets"]["cohort"]["coxph"]
    value = c["zph"]["p"] if m["what"] == "ph_p" else c[m["what"]]
    return value, SURV, "tests/test_reference_survival.py"


def logrank_global(m: re.Match) -> tuple[Any, str, str]:
    by = {"surgical_vs_nonsurgical": "arm", "three_groups": "treatment_group"}[m["which"]]
    key = {"statistic": "chisq", "p": "p", "df": "df"}[m["what"]]
    return ref(TESTS)["logrank"][by][key], TESTS, "tests/test_reference_tests.py"


def logrank_pair(m: re.Match) -> tuple[Any, str, str]:
    for p in ref(TESTS)["pairwise_logrank"]["pairs"]:
        if f"{p['group_a']}_vs_{p['group_b']}" == m["pair"]:
            return p[m["what"]], TESTS, "tests/test_reference_tests.py"
    raise KeyError(m["pair"])


def table_one_p(m: re.Match) -> tuple[Any, str, str]:
    t1 = ref(TESTS)["table_one"]
    var, test = m["var"], m["test"]
    if test == "kruskal":
        block = next(c for c in t1["continuous"] if c["variable"] == var)
        return block["p"], TESTS, "tests/test_reference_tests.py"
    block = next(c for c in t1["categorical"] if c["variable"] == var)
    return (block["fisher_p"] if test == "exact" else block["chi2_p"], TESTS,
            "tests/test_reference_tests.py")


def liver_median(m: re.Match) -> tuple[Any, str, str]:
    block = next(c for c in ref(TESTS)["table_one"]["continuous"]
                 if c["variable"] == "liver_involvement_pct")
    return block["median"][m["group"]], TESTS, "tests/test_reference_tests.py"


def liver_kruskal(m: re.Match) -> tuple[Any, str, str]:
    block = next(c for c in ref(TESTS)["table_one"]["continuous"]
                 if c["variable"] == "liver_involvement_pct")
    return block["p"], TESTS, "tests/test_reference_tests.py"


def palliation_value(m: re.Match) -> tuple[Any, str, str]:
    p = ref(TESTS)["palliation"]
    what = m["what"]
    if what in ("n_symptomatic", "n_palliated", "rate"):
        return p["rate"][m["group"]][what], TESTS, "tests/test_reference_tests.py"
    if what == "rate_ci":
        return p["rate"][m["group"]][m["limit"]], TESTS, "tests/test_reference_tests.py"
    key = {"exact_p": "fisher_p", "chi2_p": "chi2_p", "chi2_statistic": "chi2_statistic",
           "chi2_df": "chi2_df", "n_expected_below_5": "n_expected_below_5"}[what]
    return p[key], TESTS, "tests/test_reference_tests.py"


def followup_simple(m: re.Match) -> tuple[Any, str, str]:
    return ref(TESTS)["followup"][m["what"]], TESTS, "tests/test_reference_tests.py"


IPTW_REF = "iptw.json"


def iptw_value(m: re.Match) -> tuple[Any, str, str]:
    """robustness.iptw (the ATT, primary weighting), iptw_att, iptw_ate, iptw_truncated
    (ATT weights truncated at the 1st/99th percentiles): R glm + coxph(robust = TRUE)."""
    block = {"iptw": "att", "iptw_att": "att", "iptw_ate": "ate",
             "iptw_truncated": "att_truncated"}[m["which"]]
    return ref(IPTW_REF)[block][m["what"]], IPTW_REF, "tests/test_robustness.py"


def positivity(m: re.Match) -> tuple[Any, str, str]:
    """robustness.positivity: score ranges, overlap region, largest weight, ESS (ATT)."""
    att = ref(IPTW_REF)["att"]
    arm = m["arm"]
    value = {"ps_min": lambda: att[f"ps_range_{arm}"][0],
             "ps_max": lambda: att[f"ps_range_{arm}"][1],
             "ess": lambda: att["ess"][arm],
             "max_weight": lambda: att["max_weight"],
             "overlap_lower": lambda: max(att["ps_range_surgical"][0],
                                          att["ps_range_nonsurgical"][0]),
             "overlap_upper": lambda: min(att["ps_range_surgical"][1],
                                          att["ps_range_nonsurgical"][1])}[m["what"]]()
    return value, IPTW_REF, "tests/test_robustness.py"


def robust_cox(m: re.Match) -> tuple[Any, str, str]:
    r = ref(ROBUST)
    which, what = m["which"], m["what"]
    block = {"cox_adjusted.surgical": r["adjusted"]["terms"][0],
             "time_varying": r["time_varying"]}[which]
    return block[what], ROBUST, "tests/test_robustness.py"


def landmark(m: re.Match) -> tuple[Any, str, str]:
    at = float(m["at"])
    if at == ref(TESTS)["landmark_12"]["at_months"]:
        return ref(TESTS)["landmark_12"][m["what"]], TESTS, "tests/test_reference_tests.py"
    block = next(b for b in ref(ROBUST)["landmark"] if float(b["at_months"]) == at)
    return block[m["what"]], ROBUST, "tests/test_robustness.py"


def propensity(m: re.Match) -> tuple[Any, str, str]:
    """Balance before weighting (robustness.json); after weighting and ESS with the ATT
    weights of the primary weighting (iptw.json)."""
    p = ref(ROBUST)["propensity"]
    if m["what"] == "ess":
        return ref(IPTW_REF)["att"]["ess"][m["term"]], IPTW_REF, "tests/test_robustness.py"
    if m["what"] == "smd_after":
        return (ref(IPTW_REF)["att"]["smd_after"][m["term"]], IPTW_REF,
                "tests/test_robustness.py")
    row = next(b for b in p["balance"] if b["term"] == m["term"])
    return row[m["what"]], ROBUST, "tests/test_robustness.py"


def coin_block(which: str) -> dict:
    return ref(COIN)["cohort_arm" if which == "surgical_vs_nonsurgical"
                     else "cohort_treatment_group"]


def coin_statistic(m: re.Match) -> tuple[Any, str, str]:
    block = coin_block(m["which"])
    return block[m["what"]], COIN, "tests/test_permutation.py"


def bootstrap_km(m: re.Match) -> tuple[Any, str, str]:
    """The bootstrap's point estimates are Kaplan-Meier S(36) per arm and their difference."""
    arms = ref(SURV)["datasets"]["cohort"]["km_by"]["arm"]

    def s36(arm: str) -> float:
        block = arms[arm]["log-log"]["summary"]
        return block["surv"][block["time"].index(36)]

    value = {"surv_treated": s36("surgical"), "surv_control": s36("nonsurgical"),
             "estimate": s36("surgical") - s36("nonsurgical")}[m["what"]]
    return value, SURV, "tests/test_reference_survival.py"


Lookup = Callable[[re.Match], tuple[Any, str, str]]


def firth_cohort(ties: str) -> dict:
    return next(c for c in ref(FIRTH)["cases"] if c["data"] == "cohort" and c["ties"] == ties)


def firth_value(m: re.Match) -> tuple[Any, str, str]:
    """robustness.firth(_breslow).<hr|lower|upper|p_lr> and robustness.primary.<hr|lower|
    upper|p> (on the bundled cohort the stated rule makes Firth, Efron ties, primary)."""
    f = firth_cohort("breslow" if m["which"] == "firth_breslow" else "efron")["firth"]
    what = m["what"]
    if what in ("p", "p_lr"):
        return f["p"], FIRTH, "tests/test_firth.py"
    return math.exp(f[{"hr": "coef"}.get(what, what)]), FIRTH, "tests/test_firth.py"


def cox_three_tests(m: re.Match) -> tuple[Any, str, str]:
    return firth_cohort("efron")["cox"][m["what"]], FIRTH, "tests/test_firth.py"


def rmst_r(m: re.Match) -> tuple[Any, str, str]:
    """robustness.rmst.<what> (the default horizon) and robustness.rmst.(extended.)<tau>.<what>:
    summary(survfit, rmean = tau); difference, SE, normal CI and P from R's values."""
    case = next(c for c in ref(RMST)["cases"] if c["data"] == "cohort" and (
        c["default"] if m["tau"] is None else float(c["tau"]) == float(m["tau"])))
    s, ns = case["groups"]["surgical"], case["groups"]["nonsurgical"]
    diff, se = s["rmean"] - ns["rmean"], math.hypot(s["se"], ns["se"])
    z = NormalDist().inv_cdf(0.975)
    value = {"tau": case["tau"], "surgical": s["rmean"], "nonsurgical": ns["rmean"],
             "diff": diff, "lower": diff - z * se, "upper": diff + z * se,
             "p": math.erfc(abs(diff / se) / math.sqrt(2))}[m["what"]]
    return value, RMST, "tests/test_effect_size.py"


H1_R_RULES: list[tuple[str, Lookup]] = [
    (r"robustness\.(?P<which>firth|firth_breslow)\.(?P<what>hr|lower|upper|p_lr)", firth_value),
    (r"robustness\.(?P<which>primary)\.(?P<what>hr|lower|upper|p)", firth_value),
    (r"robustness\.cox_tests\.(?P<what>wald_p|lr_p|score_p)", cox_three_tests),
    (r"robustness\.rmst\.(?:(?:extended\.)?(?P<tau>\d+)\.)?"
     r"(?P<what>tau|surgical|nonsurgical|diff|lower|upper|p)", rmst_r),
]
H3_R_RULES: list[tuple[str, Lookup]] = [
    (r"robustness\.(?P<which>iptw|iptw_att|iptw_ate|iptw_truncated)\."
     r"(?P<what>hr|lower|upper)", iptw_value),
    (r"robustness\.positivity\.(?P<what>ps_min|ps_max|ess)\.(?P<arm>surgical|nonsurgical)",
     positivity),
    (r"robustness\.positivity\.(?P<what>max_weight|overlap_lower|overlap_upper)(?P<arm>)",
     positivity),
    (r"robustness\.(?P<which>evalue)\.(?P<what>hr|lower|upper)", firth_value),
]
H3_COUNT = [
    r"robustness\.(iptw|iptw_att|iptw_ate|iptw_truncated)\.(boot_zero|boot_infinite)",
    r"robustness\.positivity\.n_outside\.\w+",
]
H3_CHOICE = [r"robustness\.(iptw|iptw_att|iptw_ate|iptw_truncated)\.n_boot"]
H3_UNVERIFIED = {
    r"robustness\.(iptw|iptw_att|iptw_ate|iptw_truncated)\.boot_(lower|upper)":
        "whole-pipeline bootstrap of IPTW (propensity model, weights and weighted Cox refitted "
        "per resample): random resampling; the vectorised pipeline equals R's glm + coxph on "
        "25 resamples drawn by R to 1e-6 (tests/test_robustness.py, iptw.json); null when a "
        "limit is 0 (an arm with no deaths in > 2.5% of resamples) and for truncated "
        "weights (not bootstrapped)",
    r"robustness\.positivity\.share_outside":
        "share of patients outside the common support: arithmetic on the R-checked score "
        "ranges (tests/test_robustness.py)",
    r"robustness\.evalue\.(rr|rr_limit)":
        "E-value's risk ratios: VanderWeele-Ding conversion of the primary HR, checked by hand "
        "(tests/test_robustness_results.py)",
    r"robustness\.permutation_logrank\.\w+\.p_bound":
        "(n_extreme + 1)/(B + 1): arithmetic on the permutation count",
}
H1_COUNT = [r"robustness\.power\.events"]
H1_CHOICE = [
    r"robustness\.rmst\.(?:(?:extended\.)?\d+\.)?(n_resamples|seed)",
    r"robustness\.power\.alpha",
    r"robustness\.power\.design\.hr_\w+\.hr",
]
H1_UNVERIFIED = {
    r"robustness\.rmst\.(?:(?:extended\.)?\d+\.)?boot_(lower|upper)":
        "bootstrap CI of the RMST difference: random resampling; checked against R boot's "
        "stratified percentile interval within Monte Carlo error (tests/test_effect_size.py)",
    r"robustness\.power\.allocation":
        "proportion of patients treated surgically: arithmetic on counts",
    r"robustness\.power\.design\.hr_\w+\.(power|events_80|n_80|events_90|n_90)":
        "power design table: Schoenfeld's formula, checked by hand (tests/test_effect_size.py)",
}

G = r"(?P<group>medical|embolization|surgical|nonsurgical)"
R_RULES: list[tuple[str, Lookup]] = [
    (rf"survival\.at_months\.(?P<t>\d+)\.{G}\.(?P<what>estimate|lower|upper)", km_at),
    (rf"survival\.median\.{G}\.(?P<what>estimate|lower|upper)", km_median),
    (r"survival\.cox\.surgical_vs_nonsurgical\.(?P<what>hr|lower|upper|p|ph_p)", cox_naive),
    (r"survival\.logrank\.(?P<which>surgical_vs_nonsurgical|three_groups)\."
     r"(?P<what>statistic|p|df)", logrank_global),
    (r"survival\.logrank\.pairwise\.(?P<pair>\w+_vs_\w+)\.(?P<what>p|p_holm)", logrank_pair),
    (r"followup\.reverse_km_(?P<what>median|q1|q3)_months", reverse_km),
    (r"followup\.(?P<what>median|min|max)_months", followup_simple),
    (r"treatment_groups\.p_values\.(?P<var>\w+)\.(?P<test>kruskal|exact|chi2)", table_one_p),
    (r"treatment_groups\.liver_involvement\.kruskal_p", liver_kruskal),
    (rf"treatment_groups\.liver_involvement\.median_by_group\.{G}", liver_median),
    (rf"palliation\.(?P<what>n_symptomatic|n_palliated|rate)\.{G}", palliation_value),
    (rf"palliation\.(?P<what>rate_ci)\.{G}\.(?P<limit>lower|upper)", palliation_value),
    (r"palliation\.(?P<what>exact_p|chi2_p|chi2_statistic|chi2_df|n_expected_below_5)",
     palliation_value),
    (r"robustness\.(?P<which>cox_adjusted\.surgical|time_varying)\."
     r"(?P<what>hr|lower|upper)", robust_cox),
    *H3_R_RULES,
    (r"robustness\.landmark\.(?P<at>\d+)\.(?P<what>hr|lower|upper|n)", landmark),
    (r"robustness\.propensity\.(?P<what>ess)\.(?P<term>surgical|nonsurgical)", propensity),
    (r"robustness\.propensity\.(?P<what>smd_before|smd_after)\.(?P<term>.+)", propensity),
    (r"robustness\.permutation_logrank\.(?P<which>\w+)\.(?P<what>statistic|p_asymptotic)",
     coin_statistic),
    (r"robustness\.exact_logrank\.(?P<which>surgical_vs_nonsurgical)\.(?P<what>statistic)",
     coin_statistic),
    (r"robustness\.bootstrap\.survival_36_diff\.(?P<what>estimate|surv_treated|surv_control)",
     bootstrap_km),
] + H1_R_RULES

MONTE_CARLO = r"robustness\.permutation_logrank\.(?P<which>\w+)\.p"

COUNT = [
    r"cohort\.(n_patients|n_by_group\.\w+|n_by_treatment\.\w+|n_by_tumor_type\.\w+)",
    r"cohort\.accrual\.(first|last)_year",
    r"data\.n_rows",
    r"treatment_groups\.(n_by_group|n_missing)\.\w+",
    r"robustness\.permutation_logrank\.\w+\.(n_extreme|sizes\[\d+\])",
    r"robustness\.exact_logrank\.\w+\.(n_assignments|sizes\[\d+\])",
    r"robustness\.bootstrap\.\w+\.n_nonestimable(_control|_treated)?",
    *H1_COUNT,
    *H3_COUNT,
    r"cohort\.intake\.(n_rows|n_excluded\.[\w ]+)",
    r"cohort\.n_by_group_\w+\.\w+",
    r"ensemble\.n_members",
    r"ensemble\.quantities\.\w+\.n_estimable",
    r"scenarios\.\w+\.\w+\.(n_replicates|n_failed)",
]
CHOICE = [
    r"palliation\.conf_level",
    r"robustness\.choices\..+",
    r"robustness\.permutation_logrank\.\w+\.(df|n_permutations|seed)",
    r"robustness\.bootstrap\.\w+\.(at|confidence_level|n_resamples|seed)",
    r"robustness\.exact_logrank\.\w+\.grid_factor",
    *H1_CHOICE,
    *H3_CHOICE,
    r"scenarios\.choices\..+",
    r"scenarios\.\w+\.\w+\.true_hr",
    r"ensemble\.(models|rules)\..+",
    r"ensemble\.seed",
]
#: Numbers of a simulation study or of the ensemble: not estimates on the cohort, so not
#: against R; how each is checked (kept apart from UNVERIFIED, whose share is bounded).
SIMULATED = {
    r"scenarios\.\w+\.\w+\.(bias|median_bias|mcse_bias|coverage|mcse_coverage|rejection|"
    r"mcse_rejection|marginal_hr|true_rmst_difference)":
        "known-truth scenarios (notebook 06): each method equals its single-cohort engine, "
        "itself verified against R, on replicates; null error and coverage nominal within "
        "Monte Carlo error (tests/test_scenarios.py); the truth is the generating model",
    r"ensemble\.quantities\.\w+\.(median|lower|upper|bundled)":
        "ensemble ranges (notebook 07): every member's quantity agrees with R for 48 members "
        "(tests/reference/ensemble.json, tests/test_ensemble.py); medians and percentiles "
        "are arithmetic over members",
    r"ensemble\.conclusions\.\w+\.share":
        "share of ensemble members in which a statement holds: arithmetic over members "
        "(tests/test_ensemble.py)",
    r"tipping_point\..+":
        "tipping point: deaths added to censored surgical patients until the log-rank P "
        "reaches .05, recomputed directly and exhaustively in tests/test_ensemble.py",
}
UNVERIFIED = {
    r"treatment_groups\.smd\.\w+":
        "standardized mean differences: no R function in base R or survival; formulas "
        "(Austin 2009; Yang and Dalton 2012) checked on hand-worked examples "
        "(tests/test_describe.py)",
    r"robustness\.evalue\.(point|ci_limit)":
        "E-value: closed-form formula (VanderWeele and Ding 2017) checked on the published "
        "example and hand-worked values (tests/test_robustness.py)",
    r"robustness\.exact_logrank\.\w+\.(p|p_lower|p_upper|max_rounding|max_rounding_z)":
        "exact log-rank P for 48 patients: equals coin's exact P on small sets and full "
        "enumeration (tests/test_permutation.py); on the cohort bounded by the grid error "
        "and checked against the Monte Carlo P, not against coin (not run at this size)",
    r"robustness\.permutation_logrank\.\w+\.mc_se":
        "Monte Carlo standard error sqrt(p (1 - p) / B): arithmetic on the P",
    r"robustness\.bootstrap\.\w+\.(lower|upper|bca_lower|bca_upper|percentile_lower|"
    r"percentile_upper|bootstrap_se|acceleration|bias_correction)":
        "bootstrap interval: random resampling; checked against scipy.stats.bootstrap on "
        "the same resamples (tests/test_permutation.py), not against R's boot",
    **H1_UNVERIFIED,
    **H3_UNVERIFIED,
}


def same_as(results_flat: dict[str, Any], key: str, results: dict) -> str | None:
    """The primary key that a robustness.summary cell restates, or None."""
    m = re.fullmatch(r"robustness\.summary\[(\d+)\]\.(estimate|lower|upper|n)", key)
    if not m:
        return None
    row = results["robustness"]["summary"][int(m[1])]
    name, what = row["analysis"], m[2]
    hr = {"estimate": "hr", "lower": "lower", "upper": "upper"}
    if what == "n":
        lm = re.fullmatch(r"landmark (\d+) months", name)
        return f"robustness.landmark.{lm[1]}.n" if lm else "cohort.n_patients"
    if name == "naive Cox":
        return f"survival.cox.surgical_vs_nonsurgical.{hr[what]}"
    if name == "Firth Cox":
        return f"robustness.firth.{hr[what]}"
    if name == "adjusted Cox":
        return f"robustness.cox_adjusted.surgical.{hr[what]}"
    if name == "IPTW Cox, ATT":
        return f"robustness.iptw.{hr[what]}"
    if name == "IPTW Cox, ATE":
        return f"robustness.iptw_ate.{hr[what]}"
    if name.startswith("IPTW Cox, ATT, weights truncated"):
        return f"robustness.iptw_truncated.{hr[what]}"
    if name == "time-varying Cox":
        return f"robustness.time_varying.{hr[what]}"
    if lm := re.fullmatch(r"landmark (\d+) months", name):
        return f"robustness.landmark.{lm[1]}.{hr[what]}"
    if rm := re.fullmatch(r"RMST difference, (\d+) months", name):
        main = float(rm[1]) == float(results["robustness"]["rmst"]["tau"])
        base = "robustness.rmst" if main else f"robustness.rmst.{rm[1]}"
        return f"{base}." + {"estimate": "diff"}.get(what, what)
    if name == "permutation test" and what == "estimate":
        return "robustness.permutation_logrank.surgical_vs_nonsurgical.p"
    if name == "exact log-rank test" and what == "estimate":
        return "robustness.exact_logrank.surgical_vs_nonsurgical.p"
    if name in ("permutation test", "exact log-rank test"):
        return "(none: no interval for a P value)"
    raise AssertionError(f"robustness.summary row {name!r} has no rule in this test")


def close(actual: Any, expected: Any) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    a, e = float(actual), float(expected)
    if math.isnan(e):
        return False
    return abs(a - e) <= max(RTOL * abs(e), ATOL)


@pytest.fixture(scope="module")
def results(bundled_run) -> dict:
    return bundled_run.results


def classify(key: str, value: Any, flat: dict[str, Any], results: dict) -> tuple[str, str]:
    """(category, detail); detail is a failure message for 'R' and 'same' mismatches."""
    for pattern, lookup in R_RULES:
        m = re.fullmatch(pattern, key)
        if m:
            expected, source, test_file = lookup(m)
            if close(value, expected):
                return "R", ""
            return "R", (f"cohort (data/cohort.csv): {key}: results.json={value!r} "
                         f"R={expected!r} ({source}; producing function tested in "
                         f"{test_file})")
    m = re.fullmatch(MONTE_CARLO, key)
    if m:
        p_r = coin_block(m["which"])["p_monte_carlo"]
        b_r = coin_block(m["which"])["monte_carlo_nresample"]
        b = flat[f"robustness.permutation_logrank.{m['which']}.n_permutations"]
        se = math.sqrt(p_r * (1 - p_r) * (1 / b + 1 / b_r))
        if abs(value - p_r) <= MC_SES * se:
            return "R", ""
        return "R", (f"cohort (data/cohort.csv): {key}: results.json={value!r} coin Monte "
                     f"Carlo P={p_r!r}, more than {MC_SES:g} Monte Carlo SE ({se:.2g}) apart")
    primary = same_as(flat, key, results)
    if primary is not None:
        if primary.startswith("(none"):
            return "same", "" if value is None else f"{key} should be null, is {value!r}"
        return "same", ("" if flat.get(primary) == value
                        else f"{key}={value!r} differs from {primary}={flat.get(primary)!r}")
    if any(re.fullmatch(p, key) for p in COUNT):
        return "count", ""
    if any(re.fullmatch(p, key) for p in CHOICE):
        return "choice", ""
    if any(re.fullmatch(p, key) for p in UNVERIFIED):
        return "unverified", ""
    if any(re.fullmatch(p, key) for p in SIMULATED):
        return "simulated", ""
    return "unclassified", key


def test_every_number_in_results_json_is_verified_or_explained(results):
    flat = leaves(results)
    # comparison.*: paper vs ours, strings and booleans; same_direction: a boolean that
    # is null where it does not apply (a P value has no direction).
    numeric = {k: v for k, v in flat.items() if is_numeric_leaf(v)
               and not k.startswith("comparison.") and not k.endswith(".same_direction")}
    assert len(numeric) > 200, f"only {len(numeric)} numeric keys: did the run change?"
    seen: dict[str, list[str]] = {}
    problems: list[str] = []
    for key, value in sorted(numeric.items()):
        category, detail = classify(key, value, flat, results)
        seen.setdefault(category, []).append(key)
        if category == "unclassified":
            problems.append(f"{key} = {value!r}: no R reference and no stated reason "
                            "(add one to tests/reference or to UNVERIFIED here and to "
                            "docs/verification.md)")
        elif detail:
            problems.append(detail)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)
    # Most reported estimates are checked against R; the rest is small and listed.
    assert len(seen["R"]) > 3 * len(seen.get("unverified", [])), {
        k: len(v) for k, v in seen.items()}


def test_verification_doc_names_every_reference_set_and_unverified_estimate():
    """(That every file and test it names exists: tests/test_docs_references.py, for
    every doc.)"""
    text = VERIFICATION_DOC.read_text(encoding="utf-8")
    for name in ("survival_reference.json", "fastcox.json", "robustness.json", "coin.json",
                 "exact.json", "tests.json"):
        assert name in text, f"docs/verification.md does not mention {name}"
    for word in ("E-value", "power", "bootstrap", "standardized mean difference",
                 "exact log-rank"):
        assert word.lower() in text.lower(), f"docs/verification.md does not discuss {word}"
    for version in (ref(SURV)["survival_version"], ref(COIN)["coin_version"],
                    ref(TESTS)["r_version"]):
        assert version in text, f"docs/verification.md does not state version {version}"
