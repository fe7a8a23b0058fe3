"""The journal supplement of a run: ``supplement.pdf`` (typst) and ``tables.docx``.

:func:`write_supplement` is called after a run's pages are written; see
:mod:`nethep.supplement.build`.
"""

from nethep.supplement.build import (
    DOCX_FILENAME,
    PDF_FILENAME,
    SupplementFiles,
    write_supplement,
)

__all__ = ["DOCX_FILENAME", "PDF_FILENAME", "SupplementFiles", "write_supplement"]
