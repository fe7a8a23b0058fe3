"""End to end: `nethep run` on the real notebooks, bundled and user cohorts.

Runs every notebook headless twice (bundled cohort; a user cohort with
distinctive ids), then checks results.json keys, the report pages, figures,
and that no patient-level value reaches any output file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from nethep.cohort import BUNDLED_COHORT
from nethep.results import flatten
from nethep.run import run_all

GROUPS = ("medical", "embolization", "surgical")
REQUIRED = [
    "data.reconstructed", "cohort.n_patients", "followup.median_months",
    "followup.reverse_km_median_months",
    *(f"cohort.n_by_group.{g}" for g in GROUPS),
    "cohort.n_by_tumor_type.carcinoid", "cohort.n_by_tumor_type.islet_cell",
    *(f"survival.at_months.{t}.{g}.{k}" for t in ("12", "36", "60")
      for g in (*GROUPS, "nonsurgical") for k in ("estimate", "lower", "upper")),
    "survival.logrank.surgical_vs_nonsurgical.statistic",
    "survival.logrank.surgical_vs_nonsurgical.p",
    "survival.logrank.three_groups.statistic", "survival.logrank.three_groups.p",
    *(f"survival.cox.surgical_vs_nonsurgical.{k}" for k in ("hr", "lower", "upper", "p")),
    *(f"palliation.n_symptomatic.{g}" for g in GROUPS),
    *(f"palliation.rate.{g}" for g in GROUPS),
    "palliation.exact_p", "palliation.chi2_p",
]


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return run_all(output_dir=out, progress=False)


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user")
    rows = list(csv.DictReader(BUNDLED_COHORT.open(encoding="utf-8")))
    for i, row in enumerate(rows):
        row["patient_id"] = f"ZQX-{i:04d}-PRIVATE"  # "-" never occurs in base64 image data
        row["age_years"] = str(int(row["age_years"]))
    data = folder / "mine.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    before = data.read_bytes()
    report = run_all(output_dir=folder / "out", data_path=data, progress=False)
    return report, data, before


def test_results_json_has_every_required_key(bundled):
    flat = flatten(bundled.results)
    missing = [k for k in REQUIRED if k not in flat]
    assert not missing, f"missing keys in results.json: {missing}"
    assert flat["data.reconstructed"] is True
    assert flat["cohort.n_patients"] == 48
    assert round(100 * flat["survival.at_months.36.surgical.estimate"]) == 83


def test_report_pages_and_figures(bundled):
    out = bundled.output_dir
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "reconstruct" in index.lower()
    for page in bundled.html_pages:
        assert page.name in index
    figures = {p.suffix for p in (out / "figures").iterdir()}
    assert {".png", ".pdf", ".svg"} <= figures
    comparison = bundled.results["comparison"]
    assert comparison["all_match"] is True
    assert all(row["matches"] for row in comparison["paper_vs_ours"])


def test_no_patient_rows_in_any_output(bundled):
    ids = [row["patient_id"] for row in csv.DictReader(BUNDLED_COHORT.open(encoding="utf-8"))]
    for path in Path(bundled.output_dir).rglob("*"):
        if path.suffix in {".html", ".json", ".ipynb", ".svg"}:
            text = path.read_text(encoding="utf-8")
            leaked = [i for i in ids if i in text]
            assert not leaked, f"{path.name} shows patient ids {leaked[:3]}"


def test_user_cohort_run_is_private_and_leaves_the_input_alone(user_run):
    report, data, before = user_run
    assert data.read_bytes() == before
    assert sorted(p.name for p in data.parent.iterdir()) == ["mine.csv", "out"]
    assert flatten(report.results)["data.reconstructed"] is False
    for path in Path(report.output_dir).rglob("*"):
        if path.suffix in {".html", ".json", ".ipynb", ".svg"}:
            text = path.read_text(encoding="utf-8")
            assert "ZQX-" not in text and "-PRIVATE" not in text, path.name
    index = (report.output_dir / "index.html").read_text(encoding="utf-8")
    assert "mine.csv" in index


def test_an_arm_without_deaths_still_runs_every_notebook(tmp_path):
    """No surgical deaths: the HR has no finite interval; every notebook still runs."""
    rows = list(csv.DictReader(BUNDLED_COHORT.open(encoding="utf-8")))
    for row in rows:
        if row["treatment_group"] == "surgical":
            row["died"] = "0"
    data = tmp_path / "no_surgical_deaths.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = run_all(output_dir=tmp_path / "out", data_path=data, progress=False)
    flat = flatten(report.results)
    assert len(report.executed) == 5
    assert flat["survival.cox.surgical_vs_nonsurgical.upper"] is None
    assert flat["survival.logrank.surgical_vs_nonsurgical.p"] < 0.05
    forest = report.output_dir / "figures" / "robustness_forest_180mm.svg"
    assert "Not estimable, omitted: naive Cox" in forest.read_text(encoding="utf-8")
