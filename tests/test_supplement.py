"""The journal supplement: supplement.pdf (typst) and tables.docx (python-docx).

Fast tests build the supplement from a synthetic results.json that has every section,
optional ones included (Firth, ensemble, scenarios), and from one with small counts
suppressed. The ``notebooks`` tests read the supplement that ``nethep run`` wrote for the
bundled cohort and for a user's cohort run with ``--min-cell 5`` (tests/conftest.py).

The PDF is read with pypdf (text, fonts, page sizes), the Word file with python-docx.
Each number printed in an eTable is checked against its results.json value at the
rounding it is printed with (a tolerance of half a unit in its last digit), so the
check does not reuse the supplement's own formatting code.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import docx
import matplotlib
import pypdf
import pytest

from nethep import cli
from nethep.cohort import load_cohort
from nethep.paths import TEMPLATE_MAP
from nethep.results import flatten, lookup
from nethep.supplement import DOCX_FILENAME, PDF_FILENAME, write_supplement
from nethep.supplement.content import ETable
from nethep.supplement.document import Document, build_document, data_statement, run_date
from nethep.supplement.notebook_tables import TABLE_ONE_NOTEBOOK
from nethep.tableone import table_one

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402

EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}  # 2023-11-14
COMMIT = "0123456789ab"
MIN_CELL = 5
NUMBER = re.compile(r"(?<![\w.])[<>]?-?(?:\d+(?:\.\d+)?|\.\d+)")
#: Numbers the eTables' fixed wording prints (95% CI, 12/36/60 months, P < .05 ...).
FIXED_NUMBERS = frozenset({"95", "12", "36", "60", "1", "02", ".05", "2.5", "97.5"})


# --------------------------------------------------------------------------- fixtures


def synthetic_results(min_cell: int = 0) -> dict[str, Any]:
    """A results.json with every section the supplement reads; with ``min_cell`` the
    medical group's counts are small and suppressed as save_fragment would."""
    small = min_cell > 1
    med = None if small else 3
    g3 = ("medical", "embolization", "surgical")
    at = {str(t): {c: {"estimate": 0.9 - t / 100, "lower": 0.5 - t / 200,
                       "upper": 0.97 - t / 1000} for c in (*g3, "nonsurgical")}
          for t in (12, 36, 60)}
    at["60"]["surgical"] = {"estimate": None, "lower": None, "upper": None}
    at["12"]["surgical"] = {"estimate": 1.0, "lower": None, "upper": None}
    results: dict[str, Any] = {
        "data": {"reconstructed": not small, "source": "cohort.csv", "n_rows": 34},
        "cohort": {"n_patients": 34, "n_by_group": {"medical": med, "embolization": 18,
                                                     "surgical": 13}},
        "treatment_groups": {
            "n_by_group": {"medical": med, "embolization": 18, "surgical": 13},
            "p_values": {"age_years": {"kruskal": 0.7774}, "sex": {"chi2": 0.72,
                                                                    "exact": 0.0049}},
            "smd": {"age_years": 0.2114, "sex": 0.285},
            "n_missing": {"age_years": 0, "sex": None if small else 2},
        },
        "survival": {
            "at_months": at,
            "median": {c: {"estimate": 20.25, "lower": 10.0, "upper": None}
                       for c in (*g3, "nonsurgical")},
            "logrank": {"surgical_vs_nonsurgical": {"statistic": 7.7948, "p": 0.00524},
                        "three_groups": {"statistic": 8.341, "p": 0.01544}},
            "cox": {"surgical_vs_nonsurgical": {"hr": 0.16016, "lower": 0.03698,
                                                "upper": 0.69368, "p": 0.014325,
                                                "ph_p": 0.1259}},
        },
        "palliation": {
            "n_symptomatic": {"medical": med, "embolization": 11, "surgical": 9},
            "n_palliated": {"medical": None if small else 2, "embolization": 7,
                            "surgical": 8},
            "rate": {"medical": 0.6667, "embolization": 0.63636, "surgical": 0.88889},
            "rate_ci": {g: {"lower": 0.3079, "upper": 0.8907} for g in g3},
            "exact_p": 0.2146, "chi2_p": 0.1925,
        },
        "robustness": {
            "summary": [
                {"analysis": "naive Cox", "estimate": 0.16016, "lower": 0.03698,
                 "upper": 0.69368, "measure": "hazard ratio", "n": 34, "role": "reference"},
                {"analysis": "RMST difference, 36 months", "estimate": 12.121, "lower": 8.09,
                 "upper": 16.15, "measure": "months (surgical - nonsurgical)", "n": 34,
                 "role": "main"},
                {"analysis": "permutation test", "estimate": 0.00078, "lower": None,
                 "upper": None, "measure": "P value", "n": 34, "role": "main"},
            ],
            "firth": {"hr": 0.1234, "lower": 0.0101, "upper": 0.8765, "p_lr": 0.0312,
                      "ties": "efron"},
            "primary": {"model": "firth", "rule": "Firth is primary when an arm has fewer "
                        "than 5 deaths."},
            "cox_tests": {"wald_p": 0.014325, "lr_p": 0.0051, "score_p": 0.0049},
        },
        "ensemble": {"n_members": 200, "quantities": {
            "hr": {"bundled": 0.16016, "median": 0.2, "lower": 0.09, "upper": 0.41},
            "logrank_p": {"bundled": 0.0052, "median": 0.011, "lower": 0.0004,
                          "upper": 0.0149}}},
        "scenarios": {"null_hr1": {"naive": {"bias": 0.0123, "coverage": 0.948,
                                             "rejection": 0.052, "n_replicates": 1000,
                                             "n_failed": 0, "true_hr": 1.0,
                                             "scale": "log HR"}},
                      "choices": {"n_replicates": 1000, "seed": 1}},
        "comparison": {"paper_vs_ours": [
            {"quantity": "48 patients", "published": "48", "ours": "48", "matches": True}]},
    }
    if small:
        results["cohort"]["suppressed"] = {"min_cell": min_cell,
                                           "keys": ["n_by_group.medical"]}
        results["treatment_groups"]["suppressed"] = {
            "min_cell": min_cell, "keys": ["n_by_group.medical", "n_missing.sex"]}
        results["palliation"]["suppressed"] = {
            "min_cell": min_cell, "keys": ["n_symptomatic.medical", "n_palliated.medical"]}
    return results


def make_run(folder: Path, results: dict[str, Any]) -> Path:
    """An output folder as a run leaves it: results.json, methods.md, two SVG figures."""
    figures = folder / "figures"
    figures.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    (folder / "methods.md").write_text(
        "# Statistical methods\n\n*A reconstruction.*\n\nWe analysed 34 patients; "
        "survival by the **Kaplan-Meier** method.\n", encoding="utf-8")
    for name in ("km_surgical_vs_nonsurgical", "zz_extra_figure"):
        fig, ax = plt.subplots(figsize=(7, 3))
        ax.plot([0, 12, 24], [1, 0.8, 0.5])
        ax.set_xlabel("Months")
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "t"}):
            fig.savefig(figures / f"{name}_180mm.svg", metadata={"Date": None})
        plt.close(fig)
    return folder


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Document]:
    out = make_run(tmp_path_factory.mktemp("supp") / "run", synthetic_results())
    files = write_supplement(out, environ=EPOCH, commit=COMMIT)
    return out, files.document


@pytest.fixture(scope="module")
def suppressed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Document]:
    out = make_run(tmp_path_factory.mktemp("supp") / "run", synthetic_results(MIN_CELL))
    files = write_supplement(out, environ=EPOCH, commit=COMMIT, label="Clinic X 2010-2020")
    return out, files.document


# --------------------------------------------------------------------------- readers


def pdf_text(path: Path) -> list[str]:
    """Each page's text, whitespace collapsed."""
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(path).pages]


def section(pages: list[str], start: str, end: str | None) -> str:
    """The text from the page whose text starts with heading ``start`` up to ``end``."""
    text = " ".join(pages)
    begin = [m.start() for m in re.finditer(rf"(?:^| ){start} ", text)]
    assert begin, f"no {start} heading"
    stop = text.find(f" {end} ", begin[-1]) if end else -1
    return text[begin[-1]: stop if stop > 0 else len(text)]


def fonts_not_embedded(path: Path) -> list[str]:
    """Base names of the fonts used anywhere in the PDF (pages and form XObjects) whose
    program is not in the file; Type 3 fonts carry their glyphs and count as embedded."""
    missing: list[str] = []
    seen: set[int] = set()

    def visit(resources: Any) -> None:
        resources = resources.get_object() if resources is not None else {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            if id(font) in seen:
                continue
            seen.add(id(font))
            if font.get("/Subtype") == "/Type3":
                continue
            desc_font = font["/DescendantFonts"][0].get_object() if (
                font.get("/Subtype") == "/Type0") else font
            descriptor = desc_font.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            if not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                missing.append(str(font.get("/BaseFont")))
        for xobject in (resources.get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Form" and "/Resources" in xobject:
                visit(xobject["/Resources"])

    for page in pypdf.PdfReader(path).pages:
        visit(page.get("/Resources"))
    return missing


def font_count(path: Path) -> int:
    return sum(len((p.get("/Resources") or {}).get("/Font") or {})
               for p in pypdf.PdfReader(path).pages)


def docx_tables(path: Path) -> tuple[list[str], list[list[list[str]]]]:
    """The eTable titles (paragraphs starting "eTable") and every table's cell text."""
    d = docx.Document(str(path))
    titles = [p.text for p in d.paragraphs if p.text.startswith("eTable ")]
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in d.tables]
    return titles, tables


# --------------------------------------------------------------------------- checks


def _places(token: str) -> int:
    return len(token.split(".")[1]) if "." in token else 0


def number_matches(token: str, values: list[float]) -> bool:
    """Whether a printed number is one of ``values`` (as is, or in %) at its rounding:
    within half a unit of its last digit; "<.001" when a value is below .001, ".99"
    when it is .985 or more."""
    if token.startswith("<"):
        bound = float(token[1:])
        return any(0 <= v < bound for v in values) or token[1:] == str(MIN_CELL)
    if token == ".99":  # the journal's P for .985 <= P (P >= .995 is never 1.00)
        return any(0.985 <= v <= 1 for v in values)
    number = float(token)
    half = 0.5 * 10 ** -_places(token) + 1e-12
    return any(abs(number - v * scale) <= half for v in values for scale in (1, 100))


def check_cells(table: ETable, results: dict[str, Any]) -> None:
    """Every number in a cell equals one of the results.json values the cell was
    written from, at its printed rounding."""
    for row in table.rows:
        for cell in row:  # "<5", "below 5": the threshold, not a value
            tokens = NUMBER.findall(re.sub(rf"(?:<|below ){MIN_CELL}\b", "", cell.text))
            if not cell.keys or not tokens:
                continue
            values = [_value(results, k) for k in cell.keys]
            values = [float(v) for v in values if isinstance(v, int | float)]
            for token in tokens:
                assert number_matches(token, values), (table.label, cell.text, cell.keys)


def _value(results: dict[str, Any], dotted: str) -> Any:
    match = re.fullmatch(r"(.+)\[(\d+)\]\.(\w+)", dotted)
    if match:
        rows = lookup(results, match[1])
        return rows[int(match[2])].get(match[3])
    return lookup(results, dotted)


def allowed_numbers(results: dict[str, Any]) -> list[float]:
    """Every numeric leaf of results.json (lists of rows included), and every number
    written inside its strings."""
    values: list[float] = []
    texts: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            for v in obj.values():
                walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)
        elif isinstance(obj, bool):
            return
        elif isinstance(obj, int | float):
            values.append(float(obj))
        elif isinstance(obj, str):
            texts.append(obj)

    walk(results)
    values += [float(t.lstrip("<>")) for s in texts for t in NUMBER.findall(s)]
    return values


def assert_tables_text_from_results(pages: list[str], results: dict[str, Any],
                                    document: Document) -> None:
    """Every number in the eTables section of the PDF is a results.json value at its
    printed rounding (or part of the tables' fixed wording: 95% CI, 12 months...)."""
    text = section(pages, "eTables", "eFigures" if document.figures else "eReferences")
    if displayed(document.tables[0]):  # its numbers are checked against Table 1 itself
        text = text[text.find("eTable 2."):]
    text = re.sub(r"eTable \d+|eFigure \d+|\(Table 1\)|02_treatment_groups|log\(-log\)", "",
                  text)
    values = allowed_numbers(results)
    bad = [t for t in NUMBER.findall(text)
           if t not in FIXED_NUMBERS and not number_matches(t, values)]
    assert not bad, bad


def displayed(table: ETable) -> bool:
    """Whether the eTable is Table 1 as the notebook displayed it."""
    return table.label == "etab-baseline" and "Data source" in table.columns


def assert_table_one(table: ETable, expected: Any) -> None:
    """The eTable shows Table 1's display text cell for cell (a variable's name on its
    first row only)."""
    assert displayed(table)
    rows = [[str(x) for x in r] for r in expected.itertuples(index=False)]
    previous = None
    for row in rows:
        if row[0] == previous:
            row[0] = ""
        else:
            previous = row[0]
    assert table.texts() == rows


def write_table_one_notebook(out: Path, min_cell: int) -> Any:
    """An executed notebook 02 whose output is Table 1 of the bundled cohort, displayed
    as notebook 02 displays it; returns that display table."""
    shown = table_one(load_cohort()).table(min_cell).round(3)
    html = shown.set_index(["variable", "level"]).to_html()
    nb = {"cells": [{"cell_type": "code", "source": "nb.show(t1)", "metadata": {},
                     "outputs": [{"output_type": "execute_result", "metadata": {},
                                  "data": {"text/html": html, "text/plain": "t"}}]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (out / "notebooks").mkdir(exist_ok=True)
    (out / "notebooks" / TABLE_ONE_NOTEBOOK).write_text(json.dumps(nb), encoding="utf-8")
    return shown


def assert_order(pages: list[str], document: Document) -> None:
    """eTable 1..n then eFigure 1..m captions appear once each, in order, with their
    titles; the contents page lists them too."""
    text = " ".join(pages)
    body = text[text.find(" eTables "):]
    position = 0
    for i, t in enumerate(document.tables, 1):
        found = body.find(f"eTable {i}. {t.title[:40]}", position)
        assert found >= position, f"eTable {i} missing or out of order"
        position = found
    for i, f in enumerate(document.figures, 1):
        found = body.find(f"eFigure {i}. {f.caption[:30]}", position)
        assert found >= position, f"eFigure {i} missing or out of order"
        position = found
    assert f"eTable {len(document.tables) + 1}." not in body
    assert f"eFigure {len(document.figures) + 1}." not in body
    assert body.find(" eReferences ", position) > position
    assert "Contents" in pages[0]


# --------------------------------------------------------------------------- fast tests


def test_every_etable_and_efigure_present_in_order(synthetic):
    out, document = synthetic
    labels = [t.label for t in document.tables]
    assert labels == ["etab-baseline", "etab-survival", "etab-cox", "etab-palliation",
                      "etab-robustness", "etab-ensemble", "etab-scenarios", "etab-comparison"]
    assert [f.name for f in document.figures] == ["km_surgical_vs_nonsurgical",
                                                  "zz_extra_figure"]
    assert_order(pdf_text(out / PDF_FILENAME), document)


def test_table_one_as_the_notebook_displayed_it(tmp_path):
    out = make_run(tmp_path / "run", synthetic_results(MIN_CELL))
    shown = write_table_one_notebook(out, MIN_CELL)
    document = write_supplement(out, environ=EPOCH, commit=COMMIT).document
    assert_table_one(document.tables[0], shown)
    assert f"<{MIN_CELL}" in [c for row in document.tables[0].texts() for c in row]
    assert any(f"shown as <{MIN_CELL}" in n for n in document.tables[0].notes)
    text = " ".join(pdf_text(out / PDF_FILENAME))
    assert "eTable 1. Baseline characteristics by treatment group (Table 1)" in text
    _, tables = docx_tables(out / DOCX_FILENAME)
    assert tables[0][1:] == document.tables[0].texts()
    # a wide eTable gets a landscape page
    sizes = {(round(float(p.mediabox.width)), round(float(p.mediabox.height)))
             for p in pypdf.PdfReader(out / PDF_FILENAME).pages}
    assert sizes == {(595, 842), (842, 595)}


def test_optional_sections_are_optional(tmp_path):
    results = synthetic_results()
    for section_name in ("ensemble", "scenarios"):
        del results[section_name]
    del results["robustness"]["firth"]
    out = make_run(tmp_path / "run", results)
    document = write_supplement(out, environ=EPOCH, commit=COMMIT).document
    assert "etab-ensemble" not in [t.label for t in document.tables]
    assert "etab-scenarios" not in [t.label for t in document.tables]
    cox = next(t for t in document.tables if t.label == "etab-cox")
    assert not any("Firth" in row[0].text for row in cox.rows)
    assert_order(pdf_text(out / PDF_FILENAME), document)


def test_firth_ensemble_and_scenarios_shown(synthetic):
    out, document = synthetic
    text = " ".join(pdf_text(out / PDF_FILENAME))
    assert "Firth penalized Cox, Efron ties 0.12 (0.01 to 0.88) .03 penalized likelihood " \
           "ratio primary" in text
    assert "Cox, Efron ties 0.16 (0.04 to 0.69) .01 Wald sensitivity" in text
    assert "Primary analysis: Firth is primary when an arm has fewer than 5 deaths." in text
    assert "ensemble of 200 abstract-consistent" in text
    assert "Log-rank P .005 .01 <.001 to .01" in text
    assert "null hr1 naive 1.00 log HR 0.012 0.948 0.052 1000 0" in text


def test_numbers_in_cells_equal_results(synthetic):
    _, document = synthetic
    results = synthetic_results()
    for table in document.tables:
        check_cells(table, results)


def test_numbers_in_pdf_are_results_values(synthetic):
    out, document = synthetic
    assert_tables_text_from_results(pdf_text(out / PDF_FILENAME), synthetic_results(),
                                    document)


def test_not_estimable_in_words(synthetic):
    _, document = synthetic
    survival = next(t for t in document.tables if t.label == "etab-survival")
    cells = {row[0].text: [c.text for c in row[1:]] for row in survival.rows}
    assert cells["Surgical"][0] == "100.0 (CI not estimable)"
    assert cells["Surgical"][2] == "not estimable"
    assert cells["Medical"][3] == "20.3 (10.0 to not reached)"  # 20.25 half up
    robustness = next(t for t in document.tables if t.label == "etab-robustness")
    assert robustness.rows[2][3].text == "<.001"
    every = " ".join(c.text for t in document.tables for row in t.rows for c in row)
    assert "inf" not in every and "nan" not in every.lower() and "None" not in every


def test_suppression_in_pdf_and_docx(suppressed):
    out, document = suppressed
    hidden = {"treatment_groups.n_missing.sex", "palliation.n_symptomatic.medical",
              "palliation.n_palliated.medical"}
    shown = [c for t in document.tables for row in t.rows for c in row
             if set(c.keys) & hidden]
    assert len(shown) >= 3
    for cell in shown:
        assert cell.text == f"<{MIN_CELL}" or cell.text.startswith("suppressed"), cell
    baseline = next(t for t in document.tables if t.label == "etab-baseline")
    assert f"Medical <{MIN_CELL}" in baseline.notes[0]
    pages = pdf_text(out / PDF_FILENAME)
    text = " ".join(pages)
    assert f"Medical <{MIN_CELL} <{MIN_CELL} suppressed (a count is below {MIN_CELL})" in text
    titles, tables = docx_tables(out / DOCX_FILENAME)
    for table, cells in zip(document.tables, tables, strict=True):
        assert cells[0] == list(table.columns)
        assert cells[1:] == table.texts()
    assert len(titles) == len(document.tables)


def test_user_data_named_by_label_never_path(suppressed):
    out, document = suppressed
    text = " ".join(pdf_text(out / PDF_FILENAME))
    assert "Data analysed: Clinic X 2010-2020." in text
    assert "reconstruct" not in " ".join(document.data_statement)
    assert str(out) not in text and "cohort.csv" not in text


def test_docx_tables_equal_the_pdf_tables_and_have_three_rules(synthetic):
    out, document = synthetic
    titles, tables = docx_tables(out / DOCX_FILENAME)
    assert titles == [f"eTable {i}. {t.title}" for i, t in enumerate(document.tables, 1)]
    for table, cells in zip(document.tables, tables, strict=True):
        assert cells == [list(table.columns), *table.texts()]
    xml = docx.Document(str(out / DOCX_FILENAME)).tables[0]._tbl.xml
    assert 'w:left w:val="nil"' in xml and 'w:right w:val="nil"' in xml
    first = docx.Document(str(out / DOCX_FILENAME)).tables[0]
    rules = [len(re.findall(r'w:(?:top|bottom) w:val="single"', row._tr.xml))
             for row in first.rows]
    cols = len(first.columns)
    assert rules[0] == 2 * cols and rules[-1] == cols and sum(rules[1:-1]) == 0


def test_rerun_gives_identical_bytes(tmp_path, synthetic):
    out, _ = synthetic
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    write_supplement(copy, environ=EPOCH, commit=COMMIT)
    for name in (PDF_FILENAME, DOCX_FILENAME):
        assert (copy / name).read_bytes() == (out / name).read_bytes(), name


def test_date_from_source_date_epoch(synthetic):
    out, document = synthetic
    assert document.date == "2023-11-14" == run_date(EPOCH).isoformat()
    assert "on 2023-11-14" in pdf_text(out / PDF_FILENAME)[0]
    info = pypdf.PdfReader(out / PDF_FILENAME).metadata
    assert info is not None and str(info.get("/CreationDate", "")).startswith("D:20231114")


def test_fonts_embedded_and_not_from_the_system(synthetic):
    out, _ = synthetic
    assert font_count(out / PDF_FILENAME) > 0
    assert fonts_not_embedded(out / PDF_FILENAME) == []


@pytest.mark.parametrize(("paper", "size"), [("a4", (595.3, 841.9)), ("letter", (612, 792))])
def test_paper_size(tmp_path, paper, size):
    out = make_run(tmp_path / "run", synthetic_results())
    write_supplement(out, environ=EPOCH, commit=COMMIT, paper=paper)
    box = pypdf.PdfReader(out / PDF_FILENAME).pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(size, abs=0.2)
    with pytest.raises(ValueError, match="paper"):
        build_document(out, synthetic_results(), paper="a5", commit=COMMIT)


def test_page_count(synthetic):
    out, document = synthetic
    reader = pypdf.PdfReader(out / PDF_FILENAME)
    pages = pdf_text(out / PDF_FILENAME)
    # title + eMethods + at least one page of eTables + eFigures + eReferences
    assert 5 <= len(reader.pages) <= 5 + len(document.tables) + len(document.figures)
    assert pages[-1].startswith("eReferences")
    assert pages[-1].rstrip().endswith(str(len(reader.pages)))  # the page number


def test_flat_keys_read_by_the_supplement_exist_in_the_synthetic_results():
    """The fixture is shaped like a run's results.json (same key paths)."""
    flat = flatten(synthetic_results())
    for dotted in ("survival.cox.surgical_vs_nonsurgical.hr", "palliation.exact_p",
                   "survival.at_months.36.surgical.estimate"):
        assert dotted in flat


# --------------------------------------------------------------------------- real runs


def _document(build: Any) -> Document:
    return build_document(build.output_dir, build.results, environ=EPOCH, commit=COMMIT)


def test_bundled_run_writes_both_files(bundled_run):
    out = bundled_run.output_dir
    pdf, docx_path = out / PDF_FILENAME, out / DOCX_FILENAME
    assert pdf.is_file() and docx_path.is_file()
    index = bundled_run.index_path.read_text(encoding="utf-8")
    assert f'href="{PDF_FILENAME}"' in index and f'href="{DOCX_FILENAME}"' in index
    pages = pdf_text(pdf)
    document = _document(bundled_run)
    assert len(document.figures) == len(list(bundled_run.figures_dir.glob("*_180mm.svg")))
    assert len(document.figures) >= 5
    assert_order(pages, document)
    assert "Data analysed: " in pages[0] and "reconstruct" in pages[0]
    assert "Musunuru S" in pages[0] and "10.1001/archsurg.141.10.1000" in pages[0]
    assert fonts_not_embedded(pdf) == []
    assert 6 <= len(pages) <= 40
    titles, tables = docx_tables(docx_path)
    assert titles == [f"eTable {i}. {t.title}" for i, t in enumerate(document.tables, 1)]
    for table, cells in zip(document.tables, tables, strict=True):
        assert cells == [list(table.columns), *table.texts()]


def test_bundled_run_numbers_equal_results(bundled_run):
    document = _document(bundled_run)
    assert_table_one(document.tables[0], table_one(load_cohort()).table(0).round(3))
    for table in document.tables:
        check_cells(table, bundled_run.results)
    assert_tables_text_from_results(pdf_text(bundled_run.output_dir / PDF_FILENAME),
                                    bundled_run.results, document)


def test_bundled_rerun_identical_bytes(bundled_run, tmp_path):
    """Two builds from the run's outputs (same date, same commit) give the same bytes."""
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        shutil.copytree(bundled_run.output_dir, folder)
        write_supplement(folder, environ=EPOCH, commit=COMMIT)
    for name in (PDF_FILENAME, DOCX_FILENAME):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_user_run_suppression_holds(user_run):
    out = user_run.output_dir
    results = user_run.results
    hidden = {f"{s}.{k}" for s, v in results.items() if isinstance(v, dict)
              for k in (v.get("suppressed") or {}).get("keys", [])}
    assert hidden, "the user run suppresses small counts"
    document = _document(user_run)
    shown = [c for t in document.tables for row in t.rows for c in row if set(c.keys) & hidden]
    assert shown
    for cell in shown:
        assert cell.text == f"<{MIN_CELL}" or cell.text.startswith("suppressed"), cell
    pdf = (out / PDF_FILENAME)
    text = " ".join(pdf_text(pdf))
    assert f"<{MIN_CELL}" in text
    _, tables = docx_tables(out / DOCX_FILENAME)
    for table, cells in zip(document.tables, tables, strict=True):
        assert cells == [list(table.columns), *table.texts()]
    raw = (out / DOCX_FILENAME).read_bytes()
    for secret in ("Zebediah", "UWX-0", str(user_run.data_path)):
        assert secret not in text
        assert secret.encode() not in _docx_xml(raw)
    assert "reconstruct" not in pdf_text(pdf)[0]
    for table in document.tables:
        check_cells(table, results)
    df = load_cohort(user_run.data_path, map_path=TEMPLATE_MAP, allow_identifiers=True)
    assert_table_one(document.tables[0], table_one(df).table(MIN_CELL).round(3))


def _docx_xml(raw: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return b"".join(z.read(n) for n in z.namelist())


def test_decimal_reading_is_independent():
    """The tolerance check itself: 0.015 printed as .02 matches; .01 does not."""
    assert number_matches(".02", [0.015]) and not number_matches(".01", [0.0151])
    assert number_matches("83.3", [0.8333]) and not number_matches("83.4", [0.8333])
    assert number_matches(".99", [1.0]) and not number_matches(".99", [0.98])
    assert number_matches("<.001", [0.0004]) and not number_matches("<.001", [0.002])


def test_run_options_paper_and_label():
    args = cli.build_parser().parse_args(["run", "--paper", "letter", "--label", "Clinic X"])
    assert (args.paper, args.label) == ("letter", "Clinic X")
    defaults = cli.build_parser().parse_args(["run"])
    assert (defaults.paper, defaults.label) == (None, None)  # write_pages' defaults apply
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "--paper", "a5"])


def test_a_users_data_are_named_by_the_label_the_notebooks_recorded():
    from_run = {"data": {"reconstructed": False, "source": "Clinic X, 2010-2020"}}
    assert data_statement(from_run, None)[0] == "Data analysed: Clinic X, 2010-2020."
    assert data_statement(from_run, "  Other  ")[0] == "Data analysed: Other."
    assert data_statement({"data": {"reconstructed": False}}, "")[0] == (
        "Data analysed: a cohort supplied by the user.")
