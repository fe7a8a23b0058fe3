"""CITATION.cff is valid, names the article, and carries the package's version.

Validation is what ``cffconvert --validate -i CITATION.cff`` does: the file, read as
YAML with timestamps kept as strings, is checked with ``jsonschema.validate`` and a
format checker against the Citation File Format 1.2.0 schema
(https://citation-file-format.github.io/1.2.0/schema.json, CC BY 4.0), vendored as
``tests/schemas/citation-file-format-1.2.0.json`` (byte-identical to the copy that
cffconvert 2.0.0 ships). cffconvert itself is not a test dependency: its latest release
(2.0.0) requires jsonschema < 4, while JupyterLab 4 (through jupyter-events) requires
jsonschema >= 4.18, so the two cannot be installed together.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

import nethep
from nethep import cli

ROOT = Path(__file__).resolve().parent.parent
CITATION = ROOT / "CITATION.cff"
SCHEMA = ROOT / "tests" / "schemas" / "citation-file-format-1.2.0.json"
ARTICLE_DOI = "10.1001/archsurg.141.10.1000"


class _NoTimestampLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings, as cffconvert's loader does."""


_NoTimestampLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def citation() -> dict:
    return yaml.load(CITATION.read_text(encoding="utf-8"), Loader=_NoTimestampLoader)


def pyproject_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"]


def test_citation_cff_validates_against_the_cff_1_2_0_schema():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"
    cff = citation()
    assert cff["cff-version"] == "1.2.0"
    try:
        jsonschema.validate(instance=cff, schema=schema,
                            format_checker=jsonschema.FormatChecker())
    except jsonschema.ValidationError as exc:
        path = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        pytest.fail(f"CITATION.cff is not valid CFF 1.2.0 at {path}: {exc.message}",
                    pytrace=False)


def test_schema_check_rejects_an_invalid_file():
    """The validation above is real: a file without authors, or with a bad DOI, fails."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    for broken in ({k: v for k, v in citation().items() if k != "authors"},
                   {**citation(), "doi": "not a doi"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(instance=broken, schema=schema,
                                format_checker=jsonschema.FormatChecker())


def test_software_version_matches_the_package_and_pyproject():
    cff = citation()
    assert cff["type"] == "software"
    assert str(cff["version"]) == nethep.__version__ == pyproject_version(), (
        f"CITATION.cff version {cff['version']!r}, nethep.__version__ "
        f"{nethep.__version__!r}, pyproject.toml {pyproject_version()!r}: keep them equal")


def test_references_the_article_by_its_doi():
    articles = [r for r in citation().get("references", []) if r.get("type") == "article"]
    assert [a["doi"] for a in articles] == [ARTICLE_DOI]
    article = articles[0]
    assert article["journal"] == "Archives of Surgery" and article["year"] == 2006
    assert article["authors"][0]["family-names"] == "Musunuru"
    assert "resection improves survival" in article["title"]


def test_nethep_version_command_prints_the_same_version(capsys):
    """``nethep --version`` (in this process; tests/test_run.py runs ``python -m nethep``)."""
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"nethep {citation()['version']}"
