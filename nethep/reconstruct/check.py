"""``python -m nethep.reconstruct``: rebuild the bundled cohort and the ensemble.

``--check`` regenerates ``data/cohort.csv`` and ``data/ensemble/`` (the member count
and seed read from its manifest) and exits 0 only if both are byte-identical to the
shipped files; ``--out PATH`` writes the cohort elsewhere; ``--cohort-only`` skips
the ensemble (which takes about a minute).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nethep.paths import BUNDLED_COHORT
from nethep.reconstruct import store
from nethep.reconstruct.ensemble import ENSEMBLE_SEED, build_ensemble
from nethep.reconstruct.single import SEED, reconstruct


def _check_ensemble(folder: Path) -> bool:
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        print(f"no ensemble manifest at {manifest}", file=sys.stderr)
        return False
    meta = json.loads(manifest.read_text(encoding="utf-8"))
    files = store.ensemble_files(build_ensemble(int(meta["n_members"]), int(meta["seed"])))
    differ = store.differing_files(files, folder)
    print("ensemble identical to the shipped data/ensemble/" if not differ else
          f"ensemble DIFFERS: {', '.join(differ)}", file=sys.stderr)
    return not differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nethep.reconstruct",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate and exit 0 only if identical to the shipped files")
    parser.add_argument("--out", type=Path, help="write the cohort here (default: print nothing)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--cohort-only", action="store_true",
                        help="with --check: check data/cohort.csv only, not data/ensemble/")
    args = parser.parse_args(argv)
    result = reconstruct(args.seed)
    data = result.to_csv()
    print("attempts per calibrated stage:", result.attempts, file=sys.stderr)
    if args.out:
        args.out.write_bytes(data)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.check:
        same = BUNDLED_COHORT.is_file() and BUNDLED_COHORT.read_bytes() == data
        print("identical to the shipped cohort" if same else
              f"DIFFERS from the shipped {BUNDLED_COHORT}", file=sys.stderr)
        if not args.cohort_only:
            same = _check_ensemble(store.ENSEMBLE_DIR) and same
        return 0 if same else 1
    return 0


__all__ = ["ENSEMBLE_SEED", "main"]
