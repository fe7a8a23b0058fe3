"""The ``robustness`` section notebook 05 saves (:class:`RobustnessSection`), its
generated sentences, and the small helpers the notebook shows.

The section is built here as notebook 05 builds it, from the objects the notebook
displays; these tests check what is saved (keys, sane values, the stated choices) and
what the sentences say, not that the library agrees with itself.

R reference for :func:`logrank_comparison` (R 4.2.2, survival 3.5-3, coin 1.4-2, on
data/cohort.csv, ``arm`` = surgical vs non-surgical)::

    sd <- survdiff(Surv(followup_months, died) ~ arm, data = d)
    lt <- coin::logrank_test(Surv(followup_months, died) ~ arm, data = d)
    sd$obs[2] - sd$exp[2]; sd$var[2, 2]; sd$chisq; variance(lt); statistic(lt)^2
"""

from __future__ import annotations

import dataclasses
import json
import math

import pandas as pd
import pytest
from scipy import stats

from nethep import robustness as rb
from nethep.cohort import load_cohort
from nethep.formats import p_digits, p_text
from nethep.permutation import exact_logrank, permutation_logrank
from nethep.results import flatten, save_fragment
from nethep.survival import cox_surgical, logrank

REQUIRED = [
    *(f"permutation_logrank.{c}.{k}" for c in ("surgical_vs_nonsurgical", "three_groups")
      for k in ("p", "mc_se", "n_permutations")),
    *(f"exact_logrank.surgical_vs_nonsurgical.{k}" for k in ("p", "p_lower", "p_upper")),
    *(f"bootstrap.survival_36_diff.{k}" for k in ("estimate", "lower", "upper")),
    *(f"cox_adjusted.surgical.{k}" for k in ("hr", "lower", "upper")),
    *(f"iptw.{k}" for k in ("hr", "lower", "upper")),
    "evalue.point", "evalue.ci_limit",
    *(f"landmark.{m}.{k}" for m in ("3", "6") for k in ("hr", "lower", "upper", "n")),
    *(f"time_varying.{k}" for k in ("hr", "lower", "upper")),
    *(f"rmst.{t}.{k}" for t in ("36", "60")
      for k in ("surgical", "nonsurgical", "diff", "lower", "upper")),
    *(f"power.{k}" for k in ("observed_hr", "power_at_observed", "n_for_80", "n_for_90")),
]

R_O_MINUS_E = -6.21421663395997  # surgical arm
R_SURVDIFF_VAR = 4.95415918996205
R_SURVDIFF_CHISQ = 7.79476130925065
R_COIN_VAR = 4.33656415180869
R_COIN_Z2 = 8.90485809086407


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return load_cohort()


def build_section(df: pd.DataFrame, **inference) -> rb.RobustnessSection:
    """The section as notebook 05 builds it, from the objects it displays."""
    adjusted = rb.cox_adjusted(df)
    return rb.RobustnessSection(
        naive=cox_surgical(df), inference=rb.small_sample_inference(df, **inference),
        adjusted=adjusted, iptw=rb.iptw_cox(df),
        iptw_truncated=rb.iptw_cox(df, truncate=rb.TRUNCATION_ALTERNATIVE),
        evalue=adjusted.evalue(rare_outcome=not rb.outcome_is_common(df)),
        landmarks=rb.landmarks(df), time_varying=rb.time_varying_cox(df),
        rmst=rb.restricted_means(df), power=rb.power(df))


@pytest.fixture(scope="module")
def robustness(df) -> rb.RobustnessSection:
    return build_section(df)


@pytest.fixture(scope="module")
def section(robustness) -> dict:
    return robustness.to_results()


@pytest.fixture(scope="module")
def flat(section, tmp_path_factory) -> dict:
    """The section as results.json will hold it: written by save_fragment, read back."""
    path = save_fragment("robustness", section, tmp_path_factory.mktemp("out"))
    return flatten(json.loads(path.read_text(encoding="utf-8")))


def test_every_required_key_is_saved(flat):
    missing = [k for k in REQUIRED if k not in flat]
    assert not missing, f"robustness section lacks {missing}"
    for key in REQUIRED:
        value = flat[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value), key


def test_saved_values_are_sane(flat):
    for comp in ("surgical_vs_nonsurgical", "three_groups"):
        assert flat[f"permutation_logrank.{comp}.n_permutations"] == rb.N_PERMUTATIONS
        assert 0 < flat[f"permutation_logrank.{comp}.p"] < 1
    ex = "exact_logrank.surgical_vs_nonsurgical"
    assert flat[f"{ex}.p_lower"] <= flat[f"{ex}.p"] <= flat[f"{ex}.p_upper"]
    for prefix in ("cox_adjusted.surgical", "iptw", "time_varying", "landmark.3",
                   "landmark.6", "bootstrap.survival_36_diff"):
        lo, mid, hi = (flat[f"{prefix}.{k}"] for k in ("lower",
                                                        "estimate" if "bootstrap" in prefix
                                                        else "hr", "upper"))
        assert lo <= mid <= hi, prefix
    assert flat["evalue.point"] >= flat["evalue.ci_limit"] >= 1
    assert flat["evalue.hr_from"] == "cox_adjusted"
    assert flat["landmark.3.n"] == 46 and flat["landmark.6.n"] == 42
    assert flat["power.n_for_90"] >= flat["power.n_for_80"] > 0
    # the alternatives are saved beside the main choices
    assert "landmark.12.hr" in flat and "iptw_truncated.hr" in flat
    assert flat["choices.weight_trimming"] is None
    assert flat["choices.weight_truncation_alternative"] == [0.01, 0.99]


def test_choices_are_read_from_the_objects(df, section):
    assert section["choices"] == {
        "covariates": ["tumor_type", "liver_involvement_pct", "age_years"],
        "evalue_hr": "cox_adjusted.surgical", "landmark_alternative_months": [12.0],
        "landmark_months": [3.0, 6.0], "n_permutations": 100_000, "n_resamples": 10_000,
        "rmst_tau_months": [36.0, 60.0], "seed": 20061001, "weight_trimming": None,
        "weight_truncation_alternative": [0.01, 0.99]}
    small = build_section(df, n_permutations=200, n_resamples=50, seed=7)
    choices = small.to_results()["choices"]
    assert (choices["n_permutations"], choices["n_resamples"], choices["seed"]) == (200, 50, 7)


def test_section_is_json_and_saves_as_it_is(section, tmp_path):
    text = json.dumps(section, sort_keys=True, allow_nan=False)
    path = save_fragment("robustness", section, tmp_path)
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text)


def test_evalue_must_be_of_the_adjusted_hazard_ratio(robustness):
    other = rb.evalue(0.5, 0.3, 0.8)
    with pytest.raises(ValueError, match="adjusted hazard ratio"):
        dataclasses.replace(robustness, evalue=other)


def test_findings_one_line_per_question(robustness):
    lines = robustness.findings().split("\n")
    assert [line.split(":")[0] for line in lines[:5]] == [
        "Exact inference", "Confounding", "Immortal time", "Size", "Power"]
    assert lines[0] == robustness.inference.finding()
    s, ev = robustness.adjusted.surgical, robustness.evalue
    assert (f"adjusted HR {s.hr:.2f} ({s.lower:.2f} to {s.upper:.2f}) with 6.0 events per "
            "parameter") in lines[1]
    assert f"E-value of the adjusted HR {ev.point:.1f} (confidence limit {ev.ci_limit:.1f})" \
        in lines[1]
    assert lines[2].startswith(f"Immortal time: {robustness.landmarks.hazard_ratios()}; ")
    assert lines[2].endswith(f"against the naive {robustness.naive.hazard_ratio.hr:.2f}.")
    assert lines[3] == robustness.rmst.finding()
    assert lines[4] == "Power: " + robustness.power.needed_sentence("HR 0.5")
    assert lines[5].startswith("All 8 hazard ratios point the same way as the naive one")
    assert robustness.findings(min_cell=30).split("\n")[4].endswith("this study had <30.")


def test_inference_sentences(robustness):
    inf = robustness.inference
    perm, exact = inf.permutation, inf.exact
    lines = inf.p_values().split("\n")
    assert len(lines) == 3
    assert f"exact P = {p_digits(exact.p, 6)}" in lines[0]
    assert f"P = {p_digits(perm.p, 5)}" in lines[0]
    assert lines[1] == (f"The Monte Carlo estimate lies {(perm.p - exact.p) / perm.mc_se:+.1f}"
                        " Monte Carlo SEs from the exact P.")
    # R: coin's variance / survdiff's variance = 4.3366 / 4.9542 = 88%
    assert inf.variance_sentence() == (
        f"The permutation variance is {R_COIN_VAR / R_SURVDIFF_VAR:.0%} of the survdiff "
        f"variance, so the chi-square is {R_COIN_Z2:.2f} instead of {R_SURVDIFF_CHISQ:.2f}.")
    notes = inf.bootstrap_notes().split("\n")
    assert notes[0].startswith("S(36) surgical ") and notes[1] == \
        inf.bootstrap.nonestimable_handling
    assert f"the paper gave {p_text(inf.survdiff.p)}." in inf.finding()
    assert inf.table()["comparison"].tolist() == ["surgical vs non-surgical", "three groups"]


def test_simulated_note(robustness, df):
    assert robustness.simulated_note().startswith(
        "Simulated inputs used: adjusted Cox and propensity score ['age_years']; landmark "
        "and time-varying Cox ['months_to_treatment']")
    own = df.copy()
    own.attrs["reconstructed"] = False
    mine = dataclasses.replace(robustness, adjusted=rb.cox_adjusted(own),
                               time_varying=rb.time_varying_cox(own))
    assert mine.simulated_note() == "User-supplied cohort: no input is simulated."


def test_summary_rows_and_roles(section):
    rows = section["summary"]
    analyses = [r["analysis"] for r in rows]
    assert analyses == [
        "naive Cox", "adjusted Cox", "IPTW Cox",
        "IPTW Cox, weights truncated at percentiles 1 and 99",
        "landmark 3 months", "landmark 6 months", "landmark 12 months", "time-varying Cox",
        "RMST difference, 36 months", "RMST difference, 60 months", "permutation test"]
    roles = dict(zip(analyses, (r["role"] for r in rows), strict=True))
    assert roles["naive Cox"] == "reference"
    assert {a for a, r in roles.items() if r == "alternative"} == {
        "IPTW Cox, weights truncated at percentiles 1 and 99", "landmark 12 months"}
    assert rows[-1]["estimate"] == section["permutation_logrank"][
        "surgical_vs_nonsurgical"]["p"]


def test_summary_without_alternatives_is_unchanged(df):
    summary = rb.robustness_summary(cox_surgical(df), landmarks=[rb.landmark(df, 3)])
    assert summary.table()["analysis"].tolist() == ["naive Cox", "landmark 3 months"]
    assert summary.table()["role"].tolist() == ["reference", "main"]


def test_logrank_comparison_matches_r(df):
    t, e = df["followup_months"], df["died"]
    table = rb.logrank_comparison(logrank(df, "arm"),
                                  permutation_logrank(t, e, df["arm"], n_permutations=1000),
                                  # the coarse 1% grid, as notebook 05 runs it: the
                                  # default's accuracy is test_permutation's subject
                                  exact_logrank(t, e, df["arm"], rtol=0.01))
    assert len(table) == 4
    assert table["o_minus_e"].to_numpy() == pytest.approx([R_O_MINUS_E] * 4, rel=1e-9)
    survdiff, coin = table.iloc[0], table.iloc[1]
    assert survdiff["variance"] == pytest.approx(R_SURVDIFF_VAR, rel=1e-9)
    assert survdiff["chi_square"] == pytest.approx(R_SURVDIFF_CHISQ, rel=1e-9)
    assert coin["variance"] == pytest.approx(R_COIN_VAR, rel=1e-9)
    assert coin["chi_square"] == pytest.approx(R_COIN_Z2, rel=1e-9)
    assert coin["p"] == pytest.approx(stats.chi2.sf(R_COIN_Z2, 1), rel=1e-9)
    exact = table.iloc[3]
    assert exact["p_lower"] <= exact["p"] <= exact["p_upper"]


def test_logrank_comparison_needs_two_groups(df):
    t, e = df["followup_months"], df["died"]
    with pytest.raises(ValueError, match="2-group"):
        rb.logrank_comparison(logrank(df, "treatment_group"),
                              permutation_logrank(t, e, df["treatment_group"], 10))


def test_power_note_numbers_by_hand(df):
    naive = cox_surgical(df)
    note = rb.power_note(rb.power(df), naive)
    p = 13 / 48
    se_formula = 1 / math.sqrt(24 * p * (1 - p))
    wald_power = stats.norm.cdf(abs(math.log(naive.hazard_ratio.hr)) / naive.se
                                - stats.norm.ppf(0.975))
    assert f"= {se_formula:.2f}," in note and f"is {naive.se:.2f}." in note
    assert f"would be {wald_power:.0%}" in note
    assert f"Wald {p_text(naive.hazard_ratio.p)} restated" in note
    assert round(se_formula, 2) == 0.46 and round(wald_power, 2) == 0.69


def test_weight_summary_and_compare_tables(df):
    prop = rb.propensity(df)
    ws = prop.weight_summary()
    assert ws["arm"].tolist() == ["surgical", "nonsurgical"] and ws["n"].tolist() == [13, 35]
    assert ws["ess"].tolist() == pytest.approx([prop.ess["surgical"], prop.ess["nonsurgical"]])
    assert (ws["ps_min"] <= ws["ps_median"]).all() and (ws["ps_median"] <= ws["ps_max"]).all()
    assert (ws["weight_min"] <= ws["weight_max"]).all()
    both = rb.compare_tables({"3 months": rb.landmark(df, 3), "6 months": rb.landmark(df, 6)},
                             label="landmark")
    assert list(both.columns)[0] == "landmark"
    assert both["landmark"].tolist() == ["3 months", "6 months"]
    assert both["at_months"].tolist() == [3.0, 6.0]
