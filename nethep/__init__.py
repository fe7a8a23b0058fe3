"""nethep: reproducible supplement to Musunuru et al., Arch Surg 2006.

The bundled cohort is a reconstruction from published aggregates, not the
original patient records (see data/README.md).
"""

from nethep.cohort import CohortValidationError, load_cohort

__version__ = "0.1.0"
__all__ = ["CohortValidationError", "load_cohort", "__version__"]
