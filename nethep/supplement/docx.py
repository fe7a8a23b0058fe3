"""``tables.docx``: every eTable as an editable Word table in journal style.

python-docx writes the tables: no vertical rules, three horizontal rules (above and
below the header, below the body), the title above as "eTable N. ...", and footnotes
(abbreviations, the test behind each P) below. The same :class:`ETable` objects as
the PDF, so the text is the same.

Word files are zip archives whose entries carry a time stamp, and python-docx writes
the core properties' created/modified dates: both are set to the document's date, and
the archive is rewritten with fixed entry metadata, so the same inputs give the same
bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from types import MappingProxyType

from docx import Document as new_docx
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table

from nethep.supplement.document import LANDSCAPE_COLUMNS, Document

FONT = "Times New Roman"
RULE_OUTER = "12"  # eighths of a point: 1.5 pt
RULE_INNER = "6"  # 0.75 pt
PAPER_MM = MappingProxyType({"a4": (210.0, 297.0), "letter": (215.9, 279.4)})


def _borders(cell_props: OxmlElement, top: str | None, bottom: str | None) -> None:
    borders = OxmlElement("w:tcBorders")
    for side, size in (("top", top), ("bottom", bottom), ("left", None), ("right", None)):
        el = OxmlElement(f"w:{side}")
        if size is None:
            el.set(qn("w:val"), "nil")
        else:
            el.set(qn("w:val"), "single")
            el.set(qn("w:sz"), size)
            el.set(qn("w:space"), "0")
            el.set(qn("w:color"), "000000")
        borders.append(el)
    cell_props.append(borders)


def _rules(table: Table) -> None:
    """Three horizontal rules: above and below the header, below the last row."""
    last = len(table.rows) - 1
    for i, row in enumerate(table.rows):
        top = RULE_OUTER if i == 0 else None
        bottom = RULE_INNER if i == 0 else (RULE_OUTER if i == last else None)
        for cell in row.cells:
            _borders(cell._tc.get_or_add_tcPr(), top, bottom)


def _text(cell: object, text: str, bold: bool = False, size: float = 9) -> None:
    paragraph = cell.paragraphs[0]  # type: ignore[attr-defined]
    paragraph.paragraph_format.space_after = Pt(0)
    run = paragraph.add_run(text)
    run.bold = bold
    run.font.size = Pt(size)


def _page(section: object, paper: str, landscape: bool) -> None:
    """Paper size, orientation and 20 mm margins of a section."""
    width, height = PAPER_MM[paper]
    if landscape:
        width, height = height, width
    section.orientation = (  # type: ignore[attr-defined]
        WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT)
    section.page_width, section.page_height = Mm(width), Mm(height)  # type: ignore[attr-defined]
    for margin in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, margin, Mm(20))


def docx_bytes(document: Document) -> bytes:
    """The Word file of every eTable (deterministic bytes, see the module docstring)."""
    doc = new_docx()
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(10)
    _page(doc.sections[0], document.paper, landscape=False)
    doc.add_heading("eTables", level=1)
    doc.add_paragraph(
        f"Supplementary tables of the analysis of {document.citation} doi:{document.doi}. "
        f"nethep {document.version}" + (f", commit {document.commit}" if document.commit
                                        else "") + f"; {document.date}. "
        + " ".join(document.data_statement[:1]))
    landscape = False
    for i, t in enumerate(document.tables, 1):
        wide = len(t.columns) > LANDSCAPE_COLUMNS
        if wide != landscape:  # a wide eTable gets landscape pages, as in the PDF
            _page(doc.add_section(WD_SECTION.NEW_PAGE), document.paper, landscape=wide)
            landscape = wide
        title = doc.add_paragraph()
        title.paragraph_format.keep_with_next = True
        title.add_run(f"eTable {i}. ").bold = True
        title.add_run(t.title)
        table = doc.add_table(rows=1 + len(t.rows), cols=len(t.columns))
        for j, head in enumerate(t.columns):
            _text(table.rows[0].cells[j], head, bold=True)
        for r, row in enumerate(t.texts(), 1):
            for j, text in enumerate(row):
                _text(table.rows[r].cells[j], text)
        _rules(table)
        for note in t.notes:
            para = doc.add_paragraph()
            para.add_run(note).font.size = Pt(8)
        doc.add_paragraph()
    props = doc.core_properties
    stamp = dt.datetime.fromisoformat(document.date).replace(tzinfo=dt.UTC)
    props.created = props.modified = stamp
    props.last_printed = stamp
    props.author = props.last_modified_by = "nethep"
    props.title = "eTables"
    props.revision = 1
    buffer = io.BytesIO()
    doc.save(buffer)
    return normalize_zip(buffer.getvalue(), stamp)


def normalize_zip(data: bytes, stamp: dt.datetime) -> bytes:
    """The same archive with every entry's time set to ``stamp`` and fixed attributes."""
    out = io.BytesIO()
    when = (max(stamp.year, 1980), stamp.month, stamp.day, 0, 0, 0)
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 0
            dst.writestr(info, src.read(item.filename))
    return out.getvalue()


def write_docx(document: Document, path: str | Path) -> Path:
    """Write ``tables.docx`` to ``path``; return it."""
    target = Path(path)
    target.write_bytes(docx_bytes(document))
    return target
