"""Predict with a trained molprop run: ``python predict.py RUN_DIR --smiles 'CCO' ...``.

See ``python predict.py --help`` and :mod:`molprop.inference.stream`.
"""

import sys

from molprop.cli.predict import main

if __name__ == "__main__":
    sys.exit(main())
