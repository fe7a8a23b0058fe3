"""``python -m nethep.reconstruct``: the bundled cohort from the ensemble, and the check.

The bundled cohort ``data/cohort.csv`` is the ensemble's typical member
(:mod:`nethep.reconstruct.typical` states the rule).

- ``--build`` writes ``data/cohort.csv`` from the shipped ``data/ensemble/`` (run it
  after the ensemble is regenerated); ``--out PATH`` writes the cohort elsewhere;
- ``--check`` regenerates ``data/ensemble/`` (member count and seed read from its
  manifest), takes the typical member of the regenerated files, and exits 0 only if
  both the ensemble and ``data/cohort.csv`` are byte-identical to the shipped files;
  ``--cohort-only`` skips the rebuild (it takes about a minute) and checks the cohort
  against the shipped ensemble.
Without an option it prints which member the rule chooses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nethep.paths import BUNDLED_COHORT
from nethep.reconstruct import store
from nethep.reconstruct.ensemble import build_ensemble
from nethep.reconstruct.typical import TypicalMember, shipped_files, typical_cohort


def _rebuilt_files(folder: Path) -> dict[str, bytes] | None:
    """The ensemble rebuilt from its manifest's count and seed (None: no manifest)."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        print(f"no ensemble manifest at {manifest}", file=sys.stderr)
        return None
    meta = json.loads(manifest.read_text(encoding="utf-8"))
    return store.ensemble_files(build_ensemble(int(meta["n_members"]), int(meta["seed"])))


def _check(folder: Path, cohort_only: bool) -> tuple[bool, TypicalMember | None]:
    """Whether the (rebuilt) ensemble and its typical member equal the shipped files."""
    if cohort_only:
        return True, typical_cohort(shipped_files(folder))
    files = _rebuilt_files(folder)
    if files is None:
        return False, None
    differ = store.differing_files(files, folder)
    print("ensemble identical to the shipped data/ensemble/" if not differ else
          f"ensemble DIFFERS: {', '.join(differ)}", file=sys.stderr)
    return not differ, typical_cohort(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nethep.reconstruct",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true",
                        help="write data/cohort.csv: the shipped ensemble's typical member")
    parser.add_argument("--check", action="store_true",
                        help="regenerate and exit 0 only if identical to the shipped files")
    parser.add_argument("--out", type=Path, help="write the cohort here instead")
    parser.add_argument("--cohort-only", action="store_true",
                        help="with --check: check data/cohort.csv against the shipped "
                             "ensemble, without rebuilding the ensemble")
    args = parser.parse_args(argv)
    folder = store.ENSEMBLE_DIR
    if args.check:
        same, chosen = _check(folder, args.cohort_only)
        if chosen is None:
            return 1
        print(chosen.sentence(), file=sys.stderr)
        cohort_same = BUNDLED_COHORT.is_file() and BUNDLED_COHORT.read_bytes() == chosen.csv
        print("identical to the shipped cohort" if cohort_same else
              f"DIFFERS from the shipped {BUNDLED_COHORT}", file=sys.stderr)
        return 0 if same and cohort_same else 1
    chosen = typical_cohort(shipped_files(folder))
    print(chosen.sentence(), file=sys.stderr)
    out = args.out or (BUNDLED_COHORT if args.build else None)
    if out is not None:
        Path(out).write_bytes(chosen.csv)
        print(f"wrote {out}", file=sys.stderr)
    return 0


__all__ = ["main"]
