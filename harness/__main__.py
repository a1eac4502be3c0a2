"""``python -m harness``: the ``harness`` command line (see :func:`harness.cli.main`)."""

from harness.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
