"""Identifier screening by header (a labelled corpus, six languages) and by value.

The corpus (tests/data/identifier_corpus.csv) holds identifier headers and clinical or
research headers (REDCap, OMOP CDM 5.4, SEER, this contract, oncology CRFs) in English,
French, German, Spanish, Italian and Dutch; the rows whose source starts with
"held-out" were written after the vocabulary was frozen. Value tests use synthetic
numbers made here with each scheme's published check rule (scalar code, independent of
the vectorised code under test) and published example numbers (verified with
python-stdnum 2.2 when written); no real person's data.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nethep.contract import fields
from nethep.errors import CohortValidationError
from nethep.id_values import SAMPLE
from nethep.id_vocabulary import LANGUAGES, VOCABULARY
from nethep.identifiers import (
    header_match,
    header_tokens,
    screen_headers,
    screen_identifiers,
)
from nethep.intake import read_intake

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "identifier_corpus.csv"
TODAY = date(2026, 1, 1)


def corpus() -> pd.DataFrame:
    return pd.read_csv(CORPUS, dtype=str, keep_default_na=False)


# ---------------------------------------------------------------- header corpus

def rates(rows: pd.DataFrame) -> tuple[float, float, list[str], list[str]]:
    flagged = rows["header"].map(lambda h: header_match(h) is not None)
    ids, others = rows["label"] == "identifier", rows["label"] == "clinical"
    missed = list(rows.loc[ids & ~flagged, "header"])
    alarms = list(rows.loc[others & flagged, "header"])
    return flagged[ids].mean(), flagged[others].mean(), missed, alarms


def test_corpus_is_labelled_in_six_languages():
    rows = corpus()
    assert list(rows.columns) == ["header", "label", "language", "source"]
    assert set(rows["label"]) == {"identifier", "clinical"}
    assert not rows["header"].duplicated().any()
    counts = rows["label"].value_counts()
    assert counts["identifier"] >= 150 and counts["clinical"] >= 300
    for label in ("identifier", "clinical"):
        assert set(rows.loc[rows["label"] == label, "language"]) == set(LANGUAGES)
    sources = " ".join(rows["source"])
    for source in ("REDCap", "OMOP", "SEER", "contract", "held-out"):
        assert source in sources


def test_corpus_recall_and_false_alarm_rate():
    rows = corpus()
    recall, false_alarms, missed, alarms = rates(rows)
    held = rows[rows["source"].str.startswith("held-out")]
    held_recall, held_false, _, _ = rates(held)
    n_id = int((rows["label"] == "identifier").sum())
    n_cl = int((rows["label"] == "clinical").sum())
    print(f"\nidentifier corpus: recall {recall:.1%} of {n_id} identifier headers, "
          f"false alarms {false_alarms:.1%} of {n_cl} clinical/research headers "
          f"(held-out part: recall {held_recall:.1%}, false alarms {held_false:.1%})")
    assert recall >= 0.98, missed
    assert false_alarms <= 0.01, alarms


@pytest.mark.parametrize("header", [
    "Cell type", "Event Name", "Site name", "Treatment name", "tumor_type",
    "date_of_diagnosis", "redcap_event_name", "Nom du traitement", "Nombre de métastases",
    "Telephone follow-up", "IPP (oui/non)", "Tipo celular", "NHS trust", "given_birth",
    "gender_source_value", "year_of_birth", "Hospital", "Date of last contact"])
def test_false_alarms_of_the_issue_pass(header):
    assert header_match(header) is None


def test_the_contract_columns_pass():
    assert screen_headers([*fields(), "date_of_diagnosis", "date_of_treatment",
                           "date_last_contact", "date_of_death"]).findings == ()


@pytest.mark.parametrize(("header", "kind"), [
    ("Patient Name", "name"), ("Prénom", "name"), ("Patientenvorname", "name"),
    ("nom de naissance", "name"), ("Nombre y apellidos", "name"), ("Naam patiënt", "name"),
    ("DoB", "exact birth date"), ("Geb.-Datum", "exact birth date"),
    ("Date de naissance", "exact birth date"), ("Lieu de naissance", "place of birth"),
    ("Address line 1", "street address"), ("Straße", "street address"),
    ("zip", "postcode"), ("Cell", "phone or fax"), ("Tél. portable", "phone or fax"),
    ("E-mail", "email"), ("emailadres", "email"),
    ("NHS No.", "national health number"), ("KVNR", "national health number"),
    ("N° SS", "social security number"), ("NIR", "social security number"),
    ("BSN", "national identity number"), ("Codice fiscale", "national identity number"),
    ("DNI", "national identity number"), ("Rijksregisternummer", "national identity number"),
    ("IPP", "medical record number"), ("Fall-Nummer", "medical record number"),
    ("Nº de historia clínica", "medical record number"), ("MRN", "medical record number"),
    ("PAT_ID", "EHR patient id"), ("person_source_value", "EHR patient id"),
    ("IP address", "IP address or URL"), ("Adresse IP", "IP address or URL"),
    ("Email address", "email"), ("Home address", "street address"),
    ("race___1", None), ("Race (choice=White)", None)])
def test_header_kinds(header, kind):
    match = header_match(header)
    assert (match.kind if match else None) == kind


def test_header_normalisation():
    assert header_tokens("PatientFirstName") == ("patient", "first", "name")
    assert header_tokens("PatID") == ("pat", "id")
    assert header_tokens("DoB") == ("dob",)
    assert header_tokens("Prénom du Patient") == ("prenom", "patient")
    assert header_tokens("STRAẞE_1") == ("strasse",)
    assert header_tokens("gym___2") == ("gym",)
    assert header_tokens("Race (choice=Other)") == ("race",)
    assert header_tokens("address2") == ("address",)


def test_docs_list_every_vocabulary_phrase():
    text = (ROOT / "docs" / "identifiers.md").read_text(encoding="utf-8")
    for kind, languages in VOCABULARY.items():
        assert f"| {kind} |" in text, kind
        for phrases in languages.values():
            for phrase in phrases:
                assert f"`{phrase}`" in text, phrase


# ---------------------------------------------------------------- synthetic numbers

def nhs(rng: np.random.Generator) -> str:
    while True:
        digits = [int(d) for d in rng.integers(0, 10, 9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            return "".join(map(str, digits)) + str(check % 11)


def bsn(rng: np.random.Generator) -> str:
    while True:
        digits = [int(d) for d in rng.integers(0, 10, 8)]
        rest = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if rest < 10:
            return "".join(map(str, digits)) + str(rest)


def nir(rng: np.random.Generator) -> str:
    body = (f"{rng.integers(1, 3)}{rng.integers(30, 99):02d}{rng.integers(1, 13):02d}"
            f"{rng.integers(10, 96):02d}{rng.integers(1, 999):03d}{rng.integers(1, 999):03d}")
    return body + f"{97 - int(body) % 97:02d}"


def dni(rng: np.random.Generator) -> str:
    number = int(rng.integers(0, 10**8))
    return f"{number:08d}" + "TRWAGMYFPDXBNJZSQVHLCKE"[number % 23]


def kvnr(rng: np.random.Generator) -> str:
    letter = chr(65 + int(rng.integers(0, 26)))
    body = "".join(map(str, rng.integers(0, 10, 8)))
    digits = f"{ord(letter) - 64:02d}" + body
    total = sum(sum(divmod(int(d) * (1 + i % 2), 10)) for i, d in enumerate(digits))
    return letter + body + str(total % 10)


def belgian(rng: np.random.Generator) -> str:
    body = (f"{rng.integers(30, 99):02d}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
            f"{rng.integers(1, 998):03d}")
    return body + f"{97 - int(body) % 97:02d}"


def nie(rng: np.random.Generator) -> str:
    prefix = int(rng.integers(0, 3))
    number = int(rng.integers(0, 10**7))
    letter = "TRWAGMYFPDXBNJZSQVHLCKE"[(prefix * 10**7 + number) % 23]
    return "XYZ"[prefix] + f"{number:07d}" + letter


def spoil(number: str) -> str:
    """The same number with its last character changed (so its check fails)."""
    last = number[-1]
    if last.isdigit():
        return number[:-1] + str((int(last) + 1) % 10)
    return number[:-1] + ("A" if last != "A" else "B")


PUBLISHED = {  # published example numbers (valid), by the kind they are reported as
    "national health number": ["9434765919", "943 476 5919", "A123456780"],
    "national identity number": ["111222333", "RSSMRA85T10A562S", "12345678Z", "X1234567L",
                                 "85.07.30-033.28"],
    "social security number": ["2 55 08 14 168 025 38", "078-05-1120"],
}


@pytest.mark.parametrize(("kind", "example"),
                         [(k, e) for k, v in PUBLISHED.items() for e in v])
def test_published_example_numbers(kind, example):
    frame = pd.DataFrame({"ref": [example] * 3})
    finding, = screen_identifiers(frame, TODAY).findings
    assert (finding.kind, finding.by) == (kind, "values")
    if not example.endswith("1120"):  # the SSN rule has no check digit
        assert "valid" in finding.rule
        spoiled = pd.DataFrame({"ref": [spoil(example)] * 3})
        # (a spoiled NHS number written 3-3-4 still reads as a North American phone number)
        assert kind not in screen_identifiers(spoiled, TODAY).kinds().values()


@pytest.mark.parametrize(("make", "kind", "scheme"), [
    (nhs, "national health number", "NHS number"), (bsn, "national identity number", "BSN"),
    (nir, "social security number", "NIR"), (dni, "national identity number", "DNI"),
    (belgian, "national identity number", "Belgian"), (nie, "national identity number", "NIE"),
    (kvnr, "national health number", "KVNR")])
def test_synthetic_numbers_with_valid_and_invalid_checks(make, kind, scheme):
    rng = np.random.default_rng(7)
    valid = [make(rng) for _ in range(40)]
    screen = screen_identifiers(pd.DataFrame({"Code": valid}), TODAY)
    finding, = screen.findings
    assert (finding.column, finding.kind) == ("Code", kind)
    assert scheme in finding.rule and "in 40 of 40 non-empty cells" in finding.rule
    text = str(screen.problem("f.csv")) + repr(screen.table()) + str(screen.to_results())
    assert not any(v in text for v in valid)
    invalid = pd.DataFrame({"Code": [spoil(v) for v in valid]})
    assert screen_identifiers(invalid, TODAY).findings == ()


def test_result_table_and_json_name_no_value():
    frame = pd.DataFrame({"E-mail": ["x@example.org"], "Tel": ["+44 20 7946 0958"],
                          "age_years": ["63"]})
    screen = screen_identifiers(frame, TODAY)
    assert list(screen.table()["column"]) == ["E-mail", "Tel"]
    text = json.dumps(screen.to_results()) + screen.table().to_csv()
    assert "example.org" not in text and "7946" not in text
    assert screen.to_results()["flagged"][0] == {"column": "E-mail", "kind": "email",
                                                 "by": "header"}


def test_random_ids_of_the_same_shape_pass():
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({
        "ten": [f"{x:010d}" for x in rng.integers(10**9, 10**10, 60)],
        "nine": [f"{x:09d}" for x in rng.integers(10**8, 10**9, 60)],
        "study": [f"S{i:03d}" for i in range(60)]})
    assert screen_identifiers(frame, TODAY).findings == ()


# ---------------------------------------------------------------- other value rules

def kinds(frame: pd.DataFrame) -> dict[str, str]:
    return screen_identifiers(frame, TODAY).kinds()


def test_phone_numbers_in_international_and_national_formats():
    phones = ["+44 20 7946 0958", "0044 20 7946 0958", "+33 6 12 34 56 78", "06 12 34 56 78",
              "030/1234567", "+49 (0)30 1234567", "(555) 123-4567", "0612345678",
              "07700 900123", "+39 347 123 4567"]
    assert kinds(pd.DataFrame({"Kontakt": phones})) == {"Kontakt": "phone or fax"}
    numbers = ["12.5", "0.34", "2003", "63", "01.03.2020", "1-2", "100", "7", "45.0", "3"]
    assert kinds(pd.DataFrame({"value": numbers})) == {}


def test_one_email_in_any_cell_is_enough():
    notes = [""] * 500 + ["write to a.person@example.org"] + ["ok"] * 499
    screen = screen_identifiers(pd.DataFrame({"Remarks": notes}), TODAY)
    finding, = screen.findings
    assert finding.kind == "email" and "in 1 of 500 non-empty cells" in finding.rule
    assert "example.org" not in str(screen.problem("f.csv"))


def test_postcodes_need_a_distinctive_format_or_a_postcode_header():
    assert kinds(pd.DataFrame({"area": ["1012 AB", "3511 CD", "2595 EF"]})) == {
        "area": "postcode"}
    assert kinds(pd.DataFrame({"area": ["SW1A 1AA", "M1 1AE", "EH8 9YL"]})) == {
        "area": "postcode"}
    numeric = ["75013", "69003", "13005", "31000"]
    assert kinds(pd.DataFrame({"CP": numeric})) == {"CP": "postcode"}
    assert kinds(pd.DataFrame({"ICD-O code": numeric})) == {}
    assert kinds(pd.DataFrame({"stage": ["T2N1MX", "T3N0M0", "T1N0M0"]})) == {}


def days(start: str, offsets: list[int], fmt: str = "%Y-%m-%d") -> list[str]:
    return [(pd.Timestamp(start) + pd.Timedelta(days=d)).strftime(fmt) for d in offsets]


def test_dates_of_birth_by_value():
    offsets = list(range(0, 4000, 400))
    born = days("1940-01-01", offsets, "%d.%m.%Y")
    diagnosed = days("2005-06-01", offsets)
    frame = pd.DataFrame({"Geb": born, "Diagnosis date": diagnosed, "Visit": diagnosed})
    assert kinds(frame) == {"Geb": "exact birth date"}
    alone = pd.DataFrame({"d1": born})
    assert kinds(alone) == {"d1": "exact birth date"}
    # dates under an event header, and a date column a few months before another, pass
    events = pd.DataFrame({"Date of surgery": born, "start": diagnosed,
                           "x": days("2005-01-01", offsets)})
    assert kinds(events) == {}


def test_long_free_text_but_not_long_repeated_labels():
    notes = [f"seen in clinic on day {i}, doing well, next visit planned with the family"
             for i in range(30)]
    finding, = screen_identifiers(pd.DataFrame({"Comments": notes}), TODAY).findings
    assert finding.kind == "free text"
    label = "well differentiated neuroendocrine tumour of the small intestine grade 2"
    assert kinds(pd.DataFrame({"Histology": [label] * 30})) == {}


def test_contract_columns_are_screened_by_value_and_cannot_be_dropped():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"patient_id": [nhs(rng) for _ in range(10)],
                          "tumor_type": ["carcinoid"] * 10})
    screen = screen_identifiers(frame, TODAY)
    finding, = screen.findings
    assert finding.column == "patient_id" and finding.needed
    assert "cannot drop it" in finding.fix() and screen.needed == (finding,)
    mapped = frame.rename(columns={"patient_id": "Study ID"})
    finding, = screen_identifiers(mapped, TODAY, needed=frozenset({"Study ID"})).findings
    assert finding.needed and not screen_identifiers(mapped, TODAY).findings[0].needed


def test_a_clean_export_passes(tmp_path):
    template = pd.read_csv(ROOT / "data" / "template.csv", dtype=str, keep_default_na=False)
    assert screen_identifiers(template, TODAY).findings == ()


# ---------------------------------------------------------------- size, determinism

def big_export(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({
        "patient_id": [f"P{i:06d}" for i in range(n)],
        "tumor_type": rng.choice(["carcinoid", "islet_cell"], n),
        "treatment_group": rng.choice(["medical", "embolization", "surgical"], n),
        "treatment": rng.choice(["octreotide", "resection", "embolization"], n),
        "liver_involvement_pct": rng.integers(0, 100, n).astype(str),
        "months_to_treatment": rng.uniform(0, 24, n).round(2).astype(str),
        "followup_months": rng.uniform(0, 200, n).round(2).astype(str),
        "died": rng.choice(["0", "1"], n), "symptomatic": rng.choice(["0", "1"], n),
        "palliated": rng.choice(["0", "1", ""], n),
        "year_of_diagnosis": rng.integers(1980, 2005, n).astype(str),
        "age_years": rng.integers(20, 90, n).astype(str), "sex": rng.choice(["female", "male"], n),
        "Ref": [f"{x:010d}" for x in rng.integers(10**9, 10**10, n)],
        "Born": pd.to_datetime(rng.integers(-15000, 0, n), unit="D").strftime("%d/%m/%Y"),
        "Note": np.where(rng.random(n) < 0.1, "patient reports mild flushing after meals "
                         "since last visit", ""),
    })


def test_a_large_export_is_screened_on_a_fixed_sample_the_same_twice():
    """Values are checked on a seeded sample of :data:`SAMPLE` rows, however many rows
    the export has (so the screen's cost does not grow with the rows: timed in
    benchmarks/identifier_screen.py), and the same sample each time."""
    frame = big_export(10 * SAMPLE)
    screen = screen_identifiers(frame, TODAY)
    assert screen.kinds() == {"Born": "exact birth date"}
    assert screen.sampled_rows == SAMPLE
    assert screen_identifiers(frame, TODAY) == screen


# ---------------------------------------------------------------- intake

def write(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
    return path


def template_with(**extra: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(ROOT / "data" / "template.csv", dtype=str, keep_default_na=False)
    for column, values in extra.items():
        frame[column] = (values * len(frame))[: len(frame)]
    return frame


def test_intake_refuses_identifiers_by_value_without_echoing_them(tmp_path):
    rng = np.random.default_rng(9)
    numbers = [nhs(rng) for _ in range(4)]
    path = write(tmp_path / "c.csv", template_with(Ref=numbers, Prénom=["Zoé"]))
    with pytest.raises(CohortValidationError) as info:
        read_intake(path)
    message = str(info.value)
    assert "'Prénom' (name) by its header" in message
    assert "'Ref' (national health number) by its values" in message
    assert "--allow-identifiers" in message and "values not shown" in message
    assert not any(n in message for n in [*numbers, "Zoé"])
    intake = read_intake(path, allow_identifiers=True)
    assert intake.dropped_identifiers == ("Ref", "Prénom")
    assert not re.search("|".join(numbers), intake.table.to_csv())


def test_intake_cannot_drop_a_needed_column(tmp_path):
    rng = np.random.default_rng(10)
    frame = template_with()
    frame["patient_id"] = [nhs(rng) for _ in range(len(frame))]
    path = write(tmp_path / "c.csv", frame)
    with pytest.raises(CohortValidationError, match="cannot drop it"):
        read_intake(path, allow_identifiers=True)


def test_intake_cannot_drop_a_column_the_map_makes_the_patient_id(tmp_path):
    """NHS numbers in a column that the mapping file renames to patient_id: refused even
    with --allow-identifiers (dropping it would lose the id), not silently dropped."""
    rng = np.random.default_rng(11)
    frame = template_with().rename(columns={"patient_id": "ref"})
    frame["ref"] = [nhs(rng) for _ in range(len(frame))]
    path = write(tmp_path / "c.csv", frame)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("columns:\n  ref: patient_id\n", encoding="utf-8")
    with pytest.raises(CohortValidationError, match="cannot drop it"):
        read_intake(path, map_path=mapping, allow_identifiers=True)
