"""Execute every notebook headless, concurrently, and merge their results.

:func:`run_notebooks` executes ``notebooks/NN_*.ipynb`` with papermill, each in its
own kernel, up to ``jobs`` at a time (default: one more than the cores available,
:func:`default_jobs`), and writes::

    <out>/notebooks/NN_name.ipynb   executed notebooks (with outputs)
    <out>/figures/                  figures, written by the notebooks themselves
    <out>/results/<section>.json    result fragments, written by the notebooks
    <out>/results.json              all fragments merged (nethep.results.write_results)

The notebooks are independent: each reads the cohort, writes its own fragment and
figures and nothing another notebook reads, so running them at the same time
gives the same bytes as running them one after the other (consecutive printed
outputs are joined, as Jupyter shows them, so that how the kernel batched them does
not matter). The longest (by the
cell timings recorded in the committed notebook) starts first. The pages built
from these files are :mod:`nethep.pages`; what is printed is :mod:`nethep.cli`
(this module prints nothing: it reports progress through ``on_event``).

Each notebook receives three papermill parameters: ``data_path`` (``None`` for the
bundled cohort, else ``"$NETHEP_DATA"``), ``output_dir`` (``"$NETHEP_OUTPUT"``) and
``min_cell`` (small-cell suppression threshold, 0 for none). The paths themselves
travel in those environment variables of the kernel (and the cohort's name in
``NETHEP_LABEL``), which :func:`nethep.notebook.setup` expands: papermill writes its
parameters into the executed notebook, so no path and no file name of the user's
reaches a notebook, its HTML page or results.json. Papermill's own record of the
input and output paths in the notebook's metadata is reduced to the notebook's
name for the same reason. The kernel runs with
the notebooks folder as working directory, with the folder that holds this
``nethep`` package first on its ``PYTHONPATH`` (so the notebooks import the same
code as the runner), and with its own log at CRITICAL (ipykernel otherwise warns on
the console that its local TCP sockets are not encrypted).

The runner only writes inside the output folder; it refuses an output folder
inside the notebooks folder, the bundled ``data/`` folder, or equal to the folder
of a user's data file. Before running, it removes the files it generates itself
(fragments, executed notebooks, ``results.json``, and the figures in ``figures/``)
so that nothing stale from an earlier run is merged, and no earlier cohort's figure
stays beside new ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import papermill

from nethep import results
from nethep.cohort import LABEL_ENV
from nethep.paths import DATA_DIR, NOTEBOOKS_DIR, REPO_DIR
from nethep.privacy import check_min_cell

KERNEL_NAME = "python3"
#: Arguments added to the kernel's command line: its own log shows errors that stop it
#: only (no TCP-encryption warning, no "KeyboardInterrupt caught" at shutdown).
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=CRITICAL",)
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
EXECUTED_DIRNAME = "notebooks"
FIGURES_DIRNAME = "figures"
INJECTED_TAG = "injected-parameters"
ERROR_MARKER_TAG = "papermill-error-cell-tag"
#: Environment variables of the kernel that carry the data path, the output folder and
#: the cohort's label (the parameters name the variables, never the paths).
DATA_ENV, OUTPUT_ENV = "NETHEP_DATA", "NETHEP_OUTPUT"
#: Suffixes of the figures a run writes into ``figures/`` (removed before the next run).
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".tif", ".tiff", ".eps", ".jpg")

#: ``on_event(notebook, status)``: the source notebook's path, and "started", "done" or
#: "failed" (then its partial output is written, when a cell raised); it may be called
#: from several threads at once.
EventCallback = Callable[[Path, str], None]


@dataclass(frozen=True)
class Execution:
    """What :func:`run_notebooks` wrote. All paths are absolute."""

    output_dir: Path
    data_path: Path | None
    notebooks: tuple[Path, ...]  # source notebooks, in name order
    executed: tuple[Path, ...]  # <out>/notebooks/NN_name.ipynb written, in name order
    results_path: Path  # <out>/results.json (not written when a notebook failed)


class NotebookFailed(RuntimeError):
    """A notebook raised an error; no notebook was started after it.

    Attributes: ``notebook`` (source path), ``cell_index`` (0-based position of
    the failing cell in the source notebook, or ``None`` if unknown),
    ``exec_count`` (the ``In [n]`` number), ``first_line`` (first line of the
    cell's source), ``ename``/``evalue`` (the exception), ``executed_path``
    (the partial executed notebook, with the traceback), ``completed``
    (executed notebooks that finished) and ``execution`` (what was written,
    the partial notebook included, so that pages can still be made of it).
    """

    def __init__(
        self,
        notebook: Path,
        *,
        cell_index: int | None,
        exec_count: int | None,
        first_line: str | None,
        ename: str,
        evalue: str,
        executed_path: Path | None,
        completed: tuple[Path, ...] = (),
        execution: Execution,
    ) -> None:
        self.notebook = Path(notebook)
        self.cell_index = cell_index
        self.exec_count = exec_count
        self.first_line = first_line
        self.ename = ename
        self.evalue = evalue
        self.executed_path = executed_path
        self.completed = completed
        self.execution = execution
        super().__init__(self._message())

    def _message(self) -> str:
        if self.cell_index is None:
            where = "before or outside a cell"
        else:
            where = f"in cell {self.cell_index} (0-based; the {_ordinal(self.cell_index + 1)} cell"
            if self.exec_count is not None:
                where += f", In [{self.exec_count}]"
            where += ")"
            if self.first_line is not None:
                where += f" starting {self.first_line!r}"
        error = f"{self.ename}: {self.evalue}" if self.evalue else self.ename
        msg = f"notebook {self.notebook.name} failed {where}: {error}."
        if self.executed_path is not None:
            msg += f"\nThe partial output with the full traceback is in {self.executed_path}"
        if self.completed:
            msg += f"\n{len(self.completed)} other notebook(s) ran and were kept."
        return msg


# --------------------------------------------------------------------------- running


def find_notebooks(notebooks_dir: str | Path | None = None) -> list[Path]:
    """The notebooks :func:`run_notebooks` would run, in name order (``NN_*.ipynb``)."""
    folder = (Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS_DIR).resolve()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"notebooks folder not found: {folder}. Run from a checkout of the nethep "
            "repository, or pass the folder that holds the NN_*.ipynb notebooks."
        )
    return sorted(folder.glob(NOTEBOOK_GLOB), key=lambda p: p.name)


def executed_path(output_dir: str | Path, notebook: Path) -> Path:
    """Where the run writes the executed copy of ``notebook``."""
    return Path(output_dir).resolve() / EXECUTED_DIRNAME / notebook.name


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_jobs() -> int:
    """Notebooks run at a time by default: one more than :func:`available_cores`. A kernel
    that is starting or shutting down leaves its core mostly idle (measured: with one
    kernel per core, a run kept the cores about half busy), so one more keeps them
    working; the outputs do not depend on it (the notebooks are independent)."""
    return available_cores() + 1


def run_notebooks(
    output_dir: str | Path,
    data_path: str | Path | None = None,
    notebooks_dir: str | Path | None = None,
    min_cell: int = 0,
    jobs: int | None = None,
    on_event: EventCallback | None = None,
    label: str | None = None,
) -> Execution:
    """Execute every ``NN_*.ipynb`` notebook, ``jobs`` at a time, and merge the results.

    ``output_dir`` and ``data_path`` are resolved against the current working
    directory; ``data_path=None`` means the bundled cohort; ``jobs=None`` means
    :func:`default_jobs` (1 runs the notebooks one after the other, in name
    order). Raises ``FileNotFoundError`` if the data file or notebooks are missing,
    ``ValueError`` if the output folder would write into the notebooks or data
    folder or ``min_cell`` is not a whole number >= 0, and :class:`NotebookFailed`
    if a notebook raises: notebooks not yet started are then skipped, those running
    finish, and the first failure in name order is raised. ``label`` names a user's
    cohort in the outputs (default: "your cohort").
    """
    out = Path(output_dir).resolve()
    data: Path | None = None
    if data_path is not None:
        data = Path(data_path).resolve()
        if not data.is_file():
            raise FileNotFoundError(f"data file not found: {data}")
    nb_dir = (Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS_DIR).resolve()
    notebooks = find_notebooks(nb_dir)
    if not notebooks:
        raise FileNotFoundError(f"no notebooks matching {NOTEBOOK_GLOB} in {nb_dir}")
    _check_output_dir(out, nb_dir, data)
    parameters = {"data_path": None if data is None else f"${DATA_ENV}",
                  "output_dir": f"${OUTPUT_ENV}", "min_cell": check_min_cell(min_cell)}
    environment = {DATA_ENV: "" if data is None else str(data), OUTPUT_ENV: str(out),
                   LABEL_ENV: label or ""}
    workers = max(1, min(jobs or default_jobs(), len(notebooks)))

    _remove_generated(out)
    for folder in (EXECUTED_DIRNAME, FIGURES_DIRNAME, results.RESULTS_DIRNAME):
        (out / folder).mkdir(parents=True, exist_ok=True)
    runner = _Runner(nb_dir, out / EXECUTED_DIRNAME, parameters, on_event)
    # the longest first, so that it does not start last
    order = notebooks if workers == 1 else sorted(notebooks, key=_expected_seconds,
                                                  reverse=True)
    with (_kernel_imports_this_nethep(), _kernel_environment(environment),
          ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nethep-run") as pool):
        try:
            failures = dict(zip(order, pool.map(runner.execute, order), strict=True))
        except BaseException:  # e.g. Ctrl-C: start no more notebooks
            runner.failed.set()
            raise

    executed = tuple(runner.target(p) for p in notebooks if runner.target(p).is_file())
    execution = Execution(output_dir=out, data_path=data, notebooks=tuple(notebooks),
                          executed=executed, results_path=out / results.RESULTS_FILENAME)
    failed = [(p, failures[p]) for p in notebooks if failures[p] is not None]
    if failed:
        nb_path, exc = failed[0]
        completed = tuple(runner.target(p) for p in notebooks if failures[p] is None
                          and runner.target(p).is_file())
        raise _failure(nb_path, runner.target(nb_path), exc, completed, execution) from exc
    results.write_results(out)
    return execution


class _Runner:
    """Executes one notebook per call; after a failure, starts no more."""

    def __init__(self, nb_dir: Path, executed_dir: Path, parameters: dict[str, Any],
                 on_event: EventCallback | None) -> None:
        self.nb_dir = nb_dir
        self.executed_dir = executed_dir
        self.parameters = parameters
        self.on_event = on_event
        self.failed = threading.Event()

    def target(self, nb_path: Path) -> Path:
        """Where the executed copy of ``nb_path`` is written."""
        return self.executed_dir / nb_path.name

    def _event(self, nb_path: Path, status: str) -> None:
        if self.on_event is not None:
            self.on_event(nb_path, status)

    def execute(self, nb_path: Path) -> BaseException | None:
        """Run ``nb_path``; return the exception it raised, or None (also when skipped)."""
        if self.failed.is_set():
            return None
        self._event(nb_path, "started")
        try:
            papermill.execute_notebook(
                str(nb_path), str(self.target(nb_path)), parameters=self.parameters,
                kernel_name=KERNEL_NAME, progress_bar=False, log_output=False,
                # written once, at the end or on an error (not after every cell)
                request_save_on_cell_execute=False,
                extra_arguments=list(KERNEL_ARGUMENTS),
                # the kernel's working folder; papermill's own cwd= would chdir the whole
                # process, which concurrent notebooks must not do
                resources={"metadata": {"path": str(self.nb_dir)}},
            )
        except Exception as exc:  # a cell raised, or the kernel died / failed to start
            self.failed.set()
            if self.target(nb_path).is_file():  # the partial notebook: no path in it either
                with contextlib.suppress(Exception):
                    _merge_adjacent_streams(self.target(nb_path))
            self._event(nb_path, "failed")
            return exc
        _merge_adjacent_streams(self.target(nb_path))
        self._event(nb_path, "done")
        return None


def _merge_adjacent_streams(path: Path) -> None:
    """Join consecutive stream outputs of the same name (stdout, stderr) in each cell, as
    Jupyter shows them: the kernel sends printed text in batches whose boundaries
    depend on timing, so only the joined text is the same on every run. Papermill's
    record of the input and output paths becomes the notebook's name (no path of the
    machine or the user in the output)."""
    nb = nbformat.read(str(path), as_version=4)
    record = nb.metadata.get("papermill", {})
    changed = False
    for key in ("input_path", "output_path"):
        if record.get(key):
            record[key] = f"{EXECUTED_DIRNAME}/{path.name}"
            changed = True
    for cell in nb.cells:
        merged: list[Any] = []
        for output in cell.get("outputs", []):
            previous = merged[-1] if merged else None
            if (output.get("output_type") == "stream" and previous is not None
                    and previous.get("output_type") == "stream"
                    and previous.get("name") == output.get("name")):
                previous["text"] += output["text"]
                changed = True
            else:
                merged.append(output)
        if "outputs" in cell:
            cell["outputs"] = merged
    if changed:
        nbformat.write(nb, str(path))


@contextlib.contextmanager
def _kernel_imports_this_nethep() -> Iterator[None]:
    """Put the folder holding this ``nethep`` first on PYTHONPATH for child kernels."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(REPO_DIR) if not old else str(REPO_DIR) + os.pathsep + old
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


@contextlib.contextmanager
def _kernel_environment(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in the environment the kernels inherit, restoring it afterwards."""
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _expected_seconds(notebook: Path) -> tuple[float, int]:
    """How long ``notebook`` ran when it was last executed: the sum over its code cells
    of the kernel's busy time that nbclient records in each cell's metadata
    (``execution``, ``iopub.status.busy`` to ``iopub.status.idle``); then its size."""
    seconds = 0.0
    for cell in json.loads(notebook.read_text(encoding="utf-8")).get("cells", []):
        timing = cell.get("metadata", {}).get("execution", {})
        busy, idle = timing.get("iopub.status.busy"), timing.get("iopub.status.idle")
        if busy and idle:
            seconds += (datetime.fromisoformat(idle) - datetime.fromisoformat(busy)).total_seconds()
    return seconds, notebook.stat().st_size


def _check_output_dir(out: Path, nb_dir: Path, data: Path | None) -> None:
    if out == nb_dir or out.is_relative_to(nb_dir):
        raise ValueError(
            f"output folder {out} is inside the notebooks folder {nb_dir}; "
            "choose another --output (the default is ./build)"
        )
    bundled = DATA_DIR.resolve()
    if out == bundled or out.is_relative_to(bundled):
        raise ValueError(
            f"output folder {out} is inside the bundled data folder {bundled}; "
            "nothing may be written there. Choose another --output."
        )
    if data is not None and out == data.parent:
        raise ValueError(
            f"output folder {out} is the folder of the data file {data}; "
            "choose another --output so nothing is written next to the data."
        )


def _remove_generated(out: Path) -> None:
    """Delete what a previous run wrote here: results, executed notebooks and figures
    (never other files)."""
    candidates: list[Path] = [out / results.RESULTS_FILENAME]
    candidates += (out / results.RESULTS_DIRNAME).glob("*.json")
    candidates += (out / EXECUTED_DIRNAME).glob(NOTEBOOK_GLOB)
    candidates += [p for p in (out / FIGURES_DIRNAME).glob("*")
                   if p.suffix.lower() in FIGURE_SUFFIXES]
    for path in candidates:
        if path.is_file():
            path.unlink()


def _failure(nb_path: Path, target: Path, exc: BaseException, completed: tuple[Path, ...],
             execution: Execution) -> NotebookFailed:
    executed_nb = None
    if target.is_file():
        try:
            executed_nb = nbformat.read(str(target), as_version=4)
        except Exception:  # a half-written file must not hide the real error
            executed_nb = None
    cell_index, cell = _locate_failed_cell(executed_nb) if executed_nb is not None else (None, None)
    source = cell.get("source") if cell is not None else getattr(exc, "source", None)
    exec_count = getattr(exc, "exec_count", None)
    if exec_count is None and cell is not None:
        exec_count = cell.get("execution_count")
    evalue = getattr(exc, "evalue", None)
    if evalue is None:
        evalue = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return NotebookFailed(
        nb_path,
        cell_index=cell_index,
        exec_count=exec_count,
        first_line=_first_line(source) if source is not None else None,
        ename=getattr(exc, "ename", None) or type(exc).__name__,
        evalue=evalue,
        executed_path=target if target.is_file() else None,
        completed=completed,
        execution=execution,
    )


def _locate_failed_cell(nb: Any) -> tuple[int | None, Any]:
    """Index of the failing cell in the *source* notebook, and the executed cell.

    Cells papermill added (injected parameters, error markers) are skipped when
    counting, so the index matches the notebook the author edits.
    """
    position = 0
    running = (None, None)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if INJECTED_TAG in tags or ERROR_MARKER_TAG in tags:
            continue
        pm_meta = cell.get("metadata", {}).get("papermill", {})
        has_error = any(
            o.get("output_type") == "error"
            and not (o.get("ename") == "SystemExit" and o.get("evalue") in ("", "0"))
            for o in cell.get("outputs", [])
        )
        if has_error or pm_meta.get("exception") is True:
            return position, cell
        if pm_meta.get("status") == "running" and running[0] is None:
            running = (position, cell)
        position += 1
    return running


def _first_line(source: str | Sequence[str]) -> str:
    text = source if isinstance(source, str) else "".join(source)
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
