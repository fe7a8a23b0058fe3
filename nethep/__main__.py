"""``python -m nethep ...`` is the same as the ``nethep`` command."""

from nethep.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
