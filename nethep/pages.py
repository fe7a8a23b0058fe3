"""The browsable report of a run, built from its executed notebooks and ``results.json``.

:func:`write_pages` writes, next to what :func:`nethep.run.run_notebooks` produced::

    <out>/NN_name.html   one page per executed notebook (nbconvert, default template)
    <out>/methods.md     statistical-methods paragraph (nethep.report.methods_text)
    <out>/strobe.md      STROBE cohort checklist (nethep.report.strobe_markdown)
    <out>/index.html     links to every page and figure, a summary, paper-vs-ours table
    <out>/supplement.pdf the typeset journal supplement (nethep.supplement, typst)
    <out>/tables.docx    its eTables as editable Word tables

A :class:`PageWriter` makes the notebook pages during the run, each as soon as its
notebook is executed. Every number on these pages is read from ``results.json`` under
the keys declared in :mod:`nethep.results`; nothing is recomputed. Pages contain no
timestamps and only relative links: identical inputs give identical bytes.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter

from nethep import __version__
from nethep import results as keys
from nethep.cohort import DEFAULT_LABEL
from nethep.report import STROBE, methods_text, strobe_markdown
from nethep.run import ERROR_MARKER_TAG, EXECUTED_DIRNAME, FIGURES_DIRNAME, Execution
from nethep.supplement import DOCX_FILENAME, PDF_FILENAME, write_supplement

INDEX_FILENAME = "index.html"
METHODS_FILENAME = "methods.md"
STROBE_FILENAME = "strobe.md"
PAGE_GLOB = "[0-9][0-9]_*.html"


@dataclass(frozen=True)
class Pages:
    """What :func:`write_pages` wrote. All paths are absolute."""

    html_pages: tuple[Path, ...]  # <out>/NN_name.html, in run order
    index_path: Path
    methods_path: Path
    strobe_path: Path
    supplement_path: Path | None = None  # supplement.pdf
    tables_path: Path | None = None  # tables.docx


class PageWriter:
    """Writes notebook pages in one background thread, each as soon as it is asked for.

    During a run, :meth:`submit` is called for every notebook that finishes, so its page
    is made while other notebooks still execute; :meth:`notebook_pages` then writes
    the rest and waits. One nbconvert exporter serves every page. Use it as a context
    manager (the thread ends on exit).
    """

    def __init__(self) -> None:
        self._exporter = HTMLExporter()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nethep-pages")
        self._pages: dict[Path, Future[Path]] = {}  # executed notebook -> its page

    def __enter__(self) -> PageWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)

    def submit(self, executed_path: Path, source_path: Path) -> None:
        """Queue the page of an executed notebook (ignored when it was not written)."""
        if executed_path.is_file():
            self._pages[executed_path] = self._pool.submit(
                self._export, executed_path, source_path)

    def notebook_pages(self, execution: Execution) -> tuple[Path, ...]:
        """The page of every executed notebook of ``execution`` (a failed notebook's
        partial output too), in name order, once written; pages of notebooks that did
        not run this time are removed."""
        sources = {p.name: p for p in execution.notebooks}
        for path in execution.executed:
            if path not in self._pages:
                self.submit(path, sources[path.name])
        written = tuple(self._pages[path].result() for path in execution.executed)
        for stale in set(execution.output_dir.glob(PAGE_GLOB)) - set(written):
            stale.unlink()
        return written

    def _export(self, executed_path: Path, source_path: Path) -> Path:
        """Write ``<out>/<stem>.html`` from an executed notebook (default nbconvert
        template), next to the ``notebooks`` folder that holds it.

        Papermill gives the cells it adds (injected parameters, error markers) a random
        id, and an old-format notebook gets random ids for every cell; nbconvert writes
        ids into the page. Cells whose id is not in the source notebook therefore get a
        positional id, so identical inputs give identical bytes.
        """
        nb = nbformat.read(str(executed_path), as_version=4)
        source_ids = {
            cell.get("id") for cell in nbformat.read(str(source_path), as_version=4).cells
        }
        source_ids.discard(None)
        for i, cell in enumerate(nb.cells):
            if "id" in cell and cell["id"] not in source_ids:
                cell["id"] = f"nethep-cell-{i}"
        body, _ = self._exporter.from_notebook_node(
            nb, resources={"metadata": {"name": executed_path.stem}}
        )
        page = executed_path.parent.parent / f"{executed_path.stem}.html"
        page.write_bytes(body.encode("utf-8"))
        return page


def write_pages(execution: Execution, writer: PageWriter | None = None, *,
                paper: str = "a4", label: str | None = None) -> Pages:
    """Write the notebook pages, ``methods.md``, ``strobe.md``, ``supplement.pdf``,
    ``tables.docx`` and ``index.html`` of a completed run (``results.json`` merged),
    replacing those of an earlier run. ``writer``: the :class:`PageWriter` that already
    has some pages under way; ``paper`` ("a4" or "letter") and ``label`` (how a user's
    data are named in the supplement, never a path): see
    :func:`nethep.supplement.write_supplement`."""
    out = execution.output_dir
    if writer is None:
        with PageWriter() as own:
            html_pages = own.notebook_pages(execution)
    else:
        html_pages = writer.notebook_pages(execution)
    results = json.loads(execution.results_path.read_text(encoding="utf-8"))
    methods = out / METHODS_FILENAME
    methods.write_text(methods_text(results), encoding="utf-8")
    strobe = out / STROBE_FILENAME
    strobe.write_text(strobe_markdown(), encoding="utf-8")
    supplement = write_supplement(out, results, paper=paper, label=label)
    index = write_index(out, execution.executed, results, data_path=execution.data_path)
    return Pages(html_pages=html_pages, index_path=index, methods_path=methods,
                 strobe_path=strobe, supplement_path=supplement.pdf_path,
                 tables_path=supplement.docx_path)


def write_partial_pages(execution: Execution, writer: PageWriter) -> tuple[Path, ...]:
    """After a failed run: the pages of the notebooks that ran (the failed one's partial
    output too), and no ``index.html``, ``methods.md``, ``strobe.md``, ``supplement.pdf`` or
    ``tables.docx`` (they describe a complete run; an earlier run's are removed)."""
    html_pages = writer.notebook_pages(execution)
    for name in (INDEX_FILENAME, METHODS_FILENAME, STROBE_FILENAME, PDF_FILENAME,
                 DOCX_FILENAME):
        (execution.output_dir / name).unlink(missing_ok=True)
    return html_pages


# --------------------------------------------------------------------------- index page


def _notebook_title(path: Path) -> str:
    """First markdown heading of a notebook, else its file stem."""
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") != "markdown" or ERROR_MARKER_TAG in tags:
            continue
        for line in "".join(cell.get("source", "")).splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip() or path.stem
    return path.stem


def _page_title(path: Path) -> str:
    title = _notebook_title(path)
    return path.stem if title == path.stem else f"{path.stem}: {title}"


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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


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

_RECONSTRUCTED_BANNER = (
    '<div class="banner" role="alert"><strong>Reconstructed cohort.</strong> '
    "The patient-level data analysed here is a reconstruction from published "
    "aggregate figures, not the original patient records: the most typical of 1,000 "
    "cohorts that reproduce the abstract equally well (notebook 07 gives the range of "
    "every number the abstract does not fix). Agreement with the paper is a consistency "
    "check, not an independent replication.</div>"
)


def _summary(n_pages: int, results: Mapping[str, Any], rows: list[Any] | None,
             data_label: str, version: str) -> str:
    n_values = len(keys.flatten(results)) if results else 0
    text = (
        f"This report was produced by <code>nethep run</code> (nethep {html.escape(version)}), "
        f"which executed {_plural(n_pages, 'notebook')} top to bottom "
        f"on {html.escape(data_label)}. Each page below shows a notebook's code, output and "
        f"figures; the {_plural(n_values, 'key number')} they recorded are in "
        f'<a href="{keys.RESULTS_FILENAME}">{keys.RESULTS_FILENAME}</a>'
        f" ({_plural(len(results), 'section')})"
    )
    if rows is not None:
        n_match = sum(1 for r in rows if isinstance(r, Mapping) and r.get("matches") is True)
        text += (f", and {n_match} of {len(rows)} published quantities are reproduced "
                 "(table below)")
    return text + ". Rerun the same command on the same inputs to get the same bytes."


def _table(head: Iterable[str], body: Iterable[str]) -> list[str]:
    cells = "".join(f"<th>{h}</th>" for h in head)
    return ["<table>", f"<thead><tr>{cells}</tr></thead>", "<tbody>", *body, "</tbody>",
            "</table>"]


def _comparison_rows(rows: list[Any]) -> list[str]:
    out = []
    for row in rows:
        r = row if isinstance(row, Mapping) else {"quantity": row}
        cls = ' class="mismatch"' if r.get("matches") is False else ""
        out.append(
            f"<tr{cls}><td>{_fmt(r.get('quantity'))}</td>"
            f'<td class="num">{_fmt(r.get("published"))}</td>'
            f'<td class="num">{_fmt(r.get("ours"))}</td>'
            f"<td>{_fmt(r.get('matches'))}</td></tr>"
        )
    return out


def render_index(
    pages: Sequence[tuple[str, str, str]],
    results: Mapping[str, Any],
    *,
    data_label: str = "the bundled cohort",
    version: str = __version__,
    figures: Sequence[str] = (),
) -> str:
    """The HTML of ``index.html``.

    ``pages`` holds ``(html_href, ipynb_href, title)`` per notebook, in run order;
    ``results`` is the merged ``results.json`` (the banner reads
    ``data.reconstructed``, the table ``comparison.paper_vs_ours``). Pure: same
    arguments, same text.
    """
    e = html.escape
    rows = keys.lookup(results, keys.PAPER_VS_OURS)
    rows = rows if isinstance(rows, list) else None
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        "<title>nethep: analysis report</title>", f"<style>\n{_CSS}\n</style>", "</head>",
        "<body>", "<h1>nethep: analysis report</h1>",
    ]
    if keys.lookup(results, keys.RECONSTRUCTED) is True:
        parts.append(_RECONSTRUCTED_BANNER)
    parts.append(f"<p>{_summary(len(pages), results, rows, data_label, version)}</p>")
    parts += ["<h2>Notebooks</h2>", "<ol>"]
    parts += [f'<li><a href="{e(href)}">{e(title)}</a> '
              f'(<a href="{e(ipynb_href)}">executed notebook</a>)</li>'
              for href, ipynb_href, title in pages]
    parts.append("</ol>")
    if rows is not None:
        parts.append("<h2>Published values and ours</h2>")
        parts += _table(("Quantity", "Published", "Ours", "Matches"), _comparison_rows(rows))
    parts.append("<h2>Journal supplement</h2>")
    parts.append(
        f'<p><a href="{PDF_FILENAME}">{PDF_FILENAME}</a>: the typeset supplement '
        "(title page, eMethods, numbered eTables and eFigures, eReferences). "
        f'<a href="{DOCX_FILENAME}">{DOCX_FILENAME}</a>: the same eTables as editable '
        "Word tables.</p>")
    parts.append("<h2>Methods and reporting</h2>")
    parts.append(
        f'<p><a href="{METHODS_FILENAME}">{METHODS_FILENAME}</a>: a statistical-methods '
        "paragraph for a manuscript, generated from results.json and the code's stated "
        f'defaults. <a href="{STROBE_FILENAME}">{STROBE_FILENAME}</a>: the STROBE '
        "checklist for cohort studies, below.</p>"
    )
    parts += _table(("STROBE item", "Topic", "Where"),
                    (f"<tr><td>{e(item)}</td><td>{e(topic)}</td><td>{e(where)}</td></tr>"
                     for item, topic, where in STROBE))
    if figures:
        parts += ["<h2>Figures</h2>", "<ul>"]
        parts += [f'<li><a href="{e(fig)}">{e(fig.rsplit("/", 1)[-1])}</a></li>'
                  for fig in figures]
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


def write_index(output_dir: str | Path, executed: Sequence[Path], results: Mapping[str, Any],
                data_path: Path | None = None) -> Path:
    """Write ``<output_dir>/index.html`` for the executed notebooks; return its path.

    The data are named "the bundled cohort", or a user's cohort by its label (the
    results' ``data.source``, from ``--label``; never a file name or path) and the first
    12 hex digits of the SHA-256 of the file the notebooks read.
    """
    out = Path(output_dir)
    pages = [(f"{p.stem}.html", f"{EXECUTED_DIRNAME}/{p.name}", _page_title(p))
             for p in executed]
    if data_path is None:
        data_label = "the bundled cohort"
    else:
        digest = hashlib.sha256(data_path.read_bytes()).hexdigest()[:12]
        label = results.get("data", {}).get("source") or DEFAULT_LABEL
        data_label = f"{label} (a user's file, sha256 {digest}…)"
    text = render_index(pages, results, data_label=data_label, figures=_list_figures(out))
    path = out / INDEX_FILENAME
    path.write_bytes(text.encode("utf-8"))
    return path
