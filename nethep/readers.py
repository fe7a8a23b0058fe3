"""Read a user's table (CSV, TSV, Excel .xlsx or Parquet) as a frame of text cells.

:func:`read_text_table` reads every cell as text (only an empty cell is missing),
indexed by the line of each row in the file (index name :data:`LINE`) so that
every later problem can name it. A UTF-8 byte-order mark is accepted, and rows
whose cells are all empty are skipped (counted in ``attrs["skipped_empty_rows"]``).
Other encodings, semicolon- or tab-delimited text under the wrong name, malformed
quoting, rows with more or fewer cells than the header, repeated column names,
unreadable workbooks or Parquet files, and workbooks with several sheets (without
``sheet=``) are refused with a :class:`~nethep.errors.CohortValidationError`
naming the fix. Nothing is parsed by type here: :mod:`nethep.cohort` does that.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd

from nethep.errors import CohortValidationError, Problem, fail

LINE = "line"  # index name of a text frame whose index holds file lines


#: The first bytes of files people save by mistake under a table's name, and what they are.
MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel 97-2003 workbook (.xls) or another "
     "old Office file", "open it in Excel and save it as .xlsx (Excel Workbook) or as "
     "'CSV UTF-8 (comma delimited)'"),
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first (e.g. gunzip, 7-Zip) and give "
     "the .csv, .tsv, .xlsx or .parquet file inside"),
    (b"\x89PNG", "a PNG image, not a table", "give the cohort table itself (.csv, .tsv, .xlsx or "
     ".parquet), not a picture of it"),
    (b"\xff\xd8\xff", "a JPEG image, not a table", "give the cohort table itself, not a picture "
     "of it"),
    (b"GIF8", "a GIF image, not a table", "give the cohort table itself, not a picture of it"),
    (b"%PDF", "a PDF document, not a table", "export the table from the program that made the "
     "PDF as .csv or .xlsx"),
    (b"BZh", "a bzip2-compressed file", "decompress it first and give the file inside"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "decompress it first and give the file inside"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it first and give the file inside"),
    (b"SQLite format 3\x00", "an SQLite database", "export the cohort table as .csv"),
    (b"PAR1", "a Parquet file", "rename it to .parquet"),
    (b"{\\rtf", "a Rich Text (RTF) document, not a table", "save the table as .csv or .xlsx"),
)


def _what_the_bytes_are(head: bytes, suffix: str) -> tuple[str, str] | None:
    """What a file is by its first bytes, when that is not what its name says."""
    for magic, what, fix in MAGIC:
        if head.startswith(magic):
            if magic == b"PAR1" and suffix == ".parquet":
                return None
            return what, fix
    if head.startswith(b"PK\x03\x04") and suffix not in {".xlsx", ".xlsm"}:
        return None  # a workbook under a text name: the delimited reader says so
    return None


def read_text_table(path: Path, sheet: str | None = None,
                    header_row: int | None = None) -> pd.DataFrame:
    """Read a CSV, TSV, .xlsx or Parquet file with every cell as text.

    The index holds each row's line in the file (its row number in a workbook), so
    problems can name it. Rows whose cells are all empty are skipped; they are
    counted in ``attrs["skipped_empty_rows"]``. ``header_row`` (1-based line or
    sheet row) names the header when title rows stand above it; by default the
    first non-empty line is the header, and a lone title above a wider table is
    refused with the line of the header it seems to stand over. What the file is
    is told by its first bytes (an old .xls, a gzip file, an image, ...), not by
    its name alone.
    """
    path = Path(path)
    file = str(path)
    suffix = path.suffix.lower()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise fail(file, f"cannot read the file ({exc.strerror or exc})",
                    "check the path and that you may read the file") from None
    if size == 0:
        raise fail(file, "the file is empty",
                    "export the cohort with a header row and one row per patient")
    if header_row is not None and (isinstance(header_row, bool) or header_row < 1):
        raise fail(file, f"--header-row {header_row} is not a line of the file",
                   "give the line (sheet row) of the header, counting from 1")
    with path.open("rb") as fh:
        head = fh.read(16)
    found = _what_the_bytes_are(head, suffix)
    if found is not None:
        what, fix = found
        raise fail(file, f"the file is {what} (named '{suffix or '(no extension)'}')", fix)
    if suffix in {".csv", ".txt", ".tsv", ".tab"}:
        frame = _read_delimited(path, "\t" if suffix in {".tsv", ".tab"} else ",", header_row)
    elif suffix in {".xlsx", ".xlsm"}:
        frame = _read_excel(path, sheet, header_row)
    elif suffix == ".parquet":
        frame = _read_parquet(path)
    else:
        fix = "save the cohort as .csv (UTF-8), .tsv, .xlsx or .parquet"
        if suffix == ".xls":
            fix = "open it in Excel and save it as .xlsx (Excel Workbook) or as 'CSV UTF-8'"
        raise fail(file, f"unsupported file type '{suffix or '(no extension)'}'", fix)
    return frame


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise fail(str(path), f"cannot read the file ({exc.strerror or exc})",
                    "check the path and that you may read the file") from None


def _read_delimited(path: Path, sep: str, header_row: int | None = None) -> pd.DataFrame:
    file = str(path)
    data = _read_bytes(path)
    if data.startswith(b"PK\x03\x04"):
        raise fail(file, f"the file is an Excel workbook (a zip archive) named "
                    f"'{path.suffix}'", "rename it to .xlsx, or save it from Excel as "
                    "'CSV UTF-8 (comma delimited)'")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        kind = " (it looks like UTF-16, Excel's 'Unicode Text')" if data[:2] in (
            b"\xff\xfe", b"\xfe\xff") else ""
        raise fail(file, f"the file is not UTF-8 text{kind} ({exc.reason} at byte {exc.start})",
                    "save it from your spreadsheet program as 'CSV UTF-8 (comma delimited)'",
                    line=data[: exc.start].count(b"\n") + 1) from None
    header = next((ln for ln in text.splitlines() if ln.strip()), "")
    if sep == "," and header.count(";") > header.count(","):
        raise fail(file, "the file is semicolon-delimited (a European spreadsheet export)",
                    "give nethep the .xlsx workbook instead (it reads .xlsx directly, in any "
                    "locale); Excel set to a European locale writes semicolons even as 'CSV "
                    "UTF-8', so a CSV needs ',' as the list separator and '.' as the decimal "
                    "symbol in the regional settings", line=1)
    if sep == "," and header.count("\t") > header.count(","):
        raise fail(file, f"the file is tab-delimited but named '{path.suffix}'",
                    "rename it to .tsv (nethep reads tab-delimited files by that name), or "
                    "save it as 'CSV UTF-8 (comma delimited)'", line=1)
    if sep == "\t" and header.count(",") > header.count("\t"):
        raise fail(file, f"the file is comma-delimited but named '{path.suffix}'",
                    "rename it to .csv", line=1)
    plain = _read_plain_delimited(data, sep) if header_row is None else None
    if plain is not None:
        return plain
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise fail(file, f"the file is not a well-formed table ({exc})",
                    "look at this line for a double quote (\") that is not closed or is "
                    "followed by more text in the same cell, then re-export from the "
                    "spreadsheet program", line=start) from None
    return _frame_from_records(file, records, header_row)


def _read_plain_delimited(data: bytes, sep: str) -> pd.DataFrame | None:
    """Fast path for a plain table; None when the file needs the record-by-record reader.

    A file qualifies when it has no double quote, carriage return or NUL byte, no
    blank or all-empty line, a header whose names are all given and distinct, at
    least one row, and exactly as many delimiters on every line as the header:
    then every line is one record and every delimiter separates two cells, so
    pandas' C parser (no quoting, no NA parsing) yields the same text cells, indexed
    by the same file lines (2, 3, ...), as ``csv.reader`` and
    :func:`_frame_from_records` do, in a fraction of the time on a registry file.
    """
    if b'"' in data or b"\r" in data or b"\0" in data:
        return None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if body.endswith(b"\n"):
        body = body[:-1]
    raw = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    if len(ends) == 0:
        return None  # a header without rows: leave it to the full reader
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends, [len(raw)]])
    delimiters = np.flatnonzero(raw == ord(sep))
    per_line = np.searchsorted(delimiters, stops) - np.searchsorted(delimiters, starts)
    width = int(per_line[0]) + 1
    if (per_line != width - 1).any() or (stops - starts <= width - 1).any():
        return None  # ragged, blank or all-empty lines
    names = body[: stops[0]].decode("utf-8").split(sep)
    if "" in names or len(set(names)) != len(names):
        return None
    frame = pd.read_csv(io.BytesIO(body), sep=sep, header=0, names=names, dtype=object,
                        encoding="utf-8", keep_default_na=False, na_filter=False,
                        quoting=csv.QUOTE_NONE, skip_blank_lines=False, engine="c")
    if (frame[names[0]] == names[0]).any():
        repeats = frame[frame[names[0]] == names[0]]
        if (repeats == names).all(axis=1).any():
            return None  # the header repeated below: the full reader names the lines
    frame.index = pd.Index(np.arange(2, len(frame) + 2), name=LINE, dtype="int64")
    frame.attrs["skipped_empty_rows"] = []
    return frame


def _read_excel(path: Path, sheet: str | None, header_row: int | None = None) -> pd.DataFrame:
    file = str(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means: not a readable workbook
        raise fail(file, f"cannot be read as an Excel workbook ({type(exc).__name__}: {exc})",
                    "open it in Excel and save it again as .xlsx, or save the cohort as "
                    "'CSV UTF-8'") from None
    try:
        sheets = list(book.sheetnames)
        if sheet is None and len(sheets) > 1:
            raise fail(file, f"the workbook has {len(sheets)} sheets ({', '.join(sheets)})",
                        "name the sheet that holds the cohort with --sheet (sheet= in Python), "
                        "or save it alone")
        chosen = sheet if sheet is not None else sheets[0]
        if chosen not in sheets:
            raise fail(file, f"no sheet named '{chosen}'", f"use one of: {', '.join(sheets)}")
        if not hasattr(book[chosen], "iter_rows"):
            raise fail(file, f"the sheet '{chosen}' is a chart, not a table",
                        "name the sheet that holds the cohort with --sheet")
        # cells, not values: a cell formatted as a percentage (34% is stored as 0.34)
        # is read as the percentage the sheet shows (34)
        rows = [(number, [_excel_cell(c.value, getattr(c, "number_format", None))
                          for c in cells])
                for number, cells in enumerate(book[chosen].iter_rows(), start=1)]
    finally:
        book.close()
    _refuse_formulas_without_values(path, chosen, rows)
    return _frame_from_records(file, rows, header_row)


def _refuse_formulas_without_values(path: Path, sheet: str,
                                    rows: list[tuple[int, list[str]]]) -> None:
    """Formula cells the workbook holds no computed value for (a file written by a
    program, never opened and saved in Excel) read as empty: name them instead. Only
    rows with an empty cell are looked up, in a second, formula-reading pass."""
    with_gaps = {number for number, cells in rows if "" in cells}
    if not with_gaps or not _has_formula_tags(path):
        return
    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        found = [(number, position + 1)
                 for number, cells in enumerate(book[sheet].iter_rows(values_only=True), 1)
                 if number in with_gaps
                 for position, value in enumerate(cells)
                 if isinstance(value, str) and value.startswith("=")
                 and position < len(rows[number - 1][1]) and rows[number - 1][1][position] == ""]
    finally:
        book.close()
    if found:
        where = ", ".join(f"row {n} column {c}" for n, c in found[:10])
        raise fail(str(path), f"{len(found)} formula cell(s) have no computed value saved in "
                   f"the workbook ({where}{', ...' if len(found) > 10 else ''})",
                   "open the workbook in Excel (or LibreOffice), let it calculate, and save "
                   "it again; or paste the column as values")


#: A formula element in a worksheet's XML, ``<f>``, ``<f t="shared" .../>`` or with a
#: namespace prefix (``<x:f>``); no other SpreadsheetML element is named ``f``, and cell
#: text cannot contain ``<``.
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s/>]")


def _has_formula_tags(path: Path, chunk: int = 1 << 20) -> bool:
    """Whether any worksheet of the workbook holds a formula: a scan of the raw XML
    (0.14 s for 20,000 rows, against 6.6 s for openpyxl's formula-reading pass, which
    is then skipped for the usual export without formulas). Any sheet counts, and a workbook
    whose sheets are not where Excel puts them is assumed to have formulas."""
    with zipfile.ZipFile(path) as archive:
        sheets = [name for name in archive.namelist()
                  if name.startswith("xl/worksheets/") and name.endswith(".xml")]
        if not sheets:
            return True
        for name in sheets:
            with archive.open(name) as fh:
                tail = b""
                while block := fh.read(chunk):
                    if _FORMULA_TAG.search(tail + block):
                        return True
                    tail = block[-64:]
    return False


def _excel_cell(x: Any, number_format: str | None = None) -> str:
    """A workbook value as the text the sheet shows: dates YYYY-MM-DD, whole floats
    without ``.0``, a percent-formatted number as its percentage (0.34 -> 34)."""
    if x is None:
        return ""
    if isinstance(x, datetime | date):
        return x.strftime("%Y-%m-%d")
    if (number_format and "%" in number_format and isinstance(x, int | float)
            and not isinstance(x, bool) and np.isfinite(x)):
        return _plain_decimal(Decimal(repr(x)) * 100)
    if isinstance(x, float):
        if np.isnan(x):
            return ""
        if x.is_integer():
            return str(int(x))
        return repr(x)
    return str(x)


def _plain_decimal(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros (34.0 -> 34, 12.50 -> 12.5)."""
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _read_parquet(path: Path) -> pd.DataFrame:
    file = str(path)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for bad files
        reason = " ".join(str(exc).split())[:200]
        raise fail(file, f"cannot be read as a Parquet file ({type(exc).__name__}: {reason})",
                    "write it again with pandas.DataFrame.to_parquet, or save the cohort as "
                    "'CSV UTF-8'") from None
    names = [str(c) for c in frame.columns]
    _refuse_duplicate_names(file, names, None)
    text = pd.DataFrame({i: _parquet_text(frame.iloc[:, i]) for i in range(frame.shape[1])})
    text.columns = names
    text.index = pd.Index(np.arange(len(frame)) + 2, name=LINE)
    return text


def _parquet_text(col: pd.Series) -> pd.Series:
    if col.dtype == np.float32:  # shortest text of the float32 value: 0.1, not 0.100000001
        col = col.map(lambda x: x if pd.isna(x) else float(str(np.float32(x))))
    return col.astype(object).map(_parquet_cell).astype(object).reset_index(drop=True)


def _parquet_cell(x: Any) -> str:
    """A Parquet value as the text a spreadsheet would show (dates as YYYY-MM-DD)."""
    if x is None or x is pd.NA or x is pd.NaT:
        return ""
    if isinstance(x, datetime | date):  # also pandas Timestamps
        return x.strftime("%Y-%m-%d")
    if isinstance(x, float | np.floating):
        return _excel_cell(float(x))
    if isinstance(x, np.integer):
        return str(int(x))
    return str(x)


def _header_record(file: str, records: list[tuple[int, list[str]]],
                   header_row: int | None) -> int:
    """Position in ``records`` of the header: the record on line ``header_row``, else the
    first one; a lone title (one filled cell) above a wider row is refused."""
    if header_row is not None:
        for position, (line, _) in enumerate(records):
            if line >= header_row:
                if line != header_row:
                    break
                return position
        raise fail(file, f"line {header_row} (--header-row) is empty or not in the file",
                   "give the line (sheet row) that holds the column names, counting from 1")

    def filled(cells: list[str]) -> int:
        return sum(c != "" for c in cells)

    first = filled(records[0][1])
    below = next(((line, n) for line, cells in records[1:20]
                  if (n := filled(cells)) >= max(3, 2 * first)), None)
    if first <= 2 and below is not None:
        line, n = below
        cells = "a single cell" if first == 1 else f"only {first} cells"
        raise fail(file, f"line {records[0][0]} holds {cells} above a table of {n} "
                   f"columns: it looks like a title, not the header (which seems to be on "
                   f"line {line})", f"delete the title line(s) above the header, or pass "
                   f"--header-row {line}", line=records[0][0])
    return 0


def _frame_from_records(file: str, records: list[tuple[int, list[str]]],
                        header_row: int | None = None) -> pd.DataFrame:
    """A text frame from (line, cells) records: the first non-empty record (or the one
    on line ``header_row``) is the header; rows that repeat it are refused."""
    empty = [line for line, cells in records if cells and not any(c != "" for c in cells)]
    records = [(line, cells) for line, cells in records if any(c != "" for c in cells)]
    if not records:
        raise fail(file, "the file holds no table (only empty lines)",
                    "export the cohort with a header row and one row per patient")
    records = records[_header_record(file, records, header_row):]
    header_line, header = records[0]
    names = [c if c != "" else f"Unnamed: {i}" for i, c in enumerate(header)]
    _refuse_duplicate_names(file, names, header_line)
    width = len(names)
    problems = []
    rows, lines = [], []
    for line, cells in records[1:]:
        if cells[:width] == header and any(header):
            problems.append(Problem.at(
                file, f"the row repeats the header line (line {header_line})",
                "delete this line: two exports were probably pasted one below the other",
                line=line))
            continue
        if len(cells) > width and any(c != "" for c in cells[width:]):
            problems.append(Problem.at(
                file, f"the row has {len(cells)} cells but the header has {width}",
                "a cell probably holds an unquoted comma (e.g. a decimal comma, 12,5) or the "
                "header lacks a name; quote the cell or fix the header, then re-export",
                line=line))
            continue
        if len(cells) < width:
            problems.append(Problem.at(
                file, f"the row has {len(cells)} cells but the header has {width}",
                "every row needs one cell per column (an empty cell still needs its "
                "delimiter); look for a line break inside a cell", line=line))
            continue
        rows.append(cells[:width])
        lines.append(line)
    if problems:
        raise CohortValidationError(problems)
    frame = pd.DataFrame(rows, columns=names, index=pd.Index(lines, name=LINE, dtype="int64"),
                         dtype=object)
    if not rows:
        frame = pd.DataFrame({n: pd.Series([], dtype=object) for n in names},
                             index=pd.Index([], name=LINE, dtype="int64"))
    unnamed_empty = [n for n, h in zip(names, header, strict=True)
                     if h == "" and not (frame[n] != "").any()]
    frame = frame.drop(columns=unnamed_empty)
    frame.attrs["skipped_empty_rows"] = [line for line in empty if line > header_line]
    return frame


def _refuse_duplicate_names(file: str, names: list[str], header_line: int | None) -> None:
    counts: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        counts.setdefault(name, []).append(position)
    problems = [
        Problem.at(file, f"the column name appears {len(where)} times in the header "
                 f"(columns {', '.join(map(str, where))})",
                 "keep one column with this name; rename or delete the others",
                 column=name, line=header_line)
        for name, where in counts.items() if len(where) > 1
    ]
    if problems:
        raise CohortValidationError(problems)
