"""Shared fixtures, and the ``notebooks`` marker for every test that executes notebooks.

Two runs of the command ``nethep run`` serve the whole session:

- ``bundled_run``: the bundled cohort (results.json keys, R verification, the committed
  notebooks' outputs, pages, figures);
- ``user_run``: a user's file built to reach the edge cases at once: a clinic's messy
  export (own column names and labels, dates, a name column: :func:`write_messy_export`)
  read through ``--map data/template_map.yaml --allow-identifiers``, of a cohort with a
  medical group of 3 and no death in the surgical arm (:func:`edge_rows`: small cells,
  a hazard ratio without a finite interval), run with ``--min-cell 5``;
- ``small_run``: 5 + 5 patients, no surgical death, with the defaults
  (:func:`write_smallest_cohort`).

Each starts as a background process when collection ends, if a selected test uses it,
so the notebooks execute while the fast tests run; its fixture waits for it. Under
pytest-xdist (``make test`` runs ``pytest -n auto``) the workers share each run: the
first worker to need it starts it, the others wait for its exit code.

A test that uses one of these fixtures (directly or through another fixture) is
marked ``notebooks`` and runs after the others, and so are nbval's items
(``pytest --nbval --nbval-current-env notebooks/``); ``pytest -m "not notebooks"``
runs the fast part alone. A test that executes notebooks some other way carries
``@pytest.mark.notebooks`` itself.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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
BACKGROUND_RUNS = ("bundled_run", "user_run", "small_run")
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

_ROOT = pytest.StashKey[Path]()
_ROOT_KEY = "nethep_background_runs"
#: Seconds a worker waits for the process that took a run to start it.
START_TIMEOUT = 300


@dataclass(frozen=True)
class Build:
    """The output folder of one ``nethep run`` (and the data file it read, if not the
    bundled cohort, with the SHA-256 that file had before the run; and what the run
    printed)."""

    output_dir: Path
    data_path: Path | None = None
    data_sha256: str | None = None
    log_path: Path | None = None

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


def write_smallest_cohort(path: Path) -> Path:
    """5 surgical patients (none died) and 5 non-surgical ones, drawn from the bundled
    cohort with a fixed seed: a small cohort with an arm without deaths, in the contract's
    columns (``validate`` accepts it; cohorts down to one patient are driven through the
    analyses by tests/test_property_analysis.py)."""
    with BUNDLED_COHORT.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rng = random.Random(1)
    surgical = rng.sample([r for r in rows if r["treatment_group"] == "surgical"], 5)
    others = rng.sample([r for r in rows if r["treatment_group"] != "surgical"], 5)
    for row in surgical:
        row["died"] = "0"
    return _write_csv(path, [*surgical, *others])


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
    """``python -m nethep run`` in a background process, shared by every pytest process
    of the session (the xdist workers and the controller see one ``root`` folder).

    The first process that needs the run creates ``root/<name>`` (an atomic ``mkdir``:
    whoever creates it starts the run), writes the user's data file and the output folder
    alone in ``run/`` (so a test can see that nothing else is written beside them), and
    starts a wrapper that records the exit code in ``exit_code`` when the run ends. Every
    process waits for that file; at the end the controller (:func:`pytest_sessionfinish`)
    kills what still runs and removes ``root``."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.folder = root / name
        self.out = self.folder / "run" / "out"
        self.exit_file = self.folder / "exit_code"
        self.meta_file = self.folder / "meta.json"
        self.log_file = self.folder / "log.txt"

    def start(self) -> None:
        """Start the run unless another pytest process already did."""
        try:
            self.folder.mkdir()
        except FileExistsError:
            return
        data: Path | None = None
        args: list[str] = []
        if self.name == "user_run":
            data = write_messy_export(self.out.parent / "export.csv", edge_rows())
            args = ["--data", str(data), *USER_RUN_OPTIONS]
        elif self.name == "small_run":
            data = write_smallest_cohort(self.out.parent / "small.csv")
            args = ["--data", str(data)]
        digest = None if data is None else hashlib.sha256(data.read_bytes()).hexdigest()
        meta = {"data": None if data is None else str(data), "digest": digest, "pid": None}
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR),
                                                          env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "nethep", "run", "--output", str(self.out),
                   "--no-progress", *args]
        with self.log_file.open("w", encoding="utf-8") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", _RECORD_EXIT, str(self.exit_file), *command],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        meta["pid"] = process.pid
        _write_atomic(self.meta_file, json.dumps(meta))

    def build(self) -> Build:
        """Wait for the run; fail with its output unless it exited 0."""
        self.start()
        since = time.monotonic()
        while not self.exit_file.exists():
            if self.meta_file.exists() and not _alive(self._meta()["pid"]):
                if self.exit_file.exists():
                    break
                pytest.fail(f"{self.name}: the run stopped without an exit code",
                            pytrace=False)
            if not self.meta_file.exists() and time.monotonic() - since > START_TIMEOUT:
                pytest.fail(f"{self.name}: the process that took the run did not start it "
                            f"within {START_TIMEOUT} s", pytrace=False)
            time.sleep(0.2)
        code = int(self.exit_file.read_text(encoding="utf-8"))
        if code != cli.EXIT_OK:
            log = self.log_file.read_text(encoding="utf-8")
            pytest.fail(f"nethep run exited {code}:\n{log}", pytrace=False)
        meta = self._meta()
        data = None if meta["data"] is None else Path(meta["data"])
        return Build(self.out, data, meta["digest"], self.log_file)

    def _meta(self) -> dict[str, Any]:
        return json.loads(self.meta_file.read_text(encoding="utf-8"))

    def stop(self) -> None:
        """Kill the run (and its kernels) if it still runs."""
        if self.meta_file.exists() and not self.exit_file.exists():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._meta()["pid"], signal.SIGKILL)


#: The wrapper around ``nethep run``: its exit code, written atomically to argv[1].
_RECORD_EXIT = ("import os, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
                "tmp = sys.argv[1] + '.tmp'; open(tmp, 'w').write(str(code)); "
                "os.replace(tmp, sys.argv[1])")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: it exists and, where /proc tells, is not a zombie (ended,
    not yet reaped by the worker that started it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _runs_root(config: pytest.Config) -> Path:
    """The session's folder of background runs: made by the controller (or the only
    process) and handed to xdist workers."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return Path(workerinput[_ROOT_KEY])
    return config.stash[_ROOT]


def _background(config: pytest.Config, name: str) -> Build:
    return _Background(_runs_root(config), name).build()


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
def small_run(request: pytest.FixtureRequest) -> Build:
    """``nethep run`` with the defaults on :func:`write_smallest_cohort` (5 + 5 patients,
    no surgical death), once per session (read it, never write)."""
    return _background(request.config, "small_run")


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


def pytest_configure(config: pytest.Config) -> None:
    """The controller (or the only process) makes the folder of background runs."""
    if not hasattr(config, "workerinput"):
        config.stash[_ROOT] = Path(tempfile.mkdtemp(prefix="nethep-tests-"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker uses the controller's folder of background runs."""
    node.workerinput[_ROOT_KEY] = str(node.config.stash[_ROOT])


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the background runs the selected tests need (none for --collect-only)."""
    if session.config.option.collectonly:
        return
    used = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    for name in BACKGROUND_RUNS:
        if name in used:
            _Background(_runs_root(session.config), name).start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller (or the only process): stop what still runs, remove the runs'
    folder."""
    if hasattr(session.config, "workerinput"):
        return
    root = session.config.stash.get(_ROOT, None)
    if root is None:
        return
    for name in BACKGROUND_RUNS:
        _Background(root, name).stop()
    shutil.rmtree(root, ignore_errors=True)
