"""A clinician's messy export and a mapping file, from `nethep validate` to a clean report.

The export (``write_messy_export`` in conftest.py) uses the clinic's own column names and
labels (REDCap codes, "HAE", "Yes"), dates instead of months, a patient-name column and
one mistyped label. It goes through data/template_map.yaml unchanged. The report is the
session's ``user_run`` (conftest.py): the export of the edge cohort (3 medical patients,
no surgical death) run with ``--min-cell 5``, started while the fast tests run.
"""

from __future__ import annotations

import hashlib
import re

import pandas as pd

from nethep.cli import main
from nethep.cohort import load_cohort
from nethep.contract import DAYS_PER_MONTH
from nethep.paths import TEMPLATE_MAP
from nethep.results import N_BY_GROUP, N_PATIENTS, flatten, key

DATE = re.compile(r"(19|20)\d{2}-[01]\d-[0-3]\d(?!T)")


def test_messy_export_validates_once_fixed(tmp_path, capsys, messy_export):
    """``nethep validate`` refuses the name column, then names the typo; fixed, it passes."""
    export = messy_export(tmp_path / "export.csv", typo=True)
    mapping = str(TEMPLATE_MAP)
    assert main(["validate", str(export), "--map", mapping]) == 1
    err = capsys.readouterr().err
    assert "'Patient name' (name)" in err and "Zebediah" not in err
    assert main(["validate", str(export), "--map", mapping, "--allow-identifiers"]) == 1
    err = capsys.readouterr().err
    assert "patient_id UWX-005, column 'treatment_group': value 'Medicall'" in err

    messy_export(export)  # the clinician fixes the label
    assert main(["validate", str(export), "--map", mapping, "--allow-identifiers"]) == 0
    assert "patients analysed 48" in capsys.readouterr().out


def test_the_export_reads_as_the_same_patients(user_run, tmp_path, edge_cohort):
    """Mapped and derived from dates, the export is the cohort it was made from: the same
    values, months within a day (whole-day dates) of the originals."""
    mapped = load_cohort(user_run.data_path, map_path=TEMPLATE_MAP,
                         allow_identifiers=True).reset_index(drop=True)
    original = load_cohort(edge_cohort(tmp_path / "edge.csv")).reset_index(drop=True)
    months = ["followup_months", "months_to_treatment"]
    pd.testing.assert_frame_equal(mapped.drop(columns=["patient_id", *months]),
                                  original.drop(columns=["patient_id", *months]))
    day = 1 / DAYS_PER_MONTH
    for column in months:
        assert ((mapped[column] - original[column]).abs().fillna(0) <= day).all(), column
    flat = flatten(user_run.results)
    assert flat[N_PATIENTS] == len(original) == 34
    assert flat[key(N_BY_GROUP, "surgical")] == (original["treatment_group"] == "surgical").sum()


def test_messy_export_runs_to_a_clean_report(user_run):
    """The session's run on the fixed export: the export untouched, nothing written
    beside it, and no id, name or date in any output."""
    export, out = user_run.data_path, user_run.output_dir
    assert hashlib.sha256(export.read_bytes()).hexdigest() == user_run.data_sha256
    assert sorted(p.name for p in export.parent.iterdir()) == ["export.csv", "out"]
    assert user_run.results["data"]["n_rows"] == 34
    for path in out.rglob("*"):
        if path.suffix in {".html", ".json", ".ipynb", ".svg", ".md"}:
            text = path.read_text(encoding="utf-8")
            for leak in ("UWX-", "Zebediah", "Patient name", "Diagnosis date",
                         "export.csv", str(export.parent)):
                assert leak not in text, f"{path.name} shows {leak!r}"
            # no calendar date (papermill's own run timestamps end in T...: allowed)
            assert not DATE.search(text), f"{path.name} shows a date"
