"""The bundled cohort is the ensemble's typical member (nethep.reconstruct.typical), chosen
by the stated rule, and ``python -m nethep.reconstruct`` rebuilds it byte for byte.

The rule is recomputed here by another path: eligibility from the journal-style P text
(``format_p``), standardisation by scipy's ``zscore`` and distances by scipy's ``cdist``.
"""

import gzip
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import zscore

from nethep import load_cohort
from nethep.formats import format_p
from nethep.notebook import RECONSTRUCTED_BANNER
from nethep.pages import _RECONSTRUCTED_BANNER
from nethep.paths import BUNDLED_COHORT
from nethep.reconstruct import Targets
from nethep.reconstruct.check import main
from nethep.reconstruct.store import ENSEMBLE_DIR
from nethep.reconstruct.typical import (
    TYPICAL_QUANTITIES,
    eligible,
    member_csv,
    shipped_files,
    typical_cohort,
    typical_member,
)
from nethep.survival import logrank


@pytest.fixture(scope="module")
def shipped():
    """The shipped ensemble's two tables, read with pandas alone."""
    members = pd.read_csv(ENSEMBLE_DIR / "members.csv.gz", dtype={"patient_id": str})
    return SimpleNamespace(members=members,
                           quantities=pd.read_csv(ENSEMBLE_DIR / "quantities.csv"))


def _member_by_direct_computation(q: pd.DataFrame) -> int:
    complete = q.dropna(subset=list(TYPICAL_QUANTITIES))
    z = zscore(complete[list(TYPICAL_QUANTITIES)].to_numpy(float), ddof=1)
    total = cdist(z, z).sum(axis=1)
    ok = np.array([format_p(p) == ".01" for p in complete["logrank_p"]])
    best = np.min(total[ok])
    return int(complete["member"].to_numpy()[ok & (total == best)].min())


def test_check_rebuilds_the_shipped_cohort_byte_for_byte(capsys):
    assert main(["--check", "--cohort-only"]) == 0
    err = capsys.readouterr().err
    assert "identical to the shipped cohort" in err and "The bundled cohort is member" in err


def test_out_writes_elsewhere_and_check_fails_on_a_changed_file(tmp_path, monkeypatch):
    out = tmp_path / "cohort.csv"
    assert main(["--out", str(out)]) == 0
    assert out.read_bytes() == BUNDLED_COHORT.read_bytes()
    changed = tmp_path / "changed.csv"
    changed.write_bytes(out.read_bytes().replace(b"NET001", b"NET999"))
    monkeypatch.setattr("nethep.reconstruct.check.BUNDLED_COHORT", changed)
    assert main(["--check", "--cohort-only"]) == 1


def test_the_rule_by_an_independent_computation(shipped):
    q = shipped.quantities
    chosen = typical_member(q)
    assert chosen == _member_by_direct_computation(q)
    assert eligible(q).sum() == sum(format_p(p) == ".01" for p in q["logrank_p"])
    # the unrestricted medoid need not be eligible; the chosen member is the nearest
    # eligible one, so no eligible member has a smaller sum of distances
    assert format_p(q.set_index("member").loc[chosen, "logrank_p"]) == ".01"


def test_the_bundled_cohort_is_that_members_rows(shipped):
    chosen = typical_member(shipped.quantities)
    rows = shipped.members[shipped.members["member"] == chosen].drop(columns="member")
    bundled = pd.read_csv(BUNDLED_COHORT, dtype={"patient_id": str})
    pd.testing.assert_frame_equal(bundled, rows.reset_index(drop=True), check_dtype=False)


def test_the_bundled_log_rank_p_reads_as_published(shipped):
    p = logrank(load_cohort(), "arm").p
    assert format_p(p) == ".01"  # strictly: .0095 <= P < .015
    row = shipped.quantities.set_index("member").loc[typical_member(shipped.quantities)]
    assert p == pytest.approx(row["logrank_p"], rel=1e-9)


def _toy(p_values: list[float]) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = len(p_values)
    q = pd.DataFrame({c: rng.normal(size=n) for c in TYPICAL_QUANTITIES})
    q.insert(0, "member", np.arange(1, n + 1))
    q["logrank_p"] = p_values
    return q


def test_eligibility_boundaries_and_no_eligible_member():
    q = _toy([0.0095, 0.0149999, 0.015, 0.00949, 0.005, 0.02])
    assert eligible(q).tolist() == [True, True, False, False, False, False]
    assert typical_member(q) in (1, 2)
    assert typical_member(q) == _member_by_direct_computation(q)
    with pytest.raises(ValueError, match="P = .01"):
        typical_member(_toy([0.005, 0.02, 0.2]))


def test_a_tie_goes_to_the_lowest_member_number():
    q = _toy([0.01] * 4)
    q.loc[[0, 1], list(TYPICAL_QUANTITIES)] = 0.0  # members 1 and 2 identical...
    k = len(TYPICAL_QUANTITIES)
    q.loc[[2, 3], list(TYPICAL_QUANTITIES)] = [[1.0] * k, [-1.0] * k]  # ...and central
    assert typical_member(q) == 1


def test_member_csv_refuses_a_missing_member_or_a_foreign_table():
    data = gzip.compress(b"member,a\n1,x\n2,y\n")
    assert member_csv(data, 2) == b"a\ny\n"
    with pytest.raises(ValueError, match="member 3 is not"):
        member_csv(data, 3)
    with pytest.raises(ValueError, match="'member' column"):
        member_csv(gzip.compress(b"a,b\n1,2\n"), 1)
    with pytest.raises(FileNotFoundError, match="lacks"):
        shipped_files(ENSEMBLE_DIR / "no-such-folder")


def test_typical_member_result_object(shipped):
    chosen = typical_cohort(shipped_files())
    results = chosen.to_results()
    assert results["member"] == chosen.member
    assert results["n_members"] == len(shipped.quantities)
    table = chosen.table()
    assert set(table["quantity"]) >= {"hr", "logrank_p", "rmst36_diff", "deaths_surgical"}
    assert table["percentile"].between(0, 100).all()
    assert f"member {chosen.member} of" in chosen.sentence()


def test_banners_name_the_ensemble_size_and_the_rule():
    n = json.loads((ENSEMBLE_DIR / "manifest.json").read_text(encoding="utf-8"))["n_members"]
    assert f"one member of {n:,} cohorts" in RECONSTRUCTED_BANNER
    assert f"over {len(TYPICAL_QUANTITIES)}" in RECONSTRUCTED_BANNER
    assert "log-rank P reads P = .01" in RECONSTRUCTED_BANNER
    assert f"the most typical of {n:,}" in _RECONSTRUCTED_BANNER


def test_published_counts_are_fixed_and_plausible_magnitudes():
    df = load_cohort()
    targets = Targets.load()
    assert df["treatment"].value_counts().to_dict() == targets.n_by_treatment
    assert df["tumor_type"].value_counts().to_dict() == targets.n_by_tumor_type
    assert 0.4 <= df["symptomatic"].mean() <= 0.8
    assert (df["months_to_treatment"].dropna() <= df["followup_months"][
        df["months_to_treatment"].notna()]).all()
    assert df["year_of_diagnosis"].between(1996, 2004).all()
    assert np.all(df["patient_id"] == [f"NET{i:03d}" for i in range(1, 49)])
