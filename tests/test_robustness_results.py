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
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from nethep import robustness as rb
from nethep.cohort import load_cohort
from nethep.exact_logrank import exact_logrank
from nethep.formats import p_digits, p_text
from nethep.permutation import permutation_logrank
from nethep.results import flatten, save_fragment
from nethep.survival import cox_surgical, logrank

REQUIRED = [
    *(f"permutation_logrank.{c}.{k}" for c in ("surgical_vs_nonsurgical", "three_groups")
      for k in ("p", "mc_se", "n_permutations", "p_bound")),
    *(f"exact_logrank.surgical_vs_nonsurgical.{k}" for k in ("p", "p_lower", "p_upper")),
    *(f"bootstrap.survival_36_diff.{k}" for k in ("estimate", "lower", "upper")),
    *(f"primary.{k}" for k in ("hr", "lower", "upper", "p")),
    *(f"cox_adjusted.surgical.{k}" for k in ("hr", "lower", "upper")),
    *(f"{w}.{k}" for w in ("iptw", "iptw_att", "iptw_ate")
      for k in ("hr", "lower", "upper", "boot_upper", "n_boot")),
    *(f"positivity.{k}" for k in ("overlap_lower", "overlap_upper", "share_outside",
                                  "max_weight", "ess.surgical", "ess.nonsurgical",
                                  "ps_min.surgical", "ps_max.nonsurgical")),
    "evalue.point", "evalue.ci_limit", "evalue.rr", "evalue.rr_limit",
    *(f"landmark.{m}.{k}" for m in ("3", "6") for k in ("hr", "lower", "upper", "n")),
    *(f"time_varying.{k}" for k in ("hr", "lower", "upper")),
]
COULD_DIFFER = ("small_events", "exact_tests", "bootstrap", "adjusted", "iptw", "evalue",
                "landmark", "time_varying", "rmst", "power")

_REFERENCE = Path(__file__).resolve().parent / "reference"
#: R's survdiff (make_reference.R) and coin's logrank_test (make_coin_reference.R) on the
#: bundled cohort, surgical vs non-surgical.
_SURVDIFF = json.loads((_REFERENCE / "survival_reference.json").read_text(
    encoding="utf-8"))["datasets"]["cohort"]["survdiff"]["arm"]
_COIN = json.loads((_REFERENCE / "coin.json").read_text(encoding="utf-8"))["cohort_arm"]
_SURGICAL = _SURVDIFF["levels"].index("surgical")
R_O_MINUS_E = _SURVDIFF["observed"][_SURGICAL] - _SURVDIFF["expected"][_SURGICAL]
R_SURVDIFF_VAR = _SURVDIFF["variance"][_SURGICAL][_SURGICAL]
R_SURVDIFF_CHISQ = _SURVDIFF["chisq"]
R_COIN_VAR = _COIN["variance"]
R_COIN_Z2 = _COIN["statistic"] ** 2


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return load_cohort()


def build_section(df: pd.DataFrame, **inference) -> rb.RobustnessSection:
    """The section as notebook 05 builds it, from the objects it displays."""
    small_events = rb.small_event_inference(df)
    return rb.RobustnessSection(
        naive=cox_surgical(df), inference=rb.small_sample_inference(df, **inference),
        small_events=small_events, adjusted=rb.cox_adjusted(df), iptw=rb.iptw_cox(df),
        iptw_ate=rb.iptw_cox(df, estimand="ATE"),
        iptw_truncated=rb.iptw_cox(df, truncate=rb.TRUNCATION_ALTERNATIVE),
        evalue=rb.primary_evalue(small_events.primary, df),
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


def test_saved_values_are_sane(flat, robustness):
    for comp in ("surgical_vs_nonsurgical", "three_groups"):
        assert flat[f"permutation_logrank.{comp}.n_permutations"] == rb.N_PERMUTATIONS
        assert 0 < flat[f"permutation_logrank.{comp}.p"] < 1
    ex = "exact_logrank.surgical_vs_nonsurgical"
    assert flat[f"{ex}.p_lower"] <= flat[f"{ex}.p"] <= flat[f"{ex}.p_upper"]
    for prefix in ("primary", "cox_adjusted.surgical", "iptw", "iptw_ate", "time_varying",
                   "landmark.3", "landmark.6", "bootstrap.survival_36_diff"):
        lo, mid, hi = (flat[f"{prefix}.{k}"] for k in ("lower",
                                                        "estimate" if "bootstrap" in prefix
                                                        else "hr", "upper"))
        assert lo <= mid <= hi, prefix
    assert flat["evalue.point"] >= flat["evalue.ci_limit"] >= 1
    assert flat["evalue.hr_from"] == "primary" and flat["evalue.rare_outcome"] is False
    # the E-value is that of the primary estimate, as stated
    assert flat["evalue.hr"] == flat["primary.hr"] and flat["evalue.upper"] == flat[
        "primary.upper"]
    df = load_cohort()
    for at in (3, 6):  # patients still followed at the landmark
        assert flat[f"landmark.{at}.n"] == int((df["followup_months"] > at).sum())
    # the primary weighting is the ATT; iptw and iptw_att are the same numbers
    assert flat["iptw.estimand"] == flat["iptw_att.estimand"] == "ATT"
    assert flat["iptw.hr"] == flat["iptw_att.hr"] and flat["iptw_ate.estimand"] == "ATE"
    assert flat["iptw.n_boot"] == 2000
    # the bootstrap lower limit is 0 here (no surgical death in > 2.5% of resamples):
    # null with the reason, never 0.00
    assert flat["iptw.boot_lower"] is None and "lower limit 0, not estimable" in flat[
        "iptw.boot_note"]
    assert "power.power_at_observed" not in flat  # no observed power anywhere
    # the alternatives are saved beside the main choices
    assert "landmark.12.hr" in flat and "iptw_truncated.hr" in flat
    assert flat["choices.weight_trimming"] is None
    assert flat["choices.weight_truncation_alternative"] == [0.01, 0.99]
    for key in COULD_DIFFER:
        assert flat[f"could_differ.{key}"] == robustness.could_differ()[key]


def test_choices_are_read_from_the_objects(df, section, robustness):
    assert section["choices"] == {
        "covariates": ["tumor_type", "liver_involvement_pct", "age_years"],
        "evalue_hr": "primary", "landmark_alternative_months": [12.0],
        "landmark_months": [3.0, 6.0], "n_permutations": 100_000, "n_resamples": 10_000,
        "primary": "firth", "iptw_estimand": "ATT", "iptw_n_boot": 2000,
        "rmst_tau_months": [r.tau for r in robustness.rmst.results], "seed": 20061001,
        "weight_trimming": None, "weight_truncation_alternative": [0.01, 0.99]}
    small = build_section(df, n_permutations=200, n_resamples=50, seed=7)
    choices = small.to_results()["choices"]
    assert (choices["n_permutations"], choices["n_resamples"], choices["seed"]) == (200, 50, 7)


def test_section_is_json_and_saves_as_it_is(section, tmp_path):
    text = json.dumps(section, sort_keys=True, allow_nan=False)
    path = save_fragment("robustness", section, tmp_path)
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text)


def test_evalue_must_be_of_the_primary_estimate(robustness):
    other = rb.evalue(0.5, 0.3, 0.8)
    with pytest.raises(ValueError, match="primary estimate"):
        dataclasses.replace(robustness, evalue=other)
    with pytest.raises(ValueError, match="missing"):
        dataclasses.replace(robustness, evalue=None)


def test_evalue_conversion_is_stated(robustness, df):
    ev = robustness.evalue
    hr = robustness.small_events.primary
    died = float(df["died"].mean())
    assert died >= 0.15 and not ev.rare_outcome
    rr = (1 - 0.5 ** math.sqrt(hr.hr)) / (1 - 0.5 ** math.sqrt(1 / hr.hr))
    assert ev.rr == pytest.approx(rr, rel=1e-12)
    rr_limit = (1 - 0.5 ** math.sqrt(hr.upper)) / (1 - 0.5 ** math.sqrt(1 / hr.upper))
    assert ev.ci_limit == pytest.approx(1 / rr_limit + math.sqrt(1 / rr_limit * (
        1 / rr_limit - 1)), rel=1e-12)
    assert ev.conversion().startswith(f"{died:.0%} of patients died by the end of follow-up")
    assert "RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))" in ev.conversion()
    assert "no measured factor is accounted for" in ev.sentence()


def test_findings_one_line_per_question(robustness):
    lines = robustness.findings().split("\n")
    assert [line.split(":")[0] for line in lines[:8]] == [
        "Primary analysis", "Exact inference", "Small-event inference",
        "Confounding (sensitivity)", lines[4].split(":")[0], "Immortal time (sensitivity)",
        "Size", "Design"]
    ev = robustness.evalue
    assert lines[4] == (f"E-value of the primary estimate {ev.point:.1f} (confidence limit "
                        f"{ev.ci_limit:.1f}).")
    assert lines[0] == robustness.primary_sentence()
    r_firth = next(c for c in json.loads((_REFERENCE / "firth.json").read_text(
        encoding="utf-8"))["cases"] if c["data"] == "cohort" and c["ties"] == "efron")
    assert "Firth-penalised Cox" in lines[0]  # R's Firth HR (make_firth_reference.R)
    assert f"HR {math.exp(r_firth['firth']['coef']):.2f} (95% profile-likelihood CI" in lines[0]
    assert lines[1] == robustness.inference.finding()
    assert lines[2] == robustness.small_events.finding()
    s = robustness.adjusted.surgical
    assert f"adjusted {s.words()} with 6.0 events per parameter" in lines[3]
    assert robustness.iptw.sentence() in lines[3] and robustness.iptw_ate.sentence() in lines[3]
    assert lines[5].startswith(
        f"Immortal time (sensitivity): {robustness.landmarks.hazard_ratios()}; ")
    assert lines[6] == robustness.rmst.finding()
    assert lines[7] == "Design: " + robustness.power.design_sentence()
    assert "not independent confirmation" in lines[8]
    text = robustness.findings()
    for phrase in ("point the same way", "How robust", "robust conclusion", "0.00 (0.00"):
        assert phrase not in text


def test_could_differ_says_why_on_the_reconstruction_only(robustness, df):
    said = robustness.could_differ()
    assert set(said) == set(COULD_DIFFER)
    assert all('notebook 06 ("What these methods can detect")' in t for t in said.values())
    assert said["adjusted"].startswith("Could it have differed on the bundled "
                                       "reconstruction? No, except by chance")
    assert "simulated independently of survival" in said["iptw"]
    wait = robustness.time_varying.waiting_months
    surgical = df.loc[df["surgical"], "months_to_treatment"].astype(float)
    assert wait == (surgical.median(), surgical.max())
    assert f"at most {surgical.max():.1f} months" in said["landmark"]
    assert "nobody could die while waiting" in said["time_varying"]
    assert said["small_events"].startswith("Could it have differed on the bundled "
                                           "reconstruction? Yes")
    own = df.copy()
    own.attrs["reconstructed"] = False
    mine = dataclasses.replace(robustness, adjusted=rb.cox_adjusted(own),
                               time_varying=rb.time_varying_cox(own))
    assert not mine.reconstructed
    for text in mine.could_differ().values():
        assert text.startswith("On this cohort the analysis can detect")
        assert "reconstruction" not in text and "simulated independently" not in text


def test_inference_sentences(robustness):
    inf = robustness.inference
    perm, exact = inf.permutation, inf.exact
    lines = inf.p_values().split("\n")
    assert len(lines) == 3
    assert f"exact P = {p_digits(exact.p, 6)}" in lines[0]
    assert f"P = {p_digits(perm.p, 5)}" in lines[0]
    assert lines[1] == (f"The Monte Carlo estimate lies {(perm.p - exact.p) / perm.mc_se:+.1f}"
                        " Monte Carlo SEs from the exact P.")
    # R: coin's variance / survdiff's variance
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
        "naive Cox", "Firth Cox", "adjusted Cox", "IPTW Cox, ATT", "IPTW Cox, ATE",
        "IPTW Cox, ATT, weights truncated at percentiles 1 and 99",
        "landmark 3 months", "landmark 6 months", "landmark 12 months", "time-varying Cox",
        *[a for a in analyses if a.startswith("RMST difference, ")], "exact log-rank test"]
    assert len([a for a in analyses if a.startswith("RMST")]) == 2
    roles = dict(zip(analyses, (r["role"] for r in rows), strict=True))
    assert [a for a, r in roles.items() if r == "primary"] == ["Firth Cox"]
    assert set(roles.values()) == {"primary", "sensitivity"}
    choices = dict(zip(analyses, (r["choice"] for r in rows), strict=True))
    assert {a for a, c in choices.items() if c == "alternative"} == {
        "IPTW Cox, ATT, weights truncated at percentiles 1 and 99", "landmark 12 months"}
    assert rows[-1]["estimate"] == section["exact_logrank"]["surgical_vs_nonsurgical"]["p"]
    assert rows[1]["estimate"] == section["primary"]["hr"]


def test_summary_without_small_events_makes_the_naive_model_primary(df):
    summary = rb.robustness_summary(cox_surgical(df), landmarks=[rb.landmark(df, 3)])
    assert summary.table()["analysis"].tolist() == ["naive Cox", "landmark 3 months"]
    assert summary.table()["role"].tolist() == ["primary", "sensitivity"]
    assert summary.primary_sentence().startswith("Primary analysis: naive Cox.")


def test_not_estimable_rows_say_why(df):
    no_deaths = df.copy()
    no_deaths.loc[no_deaths["surgical"], "died"] = 0
    summary = rb.robustness_summary(cox_surgical(df), adjusted=rb.cox_adjusted(no_deaths),
                                    iptw=rb.iptw_cox(no_deaths, n_boot=0),
                                    landmarks=[rb.landmark(no_deaths, 3)],
                                    time_varying=rb.time_varying_cox(no_deaths))
    rows = summary.table().set_index("analysis")
    for name in ("adjusted Cox (penalized)", "IPTW Cox, ATT", "landmark 3 months",
                 "time-varying Cox"):
        assert math.isnan(rows.loc[name, "estimate"]), name
        assert rows.loc[name, "note"].startswith("not estimable: no deaths in the surgical "
                                                 "arm"), name


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
