"""Fuzzing the front door: malformed tables end in CohortValidationError, never a crash.

Hypothesis writes random files (bytes; CSV text with headers drawn partly from the
contract; valid rows with cells, columns and headers damaged) and calls
``load_cohort``. The only exception allowed out is CohortValidationError with a
non-empty message and at least one located problem; whatever loads must satisfy the
contract again when written out and re-read. A last test checks that the fast reader
for plain delimited files reads exactly what the record-by-record reader reads.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nethep.cohort import load_cohort
from nethep.contract import fields
from nethep.errors import CohortValidationError
from nethep.intake import DATE_COLUMNS, write_prepared
from nethep.paths import TEMPLATE
from nethep.readers import _frame_from_records, _read_plain_delimited

COLUMNS = list(fields())
NAMES = [*COLUMNS, *DATE_COLUMNS, "Died", "sex ", "patient id", "notes", "", "MRN"]
with TEMPLATE.open(newline="", encoding="utf-8") as _fh:
    _TEMPLATE = [list(r) for r in csv.reader(_fh)]
DATED_HEADER = ["patient_id", "tumor_type", "treatment_group", "treatment",
                "liver_involvement_pct", "date_of_diagnosis", "date_of_treatment",
                "date_last_contact", "date_of_death", "symptomatic", "palliated", "age_years",
                "sex"]
DATED_ROWS = [
    ["D1", "carcinoid", "medical", "octreotide", "20", "2001-03-01", "2001-04-15",
     "2003-03-01", "", "1", "1", "63", "female"],
    ["D2", "islet_cell", "medical", "observation", "10", "1999-12-31", "", "2000-06-01",
     "2000-07-04", "0", "", "58", "male"],
    ["D3", "carcinoid", "embolization", "embolization", "45", "2002-02-28", "2002-03-01", "",
     "2004-02-29", "1", "0", "51", "female"],
    ["D4", "carcinoid", "surgical", "resection", "15", "2000-01-10", "2000-01-10",
     "2005-12-31", "", "1", "1", "47", "male"],
]
BASES = {"months": (_TEMPLATE[0], _TEMPLATE[1:]), "dates": (DATED_HEADER, DATED_ROWS)}

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

nasty_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999",
                     "1e-999", "-0", "-1", "-3.5", "0", "1", "2", "0.0", "1.0", "1,5", "NA",
                     "None", "null", "TRUE", "１", "٣", "2003-07-15", "2999-01-01", "'",
                     '"', '""', 'a"b', "x\ny", "x\r\ny", "\t", ";", "\x00", "\ufeff",
                     "carcinoid ", " surgical", "Surgical", "é" * 5, "😀"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="0123456789", min_size=20, max_size=400),
)


def attempt(data: bytes, suffix: str = ".csv") -> pd.DataFrame | None:
    """Load bytes written to a file; check the outcome; return the frame if it loaded."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            df = load_cohort(path)
        except CohortValidationError as exc:
            event(f"refused: {exc.problems[0].rule.split('(')[0][:40]}")
            assert str(exc).strip()
            assert exc.problems and all(p.rule and p.fix for p in exc.problems)
            assert path.read_bytes() == data
            return None
        assert path.read_bytes() == data
        event("loaded")
        revalidate(df, Path(folder))
        return df


def revalidate(df: pd.DataFrame, folder: Path) -> None:
    """A loaded frame satisfies the contract: written out and read again, it is the same."""
    assert list(df.columns[: len(COLUMNS)]) == COLUMNS
    assert df["patient_id"].is_unique and len(df) > 0
    private = folder / "private"
    private.mkdir()
    again = load_cohort(write_prepared(df, private, "again.csv"))
    pd.testing.assert_frame_equal(again[COLUMNS], df[COLUMNS], check_names=False)


def to_csv(header: list[str], rows: list[list[str]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@FUZZ
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".csv", ".tsv", ".xlsx",
                                                              ".parquet", ".txt", ".dat"]))
def test_random_bytes(data, suffix):
    attempt(data, suffix)


@FUZZ
@given(
    header=st.lists(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), min_size=1,
                    max_size=16),
    rows=st.lists(st.lists(nasty_text, max_size=17), max_size=6),
    delimiter=st.sampled_from([",", ",", ",", ";", "\t"]),
    raw=st.booleans(),
)
def test_random_csv_text(header, rows, delimiter, raw):
    if raw:  # joined by hand: quotes and line breaks inside cells are not escaped
        lines = [delimiter.join(header), *(delimiter.join(r) for r in rows)]
        data = "\n".join(lines).encode("utf-8")
    else:
        data = to_csv(header, rows, delimiter)
    attempt(data)


@st.composite
def damaged_cohort(draw) -> bytes:
    """A valid cohort (month columns or dates) with random cells, columns or rows damaged."""
    base_header, base_rows = BASES[draw(st.sampled_from(sorted(BASES)))]
    header = list(base_header)
    rows = [list(r) for r in draw(st.lists(st.sampled_from(base_rows), min_size=1,
                                           max_size=6))]
    for i, row in enumerate(rows):
        row[0] = f"F{i:03d}"
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        r = draw(st.integers(min_value=0, max_value=len(rows) - 1))
        c = draw(st.integers(min_value=0, max_value=len(header) - 1))
        rows[r][c] = draw(nasty_text)
    if draw(st.booleans()):  # extra columns, some with identifying or repeated names
        for name in draw(st.lists(st.sampled_from(["notes", "site", "died", "sex",
                                                   "Unnamed: 0", "", "email", "x"]),
                                  max_size=3)):
            header.append(name)
            for row in rows:
                row.append(draw(nasty_text))
    if draw(st.booleans()):  # a header cell replaced
        header[draw(st.integers(0, len(header) - 1))] = draw(st.sampled_from(NAMES))
    if draw(st.booleans()):  # a row cut short or run long
        row = rows[draw(st.integers(0, len(rows) - 1))]
        if draw(st.booleans()):
            del row[draw(st.integers(0, len(row) - 1)):]
        else:
            row.append(draw(nasty_text))
    data = to_csv(header, rows)
    if draw(st.booleans()):  # blank lines, a BOM, Windows line ends
        choice = draw(st.sampled_from(["blank", "bom", "crlf", "trailing"]))
        data = {"blank": data.replace(b"\n", b"\n\n", 1), "bom": b"\xef\xbb\xbf" + data,
                "crlf": data.replace(b"\n", b"\r\n"), "trailing": data + b",,,,\n"}[choice]
    return data


@FUZZ
@given(data=damaged_cohort())
def test_valid_rows_with_damage(data):
    attempt(data)


@settings(FUZZ, max_examples=40)  # two files per example; the readers are slower
@given(data=damaged_cohort())
def test_damaged_rows_via_excel_and_parquet(data):
    """The same damaged tables through the workbook and Parquet readers."""
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    except csv.Error:
        return
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append([ILLEGAL_CHARACTERS_RE.sub("", c) for c in row])
    buffer = io.BytesIO()
    book.save(buffer)
    attempt(buffer.getvalue(), ".xlsx")
    if rows and len(set(rows[0])) == len(rows[0]) and all(len(r) == len(rows[0])
                                                          for r in rows[1:]):
        frame = pd.DataFrame(rows[1:], columns=[c or f"c{i}" for i, c in enumerate(rows[0])])
        if frame.columns.is_unique:
            buffer = io.BytesIO()
            frame.to_parquet(buffer)
            attempt(buffer.getvalue(), ".parquet")


@st.composite
def plain_table(draw) -> tuple[bytes, str]:
    """A delimited table without quoting: the kind the fast path for plain files takes."""
    sep = draw(st.sampled_from([",", "\t"]))
    tokens = [t for t in [*"ab1 .-#\\'%;,\t", "\x0b", "\x0c", "\x1a", "\x85", "\u2028", "é",
                          "😀", "NA", "nan", "1e999"] if t != sep]
    cell = st.lists(st.sampled_from(tokens), max_size=3).map("".join)
    width = draw(st.integers(min_value=1, max_value=5))
    header = draw(st.lists(st.lists(st.sampled_from(tokens), min_size=1, max_size=3).map(
        "".join), min_size=width, max_size=width, unique=True))
    rows = draw(st.lists(st.lists(cell, min_size=width, max_size=width), max_size=5))
    text = "\n".join(sep.join(r) for r in [header, *rows])
    bom = "\ufeff" if draw(st.booleans()) else ""
    return (bom + text + ("\n" if draw(st.booleans()) else "")).encode("utf-8"), sep


@FUZZ
@given(table=plain_table())
def test_fast_reader_agrees_with_the_record_reader(table):
    """The fast path for plain files reads exactly what the record-by-record reader reads."""
    data, sep = table
    fast = _read_plain_delimited(data, sep)
    event("fast path" if fast is not None else "record reader only")
    if fast is None:
        return
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=sep,
                        strict=True)
    records, start = [], 1
    for cells in reader:
        records.append((start, cells))
        start = reader.line_num + 1
    slow = _frame_from_records("f.csv", records)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast.attrs == slow.attrs
