"""``data/scenarios/``: the bundled cohort's known-truth study, shipped as data.

The scenario study of notebook 06 is a property of the design (the cohort's shape, the
scenarios, the methods, the seed), seeded like the ensemble of ``data/ensemble/``: for
the bundled cohort it is built once and read by every ``nethep run``
(:func:`scenario_study`). Files (:func:`study_files`):

- ``study.csv``: one row per scenario and method, the columns of
  :meth:`ScenarioStudy.table` in its order, floats written in their shortest
  round-trip form (read back to the same float64), empty where not estimable;
- ``manifest.json``: ``n_replicates``, ``seed``, ``n_permutations``,
  ``rmst_tau_months``, the scenario and method keys, ``cohort_sha256`` (the SHA-256 of
  the values the study reads from the cohort: :func:`cohort_digest`), the nethep
  version that built it, and the SHA-256 of ``study.csv``.

:func:`scenario_study` reads the stored study only when the cohort is the bundled
reconstruction and every one of these matches (cohort digest, replicates, seed,
permutations, RMST horizon, scenarios, methods, the table's own hash); otherwise it
computes (:func:`~nethep.robustness.scenarios.summary.run_scenarios`): a user's cohort
always computes. ``python -m nethep.robustness.scenarios --check`` rebuilds the study
and compares it with the shipped one (``study.csv`` byte for byte, the manifest apart
from the version that built it); ``--build`` writes it (atomically: a temporary
sibling folder renamed into place).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nethep import __version__
from nethep.paths import SCENARIOS_DIR, write_folder
from nethep.robustness.scenarios.methods import METHOD_LABELS, N_PERMUTATIONS, RMST_TAU
from nethep.robustness.scenarios.simulate import cohort_shape, default_scenarios
from nethep.robustness.scenarios.summary import (
    N_REPLICATES,
    SEED,
    ScenarioStudy,
    run_scenarios,
)

STUDY_FILE, MANIFEST_FILE = "study.csv", "manifest.json"
#: The command that rebuilds ``data/scenarios/`` (named by every staleness message).
BUILD_COMMAND = "python -m nethep.robustness.scenarios --build"
#: What the study reads from the cohort (:func:`nethep.robustness.scenarios.simulate.cohort_shape`).
DIGEST_OF = ("followup_months, died, surgical, tumor_type == 'islet_cell', "
             "liver_involvement_pct, age_years: as float64 little-endian, in row order")
#: Columns of study.csv that hold counts (integers) and text; the rest are floats.
INTEGER_COLUMNS = ("n_replicates", "n_failed")
TEXT_COLUMNS = ("scenario", "kind", "method", "label", "scale")


def cohort_digest(df: pd.DataFrame) -> str:
    """SHA-256 of the values the scenario study reads from cohort ``df``
    (:data:`DIGEST_OF`): equal digests give the same cohort shape, so the same study."""
    columns = {
        "followup_months": df["followup_months"],
        "died": df["died"],
        "surgical": df["surgical"],
        "islet_cell": df["tumor_type"].astype(str) == "islet_cell",
        "liver_involvement_pct": df["liver_involvement_pct"],
        "age_years": df["age_years"],
    }
    digest = hashlib.sha256()
    for name, values in columns.items():
        digest.update(name.encode("ascii") + b"\0")
        digest.update(np.asarray(values, dtype="<f8").tobytes())
    return digest.hexdigest()


def _design(n_replicates: int, seed: int) -> dict[str, Any]:
    """The manifest fields a stored study must match to be used."""
    return {"n_replicates": int(n_replicates), "seed": int(seed),
            "n_permutations": N_PERMUTATIONS, "rmst_tau_months": RMST_TAU,
            "scenarios": [s.key for s in default_scenarios()],
            "methods": list(METHOD_LABELS)}


def study_files(study: ScenarioStudy, digest: str) -> dict[str, bytes]:
    """The bytes of ``study.csv`` and ``manifest.json`` (module docstring) for ``study``,
    run on the cohort of digest ``digest`` with the default scenarios."""
    buf = io.StringIO()
    study.table().to_csv(buf, index=False, lineterminator="\n")
    table = buf.getvalue().encode("utf-8")
    manifest = {
        "description": "Known-truth scenario study of notebook 06 on the bundled cohort "
                       "(nethep.robustness.scenarios); used only when the cohort, "
                       "replicates and seed match, otherwise computed.",
        **_design(study.n_replicates, study.seed),
        "cohort_sha256": digest, "cohort_sha256_of": DIGEST_OF,
        "nethep_version": __version__, "build": BUILD_COMMAND,
        "sha256": {STUDY_FILE: hashlib.sha256(table).hexdigest()},
    }
    text = json.dumps(manifest, indent=2) + "\n"
    return {STUDY_FILE: table, MANIFEST_FILE: text.encode("utf-8")}


def build_files(df: pd.DataFrame, n_replicates: int = N_REPLICATES,
                seed: int = SEED) -> dict[str, bytes]:
    """Compute the study of cohort ``df`` and return its files (:func:`study_files`)."""
    return study_files(run_scenarios(df, n_replicates=n_replicates, seed=seed),
                       cohort_digest(df))


def write_study(files: dict[str, bytes], out: Path = SCENARIOS_DIR) -> Path:
    """Write ``files`` into folder ``out`` atomically (:func:`nethep.paths.write_folder`):
    an interrupted build leaves the old study, never part of a new one."""
    return write_folder(files, out)


def read_manifest(folder: Path = SCENARIOS_DIR) -> dict[str, Any] | None:
    """The stored manifest, or None when there is none."""
    path = Path(folder) / MANIFEST_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def differences(files: dict[str, bytes], folder: Path = SCENARIOS_DIR) -> list[str]:
    """What differs between freshly built ``files`` and ``folder``: ``study.csv`` byte for
    byte; in the manifest, every field but the version that built it."""
    folder = Path(folder)
    table = folder / STUDY_FILE
    out = [] if table.is_file() and table.read_bytes() == files[STUDY_FILE] else [STUDY_FILE]
    stored, built = read_manifest(folder), json.loads(files[MANIFEST_FILE])
    if stored is None:
        return [*out, MANIFEST_FILE]
    out += [f"{MANIFEST_FILE}: {key}" for key in sorted(set(stored) | set(built))
            if key != "nethep_version" and stored.get(key) != built.get(key)]
    return out


def stale_reason(df: pd.DataFrame, n_replicates: int = N_REPLICATES, seed: int = SEED,
                 folder: Path = SCENARIOS_DIR) -> str | None:
    """Why the stored study cannot stand for the study of ``df`` at ``n_replicates`` and
    ``seed`` (None: it can). Reads the manifest and the table's bytes only."""
    manifest = read_manifest(folder)
    if manifest is None:
        return f"{Path(folder)} holds no {MANIFEST_FILE}"
    if manifest.get("cohort_sha256") != cohort_digest(df):
        return f"{Path(folder)} was built from another cohort"
    wanted = _design(n_replicates, seed)
    differ = [key for key, value in wanted.items() if manifest.get(key) != value]
    if differ:
        return f"{Path(folder)} was built with other {', '.join(differ)}"
    table = Path(folder) / STUDY_FILE
    expected = manifest.get("sha256", {}).get(STUDY_FILE)
    if not table.is_file() or hashlib.sha256(table.read_bytes()).hexdigest() != expected:
        return f"{table} is missing or does not match its manifest"
    return None


def load_study(df: pd.DataFrame, folder: Path = SCENARIOS_DIR) -> ScenarioStudy:
    """The stored study as a :class:`ScenarioStudy` on cohort ``df`` (its shape is
    recomputed from ``df``; check :func:`stale_reason` first)."""
    manifest = read_manifest(folder)
    if manifest is None:
        raise FileNotFoundError(f"{folder} holds no {MANIFEST_FILE}: {BUILD_COMMAND}")
    dtypes = {c: str for c in TEXT_COLUMNS} | {c: "int64" for c in INTEGER_COLUMNS}
    rows = pd.read_csv(Path(folder) / STUDY_FILE, dtype=dtypes, float_precision="round_trip",
                       keep_default_na=False, na_values=[""])
    return ScenarioStudy(rows=rows, scenarios=default_scenarios(), shape=cohort_shape(df),
                         n_replicates=int(manifest["n_replicates"]),
                         seed=int(manifest["seed"]), source="stored")


def scenario_study(df: pd.DataFrame, n_replicates: int = N_REPLICATES, seed: int = SEED,
                   folder: Path = SCENARIOS_DIR) -> ScenarioStudy:
    """The known-truth study of cohort ``df`` (notebook 06): read from ``folder`` when
    ``df`` is the bundled reconstruction and the stored study was built from the same
    cohort values, replicates, seed, scenarios and methods (:func:`stale_reason`);
    otherwise computed now by :func:`run_scenarios` (a user's cohort always is).
    :meth:`ScenarioStudy.provenance` says which."""
    if df.attrs.get("reconstructed") and stale_reason(df, n_replicates, seed, folder) is None:
        return load_study(df, folder)
    return run_scenarios(df, n_replicates=n_replicates, seed=seed)
