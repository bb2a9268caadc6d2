"""Predict with a trained molprop run: ``python predict.py RUN_DIR --smiles 'CCO' ...``.

The same as ``molprop predict ...``; see ``python predict.py --help`` and
:mod:`molprop.cli.predict`.
"""

import sys

from molprop.cli.predict import main

if __name__ == "__main__":
    sys.exit(main())
