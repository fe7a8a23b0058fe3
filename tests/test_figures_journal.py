"""Journal-ready figures: every figure at 85 and 180 mm, true size, 300 dpi, type >= 7 pt.

Each figure function is exported with :func:`nethep.plots.export_figure` and the files
are read back: the PDF page width (MediaBox), the PNG pixel width and dpi, the SVG
width. The figures themselves are checked for type size, for text that overlaps or
leaves the page, and (Kaplan-Meier) for at-risk numbers that sit under the x ticks.
Last, every figure the session's ``nethep run`` (conftest ``bundled_run``) lists must
exist, come in both widths and three formats, and have the right size.
"""

from __future__ import annotations

import io
import json
import math
import re
from itertools import combinations
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends import _backend_pdf_ps  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from PIL import Image  # noqa: E402
from pypdf import PdfReader  # noqa: E402

from nethep.cohort import load_cohort  # noqa: E402
from nethep.describe import patient_flow  # noqa: E402
from nethep.literature import literature_table  # noqa: E402
from nethep.notebook import Notebook  # noqa: E402
from nethep.palliation import palliation  # noqa: E402
from nethep.plots import (  # noqa: E402
    export,
    export_figure,
    km_caption,
    km_figure,
    literature_caption,
    literature_forest_figure,
    palliation_caption,
    palliation_figure,
    patient_flow_caption,
    patient_flow_figure,
    set_style,
    values_by_group_caption,
    values_by_group_figure,
)
from nethep.plots.export import JOURNAL_WIDTHS_MM  # noqa: E402
from nethep.plots.style import MIN_FONT_PT  # noqa: E402
from nethep.plots.survival import AT_RISK_LABEL  # noqa: E402
from nethep.survival import cox_surgical, fit_by  # noqa: E402
from nethep.tableone import table_one  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
FORMATS = ("png", "pdf", "svg")
FILE_NAME = re.compile(r"^(?P<name>[a-z0-9_]+)_(?P<mm>\d+)mm\.(?P<fmt>png|pdf|svg)$")


@pytest.fixture(scope="module")
def df():
    set_style()
    return load_cohort()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _captions():
    """The caption function of each figure function."""
    return {patient_flow_figure: patient_flow_caption,
            values_by_group_figure: values_by_group_caption, km_figure: km_caption,
            palliation_figure: palliation_caption,
            literature_forest_figure: literature_caption}


def _makers(df):
    """(make, args, kwargs) for every figure the notebooks 01-04 export."""
    t1 = table_one(df)
    rec = df.attrs["reconstructed"]
    data = {"reconstructed": rec}
    return {
        "patient_flow": (patient_flow_figure, (patient_flow(df),), data),
        "liver_involvement_by_group": (
            values_by_group_figure, (t1.grouped["liver_involvement_pct"],),
            {"p": t1.result("liver_involvement_pct").p,
             "ylabel": "Liver involved by tumour (%)",
             "title": "Liver involvement by treatment group", "ylim": (0, 100), **data}),
        "km_by_treatment_group": (km_figure, (fit_by(df, "treatment_group"),
                                              "Overall survival by treatment group"), data),
        "km_surgical_vs_nonsurgical": (
            km_figure, (fit_by(df, "arm"), "Overall survival, surgical vs non-surgical"), data),
        "palliation_by_group": (palliation_figure, (palliation(df),), data),
        "literature_forest": (literature_forest_figure,
                              (literature_table(cox_surgical(df), rec),), data),
    }


FIGURES = ["patient_flow", "liver_involvement_by_group", "km_by_treatment_group",
           "km_surgical_vs_nonsurgical", "palliation_by_group", "literature_forest"]


# --------------------------------------------------------------------------- file readers


def pdf_size_mm(path: Path) -> tuple[float, float]:
    """Width and height of the (single) page, from its MediaBox, in mm."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*([-\d.\s]+)\]", path.read_bytes())
    assert len(boxes) == 1, f"{path.name}: expected one page, found {len(boxes)} MediaBoxes"
    x0, y0, x1, y1 = (float(v) for v in boxes[0].split())
    return (x1 - x0) / 72 * 25.4, (y1 - y0) / 72 * 25.4


def svg_size_mm(path: Path) -> tuple[float, float]:
    head = path.read_text(encoding="utf-8")[:3000]
    width = re.search(r'<svg[^>]*\swidth="([\d.]+)pt"', head, re.S)
    height = re.search(r'<svg[^>]*\sheight="([\d.]+)pt"', head, re.S)
    assert width and height, f"{path.name}: no width/height in pt"
    return float(width.group(1)) / 72 * 25.4, float(height.group(1)) / 72 * 25.4


def check_files(folder: Path, name: str, width_mm: float) -> None:
    """The three files of one figure at one width have that print width."""
    stem = folder / f"{name}_{width_mm:g}mm"
    assert stem.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    assert stem.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    pdf_w, pdf_h = pdf_size_mm(stem.with_suffix(".pdf"))
    assert pdf_w == pytest.approx(width_mm, abs=0.5), f"{stem.name}.pdf is {pdf_w:.2f} mm wide"
    svg_w, svg_h = svg_size_mm(stem.with_suffix(".svg"))
    assert svg_w == pytest.approx(width_mm, abs=0.5), f"{stem.name}.svg is {svg_w:.2f} mm wide"
    assert svg_h == pytest.approx(pdf_h, abs=0.1)
    with Image.open(stem.with_suffix(".png")) as png:
        dpi = png.info.get("dpi")
        assert dpi is not None and dpi[0] == pytest.approx(300, abs=0.5), f"dpi {dpi}"
        assert png.size[0] == pytest.approx(width_mm / 25.4 * 300, abs=1.0), png.size
        assert png.size[1] == pytest.approx(pdf_h / 25.4 * 300, abs=1.0), png.size


# --------------------------------------------------------------------------- figure checks


def visible_texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and t.get_figure() is not None]


def _shrunk(box, by: float):
    return box.x0 + by, box.y0 + by, box.x1 - by, box.y1 - by


def overlaps_and_escapes(fig) -> tuple[list[str], list[str]]:
    """Pairs of texts whose boxes overlap, and texts that reach outside the figure."""
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    texts = visible_texts(fig)
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    overlapping = []
    for (a, ba), (b, bb) in combinations(boxes, 2):
        ax0, ay0, ax1, ay1 = _shrunk(ba, 0.5)
        bx0, by0, bx1, by1 = _shrunk(bb, 0.5)
        if ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1:
            overlapping.append(f"{a.get_text()!r} / {b.get_text()!r}")
    width, height = fig.bbox.width, fig.bbox.height
    outside = [t.get_text() for t, b in boxes
               if b.x0 < -0.5 or b.y0 < -0.5 or b.x1 > width + 0.5 or b.y1 > height + 0.5]
    return overlapping, outside


@pytest.mark.parametrize("width_mm", JOURNAL_WIDTHS_MM)
@pytest.mark.parametrize("name", FIGURES)
def test_figure_size_type_and_layout(df, name, width_mm):
    make, args, kwargs = _makers(df)[name]
    fig = make(*args, width_mm=width_mm, **kwargs)
    assert fig.get_size_inches()[0] == pytest.approx(width_mm / 25.4)
    small = sorted({(t.get_text()[:40], t.get_fontsize()) for t in visible_texts(fig)
                    if t.get_fontsize() < MIN_FONT_PT})
    assert not small, f"text below {MIN_FONT_PT} pt: {small}"
    for dpi in (100, 300):  # on screen (notebook) and in the exported PNG
        fig.set_dpi(dpi)
        overlapping, outside = overlaps_and_escapes(fig)
        assert not overlapping, f"overlapping text at {width_mm} mm, {dpi} dpi: {overlapping}"
        assert not outside, f"text cut at the edge at {width_mm} mm, {dpi} dpi: {outside}"


@pytest.mark.parametrize("name", FIGURES)
def test_export_writes_true_size_files_with_identical_bytes(df, name, bundled_run, tmp_path):
    """Exported here, the files have their print size and the bytes of the same files
    written by the session's ``nethep run`` (the notebooks, in another process); a
    notebook shows the saved 180 mm PNG reduced to screen size."""
    make, args, kwargs = _makers(df)[name]
    caption = _captions()[make](*args, **kwargs)
    first = export_figure(name, tmp_path, make, *args, caption=caption, **kwargs)
    assert not plt.get_fignums()  # both widths closed once saved
    written = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert written == sorted(p.name for p in first.files)
    assert written == sorted(f"{name}_{w}mm.{fmt}" for w in JOURNAL_WIDTHS_MM
                             for fmt in FORMATS)
    for width in JOURNAL_WIDTHS_MM:
        check_files(tmp_path / "figures", name, width)
    for file in written:
        a = (tmp_path / "figures" / file).read_bytes()
        b = (bundled_run.figures_dir / file).read_bytes()
        assert a == b, f"{file} differs from the session run's"
    # what a notebook displays is the saved 180 mm PNG at 100 dpi, not a new rendering,
    # and the caption under it (SavedFigure._ipython_display_)
    assert repr(first) == f"<figure {name}: {name}_{{85,180}}mm.{{png,pdf,svg}}>"
    assert first._repr_png_() == first.preview_png
    assert first.caption == caption and caption.markdown().startswith(f"**{caption.title}.**")
    with Image.open(first.path(180, "png")) as full, \
            Image.open(io.BytesIO(first.preview_png)) as preview:
        assert preview.size == tuple(math.ceil(side / 3) for side in full.size)
        assert preview.mode == "RGB"


@pytest.mark.parametrize("width_mm", JOURNAL_WIDTHS_MM)
@pytest.mark.parametrize("by", ["treatment_group", "arm"])
def test_at_risk_numbers_sit_under_the_ticks(df, by, width_mm):
    fits = fit_by(df, by)
    fig = km_figure(fits, "Overall survival", reconstructed=True, width_mm=width_mm)
    ax = next(a for a in fig.axes if a.get_label() != AT_RISK_LABEL)
    risk = next(a for a in fig.axes if a.get_label() == AT_RISK_LABEL)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    ticks = list(ax.get_xticks())
    tick_px = {t: ax.transData.transform((t, 0))[0] for t in ticks}
    for tick in ax.xaxis.get_major_ticks():  # the drawn tick marks are where we think
        x = tick.get_loc()
        assert tick.tick1line.get_transform().transform((x, 0))[0] == pytest.approx(
            tick_px[x], abs=0.01)
    numbers = [t for t in risk.texts if (t.get_gid() or "").startswith(f"{AT_RISK_LABEL}:")]
    assert len(numbers) == len(ticks) * len(fits)
    for text in numbers:
        x = text.get_position()[0]
        assert x in tick_px, f"at-risk number at x = {x}, not a tick"
        box = text.get_window_extent(renderer)
        assert (box.x0 + box.x1) / 2 == pytest.approx(tick_px[x], abs=0.6)
        # and below the plot, not on it
        assert box.y1 < ax.get_window_extent(renderer).y0


def test_every_figure_has_a_caption_and_no_title_drawn(df):
    """Each caption names what is shown and which data; the caption's title is not drawn
    in the figure."""
    for name, (make, args, kwargs) in _makers(df).items():
        caption = _captions()[make](*args, **kwargs)
        assert caption.title and caption.text, name
        assert caption.text.endswith("not the original patient records."), name
        fig = make(*args, width_mm=180, **kwargs)
        drawn = " ".join(" ".join(t.get_text().split()) for t in visible_texts(fig))
        assert caption.title not in drawn, f"{name}: title drawn in the figure"
        for ax in fig.axes:
            assert not ax.get_title(loc="left") and not ax.get_title(), name
        plt.close(fig)


def test_notebooks_give_every_figure_its_caption():
    """Every ``nb.figure`` call in notebooks 01-04 passes ``caption=``, and the executed
    notebook shows the caption (Markdown) right under the figure (PNG)."""
    for path in sorted(NOTEBOOKS.glob("0[1-4]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] != "code" or "nb.figure(" not in source:
                continue
            assert "caption=" in source, f"{path.name}: {source[:60]!r} has no caption"
            kinds = [next(iter(o.get("data", {})), None) for o in cell["outputs"]]
            assert kinds[-2:] == ["image/png", "text/markdown"], (path.name, kinds)


def test_notebooks_export_every_figure_they_show():
    """Figures in notebooks 01-04 go through export_figure (``nb.figure``), under the names
    tested here."""
    exported = []
    for path in sorted(NOTEBOOKS.glob("0[1-4]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert "save_figure(" not in code, f"{path.name} saves a figure at one size only"
        exported += re.findall(r'(?:export_figure|nb\.figure)\(\s*"([a-z0-9_]+)"', code)
    assert sorted(exported) == sorted(FIGURES)


# --------------------------------------------------------------------------- the report


def test_every_figure_listed_in_the_report_exists_at_both_widths(bundled_run):
    out = bundled_run.output_dir
    index = bundled_run.index_path.read_text(encoding="utf-8")
    section = index.split("<h2>Figures</h2>", 1)
    assert len(section) == 2, "index.html has no Figures section"
    listed = re.findall(r'<a href="(figures/[^"]+)"', section[1])
    assert listed, "index.html lists no figures"
    by_figure: dict[str, set[tuple[int, str]]] = {}
    for href in listed:
        path = out / href
        assert path.is_file() and path.stat().st_size > 1000, f"{href} listed but missing"
        match = FILE_NAME.match(path.name)
        assert match, f"{path.name}: not <what_it_shows>_<85|180>mm.<png|pdf|svg>"
        by_figure.setdefault(match["name"], set()).add((int(match["mm"]), match["fmt"]))
    want = {(w, fmt) for w in JOURNAL_WIDTHS_MM for fmt in FORMATS}
    for name, found in by_figure.items():
        assert found == want, f"{name}: missing {sorted(want - found)}"
        for width in JOURNAL_WIDTHS_MM:
            check_files(bundled_run.figures_dir, name, width)
    assert set(FIGURES) <= set(by_figure), sorted(set(FIGURES) - set(by_figure))
    on_disk = {p.name for p in bundled_run.figures_dir.iterdir() if not p.name.startswith(".")}
    assert on_disk == {href.rsplit("/", 1)[1] for href in listed}


def test_notebook_figure_writes_its_caption_for_results_json(df, tmp_path):
    """``Notebook.figure(caption=...)`` calls the caption function with the figure's
    arguments and the notebook's ``reconstructed``/``min_cell``, shows it under the
    figure and writes ``results/figures/<name>.json`` (merged as ``figures.<name>``)."""
    nb = Notebook(df=df, output_dir=tmp_path, min_cell=5)
    fits = fit_by(df, "arm")
    saved = nb.figure("km_arms", km_figure, fits, "Overall survival", caption=km_caption)
    expected = km_caption(fits, "Overall survival", reconstructed=True, min_cell=5)
    assert saved.caption == expected
    stored = json.loads((tmp_path / "results" / "figures" / "km_arms.json").read_text())
    assert stored == {"title": "Overall survival", "caption": str(expected)}
    assert "counts below 5 are shown as <5" in stored["caption"]
    plain = nb.figure("km_plain", km_figure, fits)  # no caption: nothing written
    assert plain.caption is None
    assert not (tmp_path / "results" / "figures" / "km_plain.json").exists()


def test_every_saved_figure_has_its_caption_in_results(bundled_run):
    saved = {FILE_NAME.match(p.name).group(1) for p in bundled_run.figures_dir.glob("*.svg")}
    captions = bundled_run.results["figures"]
    assert saved and saved == set(captions), "a figure saved without a caption, or the reverse"
    for name, caption in captions.items():
        assert caption["title"].strip() and len(caption["caption"]) > 40, name


# --------------------------------------------------------------------------- PDF fonts


def _pdf_fonts(path: Path) -> list[dict]:
    """Every font a PDF's page uses, with its descendant font and descriptor resolved."""
    fonts = []
    for font in PdfReader(path).pages[0]["/Resources"]["/Font"].values():
        font = font.get_object()
        descendant = (font["/DescendantFonts"][0].get_object()
                      if "/DescendantFonts" in font else None)
        descriptor = (descendant or font).get("/FontDescriptor")
        fonts.append({"subtype": font["/Subtype"],
                      "descendant": None if descendant is None else descendant["/Subtype"],
                      "files": set(descriptor.get_object()) if descriptor else set()})
    return fonts


@pytest.mark.parametrize("name", ["km_surgical_vs_nonsurgical", "literature_forest"])
def test_pdf_fonts_are_embedded_truetype_and_subsets_reused(df, name, tmp_path, monkeypatch):
    """Every PDF font is an embedded TrueType subset (Type 0 over CIDFontType2 with a
    FontFile2: Type 42), never Type 3 or an unembedded core font. The export makes each
    font subset once for both widths (export._reused_font_subsets), fewer times than
    plain savefig, and the PDFs are the bytes plain savefig writes. Fails when a
    matplotlib upgrade changes the private call the reuse wraps (SUBSET_HOOK_ACTIVE)."""
    assert export.SUBSET_HOOK_ACTIVE, (
        "matplotlib's _backend_pdf_ps.get_glyphs_subset changed: re-check "
        "nethep.plots.export._reused_font_subsets against the new matplotlib")
    made = []
    original = _backend_pdf_ps.get_glyphs_subset

    def counted(fontfile, glyphs):
        made.append(frozenset(glyphs))
        return original(fontfile, glyphs)

    monkeypatch.setattr(_backend_pdf_ps, "get_glyphs_subset", counted)
    make, args, kwargs = _makers(df)[name]
    saved = export_figure(name, tmp_path, make, *args, **kwargs)
    assert _backend_pdf_ps.get_glyphs_subset is counted  # the wrapper is removed again
    reused = len(made)
    made.clear()
    for width in JOURNAL_WIDTHS_MM:
        fig = make(*args, width_mm=width, **kwargs)
        buffer = io.BytesIO()
        with matplotlib.rc_context({"pdf.fonttype": 42}):
            fig.savefig(buffer, format="pdf", metadata=dict(export.METADATA["pdf"]),
                        dpi=export.EXPORT_DPI)
        plt.close(fig)
        assert saved.path(width, "pdf").read_bytes() == buffer.getvalue()
        fonts = _pdf_fonts(saved.path(width, "pdf"))
        assert fonts and all(f["subtype"] == "/Type0" and f["descendant"] == "/CIDFontType2"
                             and "/FontFile2" in f["files"] for f in fonts), fonts
    assert 0 < reused < len(made)


def test_export_gives_the_same_bytes_twice(df, tmp_path):
    """Two exports of one figure in one process write identical files (no timestamp,
    no state carried from one export to the next)."""
    make, args, kwargs = _makers(df)["patient_flow"]
    first = export_figure("patient_flow", tmp_path / "a", make, *args, **kwargs)
    second = export_figure("patient_flow", tmp_path / "b", make, *args, **kwargs)
    for a, b in zip(first.files, second.files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
