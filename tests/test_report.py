"""End to end: `nethep run` on the real notebooks, bundled and user cohorts.

The bundled cohort's run is the session's ``bundled_run``; ``user_run`` analyses a
user's export of a cohort with no death in the surgical arm (conftest.py; what it
leaks is checked in test_clinician_flow.py). Checks the results.json keys other code
reads (declared once in :mod:`nethep.results`), the report pages, figures, and that no
patient id reaches any output file.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

from nethep import results as keys
from nethep.estimable import unexplained_nulls
from nethep.paths import BUNDLED_COHORT
from nethep.results import REQUIRED_KEYS, flatten, lookup
from nethep.run import find_notebooks


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
    for months in lookup(results, keys.LANDMARK_MONTHS):
        assert f"at {months:g} months HR" in methods


def test_report_pages_and_figures(bundled_run):
    out = bundled_run.output_dir
    index = bundled_run.index_path.read_text(encoding="utf-8")
    assert "reconstruct" in index.lower()
    assert len(bundled_run.html_pages) == len(find_notebooks())
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
    flat = flatten(user_run.results)
    assert flat[keys.RECONSTRUCTED] is False
    assert user_run.results["data"]["source"] == "your cohort"  # the default --label
    index = user_run.index_path.read_text(encoding="utf-8")
    assert 'class="banner"' not in index


def test_no_path_or_file_name_of_the_input_in_any_output(user_run):
    """Privacy defaults: the data's folder, its file name and the output folder's path
    appear in no executed notebook, page, results file, figure or text output (the
    notebooks read a private copy through $NETHEP_DATA), and the cohort is never called
    published, calibrated or simulated."""
    data, out = user_run.data_path, user_run.output_dir
    secrets = {str(data.parent), str(data.parent.resolve()), data.name, data.stem + ".",
               str(out), str(out.resolve()), str(Path(tempfile.gettempdir()) / "nethep-")}
    checked = 0
    for path in out.rglob("*"):
        if path.suffix in {".html", ".json", ".ipynb", ".svg", ".md", ".csv", ".txt"}:
            text = path.read_text(encoding="utf-8")
            leaked = sorted(s for s in secrets if s in text)
            assert not leaked, f"{path.relative_to(out)} shows {leaked}"
            checked += 1
    assert checked >= 10
    for page in user_run.executed:
        assert "$NETHEP_DATA" in page.read_text(encoding="utf-8")  # a name, not the path
        nb = json.loads(page.read_text(encoding="utf-8"))
        outputs = json.dumps([c.get("outputs", []) for c in nb["cells"]])
        for words in ("nothing published behind them", "simulated columns",
                      "Reconstructed data"):
            assert words not in outputs, f"{page.name} says {words!r} of a user's cohort"


def test_small_cells_are_suppressed_by_default_for_a_users_data(user_run):
    """Counts below the threshold are suppressed in results.json (user_run passes
    --min-cell 5; without it the default for a user's data is 11: test_cli_validate and
    cli's help say so)."""
    suppressed = [f for f in (user_run.output_dir / "results").glob("*.json")
                  if '"suppressed"' in f.read_text(encoding="utf-8")]
    assert suppressed


def test_an_arm_without_deaths_still_runs_every_notebook(user_run):
    """No surgical deaths: the HR has no finite interval; every notebook still runs."""
    flat = flatten(user_run.results)
    assert len(user_run.executed) == len(find_notebooks())
    assert flat[keys.key(keys.COX, "upper")] is None
    assert flat[keys.key(keys.LOGRANK_ARMS, "p")] < 0.05
    forest = user_run.figures_dir / "robustness_forest_180mm.svg"
    assert "not estimable" in forest.read_text(encoding="utf-8")  # the row stays, in words
    caption = user_run.results["figures"]["robustness_forest"]["caption"]
    assert "Not estimable, shown without an interval: naive Cox" in caption


def _unexplained(results: dict) -> list[str]:
    """Nulls without a reason or a suppression record, a choice not made (no weight
    trimming) aside."""
    return [path for path in unexplained_nulls(results) if ".choices." not in path]


def test_every_null_in_a_users_results_has_its_reason(user_run):
    """What cannot be estimated or does not apply is null with a reason beside it (issue
    13), or is a count listed as suppressed: no null in results.json goes unexplained."""
    assert _unexplained(user_run.results) == []


def test_every_null_in_the_bundled_results_has_its_reason(bundled_run):
    """The same for the bundled cohort (a median not reached, a permutation test's bias)."""
    assert _unexplained(bundled_run.results) == []
