"""Table 1, palliation and log-rank tests on the bundled cohort against R.

``tests/reference/make_tests_reference.R`` (run by ``make reference``) reads
``data/cohort.csv`` and writes to ``tests/reference/tests.json`` what R (stats and
survival) computes for the tests nethep reports:

- Table 1: ``kruskal.test`` (liver_involvement_pct, age_years, months_to_treatment by
  treatment group, observation excluded for the last) with the per-group medians;
  ``chisq.test(correct = FALSE)`` and ``fisher.test`` on the levels x groups tables of
  tumor_type, sex, symptomatic and the liver-involvement category;
- palliation: ``chisq.test(correct = FALSE)``, ``fisher.test`` and ``binom.test``
  (Clopper-Pearson) on palliated yes / no by group among symptomatic patients;
- log-rank: ``survdiff`` (surgical vs non-surgical, and the 3 groups) and, since
  survival has no pairwise function, ``survdiff`` on every pair of groups followed by
  ``p.adjust(method = "holm")``;
- the simple follow-up summary, the 12-month landmark Cox model and the RMST
  difference with its normal 95% CI, which results.json reports and no other
  reference file covers.

Every number must agree with R to a relative 1e-6 (absolute 1e-9 near zero), counts
exactly. A failure names the data set, the estimate and both values.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import pytest

from nethep import robustness as rb
from nethep.cohort import load_cohort
from nethep.palliation import palliation
from nethep.survival import followup, logrank, pairwise_logrank
from nethep.tableone import liver_category, table_one

REFERENCE = Path(__file__).resolve().parent / "reference" / "tests.json"
RTOL = 1e-6
ATOL = 1e-9
DATASET = "cohort (data/cohort.csv)"


@cache
def reference() -> dict:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


@cache
def cohort():
    return load_cohort()


def close(actual, expected) -> bool:
    a = float("nan") if actual is None else float(actual)
    e = float("nan") if expected is None else float(expected)
    if math.isnan(a) or math.isnan(e):
        return math.isnan(a) and math.isnan(e)
    return abs(a - e) <= max(RTOL * abs(e), ATOL)


def _show(x) -> str:
    return "None" if x is None else repr(float(x))


class Mismatches:
    """Collects every disagreement so that one failure lists them all."""

    def __init__(self, dataset: str = DATASET):
        self.dataset = dataset
        self.lines: list[str] = []
        self.checked = 0

    def check(self, what: str, actual, expected) -> None:
        self.checked += 1
        if not close(actual, expected):
            self.lines.append(f"{self.dataset}: {what}: nethep={_show(actual)} "
                              f"R={_show(expected)}")

    def equal(self, what: str, actual, expected) -> None:
        self.checked += 1
        if actual != expected:
            self.lines.append(f"{self.dataset}: {what}: nethep={actual!r} R={expected!r}")

    def assert_ok(self) -> None:
        assert self.checked > 0, f"{self.dataset}: nothing compared"
        if self.lines:
            pytest.fail(f"{len(self.lines)} disagreement(s) with R "
                        f"(tests/reference/tests.json):\n" + "\n".join(self.lines),
                        pytrace=False)


CONTINUOUS = [c["variable"] for c in reference()["table_one"]["continuous"]]
CATEGORICAL = [c["variable"] for c in reference()["table_one"]["categorical"]]


def test_reference_records_versions_and_no_dates_or_paths():
    ref = reference()
    assert ref["r_version_string"].startswith("R version ")
    assert ref["r_version"] and ref["survival_version"] and ref["jsonlite_version"]
    assert ref["data"] == "../../data/cohort.csv"
    assert (REFERENCE.parent / ref["data"]).resolve() == (
        Path(__file__).resolve().parent.parent / "data" / "cohort.csv")
    text = REFERENCE.read_text(encoding="utf-8")
    assert "date" not in text.lower() and "/work" not in text and "/home" not in text


def test_reference_was_made_from_the_bundled_cohort():
    """The counts R saw are the bundled cohort's (else rerun `make reference`)."""
    df = cohort()
    ref = reference()
    m = Mismatches()
    m.equal("patients", len(df), ref["n"])
    for block in ref["table_one"]["categorical"]:
        var = block["variable"]
        for level, row in zip(block["levels"], block["table"], strict=True):
            for group, count in zip(block["groups"], row, strict=True):
                sub = df[df["treatment_group"] == group]
                values = (liver_category(sub["liver_involvement_pct"])
                          if var == "liver_involvement_category" else sub[var]).astype(str)
                m.equal(f"{var}={level} count in {group}", int((values == level).sum()), count)
    m.assert_ok()


@pytest.mark.parametrize("variable", CONTINUOUS)
def test_table_one_kruskal_wallis_matches_r(variable):
    """table_one(df).stats(): Kruskal-Wallis H, df and P as kruskal.test; group medians."""
    r = next(c for c in reference()["table_one"]["continuous"] if c["variable"] == variable)
    t1 = table_one(cohort())
    row = t1.stats().set_index("variable").loc[variable]
    m = Mismatches()
    m.equal(f"Table 1 test ({variable})", row["test"], "kruskal")
    m.check(f"Kruskal-Wallis statistic ({variable})", row["statistic"], r["statistic"])
    m.check(f"Kruskal-Wallis df ({variable})", row["dof"], r["df"])
    m.check(f"Kruskal-Wallis P ({variable})", row["p"], r["p"])
    m.equal(f"groups tested ({variable})", row["groups_tested"], ", ".join(r["groups"]))
    m.equal(f"patients excluded ({variable})", int(row["n_excluded"]), r["n_excluded"])
    medians = t1.grouped[variable].medians()
    for group, value in r["median"].items():
        m.check(f"median ({variable}, {group})", medians[group], value)
    m.assert_ok()


@pytest.mark.parametrize("variable", CATEGORICAL)
def test_table_one_chi_square_and_fisher_match_r(variable):
    """table_one(df).stats(): Pearson chi-square (no correction) and the exact P."""
    r = next(c for c in reference()["table_one"]["categorical"] if c["variable"] == variable)
    row = table_one(cohort()).stats().set_index("variable").loc[variable]
    m = Mismatches()
    m.equal(f"Table 1 test ({variable})", row["test"], "fisher_freeman_halton")
    m.check(f"chi-square statistic ({variable})", row["chi2_statistic"], r["chi2_statistic"])
    m.check(f"chi-square df ({variable})", row["chi2_dof"], r["chi2_df"])
    m.check(f"chi-square P ({variable})", row["chi2_p"], r["chi2_p"])
    m.check(f"chi-square smallest expected count ({variable})", row["chi2_min_expected"],
            r["chi2_min_expected"])
    m.check(f"Fisher-Freeman-Halton exact P ({variable})", row["p"], r["fisher_p"])
    m.equal(f"groups tested ({variable})", row["groups_tested"], ", ".join(r["groups"]))
    m.assert_ok()


def test_every_tested_table_one_variable_has_a_reference():
    tested = [r.variable for r in table_one(cohort()).results if r.test]
    assert sorted(tested) == sorted(CONTINUOUS + CATEGORICAL)


def test_palliation_matches_r():
    """palliation(df): chi-square, exact P and Clopper-Pearson intervals per group."""
    r = reference()["palliation"]
    res = palliation(cohort())
    m = Mismatches()
    m.equal("palliation groups tested", list(res.tested_groups), r["groups"])
    m.equal("palliation table (yes, no by group)", [list(res.counts[0]), list(res.counts[1])],
            r["table"])
    m.check("palliation chi-square statistic", res.chi2_statistic, r["chi2_statistic"])
    m.check("palliation chi-square df", res.chi2_df, r["chi2_df"])
    m.check("palliation chi-square P", res.chi2_p, r["chi2_p"])
    m.check("palliation smallest expected count", res.min_expected, r["chi2_min_expected"])
    m.equal("palliation expected counts below 5", res.n_expected_below_5,
            r["n_expected_below_5"])
    m.check("palliation Fisher-Freeman-Halton exact P", res.exact_p, r["fisher_p"])
    for group, block in r["rate"].items():
        g = res.group(group)
        m.equal(f"palliation n symptomatic ({group})", g.n_symptomatic, block["n_symptomatic"])
        m.equal(f"palliation n palliated ({group})", g.n_palliated, block["n_palliated"])
        m.check(f"palliation rate ({group})", g.rate, block["rate"])
        m.check(f"palliation Clopper-Pearson lower ({group})", g.lower, block["lower"])
        m.check(f"palliation Clopper-Pearson upper ({group})", g.upper, block["upper"])
    m.assert_ok()


@pytest.mark.parametrize("by", ["arm", "treatment_group"])
def test_logrank_matches_survdiff(by):
    r = reference()["logrank"][by]
    res = logrank(cohort(), by=by)
    m = Mismatches()
    m.check(f"log-rank chi-square ({by})", res.statistic, r["chisq"])
    m.check(f"log-rank df ({by})", res.df, r["df"])
    m.check(f"log-rank P ({by})", res.p, r["p"])
    observed = dict(zip(res.groups, res.observed, strict=True))
    expected = dict(zip(res.groups, res.expected, strict=True))
    m.equal(f"log-rank groups ({by})", sorted(res.groups), sorted(r["levels"]))
    for i, level in enumerate(r["levels"]):
        m.check(f"log-rank observed ({by}={level})", observed.get(level), r["observed"][i])
        m.check(f"log-rank expected ({by}={level})", expected.get(level), r["expected"][i])
    m.assert_ok()


def test_pairwise_logrank_holm_matches_r():
    """pairwise_logrank: survdiff per pair, then p.adjust(method = "holm")."""
    pairs = reference()["pairwise_logrank"]["pairs"]
    rows = pairwise_logrank(cohort(), by="treatment_group").rows  # numbers, not display
    m = Mismatches()
    m.equal("pairs", [(a, b) for a, b in zip(rows["group_a"], rows["group_b"], strict=True)],
            [(p["group_a"], p["group_b"]) for p in pairs])
    for (_, row), p in zip(rows.iterrows(), pairs, strict=False):
        pair = f"{p['group_a']} vs {p['group_b']}"
        m.check(f"pairwise log-rank chi-square ({pair})", row["statistic"], p["chisq"])
        m.check(f"pairwise log-rank P ({pair})", row["p"], p["p"])
        m.check(f"pairwise log-rank Holm P ({pair})", row["p_holm"], p["p_holm"])
    m.assert_ok()


def test_followup_summary_matches_r():
    r = reference()["followup"]
    fu = followup(cohort())
    m = Mismatches()
    m.check("median of observed follow-up times", fu.simple_median, r["median"])
    m.check("shortest follow-up", fu.min, r["min"])
    m.check("longest follow-up", fu.max, r["max"])
    m.assert_ok()


def test_landmark_12_months_matches_r():
    r = reference()["landmark_12"]
    res = rb.landmark(cohort(), r["at_months"])
    m = Mismatches()
    for key in ("n", "events", "n_surgical"):
        m.equal(f"landmark 12 months {key}", getattr(res, key), r[key])
    for key in ("coef", "se", "hr", "lower", "upper", "p"):
        value = getattr(res if key in ("coef", "se") else res.hazard_ratio, key)
        m.check(f"landmark 12 months Cox {key}", value, r[key])
    m.assert_ok()


@pytest.mark.parametrize("index", [0, 1])
def test_rmst_difference_and_ci_match_r(index):
    r = reference()["rmst_difference"][index]
    res = rb.rmst(cohort(), r["tau"])
    m = Mismatches()
    at = f"tau = {r['tau']:g}"
    m.check(f"RMST surgical ({at})", res.arm("surgical")["rmst"], r["surgical"])
    m.check(f"RMST nonsurgical ({at})", res.arm("nonsurgical")["rmst"], r["nonsurgical"])
    m.check(f"RMST difference ({at})", res.diff, r["diff"])
    m.check(f"RMST difference SE ({at})", res.se_diff, r["se_diff"])
    m.check(f"RMST difference lower 95% ({at})", res.lower, r["lower"])
    m.check(f"RMST difference upper 95% ({at})", res.upper, r["upper"])
    m.assert_ok()
