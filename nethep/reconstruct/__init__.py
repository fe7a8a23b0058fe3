"""Reconstructed cohorts: the bundled one, and an ensemble of abstract-consistent ones.

- :mod:`~nethep.reconstruct.single`: the covariate and censoring model every
  reconstruction shares, the published targets and the cohort CSV format.
- :mod:`~nethep.reconstruct.typical`: which member is the bundled ``data/cohort.csv``
  (the ensemble's typical member; the rule in its docstring).
- :mod:`~nethep.reconstruct.ensemble`: many cohorts under several stated models,
  all reproducing the abstract (``data/ensemble/``).
- :mod:`~nethep.reconstruct.batch`: survival statistics for many cohorts at once.
- :mod:`~nethep.reconstruct.quantities`: the unpublished quantities of each member
  and the tipping point.
- :mod:`~nethep.reconstruct.store`: writing and reading ``data/ensemble/``.
- :mod:`~nethep.reconstruct.check`: ``python -m nethep.reconstruct [--build | --check]``.
"""

from nethep.reconstruct.single import Targets

__all__ = ["Targets"]
