"""``python -m molprop <command>``: the ``molprop`` console script (see :mod:`molprop.cli.main`)."""

import sys

from molprop.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
