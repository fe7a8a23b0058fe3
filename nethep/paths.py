"""Every path nethep reads from or writes to, in one place.

``nethep run`` writes nothing here: ``data/`` is read only (its generated parts are
rebuilt by developers' commands: ``python -m nethep.reconstruct`` for the cohort and
the ensemble, ``python -m nethep.robustness.scenarios --build`` for the scenario
study). Outputs go to a folder the caller chooses (``build/`` by default), laid out by
:mod:`nethep.run`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DATA_DIR = REPO_DIR / "data"
NOTEBOOKS_DIR = REPO_DIR / "notebooks"
DEFAULT_OUTPUT_DIR = REPO_DIR / "build"
#: The bundled cohort's known-truth scenario study (notebook 06), shipped as data.
SCENARIOS_DIR = DATA_DIR / "scenarios"

BUNDLED_COHORT = DATA_DIR / "cohort.csv"
DATAPACKAGE = DATA_DIR / "datapackage.json"
PUBLISHED = DATA_DIR / "published.yaml"
TEMPLATE = DATA_DIR / "template.csv"
TEMPLATE_MAP = DATA_DIR / "template_map.yaml"


def write_folder(files: dict[str, bytes], out: Path) -> Path:
    """Write ``files`` (name: bytes) as folder ``out``, atomically: into a temporary
    sibling first, which then takes the place of ``out``; an interrupted write leaves
    the old folder as it was and no partial one (the shipped data folders,
    ``data/ensemble/`` and ``data/scenarios/``, are rebuilt this way)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out.exists():
            old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return out
