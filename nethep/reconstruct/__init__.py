"""Reconstructed cohorts: the bundled one, and an ensemble of abstract-consistent ones.

- :mod:`~nethep.reconstruct.single`: the deterministic single reconstruction
  (``data/cohort.csv``), its models and parameters.
- :mod:`~nethep.reconstruct.ensemble`: many cohorts under several stated models,
  all reproducing the abstract (``data/ensemble/``).
- :mod:`~nethep.reconstruct.batch`: survival statistics for many cohorts at once.
- :mod:`~nethep.reconstruct.quantities`: the unpublished quantities of each member
  and the tipping point.
- :mod:`~nethep.reconstruct.store`: writing and reading ``data/ensemble/``.
- :mod:`~nethep.reconstruct.check`: ``python -m nethep.reconstruct [--check]``.
"""

from nethep.reconstruct.single import SEED, Reconstruction, Targets, reconstruct

__all__ = ["SEED", "Reconstruction", "Targets", "reconstruct"]
