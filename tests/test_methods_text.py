"""The methods paragraph is generated from results, and the STROBE map is complete."""

from nethep import __version__
from nethep.report import STROBE, methods_text, software_versions, strobe_markdown

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
                                            "p": 0.0143}},
    },
    "palliation": {"exact_p": 0.2146},
}


def test_numbers_come_from_the_results():
    text = methods_text(RESULTS)
    assert "We analysed 48 patients (medical 17, embolization 18, surgical 13)" in text
    assert "83% (95% CI 27% to 97%)" in text
    assert "chi-square 7.80, P = .005" in text
    assert "HR 0.16, 95% CI 0.04 to 0.69" in text
    assert "(P = .21)" in text
    assert "reconstruction" in text
    assert f"lifelines {software_versions()['lifelines']}" in text


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


def test_strobe_map_lists_all_22_cohort_items():
    assert [item for item, _, _ in STROBE] == [str(i) for i in range(1, 23)]
    md = strobe_markdown()
    assert md.count("\n| ") == 22 + 1  # header row + 22 items
    assert "not addressable from these data" in md


def test_sensitivity_sentence_reads_the_choices_from_the_results():
    robustness = {
        "cox_adjusted": {"surgical": {"hr": 0.11, "lower": 0.02, "upper": 0.52}},
        "iptw": {"hr": 0.16}, "time_varying": {"hr": 0.155}, "evalue": {"point": 7.98},
        "permutation_logrank": {"surgical_vs_nonsurgical": {"p": 0.0004}},
        "choices": {"covariates": ["tumor_type", "liver_involvement_pct", "age_years"],
                    "landmark_months": [3.0, 6.0]},
    }
    text = methods_text({**RESULTS, "robustness": robustness})
    assert "adjusted for tumour type, liver involvement and age (HR 0.11, 95% CI 0.02 to " \
           "0.52)" in text
    assert "landmark analyses at 3 and 6 months" in text
    assert "permutation log-rank test (P < .001)" in text
    other = {**robustness, "choices": {"covariates": ["age_years", "sex"],
                                       "landmark_months": [1.5, 3.0, 12.0]}}
    text = methods_text({**RESULTS, "robustness": other})
    assert "adjusted for age and sex (HR" in text
    assert "landmark analyses at 1.5, 3 and 12 months" in text
    assert "Sensitivity analyses" not in methods_text(RESULTS)


def test_versions_are_looked_up_in_one_place():
    versions = software_versions()
    assert versions["nethep"] == __version__
    assert set(versions) >= {"python", "numpy", "lifelines", "papermill"}
