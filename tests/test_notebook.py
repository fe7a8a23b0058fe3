"""The notebooks' setup object: the data banner says what the bundled cohort is."""

from __future__ import annotations

from nethep.cohort import load_cohort
from nethep.notebook import banner


def test_bundled_banner_says_reconstructed_and_that_unfixed_numbers_are_one_of_a_range():
    text = banner(load_cohort(None)).data
    assert "**Reconstructed data.**" in text
    assert "not the original patient records" in text
    assert "a number the abstract does not fix" in text and "one value from the range" in text


def test_user_banner_names_no_reconstruction():
    df = load_cohort(None)
    df.attrs["reconstructed"] = False
    assert "Reconstructed" not in banner(df).data
