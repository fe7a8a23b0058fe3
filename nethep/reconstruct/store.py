"""``data/ensemble/``: the shipped ensemble, written atomically and byte for byte.

Files (:func:`ensemble_files`):

- ``members.csv.gz``: ``member`` and the 13 cohort columns, 48 rows per member, as
  ``data/cohort.csv`` writes them; gzip with mtime 0 (same bytes on every build);
- ``quantities.csv``: one row per member: ``member, model, palliation, test,
  rounding`` and :data:`nethep.reconstruct.quantities.COLUMNS` (empty: not
  estimable);
- ``manifest.json``: models, rules, seed, arms drawn, arm pairs formed and members
  accepted per cell and per model, and the SHA-256 of the two tables.

:func:`write_ensemble` builds into a temporary sibling folder and renames it into
place at the end, so an interrupted build leaves the old folder (or none), never a
partial one. ``nethep run`` only reads these files (:func:`load_ensemble`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nethep.paths import DATA_DIR, write_folder
from nethep.reconstruct import ensemble as ens
from nethep.reconstruct.quantities import COLUMNS, LANDMARKS, cohort_arrays, quantities
from nethep.reconstruct.single import LOSS_RATE, _format_csv

ENSEMBLE_DIR = DATA_DIR / "ensemble"
DEFAULT_MEMBERS = 1000
MAX_MEMBERS = 100_000
FILES: tuple[str, ...] = ("members.csv.gz", "quantities.csv", "manifest.json")
DESIGN: tuple[str, ...] = ("model", "palliation", "test", "rounding")
#: Members per block of :func:`quantity_table` (fixed, so the bytes do not depend on
#: the number of worker processes).
QUANTITY_BLOCK = 500
#: Worker processes by default: the cells (and quantity blocks) are independent.
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)


def check_members(value: Any) -> int:
    """``value`` as a member count, or a ValueError saying what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"--members must be a whole number, not {value!r}")
    text = str(value).strip()
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"--members must be a whole number such as 1000, not {value!r}") from None
    if n < 1:
        raise ValueError(f"--members must be at least 1 (got {n})")
    if n > MAX_MEMBERS:
        raise ValueError(f"--members {n:,} is more than {MAX_MEMBERS:,}: the build would take "
                         "hours and gigabytes; 1,000 (the default) to 10,000 is ample")
    return n


def _quantity_block(long: pd.DataFrame) -> pd.DataFrame:
    return quantities(cohort_arrays(long))


def quantity_table(built: ens.Ensemble, workers: int = 1) -> pd.DataFrame:
    """The design columns and every quantity, one row per member; members in fixed
    blocks of :data:`QUANTITY_BLOCK` (in ``workers`` processes: same bytes whatever
    their number)."""
    long = built.members.drop(columns="member")
    rows = QUANTITY_BLOCK * 48
    blocks = [long.iloc[s:s + rows] for s in range(0, len(long), rows)]
    if workers > 1 and len(blocks) > 1:
        with ens.worker_pool(workers) as pool:
            parts = list(pool.map(_quantity_block, blocks))
    else:
        parts = [_quantity_block(b) for b in blocks]
    q = pd.concat(parts, ignore_index=True)
    return pd.concat([built.design.reset_index(drop=True), q], axis=1)


def _manifest(built: ens.Ensemble, tables: dict[str, bytes]) -> dict[str, Any]:
    tried = built.tried
    by_model = tried.groupby("model", sort=False)[list(ens.COUNTS)].sum()
    return {
        "description": "Abstract-consistent reconstructions of Musunuru et al., Arch Surg "
                       "2006 (nethep.reconstruct.ensemble); each member reproduces every "
                       "published number at its printed rounding.",
        "n_members": built.n_members, "seed": built.seed,
        "models": {
            "survival": list(ens.MODELS),
            "survival_note": "per arm, scaled so that S(36) is 83% (surgical) and 31% "
                             "(non-surgical); piecewise_exp: hazard halved after "
                             f"{ens.PIECEWISE_BREAK:g} months",
            "censoring": f"loss to follow-up exponential {LOSS_RATE} per month from first "
                         "treatment, or data closure 2005-12-31, whichever first",
            "palliation_rates": {k: dict(zip(ens.PALLIATION_GROUPS, v, strict=True))
                                 for k, v in ens.PALLIATION.items()},
            "tests": list(ens.TESTS),
        },
        "rules": {
            "readings": {k: {"lower": lo, "upper": hi} for k, (lo, hi) in ens.READINGS.items()},
            "survival_36_months": "Kaplan-Meier S(36) rounds (half up) to 83% and 31%",
            "median_followup_months": "simple median of follow-up rounds to 20",
            "palliation": ".15 <= Fisher-Freeman-Halton P < .25",
            "liver_involvement": "Kruskal-Wallis P > .05",
            "boundary_guard": ens.GUARD,
            "cell_of_member": "member j (1-based) is in cell (j - 1) mod 48 of "
                              "model x palliation x test x rounding",
            "arms": f"surgical and non-surgical arms drawn separately ({ens.BATCH:,} of "
                    "each per round and cell), each kept when its S(36) rule holds; kept "
                    "arms paired in order (exact: the 3-year rules factor by arm)",
        },
        "landmarks_months": list(LANDMARKS),
        "tried_per_cell": tried.to_dict(orient="records"),
        "tried_per_model": {m: {k: int(v) for k, v in row.items()}
                            for m, row in by_model.iterrows()},
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in tables.items()},
    }


def ensemble_files(built: ens.Ensemble, workers: int = 1) -> dict[str, bytes]:
    """The three files' bytes (module docstring); quantities in ``workers`` processes."""
    members = gzip.compress(_format_csv(built.members), compresslevel=9, mtime=0)
    buf = io.StringIO()
    quantity_table(built, workers).to_csv(buf, index=False, lineterminator="\n")
    tables = {"members.csv.gz": members, "quantities.csv": buf.getvalue().encode("utf-8")}
    manifest = json.dumps(_manifest(built, tables), indent=2, sort_keys=False) + "\n"
    return tables | {"manifest.json": manifest.encode("utf-8")}


def write_ensemble(files: dict[str, bytes], out: Path = ENSEMBLE_DIR) -> Path:
    """Write ``files`` into folder ``out`` atomically (:func:`nethep.paths.write_folder`)."""
    return write_folder(files, out)


def differing_files(files: dict[str, bytes], folder: Path = ENSEMBLE_DIR) -> list[str]:
    """The files of ``folder`` that are missing or differ from ``files``."""
    return [name for name, data in files.items()
            if not (Path(folder) / name).is_file() or (Path(folder) / name).read_bytes() != data]


@dataclass(frozen=True)
class StoredEnsemble:
    """``data/ensemble/`` as read: members (long), quantities and manifest."""

    members: pd.DataFrame
    quantities: pd.DataFrame
    manifest: dict[str, Any]


def load_ensemble(folder: Path = ENSEMBLE_DIR, members: bool = True) -> StoredEnsemble:
    """Read the shipped ensemble (never rebuilds it); ``members=False`` skips the
    48-row-per-member table."""
    folder = Path(folder)
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: build it with "
                                "`nethep ensemble` (or `python -m nethep.reconstruct`)")
    long = (pd.read_csv(folder / "members.csv.gz", dtype={"patient_id": str})
            if members else pd.DataFrame())
    q = pd.read_csv(folder / "quantities.csv")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for col in COLUMNS:
        q[col] = q[col].astype(float)
    return StoredEnsemble(long, q, manifest)
