"""Direct identifiers in a user's table, found by header and by value (docs/identifiers.md).

:func:`screen_identifiers` reads every column twice:

1. **Header** (:func:`header_match`): the header is normalised
   (:func:`header_tokens`: REDCap suffixes, camelCase, accents, case, separators,
   stop words) and matched on whole tokens against the six-language vocabulary of
   :mod:`nethep.id_vocabulary` (names, initials, dates and places of birth,
   addresses, postcodes, phone, e-mail, national health, social security and
   identity numbers, hospital and EHR patient numbers, accounts, IP/URL, device
   serials, photos, vehicles). The contract's own columns and REDCap's system
   columns always pass.
2. **Values** (:mod:`nethep.id_values`), for the columns whose header passed:
   e-mail (every cell), then on a seeded sample of :data:`nethep.id_values.SAMPLE`
   rows: national numbers with their checksums, phone numbers, postcodes, dates of
   birth and long free text.

The result names each column, the kind, the rule (with counts, never a value) and
what to do. Values are never read into a message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache
from types import MappingProxyType
from typing import Any

import pandas as pd

from nethep.contract import fields
from nethep.errors import Problem
from nethep.id_values import (
    SAMPLE,
    ValueMatch,
    birth_date_match,
    email_match,
    free_text_match,
    number_match,
    parse_dates,
    phone_match,
    postcode_match,
)
from nethep.id_vocabulary import (
    DISMISS,
    EVENT_WORDS,
    POSTCODE_HINTS,
    QUALIFIERS,
    STOPWORDS,
    VOCABULARY,
)

#: Columns that are never identifiers by header: the contract's date columns and
#: REDCap's system columns (the contract's own columns are added from the contract).
SYSTEM_COLUMNS = frozenset({
    "date_of_diagnosis", "date_of_treatment", "date_last_contact", "date_of_death",
    "record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
    "redcap_data_access_group",
})
#: Kinds that an activity word (DISMISS) in the header cancels.
CONTACT_KINDS = frozenset({"email", "phone or fax", "street address", "town or city",
                           "postcode"})
SEED = 20240613  # the row sample for value screening
FIX = ("remove the column from the file (it is never needed), or pass --allow-identifiers "
       "to have nethep drop it on reading")
FIX_MANY = ("remove these columns from the file (they are never needed), or pass "
            "--allow-identifiers to have nethep drop them on reading")
FIX_CONTRACT = ("replace these values by the study's own numbers (e.g. S001, S002...): "
                "this column is needed, so --allow-identifiers cannot drop it")

_REDCAP_CHECKBOX = re.compile(r"___[A-Za-z0-9_]+$")
_REDCAP_CHOICE = re.compile(r"\s*\(choice=.*\)\s*$", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])|(?<=[A-Z])(?=[A-Z][a-z])"
                    r"|(?<=[a-z]{2})(?=[A-Z]{2,}$)")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")
_FOLD = MappingProxyType(str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d",
                                        "ı": "i"}))


def header_tokens(name: object) -> tuple[str, ...]:
    """A header as lower-case ASCII words without stop words or numbers.

    REDCap's checkbox suffix (``race___1``) and label suffix (``(choice=...)``) are
    dropped; camelCase is split (``firstName``, ``PatID``; ``DoB`` stays one word);
    accents are removed and case folded (``Prénom`` -> ``prenom``, ``Straße`` ->
    ``strasse``); every other character separates words.
    """
    text = _REDCAP_CHOICE.sub("", _REDCAP_CHECKBOX.sub("", str(name).strip()))
    text = _CAMEL.sub(" ", text)
    text = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    text = "".join(c for c in text if not unicodedata.combining(c))
    words = re.split(r"[^a-z0-9]+", _LETTER_DIGIT.sub(" ", text))
    return tuple(w for w in words if w and not w.isdigit() and w not in STOPWORDS)


@dataclass(frozen=True)
class HeaderMatch:
    """The vocabulary entry a header matched: kind, phrase as written, language."""

    kind: str
    phrase: str
    language: str


@dataclass(frozen=True)
class _Entry:
    kind: str
    phrase: str
    language: str
    tokens: tuple[str, ...]
    joined: frozenset[str]
    mode: str  # "anywhere", "alone" (with qualifiers only) or "compound" (word end)


@cache
def _entries() -> tuple[_Entry, ...]:
    entries = []
    for kind, languages in VOCABULARY.items():
        for language, phrases in languages.items():
            for phrase in phrases:
                mode = {"=": "alone", "*": "compound"}.get(phrase[0], "anywhere")
                text = phrase.lstrip("=*")
                tokens = header_tokens(text)
                raw = [w for w in re.split(r"[^a-z0-9]+", text) if w]
                joined = frozenset({"".join(tokens), "".join(raw)}) if len(raw) > 1 else \
                    frozenset()
                entries.append(_Entry(kind, phrase, language, tokens, joined, mode))
    return tuple(entries)


@cache
def _exempt() -> frozenset[str]:
    return frozenset(SYSTEM_COLUMNS | set(fields()))


def _contains(tokens: tuple[str, ...], part: tuple[str, ...]) -> int:
    """Position of ``part`` as consecutive tokens of ``tokens``, or -1."""
    n = len(part)
    for i in range(len(tokens) - n + 1):
        if tokens[i:i + n] == part:
            return i
    return -1


def _words(tokens: tuple[str, ...]) -> frozenset[str]:
    """The tokens, each pair of neighbours written as one word (``Fall-Nummer`` ->
    ``fallnummer``), and a German ``-nr`` written out (``Versicherten-Nr.`` ->
    ``versichertennummer``)."""
    words = set(tokens) | {a + b for a, b in zip(tokens, tokens[1:], strict=False)}
    return frozenset(words | {w[:-2] + "nummer" for w in words if w.endswith("nr")})


def _matches(entry: _Entry, tokens: tuple[str, ...], words: frozenset[str]) -> bool:
    if not entry.tokens:
        return False
    if entry.mode == "compound":
        head = entry.tokens[0]
        return any(w.endswith(head) for w in words)
    at = _contains(tokens, entry.tokens)
    if entry.mode == "anywhere":
        return at >= 0 or bool(words & entry.joined) or (
            len(entry.tokens) == 1 and entry.tokens[0] in words)
    if at < 0:
        return False
    rest = tokens[:at] + tokens[at + len(entry.tokens):]
    return all(t in QUALIFIERS for t in rest)


def header_match(name: object) -> HeaderMatch | None:
    """The first vocabulary entry a header matches (kinds in vocabulary order), or None.

    The contract's columns and REDCap's system columns never match; an activity word
    (follow-up, call, consent, date...) cancels the contact kinds (phone, e-mail,
    address, town, postcode).
    """
    if str(name).strip() in _exempt():
        return None
    tokens = header_tokens(name)
    dismissed = any(t in DISMISS for t in tokens)
    words = _words(tokens)
    for entry in _entries():
        if dismissed and entry.kind in CONTACT_KINDS:
            continue
        if _matches(entry, tokens, words):
            return HeaderMatch(entry.kind, entry.phrase.lstrip("=*"), entry.language)
    return None


@dataclass(frozen=True)
class IdentifierFinding:
    """One column that holds (or is named as) a direct identifier; never its values."""

    column: str
    kind: str
    by: str  # "header" or "values"
    rule: str
    needed: bool = False  # a contract column: it cannot be dropped

    def describe(self) -> str:
        """``'Nom' (name) by its header: ...``; the kind in brackets, then the rule."""
        return f"'{self.column}' ({self.kind}) by its {self.by}: {self.rule}"

    def fix(self) -> str:
        """What to do: drop the column, or (a contract column) replace its values."""
        return FIX_CONTRACT if self.needed else FIX


@dataclass(frozen=True)
class IdentifierScreen:
    """Every identifier column of a table, found by header or by value, in column order."""

    findings: tuple[IdentifierFinding, ...]
    columns_screened: int
    rows: int
    sampled_rows: int

    def kinds(self) -> dict[str, str]:
        """Column -> kind, in column order."""
        return {f.column: f.kind for f in self.findings}

    @property
    def needed(self) -> tuple[IdentifierFinding, ...]:
        """Findings in contract columns (those --allow-identifiers cannot drop)."""
        return tuple(f for f in self.findings if f.needed)

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per flagged column: column, kind, found by, rule, fix (no counts of
        patients, so ``min_cell`` does not apply)."""
        del min_cell
        return pd.DataFrame([{"column": f.column, "kind": f.kind, "found by": f.by,
                              "rule": f.rule, "fix": f.fix()} for f in self.findings],
                            columns=["column", "kind", "found by", "rule", "fix"])

    def to_results(self) -> dict[str, Any]:
        """JSON-safe summary: how many columns were screened and which were flagged."""
        return {"columns_screened": self.columns_screened, "rows": self.rows,
                "sampled_rows": self.sampled_rows,
                "flagged": [{"column": f.column, "kind": f.kind, "by": f.by}
                            for f in self.findings]}

    def problems(self, file: str) -> list[Problem]:
        """One located problem per flagged column (values never shown)."""
        return [Problem.at(file, f"holds direct identifiers: {f.kind}, by its {f.by}: "
                           f"{f.rule} (values not shown)", f.fix(), column=f.column)
                for f in self.findings]

    def problem(self, file: str) -> Problem:
        """All flagged columns in one problem (the intake's message)."""
        listed = "; ".join(f.describe() for f in self.findings)
        droppable = len(self.findings) - len(self.needed)
        fix = FIX_MANY if droppable > 1 else FIX
        if self.needed:
            fix = (FIX_CONTRACT if not droppable else
                   f"{', '.join(repr(f.column) for f in self.needed)}: {FIX_CONTRACT}; "
                   f"the others: {fix}")
        return Problem.at(file, f"the file holds direct identifiers: {listed} (values not "
                          "shown)", fix)


def screen_headers(columns: list[str]) -> IdentifierScreen:
    """Identifier columns by header alone."""
    found = []
    for col in columns:
        match = header_match(col)
        if match is not None:
            found.append(IdentifierFinding(
                str(col), match.kind, "header",
                f"the header reads as '{match.phrase}' ({match.language} vocabulary)"))
    return IdentifierScreen(tuple(found), len(columns), 0, 0)


def _sample_positions(n: int) -> pd.Index | slice:
    if n <= SAMPLE:
        return slice(None)
    rng = pd.Series(range(n)).sample(SAMPLE, random_state=SEED)
    return pd.Index(sorted(rng))


def _value_match(col: str, column: pd.Series, sample: pd.Series, sampled: bool,
                 dates: pd.Series | None, other_dates: list[pd.Series],
                 today: date) -> ValueMatch | None:
    match = email_match(column)
    if match is not None:
        return match
    values = sample.str.strip()
    values = values[values != ""]
    if values.empty:
        return None
    tokens = header_tokens(col)
    for check in (lambda: number_match(values, sampled),
                  lambda: phone_match(values, sampled),
                  lambda: postcode_match(values, sampled,
                                         any(t in POSTCODE_HINTS for t in tokens))):
        match = check()
        if match is not None:
            return match
    if dates is not None and col not in SYSTEM_COLUMNS and not any(
            t in EVENT_WORDS for t in tokens):
        match = birth_date_match(dates.dropna(), other_dates, today, len(values), sampled)
        if match is not None:
            return match
    return free_text_match(values, sampled)


def screen_identifiers(frame: pd.DataFrame, today: date | None = None,
                       needed: frozenset[str] | None = None) -> IdentifierScreen:
    """Identifier columns of a table of text cells, by header and then by value.

    Values are screened in the columns whose header passed (the contract's too: a
    ``patient_id`` of NHS numbers is found), e-mail in every cell, the other rules on
    a seeded sample of at most :data:`nethep.id_values.SAMPLE` rows. ``today`` (default
    the current date) is the reference for ages of a lone date column. ``needed``
    (default the contract's columns) names the columns that cannot be dropped (add the
    columns a mapping file renames to contract columns).
    """
    today = today or date.today()
    by_header = screen_headers([str(c) for c in frame.columns])
    flagged = set(by_header.kinds())
    positions = _sample_positions(len(frame))
    sampled = not isinstance(positions, slice)
    text = frame
    if not all(pd.api.types.infer_dtype(frame.iloc[:, i], skipna=False) in ("string", "empty")
               for i in range(frame.shape[1])):
        text = frame.fillna("").astype(str)
    rows = text.iloc[positions] if sampled else text
    names = [str(c) for c in frame.columns]
    dates: dict[int, pd.Series] = {}  # by column position, on the sample's row positions
    for i, col in enumerate(names):
        if col in flagged:
            continue
        cells = rows.iloc[:, i].str.strip().reset_index(drop=True)
        filled = cells != ""
        parsed = parse_dates(cells[filled])
        if parsed is not None:
            dates[i] = parsed.reindex(cells.index)
    needed = frozenset(fields()) if needed is None else needed
    found = list(by_header.findings)
    for i, col in enumerate(names):
        if col in flagged:
            continue
        others = [d for j, d in dates.items() if j != i]
        match = _value_match(col, text.iloc[:, i], rows.iloc[:, i], sampled,
                             dates.get(i), others, today)
        if match is not None:
            found.append(IdentifierFinding(col, match.kind, "values", match.rule,
                                           needed=col in needed))
    order = {c: i for i, c in reversed(list(enumerate(names)))}
    found.sort(key=lambda f: order[f.column])
    return IdentifierScreen(tuple(found), len(frame.columns), len(frame),
                            SAMPLE if sampled else len(frame))
