"""Train a molprop model: ``python train.py [group=option ...] [key=value ...]``.

The same as ``molprop train ...`` (:mod:`molprop.cli.train`). Configs live in ``conf/``
(Hydra); see ``conf/train.yaml``. Multiruns: ``python train.py -m``.
"""

import sys

from molprop.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
