"""A clinician's messy export and a mapping file, from `nethep validate` to a clean report.

The export (``write_messy_export`` in conftest.py) uses the clinic's own column names and
labels (REDCap codes, "HAE", "Yes"), dates instead of months, a patient-name column and
one mistyped label. It goes through data/template_map.yaml unchanged. The run is the
session's ``clinician_run``, started in the background while the fast tests run.
"""

from __future__ import annotations

import hashlib
import re

from nethep.cli import main
from nethep.paths import TEMPLATE_MAP

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


def test_messy_export_runs_to_a_clean_report(clinician_run):
    """The session's ``nethep run --map ... --allow-identifiers`` on the fixed export
    (conftest.py): the export untouched, nothing written beside it, every published
    number reproduced, and no id, name or date in any output."""
    export, out = clinician_run.data_path, clinician_run.output_dir
    assert hashlib.sha256(export.read_bytes()).hexdigest() == clinician_run.data_sha256
    assert sorted(p.name for p in export.parent.iterdir()) == ["export.csv", "report"]
    index = clinician_run.index_path.read_text(encoding="utf-8")
    assert "19 of 19 published quantities" in index
    for path in out.rglob("*"):
        if path.suffix in {".html", ".json", ".ipynb", ".svg", ".md"}:
            text = path.read_text(encoding="utf-8")
            for leak in ("UWX-", "Zebediah", "Patient name", "Diagnosis date"):
                assert leak not in text, f"{path.name} shows {leak!r}"
            # no calendar date (papermill's own run timestamps end in T...: allowed)
            assert not DATE.search(text), f"{path.name} shows a date"
