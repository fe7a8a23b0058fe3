"""Write ``supplement.pdf`` and ``tables.docx`` into a run's output folder.

Called by :func:`nethep.pages.write_pages` after ``results.json`` and ``methods.md``
are written; reads only those and the figures (nothing is recomputed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nethep.results import RESULTS_FILENAME
from nethep.supplement.document import Document, build_document
from nethep.supplement.docx import write_docx
from nethep.supplement.typeset import render_pdf

PDF_FILENAME = "supplement.pdf"
DOCX_FILENAME = "tables.docx"
METHODS_FILENAME = "methods.md"


@dataclass(frozen=True)
class SupplementFiles:
    """What :func:`write_supplement` wrote (absolute paths) and the document behind it."""

    pdf_path: Path
    docx_path: Path
    document: Document


def write_supplement(output_dir: str | Path, results: Mapping[str, object] | None = None, *,
                     paper: str = "a4", label: str | None = None,
                     environ: Mapping[str, str] | None = None,
                     commit: str | None = None) -> SupplementFiles:
    """Typeset ``<output_dir>/supplement.pdf`` and write ``<output_dir>/tables.docx``.

    ``results``: the merged results.json (read from the folder when None); ``paper``:
    "a4" (default) or "letter"; ``label``: how a user's data are named (the bundled
    data are described as a reconstruction); ``environ``: where ``SOURCE_DATE_EPOCH``
    is read (default: the process environment); ``commit``: None reads git.
    """
    out = Path(output_dir).resolve()
    if results is None:
        results = json.loads((out / RESULTS_FILENAME).read_text(encoding="utf-8"))
    methods = out / METHODS_FILENAME
    document = build_document(
        out, results, paper=paper, label=label, environ=environ, commit=commit,
        methods_markdown=methods.read_text(encoding="utf-8") if methods.is_file() else "")
    pdf = out / PDF_FILENAME
    pdf.write_bytes(render_pdf(document, out))
    docx = write_docx(document, out / DOCX_FILENAME)
    return SupplementFiles(pdf_path=pdf, docx_path=docx, document=document)
