"""Typeset the supplement PDF with typst (the ``typst`` Python package: the compiler
ships inside the wheel; no LaTeX, no browser).

Fonts are fixed and embedded: system fonts are ignored; the text uses typst's bundled
Libertinus Serif and DejaVu Sans Mono, and the figures' SVG text is drawn with
matplotlib's bundled DejaVu fonts (the font matplotlib drew it in). The PDF's creation
date is the document's date at 00:00 UTC, so the same inputs give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import matplotlib
import typst

from nethep.supplement.document import Document

TEMPLATE = Path(__file__).resolve().parent / "supplement.typ"
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def pdf_timestamp(document: Document) -> int:
    """UNIX seconds of the document's date at midnight UTC (the PDF creation date)."""
    day = dt.date.fromisoformat(document.date)
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def render_pdf(document: Document, output_dir: str | Path) -> bytes:
    """The supplement PDF's bytes; figure paths are read relative to ``output_dir``."""
    compiler = typst.Compiler(
        root=str(Path(output_dir).resolve()), font_paths=[str(FONT_DIR)],
        ignore_system_fonts=True,
        sys_inputs={"data": json.dumps(document.to_data(), sort_keys=True)},
    )
    pdf = compiler.compile(input=TEMPLATE.read_bytes(), format="pdf",
                           timestamp=pdf_timestamp(document))
    if not isinstance(pdf, bytes):  # one file for PDF output; a list is for pages
        raise TypeError(f"typst returned {type(pdf).__name__}, expected the PDF's bytes")
    return pdf
