"""The reconstruction is deterministic and regenerates the shipped file byte for byte."""

import numpy as np

from nethep import load_cohort
from nethep.paths import BUNDLED_COHORT
from nethep.reconstruct import SEED, Targets, reconstruct
from nethep.reconstruct.check import main


def test_check_regenerates_the_shipped_file_byte_for_byte(capsys):
    assert main(["--check", "--cohort-only"]) == 0
    assert "identical to the shipped cohort" in capsys.readouterr().err


def test_out_writes_elsewhere_and_check_fails_on_a_changed_file(tmp_path, monkeypatch):
    out = tmp_path / "cohort.csv"
    assert main(["--out", str(out)]) == 0
    assert out.read_bytes() == BUNDLED_COHORT.read_bytes()
    changed = tmp_path / "changed.csv"
    changed.write_bytes(out.read_bytes().replace(b"NET001", b"NET999"))
    monkeypatch.setattr("nethep.reconstruct.check.BUNDLED_COHORT", changed)
    assert main(["--check", "--cohort-only"]) == 1


def test_another_seed_gives_another_cohort_meeting_the_same_targets():
    other = reconstruct(SEED + 1)
    assert other.to_csv() != BUNDLED_COHORT.read_bytes()
    assert set(other.attempts) == {"liver_involvement", "survival_surgical",
                                   "survival_nonsurgical"}


def test_published_counts_are_fixed_and_plausible_magnitudes():
    df = load_cohort()
    targets = Targets.load()
    assert df["treatment"].value_counts().to_dict() == targets.n_by_treatment
    assert df["tumor_type"].value_counts().to_dict() == targets.n_by_tumor_type
    assert 0.4 <= df["symptomatic"].mean() <= 0.8
    surgical = df[df["arm"] == "surgical"]
    assert surgical["months_to_treatment"].max() < 12
    assert (df["months_to_treatment"].dropna() <= df["followup_months"][
        df["months_to_treatment"].notna()]).all()
    assert df["year_of_diagnosis"].between(1996, 2004).all()
    assert np.all(df["patient_id"] == [f"NET{i:03d}" for i in range(1, 49)])
