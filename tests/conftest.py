"""Shared fixtures, and the ``notebooks`` marker for every test that executes notebooks.

Two runs of the command ``nethep run`` serve the whole session:

- ``bundled_run``: the bundled cohort (results.json keys, R verification, the committed
  notebooks' outputs, pages, figures);
- ``user_run``: a user's file built to reach the edge cases at once: a clinic's messy
  export (own column names and labels, dates, a name column: :func:`write_messy_export`)
  read through ``--map data/template_map.yaml --allow-identifiers``, of a cohort with a
  medical group of 3 and no death in the surgical arm (:func:`edge_rows`: small cells,
  a hazard ratio without a finite interval), run with ``--min-cell 5``.

Each starts as a subprocess when collection ends, if a selected test uses it, so the
notebooks execute while the fast tests run; its fixture waits for it.

A test that uses one of these fixtures (directly or through another fixture) is
marked ``notebooks`` and runs after the others, and so are nbval's items
(``pytest --nbval --nbval-current-env notebooks/``); ``pytest -m "not notebooks"``
runs the fast part alone. A test that executes notebooks some other way carries
``@pytest.mark.notebooks`` itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from nethep import cli
from nethep.contract import DAYS_PER_MONTH
from nethep.pages import INDEX_FILENAME
from nethep.paths import BUNDLED_COHORT, REPO_DIR, TEMPLATE_MAP
from nethep.results import RESULTS_FILENAME
from nethep.run import EXECUTED_DIRNAME, FIGURES_DIRNAME

#: The runs started in the background, by fixture name.
BACKGROUND_RUNS = ("bundled_run", "user_run")
#: Fixtures that execute notebooks: a test using one is marked ``notebooks``.
NOTEBOOK_FIXTURES = frozenset(BACKGROUND_RUNS)


def _edge_medical() -> tuple[str, ...]:
    """The medical patients of the edge cohort, chosen by rule from the bundled cohort
    (so they follow it when it is rebuilt): the first octreotide and the first
    observation patient who were symptomatic, palliated and died, and the first
    chemotherapy patient without symptoms."""
    with BUNDLED_COHORT.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    wanted = {"octreotide": {"symptomatic": "1", "palliated": "1", "died": "1"},
              "observation": {"symptomatic": "1", "palliated": "1", "died": "1"},
              "chemotherapy": {"symptomatic": "0"}}
    return tuple(next(r["patient_id"] for r in rows if r["treatment"] == treatment
                      and all(r[k] == v for k, v in rule.items()))
                 for treatment, rule in wanted.items())


#: The medical patients of the edge cohort (:func:`_edge_medical`).
EDGE_MEDICAL = _edge_medical()
EDGE_MIN_CELL = 5
#: How ``user_run`` runs: the clinic's mapping, its identifier columns dropped, small
#: counts suppressed.
USER_RUN_OPTIONS = ("--map", str(TEMPLATE_MAP), "--allow-identifiers",
                    "--min-cell", str(EDGE_MIN_CELL))
#: How the clinician's export codes groups, treatments and yes/no.
GROUP_CODE = {"medical": "1", "embolization": "2", "surgical": "3"}
TREATMENT = {"octreotide": "Octreotide", "observation": "Observation",
             "chemotherapy": "Chemotherapy", "embolization": "HAE", "resection": "Resection",
             "ablation": "RFA", "resection_ablation": "Resection + RFA"}
YES_NO = {"1": "Yes", "0": "No", "": ""}

_RUNS = pytest.StashKey[dict[str, "_Background"]]()


@dataclass(frozen=True)
class Build:
    """The output folder of one ``nethep run`` (and the data file it read, if not the
    bundled cohort, with the SHA-256 that file had before the run)."""

    output_dir: Path
    data_path: Path | None = None
    data_sha256: str | None = None

    @property
    def results_path(self) -> Path:
        return self.output_dir / RESULTS_FILENAME

    @property
    def index_path(self) -> Path:
        return self.output_dir / INDEX_FILENAME

    @property
    def figures_dir(self) -> Path:
        return self.output_dir / FIGURES_DIRNAME

    @cached_property
    def results(self) -> dict[str, Any]:
        return json.loads(self.results_path.read_text(encoding="utf-8"))

    @property
    def executed(self) -> list[Path]:
        """The executed notebooks, in name order."""
        return sorted((self.output_dir / EXECUTED_DIRNAME).glob("*.ipynb"))

    @property
    def html_pages(self) -> list[Path]:
        """One HTML page per executed notebook, in name order."""
        return [self.output_dir / f"{p.stem}.html" for p in self.executed]


def edge_rows() -> list[dict[str, str]]:
    """The edge cohort in the contract's columns: the bundled cohort with 3 medical
    patients (:data:`EDGE_MEDICAL`) and no surgical death; 34 patients."""
    with BUNDLED_COHORT.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows = [r for r in rows
            if r["treatment_group"] != "medical" or r["patient_id"] in EDGE_MEDICAL]
    for row in rows:
        if row["treatment_group"] == "surgical":
            row["died"] = "0"
    return rows


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_edge_cohort(path: Path) -> Path:
    """:func:`edge_rows` as a contract-format CSV."""
    return _write_csv(path, edge_rows())


def _days(months: str) -> dt.timedelta:
    return dt.timedelta(days=round(float(months) * DAYS_PER_MONTH))


def write_messy_export(path: Path, rows: list[dict[str, str]] | None = None,
                       typo: bool = False) -> Path:
    """Cohort rows (default: the bundled cohort) as a clinic exports them: REDCap-style
    codes and labels ("HAE", "Yes"), dates instead of months (whole days), study ids
    ``UWX-001``... and a patient-name column; ``typo``: one mistyped group label
    ("Medicall", patient UWX-005)."""
    if rows is None:
        with BUNDLED_COHORT.open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    export = []
    for i, r in enumerate(rows):
        dx = dt.date(int(r["year_of_diagnosis"]), 3, 1) + dt.timedelta(days=i)
        end = dx + _days(r["followup_months"])
        died = r["died"] == "1"
        export.append({
            "Study ID": f"UWX-{i + 1:03d}", "Patient name": f"Zebediah{i}",
            "Histology": "Carcinoid" if r["tumor_type"] == "carcinoid" else "Islet cell",
            "Group": GROUP_CODE[r["treatment_group"]], "Treatment": TREATMENT[r["treatment"]],
            "Liver involvement (%)": r["liver_involvement_pct"],
            "Diagnosis date": dx.isoformat(),
            "First treatment date": "" if not r["months_to_treatment"]
            else (dx + _days(r["months_to_treatment"])).isoformat(),
            "Last contact date": "" if died else end.isoformat(),
            "Death date": end.isoformat() if died else "",
            "Hormonal symptoms": YES_NO[r["symptomatic"]],
            "Symptoms palliated": YES_NO[r["palliated"]],
            "Age": r["age_years"], "Sex": "F" if r["sex"] == "female" else "M",
        })
    if typo:
        export[4]["Group"] = "Medicall"
    return _write_csv(path, export)


class _Background:
    """``python -m nethep run`` in a subprocess; a user's data file and the output
    folder alone in their folder (so a test can see that nothing else is written)."""

    def __init__(self, name: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"nethep-{name}-"))
        folder = self.root / "run"
        self.data: Path | None = None
        args: list[str] = []
        self.out = folder / "out"
        if name == "user_run":
            self.data = write_messy_export(folder / "export.csv", edge_rows())
            args = ["--data", str(self.data), *USER_RUN_OPTIONS]
        self.digest = (None if self.data is None
                       else hashlib.sha256(self.data.read_bytes()).hexdigest())
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR),
                                                          env.get("PYTHONPATH")]))
        self.log = (self.root / "log.txt").open("w+", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nethep", "run", "--output", str(self.out),
             "--no-progress", *args],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def build(self) -> Build:
        """Wait for the run; fail with its output unless it exited 0."""
        code = self.process.wait()
        if code != cli.EXIT_OK:
            self.log.seek(0)
            pytest.fail(f"nethep run exited {code}:\n{self.log.read()}", pytrace=False)
        return Build(self.out, self.data, self.digest)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _background(config: pytest.Config, name: str) -> Build:
    runs = config.stash.setdefault(_RUNS, {})
    if name not in runs:  # not started at collection (e.g. asked for by another fixture)
        runs[name] = _Background(name)
    return runs[name].build()


@pytest.fixture(scope="session")
def bundled_run(request: pytest.FixtureRequest) -> Build:
    """``nethep run`` on the bundled cohort, once per session (read it, never write)."""
    return _background(request.config, "bundled_run")


@pytest.fixture(scope="session")
def user_run(request: pytest.FixtureRequest) -> Build:
    """``nethep run --map data/template_map.yaml --allow-identifiers --min-cell 5`` on a
    clinic's messy export (:func:`write_messy_export`) of the edge cohort
    (:func:`edge_rows`), once per session (read it, never write)."""
    return _background(request.config, "user_run")


@pytest.fixture(scope="session")
def messy_export() -> Callable[..., Path]:
    """:func:`write_messy_export`, for tests that write their own export."""
    return write_messy_export


@pytest.fixture(scope="session")
def edge_cohort() -> Callable[[Path], Path]:
    """:func:`write_edge_cohort`: the edge cohort as a contract-format CSV."""
    return write_edge_cohort


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark nbval's items and every test that uses a notebook-running fixture, and move
    them after the others (stable order otherwise)."""
    for item in items:
        from_nbval = type(item).__module__.startswith("nbval")
        if from_nbval or NOTEBOOK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.notebooks)
    items.sort(key=lambda item: item.get_closest_marker("notebooks") is not None)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the background runs the selected tests need (none for --collect-only)."""
    if session.config.option.collectonly:
        return
    used = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    runs = session.config.stash.setdefault(_RUNS, {})
    for name in BACKGROUND_RUNS:
        if name in used and name not in runs:
            runs[name] = _Background(name)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop what still runs and remove the background runs' folders."""
    for run in session.config.stash.get(_RUNS, {}).values():
        run.close()
