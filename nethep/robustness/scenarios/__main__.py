"""``python -m nethep.robustness.scenarios``: check or rebuild ``data/scenarios/``.

``--check`` recomputes the bundled cohort's study (replicates and seed from the shipped
manifest, the defaults when there is none) and exits 0 only when it equals the shipped
one (:func:`nethep.robustness.scenarios.store.differences`); ``--build`` computes it
at ``--replicates`` and ``--seed`` (defaults: notebook 06's) and writes it atomically.
Either takes about half a minute of CPU time.
"""

from __future__ import annotations

import argparse
import sys

from nethep.cohort import load_cohort
from nethep.robustness.scenarios import store
from nethep.robustness.scenarios.summary import N_REPLICATES, SEED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nethep.robustness.scenarios",
                                     description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true",
                        help="recompute and exit 0 only if equal to the shipped study")
    action.add_argument("--build", action="store_true", help="recompute and write the study")
    parser.add_argument("--replicates", type=int, default=None,
                        help=f"with --build: replicates per scenario (default {N_REPLICATES})")
    parser.add_argument("--seed", type=int, default=None,
                        help=f"with --build: seed (default {SEED})")
    parser.add_argument("--folder", default=str(store.SCENARIOS_DIR), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    df = load_cohort(None)
    if args.build:
        files = store.build_files(df, args.replicates or N_REPLICATES,
                                  SEED if args.seed is None else args.seed)
        print(f"wrote {store.write_study(files, args.folder)}", file=sys.stderr)
        return 0
    manifest = store.read_manifest(args.folder) or {}
    files = store.build_files(df, int(manifest.get("n_replicates", N_REPLICATES)),
                              int(manifest.get("seed", SEED)))
    differ = store.differences(files, args.folder)
    print("scenario study identical to the shipped data/scenarios/" if not differ else
          f"scenario study DIFFERS ({'; '.join(differ)}): rebuild with "
          f"`{store.BUILD_COMMAND}`", file=sys.stderr)
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
