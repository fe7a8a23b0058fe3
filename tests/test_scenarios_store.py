"""The shipped scenario study (``data/scenarios/``, issue 10): read back exactly, used only
for the bundled cohort at notebook 06's replicates and seed, and equal to a rebuild.

The rebuild at 1,000 replicates (about 20 s of CPU) is marked ``notebooks``; the other
tests build small studies in a temporary folder."""

from __future__ import annotations

import ast
import json

import nbformat
import pandas as pd
import pytest

from nethep.cohort import load_cohort
from nethep.paths import NOTEBOOKS_DIR, SCENARIOS_DIR
from nethep.results import dumps
from nethep.robustness.scenarios import N_REPLICATES, SEED, run_scenarios, scenario_study, store
from nethep.robustness.scenarios.__main__ import main

SMALL, SMALL_SEED = 20, 11


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return load_cohort(None)


@pytest.fixture(scope="module")
def small(cohort):
    """A study of 20 replicates of the bundled cohort, computed."""
    return run_scenarios(cohort, n_replicates=SMALL, seed=SMALL_SEED)


@pytest.fixture
def folder(small, cohort, tmp_path):
    """``small`` written as a stored study."""
    return store.write_study(store.study_files(small, store.cohort_digest(cohort)),
                             tmp_path / "scenarios")


def _bump(cohort: pd.DataFrame, column: str, row: int, by: float) -> pd.DataFrame:
    """A copy of ``cohort`` with ``by`` added to ``column`` in row ``row`` (by position)."""
    out = cohort.copy()
    values = out[column].to_numpy(float, copy=True)
    values[row] += by
    out[column] = values
    return out


def _user_copy(cohort: pd.DataFrame) -> pd.DataFrame:
    user = cohort.copy()
    user.attrs = {**cohort.attrs, "reconstructed": False}
    return user


def test_the_stored_study_reads_back_exactly(small, cohort, folder):
    loaded = store.load_study(cohort, folder)
    pd.testing.assert_frame_equal(loaded.rows, small.rows, check_exact=True)
    assert dumps(loaded.to_results()) == dumps(small.to_results())
    assert loaded.findings() == small.findings()
    assert loaded.methods_text(11) == small.methods_text(11)
    for measure in ("bias", "median_bias", "coverage", "rejection", "n_failed"):
        pd.testing.assert_frame_equal(loaded.wide(measure), small.wide(measure),
                                      check_exact=True)
    assert loaded.source == "stored" and small.source == "computed"
    assert "Read from the shipped data/scenarios/" in loaded.provenance()
    assert small.provenance().startswith("Computed now")


@pytest.fixture
def computed(small, monkeypatch):
    """Replace the computation by ``small`` itself (the routing is tested, not the study)."""
    monkeypatch.setattr(store, "run_scenarios", lambda df, n_replicates, seed: small)


def test_stored_only_for_the_bundled_cohort_at_the_same_replicates_and_seed(
        cohort, folder, computed):
    assert scenario_study(cohort, SMALL, SMALL_SEED, folder).source == "stored"
    assert scenario_study(cohort, SMALL + 1, SMALL_SEED, folder).source == "computed"
    assert scenario_study(cohort, SMALL, SMALL_SEED + 1, folder).source == "computed"
    assert scenario_study(_user_copy(cohort), SMALL, SMALL_SEED, folder).source == "computed"
    changed = _bump(cohort, "followup_months", 0, 0.1)
    assert "another cohort" in store.stale_reason(changed, SMALL, SMALL_SEED, folder)
    assert scenario_study(changed, SMALL, SMALL_SEED, folder).source == "computed"


def test_a_cohort_that_cannot_be_simulated_is_neither_read_nor_computed(cohort, folder):
    """A one-arm cohort, even flagged as the reconstruction, is not the stored cohort and
    is not simulated: the study has no rows, the reason, and says so in its provenance."""
    one_arm = cohort[~cohort["surgical"]].reset_index(drop=True)
    one_arm.attrs = dict(cohort.attrs)
    assert "another cohort" in store.stale_reason(one_arm, SMALL, SMALL_SEED, folder)
    study = scenario_study(one_arm, SMALL, SMALL_SEED, folder)
    assert study.rows.empty and study.reason.startswith("no surgical patient")
    assert study.provenance().startswith("Neither read nor computed")
    assert scenario_study(cohort, SMALL, SMALL_SEED, folder).source == "stored"


def test_a_tampered_or_foreign_manifest_is_not_used(cohort, folder, computed):
    table = folder / store.STUDY_FILE
    table.write_bytes(table.read_bytes().replace(b"0.", b"1.", 1))
    assert "does not match its manifest" in store.stale_reason(cohort, SMALL, SMALL_SEED,
                                                              folder)
    manifest = json.loads((folder / store.MANIFEST_FILE).read_text())
    manifest["methods"] = manifest["methods"][:-1]
    (folder / store.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert "methods" in store.stale_reason(cohort, SMALL, SMALL_SEED, folder)
    (folder / store.MANIFEST_FILE).unlink()
    assert "no manifest.json" in store.stale_reason(cohort, SMALL, SMALL_SEED, folder)
    assert scenario_study(cohort, SMALL, SMALL_SEED, folder).source == "computed"


def test_the_digest_reads_what_the_study_reads(cohort):
    same = cohort.copy()
    same["symptomatic"] = ~same["symptomatic"].astype(bool)  # not read by the study
    assert store.cohort_digest(same) == store.cohort_digest(cohort)
    for column in ("followup_months", "liver_involvement_pct", "age_years"):
        other = _bump(cohort, column, 5, 1.0)
        assert store.cohort_digest(other) != store.cohort_digest(cohort), column
    reordered = cohort.iloc[::-1].reset_index(drop=True)  # rows are drawn by position
    assert store.cohort_digest(reordered) != store.cohort_digest(cohort)


def test_build_then_check_on_a_small_study(tmp_path, capsys, computed):
    out = tmp_path / "scenarios"
    assert main(["--build", "--replicates", str(SMALL), "--seed", str(SMALL_SEED),
                 "--folder", str(out)]) == 0
    assert json.loads((out / store.MANIFEST_FILE).read_text())["n_replicates"] == SMALL
    assert main(["--check", "--folder", str(out)]) == 0
    assert "identical" in capsys.readouterr().err
    table = out / store.STUDY_FILE
    table.write_bytes(table.read_bytes() + b"x")
    assert main(["--check", "--folder", str(out)]) == 1
    assert store.BUILD_COMMAND in capsys.readouterr().err


def test_an_interrupted_write_leaves_the_old_study(tmp_path):
    out = store.write_study({"a.txt": b"old"}, tmp_path / "scenarios")

    class Boom(dict):
        def items(self):
            yield "a.txt", b"new"
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.write_study(Boom(), out)
    assert (out / "a.txt").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["scenarios"]


def _notebook_parameters() -> dict[str, object]:
    nb = nbformat.read(NOTEBOOKS_DIR / "06_what_methods_detect.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)}


def test_the_shipped_study_is_that_of_the_bundled_cohort(cohort):
    """Fails when data/cohort.csv (or notebook 06's replicates or seed) changed without
    a rebuild of data/scenarios/."""
    params = _notebook_parameters()
    assert (params["n_replicates"], params["seed"]) == (N_REPLICATES, SEED)
    reason = store.stale_reason(cohort, N_REPLICATES, SEED)
    assert reason is None, (f"{reason}: the shipped scenario study is stale; rebuild it "
                            f"with `{store.BUILD_COMMAND}` and commit data/scenarios/")
    assert scenario_study(cohort).source == "stored"


@pytest.mark.notebooks
def test_the_shipped_study_equals_a_rebuild(cohort):
    """``python -m nethep.robustness.scenarios --check``: a code change that alters the
    study fails here (about 20 s of CPU: 8 scenarios of about 2 s each).

    No cheaper rebuild checks every row: each row summarises all 1,000 replicates of its
    scenario (and the replicates are drawn as whole (replicates, patients) arrays, so
    the first k of 1,000 are not a k-replicate run); each scenario has its own random
    streams, so a rebuild of some scenarios reproduces their rows exactly, but not the
    others'."""
    manifest = store.read_manifest(SCENARIOS_DIR)
    assert manifest is not None, f"no data/scenarios/: run `{store.BUILD_COMMAND}`"
    built = run_scenarios(cohort, n_replicates=manifest["n_replicates"],
                          seed=manifest["seed"])
    files = store.study_files(built, store.cohort_digest(cohort))
    differ = store.differences(files, SCENARIOS_DIR)
    assert not differ, (f"data/scenarios/ differs from a rebuild ({'; '.join(differ)}): "
                        f"if the change is intended, run `{store.BUILD_COMMAND}`")
    pd.testing.assert_frame_equal(store.load_study(cohort).rows, built.rows, check_exact=True)
