"""``python -m nethep.reconstruct`` (see :mod:`nethep.reconstruct.check`)."""

from nethep.reconstruct.check import main

if __name__ == "__main__":
    raise SystemExit(main())
