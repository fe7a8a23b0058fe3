"""The documentation names only tests and files that exist.

README.md, data/README.md and docs/*.md point readers to tests (``test_...``, as the
proof of a rule or a number) and to files (``tests/...``, ``nethep/...``,
``benchmarks/...``). A renamed or removed test left docs/identifiers.md citing a
timed test that no longer existed; this catches that.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "data" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Reference outputs are named relative to tests/reference/ (docs/verification.md).
BASES = (ROOT, ROOT / "tests" / "reference")
TEST_NAME = re.compile(r"(?<![\w.])(test_\w+)")
PATH = re.compile(r"`((?:tests|nethep|docs|benchmarks|data|notebooks)/[\w/.-]+)`")


@functools.cache
def _tests_defined() -> frozenset[str]:
    """Test modules and test functions, read once for every doc."""
    names = set()
    for path in (ROOT / "tests").rglob("*.py"):
        names.add(path.stem)
        names.update(re.findall(r"def (test_\w+)", path.read_text(encoding="utf-8")))
    return frozenset(names)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_test_and_file_a_doc_names_exists(doc):
    text = doc.read_text(encoding="utf-8")
    defined = _tests_defined()
    missing_tests = sorted({n for n in TEST_NAME.findall(text) if n not in defined})
    missing_files = sorted({p for p in PATH.findall(text)
                            if not any((base / p).exists() for base in BASES)})
    assert not missing_tests, f"{doc.name} names tests that do not exist: {missing_tests}"
    assert not missing_files, f"{doc.name} names files that do not exist: {missing_files}"
