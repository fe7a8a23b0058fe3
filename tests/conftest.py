"""Shared fixtures, and the ``notebooks`` marker for every test that executes notebooks.

- ``nethep_run``: runs the command ``nethep run`` (:func:`nethep.cli.main`) into a
  folder and returns the :class:`Build` it wrote; exit code 0 is required.
- ``bundled_run``: one ``nethep run`` on the bundled cohort per test session, into a
  temporary folder, shared by every test that reads a real run (results.json keys,
  R verification, the committed notebooks' outputs, pages, figures).

A test that uses either fixture (directly or through another fixture) is marked
``notebooks``, and so are nbval's items (``pytest --nbval notebooks/``), so
``pytest -m "not notebooks"`` runs the fast part alone. A test that executes
notebooks some other way carries ``@pytest.mark.notebooks`` itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from nethep import cli
from nethep.pages import INDEX_FILENAME
from nethep.results import RESULTS_FILENAME
from nethep.run import EXECUTED_DIRNAME, FIGURES_DIRNAME

#: Fixtures that execute notebooks: a test using one is marked ``notebooks``.
NOTEBOOK_FIXTURES = frozenset({"nethep_run", "bundled_run"})


@dataclass(frozen=True)
class Build:
    """The output folder of one ``nethep run``."""

    output_dir: Path

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


RunNethep = Callable[..., Build]


def _run_nethep(output_dir: Path, *args: str) -> Build:
    """``nethep run --output output_dir --no-progress *args``; fails the test unless it
    exits 0."""
    code = cli.main(["run", "--output", str(output_dir), "--no-progress", *args])
    assert code == cli.EXIT_OK, f"nethep run {' '.join(args)} exited {code}"
    return Build(Path(output_dir).resolve())


@pytest.fixture(scope="session")
def nethep_run() -> RunNethep:
    """``nethep_run(output_dir, "--data", path, ...)`` runs ``nethep run`` and returns
    its :class:`Build`."""
    return _run_nethep


@pytest.fixture(scope="session")
def bundled_run(nethep_run: RunNethep, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """``nethep run`` on the bundled cohort, once per session (read it, never write)."""
    return nethep_run(tmp_path_factory.mktemp("bundled_run"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark nbval's items and every test that uses a notebook-running fixture."""
    for item in items:
        from_nbval = type(item).__module__.startswith("nbval")
        if from_nbval or NOTEBOOK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.notebooks)
