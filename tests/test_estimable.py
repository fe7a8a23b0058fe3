"""nethep.estimable: which nulls in a results tree are explained."""

from __future__ import annotations

from nethep.estimable import unexplained_nulls
from nethep.privacy import suppress_values


def test_a_null_needs_a_reason_a_note_or_a_suppression_record():
    tree = {
        "survival": {"hr": None, "reason": "no deaths in the surgical arm"},
        "table": [{"estimate": None, "note": "median not reached"}, {"estimate": None}],
        "bare": {"p": None},
    }
    assert unexplained_nulls(tree) == ["table[1].estimate", "bare.p"]


def test_counts_hidden_by_small_cell_suppression_are_explained_by_their_section():
    """A section saved with min_cell lists its hidden counts under suppressed.keys
    (results.save_fragment); those nulls are explained, any other null is not."""
    values = {"n_by_group": {"medical": 3, "surgical": 20}, "rows": [{"n": 2}, {"n": 40}],
              "hr": None}
    hidden, keys = suppress_values(values, 11)
    assert keys == ["n_by_group.medical", "rows[0].n"]
    section = {**hidden, "suppressed": {"min_cell": 11, "keys": keys}}
    assert unexplained_nulls({"cohort": section}) == ["cohort.hr"]
    assert unexplained_nulls(section) == ["hr"]
    del section["suppressed"]
    assert unexplained_nulls(section) == ["n_by_group.medical", "rows[0].n", "hr"]
