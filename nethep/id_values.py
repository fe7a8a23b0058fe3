"""Identifier screening by value: e-mail, phone, national numbers (with checksums),
postcodes, dates of birth and long free text (docs/identifiers.md).

Every rule works on text cells, vectorised with pandas string methods, on at most
:data:`SAMPLE` non-empty cells of a column (a seeded sample of rows, chosen by
:mod:`nethep.identifiers`); e-mail addresses are searched in every cell. A column is
flagged when the stated share of its non-empty cells match:

- e-mail address anywhere in a cell: any cell;
- national numbers: :data:`NUMBER_SHARE` of the cells have the format *and* a valid
  check character, and at least ``min(3, cells)`` of them (a random 10-digit id passes
  the NHS check about 1 time in 11, so three ids in a row do so 1 time in 1,300);
- phone numbers: :data:`PHONE_SHARE`;
- postcodes: :data:`POSTCODE_SHARE`; numeric postcodes (4 or 5 digits) and unspaced
  UK postcodes only when the header hints at a postcode;
- dates of birth: :data:`DATE_SHARE` of the cells are dates, the header names no
  clinical event, and they lie at least :data:`BIRTH_GAP_YEARS` years before another
  date column of the same rows (median), or, with no other date column, their median
  age today is at least :data:`ADULT_YEARS`;
- long free text (at least 6 words and 40 characters): :data:`FREE_TEXT_SHARE` of the
  cells, most of them distinct.

No value is ever returned: a match says the kind and the rule, with counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

import numpy as np
import pandas as pd

SAMPLE = 2000  # cells per column checked (a seeded sample of rows beyond this)
NUMBER_SHARE = 0.5
PHONE_SHARE = 0.5
POSTCODE_SHARE = 0.8
DATE_SHARE = 0.8
FREE_TEXT_SHARE = 0.2
BIRTH_GAP_YEARS = 15.0
ADULT_YEARS = 18.0

# Number formats use [0-9], not \d (which also matches other scripts' digits).
EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"

_NHS = r"[0-9]{10}"
_BSN = r"[0-9]{8,9}"
_BE_NN = r"[0-9]{11}"
_NIR = r"[1-478][0-9]{2}(?:0[1-9]|1[0-2]|[2-9][0-9])(?:[0-9]{2}|2[AB])[0-9]{8}"
_CF_DIGIT = "[0-9LMNPQRSTUV]"
_CODICE_FISCALE = (f"[A-Z]{{6}}{_CF_DIGIT}{{2}}[ABCDEHLMPRST]{_CF_DIGIT}{{2}}[A-Z]"
                   f"{_CF_DIGIT}{{3}}[A-Z]")
_DNI = r"[0-9]{8}[A-Z]"
_NIE = r"[XYZ][0-9]{7}[A-Z]"
_KVNR = r"[A-Z][0-9]{9}"
_US_SSN = r"(?!000|666|9[0-9]{2})[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}"
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_CF_ODD = MappingProxyType(dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                   (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21,
                    2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23), strict=True)))

_PHONE_INTERNATIONAL = r"(?:\+|00)[1-9][\d\s.\-()/]{6,20}\d"
_PHONE_NATIONAL = r"\(?0\d{1,4}\)?(?:[\s.\-/]\d{2,8}){1,5}"
_PHONE_NANP = r"\(?[2-9]\d{2}\)?[\s.\-]?[2-9]\d{2}[\s.\-]\d{4}"
_PHONE_MOBILE = r"0[67]\d{8}|07\d{9}|01[5-7]\d{8,9}"

_POSTCODE_UK_SPACED = r"[A-Z]{1,2}\d[A-Z\d]?\s+\d[A-Z]{2}"
_POSTCODE_NL = r"[1-9]\d{3}\s?[A-Z]{2}"
_POSTCODE_HINTED = r"[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|(?:[A-Z]{1,2}-)?\d{4,5}(?:-\d{4})?"

_DATE_LIKE = r"\d{1,4}[\-/.]\d{1,2}[\-/.]\d{1,4}(?:[ T].*)?"
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m/%d/%Y", "%Y/%m/%d")


@dataclass(frozen=True)
class ValueMatch:
    """What a column's values look like (the kind) and the rule that said so, with counts."""

    kind: str
    rule: str


def _of(matched: int, cells: int, sampled: bool) -> str:
    sample = f" of a seeded sample of {SAMPLE:,} rows" if sampled else ""
    return f"in {matched:,} of {cells:,} non-empty cells{sample}"


def _digits(values: pd.Series, width: int) -> np.ndarray:
    """Rows of digits of equal-width digit strings, as a (n, width) integer array."""
    if values.empty:
        return np.zeros((0, width), dtype=np.int64)
    raw = np.frombuffer("".join(values).encode("ascii"), dtype=np.uint8)
    return raw.reshape(-1, width).astype(np.int64) - 48


def nhs_valid(values: pd.Series) -> pd.Series:
    """NHS numbers (10 digits): weights 10..2, check = 11 - sum mod 11 (11 -> 0, 10 invalid)."""
    d = _digits(values, 10)
    check = 11 - (d[:, :9] @ np.arange(10, 1, -1)) % 11
    check = np.where(check == 11, 0, check)
    return pd.Series((check != 10) & (check == d[:, 9]), index=values.index)


def bsn_valid(values: pd.Series) -> pd.Series:
    """Dutch BSN (9 digits, 8 with a leading zero dropped): the 11-proof, weights 9..2, -1."""
    d = _digits(values.str.zfill(9), 9)
    total = d @ np.array([9, 8, 7, 6, 5, 4, 3, 2, -1])
    return pd.Series((total % 11 == 0) & (d.sum(axis=1) > 0), index=values.index)


def belgian_nn_valid(values: pd.Series) -> pd.Series:
    """Belgian national register number (11 digits): 97 - first 9 digits mod 97 (with a
    leading 2 for births from 2000, when that year is not in the future)."""
    first, key = values.str[:9].astype("int64"), values.str[9:].astype("int64")
    born_2000s = values.str[:2].astype("int64") + 2000 <= date.today().year
    return (97 - first % 97 == key) | (born_2000s & (97 - (first + 2_000_000_000) % 97 == key))


def nir_valid(values: pd.Series) -> pd.Series:
    """French NIR (15 characters): key = 97 - first 13 digits mod 97 (2A -> 19, 2B -> 18)."""
    body = values.str[:13].str.replace("2A", "19").str.replace("2B", "18")
    return 97 - body.astype("int64") % 97 == values.str[13:].astype("int64")


def codice_fiscale_valid(values: pd.Series) -> pd.Series:
    """Italian codice fiscale (16 characters): the check letter of the official odd/even
    tables (Ministerial Decree 23/12/1976)."""
    def check(code: str) -> bool:
        total = sum(_CF_ODD[c] if i % 2 == 0 else (int(c) if c.isdigit() else ord(c) - 65)
                    for i, c in enumerate(code[:15]))
        return chr(65 + total % 26) == code[15]
    return values.map(check).astype(bool)


def dni_valid(values: pd.Series) -> pd.Series:
    """Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter): letter of
    the number mod 23."""
    number = values.str[:-1].str.replace("X", "0").str.replace("Y", "1").str.replace("Z", "2")
    letters = (number.astype("int64") % 23).map(_DNI_LETTERS.__getitem__)
    return letters == values.str[-1]


def kvnr_valid(values: pd.Series) -> pd.Series:
    """German KVNR (letter + 9 digits): the letter as 01-26, then 8 digits, weights 1,2,...,
    two-digit products replaced by their digit sum, sum mod 10 = the last digit."""
    letter = values.str[0].map(lambda c: f"{ord(c) - 64:02d}")
    d = _digits(letter + values.str[1:9], 10)
    products = d * np.tile([1, 2], 5)
    total = (products // 10 + products % 10).sum(axis=1)
    return pd.Series(total % 10 == values.str[9].astype("int64").to_numpy(), index=values.index)


# (kind, what the rule says, format regex on the compact upper-case text, checksum)
NUMBER_RULES = (
    ("national health number", "NHS number format (10 digits), mod-11 check digit valid",
     _NHS, nhs_valid),
    ("national identity number", "Dutch BSN format (9 digits), 11-proof valid", _BSN,
     bsn_valid),
    ("national identity number", "Belgian national register number format (11 digits), "
     "mod-97 check valid", _BE_NN, belgian_nn_valid),
    ("social security number", "French NIR format (15 characters), key 97 valid", _NIR,
     nir_valid),
    ("national identity number", "Italian codice fiscale format (16 characters), check "
     "letter valid", _CODICE_FISCALE, codice_fiscale_valid),
    ("national identity number", "Spanish DNI format (8 digits and a letter), mod-23 check "
     "letter valid", _DNI, dni_valid),
    ("national identity number", "Spanish NIE format (X/Y/Z, 7 digits and a letter), mod-23 "
     "check letter valid", _NIE, dni_valid),
    ("national health number", "German KVNR format (a letter and 9 digits), check digit "
     "valid", _KVNR, kvnr_valid),
)


def email_match(column: pd.Series) -> ValueMatch | None:
    """An e-mail address in any cell (every cell is searched: the column joined into one
    text is searched for '@' first, so a column without one costs one pass in C)."""
    if "@" not in "\x00".join(column.tolist()):
        return None
    at = column[column.str.contains("@", regex=False, na=False)]
    found = int(at.str.contains(EMAIL, regex=True).sum())
    if not found:
        return None
    cells = int((column.str.strip() != "").sum())
    return ValueMatch("email", f"e-mail addresses {_of(found, cells, False)} "
                               "(one is enough)")


def number_match(values: pd.Series, sampled: bool) -> ValueMatch | None:
    """A national number format with a valid check character in enough cells."""
    n = len(values)
    needed = max(NUMBER_SHARE * n, min(3, n))
    if (values.str.len() >= 8).sum() < needed:  # every format has 8 or more characters
        return None
    compact = values.str.replace(r"[\s.\-/]", "", regex=True).str.upper()
    us = int(values.str.fullmatch(_US_SSN).sum())
    if us >= needed:
        return ValueMatch("social security number",
                          f"US SSN format (NNN-NN-NNNN) {_of(us, n, sampled)}")
    for kind, what, pattern, valid in NUMBER_RULES:
        shaped = compact[compact.str.fullmatch(pattern)]
        if len(shaped) < needed:
            continue
        ok = int(valid(shaped).sum())
        if ok >= needed:
            return ValueMatch(kind, f"{what} {_of(ok, n, sampled)}")
    return None


def phone_match(values: pd.Series, sampled: bool) -> ValueMatch | None:
    """Phone numbers: +/00 country prefix, trunk 0 with grouping, North American, or an
    unseparated mobile number (FR/NL 06/07, UK 07, DE 015-017); 8-15 digits."""
    if (values.str.len() >= 8).mean() < PHONE_SHARE:
        return None
    digits = values.str.count(r"\d")
    international = values.str.fullmatch(_PHONE_INTERNATIONAL) & digits.between(8, 15)
    national = (values.str.fullmatch(_PHONE_NATIONAL) | values.str.fullmatch(_PHONE_NANP)
                | values.str.fullmatch(_PHONE_MOBILE)) & digits.between(9, 13)
    found = int((international | national).sum())
    if found >= PHONE_SHARE * len(values):
        return ValueMatch("phone or fax", "phone-number format (+/00 country prefix, trunk 0 "
                          "with grouping, or a mobile prefix) "
                          f"{_of(found, len(values), sampled)}")
    return None


def postcode_match(values: pd.Series, sampled: bool, hinted: bool) -> ValueMatch | None:
    """UK (spaced) and Dutch postcodes; with a postcode header also numeric and unspaced ones."""
    if values.str.len().between(4, 10).mean() < POSTCODE_SHARE:
        return None
    upper = values.str.upper()
    found = upper.str.fullmatch(_POSTCODE_UK_SPACED) | upper.str.fullmatch(_POSTCODE_NL)
    if hinted:
        found |= upper.str.fullmatch(_POSTCODE_HINTED)
    count = int(found.sum())
    if count >= POSTCODE_SHARE * len(values):
        how = " (header says postcode)" if hinted else ""
        return ValueMatch("postcode", f"postcode format{how} {_of(count, len(values), sampled)}")
    return None


def parse_dates(values: pd.Series) -> pd.Series | None:
    """Dates in the format most cells follow (:data:`DATE_FORMATS`, time ignored), or None
    when fewer than :data:`DATE_SHARE` of the cells are dates."""
    if values.empty or values.str.fullmatch(_DATE_LIKE).mean() < DATE_SHARE:
        return None
    day = values.str.extract(r"^(\S+)", expand=False)
    best = None
    for fmt in DATE_FORMATS:
        parsed = pd.to_datetime(day, format=fmt, errors="coerce")
        if best is None or parsed.notna().sum() > best.notna().sum():
            best = parsed
    if best is None or best.notna().mean() < DATE_SHARE:
        return None
    return best


def birth_date_match(dates: pd.Series, others: list[pd.Series], today: date,
                     cells: int, sampled: bool) -> ValueMatch | None:
    """Dates that lie decades before the row's other dates, or (no other dates) whose
    median age today is adult."""
    years = pd.Timedelta(days=365.25)
    found = f"dates {_of(int(dates.notna().sum()), cells, sampled)}"
    for other in others:
        gap = ((other - dates) / years).dropna()
        if len(gap) and gap.median() >= BIRTH_GAP_YEARS:
            return ValueMatch("exact birth date", f"{found}, a median of "
                              f"{BIRTH_GAP_YEARS:g} or more years before another date of "
                              "the same row")
    if others:
        return None
    age = ((pd.Timestamp(today) - dates) / years).dropna()
    if len(age) and age.between(0, 115).mean() >= DATE_SHARE and age.median() >= ADULT_YEARS:
        return ValueMatch("exact birth date", f"{found}, a median of {ADULT_YEARS:g} or "
                          "more years before today, under a header that names no clinical "
                          "event")
    return None


def free_text_match(values: pd.Series, sampled: bool) -> ValueMatch | None:
    """Long free text: cells of at least 6 words and 40 characters, mostly distinct."""
    long = values[(values.str.len() >= 40) & (values.str.count(r"\s+") >= 5)]
    if len(long) >= FREE_TEXT_SHARE * len(values) and long.nunique() >= 0.5 * len(long) > 0:
        return ValueMatch("free text", f"long free text (6 or more words) "
                          f"{_of(len(long), len(values), sampled)}; notes can name people, "
                          "places and dates")
    return None
