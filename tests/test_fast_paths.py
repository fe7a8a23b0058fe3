"""Registry-scale fast paths in reading and validation give exactly the slow paths' result.

``benchmarks/registry_scale.py`` needs a million-row file read and validated in
seconds. Three shortcuts make that possible; each must change nothing but the time:

- ``nethep.readers._read_plain_delimited``: a plain CSV/TSV (no quotes, carriage
  returns, blank or ragged lines) read by pandas' C parser instead of ``csv.reader``
  record by record; anything else falls through to the record reader.
- ``nethep.cohort._parse_column``: each distinct text parsed once by
  ``_parse_cell`` and spread back to its cells.
- ``nethep.cohort._as_text``: the all-text check by ``infer_dtype`` on object columns.
"""

from __future__ import annotations

import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nethep import cohort, readers
from nethep.errors import CohortValidationError

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def read_both(tmp_path, data: bytes, suffix: str = ".csv", monkeypatch=None):
    """(fast result, slow result); each a frame or the CohortValidationError text."""
    path = tmp_path / f"table{suffix}"
    path.write_bytes(data)

    def attempt():
        try:
            return readers.read_text_table(path)
        except CohortValidationError as exc:
            return str(exc)

    fast = attempt()
    monkeypatch.setattr(readers, "_read_plain_delimited", lambda data, sep: None)
    slow = attempt()
    monkeypatch.undo()
    return fast, slow


def assert_same(fast, slow):
    if isinstance(slow, str):
        assert fast == slow
        return
    pd.testing.assert_frame_equal(fast, slow)
    assert fast.index.name == slow.index.name
    assert fast.attrs == slow.attrs
    assert all(isinstance(v, str) for col in fast for v in fast[col])


CELL_CHARS = string.ascii_letters + string.digits + " .-+;:_/é€\t,\n\"\r"


@st.composite
def tables(draw):
    sep = draw(st.sampled_from([",", "\t"]))
    width = draw(st.integers(1, 5))
    names = draw(st.lists(st.text(string.ascii_lowercase + "_ ", min_size=0, max_size=6),
                          min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(st.text(CELL_CHARS, max_size=6), min_size=width - 1,
                                  max_size=width + 1), max_size=8))
    lines = [sep.join(names)] + [sep.join(r) for r in rows]
    ending = draw(st.sampled_from(["\n", "", "\n\n"]))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return (bom + "\n".join(lines) + ending).encode("utf-8"), (".csv" if sep == "," else ".tsv")


@FAST
@given(table=tables())
def test_plain_reader_equals_the_record_reader(tmp_path, monkeypatch, table):
    data, suffix = table
    fast, slow = read_both(tmp_path, data, suffix, monkeypatch)
    assert_same(fast, slow)


@st.composite
def plain_tables(draw):
    """Tables the fast path must take: exact widths, named columns, no quotes or CR."""
    sep = draw(st.sampled_from([",", "\t"]))
    other = "\t" if sep == "," else ","
    chars = string.ascii_letters + string.digits + " .-+;:_/é€" + other
    width = draw(st.integers(1, 6))
    names = draw(st.lists(st.text(chars, min_size=1, max_size=6), min_size=width,
                          max_size=width, unique=True))
    row = st.lists(st.text(chars, max_size=6), min_size=width, max_size=width).filter(
        lambda cells: any(cells))
    rows = draw(st.lists(row, min_size=1, max_size=8))
    lines = [sep.join(names)] + [sep.join(r) for r in rows]
    ending = draw(st.sampled_from(["\n", ""]))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return (bom + "\n".join(lines) + ending).encode("utf-8"), (".csv" if sep == "," else ".tsv")


@FAST
@given(table=plain_tables())
def test_plain_tables_take_the_fast_path_and_read_the_same(tmp_path, monkeypatch, table):
    data, suffix = table
    assert readers._read_plain_delimited(data, "," if suffix == ".csv" else "\t") is not None
    fast, slow = read_both(tmp_path, data, suffix, monkeypatch)
    assert_same(fast, slow)


def test_plain_file_takes_the_fast_path(tmp_path, monkeypatch):
    data = b"a,b,c\n1,,x\n2,3,\n"
    assert readers._read_plain_delimited(data, ",") is not None
    fast, slow = read_both(tmp_path, data, ".csv", monkeypatch)
    assert_same(fast, slow)
    assert list(fast.index) == [2, 3]


@pytest.mark.parametrize("data", [
    b'a,b\n"1,5",2\n',        # quoted cell
    b"a,b\r\n1,2\r\n",        # carriage returns
    b"a,b\n\n1,2\n",          # blank line
    b"a,b\n,\n1,2\n",         # all-empty row (skipped and counted by the record reader)
    b"a,b\n1,2,\n",           # trailing delimiter
    b"a,b\n1\n",              # short row
    b"a,,b\n1,2,3\n",         # unnamed column
    b"a,a\n1,2\n",            # duplicate name
    b"a,b\n",                 # header only
    b"a,b\n1,2\x00\n",        # NUL byte
])
def test_anything_unusual_goes_to_the_record_reader(tmp_path, monkeypatch, data):
    assert readers._read_plain_delimited(data, ",") is None
    fast, slow = read_both(tmp_path, data, ".csv", monkeypatch)
    assert_same(fast, slow)


POOL = ["", "0", "1", "12", "-3", "+4", "007", "1.5", ".5", "5.", "1e3", "1E-2", "2.5e+1",
        "1,5", "12 ", " 12", "abc", "NaN", "nan", "inf", "-inf", "1e400", "１２", "٣",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "99999999999999999999999", "0x10", "1_000", "3.0", "-0.0", "1.2.3"]


@settings(max_examples=100, deadline=None)
@given(cells=st.lists(st.sampled_from(POOL), min_size=1, max_size=60),
       kind=st.sampled_from(["integer", "number", "string"]))
def test_parse_column_equals_cell_by_cell(cells, kind):
    raw = pd.Series(cells, index=pd.RangeIndex(2, 2 + len(cells), name="line"), dtype=object)
    values, rules, fix = cohort._parse_column(raw, {"type": kind})
    if kind == "string":
        expected = [None if c == "" else c for c in cells]
        assert list(values) == expected
        return
    parsed = [cohort._parse_cell(c, kind) for c in cells]
    assert list(rules) == [rule for _, rule in parsed]
    expected = pd.array([v for v, _ in parsed], dtype="Int64" if kind == "integer" else "Float64")
    pd.testing.assert_extension_array_equal(values.array, expected)
    assert values.index.equals(raw.index) and rules.index.equals(raw.index)
    assert fix


def test_as_text_keeps_text_frames_and_converts_others():
    text = pd.DataFrame({"a": ["1", ""], "b": ["x", "y"]}, dtype=object)
    assert cohort._as_text(text) is text
    mixed = pd.DataFrame({"a": ["1", None], "b": [np.nan, "y"], "c": [3, 4]})
    out = cohort._as_text(mixed)
    assert out.to_dict("list") == {"a": ["1", ""], "b": ["", "y"], "c": ["3", "4"]}
    empty = pd.DataFrame({"a": pd.Series([], dtype=object)})
    assert cohort._as_text(empty) is empty
