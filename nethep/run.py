"""Run every notebook headless and assemble a browsable report.

:func:`run_all` executes ``notebooks/NN_*.ipynb`` in name order with papermill,
then writes into the output folder::

    <out>/notebooks/NN_name.ipynb   executed notebooks (with outputs)
    <out>/NN_name.html              one HTML page per notebook (nbconvert, default template)
    <out>/figures/                  figures, written by the notebooks themselves
    <out>/results/<section>.json    result fragments, written by the notebooks
    <out>/results.json              all fragments merged (nethep.results.write_results)
    <out>/index.html                links to every page, a summary, paper-vs-ours table

Each notebook receives three papermill parameters: ``data_path`` (absolute path
string, or ``None`` for the bundled cohort), ``output_dir`` (absolute) and
``min_cell`` (small-cell suppression threshold, 0 for none). The
kernel runs with the notebooks folder as working directory, and the folder that
holds this ``nethep`` package is put first on the kernel's ``PYTHONPATH`` so the
notebooks import the same code as the runner.

The runner only writes inside the output folder; it refuses an output folder
inside the notebooks folder, the bundled ``data/`` folder, or equal to the
folder of a user's data file. Before running, it removes the files it generates
itself (fragments, executed notebooks, pages, ``results.json``, ``index.html``)
so that nothing stale from an earlier run is merged or linked; figures are left
alone. HTML pages and ``index.html`` contain no timestamps: identical inputs
give identical bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from nethep import results as _results
from nethep.report import STROBE, methods_text, strobe_markdown

__all__ = ["KERNEL_NAME", "NOTEBOOK_GLOB", "NotebookFailed", "RunReport", "run_all",
           "find_notebooks", "render_index", "write_index"]

KERNEL_NAME = "python3"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
EXECUTED_DIRNAME = "notebooks"
FIGURES_DIRNAME = "figures"
INDEX_FILENAME = "index.html"
METHODS_FILENAME = "methods.md"
STROBE_FILENAME = "strobe.md"

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_DIR = _PACKAGE_DIR.parent
DEFAULT_NOTEBOOKS_DIR = _REPO_DIR / "notebooks"
BUNDLED_DATA_DIR = _REPO_DIR / "data"

_INJECTED_TAG = "injected-parameters"
_ERROR_MARKER_TAG = "papermill-error-cell-tag"


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class RunReport:
    """What :func:`run_all` produced. All paths are absolute."""

    output_dir: Path
    data_path: Path | None
    notebooks: tuple[Path, ...]  # source notebooks, in run order
    executed: tuple[Path, ...]  # <out>/notebooks/NN_name.ipynb
    html_pages: tuple[Path, ...]  # <out>/NN_name.html
    results_path: Path
    index_path: Path
    results: Mapping[str, Any] = field(repr=False, default_factory=dict)


class NotebookFailed(RuntimeError):
    """A notebook raised an error; the run stopped there.

    Attributes: ``notebook`` (source path), ``cell_index`` (0-based position of
    the failing cell in the source notebook, or ``None`` if unknown),
    ``exec_count`` (the ``In [n]`` number), ``first_line`` (first line of the
    cell's source), ``ename``/``evalue`` (the exception), ``executed_path``
    (the partial executed notebook, with the traceback) and ``completed``
    (executed notebooks that finished before this one).
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
    ) -> None:
        self.notebook = Path(notebook)
        self.cell_index = cell_index
        self.exec_count = exec_count
        self.first_line = first_line
        self.ename = ename
        self.evalue = evalue
        self.executed_path = executed_path
        self.completed = completed
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
            msg += f"\n{len(self.completed)} earlier notebook(s) ran and were kept."
        return msg


# --------------------------------------------------------------------------- running


def find_notebooks(notebooks_dir: str | Path | None = None) -> list[Path]:
    """The notebooks :func:`run_all` would run, in order (``NN_*.ipynb``)."""
    folder = Path(notebooks_dir) if notebooks_dir is not None else DEFAULT_NOTEBOOKS_DIR
    folder = folder.resolve()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"notebooks folder not found: {folder}. Run from a checkout of the nethep "
            "repository, or pass the folder that holds the NN_*.ipynb notebooks."
        )
    return sorted(folder.glob(NOTEBOOK_GLOB), key=lambda p: p.name)


def run_all(
    output_dir: str | Path = "build",
    data_path: str | Path | None = None,
    notebooks_dir: str | Path | None = None,
    progress: bool = True,
    min_cell: int = 0,
) -> RunReport:
    """Execute every ``NN_*.ipynb`` notebook in order and build the report.

    ``output_dir`` and ``data_path`` are resolved against the current working
    directory. ``data_path=None`` means the bundled cohort. Raises
    ``FileNotFoundError`` if the data file or notebooks are missing,
    ``ValueError`` if the output folder would write into the notebooks or data
    folder, and :class:`NotebookFailed` if a notebook raises (after writing the
    executed notebooks so far and the failing notebook's partial output).
    """
    import papermill as pm  # imported here: slow, and only needed for a run

    out = Path(output_dir).resolve()
    data: Path | None = None
    if data_path is not None:
        data = Path(data_path).resolve()
        if not data.is_file():
            raise FileNotFoundError(f"data file not found: {data}")
    nb_dir = (Path(notebooks_dir) if notebooks_dir is not None else DEFAULT_NOTEBOOKS_DIR)
    nb_dir = nb_dir.resolve()
    notebooks = find_notebooks(nb_dir)
    if not notebooks:
        raise FileNotFoundError(f"no notebooks matching {NOTEBOOK_GLOB} in {nb_dir}")
    _check_output_dir(out, nb_dir, data)

    executed_dir = out / EXECUTED_DIRNAME
    _remove_generated(out)
    executed_dir.mkdir(parents=True, exist_ok=True)
    (out / FIGURES_DIRNAME).mkdir(parents=True, exist_ok=True)
    (out / _results.RESULTS_DIRNAME).mkdir(parents=True, exist_ok=True)

    if min_cell < 0:
        raise ValueError(f"min_cell must be 0 or a positive whole number, not {min_cell}")
    parameters = {"data_path": None if data is None else str(data), "output_dir": str(out),
                  "min_cell": int(min_cell)}
    executed: list[Path] = []
    pages: list[Path] = []
    bar = _Progress(len(notebooks), enabled=progress)
    try:
        with _kernel_imports_this_nethep():
            for nb_path in notebooks:
                bar.start(nb_path.name)
                target = executed_dir / nb_path.name
                try:
                    pm.execute_notebook(
                        str(nb_path),
                        str(target),
                        parameters=parameters,
                        kernel_name=KERNEL_NAME,
                        cwd=str(nb_dir),
                        progress_bar=False,
                        log_output=False,
                    )
                except Exception as exc:
                    # PapermillExecutionError (a cell raised), or the kernel died,
                    # failed to start, timed out, ...
                    bar.done(nb_path.name, ok=False)
                    raise _failure(nb_path, target, exc, tuple(executed)) from exc
                executed.append(target)
                pages.append(_export_html(target, out, nb_path))
                bar.done(nb_path.name, ok=True)
    finally:
        bar.close()

    results_path = _results.write_results(out)
    merged = json.loads(results_path.read_text(encoding="utf-8"))
    (out / METHODS_FILENAME).write_text(methods_text(merged), encoding="utf-8")
    (out / STROBE_FILENAME).write_text(strobe_markdown(), encoding="utf-8")
    index_path = write_index(out, executed, merged, data_path=data)
    return RunReport(
        output_dir=out,
        data_path=data,
        notebooks=tuple(notebooks),
        executed=tuple(executed),
        html_pages=tuple(pages),
        results_path=results_path,
        index_path=index_path,
        results=merged,
    )


def _check_output_dir(out: Path, nb_dir: Path, data: Path | None) -> None:
    if out == nb_dir or out.is_relative_to(nb_dir):
        raise ValueError(
            f"output folder {out} is inside the notebooks folder {nb_dir}; "
            "choose another --output (the default is ./build)"
        )
    bundled = BUNDLED_DATA_DIR.resolve()
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
    """Delete what a previous run of the runner wrote (never figures or other files)."""
    candidates: list[Path] = [out / _results.RESULTS_FILENAME, out / INDEX_FILENAME,
                              out / METHODS_FILENAME, out / STROBE_FILENAME]
    candidates += (out / _results.RESULTS_DIRNAME).glob("*.json")
    candidates += (out / EXECUTED_DIRNAME).glob(NOTEBOOK_GLOB)
    candidates += out.glob("[0-9][0-9]_*.html")
    for path in candidates:
        if path.is_file():
            path.unlink()


@contextlib.contextmanager
def _kernel_imports_this_nethep() -> Iterator[None]:
    """Put the folder holding this ``nethep`` first on PYTHONPATH for child kernels."""
    old = os.environ.get("PYTHONPATH")
    root = str(_REPO_DIR)
    os.environ["PYTHONPATH"] = root if not old else root + os.pathsep + old
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def _failure(
    nb_path: Path, target: Path, exc: BaseException, completed: tuple[Path, ...]
) -> NotebookFailed:
    executed_nb = None
    if target.is_file():
        try:
            executed_nb = nbformat.read(str(target), as_version=4)
        except Exception:  # a half-written file must not hide the real error
            executed_nb = None
    cell_index, cell = _locate_failed_cell(executed_nb) if executed_nb is not None else (None, None)
    source = cell.get("source") if cell is not None else getattr(exc, "source", None)
    first_line = _first_line(source) if source is not None else None
    exec_count = getattr(exc, "exec_count", None)
    if exec_count is None and cell is not None:
        exec_count = cell.get("execution_count")
    ename = getattr(exc, "ename", None) or type(exc).__name__
    evalue = getattr(exc, "evalue", None)
    if evalue is None:
        evalue = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if executed_nb is not None:
        # also keep an HTML page of the partial run: it shows the traceback in context
        with contextlib.suppress(Exception):
            _export_html(target, target.parent.parent, nb_path)
    return NotebookFailed(
        nb_path,
        cell_index=cell_index,
        exec_count=exec_count,
        first_line=first_line,
        ename=ename,
        evalue=evalue,
        executed_path=target if target.is_file() else None,
        completed=completed,
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
        if _INJECTED_TAG in tags or _ERROR_MARKER_TAG in tags:
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


def _first_line(source: str | list[str]) -> str:
    text = "".join(source) if isinstance(source, list) else source
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _export_html(executed_path: Path, out: Path, source_path: Path) -> Path:
    """Write ``<out>/<stem>.html`` from an executed notebook (default nbconvert template).

    Papermill gives the cells it adds (injected parameters, error markers) a random
    id, and an old-format notebook gets random ids for every cell; nbconvert writes
    ids into the page. Cells whose id is not in the source notebook therefore get a
    positional id, so identical inputs give identical bytes.
    """
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(executed_path), as_version=4)
    source_ids = {
        cell.get("id") for cell in nbformat.read(str(source_path), as_version=4).cells
    }
    source_ids.discard(None)
    for i, cell in enumerate(nb.cells):
        if "id" in cell and cell["id"] not in source_ids:
            cell["id"] = f"nethep-cell-{i}"
    body, _ = HTMLExporter().from_notebook_node(
        nb, resources={"metadata": {"name": executed_path.stem}}
    )
    page = out / f"{executed_path.stem}.html"
    page.write_bytes(body.encode("utf-8"))
    return page


class _Progress:
    """tqdm if installed, else one line per notebook on stderr."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.count = 0
        self.t0 = 0.0
        self.bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, unit="notebook", file=sys.stderr, leave=True)

    def start(self, name: str) -> None:
        self.t0 = time.monotonic()
        if self.bar is not None:
            self.bar.set_description(name)

    def done(self, name: str, ok: bool) -> None:
        if not self.enabled:
            return
        self.count += 1
        if self.bar is not None:
            if ok:
                self.bar.update(1)
            else:
                self.bar.set_description(f"{name} FAILED")
            return
        status = "ok" if ok else "FAILED"
        print(
            f"[{self.count}/{self.total}] {name} {status} ({time.monotonic() - self.t0:.1f} s)",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- index page


def _notebook_title(path: Path) -> str:
    """First markdown heading of a notebook, else its file stem."""
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") != "markdown" or _ERROR_MARKER_TAG in tags:
            continue
        for line in "".join(cell.get("source", "")).splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip() or path.stem
    return path.stem


def _page_title(path: Path) -> str:
    title = _notebook_title(path)
    return path.stem if title == path.stem else f"{path.stem}: {title}"


def _find_paper_vs_ours(results: Mapping[str, Any]) -> list[Any] | None:
    """``paper_vs_ours`` at the top level, else in the first section (sorted) that has it."""
    rows = results.get("paper_vs_ours")
    if isinstance(rows, list):
        return rows
    for key in sorted(results):
        section = results[key]
        if isinstance(section, Mapping) and isinstance(section.get("paper_vs_ours"), list):
            return section["paper_vs_ours"]
    return None


def _is_reconstructed(results: Mapping[str, Any]) -> bool:
    data = results.get("data")
    return isinstance(data, Mapping) and data.get("reconstructed") is True


def _fmt(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return html.escape(f"{value:.4g}")
    if isinstance(value, list | dict):
        return html.escape(json.dumps(value, sort_keys=True))
    return html.escape(str(value))


def _count_leaves(results: Mapping[str, Any]) -> int:
    return len(_results.flatten(results)) if results else 0


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _nethep_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nethep")
    except PackageNotFoundError:
        import nethep

        return getattr(nethep, "__version__", "unknown")


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; color: #222; }
.banner { border: 2px solid #b35900; background: #fff3e0; padding: 0.75rem 1rem;
          margin: 1rem 0; font-weight: 600; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.mismatch td { background: #fdecea; }
code { background: #f4f4f4; padding: 0 0.2rem; }
""".strip()


def render_index(
    pages: Sequence[tuple[str, str, str]],
    results: Mapping[str, Any],
    *,
    data_label: str = "the bundled cohort",
    version: str | None = None,
    figures: Sequence[str] = (),
) -> str:
    """The HTML of ``index.html``.

    ``pages`` holds ``(html_href, ipynb_href, title)`` per notebook, in run order;
    ``results`` is the merged ``results.json``. Pure: same arguments, same text.
    """
    version = _nethep_version() if version is None else version
    e = html.escape
    n_values = _count_leaves(results)
    rows = _find_paper_vs_ours(results)

    summary = (
        f"This report was produced by <code>nethep run</code> (nethep {e(version)}), which "
        f"executed {len(pages)} notebook{'s' if len(pages) != 1 else ''} top to bottom "
        f"on {e(data_label)}. Each page below shows a notebook's code, output and figures; "
        f"the {n_values} key number{'s' if n_values != 1 else ''} they recorded are in "
        f'<a href="{_results.RESULTS_FILENAME}">{_results.RESULTS_FILENAME}</a>'
        f" ({len(results)} section{'s' if len(results) != 1 else ''})"
    )
    if rows is not None:
        n_match = sum(1 for r in rows if isinstance(r, Mapping) and r.get("matches") is True)
        summary += (
            f", and {n_match} of {len(rows)} published quantities are reproduced "
            "(table below)"
        )
    summary += ". Rerun the same command on the same inputs to get the same bytes."

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<title>nethep: analysis report</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<h1>nethep: analysis report</h1>",
    ]
    if _is_reconstructed(results):
        parts.append(
            '<div class="banner" role="alert"><strong>Reconstructed cohort.</strong> '
            "The patient-level data analysed here is a reconstruction from published "
            "aggregate figures, not the original patient records. Agreement with the "
            "paper is a consistency check, not an independent replication.</div>"
        )
    parts.append(f"<p>{summary}</p>")
    parts.append("<h2>Notebooks</h2>")
    parts.append("<ol>")
    for href, ipynb_href, title in pages:
        parts.append(
            f'<li><a href="{e(href)}">{e(title)}</a> '
            f'(<a href="{e(ipynb_href)}">executed notebook</a>)</li>'
        )
    parts.append("</ol>")

    if rows is not None:
        parts.append("<h2>Published values and ours</h2>")
        parts.append("<table>")
        parts.append(
            "<thead><tr><th>Quantity</th><th>Published</th><th>Ours</th>"
            "<th>Matches</th></tr></thead>"
        )
        parts.append("<tbody>")
        for row in rows:
            r = row if isinstance(row, Mapping) else {"quantity": row}
            cls = ' class="mismatch"' if r.get("matches") is False else ""
            parts.append(
                f"<tr{cls}><td>{_fmt(r.get('quantity'))}</td>"
                f'<td class="num">{_fmt(r.get("published"))}</td>'
                f'<td class="num">{_fmt(r.get("ours"))}</td>'
                f"<td>{_fmt(r.get('matches'))}</td></tr>"
            )
        parts.append("</tbody>")
        parts.append("</table>")

    parts.append("<h2>Methods and reporting</h2>")
    parts.append(
        f'<p><a href="{METHODS_FILENAME}">{METHODS_FILENAME}</a>: a statistical-methods '
        "paragraph for a manuscript, generated from results.json and the code's stated "
        f'defaults. <a href="{STROBE_FILENAME}">{STROBE_FILENAME}</a>: the STROBE '
        "checklist for cohort studies, below.</p>"
    )
    parts.append("<table>")
    parts.append("<thead><tr><th>STROBE item</th><th>Topic</th><th>Where</th></tr></thead>")
    parts.append("<tbody>")
    for item, topic, where in STROBE:
        parts.append(f"<tr><td>{e(item)}</td><td>{e(topic)}</td><td>{e(where)}</td></tr>")
    parts.append("</tbody>")
    parts.append("</table>")

    if figures:
        parts.append("<h2>Figures</h2>")
        parts.append("<ul>")
        for fig in figures:
            parts.append(f'<li><a href="{e(fig)}">{e(fig.rsplit("/", 1)[-1])}</a></li>')
        parts.append("</ul>")

    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _list_figures(out: Path) -> list[str]:
    """Relative links to every file under ``<out>/figures`` (hidden files skipped), sorted."""
    fig_dir = out / FIGURES_DIRNAME
    if not fig_dir.is_dir():
        return []
    links = []
    for path in sorted(fig_dir.rglob("*")):
        rel = path.relative_to(fig_dir)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            links.append(f"{FIGURES_DIRNAME}/{rel.as_posix()}")
    return links


def write_index(
    output_dir: str | Path,
    executed: Sequence[Path],
    results: Mapping[str, Any],
    data_path: Path | None = None,
) -> Path:
    """Write ``<output_dir>/index.html`` for the executed notebooks; return its path."""
    out = Path(output_dir)
    pages = [
        (
            f"{p.stem}.html",
            f"{EXECUTED_DIRNAME}/{p.name}",
            _page_title(p),
        )
        for p in executed
    ]
    if data_path is None:
        data_label = "the bundled cohort"
    else:
        data_label = f"the data file {data_path.name} (sha256 {_file_digest(data_path)}…)"
    figures = _list_figures(out)
    text = render_index(pages, results, data_label=data_label, figures=figures)
    path = out / INDEX_FILENAME
    path.write_bytes(text.encode("utf-8"))
    return path
