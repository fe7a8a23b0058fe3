"""Save a figure at both journal widths, and show it in a notebook from what was saved.

:func:`export_figure` draws a figure function at single-column (85 mm) and
double-column (180 mm) width and writes PNG (300 dpi), PDF and SVG at true size with
no timestamps, so a rerun gives the same bytes; the PDF fonts are embedded TrueType
subsets (Type 42), each made once for both widths. It closes the figures and returns a
:class:`SavedFigure`, which a notebook displays from the saved 180 mm PNG (reduced to
screen resolution), so a figure is not rendered again to be shown, with its
:class:`~nethep.plots.style.Caption` under it.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from fontTools.ttLib import TTFont
from IPython.display import Markdown, display
from matplotlib.backends import _backend_pdf_ps
from matplotlib.figure import Figure
from PIL import Image

from nethep.plots.style import Caption

JOURNAL_WIDTHS_MM = (85, 180)  # single and double column
EXPORT_DPI = 300
FORMATS = ("png", "pdf", "svg")
#: No timestamps or versions in the files: the same bytes on rerun.
METADATA = MappingProxyType({
    "png": MappingProxyType({"Software": None}),
    "pdf": MappingProxyType({"CreationDate": None, "ModDate": None, "Producer": None,
                             "Creator": None}),
    "svg": MappingProxyType({"Date": None, "Creator": None}),
})
#: The notebook preview is the 300 dpi PNG reduced 3 times (100 dpi, the screen's).
PREVIEW_REDUCTION = 3
#: The PDF backend's private subsetting call that :func:`_reused_font_subsets` wraps,
#: checked on the matplotlib series it was written for (3.11: glyph indices in, a context
#: manager of ``SubsetResults(font, glyph_index_map)`` out). Elsewhere no wrapping: the
#: same files, only slower. tests/test_figures_journal.py fails when this turns False.
SUBSET_HOOK_ACTIVE = (
    mpl.__version__.startswith("3.11.")
    and hasattr(_backend_pdf_ps, "SubsetResults")
    and list(inspect.signature(_backend_pdf_ps.get_glyphs_subset).parameters)
    == ["fontfile", "glyphs"]
)


@dataclass(frozen=True, repr=False)
class SavedFigure:
    """A figure written by :func:`export_figure`; a notebook shows its ``preview_png``
    and, under it, its ``caption`` (when it has one)."""

    name: str
    folder: Path
    preview_png: bytes = field(repr=False)
    caption: Caption | None = None

    def path(self, width_mm: int = max(JOURNAL_WIDTHS_MM), fmt: str = "png") -> Path:
        """The file of this figure at ``width_mm`` in format ``fmt``."""
        return self.folder / f"{self.name}_{width_mm}mm.{fmt}"

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file written, by width then format."""
        return tuple(self.path(w, fmt) for w in JOURNAL_WIDTHS_MM for fmt in FORMATS)

    def _repr_png_(self) -> bytes:
        return self.preview_png

    def _ipython_display_(self) -> None:
        """The preview, then the caption as Markdown (two outputs, in reading order)."""
        display({"image/png": self.preview_png}, raw=True)
        if self.caption is not None:
            display(Markdown(self.caption.markdown()))

    def __repr__(self) -> str:
        widths = ",".join(str(w) for w in JOURNAL_WIDTHS_MM)
        return f"<figure {self.name}: {self.name}_{{{widths}}}mm.{{{','.join(FORMATS)}}}>"


def export_figure(name: str, output_dir: str | Path, make: Callable[..., Figure],
                  *args: Any, caption: Caption | None = None, **kwargs: Any) -> SavedFigure:
    """Draw ``make(*args, width_mm=w, **kwargs)`` at each journal width and save it.

    ``kwargs`` go to ``make`` unchanged (every figure function takes ``reconstructed``
    and ``min_cell``). Writes ``<output_dir>/figures/<name>_{85,180}mm.{png,pdf,svg}``
    at true size (no tight-bbox cropping, so the page is exactly ``w`` mm wide), closes
    both figures and returns the :class:`SavedFigure`, whose preview is the 180 mm PNG
    and whose ``caption`` is shown under it.
    """
    folder = Path(output_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    png, subsets = b"", {}  # font subsets shared by the two widths (same text, mostly)
    for width in JOURNAL_WIDTHS_MM:
        fig = make(*args, width_mm=width, **kwargs)
        try:
            png = _save(fig, folder / f"{name}_{width}mm", subsets)
        finally:
            plt.close(fig)
    return SavedFigure(name, folder, preview(png), caption)


def _save(fig: Figure, stem: Path,
          subsets: MutableMapping[tuple[str, int, frozenset[int]], tuple[bytes, dict[int, int]]]
          | None = None) -> bytes:
    """Write ``fig`` as ``stem.png``, ``.pdf`` and ``.svg``; return the PNG's bytes.

    ``subsets`` (default: none kept) holds the PDF font subsets already made, to be
    reused by the next figure (:func:`_reused_font_subsets`)."""
    png = b""
    # dpi and the SVG id salt are fixed here, not left to rcParams: the files are
    # 300 dpi and byte-identical on rerun even if set_style() was not called
    with mpl.rc_context({"svg.hashsalt": "nethep", "svg.fonttype": "none",
                         "pdf.fonttype": 42}):
        for fmt in FORMATS:
            buffer = io.BytesIO()
            with _reused_font_subsets({} if subsets is None else subsets, fmt == "pdf"):
                fig.savefig(buffer, format=fmt, metadata=dict(METADATA[fmt]),
                            dpi=EXPORT_DPI)
            stem.with_suffix(f".{fmt}").write_bytes(buffer.getvalue())
            if fmt == "png":
                png = buffer.getvalue()
    return png


@contextmanager
def _reused_font_subsets(
        store: MutableMapping[tuple[str, int, frozenset[int]], tuple[bytes, dict[int, int]]],
        active: bool = True) -> Iterator[None]:
    """While open, the PDF backend's font subsetting (fontTools, about 0.1 s CPU per font
    and subset, most of a PDF's time) is done once per font file, face and glyph set:
    the subset font's bytes and glyph map are kept in ``store`` and the next request
    with the same key gets a copy read back from those bytes. Matplotlib's own
    subsetting makes each font, so the PDFs are byte-identical to plain ``savefig``
    (tested). Wraps a private matplotlib function, only when :data:`SUBSET_HOOK_ACTIVE`;
    restored on exit."""
    if not (active and SUBSET_HOOK_ACTIVE):
        yield
        return
    original = _backend_pdf_ps.get_glyphs_subset

    @contextmanager
    def subset(fontfile: Any, glyphs: Any) -> Iterator[Any]:
        key = (str(fontfile), fontfile.face_index, frozenset(glyphs))
        if key not in store:
            with original(fontfile, glyphs) as made:
                store[key] = (_backend_pdf_ps.font_as_file(made.font).getvalue(),
                              dict(made.glyph_index_map))
        data, index_map = store[key]
        # read back as written: no new timestamp or bounds, so saved again the same bytes
        with TTFont(io.BytesIO(data), recalcTimestamp=False, recalcBBoxes=False) as font:
            yield _backend_pdf_ps.SubsetResults(font, dict(index_map))

    _backend_pdf_ps.get_glyphs_subset = subset
    try:
        yield
    finally:
        _backend_pdf_ps.get_glyphs_subset = original


def preview(png: bytes) -> bytes:
    """A screen-size PNG of a saved figure: RGB, each side reduced
    :data:`PREVIEW_REDUCTION` times by averaging pixel blocks (no second rendering)."""
    with Image.open(io.BytesIO(png)) as image:
        small = image.convert("RGB").reduce(PREVIEW_REDUCTION)
    out = io.BytesIO()
    small.save(out, format="png")
    return out.getvalue()
