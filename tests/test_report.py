"""End to end: `nethep run` on the real notebooks, bundled and user cohorts.

The bundled cohort's run is the session's ``bundled_run``; ``user_run`` analyses a
user's export of a cohort with no death in the surgical arm (conftest.py; what it
leaks is checked in test_clinician_flow.py). Checks the results.json keys other code
reads (declared once in :mod:`nethep.results`), the report pages, figures, and that no
patient id reaches any output file.
"""

from __future__ import annotations

import csv

from nethep import results as keys
from nethep.paths import BUNDLED_COHORT
from nethep.results import REQUIRED_KEYS, flatten, lookup


def test_results_json_has_every_declared_key(bundled_run):
    flat = flatten(bundled_run.results)
    missing = [k for k in REQUIRED_KEYS if k not in flat]
    assert not missing, f"missing keys in results.json: {missing}"
    assert flat[keys.RECONSTRUCTED] is True
    assert flat[keys.N_PATIENTS] == 48
    assert round(100 * flat[keys.key(keys.SURVIVAL_AT, 36, "surgical", "estimate")]) == 83


def test_methods_read_the_choices_from_results_json(bundled_run):
    results = bundled_run.results
    assert lookup(results, keys.COVARIATES) == ["tumor_type", "liver_involvement_pct",
                                                 "age_years"]
    assert lookup(results, keys.LANDMARK_MONTHS) == [3.0, 6.0]
    methods = (bundled_run.output_dir / "methods.md").read_text(encoding="utf-8")
    assert "adjusted for tumour type, liver involvement and age" in methods
    assert "landmark analyses at 3 and 6 months" in methods


def test_report_pages_and_figures(bundled_run):
    out = bundled_run.output_dir
    index = bundled_run.index_path.read_text(encoding="utf-8")
    assert "reconstruct" in index.lower()
    assert len(bundled_run.html_pages) == 5
    for page in bundled_run.html_pages:
        assert page.is_file()
        assert page.name in index
    figures = {p.suffix for p in (out / "figures").iterdir()}
    assert {".png", ".pdf", ".svg"} <= figures
    assert lookup(bundled_run.results, keys.ALL_MATCH) is True
    assert all(row["matches"] for row in lookup(bundled_run.results, keys.PAPER_VS_OURS))


def test_no_patient_rows_in_any_output(bundled_run):
    ids = [row["patient_id"] for row in csv.DictReader(BUNDLED_COHORT.open(encoding="utf-8"))]
    for path in bundled_run.output_dir.rglob("*"):
        if path.suffix in {".html", ".json", ".ipynb", ".svg"}:
            text = path.read_text(encoding="utf-8")
            leaked = [i for i in ids if i in text]
            assert not leaked, f"{path.name} shows patient ids {leaked[:3]}"


def test_user_cohort_is_named_and_not_called_reconstructed(user_run):
    assert flatten(user_run.results)[keys.RECONSTRUCTED] is False
    index = user_run.index_path.read_text(encoding="utf-8")
    assert "the data file export.csv" in index and 'class="banner"' not in index


def test_an_arm_without_deaths_still_runs_every_notebook(user_run):
    """No surgical deaths: the HR has no finite interval; every notebook still runs."""
    flat = flatten(user_run.results)
    assert len(user_run.executed) == 5
    assert flat[keys.key(keys.COX, "upper")] is None
    assert flat[keys.key(keys.LOGRANK_ARMS, "p")] < 0.05
    forest = user_run.figures_dir / "robustness_forest_180mm.svg"
    assert "Not estimable, omitted: naive Cox" in forest.read_text(encoding="utf-8")
